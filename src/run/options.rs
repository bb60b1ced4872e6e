//! What the user asks of a run ([`RunOptions`]) and what the operator asks of a lane while it
//! runs ([`LaneControl`], through the live view's queue or a control file).

use std::sync::Arc;
use std::time::Duration;

use crate::base::error::{Error, Result};
use crate::files::config::IntegrationPolicy;
use crate::git::repo::Repo;

/// What the user asked for, merged with `lanes.yaml` by the CLI.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Lanes to run (empty: all with ready issues).
    pub lanes: Vec<String>,
    pub max_parallel: Option<usize>,
    pub max_issues: Option<usize>,
    /// Worker command line or preset (overrides specs and lanes.yaml).
    pub worker: Option<String>,
    pub model: Option<String>,
    pub max_turns: Option<u32>,
    pub max_budget_usd: Option<f64>,
    pub timeout: Option<Duration>,
    pub done_grace: Option<Duration>,
    pub stall_after: Option<Duration>,
    pub policy: Option<IntegrationPolicy>,
    pub no_commit: bool,
    pub no_integrate: bool,
    /// Skip `lanes.yaml` `integration_checks:` for this run (`--no-integration-checks`).
    pub no_integration_checks: bool,
    pub push: bool,
    /// Run workers in the sandbox (`--sandbox-workers` / `--no-sandbox-workers`); `None`:
    /// lanes.yaml's `sandbox_workers` (on by default).
    pub sandbox_workers: Option<bool>,
    /// Use this run id instead of a timestamp (tests, CI matrices).
    pub run_id: Option<String>,
    /// Requests from the operator (the live view's stop and restart keys), read every tick.
    pub controls: Option<LaneControls>,
    /// How many times a lane's worker is started in all when its issues are rejected
    /// (`--attempts`; else `lanes.yaml`'s `attempts:`, 2).
    pub attempts: Option<u32>,
    /// The whole run's budget in dollars (`--budget-usd`; else `lanes.yaml`'s `budget.usd`).
    pub budget_usd: Option<f64>,
    /// The whole run's budget in tokens (`--budget-tokens`; else `budget.tokens`).
    pub budget_tokens: Option<u64>,
    /// The command told when the run ends or a lane needs a human (`--notify`; else
    /// `lanes.yaml`'s `notify:`); see [`crate::run::notify`].
    pub notify: Option<String>,
}

/// What the operator can ask of a lane while the run follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LaneControl {
    /// End the lane's worker (its process group); the lane fails as "stopped by the operator",
    /// its work is collected and kept on its branch (`run --resume` restarts it).
    Stop(String),
    /// End the lane's worker if it runs and start it again in the same worktree (its commits
    /// so far are kept; the log goes on).
    Restart(String),
}

/// The file in `<common>/lanes/runs/<RUN_ID>/<LANE>/` through which another process asks the
/// running orchestrator to `stop` or `restart` the lane (its whole content is the word).
pub const CONTROL_FILE: &str = "control";

/// Ask the orchestrator of a running run to stop or restart a lane (`git lanes stop|restart`):
/// the request is a file it reads on its next tick.
pub fn request_control(repo: &Repo, run_id: &str, lane: &str, control: &LaneControl) -> Result<()> {
    crate::files::names::check_run_id(run_id).map_err(|m| Error::usage(m, None))?;
    crate::files::names::check_lane(lane).map_err(|m| Error::usage(m, None))?;
    let word = match control {
        LaneControl::Stop(_) => "stop",
        LaneControl::Restart(_) => "restart",
    };
    crate::base::fsutil::write_atomic(
        &repo.lanes_dir().join("runs").join(run_id).join(lane).join(CONTROL_FILE),
        format!("{word}\n").as_bytes(),
    )
}

/// The queue the display pushes [`LaneControl`]s into and the coordinator drains.
pub type LaneControls = Arc<std::sync::Mutex<std::collections::VecDeque<LaneControl>>>;
