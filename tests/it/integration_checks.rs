//! End-to-end tests of `lanes.yaml` `integration_checks:`: commands run on a run's integrated
//! result before the user's branch moves; the lanes that break one are found by bisection and
//! backed out with the failing output, honest lanes still merge, a command failing at the base
//! blames no lane, and `--no-integration-checks` skips them for one run.

use std::path::Path;

use crate::common_run::{RunRepo, report_result, token_check};
use git_lanes::run::state::{IntegrationChecks, RunState};

fn final_state(r: &RunRepo) -> RunState {
    RunState::load(r.root(), Path::new("LogBook/issue-fixing/orchestrator-state.yaml")).unwrap().expect("state committed")
}

fn checks_of(r: &RunRepo) -> IntegrationChecks {
    final_state(r).integration.expect("integration recorded").checks.expect("integration checks recorded")
}

/// Lanes `lanes` with one token-checked issue each, and `integration_checks` as given.
fn repo(lanes: &[&str], checks: &[&str]) -> RunRepo {
    let r = RunRepo::bare();
    for lane in lanes {
        let id = format!("{lane}-01");
        r.issue(&id, &[&format!("src/{lane}.txt")], &token_check(&id));
    }
    let list: String = checks.iter().map(|c| format!("  - \"{}\"\n", c.replace('"', "\\\""))).collect();
    r.finish_setup(&format!("integration_checks:\n{list}"));
    r
}

const KEEPME: &str = "grep -q keepme shared.txt";

#[test]
fn a_regression_outside_the_issue_checks_is_backed_out_and_the_honest_lane_merges() {
    let r = repo(&["E", "M"], &[KEEPME]);
    let base = r.git(&["rev-parse", "HEAD"]);
    let out = r.run("R1", &[("M", "break")], &[]);
    out.expect_code(3);
    assert_eq!(r.status_on_head("E-01"), "RESOLVED");
    assert_eq!(r.status_on_head("M-01"), "OPEN", "M-01's own check passed, but M broke the suite");
    assert!(r.show("HEAD", "shared.txt").contains("keepme"));
    assert!(
        out.stdout.contains(&format!("lane M was backed out of the integration: its merge breaks integration check `{KEEPME}`")),
        "{}",
        out.stdout
    );
    let report = r.report_on_head("R1");
    assert_eq!(report_result(&report, "E-01").as_deref(), Some("RESOLVED"), "{report}");
    assert!(report.contains(&format!("**Broken by lane M:** `{KEEPME}`")), "{report}");
    assert!(report.contains(&format!("### Lane M broke `{KEEPME}`")), "{report}");
    let checks = checks_of(&r);
    assert_eq!(checks.broken.len(), 1);
    assert_eq!((checks.broken[0].lane.as_str(), checks.broken[0].command.as_str()), ("M", KEEPME));
    assert!(checks.broken[0].output.contains("exit 1"), "{:?}", checks.broken[0]);
    assert!(checks.failing_before.is_empty());
    assert_eq!(final_state(&r).integration.unwrap().merged, ["E"]);
    assert!(r.has_ref("refs/heads/lanes/R1/M"), "the lane backed out keeps its branch");
    r.assert_nothing_lost("R1", &["E", "M"]);
    let gate = r.cmd().args(["check", "--range", &format!("{}..HEAD", base.trim())]).output().unwrap();
    assert_eq!(gate.status.code(), Some(0), "{}", String::from_utf8_lossy(&gate.stdout));
}

#[test]
fn passing_integration_checks_change_nothing() {
    let r = repo(&["E", "M"], &[KEEPME, "test -e src/E.txt"]);
    r.run("R1", &[], &[]).expect_code(0);
    assert_eq!((r.status_on_head("E-01"), r.status_on_head("M-01")), ("RESOLVED".into(), "RESOLVED".into()));
    let checks = checks_of(&r);
    assert_eq!(checks.runs, 1, "one run on the result");
    assert!(checks.broken.is_empty() && checks.failing_before.is_empty());
    assert!(r.report_on_head("R1").contains(&format!("**Integration checks:** `{KEEPME}`, `test -e src/E.txt` (run 1 time(s))")));
}

#[test]
fn a_command_failing_at_the_base_is_run_there_once_and_blames_no_lane() {
    let r = repo(&["E", "M"], &["test -e never-there.txt", KEEPME]);
    let out = r.run("R1", &[], &[]);
    out.expect_code(3);
    assert_eq!((r.status_on_head("E-01"), r.status_on_head("M-01")), ("RESOLVED".into(), "RESOLVED".into()));
    assert!(out.stdout.contains("integration check `test -e never-there.txt` already fails at the run's base"), "{}", out.stdout);
    assert!(!out.stdout.contains("backed out"), "{}", out.stdout);
    let checks = checks_of(&r);
    assert_eq!(checks.failing_before.len(), 1);
    assert!(checks.broken.is_empty());
    assert_eq!(checks.runs, 2, "the result once, the base once");
    let report = r.report_on_head("R1");
    assert!(report.contains("**Failing before the run:** `test -e never-there.txt` already fails at the base"), "{report}");
}

#[test]
fn no_integration_checks_skips_them_for_one_run_and_the_report_says_so() {
    let r = repo(&["E", "M"], &[KEEPME]);
    let dry = r.cmd().args(["run", "--dry-run"]).output().unwrap();
    let text = String::from_utf8_lossy(&dry.stdout);
    assert!(text.contains("integration checks (run on the integrated result") && text.contains(KEEPME), "{text}");
    let dry = r.cmd().args(["run", "--dry-run", "--no-integration-checks"]).output().unwrap();
    assert!(String::from_utf8_lossy(&dry.stdout).contains("integration checks (skipped for this run"));

    r.run("R1", &[("M", "break")], &["--no-integration-checks"]).expect_code(0);
    assert_eq!(r.status_on_head("M-01"), "RESOLVED");
    let checks = checks_of(&r);
    assert!(checks.skipped && checks.runs == 0, "{checks:?}");
    assert!(r.report_on_head("R1").contains("**Integration checks:** skipped for this run (`--no-integration-checks`)"));
}

/// The measurement the design note quotes: 8 lanes, one culprit — the result, the base, three
/// halvings (log2 8) and the confirming run.
#[test]
fn bisection_over_eight_lanes_finds_one_culprit_in_log2_steps() {
    let lanes = ["A", "B", "C", "D", "E", "F", "G", "H"];
    let r = repo(&lanes, &[KEEPME]);
    let out = r.run("R1", &[("F", "break")], &["--max-parallel", "8"]);
    out.expect_code(3);
    let checks = checks_of(&r);
    eprintln!("integration check runs for 8 lanes, 1 culprit: {}", checks.runs);
    assert_eq!(checks.broken.iter().map(|b| b.lane.as_str()).collect::<Vec<_>>(), ["F"]);
    assert_eq!(checks.runs, 1 + 1 + 3 + 1, "{checks:?}");
    let merged = final_state(&r).integration.unwrap().merged;
    assert_eq!(merged, ["A", "B", "C", "D", "E", "G", "H"]);
    for lane in lanes.iter().filter(|l| **l != "F") {
        assert_eq!(r.status_on_head(&format!("{lane}-01")), "RESOLVED", "lane {lane}");
    }
    assert_eq!(r.status_on_head("F-01"), "OPEN");
}

#[test]
fn two_culprits_are_both_found_and_backed_out() {
    let lanes = ["A", "B", "C", "D", "E", "F"];
    let r = repo(&lanes, &[KEEPME]);
    let out = r
        .cmd()
        .args(["--json", "run", "--run-id", "R1", "--done-grace", "1s", "--timeout", "60s", "--max-parallel", "6"])
        .env("FAKE_MODE_B", "break")
        .env("FAKE_MODE_E", "break")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let broken: Vec<&str> = json["integration_checks"]["broken"].as_array().unwrap().iter().map(|b| b["lane"].as_str().unwrap()).collect();
    assert_eq!(broken, ["B", "E"], "{json}");
    assert_eq!(json["integration_checks"]["broken"][0]["command"], KEEPME);
    let checks = checks_of(&r);
    assert_eq!(checks.broken.iter().map(|b| b.lane.as_str()).collect::<Vec<_>>(), ["B", "E"], "{checks:?}");
    assert_eq!(final_state(&r).integration.unwrap().merged, ["A", "C", "D", "F"]);
    assert!(r.show("HEAD", "shared.txt").contains("keepme"));
}

/// Two lanes each harmless alone, breaking the suite together: the later one is backed out (named
/// with the lane it broke it with), the earlier one and an unrelated lane merge.
#[test]
fn lanes_that_break_a_command_only_together_back_out_the_later_one() {
    let r = repo(&["A", "B", "C"], &["! ( test -e src/A.flag && test -e src/B.flag )"]);
    let out = r.run("R1", &[("A", "flag"), ("B", "flag")], &[]);
    out.expect_code(3);
    let checks = checks_of(&r);
    assert_eq!(checks.broken.len(), 1, "{checks:?}");
    assert_eq!(checks.broken[0].lane, "B");
    assert_eq!(checks.broken[0].after, ["A"]);
    assert!(out.stdout.contains("(merged after lane A, which passes)"), "{}", out.stdout);
    assert_eq!(final_state(&r).integration.unwrap().merged, ["A", "C"]);
}

/// Killed in the middle of the bisection (a candidate's files in the integration worktree), the
/// integration branch is still at the full result, and `run --resume` finds the culprit again.
#[test]
fn a_run_killed_mid_bisection_resumes_to_the_same_result() {
    let r = repo(&["E", "M"], &[KEEPME]);
    let out = r
        .cmd()
        .args(["run", "--run-id", "R1", "--done-grace", "1s", "--timeout", "60s"])
        .env("FAKE_MODE_M", "break")
        .env("LANES_FAULT", "mid-bisect")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), None, "the fault point did not abort: {}", String::from_utf8_lossy(&out.stderr));
    let m_tip = r.git(&["rev-parse", "refs/heads/lanes/R1/M"]);
    assert!(
        r.git_ok(&["merge-base", "--is-ancestor", m_tip.trim(), "refs/heads/lanes/R1/integration"]),
        "the integration branch was moved to a bisection candidate"
    );
    let resumed = r.cmd().args(["run", "--resume"]).env("FAKE_MODE_M", "break").output().unwrap();
    assert_eq!(resumed.status.code(), Some(3), "{}{}", String::from_utf8_lossy(&resumed.stdout), String::from_utf8_lossy(&resumed.stderr));
    assert_eq!((r.status_on_head("E-01"), r.status_on_head("M-01")), ("RESOLVED".into(), "OPEN".into()));
    assert!(r.show("HEAD", "shared.txt").contains("keepme"));
    assert_eq!(checks_of(&r).broken.iter().map(|b| b.lane.as_str()).collect::<Vec<_>>(), ["M"]);
}

#[test]
fn an_integration_check_is_timed_out_by_integration_timeout() {
    let r = RunRepo::bare();
    for id in ["E-01", "M-01"] {
        r.issue(id, &[&format!("src/{}.txt", &id[..1])], &token_check(id));
    }
    r.finish_setup("integration_checks:\n  - \"sleep 5\"\nintegration_timeout: 1s\n");
    let out = r.run("R1", &[], &[]);
    out.expect_code(3);
    let checks = checks_of(&r);
    assert_eq!(checks.failing_before.len(), 1, "{checks:?}");
    assert!(checks.failing_before[0].output.contains("timed out after 1s"), "{checks:?}");
    assert_eq!((r.status_on_head("E-01"), r.status_on_head("M-01")), ("RESOLVED".into(), "RESOLVED".into()));
}
