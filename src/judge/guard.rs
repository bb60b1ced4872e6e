//! The lane guard: what decides a verdict is not the lane's to change, and a lane cannot reach
//! outside the repository (SPEC §2.7; issue 16 points 1, 2 and 4). Start at [`inspect_lane`].
//!
//! Given the tree a lane forked from and the lane's tree (both read with git2, no checkout), it
//! finds:
//! - **issue-file edits beyond git-lanes' own bookkeeping** — the `status:` value, the
//!   `- **Status:**` line, `date_verified`, `verification_confidence` and the `## Resolution`
//!   section are bookkeeping; changed checks, affected paths, any other frontmatter or text, a
//!   deleted issue file, or an issue file moved elsewhere are not. Each is a [`Revert`]: the
//!   file as it was at the fork, with the lane's bookkeeping re-applied, so the lane's edit is
//!   never merged (the caller writes and commits the reverts, and reports them);
//! - **symlinks that leave the repository**, and tracked files or folders replaced by a symlink:
//!   the lane is refused with the reason (nothing is written through such a link);
//! - **secret values** (of this process's secret environment variables, see
//!   [`crate::redact`]) in the lane's commit messages or added lines: the lane is refused.
//!
//! The same bookkeeping rule serves `check` (pre-push), through [`weakened_issue_files`].
#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::path::{Component, Path, PathBuf};

use crate::base::error::{Error, Result};
use crate::files::issue::{Issue, Status};
use crate::files::rewrite::Edit;

/// One issue file the lane may not change as it did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revert {
    /// Path in the repository.
    pub path: PathBuf,
    /// Issue id (of the fork's version).
    pub id: String,
    /// What the lane did (`deleted it`, `changed its checks`…).
    pub what: String,
    /// The bytes to restore; `None` to remove the file (a copy of a moved issue file).
    pub bytes: Option<Vec<u8>>,
}

impl std::fmt::Display for Revert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.bytes {
            Some(_) => write!(f, "{} ({}): the lane {}; restored as it was when the run started", self.path.display(), self.id, self.what),
            None => write!(f, "{} ({}): the lane {}; removed", self.path.display(), self.id, self.what),
        }
    }
}

/// What the guard found in one lane.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inspection {
    pub reverts: Vec<Revert>,
    /// Reasons the whole lane is refused.
    pub refusals: Vec<String>,
}

/// Inspect a lane: `base` is the commit it forked from, `tip` its current commit.
pub fn inspect_lane(repo: &git2::Repository, base: git2::Oid, tip: git2::Oid, issues_dir: &Path) -> Result<Inspection> {
    let tree = |oid: git2::Oid| {
        repo.find_commit(oid).and_then(|c| c.tree()).map_err(|e| Error::git(format!("could not read the tree of commit {oid}"), e))
    };
    let (old, new) = (tree(base)?, tree(tip)?);
    let mut refusals = symlink_refusals(repo, &old, &new)?;
    refusals.extend(secret_refusals(repo, base, tip, &old, &new)?);
    let reverts = issue_file_reverts(repo, &old, &new, issues_dir)?;
    Ok(Inspection { reverts, refusals })
}

/// The text of an issue file without what git-lanes itself writes: the `status`,
/// `date_verified` and `verification_confidence` keys, `Status:` lines and the `## Resolution`
/// section. Two versions that agree on this differ only in bookkeeping.
pub fn without_bookkeeping(text: &str) -> String {
    let text = text.replace("\r\n", "\n");
    let mut out = String::with_capacity(text.len());
    let mut in_front = false;
    let mut front_done = false;
    let mut in_resolution = false;
    let mut in_fence = false;
    for (n, line) in text.lines().enumerate() {
        let t = line.trim();
        if !front_done && t == "---" {
            if n == 0 || in_front {
                in_front = !in_front;
                front_done = !in_front && n > 0;
            }
            out.push_str(line);
            out.push('\n');
            continue;
        }
        if in_front {
            let key = t.split(':').next().unwrap_or("").trim();
            if matches!(key, "status" | "date_verified" | "verification_confidence") {
                continue;
            }
        } else {
            if t.starts_with("```") || t.starts_with("~~~") {
                in_fence = !in_fence;
            }
            if !in_fence && t.starts_with("## ") {
                in_resolution = t == "## Resolution";
            }
            if in_resolution || (!in_fence && is_status_line(t)) {
                continue;
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.trim_end().to_string()
}

fn is_status_line(t: &str) -> bool {
    ["- **Status:**", "- Status:", "**Status:**"].iter().any(|p| t.starts_with(p))
}

/// The `## Resolution` section of a text (heading included), if any.
fn resolution_section(text: &str) -> Option<String> {
    let mut out = String::new();
    let mut inside = false;
    for line in text.split_inclusive('\n') {
        let t = line.trim();
        if t.starts_with("## ") {
            inside = t == "## Resolution";
        }
        if inside {
            out.push_str(line);
        }
    }
    (!out.is_empty()).then_some(out)
}

/// The fork's version of an issue file with the lane's bookkeeping applied (its status, its
/// dates and confidence, its Resolution section).
fn with_lanes_bookkeeping(base: &Issue, lane: Option<&Issue>) -> Vec<u8> {
    let Some(lane) = lane else { return bytes_of(base, base.text()) };
    let mut e = Edit::new(base);
    if lane.status() != base.status() {
        e.set_status(lane.status());
    }
    for (key, value) in [("date_verified", &lane.meta.date_verified), ("verification_confidence", &lane.meta.verification_confidence)] {
        if let Some(v) = value {
            e.set_key(key, v);
        }
    }
    let mut text = e.text().to_string();
    if resolution_section(base.text()).is_none()
        && let Some(section) = resolution_section(lane.text())
    {
        if !text.ends_with('\n') {
            text.push('\n');
        }
        text.push('\n');
        text.push_str(&section);
    }
    bytes_of(base, &text)
}

fn bytes_of(issue: &Issue, text: &str) -> Vec<u8> {
    let mut bytes = if issue.bom { b"\xEF\xBB\xBF".to_vec() } else { Vec::new() };
    bytes.extend_from_slice(text.as_bytes());
    bytes
}

/// What differs between two versions of an issue file beyond bookkeeping, in words.
fn describe_change(base: &Issue, lane: &Issue) -> String {
    let mut what = Vec::new();
    let commands = |i: &Issue| i.checks().into_iter().map(|c| c.command).collect::<Vec<_>>();
    if commands(base) != commands(lane) {
        what.push("changed its verification commands");
    }
    if base.meta.affected_paths != lane.meta.affected_paths {
        what.push("changed its affected paths");
    }
    if base.id() != lane.id() || base.lane() != lane.lane() {
        what.push("changed its id or lane");
    }
    if base.meta.depends_on != lane.meta.depends_on {
        what.push("changed its dependencies");
    }
    if what.is_empty() {
        what.push("changed it beyond the status and resolution git-lanes records");
    }
    what.join(", ")
}

fn blob_at(repo: &git2::Repository, tree: &git2::Tree<'_>, path: &Path) -> Option<(git2::Oid, i32, Vec<u8>)> {
    let entry = tree.get_path(path).ok()?;
    let mode = entry.filemode();
    let blob = repo.find_blob(entry.id()).ok()?;
    Some((entry.id(), mode, blob.content().to_vec()))
}

/// Every `.md` file under `dir` in `tree` that parses as an issue: `(path, blob id, issue)`.
fn issue_files(repo: &git2::Repository, tree: &git2::Tree<'_>, dir: &Path) -> Vec<(PathBuf, git2::Oid, Issue)> {
    let Ok(entry) = tree.get_path(dir) else { return Vec::new() };
    let Ok(sub) = repo.find_tree(entry.id()) else { return Vec::new() };
    let mut out = Vec::new();
    let _ = sub.walk(git2::TreeWalkMode::PreOrder, |parent, e| {
        let name = e.name().unwrap_or("");
        if e.kind() == Some(git2::ObjectType::Blob) && e.filemode() != i32::from(git2::FileMode::Link) && name.ends_with(".md") {
            let path = dir.join(parent).join(name);
            if let Ok(blob) = repo.find_blob(e.id())
                && let Ok(issue) = Issue::parse(&path, blob.content().to_vec())
            {
                out.push((path, e.id(), issue));
            }
        }
        git2::TreeWalkResult::Ok
    });
    out
}

/// Issue files of the fork that the lane deleted, moved or changed beyond bookkeeping.
pub fn issue_file_reverts(repo: &git2::Repository, old: &git2::Tree<'_>, new: &git2::Tree<'_>, issues_dir: &Path) -> Result<Vec<Revert>> {
    let before = issue_files(repo, old, issues_dir);
    if before.is_empty() {
        return Ok(Vec::new());
    }
    let after = issue_files(repo, new, issues_dir);
    let mut out = Vec::new();
    for (path, oid, base) in &before {
        let revert = |what: String, lane: Option<&Issue>| Revert {
            path: path.clone(),
            id: base.id().to_string(),
            what,
            bytes: Some(with_lanes_bookkeeping(base, lane)),
        };
        match blob_at(repo, new, path) {
            None => {
                out.push(revert("deleted it".into(), None));
                // A copy of it elsewhere (moved or renamed) would be a second file with its id.
                for (other, _, issue) in &after {
                    if issue.id() == base.id() && other != path && !before.iter().any(|(p, _, _)| p == other) {
                        out.push(Revert { path: other.clone(), id: base.id().to_string(), what: "moved it here".into(), bytes: None });
                    }
                }
            }
            Some((id, _, _)) if id == *oid => {}
            Some((_, mode, _)) if mode == i32::from(git2::FileMode::Link) => out.push(revert("replaced it by a symlink".into(), None)),
            Some((_, _, bytes)) => match Issue::parse(path, bytes) {
                Err(_) => out.push(revert("made it unreadable as an issue file".into(), None)),
                Ok(lane) => {
                    if without_bookkeeping(lane.text()) != without_bookkeeping(base.text()) || lane.bom != base.bom {
                        out.push(revert(describe_change(base, &lane), Some(&lane)));
                    }
                }
            },
        }
    }
    Ok(out)
}

/// Where a symlink at `link` (a repository path) with `target` points, if it stays inside the
/// repository (lexically: `..` may not climb above the root; absolute targets never stay).
pub fn link_target_inside(link: &Path, target: &Path) -> Option<PathBuf> {
    if target.is_absolute() {
        return None;
    }
    let mut at: Vec<std::ffi::OsString> = link.parent().map(|p| p.iter().map(|c| c.to_os_string()).collect()).unwrap_or_default();
    for c in target.components() {
        match c {
            Component::Normal(n) => at.push(n.to_os_string()),
            Component::CurDir => {}
            Component::ParentDir => {
                at.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    let p: PathBuf = at.iter().collect();
    (!p.starts_with(".git")).then_some(p)
}

/// Symlinks the lane added or changed that point outside the repository (or into `.git`), and
/// tracked files or folders it replaced by a symlink.
pub fn symlink_refusals(repo: &git2::Repository, old: &git2::Tree<'_>, new: &git2::Tree<'_>) -> Result<Vec<String>> {
    let diff = repo.diff_tree_to_tree(Some(old), Some(new), None).map_err(|e| Error::git("could not diff the lane", e))?;
    let mut out = Vec::new();
    for d in diff.deltas() {
        let nf = d.new_file();
        if nf.mode() != git2::FileMode::Link || d.status() == git2::Delta::Deleted {
            continue;
        }
        let Some(path) = nf.path() else { continue };
        let target = repo.find_blob(nf.id()).map(|b| String::from_utf8_lossy(b.content()).into_owned()).unwrap_or_default();
        if let Ok(e) = old.get_path(path)
            && e.filemode() != i32::from(git2::FileMode::Link)
        {
            let what = if e.kind() == Some(git2::ObjectType::Tree) { "folder" } else { "file" };
            out.push(format!("it replaces the tracked {what} `{}` by a symlink (to `{target}`)", path.display()));
            continue;
        }
        if link_target_inside(path, Path::new(&target)).is_none() {
            out.push(format!("it adds a symlink `{}` pointing outside the repository (to `{target}`)", path.display()));
        }
    }
    Ok(out)
}

/// Commits of `base..tip` whose message, and added lines, that carry a secret value.
fn secret_refusals(
    repo: &git2::Repository,
    base: git2::Oid,
    tip: git2::Oid,
    old: &git2::Tree<'_>,
    new: &git2::Tree<'_>,
) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut walk = repo.revwalk().map_err(|e| Error::git("could not walk the lane's commits", e))?;
    walk.push(tip).map_err(|e| Error::git("could not walk the lane's commits", e))?;
    let _ = walk.hide(base);
    for oid in walk.flatten() {
        if let Ok(c) = repo.find_commit(oid)
            && crate::base::redact::contains_secret_value(&String::from_utf8_lossy(c.message_bytes()))
        {
            out.push(format!("its commit {} carries the value of a secret environment variable in its message", &oid.to_string()[..10]));
        }
    }
    let mut opts = git2::DiffOptions::new();
    opts.context_lines(0);
    let diff = repo.diff_tree_to_tree(Some(old), Some(new), Some(&mut opts)).map_err(|e| Error::git("could not diff the lane", e))?;
    let mut files: Vec<String> = Vec::new();
    diff.print(git2::DiffFormat::Patch, |delta, _hunk, line| {
        if line.origin() == '+' && crate::base::redact::contains_secret_value(&String::from_utf8_lossy(line.content())) {
            let p = delta.new_file().path().map(|p| p.display().to_string()).unwrap_or_default();
            if !files.contains(&p) {
                files.push(p);
            }
        }
        true
    })
    .map_err(|e| Error::git("could not read the lane's diff", e))?;
    out.extend(files.into_iter().map(|f| format!("its change to `{f}` carries the value of a secret environment variable")));
    Ok(out)
}

/// The environment that makes a worker's `git push` fail: one more `GIT_CONFIG_*` entry (after
/// the `count` already set, if any) rewriting every push URL — `url.<x>.pushInsteadOf` with an
/// empty prefix matches them all — to a scheme no git helper serves. Fetching still works.
pub fn no_push_env(count: Option<&std::ffi::OsStr>) -> Vec<(std::ffi::OsString, std::ffi::OsString)> {
    let n: usize = count.and_then(|c| c.to_str()).and_then(|c| c.trim().parse().ok()).unwrap_or(0);
    vec![
        ("GIT_CONFIG_COUNT".into(), (n + 1).to_string().into()),
        (format!("GIT_CONFIG_KEY_{n}").into(), "url.git-lanes-workers-may-not-push://refused/.pushInsteadOf".into()),
        (format!("GIT_CONFIG_VALUE_{n}").into(), "".into()),
    ]
}

/// For `check`: issue files of `old` that `new` deletes (and no file keeps its id), and issues
/// whose verification commands `new` changes while it has them RESOLVED (a weakened check that
/// lets an issue pass). Only the changed files under `issues_dir` are read, so it stays cheap on
/// large catalogs.
pub fn weakened_issue_files(
    repo: &git2::Repository,
    old: &git2::Tree<'_>,
    new: &git2::Tree<'_>,
    issues_dir: &Path,
) -> Vec<(PathBuf, String)> {
    let mut opts = git2::DiffOptions::new();
    opts.pathspec(issues_dir);
    let Ok(diff) = repo.diff_tree_to_tree(Some(old), Some(new), Some(&mut opts)) else { return Vec::new() };
    let parse = |path: &Path, id: git2::Oid| repo.find_blob(id).ok().and_then(|b| Issue::parse(path, b.content().to_vec()).ok());
    let mut deleted: Vec<(PathBuf, Issue)> = Vec::new();
    let mut added_ids: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for d in diff.deltas() {
        let (of, nf) = (d.old_file(), d.new_file());
        match d.status() {
            git2::Delta::Deleted => {
                if let Some(p) = of.path()
                    && let Some(i) = parse(p, of.id())
                {
                    deleted.push((p.to_path_buf(), i));
                }
            }
            git2::Delta::Added => {
                if let Some(p) = nf.path()
                    && let Some(i) = parse(p, nf.id())
                {
                    added_ids.push(i.id().to_string());
                }
            }
            git2::Delta::Modified | git2::Delta::Typechange => {
                let Some(p) = nf.path() else { continue };
                let (Some(base), lane) = (parse(p, of.id()), parse(p, nf.id())) else { continue };
                match lane {
                    None => out.push((p.to_path_buf(), format!("issue file of {} is no longer an issue file", base.id()))),
                    Some(lane) => {
                        let commands = |i: &Issue| i.checks().into_iter().map(|c| c.command).collect::<Vec<_>>();
                        if commands(&base) != commands(&lane) && lane.status() == Status::Resolved {
                            out.push((
                                p.to_path_buf(),
                                format!("{} is RESOLVED with verification commands changed in the same push", base.id()),
                            ));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    for (p, i) in deleted {
        if !added_ids.iter().any(|a| a == i.id()) {
            out.push((p, format!("issue file of {} is deleted", i.id())));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISSUE: &str = "---\nissue_id: \"E-01\"\nlane: \"E\"\nstatus: \"OPEN\"\naffected_paths: [\"src/a\"]\n---\n\n# [LANE E] Issue E-01: t\n\n## Verification Commands\n\n```bash\ngrep -q x src/a && echo PASS || echo FAIL\n```\n\n- **Status:** OPEN\n";

    fn parse(text: &str) -> Issue {
        Issue::parse(Path::new("issues/E/E-01.md"), text.as_bytes().to_vec()).unwrap()
    }

    #[test]
    fn bookkeeping_is_allowed_and_checks_are_not() {
        let resolved = ISSUE
            .replace("status: \"OPEN\"", "status: \"RESOLVED\"\ndate_verified: \"2026-01-01\"")
            .replace("- **Status:** OPEN\n", "- **Status:** RESOLVED\n\n## Resolution\n\n- **Fixed:** today\n");
        assert_eq!(without_bookkeeping(&resolved), without_bookkeeping(ISSUE));
        let weakened = ISSUE.replace("grep -q x src/a && echo PASS || echo FAIL", "echo PASS");
        assert_ne!(without_bookkeeping(&weakened), without_bookkeeping(ISSUE));
        let base = parse(ISSUE);
        let lane = parse(&weakened.replace("status: \"OPEN\"", "status: \"RESOLVED\""));
        assert_eq!(describe_change(&base, &lane), "changed its verification commands");
        let fixed = String::from_utf8(with_lanes_bookkeeping(&base, Some(&lane))).unwrap();
        assert!(fixed.contains("grep -q x src/a"), "{fixed}");
        assert!(fixed.contains("status: \"RESOLVED\""), "{fixed}");
        let moved = ISSUE.replace("affected_paths: [\"src/a\"]", "affected_paths: [\"src/a\", \"src/b\"]");
        assert!(describe_change(&base, &parse(&moved)).contains("affected paths"));
    }

    #[test]
    fn symlink_targets() {
        assert_eq!(link_target_inside(Path::new("issues/M"), Path::new("../src")), Some(PathBuf::from("src")));
        assert_eq!(link_target_inside(Path::new("issues/M"), Path::new("../../x")), None);
        assert_eq!(link_target_inside(Path::new("a"), Path::new("/etc")), None);
        assert_eq!(link_target_inside(Path::new("a"), Path::new(".git/config")), None);
        assert_eq!(link_target_inside(Path::new("d/a"), Path::new("b")), Some(PathBuf::from("d/b")));
    }

    #[test]
    fn reverts_on_real_trees() {
        let dir = tempfile::tempdir().unwrap();
        let repo = git2::Repository::init(dir.path()).unwrap();
        let tree_of = |files: &[(&str, &str)]| {
            let mut index = git2::Index::new().unwrap();
            for (p, c) in files {
                let id = repo.blob(c.as_bytes()).unwrap();
                let mode = if p.ends_with("link") { 0o120000 } else { 0o100644 };
                index.add(&crate::git::snapshot::index_entry(p, id, mode)).unwrap();
            }
            index.write_tree_to(&repo).unwrap()
        };
        let m = ISSUE.replace("E-01", "M-01").replace("lane: \"E\"", "lane: \"M\"");
        let old = repo.find_tree(tree_of(&[("issues/E/E-01.md", ISSUE), ("issues/M/M-01.md", &m), ("README.md", "x")])).unwrap();
        let weakened = ISSUE.replace("grep -q x src/a && echo PASS || echo FAIL", "echo PASS");
        let new = repo
            .find_tree(tree_of(&[("issues/E/E-01.md", &weakened), ("README.md", "y"), ("out-link", "/etc"), ("in-link", "README.md")]))
            .unwrap();
        let reverts = issue_file_reverts(&repo, &old, &new, Path::new("issues")).unwrap();
        assert_eq!(reverts.len(), 2, "{reverts:?}");
        assert_eq!(reverts[0].what, "changed its verification commands");
        assert_eq!(reverts[0].bytes.as_deref(), Some(ISSUE.as_bytes()));
        assert_eq!(reverts[1].what, "deleted it");
        assert_eq!(reverts[1].bytes.as_deref(), Some(m.as_bytes()));
        let refusals = symlink_refusals(&repo, &old, &new).unwrap();
        assert_eq!(refusals.len(), 1, "{refusals:?}");
        assert!(refusals[0].contains("out-link"));
        let replaced = repo.find_tree(tree_of(&[("issues/E/E-01.md", ISSUE), ("README.md", "x"), ("issues/M", "/tmp")])).unwrap();
        // `issues/M` as a symlink: the tracked folder is replaced.
        let mut idx = git2::Index::new().unwrap();
        idx.read_tree(&replaced).unwrap();
        let mut e = idx.get_path(Path::new("issues/M"), 0).unwrap();
        e.mode = 0o120000;
        idx.add(&e).unwrap();
        let replaced = repo.find_tree(idx.write_tree_to(&repo).unwrap()).unwrap();
        let refusals = symlink_refusals(&repo, &old, &replaced).unwrap();
        assert!(refusals.iter().any(|r| r.contains("tracked folder `issues/M`")), "{refusals:?}");
        let weak = weakened_issue_files(&repo, &old, &new, Path::new("issues"));
        assert_eq!(weak.len(), 1, "{weak:?}");
        assert!(weak[0].1.contains("deleted"));
    }
}
