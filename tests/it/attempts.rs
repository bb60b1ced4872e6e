//! End-to-end tests of attempts: a rejected lane goes back to its worker with the failing output
//! (`LANES_ATTEMPT`, `LANES_FEEDBACK_FILE`, the prompt extended), the output of a failing check
//! is kept and shown (console, report, `logs --checks`, the dry run, `run --json`), a budget stops
//! the next attempt, and `--attempts 1` judges once as before. Workers are the scripted fake of
//! `tests/common_run` (`feedback` mode: wrong on its first attempt, right once it has read what
//! the failing check printed).
#![allow(clippy::disallowed_methods)]

use std::path::Path;

use crate::common_run::{RunRepo, report_result, token_check};
use git_lanes::run::state::RunState;

/// A check that fails printing the token it wants (only its output says which one).
const WANTS_MAGIC: &str = "grep -q magic-42 src/E.txt && echo PASS || { echo \"want: magic-42 in src/E.txt\"; exit 1; }\n";

fn repo_wanting_magic() -> RunRepo {
    let r = RunRepo::bare();
    r.issue("E-01", &["src/E.txt"], WANTS_MAGIC);
    r.issue("M-01", &["src/M.txt"], &token_check("M-01"));
    r.finish_setup("");
    r
}

fn final_state(r: &RunRepo) -> RunState {
    RunState::load(r.root(), Path::new("LogBook/issue-fixing/orchestrator-state.yaml")).unwrap().expect("state committed")
}

fn live_state(r: &RunRepo, run_id: &str) -> RunState {
    RunState::load(r.root(), &Path::new(".git/lanes/runs").join(run_id).join("state.yaml")).unwrap().expect("live state")
}

fn fake(r: &RunRepo, name: &str) -> Option<String> {
    std::fs::read_to_string(r.fake_dir().join(name)).ok()
}

#[test]
fn a_worker_that_fixes_only_after_reading_the_failing_output_is_resolved_on_its_second_attempt() {
    let r = repo_wanting_magic();
    let out = r.run("R1", &[("E", "feedback")], &[]);
    out.expect_code(0);
    assert_eq!(r.status_on_head("E-01"), "RESOLVED");
    assert_eq!(r.status_on_head("M-01"), "RESOLVED");
    // The first attempt was rejected, and the console showed what its check printed.
    assert!(out.stderr.contains("E-01 REJECTED"), "{}", out.stderr);
    assert!(out.stderr.contains("want: magic-42 in src/E.txt"), "{}", out.stderr);
    assert!(out.stderr.contains("attempt 2 of 2 starts"), "{}", out.stderr);
    // The second attempt had its number, the feedback file and the prompt with the feedback.
    assert_eq!(fake(&r, "attempt-E-1").as_deref(), Some("1 E-01\n"));
    assert_eq!(fake(&r, "attempt-E-2").as_deref(), Some("2 E-01\n"));
    assert!(fake(&r, "feedback-E-1").is_none(), "no feedback on the first attempt");
    let feedback = fake(&r, "feedback-E-2").expect("the second attempt got a feedback file");
    assert!(feedback.contains("## E-01 — REJECTED"), "{feedback}");
    assert!(feedback.contains("### Failing check: `grep -q magic-42"), "{feedback}");
    assert!(feedback.contains("want: magic-42 in src/E.txt"), "{feedback}");
    let prompt = fake(&r, "prompt-E-2").unwrap();
    assert!(prompt.contains("want: magic-42 in src/E.txt") && prompt.contains("# Attempt 2 of 2 for lane E"), "{prompt}");
    assert!(!fake(&r, "prompt-E-1").unwrap().contains("Attempt 2"));
    // Each attempt is kept: its outcome, why, what it cost.
    let st = final_state(&r);
    let attempts = &st.lanes["E"].attempts;
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    assert_eq!((attempts[0].n, attempts[0].outcome.as_str()), (1, "rejected"));
    assert!(attempts[0].reason.as_deref().unwrap().starts_with("E-01: "), "{attempts:?}");
    assert_eq!((attempts[1].n, attempts[1].outcome.as_str()), (2, "resolved"));
    assert_eq!((attempts[0].cost_usd, attempts[0].tokens), (Some(0.5), Some(30)));
    assert!(attempts.iter().all(|a| a.started.is_some() && a.ended.is_some()));
    assert_eq!(st.lanes["E"].cost_usd, Some(1.0), "a lane's cost is its attempts'");
    assert!(st.lanes["E"].rejected.is_empty());
    assert_eq!(st.lanes["M"].attempts.len(), 1);
    let report = r.report_on_head("R1");
    assert!(report.contains("- **Attempt 1:** rejected ($0.5000, 30 tokens) — E-01: "), "{report}");
    assert!(report.contains("- **Attempt 2:** resolved"), "{report}");
    // Each attempt has its own log.
    assert!(r.root().join(".git/lanes/runs/R1/E/worker.attempt-1.log").is_file());
    // The first attempt's evidence of a rejection went once the issue was resolved.
    assert!(!r.root().join(".git/lanes/runs/R1/E/E-01.evidence.json").exists());
    r.assert_nothing_lost("R1", &["E", "M"]);
}

#[test]
fn an_issue_resolved_on_an_earlier_attempt_stays_resolved_and_only_the_rest_is_judged_again() {
    let r = RunRepo::bare();
    r.issue("E-01", &["src/E.txt"], "grep -q guess src/E.txt && echo PASS || echo FAIL\n");
    r.issue("E-02", &["src/E.txt"], &WANTS_MAGIC.replace("magic-42", "magic-7"));
    r.finish_setup("");
    let out = r.run("R1", &[("E", "feedback")], &["--lane", "E"]);
    out.expect_code(0);
    assert_eq!(r.status_on_head("E-01"), "RESOLVED");
    assert_eq!(r.status_on_head("E-02"), "RESOLVED");
    // The second attempt was given only the issue left.
    assert_eq!(fake(&r, "attempt-E-2").as_deref(), Some("2 E-02\n"));
    let feedback = fake(&r, "feedback-E-2").unwrap();
    assert!(feedback.contains("Resolved already (keep them working, no need to touch them): E-01."), "{feedback}");
    assert!(!feedback.contains("## E-01"), "{feedback}");
    // E-01 was judged once: one RESOLVED line on the console.
    assert_eq!(out.stderr.matches("E-01 RESOLVED").count(), 1, "{}", out.stderr);
    let st = final_state(&r);
    assert_eq!(st.lanes["E"].resolved, ["E-01", "E-02"]);
}

#[test]
fn attempts_one_judges_once_as_before_and_keeps_the_failing_output_everywhere() {
    let r = repo_wanting_magic();
    let out = r.run("R1", &[("E", "feedback")], &["--attempts", "1"]);
    out.expect_code(3);
    assert_eq!(r.status_on_head("E-01"), "OPEN");
    assert!(fake(&r, "attempt-E-2").is_none(), "no second attempt");
    assert!(!out.stderr.contains("attempt 2"), "{}", out.stderr);
    assert!(out.stdout.contains("E-01 was not resolved"), "{}", out.stdout);
    // The console shows the check's output under the REJECTED line.
    let rejected = out.stderr.lines().position(|l| l.contains("E-01 REJECTED")).expect("a REJECTED line");
    let below: Vec<&str> = out.stderr.lines().skip(rejected + 1).take(3).collect();
    assert!(below.iter().any(|l| l.contains("failed:") && l.contains("grep -q magic-42") && l.contains("(exit 1)")), "{below:?}");
    assert!(below.iter().any(|l| l.contains("| want: magic-42 in src/E.txt")), "{below:?}");
    // The report folds it per check.
    let report = r.report_on_head("R1");
    assert_eq!(report_result(&report, "E-01").as_deref(), Some("REJECTED"), "{report}");
    assert!(report.contains("<details><summary>E-01: grep -q magic-42"), "{report}");
    assert!(report.contains("  want: magic-42 in src/E.txt\n"), "{report}");
    assert!(r.report_cmd("R1").contains("want: magic-42 in src/E.txt"));
    // The state and the run folder's evidence keep it.
    let st = final_state(&r);
    assert_eq!(st.lanes["E"].rejected[0].checks[0].output, "want: magic-42 in src/E.txt");
    let evidence = std::fs::read_to_string(r.root().join(".git/lanes/runs/R1/E/E-01.evidence.json")).unwrap();
    assert!(evidence.contains("want: magic-42 in src/E.txt") && evidence.contains("\"passed\": false"), "{evidence}");
    // `logs --checks` prints it.
    let logs = r.cmd().args(["logs", "E", "--checks"]).output().unwrap();
    let text = String::from_utf8_lossy(&logs.stdout);
    assert!(text.contains("E-01 REJECTED") && text.contains("| want: magic-42 in src/E.txt"), "{text}");
    assert_eq!(st.lanes["E"].attempts.len(), 1);
    assert_eq!(st.lanes["E"].attempts[0].outcome, "rejected");
}

#[test]
fn a_secret_in_a_failing_checks_output_is_redacted_everywhere_it_is_kept() {
    let r = RunRepo::bare();
    r.issue("E-01", &["src/E.txt"], "echo \"token ghp_0123456789abcdefghijklmnopqrstuvwxyzAB\"; exit 1\n");
    r.finish_setup("");
    let out = r.run("R1", &[], &["--attempts", "1", "--lane", "E"]);
    out.expect_code(3);
    assert!(!out.stderr.contains("ghp_0123456789"), "{}", out.stderr);
    assert!(!r.report_cmd("R1").contains("ghp_0123456789"));
    let state = std::fs::read_to_string(r.root().join(".git/lanes/runs/R1/state.yaml")).unwrap();
    assert!(!state.contains("ghp_0123456789") && state.contains("token "), "{state}");
}

#[test]
fn a_budget_reached_stops_the_next_attempt_and_says_so() {
    let r = repo_wanting_magic();
    let out = r.run("R1", &[("E", "feedback")], &["--budget-usd", "0.4"]);
    out.expect_code(3);
    assert!(fake(&r, "attempt-E-2").is_none(), "the budget stopped the second attempt");
    assert!(out.stderr.contains("attempt 2 not started again: the run's budget of $0.40 is reached ($0.50 recorded)"), "{}", out.stderr);
    let st = live_state(&r, "R1");
    assert!(st.lanes["E"].attempts[0].reason.as_deref().unwrap().contains("budget"), "{:?}", st.lanes["E"].attempts);
    let report = r.report_on_head("R1");
    assert!(report.contains("budget: attempt 2 not started again"), "{report}");
}

#[test]
fn run_json_lists_each_attempt_of_each_lane() {
    let r = repo_wanting_magic();
    let out = r.run("R1", &[("E", "feedback")], &["--json"]);
    out.expect_code(0);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stdout));
    let lanes = v["lanes"].as_array().unwrap();
    let e = lanes.iter().find(|l| l["lane"] == "E").unwrap();
    let attempts = e["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{e}");
    assert_eq!(attempts[0]["n"], 1);
    assert_eq!(attempts[0]["outcome"], "rejected");
    assert_eq!(attempts[0]["cost_usd"], 0.5);
    assert_eq!(attempts[0]["tokens"], 30);
    assert_eq!(attempts[1]["outcome"], "resolved");
    assert!(attempts[1]["started"].is_string() && attempts[1]["ended"].is_string());
}

#[test]
fn the_dry_run_shows_what_a_failing_check_prints() {
    let r = repo_wanting_magic();
    let out = r.cmd().args(["run", "--dry-run", "--allow-unsandboxed"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("currently failing"), "{text}");
    assert!(text.contains("| want: magic-42 in src/E.txt"), "{text}");
}

#[test]
fn a_lane_that_conflicts_with_an_earlier_lane_resolves_the_conflict_on_its_second_attempt_and_both_merge() {
    let r = RunRepo::standard();
    let out = r.run("R1", &[("E", "resolve_conflict"), ("M", "resolve_conflict")], &[]);
    out.expect_code(0);
    assert_eq!(r.status_on_head("E-01"), "RESOLVED");
    assert_eq!(r.status_on_head("M-01"), "RESOLVED");
    // M kept both lanes' lines when it resolved the markers git-lanes merged into its worktree.
    assert_eq!(r.show("HEAD", "shared.txt"), "rewritten by lane M\nrewritten by lane E\n");
    assert!(out.stderr.contains("lane M: attempt 2 of 2 starts: conflicts with lane E"), "{}", out.stderr);
    assert!(fake(&r, "attempt-E-2").is_none(), "lane E merged on its first attempt");
    let feedback = fake(&r, "feedback-M-2").expect("M's second attempt got feedback");
    assert!(feedback.contains("Your changes conflict with lane(s) E, in these files:\n\n- `shared.txt`"), "{feedback}");
    let st = final_state(&r);
    assert_eq!(st.integration.as_ref().unwrap().merged, ["E", "M"]);
    assert!(st.integration.as_ref().unwrap().backed_out.is_empty());
    let m = &st.lanes["M"].attempts;
    assert_eq!((m.len(), m[0].outcome.as_str(), m[1].outcome.as_str()), (2, "conflict", "resolved"), "{m:?}");
    // The others' issue files came in with the merge: that is no trespass.
    assert!(st.lanes["M"].warnings.iter().all(|w| !w.contains("reverted")), "{:?}", st.lanes["M"].warnings);
    r.cmd().args(["sync", "--check"]).assert().code(0);
    r.assert_nothing_lost("R1", &["E", "M"]);
}

#[test]
fn the_notify_command_reads_the_runs_json_when_a_lane_needs_a_human_and_when_the_run_ends() {
    let r = repo_wanting_magic();
    let notify = "cat > \"$FAKE_DIR/notified-$LANES_NOTIFY_EVENT.json\"";
    let out = r.run("R1", &[("E", "feedback")], &["--attempts", "1", "--notify", notify]);
    out.expect_code(3);
    let lane: serde_json::Value = serde_json::from_str(&fake(&r, "notified-lane_needs_human.json").expect("told about lane E")).unwrap();
    assert_eq!(lane["event"], "lane_needs_human");
    assert_eq!((lane["run_id"].as_str(), lane["lane"].as_str()), (Some("R1"), Some("E")));
    assert!(lane["reason"].as_str().unwrap().contains("E-01"), "{lane}");
    let end: serde_json::Value = serde_json::from_str(&fake(&r, "notified-run_ended.json").expect("told the run ended")).unwrap();
    assert_eq!(end["event"], "run_ended");
    assert_eq!(end["summary"]["run_id"], "R1");
    assert_eq!(end["summary"]["resolved"], serde_json::json!(["M-01"]));
    assert!(end["summary"]["needs_human"].as_array().unwrap().iter().any(|h| h.as_str().unwrap().contains("E-01")), "{end}");
    assert_eq!(end["summary"]["lanes"][0]["attempts"][0]["outcome"], "rejected");
}

#[test]
fn a_notify_command_that_fails_is_a_warning_and_lanes_yaml_sets_one() {
    let r = RunRepo::standard();
    // lanes.yaml's `notify:`; the command fails: the run's outcome is its own.
    r.write("lanes.yaml", "worker: sh fake-worker.sh\nnotify: \"cat > \\\"$FAKE_DIR/from-yaml.json\\\"; exit 4\"\n");
    r.git(&["commit", "-qam", "notify"]);
    let out = r.run("R1", &[], &[]);
    out.expect_code(0);
    assert!(fake(&r, "from-yaml.json").unwrap().contains("\"run_ended\""));
    assert!(out.stderr.contains("notify: `cat > \"$FAKE_DIR/from-yaml.json\"; exit 4` ended with exit 4"), "{}", out.stderr);
}

#[test]
fn a_lane_whose_usage_passes_the_budget_while_it_works_is_stopped_and_the_report_says_so() {
    let r = RunRepo::standard();
    let out = r.run("R1", &[("E", "spend")], &["--lane", "E", "--budget-usd", "0.5"]);
    out.expect_code(3);
    assert!(out.took < std::time::Duration::from_secs(30), "stopped long before its 600 s sleep: {:?}", out.took);
    let pid: u32 = fake(&r, "pid-E").unwrap().trim().parse().unwrap();
    assert!(
        crate::common_run::wait_until(std::time::Duration::from_secs(5), || !crate::common_run::process_alive(pid)),
        "the worker's group was ended"
    );
    let why = "stopped by git-lanes: the run's budget of $0.50 was passed ($0.90 with this attempt's $0.90)";
    assert!(out.stderr.contains(why), "{}", out.stderr);
    assert!(r.report_cmd("R1").contains(why));
}

#[test]
fn a_later_attempt_that_crashes_leaves_the_lane_with_what_the_earlier_one_verified() {
    let r = RunRepo::bare();
    r.issue("E-01", &["src/E.txt"], &token_check("E-01"));
    r.issue("E-02", &["src/E.txt"], &token_check("E-02"));
    r.finish_setup("");
    let out = r.run("R1", &[("E", "half_then_crash")], &["--lane", "E"]);
    out.expect_code(3);
    assert_eq!(fake(&r, "attempt-E-2").as_deref(), Some("2 E-02\n"));
    // E-01, verified on the first attempt, is integrated; E-02 waits for a human.
    assert_eq!(r.status_on_head("E-01"), "RESOLVED");
    assert_eq!(r.status_on_head("E-02"), "OPEN");
    assert!(!r.show("HEAD", "src/E.txt").contains("partial"), "the failed attempt's work is not merged");
    assert!(out.stdout.contains("E-02 was not resolved"), "{}", out.stdout);
    let st = final_state(&r);
    assert_eq!(st.lanes["E"].status.as_str(), "done");
    assert!(st.lanes["E"].warnings.iter().any(|w| w.starts_with("attempt 2 failed (")), "{:?}", st.lanes["E"].warnings);
    assert_eq!(st.lanes["E"].attempts[1].outcome, "failed");
    // Nothing is lost: the crashed attempt's commit is archived.
    assert!(r.show("refs/lanes/archive/R1/E.2", "src/E.txt").contains("partial"));
    for c in r.worker_commits("E") {
        assert!(r.git_ok(&["merge-base", "--is-ancestor", &c, "refs/lanes/archive/R1/E.2"]), "commit {c} lost");
    }
}
