//! The pool of reused lane worktrees (docs/design.md#reused-worktrees-the-pool): a finished run's clean worktrees are parked on a
//! detached HEAD under `<worktrees folder>/.pool/<n>` instead of being deleted, and the next run
//! re-points one to its base (moved as `git worktree move` would, then `git checkout -b`, which
//! writes only the files that differ) instead of `git worktree add` writing every file again.
//! Parking is done in this process (libgit2's status, HEAD detached by git2, the folder renamed):
//! four `git` processes per lane at the end of every run cost more than the work.
//!
//! A pooled worktree is one git has registered whose private folder (`<common git
//! dir>/worktrees/<name>/`) holds [`POOL_MARKER`], naming the path the pool parked it at. Only
//! such a worktree — still at that path, on a detached HEAD, not locked, and clean: no change to a
//! tracked file, no untracked file that is not ignored — is ever reused. Anything else marked as
//! pooled is never reused: removed when it holds nothing, left where it is (and said) when it
//! does. A worktree without the marker (the user's own) is never touched.
//!
//! Ignored files stay in a pooled worktree: they are what `setup:` commands and builds made
//! (`node_modules/`, `target/`), which is why reuse pays, and an ignored file never reaches a
//! commit (collection leaves ignored files out). The run's own signal files are dropped when a
//! worktree is pooled: they belong to the run that wrote them.

use std::path::{Path, PathBuf};

use crate::base::error::Result;
use crate::files::config::Config;
use crate::files::signal::SignalFile;
use crate::git::gitcli::git;
use crate::git::repo::Repo;
use crate::git::worktree::{self, NewWorktree, POOL_MARKER, Pooled, READY_MARKER, current_path, points_back, same_path};

/// The pool's folder: `<worktrees folder>/.pool` (`.git/lanes/worktrees/.pool` by default).
pub fn pool_dir(repo: &Repo, config: &Config) -> PathBuf {
    worktree::worktrees_base(repo, config).join(".pool")
}

/// A worktree marked as pooled.
#[derive(Debug, Clone)]
pub enum PooledWorktree {
    /// At its pooled path, on a detached HEAD, not locked: reusable once its status is clean.
    Parked(Pooled),
    /// Marked as pooled but not as the pool left it (moved, on a branch, locked): never reused.
    Astray { pooled: Pooled, why: String },
}

impl PooledWorktree {
    pub fn pooled(&self) -> &Pooled {
        match self {
            PooledWorktree::Parked(p) | PooledWorktree::Astray { pooled: p, .. } => p,
        }
    }
}

/// Every worktree marked as pooled whose folder exists, in path order. (A marked record whose
/// folder is gone is `prunable`; `git worktree prune` drops it.)
pub fn list(repo: &Repo) -> Vec<PooledWorktree> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir(repo.common_dir.join("worktrees")) else { return out };
    for admin in dir.flatten().map(|e| e.path()) {
        let Ok(marked) = std::fs::read_to_string(admin.join(POOL_MARKER)) else { continue };
        let Some(path) = current_path(&admin, marked.trim()) else { continue };
        let why = if !same_path(&path, Path::new(marked.trim())) {
            Some(format!("it is at {}, not where the pool put it ({})", path.display(), marked.trim()))
        } else if admin.join("locked").exists() {
            Some("it is locked (`git worktree unlock`)".to_string())
        } else if !points_back(&path, &admin) {
            Some("its `.git` file points to another repository folder".to_string())
        } else if !is_detached(&admin) {
            Some("its HEAD is on a branch, not detached".to_string())
        } else if admin.join("index.lock").exists() {
            Some("its index is locked (a git command runs there, or died there)".to_string())
        } else if sparse_setup(&admin) != sparse_setup(repo.git.path()) {
            Some("its sparse-checkout set-up is not the one of the worktree the run starts from".to_string())
        } else {
            None
        };
        let pooled = Pooled { path, admin };
        out.push(match why {
            None => PooledWorktree::Parked(pooled),
            Some(why) => PooledWorktree::Astray { pooled, why },
        });
    }
    out.sort_by(|a, b| a.pooled().path.cmp(&b.pooled().path));
    out
}

/// Folders in the pool's folder that are no pooled worktree (a run killed in the middle of
/// `git worktree move`, or something the user put there): never reused, never removed.
pub fn strays(repo: &Repo, config: &Config) -> Vec<PathBuf> {
    let pooled: Vec<PathBuf> = list(repo).iter().map(|e| e.pooled().path.clone()).collect();
    let Ok(dir) = std::fs::read_dir(pool_dir(repo, config)) else { return Vec::new() };
    let mut out: Vec<PathBuf> = dir.flatten().map(|e| e.path()).filter(|p| !pooled.iter().any(|q| same_path(p, q))).collect();
    out.sort();
    out
}

/// A worktree's sparse-checkout set-up, from its private git folder: `core.sparseCheckout` and
/// `core.sparseCheckoutCone` of its own `config.worktree`, and its patterns. A new lane worktree
/// gets the set-up of the worktree it is added from (`git worktree add` copies it); a pooled one
/// is reused only when its own is the same, so every lane sees the files the user's does.
fn sparse_setup(git_dir: &Path) -> (Option<bool>, Option<bool>, Option<Vec<u8>>) {
    let cfg = git2::Config::open(&git_dir.join("config.worktree")).ok().filter(|_| git_dir.join("config.worktree").is_file());
    let flag = |key: &str| cfg.as_ref().and_then(|c| c.get_bool(key).ok());
    let patterns = std::fs::read(git_dir.join("info").join("sparse-checkout")).ok();
    (flag("core.sparseCheckout"), flag("core.sparseCheckoutCone"), patterns)
}

/// Whether a worktree's HEAD is a commit id (detached), not a branch.
fn is_detached(admin: &Path) -> bool {
    std::fs::read_to_string(admin.join("HEAD")).is_ok_and(|h| !h.starts_with("ref:") && git2::Oid::from_str(h.trim()).is_ok())
}

/// `f` over `items` on as many threads as there are cores, results in order.
fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).min(items.len()).max(1);
    let mut out: Vec<(usize, R)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let k = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        let Some(item) = items.get(k) else { break };
                        mine.push((k, f(item)));
                    }
                    mine
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    });
    out.sort_by_key(|(k, _)| *k);
    out.into_iter().map(|(_, r)| r).collect()
}

/// Give `items` (new lane worktrees, in lane order) pooled worktrees to re-point, as many as the
/// pool has clean ones. Returns what to tell the user: pooled worktrees left alone because they
/// hold something (never reused, never deleted) and ones removed because they were not as the
/// pool left them and held nothing.
pub fn assign(repo: &Repo, config: &Config, mut items: Vec<&mut NewWorktree>) -> Vec<String> {
    let mut notes = Vec::new();
    if !config.worktree_pool || items.is_empty() {
        return notes;
    }
    let mut parked = Vec::new();
    for entry in list(repo) {
        match entry {
            PooledWorktree::Parked(p) => parked.push(p),
            PooledWorktree::Astray { pooled, why } => notes.push(set_aside(repo, &pooled, &why)),
        }
    }
    // Each candidate's status is read (in parallel) before it is used: a pooled worktree may have
    // been worked in since it was pooled.
    let mut usable = Vec::new();
    while usable.len() < items.len() && !parked.is_empty() {
        let batch: Vec<Pooled> = parked.drain(..(items.len() - usable.len()).min(parked.len())).collect();
        for (p, dirty) in batch.iter().zip(parallel_map(&batch, |p| holds_anything(&p.path))) {
            match dirty {
                Ok(false) => usable.push(p.clone()),
                Ok(true) => notes.push(format!(
                    "the pooled worktree {} holds uncommitted changes or untracked files: it was not reused and is left as it is (`git lanes clean` lists it)",
                    p.path.display()
                )),
                Err(e) => notes.push(format!("the pooled worktree {} was not reused: its status could not be read ({e})", p.path.display())),
            }
        }
    }
    for (w, p) in items.iter_mut().zip(usable) {
        w.reuse = Some(p);
    }
    notes
}

/// Whether a worktree has a change to a tracked file or an untracked file that is not ignored —
/// what `git status --porcelain` would list — read in this process (libgit2, with git's ignore
/// rules and the index's stat data): a status for every pooled worktree a run takes is on the
/// set-up's path, and a `git` process per worktree costs more than the reading itself.
fn holds_anything(worktree: &Path) -> Result<bool> {
    let repo = git2::Repository::open(worktree)
        .map_err(|e| crate::base::error::Error::git(format!("could not open {}", worktree.display()), e))?;
    let mut opts = git2::StatusOptions::new();
    opts.include_untracked(true).recurse_untracked_dirs(false).include_ignored(false).exclude_submodules(false);
    let statuses = crate::git::repo::statuses(&repo, &mut opts)
        .map_err(|e| crate::base::error::Error::git(format!("could not read the status of {}", worktree.display()), e))?;
    Ok(statuses.iter().any(|(_, st)| !st.contains(git2::Status::IGNORED)))
}

/// A marked worktree that is not as the pool left it: removed when it holds nothing, else left.
fn set_aside(repo: &Repo, pooled: &Pooled, why: &str) -> String {
    let path = pooled.path.display();
    if worktree::is_dirty(&pooled.path).ok() == Some(false)
        && git(&repo.root, &["worktree", "remove", "--force", &pooled.path.to_string_lossy()]).is_ok()
    {
        return format!("removed the pooled worktree {path}, which held no work: {why}");
    }
    format!("the pooled worktree {path} was not reused and is left as it is: {why}")
}

/// What [`retire_many`] found in one worktree before pooling it.
enum Retiring {
    /// Its folder is gone already (a crash after it was moved or removed).
    Gone,
    /// Uncommitted changes or untracked files: kept where it is.
    Dirty,
    /// Clean, but git could not detach it: removed as without a pool.
    Clean,
    /// Clean and detached, its private git folder: ready to be pooled.
    Detached(PathBuf),
}

/// Tidy's counterpart of [`worktree::remove_many`] when the pool is on: each clean worktree
/// (whose work is archived) is detached and moved into the pool while there is room, the others
/// are removed; a dirty worktree is kept. Returns, per worktree, whether it left its path (its
/// branch may then be deleted). Idempotent: after a kill anywhere, calling it again finishes.
pub fn retire_many(repo: &Repo, config: &Config, worktrees: &[&Path]) -> Vec<Result<bool>> {
    if !config.worktree_pool || config.worktree_pool_size == 0 {
        return worktree::remove_many(&repo.root, worktrees);
    }
    let prepared = parallel_map(worktrees, |w| prepare_to_pool(w, config));
    let pool = pool_dir(repo, config);
    let mut room = config.worktree_pool_size.saturating_sub(list(repo).iter().filter(|e| matches!(e, PooledWorktree::Parked(_))).count());
    let mut slot = 0usize;
    let mut results: Vec<Option<Result<bool>>> = Vec::new();
    let mut to_remove: Vec<(usize, &Path)> = Vec::new();
    for (k, (w, prepared)) in worktrees.iter().zip(prepared).enumerate() {
        match prepared {
            Ok(Retiring::Detached(admin)) if room > 0 => {
                while pool.join(slot.to_string()).exists() {
                    slot += 1;
                }
                match park(repo, w, &admin, &pool.join(slot.to_string())) {
                    Ok(()) => {
                        room -= 1;
                        results.push(Some(Ok(true)));
                    }
                    Err(_) => {
                        to_remove.push((k, w));
                        results.push(None);
                    }
                }
            }
            Ok(Retiring::Dirty) => results.push(Some(Ok(false))),
            Ok(_) => {
                to_remove.push((k, w));
                results.push(None);
            }
            Err(e) => results.push(Some(Err(e))),
        }
    }
    // The rest (no room, a move that failed, a folder already gone) is removed as before; this
    // also prunes the records of folders a crash removed.
    let paths: Vec<&Path> = to_remove.iter().map(|(_, w)| *w).collect();
    if !paths.is_empty() {
        for ((k, _), removed) in to_remove.iter().zip(worktree::remove_many(&repo.root, &paths)) {
            results[*k] = Some(removed);
        }
    }
    for w in worktrees {
        // The run's worktree folder, once empty (it only ever held that run's worktrees).
        if let Some(parent) = w.parent() {
            let _ = std::fs::remove_dir(parent);
        }
    }
    results.into_iter().map(|r| r.unwrap_or(Ok(false))).collect()
}

/// Drop the run's signal files from a worktree, check that it is clean, detach its HEAD (its
/// branch is about to be deleted) and drop its ready marker (it is set up again when reused).
fn prepare_to_pool(worktree: &Path, config: &Config) -> Result<Retiring> {
    if !worktree.exists() {
        return Ok(Retiring::Gone);
    }
    drop_signal_files(worktree, config)?;
    if holds_anything(worktree)? {
        return Ok(Retiring::Dirty);
    }
    let Some(admin) = detach(worktree) else { return Ok(Retiring::Clean) };
    crate::base::fsutil::remove_file_if_exists(&admin.join(READY_MARKER))?;
    Ok(Retiring::Detached(admin))
}

/// Put a clean worktree's HEAD on its commit (as `git checkout --detach`: no file changes) and
/// return its private git folder; `None` when it has no commit or git2 cannot.
fn detach(worktree: &Path) -> Option<PathBuf> {
    let repo = git2::Repository::open(worktree).ok()?;
    let head = repo.head().ok()?.target()?;
    if !repo.head_detached().unwrap_or(false) {
        repo.set_head_detached(head).ok()?;
    }
    Some(repo.path().to_path_buf())
}

/// Mark a detached, clean worktree as pooled at `to` and move it there. The marker is written
/// first: a kill before the move leaves a marked worktree at the lane's path, which the next tidy
/// (`run --resume`) pools again and the next run's [`assign`] removes.
fn park(repo: &Repo, worktree: &Path, admin: &Path, to: &Path) -> Result<()> {
    if let Some(parent) = to.parent() {
        crate::base::fsutil::create_dir_all(parent)?;
    }
    crate::base::fsutil::write_atomic(&admin.join(POOL_MARKER), format!("{}\n", to.display()).as_bytes())?;
    crate::base::fault::point("mid-pool");
    let moved = worktree::move_worktree(&repo.root, admin, worktree, to);
    if let Err(e) = moved {
        crate::base::fsutil::remove_file_if_exists(&admin.join(POOL_MARKER))?;
        return Err(e);
    }
    Ok(())
}

/// Remove untracked signal files (every [`SignalFile`] kind) from a worktree's signal folders (fixing and
/// hunting): they are the finished run's signals, and a later lane must not read them.
fn drop_signal_files(worktree: &Path, config: &Config) -> Result<()> {
    let folders = config.signal_folders();
    let index = git2::Repository::open(worktree).and_then(|r| r.index()).ok();
    for folder in folders {
        let Ok(dir) = std::fs::read_dir(worktree.join(&folder)) else { continue };
        for entry in dir.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = Path::new(&folder).join(&name);
            let tracked = index.as_ref().is_none_or(|i| i.get_path(&rel, 0).is_some());
            if SignalFile::of_file_name(&name).is_some() && !tracked && entry.path().is_file() {
                crate::base::fsutil::remove_file_if_exists(&entry.path())?;
            }
        }
    }
    Ok(())
}
