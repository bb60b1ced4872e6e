//! The command line: argument parsing, the one error boundary, and all printing and prompting.
//!
//! `app.rs` is the parser (`Cli`, the `Command` enum) and the entry point; `args.rs` the flags
//! every command accepts; `commands/` holds one file per subcommand (its args struct and one
//! `run` function); `ui.rs` decides human vs JSON output and colour; `error.rs` maps failures to
//! exit codes.

pub mod app;
pub mod args;
pub mod commands;
pub mod context;
pub mod error;
pub mod live;
pub mod progress;
pub mod ui;
