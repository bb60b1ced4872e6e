//! The one error boundary: every failure becomes a [`CliError`] with a kind (which picks the exit
//! code), a message, its causes and `hint:` lines.
//!
//! Every exit code is one row of [`ExitKind`] (docs/formats.md#exit-codes); the library's
//! [`ErrorKind`]s map onto them in [`ExitKind::of`]. A `--json` error names its kind
//! (`"kind": "state"`) beside its `exit_code`. The table, as the README and docs/formats.md show
//! it (a test keeps all three equal to [`ExitKind::ALL`]):
//!
//! | code | kind | meaning |
//! |---|---|---|
//! | 0 | success | the command did what it was asked |
//! | 1 | input | a file you or an agent wrote is wrong; the message says where (`path:line`) |
//! | 2 | usage | the command line is wrong: conflicting flags, an unknown lane or issue, a value out of range |
//! | 3 | needs-human | a run finished but something needs a human |
//! | 4 | check-failed | a check failed (`sync --check`, `check`, `validate`, a failing `verify`) |
//! | 5 | state | the repository or a run is not in a state the command can act on |
//! | 6 | git | git, the filesystem or another program git-lanes needs failed |
//! | 70 | internal | a bug in git-lanes: the message says so, the hint where to report it |
//! | 130 | interrupted | Ctrl-C, SIGTERM or SIGHUP stopped the command (a run's state is saved; `run --resume` continues it) |

use std::process::ExitCode;

use crate::base::error::{Error, ErrorKind, Problem};

/// What a command returns when it ran to completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Success,
    NeedsHuman,
    CheckFailed,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        let kind = match e {
            Exit::Success => ExitKind::Success,
            Exit::NeedsHuman => ExitKind::NeedsHuman,
            Exit::CheckFailed => ExitKind::CheckFailed,
        };
        ExitCode::from(kind.code())
    }
}

/// Every way git-lanes exits, in the order of its code: the one table of exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitKind {
    Success,
    Input,
    Usage,
    NeedsHuman,
    CheckFailed,
    State,
    Git,
    Internal,
    Interrupted,
}

/// One row of the exit-code table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitRow {
    /// The process exit code.
    pub code: u8,
    /// Its name: the `kind` of a `--json` error.
    pub kind: &'static str,
    /// What it means, for the user.
    pub meaning: &'static str,
    /// A real case that exits with it.
    pub example: &'static str,
}

impl ExitKind {
    /// Every row, in the order of its code.
    pub const ALL: [ExitKind; 9] = [
        ExitKind::Success,
        ExitKind::Input,
        ExitKind::Usage,
        ExitKind::NeedsHuman,
        ExitKind::CheckFailed,
        ExitKind::State,
        ExitKind::Git,
        ExitKind::Internal,
        ExitKind::Interrupted,
    ];

    /// Its row of the table.
    pub const fn row(self) -> ExitRow {
        let (code, kind, meaning, example) = match self {
            ExitKind::Success => (0, "success", "the command did what it was asked", "`git lanes sync`"),
            ExitKind::Input => (
                1,
                "input",
                "a file you or an agent wrote is wrong; the message says where (`path:line`)",
                "an issue file with an unknown `status:`",
            ),
            ExitKind::Usage => (
                2,
                "usage",
                "the command line is wrong: conflicting flags, an unknown lane or issue, a value out of range",
                "`git lanes verify X-99` when there is no issue X-99",
            ),
            ExitKind::NeedsHuman => (
                3,
                "needs-human",
                "a run finished but something needs a human",
                "a lane failed, a fix was rejected, a merge was backed out, your branch moved",
            ),
            ExitKind::CheckFailed => (
                4,
                "check-failed",
                "a check failed (`sync --check`, `check`, `validate`, a failing `verify`)",
                "`git lanes check` on an issue set to RESOLVED by hand",
            ),
            ExitKind::State => (
                5,
                "state",
                "the repository or a run is not in a state the command can act on",
                "another run holds the lock; `run --resume` with nothing to resume; an uncommitted set-up",
            ),
            ExitKind::Git => (
                6,
                "git",
                "git, the filesystem or another program git-lanes needs failed",
                "a corrupt repository; a full disk; a git command that fails",
            ),
            ExitKind::Internal => (
                70,
                "internal",
                "a bug in git-lanes: the message says so, the hint where to report it",
                "an invariant git-lanes keeps was broken",
            ),
            ExitKind::Interrupted => (
                130,
                "interrupted",
                "Ctrl-C, SIGTERM or SIGHUP stopped the command (a run's state is saved; `run --resume` continues it)",
                "Ctrl-C during `git lanes run`",
            ),
        };
        ExitRow { code, kind, meaning, example }
    }

    /// The process exit code.
    pub const fn code(self) -> u8 {
        self.row().code
    }

    /// Its name (the `kind` of a `--json` error).
    pub const fn name(self) -> &'static str {
        self.row().kind
    }

    /// The exit of a library error of this kind.
    pub const fn of(kind: ErrorKind) -> ExitKind {
        match kind {
            ErrorKind::Usage => ExitKind::Usage,
            ErrorKind::Input => ExitKind::Input,
            ErrorKind::State => ExitKind::State,
            ErrorKind::Git => ExitKind::Git,
            ErrorKind::Internal => ExitKind::Internal,
        }
    }

    /// The table as markdown (`| code | kind | meaning |`, with an `example` column when
    /// `examples`): the README shows it without examples, docs/formats.md with them.
    pub fn markdown(examples: bool) -> String {
        let mut out = String::from(if examples {
            "| code | kind | meaning | example |\n|---|---|---|---|\n"
        } else {
            "| code | kind | meaning |\n|---|---|---|\n"
        });
        for k in Self::ALL {
            let r = k.row();
            out.push_str(&format!("| {} | {} | {} |", r.code, r.kind, r.meaning));
            if examples {
                out.push_str(&format!(" {} |", r.example));
            }
            out.push('\n');
        }
        out
    }
}

/// Why a command stopped.
#[derive(Debug)]
pub struct CliError {
    /// Which row of the exit-code table: picks the exit code and the JSON `kind`.
    pub exit: ExitKind,
    pub message: String,
    pub problems: Vec<Problem>,
    pub hints: Vec<String>,
    /// Writing to stdout failed because the reader went away: exit quietly.
    pub broken_pipe: bool,
}

impl CliError {
    pub fn new(exit: ExitKind, message: impl Into<String>) -> Self {
        CliError { exit, message: message.into(), problems: vec![], hints: vec![], broken_pipe: false }
    }

    /// The command line is wrong (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(ExitKind::Usage, message)
    }

    /// The repository or a run is not in a state the command can act on (exit 5).
    pub fn state(message: impl Into<String>) -> Self {
        Self::new(ExitKind::State, message)
    }

    /// git, the filesystem or another program failed (exit 6).
    pub fn git(message: impl Into<String>) -> Self {
        Self::new(ExitKind::Git, message)
    }

    /// A bug in git-lanes (exit 70): the message and hint [`Error::internal`] gives.
    pub fn internal(message: impl Into<String>) -> Self {
        Error::internal(message).into()
    }

    /// A command that panicked (exit 70): `payload` is what `catch_unwind` caught.
    pub fn from_panic(payload: &(dyn std::any::Any + Send)) -> Self {
        let what = payload.downcast_ref::<&str>().copied().or_else(|| payload.downcast_ref::<String>().map(String::as_str));
        Self::internal(format!("it panicked: {}", what.unwrap_or("(no message)")))
    }

    /// Ctrl-C, SIGTERM or SIGHUP stopped the command (exit 130).
    pub fn interrupted(message: impl Into<String>) -> Self {
        Self::new(ExitKind::Interrupted, message)
    }

    pub fn hint(mut self, h: impl Into<String>) -> Self {
        self.hints.push(h.into());
        self
    }

    /// The process exit code.
    pub fn code(&self) -> u8 {
        self.exit.code()
    }
}

impl From<Error> for CliError {
    fn from(e: Error) -> Self {
        let mut c = CliError::new(ExitKind::of(e.kind()), e.to_string());
        c.broken_pipe = matches!(&e, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::BrokenPipe);
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
            other => c.hints.extend(other.hint().map(str::to_owned)),
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
        let mut c = CliError::git(format!("could not write output: {e}"));
        c.broken_pipe = e.kind() == std::io::ErrorKind::BrokenPipe;
        c
    }
}

pub type CliResult = Result<Exit, CliError>;

#[cfg(test)]
mod tests {
    use std::process::ExitCode;

    use crate::base::error::{Error, Problem};
    use crate::cli::error::{CliError, Exit, ExitKind};

    /// The table rows under `## Exit codes` (or the `//!` lines of this file) in `text`.
    fn table_in(text: &str, doc_comment: bool) -> Vec<String> {
        let lines: Vec<String> = if doc_comment {
            text.lines().filter_map(|l| l.strip_prefix("//!")).map(|l| l.trim().to_string()).collect()
        } else {
            text.lines().skip_while(|l| l.trim() != "## Exit codes").skip(1).map(|l| l.trim().to_string()).collect()
        };
        lines.into_iter().skip_while(|l| !l.starts_with('|')).take_while(|l| l.starts_with('|')).collect()
    }

    fn rendered(examples: bool) -> Vec<String> {
        ExitKind::markdown(examples).lines().map(str::to_string).collect()
    }

    #[test]
    fn readme_formats_and_module_doc_show_the_code_table() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap();
        assert_eq!(table_in(&read("README.md"), false), rendered(false), "README.md's `## Exit codes` table differs from ExitKind::ALL");
        assert_eq!(
            table_in(&read("docs/formats.md"), false),
            rendered(true),
            "docs/formats.md's `## Exit codes` table differs from ExitKind::ALL"
        );
        assert_eq!(
            table_in(&read("src/cli/error.rs"), true),
            rendered(false),
            "the `//!` table of cli/error.rs differs from ExitKind::ALL"
        );
    }

    #[test]
    fn codes_are_distinct_and_in_order() {
        let codes: Vec<u8> = ExitKind::ALL.iter().map(|k| k.code()).collect();
        assert!(codes.windows(2).all(|w| w[0] < w[1]), "{codes:?}");
        let names: std::collections::BTreeSet<&str> = ExitKind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(names.len(), ExitKind::ALL.len());
    }

    #[test]
    fn each_error_kind_exits_with_its_code() {
        let cases: [(Error, u8, &str); 6] = [
            (Error::usage("a flag conflicts", None), 2, "usage"),
            (Problem::new("issues/E/E-01.md", 3, "unknown status").into(), 1, "input"),
            (Error::state("another git-lanes run holds the lock", None), 5, "state"),
            (Error::command("`git worktree prune` failed", None), 6, "git"),
            (Error::io("read", std::path::Path::new("x"), std::io::Error::other("disk")), 6, "git"),
            (Error::internal("a lane was merged twice"), 70, "internal"),
        ];
        for (e, code, kind) in cases {
            let c = CliError::from(e);
            assert_eq!((c.code(), c.exit.name()), (code, kind), "{c:?}");
        }
        assert_eq!(CliError::interrupted("run stopped").code(), 130);
        assert_eq!(ExitCode::from(Exit::NeedsHuman), ExitCode::from(3));
    }

    #[test]
    fn an_internal_error_says_it_is_a_bug_and_where_to_report_it() {
        let c = CliError::internal("a lane was merged twice");
        assert_eq!(c.message, "this is a bug in git-lanes: a lane was merged twice");
        assert_eq!(c.hints.len(), 1, "{c:?}");
        assert!(c.hints[0].starts_with("please report it "), "{c:?}");
        let caught = std::panic::catch_unwind(|| -> u8 { panic!("index {} out of range", 7) }).unwrap_err();
        let c = CliError::from_panic(caught.as_ref());
        assert_eq!((c.code(), c.message.as_str()), (70, "this is a bug in git-lanes: it panicked: index 7 out of range"));
        let c = CliError::from_panic(&"static text");
        assert_eq!(c.message, "this is a bug in git-lanes: it panicked: static text");
    }

    #[test]
    fn an_input_error_keeps_its_location_and_hint() {
        let c = CliError::from(Problem::new("issues/E/E-01.md", 3, "unknown status").with_hint("use OPEN"));
        assert_eq!((c.message.as_str(), c.hints.as_slice()), ("issues/E/E-01.md:3: unknown status", &["use OPEN".to_string()][..]));
    }
}
