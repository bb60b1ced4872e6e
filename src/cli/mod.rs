//! The command line: argument parsing, the one error boundary, and all printing and prompting.
//!
//! `commands/` holds one file per subcommand (its args struct and one `run` function);
//! `ui.rs` decides human vs JSON output and colour; `error.rs` maps failures to exit codes.

pub mod commands;
pub mod context;
pub mod error;
pub mod live;
pub mod progress;
pub mod ui;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, ValueEnum};

use self::context::Ctx;
use self::error::CliError;
use self::ui::Ui;

/// Run many AI coding agents on one repository in parallel lanes, verify every fix, integrate safely
#[derive(Debug, Parser)]
#[command(name = "git-lanes", bin_name = "git lanes", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: commands::Command,
}

/// Flags every command accepts.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Use the repository at (or above) this path instead of the current directory
    #[arg(long, global = true, help_heading = "Global options", value_name = "PATH")]
    pub repo: Option<PathBuf>,
    /// Print machine-readable JSON on stdout (errors as JSON on stderr)
    #[arg(long, global = true, help_heading = "Global options")]
    pub json: bool,
    /// Catalog file, relative to the repository root (overrides lanes.yaml)
    #[arg(long, global = true, help_heading = "Global options", value_name = "PATH")]
    pub catalog: Option<PathBuf>,
    /// Issues folder, relative to the repository root (overrides lanes.yaml)
    #[arg(long, global = true, help_heading = "Global options", value_name = "PATH")]
    pub issues: Option<PathBuf>,
    /// Print no progress or status messages (data and errors still print)
    #[arg(short, long, global = true, help_heading = "Global options")]
    pub quiet: bool,
    /// When to use colour
    #[arg(long, global = true, help_heading = "Global options", value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,
}

/// `--color` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// Entry point called by `main.rs`.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { error::ExitKind::Usage.code() } else { 0 });
        }
    };
    // Secret values are read before anything else runs, and the process is made non-dumpable so
    // that same-user processes (a check, a worker) cannot read its environment or memory.
    crate::base::redact::init();
    crate::exec::process::harden_self();
    let ui = Ui::new(cli.global.json, cli.global.quiet, cli.global.color);
    let ctx = Ctx::new(cli.global.clone(), ui.clone());
    // A panic is a bug in git-lanes: Rust's hook has printed where it happened; it ends as an
    // internal error (exit 70, with where to report it), not with Rust's 101.
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| commands::run(cli.command, &ctx)));
    match result.unwrap_or_else(|panic| Err(CliError::from_panic(panic.as_ref()))) {
        Ok(exit) => exit.into(),
        Err(e) if e.broken_pipe => ExitCode::SUCCESS,
        Err(e) => {
            report_error(&ui, &e);
            ExitCode::from(e.code())
        }
    }
}

fn report_error(ui: &Ui, e: &CliError) {
    if ui.json {
        let doc = serde_json::json!({
            "schema_version": ui::SCHEMA_VERSION,
            "error": { "kind": e.exit.name(), "message": e.message, "exit_code": e.code(), "problems": e.problems, "hints": e.hints },
        });
        eprintln!("{}", crate::base::redact::redact_values(&doc.to_string()));
        return;
    }
    let r = |s: &str| crate::base::redact::redact(s).into_owned();
    if e.problems.len() > 1 {
        for p in &e.problems {
            eprintln!("{}", r(&ui.problem_lines(p, "error")));
        }
    }
    eprintln!("{} {}", ui.red("error:"), r(&e.message));
    for h in &e.hints {
        eprintln!("  {} {}", ui.dim("hint:"), r(h));
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
