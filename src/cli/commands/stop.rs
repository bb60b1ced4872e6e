//! `git lanes stop <LANE>`: ask the running orchestrator to end one lane's worker.

use clap::Args;

use crate::cli::context::Ctx;
use crate::cli::error::{CliError, CliResult, Exit};
use crate::run::LaneControl;

/// Stop one lane of the running run (its work so far is collected and kept on its branch)
///
/// The orchestrator ends the lane's process group on its next tick; the lane ends as failed,
/// "stopped by the operator", and `git lanes run --resume` restarts it later.
#[derive(Debug, Args)]
pub struct StopArgs {
    /// The lane (e.g. E)
    pub lane: String,
    /// The run (default: the newest run that has this lane)
    #[arg(long = "run", value_name = "RUN_ID")]
    pub run_id: Option<String>,
}

pub fn run(args: StopArgs, ctx: &Ctx) -> CliResult {
    request(ctx, &args.lane, args.run_id.as_deref(), LaneControl::Stop(args.lane.clone()))
}

/// Write the request for a lane that is running now; say what will happen.
pub(super) fn request(ctx: &Ctx, lane: &str, run_id: Option<&str>, control: LaneControl) -> CliResult {
    let (repo, _ws) = ctx.setup_workspace()?;
    if let Some(id) = run_id {
        crate::files::names::check_run_id(id).map_err(|m| CliError::usage(m).hint("`git lanes runs` lists the run ids"))?;
    }
    let l = crate::run::runs::lane_ref(&repo, lane, run_id)?;
    let running = l.state.status == crate::run::status::RunStatus::Running && crate::run::lock::holder(&repo.lanes_dir()).is_some();
    let ls = &l.state.lanes[lane];
    use crate::run::status::LaneStatus as Lane;
    let word = if matches!(control, LaneControl::Stop(_)) { "stop" } else { "restart" };
    if !running || !matches!(ls.status, Lane::Pending | Lane::Running | Lane::Failed | Lane::TimedOut) {
        return Err(CliError::new(
            crate::cli::error::ExitKind::State,
            format!(
                "lane {lane} of run {} is not being followed (lane {}, run {})",
                l.run_id,
                crate::run::state::status_words(&ls.status),
                crate::run::state::status_words(&l.state.status)
            ),
        )
        .hint("`git lanes run --resume` restarts the failed lanes of a finished run"));
    }
    crate::run::request_control(&repo, &l.run_id, lane, &control)?;
    let ui = &ctx.ui;
    if ui.json {
        ui.json(serde_json::json!({ "run_id": l.run_id, "lane": lane, "requested": word }))?;
    } else {
        ui.info(format!("asked run {} to {word} lane {lane}; `git lanes logs {lane} -f` follows it", l.run_id));
    }
    Ok(Exit::Success)
}
