//! `git lanes integrate <RUN_ID>`: steps 6–8 for lane branches that ran elsewhere (a CI matrix
//! job, another machine) and were pushed with `run --no-integrate --push`.
//!
//! The lane branches are fetched from the remote, each gets a worktree here, and the normal
//! collect → integrate → finish path runs: every claimed fix is verified again on this machine
//! (a lane branch is never trusted because another machine judged it), then merged and committed.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use crate::base::error::{Error, Result};
use crate::files::issue::{Issue, Status};
use crate::files::workspace::Workspace;
use crate::git::gitcli::git;
use crate::git::repo::Repo;
use crate::git::worktree;
use crate::planning::plan::{Assigned, LanePlan};
use crate::run::context::{LaneRun, Run, RunStart, TASK_FIX};
use crate::run::events::RunEvent;
use crate::run::finish;
use crate::run::options::RunOptions;
use crate::run::state::LaneState;
use crate::run::status::LaneStatus;
use crate::run::summary::RunSummary;

/// Fetch (unless `remote` is `None`) and integrate the lane branches of `run_id`.
pub fn integrate_run(
    repo: &Repo,
    ws: Workspace,
    run_id: &str,
    remote: Option<&str>,
    opts: RunOptions,
    observer: &mut dyn FnMut(&RunEvent),
    interrupts: Arc<AtomicUsize>,
) -> Result<RunSummary> {
    crate::files::names::check_run_id(run_id).map_err(|m| Error::usage(m, None))?;
    let _lock = crate::run::lock::acquire(&repo.lanes_dir(), run_id)?;
    let prefix = format!("{}/{run_id}/", ws.config.branch_prefix);
    if let Some(remote) = remote {
        fetch_lanes(repo, run_id, remote, &prefix)?;
    }
    let tips = lane_tips(repo, &prefix)?;
    if tips.is_empty() {
        return Err(Error::state(
            format!("no lane branches `{prefix}*` found"),
            Some(format!(
                "push them from where the lanes ran (`git lanes run --lane X --no-integrate --push --run-id {run_id}`), then fetch with `--remote origin`"
            )),
        ));
    }
    let head = repo.head_commit().ok_or_else(|| Error::state("HEAD has no commit yet", None))?;
    let fork = fork_point(repo, head, &tips)?;
    let dir = repo.lanes_dir().join("runs").join(run_id);
    crate::base::fsutil::create_dir_all(&dir)?;
    let mut state = crate::run::context::begin_state(repo, run_id, &fork.to_string());
    // No worker runs here: a local remote's refs (the lane branches just fetched, its main)
    // are the starting point, not something a worker pushed.
    state.watched_refs = super::refwatch::snapshot(&repo.git, run_id, &crate::run::context::own_branches(&ws.config, run_id));
    let mut lanes = BTreeMap::new();
    let at = Here { prefix: &prefix, wt_root: &worktree::worktrees_dir(repo, &ws.config, run_id), dir: &dir };
    for (lane, tip) in &tips {
        let (ls, lr) = lane_from_elsewhere(repo, &ws, &at, lane, *tip)?;
        state.lanes.insert(lane.clone(), ls);
        lanes.insert(lane.clone(), lr);
    }
    state.base_commit = Some(head.to_string());
    let label = free_label(&ws, run_id);
    let start = RunStart { fork: fork.to_string(), label, state, lanes, ..RunStart::new(TASK_FIX, run_id, &head.to_string()) };
    let mut r = Run::new(repo, ws, opts, start, observer, interrupts);
    r.emit(RunEvent::Started { run_id: run_id.to_string(), lanes: tips.keys().cloned().collect() });
    r.save()?;
    finish::complete(&mut r, false)
}

/// Fetch the run's lane branches from `remote` into `refs/lanes/incoming/<RUN_ID>/`, and make
/// a local lane branch of each one not here yet (a branch checked out in a worktree here is
/// never moved).
fn fetch_lanes(repo: &Repo, run_id: &str, remote: &str, prefix: &str) -> Result<()> {
    let spec = format!("+refs/heads/{prefix}*:refs/lanes/incoming/{run_id}/*");
    git(&repo.root, &["fetch", "--quiet", remote, &spec])?;
    let incoming =
        repo.git.references_glob(&format!("refs/lanes/incoming/{run_id}/*")).map_err(|e| Error::git("could not list fetched lanes", e))?;
    for r in incoming.flatten() {
        let (Some(name), Some(oid)) = (r.name().map(str::to_string), r.target()) else { continue };
        let lane = name.rsplit('/').next().unwrap_or_default().to_string();
        if lane == "integration" {
            continue;
        }
        let commit = repo.git.find_commit(oid).map_err(|e| Error::git("could not read a fetched lane", e))?;
        let _ = repo.git.branch(&format!("{prefix}{lane}"), &commit, false);
    }
    Ok(())
}

/// Each lane branch `<prefix><LANE>` here and its tip (the integration branch aside).
fn lane_tips(repo: &Repo, prefix: &str) -> Result<BTreeMap<String, git2::Oid>> {
    let mut tips = BTreeMap::new();
    for b in repo.git.branches(Some(git2::BranchType::Local)).map_err(|e| Error::git("could not list branches", e))?.flatten() {
        let Some(name) = b.0.name().ok().flatten().map(str::to_string) else { continue };
        let Some(lane) = name.strip_prefix(prefix) else { continue };
        if lane == "integration" || crate::files::names::check_lane(lane).is_err() {
            continue;
        }
        if let Some(oid) = b.0.get().target() {
            tips.insert(lane.to_string(), oid);
        }
    }
    Ok(tips)
}

/// Where the lanes forked from this branch: the judge diffs from there; the integration itself
/// starts at HEAD.
fn fork_point(repo: &Repo, head: git2::Oid, tips: &BTreeMap<String, git2::Oid>) -> Result<git2::Oid> {
    let mut base = head;
    for tip in tips.values() {
        base = repo.git.merge_base(base, *tip).map_err(|e| Error::git("a lane branch shares no history with HEAD", e))?;
    }
    Ok(base)
}

/// Where the lanes of this integration live here: their branches' prefix, the worktrees'
/// folder and the run's folder.
struct Here<'a> {
    prefix: &'a str,
    wt_root: &'a std::path::Path,
    dir: &'a std::path::Path,
}

/// A lane that ran elsewhere, as a finished lane of this run: its worktree here (made when
/// missing) and the issues it claims.
fn lane_from_elsewhere(repo: &Repo, ws: &Workspace, at: &Here<'_>, lane: &str, tip: git2::Oid) -> Result<(LaneState, LaneRun)> {
    let branch = format!("{}{lane}", at.prefix);
    let path = at.wt_root.join(lane);
    if !path.exists() {
        worktree::add_existing(&repo.root, &path, &branch)?;
    }
    let issues = claimed_issues(repo, ws, lane, tip)?;
    let state = LaneState {
        status: LaneStatus::Done,
        issue_ids: issues.iter().map(|a| a.id.clone()).collect(),
        branch: Some(branch.clone()),
        worktree: Some(path.display().to_string()),
        tip: Some(tip.to_string()),
        ..LaneState::default()
    };
    let plan = LanePlan { lane: lane.to_string(), max_issues: issues.len(), issues, blocked: vec![], deferred: vec![] };
    let run = LaneRun {
        plan,
        branch,
        worktree: path,
        files: at.dir.join(lane),
        worker: "elsewhere".into(),
        duration: None,
        keep_out: Vec::new(),
        resolved_before: Vec::new(),
        fork: None,
        judged_before: None,
    };
    Ok((state, run))
}

/// The lane's claims: its issues OPEN here and RESOLVED (or otherwise changed) at its tip.
fn claimed_issues(repo: &Repo, ws: &Workspace, lane: &str, tip: git2::Oid) -> Result<Vec<Assigned>> {
    let tree = repo.git.find_commit(tip).and_then(|c| c.tree()).map_err(|e| Error::git("could not read a lane tip", e))?;
    let mut issues = Vec::new();
    for i in ws.lane_issues(lane).filter(|i| i.status() == Status::Open) {
        let Ok(entry) = tree.get_path(&i.path) else { continue };
        let Ok(blob) = repo.git.find_blob(entry.id()) else { continue };
        if let Ok(at_tip) = Issue::parse(&i.path, blob.content().to_vec())
            && at_tip.status() != Status::Open
        {
            let (complexity, reason) = crate::planning::plan::complexity(i);
            issues.push(Assigned { id: i.id().to_string(), title: i.title.clone(), complexity, reason });
        }
    }
    Ok(issues)
}

/// This integration's label: the run id, or `<RUN_ID>.2`, … when a report of that name exists.
fn free_label(ws: &Workspace, run_id: &str) -> String {
    let mut label = run_id.to_string();
    let mut n = 2;
    while ws.root.join(&ws.config.runs).join(format!("{label}.md")).exists() {
        label = format!("{run_id}.{n}");
        n += 1;
    }
    label
}
