//! Step 7: bring finished lanes together.
//!
//! # Design note: the integration order
//! Policy `merge` (default): every pair of finished lanes is first merged **in memory** (git2,
//! no checkout) to learn which lanes conflict, for the report. Then the lanes are merged one by
//! one, in lane order, into `lanes/<RUN_ID>/integration` in its own worktree; after each merge
//! the checks of every issue resolved so far (this lane's included) run again in that worktree
//! (optimistically first: all lanes merged, all checks run once; only when something fails is the
//! lane-by-lane pass made, so the culprit is found).
//! A lane that conflicts, or whose merge makes any of those checks fail, is backed out (the
//! integration branch is reset to before its merge), its branch is kept, the reason is recorded,
//! and the others go on. Only lanes that resolved at least one issue are merged: a lane whose
//! every fix was rejected keeps its branch for a human. Policy `squash` is the same with one
//! squashed commit per lane.

use std::path::{Path, PathBuf};

use crate::config::IntegrationPolicy;
use crate::error::{Error, Result};
use crate::gitcli::git;
use crate::issue::Issue;
use crate::repo::Repo;
use crate::verify::{self, VerifyOptions};
use crate::workspace::Workspace;
use crate::worktree;

/// A lane offered for integration.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub lane: String,
    pub branch: String,
    pub tip: String,
    /// Issues this lane resolved (on its branch).
    pub resolved: Vec<String>,
}

/// What integration did.
#[derive(Debug, Clone, Default)]
pub struct Integrated {
    pub branch: String,
    pub worktree: PathBuf,
    pub merged: Vec<String>,
    /// `(lane, reason)`.
    pub backed_out: Vec<(String, String)>,
    /// Pairs of lanes whose in-memory merge conflicts.
    pub conflicting_pairs: Vec<(String, String)>,
    /// Issues resolved by merged lanes.
    pub resolved: Vec<String>,
}

/// Which pairs of lane tips conflict when merged in memory.
pub fn conflicting_pairs(repo: &Repo, lanes: &[Candidate]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let commits: Vec<Option<git2::Commit<'_>>> =
        lanes.iter().map(|c| git2::Oid::from_str(&c.tip).ok().and_then(|o| repo.git.find_commit(o).ok())).collect();
    for i in 0..lanes.len() {
        for j in i + 1..lanes.len() {
            let (Some(a), Some(b)) = (&commits[i], &commits[j]) else { continue };
            if let Ok(index) = repo.git.merge_commits(a, b, None)
                && index.has_conflicts()
            {
                out.push((lanes[i].lane.clone(), lanes[j].lane.clone()));
            }
        }
    }
    out
}

/// Merge `lanes` (in order) into a fresh integration branch at `base`, re-checking as it goes.
#[allow(clippy::too_many_arguments)] // one call site; a struct would only rename the arguments
pub fn integrate(
    repo: &Repo,
    ws: &Workspace,
    run_id: &str,
    base: &str,
    wt_root: &Path,
    lanes: &[Candidate],
    policy: IntegrationPolicy,
    on_step: &mut dyn FnMut(&str, Option<&str>),
) -> Result<Integrated> {
    let branch = format!("{}/{run_id}/integration", ws.config.branch_prefix);
    let path = wt_root.join(format!("integration-{run_id}"));
    if !path.exists() {
        if repo.git.find_branch(&branch, git2::BranchType::Local).is_ok() {
            worktree::add_existing(&repo.root, &path, &branch)?;
        } else {
            worktree::add(&repo.root, &path, &branch, base)?;
        }
    }
    let mut out = Integrated {
        branch: branch.clone(),
        worktree: path.clone(),
        conflicting_pairs: conflicting_pairs(repo, lanes),
        ..Integrated::default()
    };
    let opts = VerifyOptions::from_config(&ws.config, false);
    let jobs = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    let failing_checks = |ids: &[String]| -> Result<Vec<String>> {
        let issues: Vec<&Issue> = ids.iter().filter_map(|id| ws.issue(id)).collect();
        // What the checks write never reaches the integration commit.
        let droppings = crate::snapshot::Droppings::before(&path)?;
        let failing = verify::verify_many(&issues, &path, &opts, jobs)
            .into_iter()
            .filter(|v| v.outcome != verify::Outcome::Passed)
            .map(|v| v.id)
            .collect::<Vec<String>>();
        droppings.restore(&path, true)?;
        Ok(failing)
    };
    let offered: Vec<&Candidate> = lanes.iter().filter(|c| !c.resolved.is_empty()).collect();
    let start = worktree::head(&path)?;

    // Pass 1, optimistic: merge every lane (a conflicting one is backed out at once), then run
    // the checks of everything once. When they all pass, that is the result — the common case,
    // and it costs one round of checks instead of one per lane.
    let mut merged: Vec<&Candidate> = Vec::new();
    let mut conflicts: Vec<(String, String)> = Vec::new();
    for c in &offered {
        match merge_lane(&path, c, policy, run_id, &out.conflicting_pairs)? {
            None => merged.push(c),
            Some(reason) => conflicts.push((c.lane.clone(), reason)),
        }
    }
    let all: Vec<String> = merged.iter().flat_map(|c| c.resolved.iter().cloned()).collect();
    if failing_checks(&all)?.is_empty() {
        for c in &offered {
            match conflicts.iter().find(|(l, _)| l == &c.lane) {
                Some((lane, reason)) => {
                    on_step(lane, Some(reason));
                    out.backed_out.push((lane.clone(), reason.clone()));
                }
                None => on_step(&c.lane, None),
            }
        }
        out.merged = merged.iter().map(|c| c.lane.clone()).collect();
        out.resolved = all;
        return Ok(out);
    }

    // Pass 2: some merge broke a check. Start again, lane by lane, re-checking everything
    // resolved so far after each merge, so the lane that breaks something is the one backed out.
    git(&path, &["reset", "--hard", "--quiet", &start])?;
    for c in offered {
        let before = worktree::head(&path)?;
        if let Some(reason) = merge_lane(&path, c, policy, run_id, &out.conflicting_pairs)? {
            on_step(&c.lane, Some(&reason));
            out.backed_out.push((c.lane.clone(), reason));
            continue;
        }
        let mut ids: Vec<String> = out.resolved.clone();
        ids.extend(c.resolved.iter().cloned());
        let failing = failing_checks(&ids)?;
        if !failing.is_empty() {
            git(&path, &["reset", "--hard", "--quiet", &before])?;
            let own: Vec<&String> = failing.iter().filter(|f| c.resolved.contains(f)).collect();
            let others: Vec<&String> = failing.iter().filter(|f| !c.resolved.contains(f)).collect();
            let reason = if !others.is_empty() {
                format!("its merge breaks the checks of {}", others.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "))
            } else {
                format!(
                    "its own checks fail once merged with the others ({})",
                    own.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                )
            };
            on_step(&c.lane, Some(&reason));
            out.backed_out.push((c.lane.clone(), reason));
            continue;
        }
        on_step(&c.lane, None);
        out.merged.push(c.lane.clone());
        out.resolved.extend(c.resolved.iter().cloned());
    }
    Ok(out)
}

/// Merge one lane into the integration worktree at `path`; `Some(reason)` when it could not be
/// merged (the merge is aborted and the worktree is back where it was).
fn merge_lane(path: &Path, c: &Candidate, policy: IntegrationPolicy, run_id: &str, pairs: &[(String, String)]) -> Result<Option<String>> {
    let before = worktree::head(path)?;
    let merged = match policy {
        IntegrationPolicy::Squash => git(path, &["merge", "--squash", &c.branch])
            .and_then(|_| worktree::commit(path, &format!("lanes: run {run_id}: lane {} (squashed): {}", c.lane, c.resolved.join(", ")))),
        _ => git(path, &["merge", "--no-ff", "--no-edit", "-m", &format!("lanes: run {run_id}: merge lane {}", c.lane), &c.branch])
            .map(|_| ()),
    };
    let Err(e) = merged else { return Ok(None) };
    let _ = git(path, &["merge", "--abort"]);
    git(path, &["reset", "--hard", "--quiet", &before])?;
    let with: Vec<&str> = pairs
        .iter()
        .filter_map(|(a, b)| {
            if a == &c.lane {
                Some(b.as_str())
            } else if b == &c.lane {
                Some(a.as_str())
            } else {
                None
            }
        })
        .collect();
    Ok(Some(if with.is_empty() {
        format!("merge failed: {}", first_line(&e.to_string()))
    } else {
        format!("conflicts with lane {}", with.join(", "))
    }))
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or(s).to_string()
}

/// Fast-forward the user's branch to `target` — only if HEAD is still `base` on `branch`. A
/// recovery ref `refs/lanes/backup/<RUN_ID>` keeps the old tip. Returns `Ok(None)` once moved
/// (or when it already is at `target`), `Ok(Some(why))` — and moves nothing — when HEAD is
/// detached, is on another branch, moved, or git refuses (it never overwrites uncommitted changes
/// or untracked files); `why` says which.
pub fn fast_forward(repo: &Repo, run_id: &str, base: &str, branch: Option<&str>, target: &str) -> Result<Option<String>> {
    let fresh = repo.reopen()?;
    let head = fresh.head_commit().map(|o| o.to_string());
    if head.as_deref() == Some(target) {
        return Ok(None);
    }
    let Some(branch) = branch else {
        return Ok(Some("the run started on a detached HEAD, so there is no branch to fast-forward".into()));
    };
    match fresh.head_branch() {
        None => return Ok(Some(format!("HEAD is detached now (the run started on `{branch}`)"))),
        Some(now) if now != branch => return Ok(Some(format!("HEAD is on `{now}` now, not on `{branch}` where the run started"))),
        Some(_) => {}
    }
    if head.as_deref() != Some(base) {
        return Ok(Some(format!("your branch `{branch}` moved during the run")));
    }
    let oid = git2::Oid::from_str(base).map_err(|e| Error::git("bad base commit", e))?;
    fresh
        .git
        .reference(&format!("refs/lanes/backup/{run_id}"), oid, true, "git-lanes: the branch tip before the run moved it")
        .map_err(|e| Error::git("could not write the recovery ref", e))?;
    Ok(match git(&repo.root, &["merge", "--ff-only", "--quiet", target]) {
        Ok(_) => None,
        Err(e) => {
            let text = e.to_string();
            let files: Vec<&str> = text.lines().filter(|l| l.starts_with('\t')).map(str::trim).collect();
            if text.contains("untracked working tree files would be overwritten") {
                Some(format!("untracked files in the main worktree are in the way of files the run adds: {}", files.join(", ")))
            } else if text.contains("would be overwritten") {
                Some(format!("uncommitted changes in the main worktree are in the way: {}", files.join(", ")))
            } else {
                Some(format!("git refused the fast-forward: {}", text.lines().next().unwrap_or("")))
            }
        }
    })
}
