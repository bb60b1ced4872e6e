//! Which run `--resume` continues and where it starts again (`resume_point`), and the live
//! state of a run by id.

use std::path::{Path, PathBuf};

use crate::base::error::{Error, Result};
use crate::files::workspace::Workspace;
use crate::git::repo::Repo;
use crate::run::context::TASK_FIX;
use crate::run::state::{LaneState, RunState};
use crate::run::status::{LaneStatus, RunStatus};

/// Where a resumed run or hunt starts: `(fork, base, label)`. An interrupted one goes on from its
/// fork under its own id; a finished one with lanes that failed restarts just those, on top of its
/// result, under the next free label (`<RUN_ID>.2`: no report, live folder or kept ref has it).
/// Worktree records whose folders are gone (a kill while tidying) are pruned first: git would
/// refuse to add them again, and dropping them loses nothing.
pub(crate) fn resume_point(repo: &Repo, ws: &Workspace, state: &mut RunState, run_id: &str) -> Result<(String, String, String)> {
    let _ = crate::git::worktree::prune(&repo.root);
    if !finished(state) {
        adopt_unrecorded_workers(state, run_id, &crate::git::worktree::worktrees_dir(repo, &ws.config, run_id));
    }
    clear_stale_locks(repo, ws, state, run_id);
    let fork = state.base_commit.clone().ok_or_else(|| Error::state("the run's state has no base commit", None))?;
    let mut base = fork.clone();
    let mut label = run_id.to_string();
    if finished(state) {
        state.lanes.retain(|_, l| restartable(l));
        for l in state.lanes.values_mut() {
            l.status = LaneStatus::Pending;
            l.warnings.clear();
            l.exit = None;
        }
        base = repo.head_commit().map(|o| o.to_string()).unwrap_or(base);
        state.base_commit = Some(base.clone());
        state.base_branch = repo.head_branch();
        state.integration = None;
        let taken = |l: &str| {
            ws.root.join(&ws.config.runs).join(format!("{l}.md")).exists()
                || repo.lanes_dir().join("runs").join(l).exists()
                || repo.git.find_reference(&crate::run::runs::run_ref(l)).is_ok()
        };
        let mut n = 2;
        while taken(&format!("{run_id}.{n}")) {
            n += 1;
        }
        label = format!("{run_id}.{n}");
    }
    Ok((fork, base, label))
}

/// Workers the killed orchestrator started but had not recorded yet (a kill between the spawn
/// and the state's save): adopted, so the resume follows each rather than starting a second
/// worker beside an orphan that goes on editing the same worktree. A worker is known by its run,
/// its lane and its worktree (another repository may run a run of the same id).
fn adopt_unrecorded_workers(state: &mut RunState, run_id: &str, worktrees: &Path) {
    for (lane, ls) in state.lanes.iter_mut() {
        if ls.worker_pid.is_some_and(crate::exec::process::pid_alive) || !ls.status.is_unended() {
            continue;
        }
        let worktree = ls.worktree.as_ref().map(PathBuf::from).unwrap_or_else(|| worktrees.join(lane));
        let worktree = worktree.to_string_lossy();
        let found = crate::exec::process::group_leaders_with_env(&[
            ("LANES_RUN_ID", run_id),
            ("LANES_LANE", lane),
            ("LANES_WORKTREE", worktree.as_ref()),
        ]);
        if let Some(pid) = found.into_iter().next() {
            ls.worker_pid = Some(pid);
            ls.status = LaneStatus::Running;
        }
    }
}

/// Lock files the killed orchestrator left on the run's own refs and worktrees (a lane whose
/// worker still runs aside: that worker may hold them).
fn clear_stale_locks(repo: &Repo, ws: &Workspace, state: &RunState, run_id: &str) {
    let mut refs = vec![format!("refs/lanes/backup/{run_id}"), crate::run::runs::run_ref(run_id)];
    let mut worktrees = Vec::new();
    for ls in state.lanes.values() {
        if ls.worker_pid.is_some_and(crate::exec::process::pid_alive) {
            continue;
        }
        refs.extend(ls.branch.as_ref().map(|b| format!("refs/heads/{b}")));
        worktrees.extend(ls.worktree.as_ref().map(PathBuf::from));
    }
    refs.push(format!("refs/heads/{}", crate::git::worktree::integration_branch(&ws.config, run_id)));
    worktrees.push(crate::git::worktree::integration_worktree(&crate::git::worktree::worktrees_dir(repo, &ws.config, run_id), run_id));
    let ref_dirs = [format!("refs/lanes/archive/{run_id}"), format!("refs/lanes/incoming/{run_id}")];
    crate::git::locks::clear_stale(&repo.common_dir, &refs, &ref_dirs, &worktrees);
}

fn finished(st: &RunState) -> bool {
    st.status.is_finished()
}

/// A lane of a finished run that `--resume` starts again.
fn restartable(l: &LaneState) -> bool {
    matches!(l.status, LaneStatus::Failed | LaneStatus::TimedOut | LaneStatus::Interrupted)
}

/// The newest run (fixing or hunting) that `--resume` can continue: interrupted or crashed, or
/// finished with lanes that failed or timed out.
pub fn latest_unfinished(repo: &Repo) -> Result<Option<(String, RunState)>> {
    latest_matching(repo, |_| true)
}

/// Like [`latest_unfinished`], for runs of one task (`fix_issue`, `hunt_issues`): `run --resume`
/// never continues a hunt, nor `hunt --resume` a run.
pub(crate) fn latest_resumable(repo: &Repo, task: &str) -> Result<Option<(String, RunState)>> {
    latest_matching(repo, |st| st.task.as_deref().unwrap_or(TASK_FIX) == task)
}

fn latest_matching(repo: &Repo, of_task: impl Fn(&RunState) -> bool) -> Result<Option<(String, RunState)>> {
    let runs = repo.lanes_dir().join("runs");
    for id in run_ids(repo).into_iter().rev() {
        if let Some(st) = RunState::load(Path::new("/"), &runs.join(&id).join("state.yaml"))?
            && (matches!(st.status, RunStatus::Running | RunStatus::Interrupted) || finished(&st) && st.lanes.values().any(restartable))
            && of_task(&st)
        {
            return Ok(Some((id, st)));
        }
    }
    Ok(None)
}

/// The live state of a run by id (or the newest run).
pub fn live_state(repo: &Repo, run_id: Option<&str>) -> Result<Option<(String, RunState)>> {
    let runs = repo.lanes_dir().join("runs");
    let id = match run_id {
        Some(id) => id.to_string(),
        None => match run_ids(repo).pop() {
            Some(id) => id,
            None => return Ok(None),
        },
    };
    Ok(RunState::load(Path::new("/"), &runs.join(&id).join("state.yaml"))?.map(|s| (id, s)))
}

/// Ids of the runs with a folder under `<common>/lanes/runs`, oldest first (ids sort by time).
fn run_ids(repo: &Repo) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(repo.lanes_dir().join("runs"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    ids.sort_by(|a, b| crate::files::names::natural_cmp(a, b));
    ids
}
