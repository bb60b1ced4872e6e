//! Where a lane is while the coordinator follows it ([`LaneStage`]): a finer view than the
//! word `state.yaml` keeps for it.

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
    /// The word `state.yaml` keeps for it (`git lanes status` and the tests read these).
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

    /// The state a word in `state.yaml` names, if the coordinator has one for it (`collected`,
    /// written after the run, is not one).
    pub(crate) fn parse(word: &str) -> Option<LaneStage> {
        Some(match word {
            "pending" => LaneStage::Pending,
            "running" => LaneStage::Running,
            "done" => LaneStage::Done,
            "failed" => LaneStage::Failed,
            "timed_out" => LaneStage::TimedOut,
            "interrupted" => LaneStage::Interrupted,
            _ => return None,
        })
    }
}
