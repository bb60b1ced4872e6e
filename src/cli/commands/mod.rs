//! One file per subcommand: its args struct and one `run` function. The enum of subcommands and
//! the dispatch to these files are in `cli/app.rs`.

pub(super) mod check;
pub(super) mod ci_template;
pub(super) mod clean;
pub(super) mod completions;
pub(super) mod demo;
pub(super) mod diff;
pub(super) mod doctor;
pub(super) mod hooks;
pub(super) mod hunt;
pub(super) mod init;
pub(super) mod integrate;
pub(super) mod logs;
pub(super) mod man;
pub(super) mod new;
pub(super) mod plan;
pub(super) mod reopen;
pub(super) mod report;
pub(super) mod reset;
pub(super) mod restart;
pub(super) mod run;
pub(super) mod run_live;
pub(super) mod runs;
pub(super) mod signal;
pub(super) mod status;
pub(super) mod stop;
pub(super) mod sync;
pub(super) mod validate;
pub(super) mod verify;
pub(super) mod watch;
pub(super) mod wontfix;
