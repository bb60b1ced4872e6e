//! What the coordinator waits for ([`Event`]): signal files, worktrees made, workers that
//! exited, the timer, Ctrl-C and lanes judged all arrive on one channel.

use crate::run::collected::Collected;

/// What the coordinator waits for: every source sends on one channel.
#[derive(Debug)]
pub(crate) enum Event {
    /// Something changed in a signal folder (a hint: running lanes' files are read again).
    SignalSeen,
    /// The set-up thread made a lane's worktree, or says why it could not.
    WorktreeReady { lane: String, result: std::result::Result<(), String> },
    /// A worker this run started has exited (from its waiter thread).
    WorkerExited { lane: String },
    /// The timer: deadlines, the operator's controls, workers followed by pid.
    Tick,
    /// Ctrl-C was pressed; `presses` times so far.
    Interrupt { presses: usize },
    /// A lane that ended was collected and judged (on a thread of its own).
    Collected(Box<Collected>),
}
