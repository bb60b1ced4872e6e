//! Lock files (`*.lock`) that a killed git-lanes, or a `git` it ran, left on refs and worktrees
//! that are git-lanes' own. git never removes a stale lock ("Another git process seems to be
//! running"); a resume does, for what only the dead run could have been writing.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// How old a lock must be before it is taken for stale: a `git` the dead process started may
/// still be finishing its write.
const SETTLE: Duration = Duration::from_secs(1);

/// Remove `<ref>.lock` for each ref (full names, in `common_dir`), every lock directly in each
/// folder of `ref_dirs` (`refs/lanes/archive/<RUN_ID>`), and `index.lock` and `HEAD.lock` in each
/// worktree's admin folder. A lock younger than `SETTLE` is waited for until it is that old
/// (or gone). Returns the locks removed.
pub fn clear_stale(common_dir: &Path, refs: &[String], ref_dirs: &[String], worktrees: &[PathBuf]) -> Vec<PathBuf> {
    let mut locks: Vec<PathBuf> = refs.iter().map(|r| common_dir.join(format!("{r}.lock"))).collect();
    for dir in ref_dirs {
        for entry in std::fs::read_dir(common_dir.join(dir)).into_iter().flatten().flatten() {
            if entry.file_name().to_string_lossy().ends_with(".lock") {
                locks.push(entry.path());
            }
        }
    }
    for wt in worktrees {
        if let Some(admin) = admin_dir(wt) {
            locks.push(admin.join("index.lock"));
            locks.push(admin.join("HEAD.lock"));
        }
    }
    let mut removed = Vec::new();
    for lock in locks {
        let Some(old) = age(&lock) else { continue };
        if old < SETTLE {
            std::thread::sleep(SETTLE - old);
        }
        if age(&lock).is_some() && std::fs::remove_file(&lock).is_ok() {
            removed.push(lock);
        }
    }
    removed
}

fn age(path: &Path) -> Option<Duration> {
    let modified = std::fs::symlink_metadata(path).ok()?.modified().ok()?;
    Some(modified.elapsed().unwrap_or_default())
}

/// A linked worktree's folder in `.git/worktrees/` (from its `.git` file: `gitdir: <path>`).
fn admin_dir(worktree: &Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string(worktree.join(".git")).ok()?;
    let dir = PathBuf::from(text.strip_prefix("gitdir:")?.trim());
    Some(if dir.is_absolute() { dir } else { worktree.join(dir) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_ref_and_index_locks_go_and_nothing_else() {
        let t = tempfile::tempdir().unwrap();
        let common = t.path().join("git");
        let admin = common.join("worktrees/E");
        std::fs::create_dir_all(common.join("refs/heads/lanes/P1")).unwrap();
        std::fs::create_dir_all(&admin).unwrap();
        let wt = t.path().join("wt");
        std::fs::create_dir_all(&wt).unwrap();
        std::fs::write(wt.join(".git"), format!("gitdir: {}\n", admin.display())).unwrap();
        std::fs::create_dir_all(common.join("refs/lanes/archive/P1")).unwrap();
        for f in ["refs/heads/lanes/P1/E.lock", "refs/heads/main.lock", "worktrees/E/index.lock", "refs/lanes/archive/P1/integration.lock"]
        {
            std::fs::write(common.join(f), "").unwrap();
        }
        let removed = clear_stale(&common, &["refs/heads/lanes/P1/E".into()], &["refs/lanes/archive/P1".into()], &[wt]);
        assert_eq!(removed.len(), 3, "{removed:?}");
        assert!(!common.join("refs/heads/lanes/P1/E.lock").exists());
        assert!(!admin.join("index.lock").exists());
        assert!(common.join("refs/heads/main.lock").exists(), "a lock on a ref not named was removed");
    }
}
