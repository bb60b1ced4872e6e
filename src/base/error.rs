//! The library's error type: every variant says what failed and where (path, line, lane, id),
//! and is of one [`ErrorKind`] (usage, input, state, git, internal).
//!
//! The CLI turns these into messages with `hint:` lines, and each kind into its exit code, in one
//! table (`cli/error.rs`; docs/formats.md#exit-codes).

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

/// What kind of failure an [`Error`] is: what the user has to do about it. The CLI gives each
/// kind its exit code (`cli/error.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The command line itself is wrong: conflicting flags, an unknown lane or issue named on it,
    /// a value out of range.
    Usage,
    /// A file the user or an agent wrote is wrong, at `path:line`.
    Input,
    /// The repository or a run is not in a state the command can act on: a run lock is held,
    /// nothing to resume, an uncommitted set-up, a run not found, a missing worktree.
    State,
    /// git, the filesystem or another program git-lanes needs failed.
    Git,
    /// A bug in git-lanes: an invariant it keeps was broken.
    Internal,
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

    /// A command git-lanes ran (git, a worktree's set-up command) failed, or git answered what
    /// it cannot.
    #[error("{message}")]
    Command { message: String, hint: Option<String> },

    #[error("{0}")]
    Process(#[from] crate::exec::process::ProcessError),

    #[error("{message}")]
    Usage { message: String, hint: Option<String> },

    /// The repository or a run is not in a state the command can act on.
    #[error("{message}")]
    State { message: String, hint: Option<String> },

    /// A bug in git-lanes; the hint says where to report it.
    #[error("this is a bug in git-lanes: {message}")]
    Internal { message: String, hint: String },
}

/// Where bugs in git-lanes are reported: the crate's `repository` (else `homepage`) in
/// Cargo.toml, when one is set.
fn report_hint() -> String {
    let home = [env!("CARGO_PKG_REPOSITORY"), env!("CARGO_PKG_HOMEPAGE")].into_iter().find(|u| !u.is_empty());
    match home {
        Some(url) => format!("please report it at {}/issues, with the command you ran and this message", url.trim_end_matches('/')),
        None => "please report it to the git-lanes maintainers, with the command you ran and this message".into(),
    }
}

impl Error {
    pub fn io(action: &'static str, path: &Path, source: std::io::Error) -> Self {
        Error::Io { action, path: path.to_path_buf(), source }
    }

    pub fn git(what: impl Into<String>, source: git2::Error) -> Self {
        Error::Git { what: what.into(), source }
    }

    /// A command git-lanes ran (git, a set-up command) that failed, or git's answer that it
    /// cannot use: [`ErrorKind::Git`].
    pub fn command(message: impl Into<String>, hint: Option<String>) -> Self {
        Error::Command { message: message.into(), hint }
    }

    /// The command line is wrong: [`ErrorKind::Usage`].
    pub fn usage(message: impl Into<String>, hint: Option<String>) -> Self {
        Error::Usage { message: message.into(), hint }
    }

    /// The repository or a run is not in a state the command can act on: [`ErrorKind::State`].
    pub fn state(message: impl Into<String>, hint: Option<String>) -> Self {
        Error::State { message: message.into(), hint }
    }

    /// A bug in git-lanes (an invariant broken): [`ErrorKind::Internal`]. The message says what broke;
    /// the hint, where to report it.
    pub fn internal(message: impl Into<String>) -> Self {
        Error::Internal { message: message.into(), hint: report_hint() }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Usage { .. } => ErrorKind::Usage,
            Error::Invalid(_) | Error::Problems(_) => ErrorKind::Input,
            Error::State { .. } => ErrorKind::State,
            Error::Io { .. } | Error::Git { .. } | Error::Command { .. } | Error::Process(_) => ErrorKind::Git,
            Error::Internal { .. } => ErrorKind::Internal,
        }
    }

    /// The hint to print under the message, if any.
    pub fn hint(&self) -> Option<&str> {
        match self {
            Error::Invalid(p) => p.hint.as_deref(),
            Error::Usage { hint, .. } | Error::State { hint, .. } | Error::Command { hint, .. } => hint.as_deref(),
            Error::Internal { hint, .. } => Some(hint),
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
