//! The one error boundary: every failure becomes a [`CliError`] with a kind (which picks the exit
//! code), a message, its causes and `hint:` lines.
//!
//! Exit codes (docs/formats.md#exit-codes): 0 success; 1 error (bad input, git failure); 2 usage; 3 a run finished
//! but needs a human; 4 a check failed (`sync --check`, `check`, `validate`, a failing `verify`).

use std::process::ExitCode;

use crate::base::error::{Error, Problem};

/// What a command returns when it ran to completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Success = 0,
    NeedsHuman = 3,
    CheckFailed = 4,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e as u8)
    }
}

/// Why a command stopped.
#[derive(Debug)]
pub struct CliError {
    pub code: u8,
    pub message: String,
    pub problems: Vec<Problem>,
    pub hints: Vec<String>,
    /// Writing to stdout failed because the reader went away: exit quietly.
    pub broken_pipe: bool,
}

impl CliError {
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        CliError { code, message: message.into(), problems: vec![], hints: vec![], broken_pipe: false }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(2, message)
    }

    pub fn hint(mut self, h: impl Into<String>) -> Self {
        self.hints.push(h.into());
        self
    }
}

impl From<Error> for CliError {
    fn from(e: Error) -> Self {
        let code = match &e {
            Error::Usage { .. } => 2,
            _ => 1,
        };
        let mut c = CliError::new(code, e.to_string());
        match e {
            Error::Invalid(p) => {
                c.message = p.to_string();
                c.hints.extend(p.hint.clone());
                c.problems.push(p);
            }
            Error::Problems(ps) => {
                c.message = format!("{} problems found", ps.len());
                c.problems = ps;
            }
            Error::Usage { hint, .. } | Error::Conflict { hint, .. } => c.hints.extend(hint),
            Error::Io { source, .. } if source.kind() == std::io::ErrorKind::BrokenPipe => c.broken_pipe = true,
            _ => {}
        }
        c
    }
}

impl From<Problem> for CliError {
    fn from(p: Problem) -> Self {
        Error::Invalid(p).into()
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        let mut c = CliError::new(1, format!("could not write output: {e}"));
        c.broken_pipe = e.kind() == std::io::ErrorKind::BrokenPipe;
        c
    }
}

pub type CliResult = Result<Exit, CliError>;
