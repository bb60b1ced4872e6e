//! `git lanes integrate <RUN_ID>`.

use clap::Args;

use crate::cli::context::Ctx;
use crate::cli::error::{CliError, CliResult};
use crate::cli::progress::LaneDisplay;
use crate::files::config::IntegrationPolicy;
use crate::run::{self, RunOptions};

/// Integrate lane branches that ran elsewhere (fetched from a remote)
///
/// For lanes run with `git lanes run --lane X --no-integrate --push` on other machines: fetches
/// `lanes/<RUN_ID>/*`, verifies every claimed fix again here, merges the lanes, commits the report.
#[derive(Debug, Args)]
pub struct IntegrateArgs {
    /// The run id the lanes were started with (`--run-id`)
    pub run_id: String,
    /// The remote to fetch the lane branches from
    #[arg(long, default_value = "origin")]
    pub remote: String,
    /// Use the local lane branches as they are
    #[arg(long)]
    pub no_fetch: bool,
    /// How the lanes are integrated
    #[arg(long, value_name = "POLICY", value_parser = ["merge", "squash"])]
    pub policy: Option<String>,
    /// Leave the catalog, report and state uncommitted in the integration worktree
    #[arg(long)]
    pub no_commit: bool,
    /// Push the result
    #[arg(long)]
    pub push: bool,
    /// Skip lanes.yaml's `integration_checks:` this time (the report says so)
    #[arg(long)]
    pub no_integration_checks: bool,
}

pub fn run(args: IntegrateArgs, ctx: &Ctx) -> CliResult {
    let (repo, ws) = ctx.workspace()?;
    let opts = RunOptions {
        policy: args.policy.as_deref().map(|p| p.parse::<IntegrationPolicy>()).transpose().map_err(CliError::usage)?,
        no_commit: args.no_commit,
        push: args.push,
        no_integration_checks: args.no_integration_checks,
        ..RunOptions::default()
    };
    let interrupts = super::run_live::install_ctrl_c();
    let mut display = LaneDisplay::new(&ctx.ui);
    let mut observer = |e: &run::RunEvent| display.event(e);
    let remote = (!args.no_fetch).then_some(args.remote.as_str());
    let result = run::integrate_run(&repo, ws, &args.run_id, remote, opts, &mut observer, interrupts);
    display.finish();
    super::run_live::print_summary(ctx, &result?)
}
