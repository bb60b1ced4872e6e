//! Opening the repository the way git does: from any subdirectory, from a linked worktree, with
//! `GIT_DIR`/`GIT_WORK_TREE`, or with `--repo <path>`.

use std::path::{Path, PathBuf};

use crate::base::error::{Error, Result};

/// An opened repository with a working tree.
pub struct Repo {
    pub git: git2::Repository,
    /// Root of the working tree we were started in (a linked worktree's own root).
    pub root: PathBuf,
    /// The common git dir shared by all worktrees (runtime state lives under `<common>/lanes/`).
    pub common_dir: PathBuf,
}

impl std::fmt::Debug for Repo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repo").field("root", &self.root).finish()
    }
}

impl Repo {
    /// Open the repository at or above `start`, or from git's environment when `start` is `None`.
    pub fn open(start: Option<&Path>) -> Result<Repo> {
        let git = match start {
            Some(p) => git2::Repository::discover(p),
            None => git2::Repository::open_from_env(),
        }
        .map_err(|e| {
            let message = format!(
                "not a git repository{}: {}",
                start.map(|p| format!(" (or any parent of {})", p.display())).unwrap_or_default(),
                e.message()
            );
            // No repository there is the command's mistake; one git cannot read is git's failure.
            if e.code() == git2::ErrorCode::NotFound {
                Error::usage(message, Some("run inside a git repository, or pass `--repo <path>`".into()))
            } else {
                Error::command(message, Some("git cannot read this repository; `git status` in it says why".into()))
            }
        })?;
        Self::from_git(git)
    }

    /// Wrap an already opened repository.
    pub fn from_git(git: git2::Repository) -> Result<Repo> {
        let root = git
            .workdir()
            .ok_or_else(|| Error::state("this repository has no working tree (bare)", Some("run in a clone with a working tree".into())))?
            .to_path_buf();
        let root = root.canonicalize().unwrap_or(root);
        let common_dir = git.commondir().to_path_buf();
        let common_dir = common_dir.canonicalize().unwrap_or(common_dir);
        Ok(Repo { git, root, common_dir })
    }

    /// Re-open the same repository (git2 handles are not `Sync`; threads open their own).
    pub fn reopen(&self) -> Result<Repo> {
        let git = git2::Repository::open(&self.root).map_err(|e| Error::git(format!("could not open {}", self.root.display()), e))?;
        Self::from_git(git)
    }

    /// `<common git dir>/lanes`, where runtime state (lock, worktrees) lives.
    pub fn lanes_dir(&self) -> PathBuf {
        self.common_dir.join("lanes")
    }

    /// `<common git dir>/lanes/cache`: the summary cache of issue files (`issue_cache.rs`).
    pub fn cache_dir(&self) -> PathBuf {
        self.lanes_dir().join("cache")
    }

    /// The commit HEAD points at, if any.
    pub fn head_commit(&self) -> Option<git2::Oid> {
        self.git.head().ok().and_then(|h| h.target())
    }

    /// The branch HEAD points at (`main`), `None` when detached or unborn.
    pub fn head_branch(&self) -> Option<String> {
        let head = self.git.find_reference("HEAD").ok()?;
        let target = head.symbolic_target()?;
        target.strip_prefix("refs/heads/").map(str::to_string)
    }

    /// Tracked files with uncommitted changes in the working tree or index (untracked files are
    /// ignored: a run never touches them).
    pub fn dirty_tracked_files(&self) -> Result<Vec<String>> {
        let mut opts = git2::StatusOptions::new();
        opts.include_untracked(false).include_ignored(false).exclude_submodules(true);
        let statuses = statuses(&self.git, &mut opts).map_err(|e| Error::git("could not read the status of the working tree", e))?;
        Ok(statuses.into_iter().map(|(path, _)| path).collect())
    }
}

/// Paths the index marks skip-worktree: outside a sparse checkout's patterns (or set aside with
/// `git update-index --skip-worktree`). git ignores their files on disk — a missing one is not a
/// deletion — but libgit2's status does not know the bit.
pub fn skip_worktree_paths(repo: &git2::Repository) -> std::collections::HashSet<Vec<u8>> {
    let Ok(index) = repo.index() else { return Default::default() };
    let bit = git2::IndexEntryExtendedFlag::SKIP_WORKTREE.bits();
    index.iter().filter(|e| e.flags_extended & bit != 0).map(|e| e.path).collect()
}

/// The worktree side of a status (what the files on disk say against the index).
const WORKTREE_SIDE: git2::Status = git2::Status::WT_MODIFIED
    .union(git2::Status::WT_DELETED)
    .union(git2::Status::WT_TYPECHANGE)
    .union(git2::Status::WT_RENAMED)
    .union(git2::Status::WT_UNREADABLE);

/// libgit2's status as git reads it in a sparse checkout: every path whose status is not
/// current, with the worktree side of skip-worktree paths (see [`skip_worktree_paths`]) dropped,
/// so that a file a sparse checkout leaves out never reads as deleted. What is staged for such a
/// path still counts.
pub fn statuses(repo: &git2::Repository, opts: &mut git2::StatusOptions) -> std::result::Result<Vec<(String, git2::Status)>, git2::Error> {
    let list = repo.statuses(Some(opts))?;
    let mut skipped: Option<std::collections::HashSet<Vec<u8>>> = None;
    let mut out = Vec::new();
    for e in list.iter() {
        let mut st = e.status();
        if st.intersects(WORKTREE_SIDE) {
            let skipped = skipped.get_or_insert_with(|| skip_worktree_paths(repo));
            if !skipped.is_empty() && skipped.contains(e.path_bytes()) {
                st.remove(WORKTREE_SIDE);
            }
        }
        if st != git2::Status::CURRENT
            && let Some(p) = e.path()
        {
            out.push((p.to_string(), st));
        }
    }
    Ok(out)
}
