//! How a run ended: [`RunSummary`] (what `run --json` prints), [`LaneOutcome`] per lane and
//! [`LeftBranches`] for a run that leaves its lane branches.

use std::path::PathBuf;

use crate::run::state::RunState;
use crate::run::status::LaneStatus;

/// How a run ended.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub run_id: String,
    pub resolved: Vec<String>,
    pub open: usize,
    pub needs_human: Vec<String>,
    pub report: Option<PathBuf>,
    pub commit: Option<String>,
    /// The command to merge the result when the user's branch could not be fast-forwarded.
    pub merge_command: Option<String>,
    pub interrupted: bool,
    /// Lanes merged into the integration result.
    pub integrated: Vec<String>,
    /// Whether the user's branch was moved (fast-forwarded) to the result.
    pub fast_forwarded: bool,
    /// How each lane's worker ended, for `--json` (`lanes[]`).
    pub lanes: Vec<LaneOutcome>,
    /// A run that left its lane branches (`--no-integrate`, policy `branches`): what they hold.
    pub left: Option<LeftBranches>,
    /// What the integration checks did (`None`: none ran or none are configured).
    pub integration_checks: Option<crate::run::state::IntegrationChecks>,
}

/// What a run that integrates nothing itself left: the issues verified on its lane branches,
/// the branches (and those pushed), and the command that integrates them.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct LeftBranches {
    /// Issues whose checks passed on their lane branch (RESOLVED there, not on your branch yet).
    pub verified: Vec<String>,
    /// Issues the run was given that its lanes did not resolve.
    pub open: Vec<String>,
    pub branches: Vec<String>,
    /// The branches pushed to `origin` (`--push`).
    pub pushed: Vec<String>,
    /// The command that verifies and integrates them (`git lanes integrate <RUN_ID>`).
    pub integrate: String,
}

/// How one lane's worker ended: what `run --json` reports per lane.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct LaneOutcome {
    pub lane: String,
    /// `done`, `failed`, `timed_out`, `interrupted`, ….
    pub status: LaneStatus,
    /// The worker setting (a preset name or a command line).
    pub worker: Option<String>,
    /// How the process ended (`exit 1 without writing .done`).
    pub exit: Option<String>,
    /// The agent's own reason for a failure or timeout (or the last lines of its log).
    pub reason: Option<String>,
    /// `turns` or `budget` when a limit ended the agent's run.
    pub limit: Option<String>,
    /// The worker's log file.
    pub log: Option<String>,
    pub cost_usd: Option<f64>,
    /// Whether `cost_usd` comes from `lanes.yaml`'s prices rather than the agent.
    pub cost_estimated: bool,
    pub turns: Option<u32>,
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    /// The model the agent was given (`null`: the CLI's own default).
    pub model: Option<String>,
    /// Each attempt of the lane's worker: `{n, started, ended, outcome, reason, cost_usd, tokens}`.
    pub attempts: Vec<crate::run::state::Attempt>,
}

impl RunSummary {
    /// What `run --json` prints (and a notify command reads as `summary`).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "run_id": self.run_id,
            "resolved": self.resolved,
            "open": self.open,
            "needs_human": self.needs_human,
            "report": self.report,
            "commit": self.commit,
            "merge_command": self.merge_command,
            "interrupted": self.interrupted,
            "integrated": self.integrated,
            "fast_forwarded": self.fast_forwarded,
            "lanes": self.lanes,
            "left_branches": self.left,
            "integration_checks": self.integration_checks,
        })
    }
}

impl LaneOutcome {
    /// The outcome of every lane in a run's state.
    pub fn of(state: &RunState) -> Vec<LaneOutcome> {
        state
            .lanes
            .iter()
            .map(|(lane, l)| LaneOutcome {
                lane: lane.clone(),
                status: l.status.clone(),
                worker: l.worker.clone(),
                exit: l.exit.clone(),
                reason: l.reason.clone(),
                limit: l.limit.clone(),
                log: l.log.clone(),
                cost_usd: l.cost_usd,
                cost_estimated: l.cost_estimated,
                turns: l.turns,
                input_tokens: l.input_tokens,
                output_tokens: l.output_tokens,
                model: l.model.clone(),
                attempts: l.attempts.clone(),
            })
            .collect()
    }
}
