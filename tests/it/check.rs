//! End-to-end tests of `git lanes check` and the pre-push hook: real `git push` to a real bare
//! remote, the hook installed with `git lanes hooks install`, the built binary first on PATH.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use git_lanes::judge::evidence::{Evidence, hash_paths};

const CATALOG: &str = "# Issue Catalog

> **Last Updated:** 2026-01-01 00:00:00

## Summary

| Total | Resolved | Open | Progress |
|-------|----------|------|----------|

## Progress by Lane

| Lane | Total | Resolved | Open | % |
|------|-------|----------|------|---|

---

## Open Issues by Lane

### Lane E - Customer services

| ID | Title | Severity | Type Tags | Status |
|----|-------|----------|-----------|--------|
<!-- LANE_E_ISSUES -->
";

/// A working repository with a bare remote and an isolated environment.
struct Env {
    tmp: tempfile::TempDir,
    repo: PathBuf,
    remote: PathBuf,
    side: PathBuf,
    path: String,
}

struct Out {
    ok: bool,
    code: Option<i32>,
    text: String,
}

impl Env {
    fn new() -> Env {
        let tmp = tempfile::tempdir().unwrap();
        let repo = tmp.path().join("repo");
        let remote = tmp.path().join("remote.git");
        let side = tmp.path().join("side");
        for d in [&repo, &side, &tmp.path().join("home")] {
            std::fs::create_dir_all(d).unwrap();
        }
        let bin = assert_cmd::cargo::cargo_bin("git-lanes");
        let path = format!("{}:{}", bin.parent().unwrap().display(), std::env::var("PATH").unwrap_or_default());
        let env = Env { tmp, repo, remote, side, path };
        env.git_in(env.tmp.path(), &["init", "-q", "--bare", "-b", "main", "remote.git"]);
        env.git(&["init", "-q", "-b", "main"]);
        env.git(&["remote", "add", "origin", env.remote.to_str().unwrap()]);
        env.write("SAF_ISSUE_CATALOG.md", CATALOG);
        env.write("src/keep.txt", "keep\n");
        env.write_issue("E-01", "OPEN", "Missing retention policy");
        env.write_issue("E-02", "OPEN", "Missing escalation matrix");
        env.lanes(&["sync"]).assert_ok();
        env.commit_all("initial");
        env
    }

    fn cmd(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        let home = self.tmp.path().join("home");
        c.current_dir(&self.repo)
            .env_clear()
            .envs(crate::common::hermetic_env(&home))
            .env("PATH", &self.path)
            .env("XDG_CONFIG_HOME", &home);
        c
    }

    fn run(mut c: Command) -> Out {
        let o = c.output().unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
        Out { ok: o.status.success(), code: o.status.code(), text }
    }

    fn git_in(&self, dir: &Path, args: &[&str]) -> Out {
        let mut c = self.cmd("git");
        c.current_dir(dir).args(args);
        let o = Self::run(c);
        assert!(o.ok, "git {args:?} failed: {}", o.text);
        o
    }

    fn git(&self, args: &[&str]) -> Out {
        self.git_in(&self.repo.clone(), args)
    }

    fn try_git(&self, args: &[&str]) -> Out {
        let mut c = self.cmd("git");
        c.args(args);
        Self::run(c)
    }

    fn lanes(&self, args: &[&str]) -> Out {
        let mut c = self.cmd(assert_cmd::cargo::cargo_bin("git-lanes").to_str().unwrap());
        c.args(args);
        Self::run(c)
    }

    fn write(&self, rel: &str, text: &str) {
        let p = self.repo.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    /// An issue whose verification command has a side effect outside the repository.
    fn write_issue(&self, id: &str, status: &str, title: &str) {
        let side = self.side.join("SIDE_EFFECT");
        self.write(
            &format!("issues/E/{id}.md"),
            &format!(
                "---\nissue_id: \"{id}\"\nlane: \"E\"\nseverity: 7\nseverity_level: \"HIGH\"\ntype_tags: [\"policy\"]\nstatus: \"{status}\"\naffected_paths:\n  - src/{id}.txt\n---\n\n# [LANE E] Issue {id}: {title}\n\n## Verification Commands\n\n```bash\ntouch {} 2>/dev/null; grep -q fixed src/{id}.txt && echo \"PASS\" || echo \"FAIL\"\n```\n\n- **Status:** {status}\n",
                side.display()
            ),
        );
    }

    /// Evidence for `id` as `git lanes verify` writes it, with the current hashes.
    fn write_evidence(&self, id: &str, passed: bool) {
        let paths = vec![format!("src/{id}.txt")];
        let mut ev: Evidence = serde_json::from_value(serde_json::json!({
            "issue_id": id, "lane": "E", "timestamp": "2026-01-01T00:00:00", "all_passed": passed,
            "passed_checks": 1, "failed_checks": 0, "total_checks": 1, "confidence_score": 100,
            "affected_paths": paths,
            "metadata": {"verifier": "git-lanes", "version": "test", "auto_corrected": false}
        }))
        .unwrap();
        ev.path_hashes = hash_paths(&self.repo, &paths);
        self.write(&format!("LogBook/verification/evidence/E/{id}_20260101_000000.json"), &serde_json::to_string_pretty(&ev).unwrap());
    }

    /// `git lanes verify <id>` as a user runs it (its check leaves a side effect, cleared here:
    /// the side effect stands for what the hook must never run).
    fn verify(&self, id: &str) {
        let o = self.lanes(&["verify", id]);
        assert!(o.code == Some(0) || o.code == Some(4), "{}", o.text);
        let _ = std::fs::remove_file(self.side.join("SIDE_EFFECT"));
    }

    /// The evidence files of `id`, oldest first.
    fn evidence_files(&self, id: &str) -> Vec<String> {
        let dir = self.repo.join("LogBook/verification/evidence/E");
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(&format!("{id}_")))
            .map(|n| format!("LogBook/verification/evidence/E/{n}"))
            .collect();
        v.sort();
        v
    }

    fn commit_all(&self, msg: &str) {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", msg]);
    }

    fn push(&self, args: &[&str]) -> Out {
        let mut a = vec!["push", "origin"];
        a.extend_from_slice(args);
        self.try_git(&a)
    }

    fn remote_ref(&self, name: &str) -> Option<String> {
        let mut c = self.cmd("git");
        c.args(["--git-dir", self.remote.to_str().unwrap(), "rev-parse", "--verify", "-q", name]);
        let o = Self::run(c);
        o.ok.then(|| o.text.trim().to_string())
    }

    fn head(&self) -> String {
        self.git(&["rev-parse", "HEAD"]).text.trim().to_string()
    }

    fn side_effect_ran(&self) -> bool {
        self.side.join("SIDE_EFFECT").exists()
    }

    /// Installed and the initial state pushed (through the hook).
    fn installed() -> Env {
        let env = Env::new();
        env.lanes(&["hooks", "install"]).assert_ok();
        env.push(&["main"]).assert_ok();
        env
    }
}

impl Out {
    #[track_caller]
    fn assert_ok(&self) -> &Self {
        assert!(self.ok, "expected success, got {:?}:\n{}", self.code, self.text);
        self
    }
    #[track_caller]
    fn assert_refused(&self, needle: &str) -> &Self {
        assert!(!self.ok, "expected failure:\n{}", self.text);
        assert!(self.text.contains(needle), "expected `{needle}` in:\n{}", self.text);
        self
    }
}

#[test]
fn stale_catalog_is_refused_and_remote_ref_does_not_move() {
    let env = Env::installed();
    let before = env.remote_ref("main").unwrap();
    env.write_issue("E-02", "OPEN", "A new title for the escalation matrix");
    env.commit_all("retitle without sync");
    env.push(&["main"]).assert_refused("SAF_ISSUE_CATALOG.md:").assert_refused("run `git lanes sync`) [catalog]");
    assert_eq!(env.remote_ref("main").unwrap(), before);
    env.lanes(&["sync"]).assert_ok();
    env.commit_all("sync");
    env.push(&["main"]).assert_ok();
    assert_eq!(env.remote_ref("main").unwrap(), env.head());
    assert!(!env.side_effect_ran());
}

#[test]
fn hand_resolved_issue_is_refused_then_accepted_with_evidence() {
    let env = Env::installed();
    let before = env.remote_ref("main").unwrap();
    env.write_issue("E-01", "RESOLVED", "Missing retention policy");
    env.lanes(&["sync"]).assert_ok();
    env.commit_all("resolve by hand");
    env.push(&["main"])
        .assert_refused("E-01 becomes RESOLVED in commit")
        .assert_refused("without passing evidence written by git-lanes")
        .assert_refused("issues/E/E-01.md");
    assert_eq!(env.remote_ref("main").unwrap(), before);

    // Evidence added after the commit that set RESOLVED does not earn it.
    env.write("src/E-01.txt", "fixed\n");
    env.commit_all("fix");
    env.verify("E-01");
    env.commit_all("evidence afterwards");
    env.push(&["main"]).assert_refused("E-01 becomes RESOLVED in commit");

    // Done properly: the fix committed, verified, and the evidence committed with the status.
    env.git(&["reset", "-q", "--hard", &before]);
    env.write("src/E-01.txt", "fixed\n");
    env.commit_all("fix");
    env.verify("E-01");
    env.write_issue("E-01", "RESOLVED", "Missing retention policy");
    env.lanes(&["sync"]).assert_ok();
    env.lanes(&["check"]).assert_ok(); // the working tree: the evidence is new since HEAD
    env.commit_all("resolve E-01, verified");
    env.push(&["main"]).assert_ok();
    assert_eq!(env.remote_ref("main").unwrap(), env.head());
}

#[test]
fn a_hand_written_run_report_does_not_count() {
    let env = Env::installed();
    env.write_issue("E-02", "RESOLVED", "Missing escalation matrix");
    env.lanes(&["sync"]).assert_ok();
    env.write("LogBook/issue-fixing/runs/20260101-000000.md", "# Run\n\n| Issue | Verdict |\n|---|---|\n| E-02 | RESOLVED | ok |\n");
    env.commit_all("resolved by a run, says the report");
    env.push(&["main"]).assert_refused("E-02 becomes RESOLVED").assert_refused("a run report or older evidence does not count");
}

#[test]
fn evidence_edited_by_hand_does_not_count() {
    let env = Env::installed();
    // Verified before the fix: failing evidence, then edited to pass.
    env.verify("E-01");
    let rel = env.evidence_files("E-01").pop().unwrap();
    let text = std::fs::read_to_string(env.repo.join(&rel)).unwrap();
    assert!(text.contains("\"all_passed\": false"), "{text}");
    let forged = text
        .replace("\"all_passed\": false", "\"all_passed\": true")
        .replace("\"passed\": false", "\"passed\": true")
        .replace("\"passed_checks\": 0", "\"passed_checks\": 1")
        .replace("\"failed_checks\": 1", "\"failed_checks\": 0");
    env.write(&rel, &forged);
    env.write_issue("E-01", "RESOLVED", "Missing retention policy");
    env.lanes(&["sync"]).assert_ok();
    env.commit_all("resolve with edited evidence");
    env.push(&["main"]).assert_refused("was edited after git-lanes wrote it");

    // Without the seal: refused as well.
    let mut v: serde_json::Value = serde_json::from_str(&forged).unwrap();
    v.as_object_mut().unwrap().remove("seal");
    env.write(&rel, &serde_json::to_string_pretty(&v).unwrap());
    env.git(&["add", "-A"]);
    env.git(&["commit", "-q", "--amend", "-m", "resolve with unsealed evidence"]);
    env.push(&["main"]).assert_refused("carries no seal");

    // Hand-written evidence with the hashes right (the old test helper's) is not git-lanes'.
    env.write("src/E-01.txt", "fixed\n");
    env.write_evidence("E-01", true);
    env.git(&["add", "-A"]);
    env.git(&["commit", "-q", "--amend", "-m", "resolve with hand-written evidence"]);
    env.push(&["main"]).assert_refused("E-01 becomes RESOLVED");
}

#[test]
fn an_older_run_report_and_evidence_do_not_count_after_a_reopen() {
    let env = Env::installed();
    // A genuine resolution, with a report naming it.
    env.write("src/E-01.txt", "fixed\n");
    env.commit_all("fix");
    env.verify("E-01");
    env.write_issue("E-01", "RESOLVED", "Missing retention policy");
    env.write("LogBook/issue-fixing/runs/20260101-000000.md", "| E-01 | RESOLVED | ok |\n");
    env.lanes(&["sync"]).assert_ok();
    env.commit_all("resolve E-01");
    env.push(&["main"]).assert_ok();
    // Reopened and the fix reverted: pushed.
    env.write_issue("E-01", "OPEN", "Missing retention policy");
    env.write("src/E-01.txt", "broken\n");
    env.lanes(&["sync"]).assert_ok();
    env.commit_all("reopen E-01, revert its fix");
    env.push(&["main"]).assert_ok();
    // RESOLVED again by hand: the old report and evidence are still in the tree, and count for
    // nothing.
    env.write_issue("E-01", "RESOLVED", "Missing retention policy");
    env.lanes(&["sync"]).assert_ok();
    env.commit_all("resolve again by hand");
    env.push(&["main"]).assert_refused("E-01 becomes RESOLVED").assert_refused("no evidence for E-01 is added");
    // Nor does the old evidence copied under a new name: the fix it verified is gone.
    let old = env.evidence_files("E-01").pop().unwrap();
    let copy = old.replace(".json", "_2.json");
    std::fs::copy(env.repo.join(&old), env.repo.join(&copy)).unwrap();
    env.git(&["add", "-A"]);
    env.git(&["commit", "-q", "--amend", "-m", "resolve again with old evidence"]);
    env.push(&["main"]).assert_refused("is stale (src/E-01.txt differ from what was verified)");
}

#[test]
fn tags_pass_the_gate() {
    let env = Env::installed();
    env.git(&["tag", "-a", "v1", "-m", "release 1"]);
    env.push(&["v1"]).assert_ok();
    assert!(env.remote_ref("refs/tags/v1").is_some());
    env.git(&["tag", "light"]);
    env.push(&["light"]).assert_ok();
    env.git(&["tag", "-a", "v2", "-m", "release 2"]);
    env.push(&["--tags"]).assert_ok();
    env.push(&["--delete", "v2"]).assert_ok();
    assert_eq!(env.remote_ref("refs/tags/v2"), None);
    // A branch pushed with a tag is still checked.
    env.write_issue("E-02", "RESOLVED", "Missing escalation matrix");
    env.lanes(&["sync"]).assert_ok();
    env.commit_all("sneaky");
    env.git(&["tag", "-a", "v3", "-m", "release 3"]);
    env.push(&["main", "v3"]).assert_refused("E-02 becomes RESOLVED");
}

#[test]
fn stub_markers_in_resolving_lines_are_refused() {
    let env = Env::installed();
    env.write("src/E-01.txt", "fixed\n// TODO: really fix\n");
    env.write_issue("E-01", "RESOLVED", "Missing retention policy");
    env.write_evidence("E-01", true);
    env.lanes(&["sync"]).assert_ok();
    env.commit_all("resolve with a stub");
    env.push(&["main"]).assert_refused("src/E-01.txt:2: stub marker `TODO` added in a line that resolves E-01");
}

#[test]
fn a_deleted_issue_file_is_refused_and_names_its_rule() {
    let env = Env::installed();
    std::fs::remove_file(env.repo.join("issues/E/E-02.md")).unwrap();
    env.lanes(&["sync"]).assert_ok();
    env.commit_all("drop an issue instead of fixing it");
    env.push(&["main"]).assert_refused("issues/E/E-02.md: issue file of E-02 is deleted").assert_refused("[weakened]");
    let o = env.lanes(&["--json", "check", "--range", "HEAD~1..HEAD"]);
    let v: serde_json::Value = serde_json::from_str(&o.text).unwrap();
    assert_eq!(v["failures"][0]["rule"], "weakened", "{}", o.text);
}

#[test]
fn committed_signal_files_are_refused() {
    let env = Env::installed();
    env.write("LogBook/issue-fixing/signals/E.status", "WORKING: E-01\n");
    env.write("LogBook/issue-hunting/signals/E.done", "");
    env.commit_all("oops, signals");
    let o = env.push(&["main"]);
    o.assert_refused("LogBook/issue-fixing/signals/E.status: signal file committed")
        .assert_refused("LogBook/issue-hunting/signals/E.done: signal file committed")
        .assert_refused("[signals]");
    // Removing them in a later commit does not help: the pushed commits still carry them.
    env.git(&["rm", "-q", "-r", "--cached", "LogBook"]);
    env.git(&["commit", "-q", "-m", "remove signals"]);
    env.push(&["main"]).assert_refused("signal file committed");
}

#[test]
fn an_existing_hook_is_chained_and_restored_exactly() {
    let env = Env::new();
    let hooks = env.repo.join(".git/hooks");
    let seen = env.tmp.path().join("seen");
    let existing = format!("#!/bin/sh\ncat > {}\ntest ! -e {}/block\n", seen.display(), env.tmp.path().display());
    std::fs::write(hooks.join("pre-push"), &existing).unwrap();
    set_mode(&hooks.join("pre-push"), 0o750);
    env.lanes(&["hooks", "install"]).assert_ok().assert_refused_not();
    let again = env.lanes(&["hooks", "install"]);
    assert!(again.text.contains("already installed"), "{}", again.text);
    assert_eq!(std::fs::read_to_string(hooks.join("pre-push.lanes-chained")).unwrap(), existing);

    env.push(&["main"]).assert_ok();
    let stdin = std::fs::read_to_string(&seen).unwrap();
    assert!(stdin.starts_with(&format!("refs/heads/main {} refs/heads/main {}", env.head(), "0".repeat(40))), "{stdin}");

    // The chained hook's failure blocks an otherwise good push.
    std::fs::write(env.tmp.path().join("block"), "").unwrap();
    env.write("src/other.txt", "x\n");
    env.commit_all("another");
    env.push(&["main"]).assert_refused("chained pre-push hook");
    assert_ne!(env.remote_ref("main").unwrap(), env.head());

    let o = env.lanes(&["hooks", "uninstall"]);
    o.assert_ok();
    assert!(o.text.contains("restored"), "{}", o.text);
    assert_eq!(std::fs::read_to_string(hooks.join("pre-push")).unwrap(), existing);
    assert_eq!(mode(&hooks.join("pre-push")), 0o750);
    assert!(!hooks.join("pre-push.lanes-chained").exists());
    assert!(env.lanes(&["hooks", "uninstall"]).text.contains("not git-lanes' hook"));
}

#[test]
fn core_hooks_path_is_respected() {
    let env = Env::new();
    env.git(&["config", "core.hooksPath", "githooks"]);
    env.lanes(&["hooks", "install"]).assert_ok();
    assert!(env.repo.join("githooks/pre-push").exists());
    assert!(!env.repo.join(".git/hooks/pre-push").exists());
    env.write_issue("E-02", "OPEN", "Retitled");
    env.commit_all("stale");
    env.push(&["main"]).assert_refused("catalog is out of date");
    assert_eq!(env.remote_ref("main"), None);
}

#[test]
fn new_branches_and_deletions_are_pushed() {
    let env = Env::installed();
    env.git(&["checkout", "-q", "-b", "feature"]);
    env.write("src/feature.txt", "x\n");
    env.commit_all("feature");
    env.push(&["feature"]).assert_ok();
    assert_eq!(env.remote_ref("feature").unwrap(), env.head());
    env.push(&["--delete", "feature"]).assert_ok();
    assert_eq!(env.remote_ref("feature"), None);

    // A new branch resolving an issue by hand is still refused.
    env.git(&["checkout", "-q", "-b", "sneaky"]);
    env.write_issue("E-02", "RESOLVED", "Missing escalation matrix");
    env.lanes(&["sync"]).assert_ok();
    env.commit_all("sneaky");
    env.push(&["sneaky"]).assert_refused("E-02 becomes RESOLVED");
    assert_eq!(env.remote_ref("sneaky"), None);
}

#[test]
fn missing_binary_fails_closed_unless_skipped() {
    let mut env = Env::installed();
    env.write("src/x.txt", "x\n");
    env.commit_all("x");
    env.path = "/usr/bin:/bin".into();
    let refused = env.push(&["main"]);
    // The install line the README gives; git-lanes is not on crates.io.
    refused.assert_refused("cargo install --locked --path <git-lanes checkout>");
    assert!(!refused.text.contains("# from crates.io"), "{}", refused.text);
    let mut c = env.cmd("git");
    c.env("GIT_LANES_SKIP", "1").args(["push", "origin", "main"]);
    Env::run(c).assert_ok();
}

#[test]
fn range_and_working_tree_checks_with_json() {
    let env = Env::new();
    env.write_issue("E-01", "RESOLVED", "Missing retention policy");
    // Working tree: stale catalog and an unearned resolution.
    let o = env.lanes(&["check"]);
    assert_eq!(o.code, Some(4), "{}", o.text);
    assert!(o.text.contains("E-01 becomes RESOLVED"), "{}", o.text);
    env.lanes(&["sync"]).assert_ok();
    env.commit_all("resolve");
    let o = env.lanes(&["--json", "check", "--range", "HEAD~1..HEAD"]);
    assert_eq!(o.code, Some(4));
    let v: serde_json::Value = serde_json::from_str(&o.text).unwrap();
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["ok"], false);
    assert_eq!(v["failures"].as_array().unwrap().len(), 1);
    assert_eq!(v["failures"][0]["path"], "issues/E/E-01.md:7");
    assert!(v["failures"][0]["fix"].as_str().unwrap().contains("git lanes verify E-01"));
    assert_eq!(v["failures"][0]["rule"], "earned");
    assert_eq!(v["checked"][0]["resolving"], serde_json::json!(["E-01"]));
    // An untracked issue file born RESOLVED is seen by the working-tree check.
    env.write_issue("E-03", "RESOLVED", "Born resolved");
    let o = env.lanes(&["check"]);
    assert!(o.text.contains("E-03 becomes RESOLVED"), "{}", o.text);
    std::fs::remove_file(env.repo.join("issues/E/E-03.md")).unwrap();
    // Before the resolution, the range is clean.
    env.lanes(&["check", "--range", "HEAD~1..HEAD~1"]).assert_ok();
}

impl Out {
    fn assert_refused_not(&self) -> &Self {
        assert!(self.text.contains("kept the existing hook"), "{}", self.text);
        self
    }
}

fn set_mode(p: &Path, m: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
}

fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}
