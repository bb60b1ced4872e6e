//! `clean`: what finished runs left behind — lane worktrees and branches, and the pool of
//! worktrees kept for the next run — and how to remove it without losing anything: every tip is
//! archived under `refs/lanes/archive/<RUN_ID>/<LANE>` first, unmerged work stays unless forced,
//! a dirty lane worktree is committed (forced) or kept, and a dirty pooled worktree is kept.

use std::path::PathBuf;

use crate::base::error::Result;
use crate::files::config::Config;
use crate::git::repo::Repo;
use crate::git::worktree;

/// One cleaning step.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Action {
    pub run_id: String,
    pub lane: String,
    pub branch: String,
    pub worktree: Option<PathBuf>,
    pub merged: bool,
    /// `remove`, `keep` (with a reason).
    pub action: String,
    pub reason: String,
    /// A worktree of the pool (`worktree` set; no run, lane or branch).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub pooled: bool,
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe(&self.action))
    }
}

impl Action {
    /// The action as one line led by `verb` (`remove`, `would remove`, `removed`, …).
    pub fn describe(&self, verb: &str) -> String {
        if self.pooled {
            let path = self.worktree.as_ref().map(|w| w.display().to_string()).unwrap_or_default();
            return format!("{verb} pooled worktree {path}: {}", self.reason);
        }
        format!(
            "{verb} `{}`{}: {}",
            self.branch,
            self.worktree.as_ref().map(|w| format!(" and {}", w.display())).unwrap_or_default(),
            self.reason
        )
    }

    /// The verb for what was done: `removed` or `kept`.
    pub fn done_verb(&self) -> &'static str {
        if self.action == "remove" { "removed" } else { "kept" }
    }
}

/// Lane branches `<prefix>/<RUN_ID>/<LANE>` of runs that are not in progress.
pub fn plan(repo: &Repo, config: &Config, force: bool) -> Result<Vec<Action>> {
    let running = crate::run::lock::holder(&repo.lanes_dir())
        .and_then(|_| crate::run::resume::latest_unfinished(repo).ok().flatten())
        .map(|(id, _)| id);
    let head = repo.head_commit();
    let prefix = format!("{}/", config.branch_prefix);
    let mut out = Vec::new();
    let branches =
        repo.git.branches(Some(git2::BranchType::Local)).map_err(|e| crate::base::error::Error::git("could not list branches", e))?;
    for b in branches.flatten() {
        let (branch, _) = b;
        let Some(name) = branch.name().ok().flatten().map(str::to_string) else { continue };
        let Some(rest) = name.strip_prefix(&prefix) else { continue };
        let Some((run_id, lane)) = rest.split_once('/') else { continue };
        if running.as_deref() == Some(run_id) {
            continue;
        }
        let Some(tip) = branch.get().target() else { continue };
        let merged = head.is_some_and(|h| worktree::is_merged(repo, tip, h));
        let wt = worktree::worktrees_dir(repo, config, run_id).join(lane);
        // A lane branch may also be checked out elsewhere (a worktree the user added by hand, or
        // the worktree we run in); git refuses to delete a branch that is checked out.
        let wt = if wt.exists() { Some(wt) } else { checked_out_in(repo, &name) };
        if wt.as_deref().is_some_and(|w| same_dir(w, &repo.root)) {
            out.push(Action {
                run_id: run_id.to_string(),
                lane: lane.to_string(),
                branch: name.clone(),
                worktree: None,
                merged,
                action: "keep".into(),
                reason: format!("it is checked out here, in {} (`git switch` to another branch first)", repo.root.display()),
                pooled: false,
            });
            continue;
        }
        let dirty = wt.as_ref().is_some_and(|w| worktree::is_dirty(w).unwrap_or(true));
        let (action, reason) = match (merged, dirty, force) {
            (true, false, _) => ("remove", "merged into HEAD; tip archived".to_string()),
            (_, true, false) => {
                ("keep", "the worktree holds uncommitted changes (use --force to commit them on the branch and remove it)".to_string())
            }
            (false, false, false) => ("keep", "not merged into HEAD (use --force to remove it; its tip stays archived)".to_string()),
            (_, true, true) => ("remove", "uncommitted changes are committed on the branch first; tip archived".to_string()),
            (false, false, true) => ("remove", "not merged, removed by --force; tip archived".to_string()),
        };
        out.push(Action {
            run_id: run_id.to_string(),
            lane: lane.to_string(),
            branch: name.clone(),
            worktree: wt,
            merged,
            action: action.into(),
            reason,
            pooled: false,
        });
    }
    // The pool is left alone while a run may be taking worktrees from it.
    if running.is_none() {
        out.extend(pool_actions(repo));
    }
    Ok(out)
}

/// Each pooled worktree: removed when clean (it holds no work, only what git can check out
/// again and ignored build output), kept — even with `--force` — when it holds anything, since
/// it has no branch to commit that on.
fn pool_actions(repo: &Repo) -> Vec<Action> {
    crate::git::pool::list(repo)
        .into_iter()
        .map(|entry| {
            let path = entry.pooled().path.clone();
            let astray = match &entry {
                crate::git::pool::Entry::Astray { why, .. } => format!(" ({why})"),
                crate::git::pool::Entry::Parked(_) => String::new(),
            };
            let (action, reason) = match worktree::is_dirty(&path) {
                Ok(false) => ("remove", format!("it holds no work, only what a checkout and a build make again{astray}")),
                Ok(true) => (
                    "keep",
                    format!(
                        "it holds uncommitted changes or untracked files{astray}; it is never reused — keep what you need, then `git worktree remove --force {}`",
                        path.display()
                    ),
                ),
                Err(e) => ("keep", format!("its status could not be read ({e})")),
            };
            Action {
                run_id: String::new(),
                lane: String::new(),
                branch: String::new(),
                worktree: Some(path),
                merged: false,
                action: action.into(),
                reason,
                pooled: true,
            }
        })
        .collect()
}

/// The worktree (linked or main) that has `branch` checked out, if any.
fn checked_out_in(repo: &Repo, branch: &str) -> Option<PathBuf> {
    let full = format!("refs/heads/{branch}");
    let head_of = |path: &std::path::Path| {
        git2::Repository::open(path).ok().and_then(|r| r.find_reference("HEAD").ok().and_then(|h| h.symbolic_target().map(str::to_string)))
    };
    if repo.head_branch().as_deref() == Some(branch) {
        return Some(repo.root.clone());
    }
    let names = repo.git.worktrees().ok()?;
    names.iter().flatten().find_map(|n| {
        let wt = repo.git.find_worktree(n).ok()?;
        let path = wt.path().to_path_buf();
        (head_of(&path).as_deref() == Some(full.as_str())).then_some(path)
    })
}

fn same_dir(a: &std::path::Path, b: &std::path::Path) -> bool {
    a.canonicalize().ok().zip(b.canonicalize().ok()).is_some_and(|(x, y)| x == y)
}

/// Apply the `remove` actions.
pub fn apply(repo: &Repo, config: &Config, actions: &[Action]) -> Result<()> {
    for a in actions.iter().filter(|a| a.action == "remove" && a.pooled) {
        // `remove` checks again that it is clean: it may have been worked in since the plan.
        if let Some(w) = &a.worktree {
            worktree::remove(&repo.root, w)?;
        }
    }
    for a in actions.iter().filter(|a| a.action == "remove" && !a.pooled) {
        if let Some(w) = &a.worktree {
            crate::git::confine::adopt(&repo.common_dir, w, &a.branch)?;
        }
        if let Some(w) = &a.worktree
            && worktree::is_dirty(w)?
        {
            let excludes = crate::run::context::keep_out(config, &[]);
            worktree::commit_leftovers(
                w,
                &format!("lanes: clean: uncommitted work left in lane {} of run {}", a.lane, a.run_id),
                &excludes,
            )?;
        }
        let tip = match &a.worktree {
            Some(w) => worktree::head(w)?,
            None => repo
                .git
                .find_branch(&a.branch, git2::BranchType::Local)
                .ok()
                .and_then(|b| b.get().target())
                .map(|o| o.to_string())
                .unwrap_or_default(),
        };
        if !tip.is_empty() {
            worktree::archive(repo, &a.run_id, &a.lane, &tip)?;
        }
        if let Some(w) = &a.worktree
            && !worktree::remove(&repo.root, w)?
        {
            continue;
        }
        worktree::delete_branch(repo, &a.branch)?;
    }
    let _ = worktree::prune(&repo.root);
    Ok(())
}
