//! Installing and removing the shipped `hooks/pre-push` in the hooks directory git actually uses
//! (`git rev-parse --git-path hooks`: `core.hooksPath` and linked worktrees respected).
//!
//! Never clobbers: a `pre-push` that is not ours is renamed to `pre-push.lanes-chained` (a
//! rename keeps its bytes, mode, and a symlink stays a symlink); our hook calls it first with the
//! same stdin and stops on its failure. `uninstall` renames it back. Both are idempotent.
#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::path::{Path, PathBuf};

use crate::base::error::{Error, Result};
use crate::gate::rules;
use crate::{base::fsutil, git::gitcli};

/// The shipped hook, embedded so installation works in any repository; [`script`] fills in the
/// rules.
const TEMPLATE: &str = include_str!("../../hooks/pre-push");
/// The line of [`TEMPLATE`] that [`script`] replaces with the gate's rules.
const RULES_LINE: &str = "# (the rules, one line each, are written here from src/gate/rules.rs when the hook is installed)\n";
/// The line that marks a hook as ours.
pub const MARKER: &str = "# git-lanes pre-push hook";
/// Where a pre-existing hook is kept.
pub const CHAINED: &str = "pre-push.lanes-chained";

/// The hook as installed: the shipped script, its comment listing the rules of
/// [`crate::gate::rules::RULES`].
pub fn script() -> String {
    TEMPLATE.replacen(RULES_LINE, &rules::hook_comment(), 1)
}

/// One thing `install` or `uninstall` did (or found already done).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Our hook was written.
    Installed { path: PathBuf },
    /// An older version of our hook was replaced.
    Updated { path: PathBuf },
    /// Our hook is already there, byte for byte.
    AlreadyInstalled { path: PathBuf },
    /// Another hook was kept and will be called first.
    Chained { from: PathBuf, to: PathBuf },
    /// Our hook was removed.
    Removed { path: PathBuf },
    /// The kept hook was put back.
    Restored { from: PathBuf, to: PathBuf },
    /// The `pre-push` there is not ours; left alone.
    NotOurs { path: PathBuf },
    /// No hook of ours to remove.
    NotInstalled { path: PathBuf },
}

/// The hooks directory git uses for the repository whose working tree is `root`.
pub fn hooks_dir(root: &Path) -> Result<PathBuf> {
    let out = gitcli::git(root, &["rev-parse", "--git-path", "hooks"])?;
    let line = out.lines().last().unwrap_or("").trim();
    if line.is_empty() {
        return Err(Error::command("`git rev-parse --git-path hooks` printed nothing", None));
    }
    let p = PathBuf::from(line);
    Ok(if p.is_absolute() { p } else { root.join(p) })
}

fn exists(p: &Path) -> bool {
    p.symlink_metadata().is_ok()
}

fn is_ours(p: &Path) -> bool {
    std::fs::read(p).is_ok_and(|b| String::from_utf8_lossy(&b).contains(MARKER))
}

/// Install the hook into `dir`.
pub fn install(dir: &Path) -> Result<Vec<Action>> {
    fsutil::create_dir_all(dir)?;
    let hook = dir.join("pre-push");
    let chained = dir.join(CHAINED);
    let mut actions = Vec::new();
    if exists(&hook) {
        if is_ours(&hook) {
            if std::fs::read(&hook).is_ok_and(|b| b == script().as_bytes()) {
                make_executable(&hook)?;
                return Ok(vec![Action::AlreadyInstalled { path: hook }]);
            }
            write_hook(&hook)?;
            return Ok(vec![Action::Updated { path: hook }]);
        }
        if exists(&chained) {
            return Err(Error::State {
                message: format!("{} is not git-lanes' hook, and {} is already taken", hook.display(), chained.display()),
                hint: Some(format!("merge the two hooks by hand or move {} away, then install again", chained.display())),
            });
        }
        std::fs::rename(&hook, &chained).map_err(|e| Error::io("rename", &hook, e))?;
        actions.push(Action::Chained { from: hook.clone(), to: chained });
    }
    write_hook(&hook)?;
    actions.push(Action::Installed { path: hook });
    Ok(actions)
}

/// Remove our hook from `dir` and put back the hook it chained, exactly.
pub fn uninstall(dir: &Path) -> Result<Vec<Action>> {
    let hook = dir.join("pre-push");
    let chained = dir.join(CHAINED);
    let mut actions = Vec::new();
    if exists(&hook) {
        if !is_ours(&hook) {
            return Ok(vec![Action::NotOurs { path: hook }]);
        }
        std::fs::remove_file(&hook).map_err(|e| Error::io("remove", &hook, e))?;
        actions.push(Action::Removed { path: hook.clone() });
    } else {
        actions.push(Action::NotInstalled { path: hook.clone() });
    }
    if exists(&chained) {
        std::fs::rename(&chained, &hook).map_err(|e| Error::io("rename", &chained, e))?;
        actions.push(Action::Restored { from: chained, to: hook });
    }
    Ok(actions)
}

fn write_hook(hook: &Path) -> Result<()> {
    fsutil::write_atomic(hook, script().as_bytes())?;
    make_executable(hook)
}

#[cfg(unix)]
fn make_executable(p: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(p).map_err(|e| Error::io("read", p, e))?.permissions().mode();
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode | 0o755)).map_err(|e| Error::io("make executable", p, e))
}

#[cfg(not(unix))]
fn make_executable(_p: &Path) -> Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains_and_restores_exactly() {
        let d = tempfile::tempdir().unwrap();
        let hook = d.path().join("pre-push");
        std::fs::write(&hook, b"#!/bin/sh\nexit 0\n").unwrap();
        let before = std::fs::metadata(&hook).unwrap().permissions();
        let a = install(d.path()).unwrap();
        assert!(matches!(a[0], Action::Chained { .. }), "{a:?}");
        assert_eq!(std::fs::read_to_string(&hook).unwrap(), script());
        assert!(matches!(install(d.path()).unwrap()[0], Action::AlreadyInstalled { .. }));
        let a = uninstall(d.path()).unwrap();
        assert_eq!(a.len(), 2);
        assert_eq!(std::fs::read(&hook).unwrap(), b"#!/bin/sh\nexit 0\n");
        assert_eq!(std::fs::metadata(&hook).unwrap().permissions(), before);
        assert!(matches!(uninstall(d.path()).unwrap()[0], Action::NotOurs { .. }));
        assert!(script().contains(MARKER));
        assert_eq!(TEMPLATE.matches(RULES_LINE).count(), 1, "the template holds the rules' line once");
    }

    #[test]
    fn the_installed_hook_lists_every_rule_of_the_table() {
        let installed = script();
        assert!(installed.contains(&rules::hook_comment()), "the hook's comment is the table's rendering");
        let words = |t: &str| t.split_whitespace().collect::<Vec<_>>().join(" ");
        let comment = words(&installed.lines().filter_map(|l| l.strip_prefix('#')).collect::<Vec<_>>().join(" "));
        for r in rules::RULES {
            let row = words(&format!("{} {}: {}", r.id, r.title, r.summary));
            assert!(comment.contains(&row), "the hook's comment lacks `{}`", r.id);
        }
    }
}
