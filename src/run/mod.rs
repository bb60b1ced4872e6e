//! `git lanes run`: the main job (docs/design.md#the-run-algorithm). Start reading at [`run`] (in `engine.rs`).
//!
//! # Design note: the order of a run
//! 1. **Preflight** (`preflight`): lock, refuse a dirty main worktree, validate everything —
//!    bad input stops the run before anything exists.
//! 2. **Plan**: one work order per lane; idle lanes are reported and skipped.
//! 3. **Worktrees**: one branch + worktree per lane, created one at a time.
//! 4. **Workers and follow** (`coordinator.rs`, steps 4–5): one coordinator owns lane state;
//!    signal-file events, worker exits, timers and Ctrl-C are inputs to it; every lane ends done,
//!    failed or timed out.
//! 6. **Collect and judge** (`collect.rs`): leftovers committed; checks run; verdicts decide.
//! 7. **Integrate** (`integrate.rs`): lane by lane into an integration branch, re-checking.
//! 8. **Finish**: catalog, report and state committed; the user's branch fast-forwarded only if
//!    HEAD did not move; archive refs before anything is removed.
//!
//! The live state is kept in `<common git dir>/lanes/runs/<RUN_ID>/state.yaml` (rewritten at every
//! change, seen from every worktree, never a tracked file, so it cannot block the final
//! fast-forward); the LogBook's `orchestrator-state.yaml` gets the final state in the run commit.

mod attempts;
pub mod clean;
mod collect;
mod collected;
mod context;
mod coordinator;
mod engine;
pub mod events;
mod finish;
pub mod follow;
pub mod hunt;
pub mod integrate;
pub mod lock;
pub mod notify;
pub mod options;
mod preflight;
mod refwatch;
mod remote;
pub mod report;
mod resume;
pub mod runs;
pub mod settings;
pub mod state;
pub mod status;
pub mod summary;
pub mod timeline;

pub use context::{TASK_FIX, TASK_HUNT, keep_out};
pub use engine::{resume, run};
pub use events::RunEvent;
pub use hunt::{HuntOptions, HuntSummary, hunt, hunt_resume};
pub use options::{CONTROL_FILE, LaneControl, LaneControls, RunOptions, request_control};
pub use preflight::uncommitted_setup;
pub use remote::integrate_run;
pub use resume::{latest_unfinished, live_state};
pub use summary::{LaneOutcome, LeftBranches, RunSummary};
