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

use crate::error::{Error, Result};
use crate::fsutil;

/// One check's record.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CheckRecord {
    pub name: String,
    pub command: String,
    /// Expected exit code (0).
    pub expected: i32,
    /// Actual exit code (-1 when killed or timed out).
    pub actual: i32,
    pub passed: bool,
    /// Output, capped and with secrets redacted.
    pub output: String,
    pub duration_ms: u64,
    /// How the command ended (`exit 0`, `timed out after 30s`); an extension.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ending: Option<String>,
}

/// The `metadata` block.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
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
}

impl Evidence {
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
    crate::names::escapes_repository(rel).is_none().then_some(())?;
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
    crate::names::check_lane(&ev.lane).map_err(|m| Error::usage(m, None))?;
    crate::names::check_id(&ev.issue_id).map_err(|m| Error::usage(m, None))?;
    let dir = evidence_dir.join(&ev.lane);
    let mut rel = dir.join(format!("{}_{stamp}.json", ev.issue_id));
    let mut n = 2;
    while root.join(&rel).exists() {
        rel = dir.join(format!("{}_{stamp}_{n}.json", ev.issue_id));
        n += 1;
    }
    let json = serde_json::to_string_pretty(ev).map_err(|e| Error::usage(format!("could not serialise evidence: {e}"), None))?;
    fsutil::write_under(root, &rel, format!("{json}\n").as_bytes())?;
    Ok(rel)
}

/// The newest evidence file of an issue (by file name, which sorts by time), parsed.
pub fn latest(root: &Path, evidence_dir: &Path, lane: &str, id: &str) -> Option<(PathBuf, Evidence)> {
    let dir = evidence_dir.join(lane);
    let prefix = format!("{id}_");
    let mut names: Vec<String> = std::fs::read_dir(root.join(&dir))
        .ok()?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&prefix) && n.ends_with(".json") && n[prefix.len()..].starts_with(|c: char| c.is_ascii_digit()))
        .collect();
    names.sort_by(|a, b| crate::names::natural_cmp(a, b));
    let name = names.pop()?;
    let rel = dir.join(name);
    let ev = serde_json::from_slice(&std::fs::read(root.join(&rel)).ok()?).ok()?;
    Some((rel, ev))
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
