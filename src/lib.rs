//! git-lanes: run many AI coding agents on one repository in parallel lanes, verify every claimed
//! fix with the issue's own checks, and integrate the lanes safely.
//!
//! The library holds the domain; it never prints. Start with [`workspace::Workspace`] (issues,
//! specs, lanes), [`catalog::Catalog`] (the generated tables) and [`issue::Issue`]. The command
//! line lives in [`cli`].
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod catalog;
pub mod check;
pub mod clean;
pub mod config;
pub mod doctor;
pub mod dryrun;
pub mod error;
pub mod evidence;
pub mod example;
pub mod fastyaml;
pub mod fault;
pub mod follow;
pub mod frontmatter;
pub mod fsutil;
pub mod gitcli;
pub mod guard;
pub mod hook;
pub mod issue;
pub mod issue_cache;
pub mod lock;
pub mod markdown;
pub mod names;
pub mod plan;
pub mod presets;
pub mod process;
pub mod redact;
pub mod repo;
pub mod report;
pub mod rewrite;
pub mod run;
pub mod runs;
pub mod safety;
pub mod sandbox;
pub mod scaffold;
pub mod signal;
pub mod snapshot;
pub mod spec;
pub mod state;
pub mod text;
pub mod timeline;
pub mod validate;
pub mod verdict;
pub mod verify;
pub mod workorder;
pub mod workspace;
pub mod worktree;
pub mod yaml;

#[allow(clippy::print_stdout, clippy::print_stderr)]
pub mod cli;

pub use error::{Error, Problem, Result};
