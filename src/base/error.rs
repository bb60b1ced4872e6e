//! The library's error type: every variant says what failed and where (path, line, lane, id).
//!
//! The CLI turns these into messages with `hint:` lines and exit codes (`cli/error.rs`).

use std::fmt;
use std::path::{Path, PathBuf};

/// A problem in a file the user (or an agent) wrote, pointing at `path:line`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// Path relative to the repository root (or as given).
    pub path: PathBuf,
    /// 1-based line in the markdown/YAML file; 0 when the whole file is meant.
    pub line: usize,
    /// What is wrong, as a lowercase fragment.
    pub message: String,
    /// The command or edit that fixes it, when one is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Problem {
    pub fn new(path: impl Into<PathBuf>, line: usize, message: impl Into<String>) -> Self {
        Problem { path: path.into(), line, message: message.into(), hint: None }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// `path:line` (or just `path` when the line is unknown).
    pub fn location(&self) -> String {
        if self.line == 0 { self.path.display().to_string() } else { format!("{}:{}", self.path.display(), self.line) }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location(), self.message)
    }
}

/// Everything that can go wrong in the library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("could not {action} {}: {source}", path.display())]
    Io { action: &'static str, path: PathBuf, source: std::io::Error },

    #[error("{0}")]
    Invalid(Problem),

    #[error("{} problem(s) found", .0.len())]
    Problems(Vec<Problem>),

    #[error("{what}: {source}")]
    Git { what: String, source: git2::Error },

    #[error("{0}")]
    Process(#[from] crate::exec::process::ProcessError),

    #[error("{message}")]
    Usage { message: String, hint: Option<String> },

    #[error("{message}")]
    Conflict { message: String, hint: Option<String> },
}

impl Error {
    pub fn io(action: &'static str, path: &Path, source: std::io::Error) -> Self {
        Error::Io { action, path: path.to_path_buf(), source }
    }

    pub fn git(what: impl Into<String>, source: git2::Error) -> Self {
        Error::Git { what: what.into(), source }
    }

    pub fn usage(message: impl Into<String>, hint: Option<String>) -> Self {
        Error::Usage { message: message.into(), hint }
    }

    /// The hint to print under the message, if any.
    pub fn hint(&self) -> Option<&str> {
        match self {
            Error::Invalid(p) => p.hint.as_deref(),
            Error::Usage { hint, .. } | Error::Conflict { hint, .. } => hint.as_deref(),
            _ => None,
        }
    }
}

impl From<Problem> for Error {
    fn from(p: Problem) -> Self {
        Error::Invalid(p)
    }
}

impl From<Vec<Problem>> for Error {
    fn from(mut v: Vec<Problem>) -> Self {
        if v.len() == 1 { Error::Invalid(v.remove(0)) } else { Error::Problems(v) }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
