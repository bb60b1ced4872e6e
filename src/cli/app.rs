//! The command line as one parser: the top-level `Cli`, the `Command` enum with one variant per
//! file in `commands/`, the one exhaustive dispatch, and the entry point with its error boundary.

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

use crate::cli::args::GlobalArgs;
use crate::cli::commands::{
    check, ci_template, clean, completions, demo, diff, doctor, hooks, hunt, init, integrate, logs, man, new, plan, reopen, report, reset,
    restart, run, runs, signal, status, stop, sync, validate, verify, watch, wontfix,
};
use crate::cli::context::Ctx;
use crate::cli::error::{CliError, CliResult};
use crate::cli::ui::{self, Ui};

/// Run many AI coding agents on one repository in parallel lanes, verify every fix, integrate safely
#[derive(Debug, Parser)]
#[command(name = "git-lanes", bin_name = "git lanes", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Every subcommand.
#[derive(Debug, Subcommand)]
pub enum Command {
    Init(init::InitArgs),
    Status(status::StatusArgs),
    New(new::NewArgs),
    Wontfix(wontfix::WontfixArgs),
    Reopen(reopen::ReopenArgs),
    Validate(validate::ValidateArgs),
    Doctor(doctor::DoctorArgs),
    Sync(sync::SyncArgs),
    Verify(verify::VerifyArgs),
    Plan(plan::PlanArgs),
    Run(run::RunArgs),
    Hunt(hunt::HuntArgs),
    Integrate(integrate::IntegrateArgs),
    Watch(watch::WatchArgs),
    Runs(runs::RunsArgs),
    Report(report::ReportArgs),
    Logs(logs::LogsArgs),
    Diff(diff::DiffArgs),
    Stop(stop::StopArgs),
    Restart(restart::RestartArgs),
    Clean(clean::CleanArgs),
    CiTemplate(ci_template::CiTemplateArgs),
    Demo(demo::DemoArgs),
    Check(check::CheckArgs),
    Hooks(hooks::HooksArgs),
    Reset(reset::ResetArgs),
    Signal(signal::SignalArgs),
    Completions(completions::CompletionsArgs),
    Man(man::ManArgs),
}

/// Run one subcommand.
pub fn dispatch(command: Command, ctx: &Ctx) -> CliResult {
    match command {
        Command::Init(a) => init::run(a, ctx),
        Command::Status(a) => status::run(a, ctx),
        Command::New(a) => new::run(a, ctx),
        Command::Wontfix(a) => wontfix::run(a, ctx),
        Command::Reopen(a) => reopen::run(a, ctx),
        Command::Validate(a) => validate::run(a, ctx),
        Command::Doctor(a) => doctor::run(a, ctx),
        Command::Sync(a) => sync::run(a, ctx),
        Command::Verify(a) => verify::run(a, ctx),
        Command::Plan(a) => plan::run(a, ctx),
        Command::Run(a) => run::run(a, ctx),
        Command::Hunt(a) => hunt::run(a, ctx),
        Command::Integrate(a) => integrate::run(a, ctx),
        Command::Watch(a) => watch::run(a, ctx),
        Command::Runs(a) => runs::run(a, ctx),
        Command::Report(a) => report::run(a, ctx),
        Command::Logs(a) => logs::run(a, ctx),
        Command::Diff(a) => diff::run(a, ctx),
        Command::Stop(a) => stop::run(a, ctx),
        Command::Restart(a) => restart::run(a, ctx),
        Command::Clean(a) => clean::run(a, ctx),
        Command::CiTemplate(a) => ci_template::run(a, ctx),
        Command::Demo(a) => demo::run(a, ctx),
        Command::Check(a) => check::run(a, ctx),
        Command::Hooks(a) => hooks::run(a, ctx),
        Command::Reset(a) => reset::run(a, ctx),
        Command::Signal(a) => signal::run(a, ctx),
        Command::Completions(a) => completions::run(a, ctx, Cli::command()),
        Command::Man(a) => man::run(a, ctx, Cli::command()),
    }
}

/// Entry point called by `main.rs`.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { crate::cli::error::ExitKind::Usage.code() } else { 0 });
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
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| dispatch(cli.command, &ctx)));
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
        crate::cli::app::Cli::command().debug_assert();
    }

    /// Completion offers every preset after `--worker` (and help does not call them the only
    /// choices: a command line is a worker too).
    #[test]
    fn worker_flags_complete_the_preset_names() {
        let cli = crate::cli::app::Cli::command();
        for sub in ["run", "hunt", "ci-template"] {
            let arg = cli.find_subcommand(sub).and_then(|c| c.get_arguments().find(|a| a.get_id() == "worker")).unwrap();
            let names: Vec<String> = arg.get_possible_values().iter().map(|v| v.get_name().to_owned()).collect();
            assert_eq!(names, crate::agents::presets::Preset::NAMES, "{sub}");
            assert!(arg.is_hide_possible_values_set(), "{sub}");
        }
    }
}
