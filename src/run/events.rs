//! What a run tells its display: [`RunEvent`] (the library never prints).

use std::path::PathBuf;

/// What happened, for the display (human lines, progress bars, JSON); the runner never prints.
#[derive(Debug, Clone)]
pub enum RunEvent {
    Started {
        run_id: String,
        lanes: Vec<String>,
    },
    Skipped {
        lane: String,
        reason: String,
    },
    WorktreeReady {
        lane: String,
        path: PathBuf,
    },
    LaneStarted {
        lane: String,
        pid: u32,
        issues: Vec<String>,
        /// 1 for the first attempt; more when a rejected lane is started again.
        attempt: u32,
    },
    LaneStatus {
        lane: String,
        text: String,
    },
    LaneDone {
        lane: String,
        latency_ms: Option<f64>,
    },
    /// What a lane's worker used, recorded when it ended (the lane's totals over its attempts),
    /// so a display shows it without reading the live state.
    LaneUsage {
        lane: String,
        cost_usd: Option<f64>,
        /// Whether `cost_usd` comes from `lanes.yaml`'s prices rather than the agent.
        cost_estimated: bool,
        input_tokens: Option<u64>,
        output_tokens: Option<u64>,
    },
    LaneStalled {
        lane: String,
        for_secs: u64,
    },
    LaneEnded {
        lane: String,
        state: String,
        detail: String,
    },
    Judged {
        lane: String,
        id: String,
        approved: bool,
        reason: String,
        /// The checks that failed, with the tail of their output.
        failing: Vec<crate::run::state::FailedCheck>,
    },
    /// A hunter's finding (the file it wrote) judged: kept or rejected, and why.
    Finding {
        lane: String,
        path: String,
        accepted: bool,
        reason: String,
    },
    Merged {
        lane: String,
    },
    BackedOut {
        lane: String,
        reason: String,
    },
    Interrupted {
        count: usize,
    },
    Note(String),
}
