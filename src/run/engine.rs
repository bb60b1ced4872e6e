//! The orchestrator of `git lanes run`: [`run`] starts a run, [`resume`] continues one; each
//! drives the steps in order (see the `crate::run` module doc).

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use crate::base::error::{Error, Result};
use crate::files::catalog::Catalog;
use crate::files::workspace::Workspace;
use crate::git::repo::Repo;
use crate::planning::plan::{LanePlan, PlanOptions};
use crate::run::context::{Run, RunStart, TASK_FIX, begin_state, choose_run_id, own_branches};
use crate::run::coordinator;
use crate::run::events::RunEvent;
use crate::run::finish;
use crate::run::notify;
use crate::run::options::RunOptions;
use crate::run::preflight::{preflight, refuse_uncommitted_setup};
use crate::run::refwatch;
use crate::run::resume::{latest_resumable, resume_point};
use crate::run::state::LaneState;
use crate::run::status::{LaneStatus, RunStatus};
use crate::run::summary::RunSummary;

/// Run the main job. `observer` sees every event; `interrupts` counts Ctrl-C presses.
pub fn run(
    repo: &Repo,
    ws: Workspace,
    opts: RunOptions,
    observer: &mut dyn FnMut(&RunEvent),
    interrupts: Arc<AtomicUsize>,
) -> Result<RunSummary> {
    let run_id = choose_run_id(repo, opts.run_id.as_deref())?;
    // Before anything exists (no lock, branch, worktree or commit): lanes start from HEAD, so
    // a set-up that is not committed yet cannot be run.
    refuse_uncommitted_setup(repo, &ws)?;
    let catalog = preflight(repo, &ws, &opts)?;
    let plans =
        crate::planning::plan::plan(&ws, catalog.as_ref(), &PlanOptions { lanes: opts.lanes.clone(), max_issues: opts.max_issues })?;
    // Every worker is checked before anything exists: no lock, branch, worktree or commit is
    // made for a run whose agent CLI is not installed.
    let running: Vec<&str> = plans.iter().filter(|p| !p.is_idle()).map(|p| p.lane.as_str()).collect();
    coordinator::check_workers(&repo.root, &ws, &opts, None, &running)?;
    let _lock = crate::run::lock::acquire(&repo.lanes_dir(), &run_id)?;
    let base = repo.head_commit().ok_or_else(|| Error::state("HEAD has no commit yet", Some("commit something first".into())))?.to_string();
    let dir = crate::run::runs::live_dir(repo, &run_id);
    // A run id given twice (`--run-id`) must not remove the folder of the run that has it.
    let dir_is_new = !dir.exists();
    crate::base::fsutil::create_dir_all(&dir)?;
    let mut state = begin_state(repo, &run_id, &base);
    let mut r = Run::new(repo, ws, opts, RunStart::new(TASK_FIX, &run_id, &base), observer, interrupts);
    let active = skip_idle(&mut r, plans);
    if active.is_empty() {
        return Ok(nothing_to_do(&mut r, dir_is_new));
    }
    for p in &active {
        state.lanes.insert(
            p.lane.clone(),
            LaneState {
                status: LaneStatus::Pending,
                issue_ids: p.issues.iter().map(|a| a.id.clone()).collect(),
                // Recorded from the first save, so a resume after a kill at any moment has it.
                worker: coordinator::lane_worker(&r.ws, &r.opts, None, &p.lane).ok(),
                ..LaneState::default()
            },
        );
    }
    state.watched_refs = refwatch::snapshot(&repo.git, &run_id, &own_branches(&r.ws.config, &run_id));
    r.state = state;
    r.emit(RunEvent::Started { run_id: run_id.clone(), lanes: active.iter().map(|p| p.lane.clone()).collect() });
    r.save()?;
    let setup = coordinator::prepare_lanes(&mut r, active)?;
    crate::base::fault::point("after-prepare");
    let interrupted = coordinator::follow(&mut r, setup)?;
    let summary = finish::complete(&mut r, interrupted);
    notify::reap(&mut r);
    summary
}

/// The lanes with work; each idle one is reported as skipped (and why).
fn skip_idle(r: &mut Run<'_>, plans: Vec<LanePlan>) -> Vec<LanePlan> {
    let mut active = Vec::new();
    for p in plans {
        if p.is_idle() {
            let why = if p.blocked.is_empty() {
                "no open issues".to_string()
            } else {
                format!("{} blocked issue(s), none ready", p.blocked.len())
            };
            (r.observer)(&RunEvent::Skipped { lane: p.lane.clone(), reason: why });
            continue;
        }
        active.push(p);
    }
    active
}

/// Nothing is ready: no worktree, no commit, no report; the run leaves no trace (its folder goes
/// unless it was there before).
fn nothing_to_do(r: &mut Run<'_>, dir_is_new: bool) -> RunSummary {
    if dir_is_new {
        let _ = std::fs::remove_dir_all(&r.dir);
    }
    r.emit(RunEvent::Note("no lane has an issue ready; nothing to do".into()));
    let open = r.ws.issues.iter().filter(|i| i.status() == crate::files::issue::Status::Open).count();
    RunSummary {
        run_id: r.run_id.clone(),
        resolved: vec![],
        open,
        needs_human: vec![],
        report: None,
        commit: None,
        merge_command: None,
        interrupted: false,
        integrated: vec![],
        fast_forwarded: false,
        lanes: vec![],
        left: None,
        integration_checks: None,
    }
}

/// Continue an interrupted run from its live state.
pub fn resume(
    repo: &Repo,
    ws: Workspace,
    opts: RunOptions,
    observer: &mut dyn FnMut(&RunEvent),
    interrupts: Arc<AtomicUsize>,
) -> Result<RunSummary> {
    let (run_id, state) = latest_resumable(repo, TASK_FIX)?
        .ok_or_else(|| Error::state("there is no interrupted run to resume", Some("start one with `git lanes run`".into())))?;
    crate::git::snapshot::check_signing(&repo.git)?;
    let _lock = crate::run::lock::acquire(&repo.lanes_dir(), &run_id)?;
    let catalog = match crate::base::fsutil::read_optional_capped(&ws.root.join(&ws.config.catalog), crate::files::text::MAX_FILE_BYTES)? {
        Some(b) => Some(Catalog::parse(&ws.config.catalog, b)?),
        None => None,
    };
    let mut state = state;
    let (fork, base, label) = resume_point(repo, &ws, &mut state, &run_id)?;
    let plans = crate::planning::plan::plan(
        &ws,
        catalog.as_ref(),
        &PlanOptions { lanes: state.lanes.keys().cloned().collect(), max_issues: opts.max_issues },
    )?;
    let start = RunStart { fork, label, state, ..RunStart::new(TASK_FIX, &run_id, &base) };
    let mut r = Run::new(repo, ws, opts, start, observer, interrupts);
    r.state.status = RunStatus::Running;
    r.state.orchestrator_pid = Some(std::process::id());
    // What moved while no run watched is not a worker's doing (the user's own work since).
    r.state.watched_refs = refwatch::snapshot(&repo.git, &run_id, &own_branches(&r.ws.config, &run_id));
    r.emit(RunEvent::Note(format!("resuming run {run_id}")));
    if r.state.finishing.is_some() {
        // The run commit exists: no lane is prepared, judged or committed again.
        return finish::resume_finishing(&mut r);
    }
    // Keep each lane's original assignment: the plan is recomputed only for its shape.
    let mut active = Vec::new();
    for mut p in plans {
        let Some(ls) = r.state.lanes.get(&p.lane) else { continue };
        p.issues.retain(|a| ls.issue_ids.contains(&a.id));
        for id in &ls.issue_ids {
            if !p.issues.iter().any(|a| &a.id == id)
                && let Some(issue) = r.ws.issue(id)
            {
                let (complexity, reason) = crate::planning::plan::complexity(issue);
                p.issues.push(crate::planning::plan::Assigned { id: id.clone(), title: issue.title.clone(), complexity, reason });
            }
        }
        active.push(p);
    }
    let lanes: Vec<&str> = active.iter().map(|p| p.lane.as_str()).collect();
    coordinator::check_workers(&r.repo.root, &r.ws, &r.opts, Some(&r.state), &lanes)?;
    let setup = coordinator::prepare_lanes(&mut r, active)?;
    let interrupted = coordinator::follow(&mut r, setup)?;
    let summary = finish::complete(&mut r, interrupted);
    notify::reap(&mut r);
    summary
}
