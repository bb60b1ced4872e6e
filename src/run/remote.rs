//! `git lanes integrate <RUN_ID>`: steps 6–8 for lane branches that ran elsewhere (a CI matrix
//! job, another machine) and were pushed with `run --no-integrate --push`.
//!
//! The lane branches are fetched from the remote, each gets a worktree here, and the normal
//! collect → integrate → finish path runs: every claimed fix is verified again on this machine
//! (a lane branch is never trusted because another machine judged it), then merged and committed.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use super::{LaneRun, Run, RunEvent, RunOptions, RunSummary, finish};
use crate::base::error::{Error, Result};
use crate::files::issue::{Issue, Status};
use crate::files::workspace::Workspace;
use crate::git::gitcli::git;
use crate::git::repo::Repo;
use crate::git::worktree;
use crate::planning::plan::{Assigned, LanePlan};
use crate::run::state::LaneState;

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
        let spec = format!("+refs/heads/{prefix}*:refs/lanes/incoming/{run_id}/*");
        git(&repo.root, &["fetch", "--quiet", remote, &spec])?;
        for r in repo
            .git
            .references_glob(&format!("refs/lanes/incoming/{run_id}/*"))
            .map_err(|e| Error::git("could not list fetched lanes", e))?
            .flatten()
        {
            let (Some(name), Some(oid)) = (r.name().map(str::to_string), r.target()) else { continue };
            let lane = name.rsplit('/').next().unwrap_or_default().to_string();
            if lane == "integration" {
                continue;
            }
            let commit = repo.git.find_commit(oid).map_err(|e| Error::git("could not read a fetched lane", e))?;
            // Never move a branch that is checked out in a worktree here.
            let _ = repo.git.branch(&format!("{prefix}{lane}"), &commit, false);
        }
    }
    let mut tips: BTreeMap<String, git2::Oid> = BTreeMap::new();
    for b in repo.git.branches(Some(git2::BranchType::Local)).map_err(|e| Error::git("could not list branches", e))?.flatten() {
        let Some(name) = b.0.name().ok().flatten().map(str::to_string) else { continue };
        let Some(lane) = name.strip_prefix(&prefix) else { continue };
        if lane == "integration" || crate::files::names::check_lane(lane).is_err() {
            continue;
        }
        if let Some(oid) = b.0.get().target() {
            tips.insert(lane.to_string(), oid);
        }
    }
    if tips.is_empty() {
        return Err(Error::usage(
            format!("no lane branches `{prefix}*` found"),
            Some(format!(
                "push them from where the lanes ran (`git lanes run --lane X --no-integrate --push --run-id {run_id}`), then fetch with `--remote origin`"
            )),
        ));
    }
    let head = repo.head_commit().ok_or_else(|| Error::usage("HEAD has no commit yet", None))?;
    // Where the lanes forked from this branch (the judge diffs from there); the integration
    // itself starts at HEAD.
    let mut base = head;
    for tip in tips.values() {
        base = repo.git.merge_base(base, *tip).map_err(|e| Error::git("a lane branch shares no history with HEAD", e))?;
    }
    let dir = repo.lanes_dir().join("runs").join(run_id);
    crate::base::fsutil::create_dir_all(&dir)?;
    let wt_root = worktree::worktrees_dir(repo, &ws.config, run_id);
    let mut state = super::begin_state(repo, run_id, &base.to_string());
    let mut lanes = BTreeMap::new();
    for (lane, tip) in &tips {
        let branch = format!("{prefix}{lane}");
        let path = wt_root.join(lane);
        if !path.exists() {
            worktree::add_existing(&repo.root, &path, &branch)?;
        }
        // The lane's claims: issues OPEN at the base and RESOLVED (or changed) at its tip.
        let tree = repo.git.find_commit(*tip).and_then(|c| c.tree()).map_err(|e| Error::git("could not read a lane tip", e))?;
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
        state.lanes.insert(
            lane.clone(),
            LaneState {
                status: "done".into(),
                issue_ids: issues.iter().map(|a| a.id.clone()).collect(),
                branch: Some(branch.clone()),
                worktree: Some(path.display().to_string()),
                tip: Some(tip.to_string()),
                ..LaneState::default()
            },
        );
        let plan = LanePlan { lane: lane.clone(), max_issues: issues.len(), issues, blocked: vec![], deferred: vec![] };
        lanes.insert(
            lane.clone(),
            LaneRun {
                plan,
                branch,
                worktree: path,
                files: dir.join(lane),
                worker: "elsewhere".into(),
                duration: None,
                keep_out: Vec::new(),
            },
        );
    }
    let fork = base.to_string();
    let base = head.to_string();
    let mut label = run_id.to_string();
    let mut n = 2;
    while ws.root.join(&ws.config.runs).join(format!("{label}.md")).exists() {
        label = format!("{run_id}.{n}");
        n += 1;
    }
    state.base_commit = Some(base.clone());
    let mut r = Run {
        repo,
        ws,
        opts,
        run_id: run_id.to_string(),
        base,
        fork,
        label,
        dir,
        state,
        lanes,
        observer,
        interrupts,
        task: super::TASK_FIX,
        work_orders: BTreeMap::new(),
    };
    r.emit(RunEvent::Started { run_id: run_id.to_string(), lanes: tips.keys().cloned().collect() });
    r.save()?;
    finish::complete(&mut r, false)
}
