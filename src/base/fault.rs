//! Fault points for the fault suite: `LANES_FAULT=<point>[,<point>…]` makes git-lanes abort at
//! that phase boundary, as a `kill -9` there would. Nothing else reads the variable.

/// A fault point for the fault suite (`tests/it/faults.rs`): when `LANES_FAULT` names `name`
/// (comma-separated list), the process aborts right here — no destructor, no lock release, no
/// state save — as a `kill -9` at that phase boundary would. Points: `after-spawn` (a worker
/// started, not yet recorded), `after-prepare`,
/// `mid-judge` (a lane's checks ran and its judgement is written, not yet committed),
/// `after-collect`, `mid-bisect` (an integration check's bisection has a candidate's files in the
/// integration worktree, its branch still at the full result), `after-integrate`, `before-journal` (the run commit exists, the journal does
/// not say so yet), `after-commit`, `after-ff`, `mid-pool` (a worktree marked as pooled, not
/// moved into the pool yet), `mid-remove` (worktree folders pooled or deleted, records not yet
/// pruned), `mid-tidy`, `after-tidy`; and during set-up `mid-take` (a pooled worktree moved to
/// its lane's path, its branch not created yet).
pub fn point(name: &str) {
    if std::env::var("LANES_FAULT").is_ok_and(|v| v.split(',').any(|p| p.trim() == name)) {
        std::process::abort();
    }
}
