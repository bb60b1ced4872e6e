//! One file per subcommand; this file holds the enum and the one exhaustive dispatch.

mod check;
mod ci_template;
mod clean;
mod completions;
mod demo;
mod diff;
mod doctor;
mod hooks;
mod hunt;
mod init;
mod integrate;
mod logs;
mod man;
mod new;
mod plan;
mod reopen;
mod report;
mod reset;
mod restart;
mod run;
mod run_live;
mod runs;
mod signal;
mod status;
mod stop;
mod sync;
mod validate;
mod verify;
mod watch;
mod wontfix;

use clap::Subcommand;

use crate::cli::context::Ctx;
use crate::cli::error::CliResult;

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
pub fn run(command: Command, ctx: &Ctx) -> CliResult {
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
        Command::Completions(a) => completions::run(a, ctx),
        Command::Man(a) => man::run(a, ctx),
    }
}
