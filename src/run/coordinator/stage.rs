//! Where a lane is while the coordinator follows it ([`LaneStage`]): a finer view than the
//! word `state.yaml` keeps for it.

use crate::run::status::LaneStatus;

/// Where a lane is while the run follows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LaneStage {
    /// Planned; not given a worktree yet.
    Pending,
    /// Its new worktree is being made on the set-up thread.
    Preparing,
    /// Its worktree is there; it waits for a free slot.
    Ready,
    /// Its worker runs: one this run started, or one from an earlier orchestrator (by pid).
    Running,
    /// The worker wrote `.done` and ended (or was ended after the grace).
    Done,
    /// It could not be set up or started, its worker ended without `.done`, would not finish, or
    /// the operator stopped it.
    Failed,
    /// No `.done` within the lane timeout; its group was killed.
    TimedOut,
    /// Stopped by Ctrl-C; `run --resume` restarts it.
    Interrupted,
}

impl LaneStage {
    /// The lane status `state.yaml` keeps for it (`git lanes status` and the tests read these).
    pub(crate) fn status(self) -> LaneStatus {
        match self {
            LaneStage::Pending | LaneStage::Preparing | LaneStage::Ready => LaneStatus::Pending,
            LaneStage::Running => LaneStatus::Running,
            LaneStage::Done => LaneStatus::Done,
            LaneStage::Failed => LaneStatus::Failed,
            LaneStage::TimedOut => LaneStatus::TimedOut,
            LaneStage::Interrupted => LaneStatus::Interrupted,
        }
    }

    /// The word `state.yaml` keeps for it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            LaneStage::Pending | LaneStage::Preparing | LaneStage::Ready => "pending",
            LaneStage::Running => "running",
            LaneStage::Done => "done",
            LaneStage::Failed => "failed",
            LaneStage::TimedOut => "timed_out",
            LaneStage::Interrupted => "interrupted",
        }
    }

    /// The stage a lane status in `state.yaml` names, if the coordinator has one for it
    /// (`collected`, `skipped` and unknown words are not one).
    pub(crate) fn of(status: &LaneStatus) -> Option<LaneStage> {
        Some(match status {
            LaneStatus::Pending => LaneStage::Pending,
            LaneStatus::Running => LaneStage::Running,
            LaneStatus::Done => LaneStage::Done,
            LaneStatus::Failed => LaneStage::Failed,
            LaneStatus::TimedOut => LaneStage::TimedOut,
            LaneStatus::Interrupted => LaneStage::Interrupted,
            _ => return None,
        })
    }
}
