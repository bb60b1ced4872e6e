//! `git lanes restart <LANE>`: ask the running orchestrator to start one lane's worker again.

use clap::Args;

use crate::cli::context::Ctx;
use crate::cli::error::CliResult;
use crate::run::LaneControl;

/// Restart one lane of the running run in its worktree (its commits so far are kept)
///
/// The orchestrator ends the lane's worker if it still runs and starts it again on its next
/// tick; a lane that already failed or timed out is started again while the run still follows
/// other lanes.
#[derive(Debug, Args)]
pub struct RestartArgs {
    /// The lane (e.g. E)
    pub lane: String,
    /// The run (default: the newest run that has this lane)
    #[arg(long = "run", value_name = "RUN_ID")]
    pub run_id: Option<String>,
}

pub fn run(args: RestartArgs, ctx: &Ctx) -> CliResult {
    super::stop::request(ctx, &args.lane, args.run_id.as_deref(), LaneControl::Restart(args.lane.clone()))
}
