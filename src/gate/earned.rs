//! Whether a resolution pushed through the gate was earned: an issue becomes RESOLVED only in a
//! commit (or, for the working tree, the uncommitted change) that also adds passing evidence for
//! it written by git-lanes — a run's judge or a `git lanes verify` that passed.
//!
//! The commit that resolves an issue is found on the first-parent chain from the pushed tip: the
//! first commit where the issue file says RESOLVED and its first parent's does not (for a run,
//! the merge of the lane, which brings the judge's evidence with it; a worker's own commit on the
//! lane's side is not on that chain). That commit must add or change an evidence file of the
//! issue (`<evidence>/<LANE>/<ID>_<stamp>.json`) that:
//!
//! 1. says `verifier: git-lanes` and carries its seal (the sha256 of the record without the seal,
//!    see [`Evidence::compute_seal`]): a field edited by hand without recomputing it is refused;
//! 2. agrees with itself: every check passed, each check's verdict follows from its recorded
//!    ending and output by the rules of `verify.rs`, and the counts and `all_passed` say so;
//! 3. ran the issue's checks as that commit has them (same commands, in order);
//! 4. records a hash for every affected path equal to that path in that commit's tree, and, when
//!    it was written on a clean tree at a commit present here, equal to that commit's too.
//!
//! What this cannot prove: the seal has no secret, so someone who recomputes it can forge a
//! record; and nothing read from git objects shows that a recorded command really ran. What it
//! does prove is that a report, an older run's evidence after a reopen and a reverted fix, or a
//! hand edit are not enough: the evidence must be added with the status change and match the
//! files the commit holds.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use git2::{Oid, Repository, Tree};

use crate::files::config::Config;
use crate::files::issue::{Issue, Status};
use crate::judge::evidence::{self, Evidence};
use crate::judge::verify;

/// Files as one side of a change has them: a commit's tree, or the working tree on disk.
pub(crate) enum View<'a, 'r> {
    Tree(&'r Repository, &'a Tree<'r>),
    Disk(&'a Path),
}

impl View<'_, '_> {
    fn read(&self, rel: &Path) -> Option<Vec<u8>> {
        match self {
            View::Tree(git, tree) => {
                let e = tree.get_path(rel).ok()?;
                git.find_blob(e.id()).ok().map(|b| b.content().to_vec())
            }
            View::Disk(root) => std::fs::read(root.join(rel)).ok(),
        }
    }

    /// The blob id `rel` has (hashed from disk for the working tree).
    fn blob_id(&self, rel: &Path) -> Option<Oid> {
        match self {
            View::Tree(_, tree) => tree.get_path(rel).ok().map(|e| e.id()),
            View::Disk(root) => Oid::hash_file(git2::ObjectType::Blob, root.join(rel)).ok(),
        }
    }

    fn names(&self, dir: &Path) -> Vec<String> {
        match self {
            View::Tree(git, tree) => tree
                .get_path(dir)
                .ok()
                .and_then(|e| git.find_tree(e.id()).ok())
                .map(|t| t.iter().filter_map(|e| e.name().map(str::to_string)).collect())
                .unwrap_or_default(),
            View::Disk(root) => std::fs::read_dir(root.join(dir))
                .map(|rd| rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
                .unwrap_or_default(),
        }
    }

    fn path_hash(&self, rel: &str) -> Option<String> {
        match self {
            View::Tree(git, tree) => evidence::tree_path_hash(git, tree, rel),
            View::Disk(root) => evidence::path_hash(root, rel),
        }
    }
}

/// The commit on the first-parent chain from `tip` that makes the issue at `path` RESOLVED.
/// `None` when that commit is not among `pushed` (the resolution was published before) or the
/// chain ends first.
pub(crate) fn resolving_commit(git: &Repository, tip: Oid, pushed: &HashSet<Oid>, path: &Path) -> Option<Oid> {
    let mut commit = git.find_commit(tip).ok()?;
    loop {
        if !pushed.contains(&commit.id()) {
            return None;
        }
        let here = commit.tree().ok().and_then(|t| t.get_path(path).ok()).map(|e| e.id());
        let parent = commit.parent(0).ok();
        let before = parent.as_ref().and_then(|p| p.tree().ok()).and_then(|t| t.get_path(path).ok()).map(|e| e.id());
        if here != before && !resolved(git, before, path) {
            return Some(commit.id());
        }
        commit = parent?;
    }
}

fn resolved(git: &Repository, blob: Option<Oid>, path: &Path) -> bool {
    let Some(b) = blob.and_then(|b| git.find_blob(b).ok()) else { return false };
    Issue::parse(path, b.content().to_vec()).is_ok_and(|i| i.status() == Status::Resolved)
}

/// Why the change from `before` to `at` does not earn `id` its RESOLVED (`None`: it does).
/// `issue_path` is the issue file's path at `at`.
pub(crate) fn unearned(git: &Repository, config: &Config, at: &View, before: Option<&View>, issue_path: &Path) -> Option<String> {
    let issue = match at.read(issue_path).map(|b| Issue::parse(issue_path, b)) {
        Some(Ok(i)) => i,
        _ => return Some(format!("{} cannot be read there", issue_path.display())),
    };
    let dir = config.evidence.join(issue.lane());
    let names = evidence::sorted_names(at.names(&dir), issue.id());
    let added: Vec<PathBuf> = names
        .iter()
        .rev()
        .map(|n| dir.join(n))
        .filter(|rel| before.is_none_or(|b| b.blob_id(rel).is_none_or(|old| Some(old) != at.blob_id(rel))))
        .collect();
    if added.is_empty() {
        return Some(format!("no evidence for {} is added under {} together with the status change", issue.id(), dir.display()));
    }
    let mut first_problem = None;
    for rel in &added {
        let problem = match at.read(rel).map(|b| serde_json::from_slice::<Evidence>(&b)) {
            Some(Ok(ev)) => problem_of(git, at, &issue, &ev),
            _ => Some("is not evidence JSON".to_string()),
        };
        if let Some(p) = problem {
            first_problem.get_or_insert_with(|| format!("{} {p}", rel.display()));
        } else {
            return None; // this file earns it
        }
    }
    first_problem
}

/// What is wrong with `ev` as evidence for `issue` as `at` has it (`None`: nothing).
fn problem_of(git: &Repository, at: &View, issue: &Issue, ev: &Evidence) -> Option<String> {
    if ev.metadata.verifier != "git-lanes" {
        return Some(format!("was not written by git-lanes (verifier `{}`)", ev.metadata.verifier));
    }
    if ev.seal.is_none() {
        return Some("carries no seal (git-lanes seals the evidence it writes)".into());
    }
    if !ev.seal_matches() {
        return Some("was edited after git-lanes wrote it (its seal does not match its content)".into());
    }
    if ev.issue_id != issue.id() || ev.lane != issue.lane() {
        return Some(format!("is evidence for {} in lane {}", ev.issue_id, ev.lane));
    }
    if let Some(p) = inconsistent(ev) {
        return Some(p);
    }
    let wanted: Vec<String> = issue.checks().iter().map(|c| crate::base::redact::redact(&c.command).into_owned()).collect();
    let ran: Vec<&str> = ev.checks.iter().map(|c| c.command.as_str()).collect();
    if wanted.iter().map(String::as_str).ne(ran.iter().copied()) {
        return Some(format!("ran other checks than {}'s verification commands", issue.id()));
    }
    for p in issue.meta.affected_paths.iter().filter(|p| !p.trim().is_empty()) {
        if !ev.path_hashes.contains_key(p) {
            return Some(format!("records no hash of the affected path {p}"));
        }
    }
    let stale: Vec<&str> = ev.path_hashes.iter().filter(|(p, h)| at.path_hash(p) != **h).map(|(p, _)| p.as_str()).collect();
    if !stale.is_empty() {
        return Some(format!("is stale ({} differ from what was verified)", stale.join(", ")));
    }
    if let (Some(c), false) = (&ev.commit, ev.dirty)
        && let Some(tree) = Oid::from_str(c).ok().and_then(|o| git.find_commit(o).ok()).and_then(|c| c.tree().ok())
    {
        let there = View::Tree(git, &tree);
        if ev.path_hashes.iter().any(|(p, h)| there.path_hash(p) != *h) {
            return Some(format!("records hashes that commit {} it names does not have", &c[..c.len().min(10)]));
        }
    }
    None
}

/// Whether the record contradicts itself: a check not passed, a verdict that does not follow from
/// its ending and output, counts that do not add up.
fn inconsistent(ev: &Evidence) -> Option<String> {
    if ev.checks.is_empty() {
        return Some("records no check".into());
    }
    let passed = ev.checks.iter().filter(|c| c.passed).count();
    if !ev.all_passed || passed != ev.checks.len() || ev.failed_checks != 0 {
        return Some("records failing checks".into());
    }
    if ev.total_checks != ev.checks.len() || ev.passed_checks != passed {
        return Some("has counts that do not match its checks".into());
    }
    for c in &ev.checks {
        let exit = c.ending.as_deref().and_then(|e| e.strip_prefix("exit ")).and_then(|n| n.parse::<i32>().ok());
        let follows = match exit {
            Some(code) if code == c.actual => verify::judge(crate::exec::process::Ending::Exited(code), &c.output).0,
            _ => false,
        };
        if !follows || c.expected != 0 {
            return Some(format!("says check `{}` passed, which its exit code and output do not bear out", c.name));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(output: &str, actual: i32) -> Evidence {
        let mut ev: Evidence = serde_json::from_value(serde_json::json!({
            "issue_id": "E-01", "lane": "E", "timestamp": "t", "all_passed": true,
            "passed_checks": 1, "failed_checks": 0, "total_checks": 1, "confidence_score": 100,
            "checks": [{"name": "c", "command": "true", "expected": 0, "actual": actual, "passed": true,
                        "output": output, "ending": format!("exit {actual}")}],
            "metadata": {"verifier": "git-lanes", "version": "t", "auto_corrected": false}
        }))
        .unwrap();
        ev.seal = Some(ev.compute_seal());
        ev
    }

    #[test]
    fn a_record_must_agree_with_itself() {
        assert_eq!(inconsistent(&record("", 0)), None);
        assert_eq!(inconsistent(&record("PASS\n", 1)), None, "PASS decides");
        assert!(inconsistent(&record("", 1)).unwrap().contains("do not bear out"));
        assert!(inconsistent(&record("FAIL\n", 0)).unwrap().contains("do not bear out"));
        let mut ev = record("", 0);
        ev.checks[0].ending = Some("timed out after 1s".into());
        assert!(inconsistent(&ev).is_some());
        let mut ev = record("", 0);
        ev.checks.clear();
        assert!(inconsistent(&ev).is_some());
    }

    /// A repository folder with one fixed file and an issue whose check is `grep -q fixed f.txt`.
    fn setup() -> (tempfile::TempDir, Repository, Issue) {
        let d = tempfile::tempdir().unwrap();
        let git = Repository::init(d.path()).unwrap();
        std::fs::write(d.path().join("f.txt"), "fixed\n").unwrap();
        let text = "---\nissue_id: \"E-01\"\nlane: \"E\"\nseverity: 5\nseverity_level: \"MEDIUM\"\ntype_tags: [\"t\"]\nstatus: \"RESOLVED\"\naffected_paths: [\"f.txt\"]\n---\n\n# [LANE E] Issue E-01: t\n\n## Verification Commands\n\n```bash\ngrep -q fixed f.txt\n```\n";
        let issue = Issue::parse(Path::new("issues/E/E-01.md"), text.as_bytes().to_vec()).unwrap();
        (d, git, issue)
    }

    fn genuine(root: &Path) -> Evidence {
        let mut ev = record("", 0);
        ev.checks[0].command = "grep -q fixed f.txt".into();
        ev.path_hashes = evidence::hash_paths(root, &["f.txt".to_string()]);
        ev.seal = Some(ev.compute_seal());
        ev
    }

    #[test]
    fn evidence_must_be_of_this_issue_its_checks_and_its_files() {
        let (d, git, issue) = setup();
        let at = View::Disk(d.path());
        assert_eq!(problem_of(&git, &at, &issue, &genuine(d.path())), None);
        let reseal = |mut ev: Evidence| {
            ev.seal = Some(ev.compute_seal());
            problem_of(&git, &at, &issue, &ev).unwrap()
        };
        let mut ev = genuine(d.path());
        ev.issue_id = "E-02".into();
        assert!(reseal(ev).contains("is evidence for E-02"));
        let mut ev = genuine(d.path());
        ev.checks[0].command = "true".into();
        assert!(reseal(ev).contains("ran other checks"));
        let mut ev = genuine(d.path());
        ev.path_hashes.clear();
        assert!(reseal(ev).contains("records no hash of the affected path f.txt"));
        let mut ev = genuine(d.path());
        ev.metadata.verifier = "verify_issue.py".into();
        assert!(reseal(ev).contains("was not written by git-lanes"));
        let ev = genuine(d.path());
        std::fs::write(d.path().join("f.txt"), "fixed, then changed\n").unwrap();
        assert!(problem_of(&git, &at, &issue, &ev).unwrap().contains("is stale (f.txt"));
    }

    #[test]
    fn a_hand_edit_breaks_the_seal() {
        let mut ev = record("", 0);
        assert!(ev.seal_matches());
        ev.all_passed = false;
        assert!(!ev.seal_matches());
        let json = serde_json::to_string_pretty(&record("out", 0)).unwrap();
        let back: Evidence = serde_json::from_str(&json).unwrap();
        assert!(back.seal_matches(), "a written record reads back sealed");
        let edited: Evidence = serde_json::from_str(&json.replace("\"out\"", "\"PASS\"")).unwrap();
        assert!(!edited.seal_matches());
    }
}
