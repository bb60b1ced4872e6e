//! End-to-end tests of `git lanes verify` (and the stale-evidence reports of `status` and
//! `doctor`) against real temporary git repositories, with real check processes.

use std::time::{Duration, Instant};

use crate::common::{TestRepo, json_of};
use serde_json::Value;

const TOKEN: &str = "ghp_abcdefghijklmnopqrstuvwxyz0123456789";

fn checks_passed(doc: &Value, issue: usize) -> Vec<bool> {
    doc["issues"][issue]["checks"].as_array().unwrap().iter().map(|c| c["passed"].as_bool().unwrap()).collect()
}

#[test]
fn pass_and_fail_words_decide_then_the_exit_code() {
    let r = TestRepo::new();
    r.issue_with_paths(
        "E-01",
        "E",
        "OPEN",
        &[],
        concat!(
            "test -f README.md && echo \"PASS\" || echo \"FAIL\"\n", // PASS, exit 0      → pass
            "test -f nope.md && echo \"PASS\" || echo \"FAIL\"\n",   // FAIL, exit 0      → fail
            "echo PASS; exit 1\n",                                   // PASS decides      → pass
            "echo PASS; echo FAIL\n",                                // FAIL beats PASS   → fail
            "true\n",                                                // no word, exit 0   → pass
            "exit 2\n",                                              // no word, exit 2   → fail
            "echo 'test result: FAILED'; exit 0\n",                  // FAILED is no word → pass
            "echo PASSWORD; exit 3\n",                               // PASSWORD neither  → fail
        ),
    );
    let doc = json_of(r.cmd().args(["verify", "E-01", "--json"]), 4);
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(checks_passed(&doc, 0), [true, false, true, false, true, false, true, false]);
    let reasons: Vec<&str> = doc["issues"][0]["checks"].as_array().unwrap().iter().map(|c| c["reason"].as_str().unwrap()).collect();
    assert_eq!(reasons, ["says_pass", "says_fail", "says_pass", "says_fail", "exit_code", "exit_code", "exit_code", "exit_code"]);
    assert_eq!(doc["issues"][0]["outcome"], "FAILED");
    assert_eq!(doc["issues"][0]["confidence"], 50);
    assert_eq!(doc["issues"][0]["checks"][1]["exit_code"], 0);
}

#[test]
fn exit_zero_with_fail_printed_fails_the_issue_with_exit_4() {
    let r = TestRepo::new();
    r.issue_with_paths("E-01", "E", "OPEN", &[], "test -f missing.txt && echo \"PASS\" || echo \"FAIL\"\n");
    let out = r.cmd().args(["verify", "E-01"]).assert().code(4).get_output().stdout.clone();
    let out = String::from_utf8(out).unwrap();
    assert!(out.contains("✗ test -f missing.txt"), "{out}");
    assert!(out.contains("printed FAIL"), "{out}");
    assert!(out.contains("→ FAILED: 0/1 checks passed (0%)"), "{out}");

    r.write("missing.txt", "now here\n");
    let out = r.cmd().args(["verify", "E-01"]).assert().code(0).get_output().stdout.clone();
    assert!(String::from_utf8(out).unwrap().contains("✓ test -f missing.txt"));
}

#[test]
fn no_checks_is_unverifiable_and_exits_4() {
    let r = TestRepo::new();
    r.issue_with_paths("E-01", "E", "RESOLVED", &[], "# nothing to run here\n");
    let doc = json_of(r.cmd().args(["verify", "E-01", "--json"]), 4);
    assert_eq!(doc["issues"][0]["outcome"], "UNVERIFIABLE");
    assert_eq!(doc["issues"][0]["total_checks"], 0);
    assert_eq!(doc["passed"], false);
    assert_eq!(doc["summary"]["unverifiable"], 1);
    let out = r.cmd().args(["verify", "E-01"]).assert().code(4).get_output().stdout.clone();
    assert!(String::from_utf8(out).unwrap().contains("UNVERIFIABLE: no verification commands"));
}

#[test]
fn secrets_in_the_environment_never_reach_a_check_or_the_evidence() {
    let r = TestRepo::new();
    r.write("lanes.yaml", "verify:\n  env: [LANES_TEST_ALLOWED]\n");
    r.issue_with_paths("E-01", "E", "OPEN", &[], "env; echo PASS\n");
    let out = r
        .cmd()
        .args(["verify", "E-01", "--json"])
        .env("GITHUB_TOKEN", TOKEN)
        .env("OPENAI_API_KEY", "sk-proj-4f9aB2cD3eF4gH5iJ6kL7mN8")
        .env("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY")
        .env("LANES_TEST_ALLOWED", "visible")
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let doc: Value = serde_json::from_slice(&out).unwrap();
    let env_out = doc["issues"][0]["checks"][0]["output"].as_str().unwrap();
    assert!(env_out.contains("PATH="), "{env_out}");
    assert!(env_out.contains("LANES_TEST_ALLOWED=visible"), "{env_out}");
    for name in ["GITHUB_TOKEN", "OPENAI_API_KEY", "AWS_SECRET_ACCESS_KEY", "GIT_AUTHOR_NAME"] {
        assert!(!env_out.contains(name), "{name} leaked: {env_out}");
    }
    let stdout = String::from_utf8(out).unwrap();
    assert!(!stdout.contains(TOKEN) && !stdout.contains("wJalrXUtnFEMI"));
    let files = r.evidence_files();
    assert_eq!(files.len(), 1);
    let ev = r.read(files[0].to_str().unwrap());
    assert!(!ev.contains(TOKEN) && !ev.contains("GITHUB_TOKEN") && !ev.contains("wJalrXUtnFEMI"), "{ev}");
}

#[test]
fn secrets_printed_by_a_check_are_redacted_in_evidence_and_output() {
    let r = TestRepo::new();
    r.issue_with_paths("E-01", "E", "OPEN", &[], &format!("echo \"token={TOKEN}\"; echo 'DB_PASSWORD=hunter2'; echo PASS\n"));
    let out = r.cmd().args(["verify", "E-01", "--json"]).assert().code(0).get_output().stdout.clone();
    let stdout = String::from_utf8(out).unwrap();
    assert!(!stdout.contains(TOKEN) && !stdout.contains("hunter2"), "{stdout}");
    let ev: Value = serde_json::from_str(&r.read(r.evidence_files()[0].to_str().unwrap())).unwrap();
    let kept = ev["checks"][0]["output"].as_str().unwrap();
    assert_eq!(kept, "token=[REDACTED]\nDB_PASSWORD=[REDACTED]\nPASS\n");
    // A literal secret in the command is not copied into the evidence either.
    assert_eq!(ev["checks"][0]["command"], "echo \"token=[REDACTED]\"; echo 'DB_PASSWORD=[REDACTED]'; echo PASS");
    assert_eq!(ev["checks"][0]["name"], "check_1");
}

/// Whether `pid` is gone or a zombie.
fn gone(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => {
            let state = stat.rsplit(')').next().unwrap_or("").trim_start();
            state.starts_with('Z') || state.starts_with('X')
        }
    }
}

#[test]
fn hanging_check_is_killed_at_the_timeout_with_its_grandchild() {
    let r = TestRepo::new();
    r.write("lanes.yaml", "verify: {timeout: 1s}\n");
    r.issue_with_paths("E-01", "E", "OPEN", &[], "sleep 100 & echo $! > bg.pid; sleep 100\n");
    let t0 = Instant::now();
    let doc = json_of(r.cmd().args(["verify", "E-01", "--json"]), 4);
    let took = t0.elapsed();
    assert!(took < Duration::from_secs(3), "took {took:?}");
    let c = &doc["issues"][0]["checks"][0];
    assert_eq!(c["ending"], "timed out after 1s");
    assert_eq!(c["reason"], "ended");
    assert_eq!(c["exit_code"], Value::Null);
    let ev: Value = serde_json::from_str(&r.read(r.evidence_files()[0].to_str().unwrap())).unwrap();
    assert_eq!(ev["checks"][0]["actual"], -1);
    assert_eq!(ev["checks"][0]["ending"], "timed out after 1s");
    let pid = r.read("bg.pid").trim().to_string();
    let until = Instant::now() + Duration::from_secs(2);
    while !gone(&pid) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(gone(&pid), "grandchild {pid} survived");
}

#[test]
fn a_check_printing_100_mb_leaves_bounded_evidence() {
    let r = TestRepo::new();
    r.issue_with_paths("E-01", "E", "OPEN", &[], "head -c 110000000 /dev/zero | tr '\\0' a; echo; echo PASS\n");
    let doc = json_of(r.cmd().args(["verify", "E-01", "--json"]), 0);
    let c = &doc["issues"][0]["checks"][0];
    assert!(c["dropped_bytes"].as_u64().unwrap() > 100_000_000);
    assert!(c["output"].as_str().unwrap().ends_with("a\nPASS\n"));
    let path = r.root().join(&r.evidence_files()[0]);
    let size = std::fs::metadata(path).unwrap().len();
    assert!(size < 100 * 1024, "evidence is {size} bytes");
}

#[test]
fn update_changes_only_date_verified_and_confidence() {
    let r = TestRepo::new();
    r.issue_with_paths("E-01", "E", "RESOLVED", &["README.md"], "test -f README.md && echo PASS || echo FAIL\n");
    // A hand-written frontmatter with a comment, quoting styles and an existing date.
    let original = "---\n# written by hand\nissue_id: 'E-02'\nlane: E   # lane E\nstatus: OPEN\ndate_verified: '2025-01-01'\ntype_tags: [a, b]\n---\n\n# [LANE E] Issue E-02: Two\n\n## Verification Commands\n\n```bash\ntrue\n```\n";
    r.write("issues/E/E-02.md", original);
    r.issue_with_paths("E-03", "E", "OPEN", &[], "false\n");
    let before_01 = r.read("issues/E/E-01.md");
    let before_03 = r.read("issues/E/E-03.md");
    let doc = json_of(r.cmd().args(["verify", "--all", "--update", "--json"]), 4);
    let updated: Vec<bool> = doc["issues"].as_array().unwrap().iter().map(|i| i["updated"].as_bool().unwrap()).collect();
    assert_eq!(updated, [true, true, false]);

    let today =
        r.read("issues/E/E-01.md").lines().find_map(|l| l.strip_prefix("date_verified: \"")).unwrap().trim_end_matches('"').to_string();
    assert_eq!(today.len(), 10, "{today}");
    let expected_01 = before_01.replacen("---\n\n#", &format!("date_verified: \"{today}\"\nverification_confidence: 100\n---\n\n#"), 1);
    assert_eq!(r.read("issues/E/E-01.md"), expected_01);
    let expected_02 = original.replace("date_verified: '2025-01-01'", &format!("date_verified: '{today}'")).replacen(
        "type_tags: [a, b]\n",
        "type_tags: [a, b]\nverification_confidence: 100\n",
        1,
    );
    assert_eq!(r.read("issues/E/E-02.md"), expected_02);
    assert_eq!(r.read("issues/E/E-03.md"), before_03, "a failing issue is never touched");

    // The updated files still parse and carry the values.
    r.cmd().args(["validate"]).assert().code(0);
}

#[test]
fn stale_evidence_is_reported_by_status_and_doctor() {
    let r = TestRepo::new();
    r.write("src/app.txt", "v1\n");
    r.issue_with_paths("E-01", "E", "RESOLVED", &["src/app.txt"], "grep -q v1 src/app.txt && echo PASS || echo FAIL\n");
    r.issue_with_paths("E-02", "E", "OPEN", &["src/app.txt"], "true\n");
    r.commit_all("issues");

    let status = json_of(r.cmd().args(["status", "--json"]), 0);
    assert_eq!(status["stale_evidence"]["count"], 1);
    assert_eq!(status["stale_evidence"]["issues"][0]["state"], "missing");

    json_of(r.cmd().args(["verify", "E-01", "--json"]), 0);
    let status = json_of(r.cmd().args(["status", "--json"]), 0);
    assert_eq!(status["stale_evidence"]["count"], 0, "{status}");
    let doctor = json_of(r.cmd().args(["doctor", "--json"]), 0);
    assert_eq!(doctor["notes"].as_array().unwrap().len(), 0);

    r.write("src/app.txt", "v2\n");
    let status = json_of(r.cmd().args(["status", "--json"]), 0);
    assert_eq!(status["stale_evidence"]["count"], 1);
    let item = &status["stale_evidence"]["issues"][0];
    assert_eq!(item["id"], "E-01");
    assert_eq!(item["state"], "stale");
    assert_eq!(item["paths"], serde_json::json!(["src/app.txt"]));
    let human = r.cmd().arg("status").assert().code(0).get_output().stdout.clone();
    assert!(String::from_utf8(human).unwrap().contains("1 resolved issue(s) without fresh evidence: E-01 (stale)"));
    let doctor = json_of(r.cmd().args(["doctor", "--json"]), 0);
    assert_eq!(doctor["notes"][0]["subject"], "E-01");
    assert!(doctor["notes"][0]["message"].as_str().unwrap().contains("stale"), "{doctor}");

    // Restoring the content makes the evidence hold again.
    r.write("src/app.txt", "v1\n");
    let status = json_of(r.cmd().args(["status", "--json"]), 0);
    assert_eq!(status["stale_evidence"]["count"], 0);
}

#[test]
fn evidence_records_commit_dirty_and_path_hashes() {
    let r = TestRepo::new();
    r.issue_with_paths("E-01", "E", "OPEN", &["README.md"], "# Check 1: readme\ntest -f README.md && echo PASS || echo FAIL\n");
    r.commit_all("issue");
    let head = r.git(&["rev-parse", "HEAD"]).trim().to_string();
    json_of(r.cmd().args(["verify", "E-01", "--json"]), 0);
    let files = r.evidence_files();
    let name = files[0].file_name().unwrap().to_str().unwrap().to_string();
    assert!(files[0].starts_with("LogBook/verification/evidence/E"));
    assert!(name.starts_with("E-01_") && name.ends_with(".json") && name.len() == "E-01_20260101_000000.json".len(), "{name}");
    let ev: Value = serde_json::from_str(&r.read(files[0].to_str().unwrap())).unwrap();
    assert_eq!(ev["commit"], head);
    assert_eq!(ev["dirty"], false);
    assert_eq!(ev["all_passed"], true);
    assert_eq!(ev["confidence_score"], 100);
    assert_eq!(ev["checks"][0]["name"], "readme");
    assert_eq!(ev["metadata"]["verifier"], "git-lanes");
    assert_eq!(ev["path_hashes"]["README.md"].as_str().unwrap().len(), 64);

    r.write("README.md", "changed\n");
    json_of(r.cmd().args(["verify", "E-01", "--json"]), 0);
    let ev: Value = serde_json::from_str(&r.read(r.evidence_files()[1].to_str().unwrap())).unwrap();
    assert_eq!(ev["dirty"], true);
}

#[test]
fn no_evidence_writes_nothing() {
    let r = TestRepo::new();
    r.issue_with_paths("E-01", "E", "OPEN", &[], "true\n");
    let doc = json_of(r.cmd().args(["verify", "E-01", "--no-evidence", "--json"]), 0);
    assert_eq!(doc["issues"][0]["evidence"], Value::Null);
    assert!(r.evidence_files().is_empty());
}

#[test]
fn parallel_jobs_give_the_same_results() {
    let r = TestRepo::new();
    for n in 1..=12 {
        let check = if n % 3 == 0 { "test -f nope && echo PASS || echo FAIL\n" } else { "sleep 0.1; test -f README.md && echo PASS\n" };
        r.issue_with_paths(&format!("E-{n:02}"), if n % 2 == 0 { "E" } else { "M" }, "OPEN", &[], check);
    }
    let strip = |doc: &Value| -> Vec<(String, String, Vec<bool>, Vec<String>)> {
        doc["issues"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                let outputs = i["checks"].as_array().unwrap().iter().map(|c| c["output"].as_str().unwrap().to_string()).collect();
                (i["id"].as_str().unwrap().into(), i["outcome"].as_str().unwrap().into(), checks_passed_of(i), outputs)
            })
            .collect()
    };
    let one = json_of(r.cmd().args(["verify", "--all", "--no-evidence", "--json", "-j", "1"]), 4);
    let many = json_of(r.cmd().args(["verify", "--all", "--no-evidence", "--json", "-j", "6"]), 4);
    assert_eq!(strip(&one), strip(&many));
    assert_eq!(one["summary"], serde_json::json!({ "total": 12, "passed": 8, "failed": 4, "unverifiable": 0 }));
    // `--lane` selects one lane's issues, in natural order.
    let lane = json_of(r.cmd().args(["verify", "--lane", "E", "--no-evidence", "--json"]), 4);
    let ids: Vec<&str> = lane["issues"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["E-02", "E-04", "E-06", "E-08", "E-10", "E-12"]);
}

fn checks_passed_of(issue: &Value) -> Vec<bool> {
    issue["checks"].as_array().unwrap().iter().map(|c| c["passed"].as_bool().unwrap()).collect()
}

#[test]
fn unknown_ids_and_lanes_are_usage_errors() {
    let r = TestRepo::new();
    r.issue_with_paths("E-01", "E", "OPEN", &[], "true\n");
    let err = r.cmd().args(["verify", "E-01", "e-99"]).assert().code(2).get_output().stderr.clone();
    let err = String::from_utf8(err).unwrap();
    assert!(err.contains("unknown issue id(s): e-99"), "{err}");
    assert!(err.contains("hint:"), "{err}");
    let err = r.cmd().args(["verify", "e-01"]).assert().code(2).get_output().stderr.clone();
    assert!(String::from_utf8(err).unwrap().contains("did you mean `E-01`?"));
    r.cmd().args(["verify", "--lane", "Q"]).assert().code(2);
    r.cmd().args(["verify", "--lane", "../x"]).assert().code(2);
    r.cmd().args(["verify"]).assert().code(2);
    r.cmd().args(["verify", "E-01", "--all"]).assert().code(2);
    r.cmd().args(["verify", "--all", "-j", "0"]).assert().code(2);
    assert!(r.evidence_files().is_empty());
}

#[test]
fn dangerous_checks_run_only_when_allowed() {
    let r = TestRepo::new();
    let victim = r.outside().join("victim.txt");
    std::fs::write(&victim, "keep me").unwrap();
    r.issue_with_paths("E-01", "E", "OPEN", &[], &format!("rm -f '{}' && echo PASS\n", victim.display()));
    let doc = json_of(r.cmd().args(["verify", "E-01", "--json"]), 4);
    let c = &doc["issues"][0]["checks"][0];
    assert_eq!(c["reason"], "not_run");
    assert!(c["not_run"].as_str().unwrap().contains("outside the worktree"), "{c}");
    assert!(victim.exists());
    // Allowed, it runs — and in the sandbox it still cannot delete outside the worktree.
    if git_lanes::exec::sandbox::status().is_enforced() {
        let doc = json_of(r.cmd().args(["verify", "E-01", "--json", "--allow-dangerous"]), 4);
        assert_ne!(doc["issues"][0]["checks"][0]["reason"], "not_run");
        assert!(victim.exists(), "the sandbox let a check delete outside the worktree");
    }
    json_of(r.cmd().args(["verify", "E-01", "--json", "--allow-dangerous"]).env("LANES_SANDBOX", "off"), 0);
    assert!(!victim.exists());
}

#[test]
fn checks_run_in_the_repository_root_from_a_subdirectory() {
    let r = TestRepo::new();
    r.write("sub/dir/file.txt", "x");
    r.issue_with_paths("E-01", "E", "OPEN", &[], "test -f README.md && test -d sub && echo PASS || echo FAIL\n");
    let mut cmd = r.cmd();
    cmd.current_dir(r.root().join("sub/dir")).args(["verify", "E-01", "--no-evidence"]);
    cmd.assert().code(0);
}

#[test]
fn wontfix_issues_are_skipped_by_all_but_not_by_id() {
    let r = TestRepo::new();
    r.issue_with_paths("E-01", "E", "OPEN", &[], "true\n");
    r.issue_with_paths("E-02", "E", "WONTFIX", &[], "false\n");
    let doc = json_of(r.cmd().args(["verify", "--all", "--no-evidence", "--json"]), 0);
    assert_eq!(doc["summary"]["total"], 1);
    json_of(r.cmd().args(["verify", "E-02", "--no-evidence", "--json"]), 4);
}

/// Every write a hostile check may try on the repository's git data, one per check.
const GIT_WRITES: &[&str] = &[
    "rm -rf .git/objects && echo PASS",
    "git update-ref refs/heads/main HEAD~1 && echo PASS",
    "echo '*.rs' >> .git/info/exclude && echo PASS",
    "mkdir -p .git/hooks && printf '#!/bin/sh\\ntouch /tmp/pwned\\n' > .git/hooks/post-commit && chmod +x .git/hooks/post-commit && echo PASS",
    "git config core.fsmonitor 'touch pwned' && echo PASS",
    "mkdir -p .git/lanes/x && echo planted > .git/lanes/x/f && echo PASS",
];

/// What a check must leave as it was: every file of `.git` (but the index git may refresh)
/// with its bytes, and the user's uncommitted edit.
fn git_snapshot(root: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut todo = vec![root.join(".git")];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else if p.file_name().unwrap() != "index" {
                out.push((p.strip_prefix(root).unwrap().display().to_string(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn a_check_in_the_users_checkout_cannot_write_git_data() {
    let r = TestRepo::new();
    r.write("b.txt", "two\n");
    r.commit_all("second");
    r.write("README.md", "# uncommitted edit\n");
    let checks: String = GIT_WRITES.iter().map(|c| format!("{c}\n")).collect();
    r.issue_with_paths("E-01", "E", "OPEN", &[], &checks);
    let before = git_snapshot(r.root());
    let head = r.git(&["rev-parse", "HEAD"]);
    let doc = json_of(r.cmd().args(["verify", "E-01", "--json", "--allow-dangerous"]), 4);
    assert_eq!(git_snapshot(r.root()), before, "a check changed the git folder");
    assert_eq!(r.git(&["rev-parse", "HEAD"]), head);
    assert_eq!(r.read("README.md"), "# uncommitted edit\n");
    r.git(&["fsck", "--no-progress"]);
    let mode = doc["issues"][0]["checks"][0]["git_shield"].as_str().unwrap().to_string();
    if mode == "read_only_mount" {
        // rm and git fail on the read-only folder: no check passes by destroying.
        let passed = checks_passed(&doc, 0);
        assert!(passed.iter().all(|p| !p), "{doc}");
        let out = r.cmd().args(["verify", "E-01", "--allow-dangerous"]).assert().code(4).get_output().stdout.clone();
        let out = String::from_utf8(out).unwrap();
        assert!(out.contains("git folders mounted read-only"), "{out}");
        assert!(!out.contains("PASSED"), "{out}");
    } else {
        eprintln!("skipped the read-only mount part: checks ran with {mode} here");
    }
}

#[test]
fn without_a_mount_namespace_landlock_keeps_git_out_of_reach() {
    if !git_lanes::exec::sandbox::status().is_enforced() {
        eprintln!("skipped: no Landlock here");
        return;
    }
    let r = TestRepo::new();
    r.write("b.txt", "two\n");
    r.commit_all("second");
    let checks: String = GIT_WRITES.iter().map(|c| format!("{c}\n")).collect();
    r.issue_with_paths("E-01", "E", "OPEN", &["b.txt"], &format!("{checks}echo more >> b.txt && echo PASS\n"));
    r.write("b.txt", "two\n");
    let before = git_snapshot(r.root());
    let doc = json_of(r.cmd().args(["verify", "E-01", "--json", "--allow-dangerous"]).env("LANES_SANDBOX", "landlock"), 4);
    assert_eq!(git_snapshot(r.root()), before, "a check changed the git folder");
    assert_eq!(doc["issues"][0]["checks"][0]["git_shield"], "landlock_rules", "{doc}");
    // The tree's own entries stay writable (the edit itself is put back as for every check).
    assert_eq!(checks_passed(&doc, 0), [vec![false; GIT_WRITES.len()], vec![true]].concat(), "{doc}");
    assert_eq!(r.read("b.txt"), "two\n");
}

#[test]
fn a_user_namespace_per_check_keeps_git_read_only_too() {
    let r = TestRepo::new();
    let checks: String = GIT_WRITES.iter().map(|c| format!("{c}\n")).collect();
    r.issue_with_paths("E-01", "E", "OPEN", &[], &format!("{checks}echo edit >> README.md && echo PASS\n"));
    let before = git_snapshot(r.root());
    let doc = json_of(r.cmd().args(["verify", "E-01", "--json", "--allow-dangerous"]).env("LANES_SANDBOX", "userns"), 4);
    assert_eq!(git_snapshot(r.root()), before, "a check changed the git folder");
    let mode = doc["issues"][0]["checks"][0]["git_shield"].as_str().unwrap();
    if mode != "read_only_mount" {
        eprintln!("skipped: no user namespace here ({mode})");
        return;
    }
    let passed = checks_passed(&doc, 0);
    assert_eq!(passed[..GIT_WRITES.len()], vec![false; GIT_WRITES.len()][..], "{doc}");
    assert!(*passed.last().unwrap(), "{doc}");
    assert_eq!(r.read("README.md"), "# test repo\n");
}

/// The largest resident size of the children waited for so far, in KiB.
fn children_peak_kib() -> i64 {
    // SAFETY: getrusage fills the struct it is given.
    #[allow(unsafe_code)]
    unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut u);
        u.ru_maxrss
    }
}

#[test]
fn a_huge_file_is_refused_by_its_size_without_being_read_whole_and_named_by_its_kind() {
    let r = TestRepo::new();
    r.issue_with_paths("E-01", "E", "OPEN", &[], "true\n");
    // 300 MB without using the disk: a sparse file.
    let huge = |rel: &str| std::fs::File::create(r.path(rel)).unwrap().set_len(300 << 20).unwrap();
    huge("lanes.yaml");
    let out = r.cmd().arg("validate").assert().failure().get_output().clone();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(err.contains("configuration file is larger than the 4194304 byte limit"), "{err}");
    assert!(!err.contains("markdown file"), "{err}");
    assert!(children_peak_kib() < 100 * 1024, "peak {} KiB", children_peak_kib());
    std::fs::remove_file(r.path("lanes.yaml")).unwrap();
    huge("issues/E/E-01.md");
    let out = r.cmd().arg("validate").assert().failure().get_output().clone();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("issue file is larger than the 4194304 byte limit"), "{text}");
    assert!(children_peak_kib() < 100 * 1024, "peak {} KiB", children_peak_kib());
}
