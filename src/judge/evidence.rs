//! Verification evidence: JSON in the seed's schema (`examples/verification-evidence.json`) under
//! `LogBook/verification/evidence/<LANE>/<ID>_<YYYYmmdd_HHMMSS>.json`, plus what makes it
//! trustworthy: the commit it ran on, whether the tree was dirty, and the sha256 of every affected
//! path. Evidence whose affected paths changed since is **stale** and counts as missing.
//!
//! Hash of a path: a file's sha256 of its bytes; a directory's sha256 over its files' lines
//! `<relative path>\0<sha256>\n` in byte order of the path (`.git` skipped); `null` when the path
//! does not exist. The same definition is computed from git trees by `check`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::base::error::{Error, Result};
use crate::base::fsutil;

/// One check's record.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CheckRecord {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub command: String,
    /// Expected exit code (0).
    #[serde(default)]
    pub expected: i32,
    /// Actual exit code (-1 when killed or timed out; the seed writes -2 for a malformed one).
    #[serde(default)]
    pub actual: i32,
    pub passed: bool,
    /// Output, capped and with secrets redacted.
    #[serde(default)]
    pub output: String,
    #[serde(default)]
    pub duration_ms: u64,
    /// How the command ended (`exit 0`, `timed out after 30s`); an extension.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ending: Option<String>,
    /// How the check was kept from writing git's data (`read_only_mount`, `landlock_rules`,
    /// `no_git_folder`, `put_back`); an extension.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_shield: Option<String>,
}

/// The `metadata` block (the seed's `verify_issue.py` writes none: `verifier` is then
/// `unknown`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Metadata {
    pub verifier: String,
    pub version: String,
    pub auto_corrected: bool,
}

/// One evidence file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Evidence {
    pub issue_id: String,
    pub lane: String,
    pub timestamp: String,
    pub all_passed: bool,
    pub passed_checks: usize,
    pub failed_checks: usize,
    pub total_checks: usize,
    pub confidence_score: u32,
    #[serde(default)]
    pub verification_pattern: Option<String>,
    #[serde(default)]
    pub verification_depth: Option<String>,
    #[serde(default)]
    pub affected_paths: Vec<String>,
    #[serde(default)]
    pub checks: Vec<CheckRecord>,
    #[serde(default)]
    pub metadata: Metadata,
    /// Extensions: absent in seed files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    #[serde(default)]
    pub dirty: bool,
    /// sha256 per affected path (`None` = the path did not exist).
    #[serde(default)]
    pub path_hashes: BTreeMap<String, Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// sha256 of the record without this field, set when git-lanes writes the file (see
    /// [`Evidence::seal_matches`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seal: Option<String>,
}

impl Default for Metadata {
    fn default() -> Metadata {
        Metadata { verifier: "unknown".into(), version: String::new(), auto_corrected: false }
    }
}

impl Evidence {
    /// Whether git-lanes wrote it (it then records the hash of every affected path).
    pub fn has_path_hashes(&self) -> bool {
        !self.path_hashes.is_empty() || self.commit.is_some()
    }

    /// The seal of this record: the sha256 of its JSON with `seal` left out. It holds no
    /// secret: anyone can compute it, so it proves no authorship; what it catches is a hand
    /// edit (`all_passed: true`, a check's exit code) that did not also recompute it.
    pub fn compute_seal(&self) -> String {
        let mut bare = self.clone();
        bare.seal = None;
        sha256_hex(&serde_json::to_vec(&bare).unwrap_or_default())
    }

    /// Whether the record carries the seal of its own content.
    pub fn seal_matches(&self) -> bool {
        self.seal.as_deref() == Some(self.compute_seal().as_str())
    }

    /// Metadata for evidence written by this build.
    pub fn our_metadata() -> Metadata {
        Metadata { verifier: "git-lanes".into(), version: env!("CARGO_PKG_VERSION").into(), auto_corrected: false }
    }
}

/// sha256 hex of bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let d = Sha256::digest(bytes);
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// The hash of `rel` under `root` (file, directory or missing), as defined in the module docs.
pub fn path_hash(root: &Path, rel: &str) -> Option<String> {
    // An affected path must name something inside the repository (`validate` refuses the
    // others); `/etc/hostname` or `../x` is never read, and never hashed into evidence.
    crate::files::names::escapes_repository(rel).is_none().then_some(())?;
    let p = root.join(rel.trim_end_matches('/'));
    let meta = std::fs::metadata(&p).ok()?;
    if meta.is_file() {
        return std::fs::read(&p).ok().map(|b| sha256_hex(&b));
    }
    let mut files = Vec::new();
    walk(&p, &p, &mut files);
    Some(dir_hash(files))
}

/// Directory hash from `(relative path, sha256)` pairs (used by `check` on git trees).
pub fn dir_hash(mut files: Vec<(String, String)>) -> String {
    files.sort();
    let mut h = Sha256::new();
    for (rel, hash) in files {
        h.update(rel.as_bytes());
        h.update([0]);
        h.update(hash.as_bytes());
        h.update(b"\n");
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn walk(base: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let p = e.path();
        if e.file_name() == ".git" {
            continue;
        }
        match e.file_type() {
            Ok(t) if t.is_dir() => walk(base, &p, out),
            Ok(t) if t.is_file() => {
                if let (Ok(rel), Ok(bytes)) = (p.strip_prefix(base), std::fs::read(&p)) {
                    out.push((rel.to_string_lossy().into_owned(), sha256_hex(&bytes)));
                }
            }
            _ => {}
        }
    }
}

/// Hashes of all affected paths.
pub fn hash_paths(root: &Path, paths: &[String]) -> BTreeMap<String, Option<String>> {
    paths.iter().map(|p| (p.clone(), path_hash(root, p))).collect()
}

/// Affected paths whose content differs from the evidence (empty = fresh). Evidence without
/// recorded hashes (seed files) is stale when it names any affected path.
pub fn stale_paths(root: &Path, ev: &Evidence) -> Vec<String> {
    if ev.path_hashes.is_empty() {
        return ev.affected_paths.clone();
    }
    ev.path_hashes.iter().filter(|(p, h)| path_hash(root, p) != **h).map(|(p, _)| p.clone()).collect()
}

/// `<evidence dir>/<LANE>/<ID>_<YYYYmmdd_HHMMSS>.json`; a numeric suffix keeps two runs in the
/// same second apart.
pub fn write(root: &Path, evidence_dir: &Path, ev: &Evidence, stamp: &str) -> Result<PathBuf> {
    crate::files::names::check_lane(&ev.lane).map_err(|m| Error::usage(m, None))?;
    crate::files::names::check_id(&ev.issue_id).map_err(|m| Error::usage(m, None))?;
    let dir = evidence_dir.join(&ev.lane);
    let mut rel = dir.join(format!("{}_{stamp}.json", ev.issue_id));
    let mut n = 2;
    while root.join(&rel).exists() {
        rel = dir.join(format!("{}_{stamp}_{n}.json", ev.issue_id));
        n += 1;
    }
    let mut ev = ev.clone();
    ev.seal = Some(ev.compute_seal());
    let json = serde_json::to_string_pretty(&ev).map_err(|e| Error::internal(format!("could not serialise evidence: {e}")))?;
    fsutil::write_under(root, &rel, format!("{json}\n").as_bytes())?;
    Ok(rel)
}

/// Evidence file names of an issue (`<ID>_<digits…>.json`), oldest first (names sort by time).
/// Only the matching names are copied.
pub fn sorted_names<S: AsRef<str>>(names: impl IntoIterator<Item = S>, id: &str) -> Vec<String> {
    let prefix = format!("{id}_");
    let mut names: Vec<String> = names
        .into_iter()
        .filter(|n| {
            let n = n.as_ref();
            n.starts_with(&prefix) && n.ends_with(".json") && n[prefix.len()..].starts_with(|c: char| c.is_ascii_digit())
        })
        .map(|n| n.as_ref().to_string())
        .collect();
    names.sort_by(|a, b| crate::files::names::natural_cmp(a, b));
    names
}

/// The newest evidence file of an issue that parses (by file name, which sorts by time): a newer
/// file that is not evidence JSON does not hide an older valid one.
pub fn latest(root: &Path, evidence_dir: &Path, lane: &str, id: &str) -> Option<(PathBuf, Evidence)> {
    latest_among(root, evidence_dir, lane, &lane_names(root, evidence_dir, lane)?, id)
}

/// The file names in a lane's evidence folder (`None` when there is no such folder).
pub fn lane_names(root: &Path, evidence_dir: &Path, lane: &str) -> Option<Vec<String>> {
    Some(
        std::fs::read_dir(root.join(evidence_dir).join(lane))
            .ok()?
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
    )
}

/// [`latest`] among `names`, the lane folder's file names as [`lane_names`] gives them.
pub fn latest_among(root: &Path, evidence_dir: &Path, lane: &str, names: &[String], id: &str) -> Option<(PathBuf, Evidence)> {
    let dir = evidence_dir.join(lane);
    let names = sorted_names(names, id);
    names.into_iter().rev().find_map(|name| {
        let rel = dir.join(name);
        let ev: Evidence = serde_json::from_slice(&std::fs::read(root.join(&rel)).ok()?).ok()?;
        Some((rel, ev))
    })
}

/// For evidence without path hashes (written by the seed's `verify_issue.py`): which of `paths`
/// changed since the commit that added the evidence file. That commit is found in history: the
/// oldest first-parent ancestor of `at` (HEAD when `None`, i.e. the worktree) that still holds
/// the file's exact content. An evidence file not committed yet stands for the committed state
/// of its paths: it is fresh when those have no uncommitted change. In the worktree, a path with
/// uncommitted changes is stale.
pub fn foreign_stale_paths(git: &git2::Repository, at: Option<git2::Oid>, rel: &Path, paths: &[String]) -> Vec<String> {
    let start = match at {
        Some(c) => git.find_commit(c).ok(),
        None => git.head().ok().and_then(|h| h.peel_to_commit().ok()),
    };
    let Some(start) = start else { return paths.to_vec() };
    let Ok(start_tree) = start.tree() else { return paths.to_vec() };
    let in_tree = start_tree.get_path(rel).ok().map(|e| e.id());
    let blob = match at {
        Some(_) => in_tree,
        None => git.workdir().and_then(|w| git2::Oid::hash_file(git2::ObjectType::Blob, w.join(rel)).ok()),
    };
    let mut added: Option<git2::Commit<'_>> = None;
    if blob.is_some() && blob == in_tree {
        let mut c = start.clone();
        loop {
            let parent = c.parent(0).ok();
            match parent {
                Some(p) if p.tree().ok().and_then(|t| t.get_path(rel).ok()).map(|e| e.id()) == blob => c = p,
                _ => break,
            }
        }
        added = Some(c);
    }
    let base_tree = match &added {
        Some(c) => c.tree().ok(),
        None if at.is_none() => Some(start_tree.clone()),
        None => None,
    };
    let Some(base_tree) = base_tree else { return paths.to_vec() };
    let mut stale: Vec<String> =
        paths.iter().filter(|p| tree_path_hash(git, &base_tree, p) != tree_path_hash(git, &start_tree, p)).cloned().collect();
    if at.is_none() {
        for p in paths {
            if !stale.contains(p) && has_uncommitted_changes(git, p) {
                stale.push(p.clone());
            }
        }
    }
    stale
}

fn has_uncommitted_changes(git: &git2::Repository, path: &str) -> bool {
    let mut opts = git2::StatusOptions::new();
    opts.include_untracked(true).recurse_untracked_dirs(true).include_ignored(false).exclude_submodules(true);
    let p = path.trim_end_matches('/');
    opts.pathspec(p).pathspec(format!("{p}/"));
    crate::git::repo::statuses(git, &mut opts).map(|s| !s.is_empty()).unwrap_or(true)
}

/// The hash [`path_hash`] computes on disk, from a tree: a blob's sha256, a directory's
/// `dir_hash` over its blobs, `None` when missing.
pub fn tree_path_hash(git: &git2::Repository, tree: &git2::Tree, rel: &str) -> Option<String> {
    let rel = rel.trim_end_matches('/');
    let entry = tree.get_path(Path::new(rel)).ok()?;
    match entry.kind()? {
        git2::ObjectType::Blob => git.find_blob(entry.id()).ok().map(|b| sha256_hex(b.content())),
        git2::ObjectType::Tree => {
            let sub = git.find_tree(entry.id()).ok()?;
            let mut files = Vec::new();
            let mut cache: std::collections::HashMap<git2::Oid, String> = std::collections::HashMap::new();
            sub.walk(git2::TreeWalkMode::PreOrder, |dir, e| {
                if e.kind() == Some(git2::ObjectType::Blob)
                    && let Some(name) = e.name()
                {
                    let h = cache
                        .entry(e.id())
                        .or_insert_with(|| git.find_blob(e.id()).map(|b| sha256_hex(b.content())).unwrap_or_default())
                        .clone();
                    files.push((format!("{dir}{name}"), h));
                }
                git2::TreeWalkResult::Ok
            })
            .ok()?;
            Some(dir_hash(files))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_seed_evidence() {
        let seed = r#"{"issue_id":"E-01","lane":"E","timestamp":"2026-01-04T12:30:15.407038","all_passed":true,"passed_checks":2,"failed_checks":0,"total_checks":2,"confidence_score":100,"verification_pattern":"infrastructure_check","verification_depth":"DEEP","affected_paths":["src/support/"],"checks":[{"name":"directory_exists","command":"test -d src/support","expected":0,"actual":0,"passed":true,"output":"PASS","duration_ms":12}],"metadata":{"verifier":"verify_issue.py","version":"1.0","auto_corrected":false}}"#;
        let ev: Evidence = serde_json::from_str(seed).unwrap();
        assert_eq!(ev.checks[0].name, "directory_exists");
        assert!(ev.path_hashes.is_empty());
    }

    #[test]
    fn staleness_follows_content() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("src/a")).unwrap();
        std::fs::write(d.path().join("src/a/x.txt"), "1").unwrap();
        std::fs::write(d.path().join("f.txt"), "1").unwrap();
        let paths = vec!["src/a/".to_string(), "f.txt".to_string(), "missing".to_string()];
        let mut ev: Evidence = serde_json::from_str(r#"{"issue_id":"E-01","lane":"E","timestamp":"t","all_passed":true,"passed_checks":0,"failed_checks":0,"total_checks":0,"confidence_score":100,"metadata":{"verifier":"x","version":"1","auto_corrected":false}}"#).unwrap();
        ev.path_hashes = hash_paths(d.path(), &paths);
        assert!(stale_paths(d.path(), &ev).is_empty());
        std::fs::write(d.path().join("src/a/x.txt"), "2").unwrap();
        assert_eq!(stale_paths(d.path(), &ev), ["src/a/"]);
        let rel = write(d.path(), Path::new("ev"), &ev, "20260101_000000").unwrap();
        let rel2 = write(d.path(), Path::new("ev"), &ev, "20260101_000000").unwrap();
        assert_ne!(rel, rel2);
        let (latest_rel, _) = latest(d.path(), Path::new("ev"), "E", "E-01").unwrap();
        assert_eq!(latest_rel, rel2);
        assert_eq!(dir_hash(vec![("x.txt".into(), sha256_hex(b"2"))]), path_hash(d.path(), "src/a").unwrap());
    }
}
