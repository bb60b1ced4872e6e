//! git-lanes: run many AI coding agents on one repository in parallel lanes, verify every claimed
//! fix with the issue's own checks, and integrate the lanes safely.
//!
//! The library holds the domain; it never prints. Start with [`files::workspace::Workspace`] (issues,
//! specs, lanes), [`files::catalog::Catalog`] (the generated tables) and [`files::issue::Issue`]. The command
//! line lives in [`cli`].
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod agents;
pub mod base;
pub mod exec;
pub mod files;
pub mod gate;
pub mod git;
pub mod judge;
pub mod planning;
pub mod run;

#[allow(clippy::print_stdout, clippy::print_stderr)]
pub mod cli;

pub use base::error::{Error, Problem, Result};
