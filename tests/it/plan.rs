//! End-to-end tests of `git lanes plan` and `git lanes run --dry-run` on temporary repositories,
//! with an isolated environment (HOME and TMPDIR in the test's folder, no system git config,
//! fixed author and dates).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;
use sha2::{Digest, Sha256};

struct Env {
    _dir: tempfile::TempDir,
    root: PathBuf,
    repo: PathBuf,
    tmp: PathBuf,
}

fn issue_md(id: &str, deps: &[&str], checks: &[&str]) -> String {
    let lane = id.split('-').next().unwrap();
    format!(
        "---\nissue_id: \"{id}\"\nlane: \"{lane}\"\nseverity: 5\nstatus: \"OPEN\"\naffected_paths: [src/{id}.txt]\ndepends_on: [{}]\n---\n\n# [LANE {lane}] Issue {id}: Fix {id}\n\n## Problem Description\n\nBroken.\n\n## Verification Commands\n\n```bash\n{}\n```\n\n- **Status:** OPEN\n",
        deps.join(", "),
        checks.join("\n")
    )
}

/// A committed repository holding `files` (path, content).
fn setup(files: &[(&str, String)]) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let repo = root.join("repo");
    let tmp = root.join("tmp");
    std::fs::create_dir_all(root.join("home")).unwrap();
    std::fs::create_dir_all(&tmp).unwrap();
    let git = git2::Repository::init(&repo).unwrap();
    let mut all: Vec<(&str, String)> = vec![("SAF_ISSUE_CATALOG.md", "# Issue Catalog\n\n## Open Issues by Lane\n".into())];
    all.extend(files.iter().cloned());
    for (p, content) in &all {
        let path = repo.join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    let mut index = git.index().unwrap();
    index.add_all(["*"], git2::IndexAddOption::DEFAULT, None).unwrap();
    index.write().unwrap();
    let tree = git.find_tree(index.write_tree().unwrap()).unwrap();
    let sig = git2::Signature::new("Test", "test@example.com", &git2::Time::new(1_700_000_000, 0)).unwrap();
    git.commit(Some("HEAD"), &sig, &sig, "initial", &tree, &[]).unwrap();
    Env { _dir: dir, root, repo, tmp }
}

fn lanes(env: &Env, args: &[&str]) -> assert_cmd::assert::Assert {
    Command::cargo_bin("git-lanes")
        .unwrap()
        .env_clear()
        .envs(crate::common::hermetic_env(&env.root.join("home")))
        .env("TMPDIR", &env.tmp)
        .current_dir(&env.repo)
        .args(args)
        .timeout(Duration::from_secs(60))
        .assert()
}

fn json(env: &Env, args: &[&str]) -> Value {
    let out = lanes(env, args).success().get_output().stdout.clone();
    serde_json::from_slice(&out).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out)))
}

/// sha256 of every file (and symlink target) under `dir`, `.git` included, by relative path.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, String> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            let rel = p.strip_prefix(base).unwrap().to_path_buf();
            let t = e.file_type().unwrap();
            if t.is_symlink() {
                out.insert(rel, format!("link:{}", std::fs::read_link(&p).unwrap().display()));
            } else if t.is_dir() {
                out.insert(rel, "dir".into());
                walk(base, &p, out);
            } else {
                out.insert(rel, format!("{:x}", Sha256::digest(std::fs::read(&p).unwrap())));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn refs(repo: &Path) -> Vec<String> {
    let git = git2::Repository::open(repo).unwrap();
    let mut v: Vec<String> = git.references().unwrap().map(|r| r.unwrap().name().unwrap().to_string()).collect();
    v.sort();
    v
}

#[test]
fn dependency_cycle_is_reported_not_looped_on() {
    let env = setup(&[
        ("issues/E/E-1.md", issue_md("E-1", &["E-2"], &["true"])),
        ("issues/E/E-2.md", issue_md("E-2", &["E-1"], &["true"])),
        ("issues/E/E-3.md", issue_md("E-3", &["E-1"], &["true"])),
        ("issues/E/E-4.md", issue_md("E-4", &[], &["true"])),
    ]);
    let v = json(&env, &["plan", "--json"]);
    let lane = &v["lanes"][0];
    assert_eq!(lane["issues"].as_array().unwrap().len(), 1);
    assert_eq!(lane["issues"][0]["id"], "E-4");
    let blocked = lane["blocked"].as_array().unwrap();
    assert_eq!(blocked.len(), 3, "{blocked:?}");
    assert_eq!(blocked[0]["reason"], "dependency cycle");
    assert_eq!(blocked[1]["reason"], "dependency cycle");
    assert_eq!(blocked[2]["waiting_on"], serde_json::json!(["E-1"]));
    lanes(&env, &["plan"]).success().stdout(predicates::str::contains("E-1").and(predicates::str::contains("dependency cycle")));
}

#[test]
fn dry_run_leaves_the_repository_byte_identical() {
    let env = setup(&[
        ("issues/E/E-1.md", issue_md("E-1", &[], &["test -f src/E-1.txt && echo PASS || echo FAIL"])),
        ("issues/M/M-1.md", issue_md("M-1", &[], &["grep -q fixed README.md"])),
        ("README.md", "hello\n".into()),
    ]);
    // A dirty, untracked file must not be touched either.
    std::fs::write(env.repo.join("untracked.txt"), "keep me\n").unwrap();
    let before = snapshot(&env.repo);
    let refs_before = refs(&env.repo);
    lanes(&env, &["run", "--dry-run", "--show-work-order"]).success();
    json(&env, &["run", "--dry-run", "--json"]);
    assert_eq!(snapshot(&env.repo), before);
    assert_eq!(refs(&env.repo), refs_before);
    assert!(!env.repo.join(".git/lanes").exists());
    // `plan` keeps its summary cache and remembered answer, like `status`, under
    // `.git/lanes/cache/` (as `git status` refreshes the index), and writes nothing else.
    json(&env, &["plan", "--json"]);
    let mut after = snapshot(&env.repo);
    after.retain(|path, _| !path.starts_with(".git/lanes"));
    assert_eq!(after, before);
    assert_eq!(refs(&env.repo), refs_before);
    // The export of HEAD was made outside the repository and removed.
    assert_eq!(std::fs::read_dir(&env.tmp).unwrap().count(), 0);
}

#[test]
fn dangerous_check_is_flagged_and_not_run() {
    let victim_dir = tempfile::tempdir().unwrap();
    let victim = victim_dir.path().join("victim");
    std::fs::write(&victim, "precious\n").unwrap();
    let check = format!("rm -f {} && echo PASS", victim.display());
    let env = setup(&[("issues/E/E-1.md", issue_md("E-1", &[], &[&check]))]);
    let v = json(&env, &["run", "--dry-run", "--json"]);
    let c = &v["lanes"][0]["verdict_preview"][0]["checks"][0];
    assert_eq!(c["command"], check.as_str());
    assert_eq!(c["currently_passing"], Value::Null);
    assert_eq!(c["findings"][0]["kind"], "deletes_outside_worktree");
    lanes(&env, &["run", "--dry-run"]).success().stdout(predicates::str::contains("⚠").and(predicates::str::contains("not run")));
    assert!(victim.exists(), "the flagged check must never run");
}

#[test]
fn json_contract_fields_are_present() {
    let env = setup(&[
        ("issues/E/E-1.md", issue_md("E-1", &[], &["test -f src/E-1.txt && echo PASS || echo FAIL", "true"])),
        ("issues/E/E-2.md", issue_md("E-2", &["E-1"], &["true"])),
        ("issues/M/M-1.md", issue_md("M-1", &[], &[""])),
    ]);
    let plan = json(&env, &["plan", "--json", "--max-issues", "3"]);
    assert_eq!(plan["schema_version"], 1);
    let e = &plan["lanes"][0];
    assert_eq!(e["lane"], "E");
    assert_eq!(e["max_issues"], 3);
    for key in ["id", "complexity", "title"] {
        assert!(e["issues"][0].get(key).is_some(), "issues[].{key}: {e}");
    }
    assert_eq!(e["issues"][0]["complexity"], "LOW");
    assert_eq!(e["blocked"][0]["id"], "E-2");
    assert_eq!(e["blocked"][0]["waiting_on"], serde_json::json!(["E-1"]));

    let dry = json(&env, &["run", "--dry-run", "--json", "--lane", "E"]);
    assert_eq!(dry["schema_version"], 1);
    assert_eq!(dry["lanes"].as_array().unwrap().len(), 1);
    let e = &dry["lanes"][0];
    assert_eq!(e["lane"], "E");
    let wo = &e["work_order"];
    assert!(wo["work_order"]["id"].as_str().unwrap().starts_with("WO-"), "{wo}");
    assert!(wo["work_order"]["id"].as_str().unwrap().ends_with("-E"), "{wo}");
    assert_eq!(wo["work_order"]["task_type"], "fix_issue");
    assert_eq!(wo["work_order"]["expected_outputs"][0]["acceptance_criteria"][0]["testable"], true);
    assert_eq!(wo["issues"][0]["id"], "E-1");
    assert!(wo["metadata"]["created_at"].is_string());
    let checks = &e["verdict_preview"][0]["checks"];
    assert_eq!(e["verdict_preview"][0]["id"], "E-1");
    assert_eq!(checks[0]["command"], "test -f src/E-1.txt && echo PASS || echo FAIL");
    assert_eq!(checks[0]["currently_passing"], false, "the issue reproduces");
    assert_eq!(checks[1]["currently_passing"], true, "already passing: suspicious");
    assert_eq!(checks[0]["findings"], serde_json::json!([]));
    // An idle lane is reported with a null work order.
    let m = json(&env, &["run", "--dry-run", "--json", "--lane", "M"]);
    assert_eq!(m["lanes"][0]["verdict_preview"][0]["checks"], serde_json::json!([]));
    assert_eq!(m["lanes"][0]["verdict_preview"][0]["unverifiable"], true);

    let human = lanes(&env, &["run", "--dry-run"]).success().get_output().stdout.clone();
    let human = String::from_utf8(human).unwrap();
    assert!(human.contains("✗ test -f src/E-1.txt"), "{human}");
    assert!(human.contains("✓ true"), "{human}");
}

#[test]
fn unknown_lane_is_a_usage_error() {
    let env = setup(&[("issues/E/E-1.md", issue_md("E-1", &[], &["true"]))]);
    lanes(&env, &["plan", "--lane", "nope"]).code(2);
    lanes(&env, &["run", "--dry-run", "--lane", "nope"]).code(2);
}
