//! End-to-end tests of `git lanes run` (and `watch`, `report`, `clean`, `demo`) against real
//! temporary git repositories with a scriptable fake worker (`tests/common_run`): every way a
//! worker or the orchestrator can misbehave (docs/design.md#the-safety-model), each checked on the exit code,
//! the report, the issue statuses on HEAD, the refs, and that no lane commit is lost.
#![allow(clippy::disallowed_methods)] // the tests start and kill processes with the std API

use std::path::Path;
use std::time::Duration;

use crate::common_run::{RunRepo, kill9, process_alive, report_result, token_check, wait_until};
use git_lanes::run::state::RunState;

/// The final state committed with the run (in the main worktree after the fast-forward).
fn final_state(r: &RunRepo) -> RunState {
    RunState::load(r.root(), Path::new("LogBook/issue-fixing/orchestrator-state.yaml")).unwrap().expect("state committed")
}

/// The live state of a run in the common git dir.
fn live_state(r: &RunRepo, run_id: &str) -> RunState {
    RunState::load(r.root(), &Path::new(".git/lanes/runs").join(run_id).join("state.yaml")).unwrap().expect("live state")
}

fn lane_status(st: &RunState, lane: &str) -> String {
    st.lanes.get(lane).map(|l| l.status.as_str().to_string()).unwrap_or_else(|| panic!("no lane {lane} in the state"))
}

fn assert_archived(r: &RunRepo, run_id: &str, lanes: &[&str]) {
    for lane in lanes {
        assert!(r.has_ref(&format!("refs/lanes/archive/{run_id}/{lane}")), "no archive ref for lane {lane}");
    }
}

/// The pre-push gate's range check passes on what the run committed since `base`: a genuine run's
/// resolutions are earned by the evidence its judge wrote.
fn assert_gate_passes(r: &RunRepo, base: &str) {
    let out = r.cmd().args(["check", "--range", &format!("{}..HEAD", base.trim())]).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "the gate refuses a genuine run: {text}");
}

#[test]
fn a_worker_that_fixes_gets_its_issues_resolved_merged_and_tidied() {
    let r = RunRepo::standard();
    let base = r.git(&["rev-parse", "HEAD"]);
    let out = r.run("R1", &[], &[]);
    out.expect_code(0);
    assert!(out.stdout.contains("run R1: 2 resolved, 0 open"), "{}", out.stdout);
    for id in ["E-01", "M-01"] {
        let lane = &id[..1];
        let text = r.show("HEAD", &format!("issues/{lane}/{id}.md"));
        assert!(text.contains("status: \"RESOLVED\""), "{text}");
        assert!(text.contains("- **Status:** RESOLVED"), "{text}");
        assert!(text.contains("## Resolution"), "{text}");
        assert!(text.contains("# a comment that must survive"), "{text}");
        assert!(r.show("HEAD", &format!("src/{lane}.txt")).contains(&format!("fixed-{id}")));
        let evidence = r.git(&["ls-tree", "-r", "--name-only", "HEAD", &format!("LogBook/verification/evidence/{lane}/")]);
        assert!(evidence.lines().any(|l| l.contains(&format!("/{id}_")) && l.ends_with(".json")), "no evidence for {id}: {evidence}");
    }
    let report = r.report_on_head("R1");
    assert_eq!(report_result(&report, "E-01").as_deref(), Some("RESOLVED"), "{report}");
    assert_eq!(report_result(&report, "M-01").as_deref(), Some("RESOLVED"), "{report}");
    r.cmd().args(["sync", "--check"]).assert().code(0);
    // The user's branch was fast-forwarded from the base, one run commit on top.
    assert!(r.git_ok(&["merge-base", "--is-ancestor", base.trim(), "HEAD"]));
    assert!(r.git(&["log", "-1", "--format=%s"]).starts_with("lanes: run R1: 2 resolved, 0 open"));
    assert_eq!(r.git(&["status", "--porcelain", "--untracked-files=no"]), "");
    // Merged lanes: branches and worktrees gone, tips archived; signals cleared.
    assert!(r.lane_branches().is_empty(), "{:?}", r.lane_branches());
    assert_archived(&r, "R1", &["E", "M"]);
    assert!(!r.worktree("R1", "E").exists() && !r.worktree("R1", "M").exists());
    assert!(!r.worktree("R1", "integration").exists());
    let leftovers: Vec<_> = std::fs::read_dir(r.signals()).map(|d| d.flatten().map(|e| e.file_name()).collect()).unwrap_or_default();
    assert!(leftovers.is_empty(), "signals left: {leftovers:?}");
    assert_eq!(r.git(&["ls-files", "LogBook/issue-fixing/signals"]), "");
    let st = final_state(&r);
    assert_eq!(lane_status(&st, "E"), "done");
    assert!(st.lanes["E"].signal_latency_ms.is_some());
    r.assert_nothing_lost("R1", &["E", "M"]);
    assert_gate_passes(&r, &base);
}

#[test]
fn a_worker_that_marks_resolved_without_fixing_is_rejected_and_stays_open() {
    let r = RunRepo::standard();
    let base = r.git(&["rev-parse", "HEAD"]);
    let out = r.run("R1", &[("E", "claim")], &[]);
    out.expect_code(3);
    assert_gate_passes(&r, &base);
    assert_eq!(r.status_on_head("E-01"), "OPEN");
    assert!(r.show("HEAD", "issues/E/E-01.md").contains("- **Status:** OPEN"));
    assert_eq!(r.status_on_head("M-01"), "RESOLVED");
    let report = r.report_on_head("R1");
    assert_eq!(report_result(&report, "E-01").as_deref(), Some("REJECTED"), "{report}");
    assert_eq!(report_result(&report, "M-01").as_deref(), Some("RESOLVED"), "{report}");
    assert!(out.stdout.contains("E-01 was not resolved"), "{}", out.stdout);
    // The rejected lane is kept for review; its claim was set back to OPEN on the branch.
    assert!(r.has_ref("refs/heads/lanes/R1/E"));
    assert_eq!(crate::common_run::frontmatter_status(&r.show("lanes/R1/E", "issues/E/E-01.md")), "OPEN");
    assert_archived(&r, "R1", &["E", "M"]);
    r.cmd().args(["sync", "--check"]).assert().code(0);
    r.assert_nothing_lost("R1", &["E", "M"]);
}

#[test]
fn a_worker_that_crashes_without_done_fails_its_lane_and_keeps_its_branch() {
    let r = RunRepo::standard();
    let out = r.run("R1", &[("E", "crash")], &[]);
    out.expect_code(3);
    let st = final_state(&r);
    assert_eq!(lane_status(&st, "E"), "failed");
    assert_eq!(lane_status(&st, "M"), "done");
    assert_eq!(r.status_on_head("E-01"), "OPEN");
    assert_eq!(r.status_on_head("M-01"), "RESOLVED");
    let report = r.report_on_head("R1");
    assert_eq!(report_result(&report, "E-01").as_deref(), Some("OPEN"), "{report}");
    assert!(out.stdout.contains("lane E failed"), "{}", out.stdout);
    // Its branch is kept with its commits (and archived); the crash's half-done work is not on HEAD.
    assert!(r.has_ref("refs/heads/lanes/R1/E"));
    for c in r.worker_commits("E") {
        assert!(r.git_ok(&["merge-base", "--is-ancestor", &c, "lanes/R1/E"]));
        assert!(!r.git_ok(&["merge-base", "--is-ancestor", &c, "HEAD"]));
    }
    assert_archived(&r, "R1", &["E", "M"]);
    r.assert_nothing_lost("R1", &["E", "M"]);
    // doctor points at what the run left and how to continue it.
    let doctor = r.cmd().arg("doctor").output().unwrap();
    let text = String::from_utf8_lossy(&doctor.stdout);
    assert!(text.contains("lanes/R1/E") && text.contains("git lanes clean --force"), "{text}");
    assert!(text.contains("git lanes run --resume"), "{text}");
}

#[test]
fn a_worker_that_hangs_after_done_is_ended_after_the_grace_and_its_fix_accepted() {
    let r = RunRepo::standard();
    let out = r.run("R1", &[("E", "hang")], &["--done-grace", "1s"]);
    out.expect_code(0);
    assert!(out.took < Duration::from_secs(20), "took {:?}", out.took);
    let st = final_state(&r);
    assert_eq!(lane_status(&st, "E"), "done");
    assert!(st.lanes["E"].exit.as_deref().unwrap_or("").contains("after .done"), "{:?}", st.lanes["E"].exit);
    assert_eq!(r.status_on_head("E-01"), "RESOLVED");
    assert_eq!(report_result(&r.report_on_head("R1"), "E-01").as_deref(), Some("RESOLVED"));
    let pid = r.worker_pid("E").expect("the hanging worker wrote its pid");
    assert!(wait_until(Duration::from_secs(3), || !process_alive(pid)), "the worker's sleep {pid} is still running");
    r.assert_nothing_lost("R1", &["E", "M"]);
}

#[test]
fn a_worker_that_never_writes_done_times_out_and_its_group_is_killed() {
    let r = RunRepo::standard();
    let out = r.run("R1", &[("E", "never")], &["--timeout", "2s"]);
    out.expect_code(3);
    assert!(out.took < Duration::from_secs(20), "took {:?}", out.took);
    let st = final_state(&r);
    assert_eq!(lane_status(&st, "E"), "timed_out");
    assert_eq!(lane_status(&st, "M"), "done");
    assert!(out.stdout.contains("lane E timed out"), "{}", out.stdout);
    let pid = r.worker_pid("E").expect("the sleeping worker wrote its pid");
    assert!(wait_until(Duration::from_secs(3), || !process_alive(pid)), "the worker's sleep {pid} is still running");
    assert_eq!(r.status_on_head("E-01"), "OPEN");
    assert_eq!(r.status_on_head("M-01"), "RESOLVED");
    assert_eq!(report_result(&r.report_on_head("R1"), "E-01").as_deref(), Some("OPEN"));
    assert!(r.has_ref("refs/heads/lanes/R1/E"));
    assert_archived(&r, "R1", &["E", "M"]);
}

#[test]
fn a_worker_with_no_sign_of_life_for_stall_after_is_ended_naming_the_stall() {
    let r = RunRepo::standard();
    let out = r.run("R1", &[("E", "never")], &["--stall-after", "2s", "--timeout", "60s"]);
    out.expect_code(3);
    assert!(out.took < Duration::from_secs(20), "took {:?}", out.took);
    let st = final_state(&r);
    assert_eq!(lane_status(&st, "E"), "failed");
    assert_eq!(lane_status(&st, "M"), "done");
    assert!(out.stdout.contains("no sign of life for 2s"), "{}", out.stdout);
    assert!(out.stdout.contains("stalled: no output, no signal and no change in its worktree for 2s"), "{}", out.stdout);
    let pid = r.worker_pid("E").expect("the sleeping worker wrote its pid");
    assert!(wait_until(Duration::from_secs(3), || !process_alive(pid)), "the worker's sleep {pid} is still running");
    let report = r.report_on_head("R1");
    assert!(report.contains("stalled: no output"), "{report}");
}

#[test]
fn a_quiet_worker_that_keeps_changing_its_worktree_is_not_stalled() {
    let r = RunRepo::standard();
    let out = r.run("R1", &[("E", "busy")], &["--stall-after", "2s", "--timeout", "60s"]);
    out.expect_code(0);
    let st = final_state(&r);
    assert_eq!(lane_status(&st, "E"), "done", "{}", out.stdout);
    assert!(!out.stdout.contains("stalled"), "{}", out.stdout);
    assert_eq!(r.status_on_head("E-01"), "RESOLVED");
}

#[test]
fn garbage_signals_and_a_deleted_signal_folder_do_not_stop_the_run() {
    let r = RunRepo::standard();
    // One lane only: the worker deletes the shared signal folder, which would also hide the
    // signals of a concurrent lane.
    let out = r.run("R1", &[("E", "garbage")], &["--lane", "E"]);
    out.expect_code(0);
    assert!(out.took < Duration::from_secs(20), "took {:?}", out.took);
    assert_eq!(lane_status(&final_state(&r), "E"), "done");
    assert_eq!(r.status_on_head("E-01"), "RESOLVED");
    assert_eq!(r.status_on_head("M-01"), "OPEN");
    assert_eq!(report_result(&r.report_on_head("R1"), "E-01").as_deref(), Some("RESOLVED"));
    // The worktree-relative signals it wrote were never committed.
    assert_eq!(r.git(&["ls-tree", "-r", "--name-only", "HEAD", "LogBook/issue-fixing/signals/"]), "");
    r.assert_nothing_lost("R1", &["E"]);
}

#[test]
fn a_worker_that_forgets_to_commit_has_its_work_committed_and_accepted() {
    let r = RunRepo::standard();
    let out = r.run("R1", &[("E", "nocommit")], &[]);
    out.expect_code(0);
    assert!(r.worker_commits("E").is_empty());
    assert_eq!(r.status_on_head("E-01"), "RESOLVED");
    assert!(r.show("HEAD", "src/E.txt").contains("fixed-E-01"));
    let log = r.git(&["log", "--format=%s", "refs/lanes/archive/R1/E"]);
    assert!(log.contains("lanes: run R1: lane E: work left uncommitted by the worker"), "{log}");
    // The documented normal path (a worker leaves its changes, git-lanes commits them) is no
    // warning: the report warns only about what the user must act on.
    assert!(!final_state(&r).lanes["E"].warnings.iter().any(|w| w.contains("uncommitted")));
    let said = format!("{}{}{}", out.stdout, out.stderr, r.report_on_head("R1"));
    assert!(!said.contains("left uncommitted changes"), "{said}");
    r.assert_nothing_lost("R1", &["M"]);
}

#[test]
fn a_worker_that_edits_another_lanes_issue_or_the_catalog_has_the_edit_dropped_and_its_fix_merged() {
    let r = RunRepo::standard();
    let catalog = r.show("HEAD", "SAF_ISSUE_CATALOG.md");
    let out = r.run("R1", &[("E", "trespass_issue"), ("M", "trespass_catalog")], &[]);
    // Resolved and merged, with what was dropped left for a human to look at.
    out.expect_code(3);
    // Judged on the rest: both honest fixes are resolved and merged.
    assert_eq!(r.status_on_head("E-01"), "RESOLVED", "{}", out.stdout);
    assert_eq!(r.status_on_head("M-01"), "RESOLVED", "{}", out.stdout);
    assert!(r.show("HEAD", "src/E.txt").contains("fixed-E-01"));
    assert!(r.show("HEAD", "src/M.txt").contains("fixed-M-01"));
    // The trespasses are not: not on HEAD, and named with their lane.
    assert!(!r.show("HEAD", "issues/M/M-01.md").contains("edited by lane E"));
    assert!(!r.show("HEAD", "SAF_ISSUE_CATALOG.md").contains("edited by lane M"));
    assert_ne!(r.show("HEAD", "SAF_ISSUE_CATALOG.md"), catalog, "the run still syncs the catalog");
    assert!(out.stdout.contains("lane E: edit dropped from its commit: issues/M/M-01.md (M-01)"), "{}", out.stdout);
    assert!(
        out.stdout.contains("lane M: edit dropped from its commit: SAF_ISSUE_CATALOG.md: the lane changed the catalog"),
        "{}",
        out.stdout
    );
    let report = r.report_on_head("R1");
    assert!(report.contains("edit dropped: issues/M/M-01.md"), "{report}");
    let verdict = r.show("HEAD", "LogBook/issue-fixing/runs/R1/E-01.verdict.yaml");
    assert!(verdict.contains("dropped_edit") && verdict.contains("issues/M/M-01.md"), "{verdict}");
    r.cmd().args(["sync", "--check"]).assert().code(0);
    r.assert_nothing_lost("R1", &["E", "M"]);
}

/// What steers the next run is not a lane's: `lanes.yaml`, agent specs and the catalog.
#[test]
fn a_lane_that_rewrites_lanes_yaml_a_spec_or_the_catalog_has_those_edits_dropped_and_named() {
    let r = RunRepo::bare();
    r.issue("E-01", &["src/E.txt"], &token_check("E-01"));
    r.issue("M-01", &["src/M.txt"], &token_check("M-01"));
    for lane in ["E", "M"] {
        let spec = std::fs::read_to_string(format!("tests/fixtures/seed/agents/IF-Lane-{lane}.md")).unwrap();
        r.write(&format!(".claude/agents/issue-fixers/IF-Lane-{lane}.md"), &spec);
    }
    r.finish_setup("");
    let spec_m = r.show("HEAD", ".claude/agents/issue-fixers/IF-Lane-M.md");
    let config = r.show("HEAD", "lanes.yaml");
    let out = r.run("R1", &[("E", "steer"), ("M", "fix")], &[]);
    // Resolved and merged, with what was dropped left for a human to look at.
    out.expect_code(3);
    assert_eq!(r.status_on_head("E-01"), "RESOLVED", "{}", out.stdout);
    assert_eq!(r.status_on_head("M-01"), "RESOLVED", "{}", out.stdout);
    assert!(r.show("HEAD", "src/E.txt").contains("fixed-E-01"));
    assert_eq!(r.show("HEAD", "lanes.yaml"), config);
    assert_eq!(r.show("HEAD", ".claude/agents/issue-fixers/IF-Lane-M.md"), spec_m);
    assert!(!r.show("HEAD", "SAF_ISSUE_CATALOG.md").contains("edited by lane E"));
    for what in [
        "lanes.yaml: the lane changed git-lanes' configuration",
        ".claude/agents/issue-fixers/IF-Lane-M.md: the lane changed an agent spec",
        "SAF_ISSUE_CATALOG.md: the lane changed the catalog",
    ] {
        assert!(out.stdout.contains(&format!("lane E: edit dropped from its commit: {what}")), "{what}\n{}", out.stdout);
    }
    // `status` names them after the run.
    let status = r.cmd().arg("status").output().unwrap();
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(status.contains("lane E: edit dropped: lanes.yaml"), "{status}");
    assert!(status.contains("E-01 approved with warnings"), "{status}");
    r.assert_nothing_lost("R1", &["E", "M"]);
}

#[test]
fn a_worker_that_marks_an_issue_it_was_not_given_resolved_does_not_resolve_it() {
    let r = RunRepo::bare();
    r.issue("E-01", &["src/E.txt"], &token_check("E-01"));
    r.issue("M-01", &["src/M.txt"], &token_check("M-01"));
    // E-02 waits for M-01: blocked, so not assigned in this run.
    r.issue("E-02", &["src/E.txt"], &token_check("E-02"));
    let e2 = std::fs::read_to_string(r.root().join("issues/E/E-02.md")).unwrap();
    r.write("issues/E/E-02.md", &e2.replace("depends_on: []", "depends_on: [\"M-01\"]"));
    r.finish_setup("");
    let out = r.run("R1", &[("E", "flip"), ("M", "fix")], &[]);
    // Resolved and merged, with what was dropped left for a human to look at.
    out.expect_code(3);
    assert_eq!(r.status_on_head("E-01"), "RESOLVED", "{}", out.stdout);
    assert_eq!(r.status_on_head("M-01"), "RESOLVED", "{}", out.stdout);
    assert_eq!(r.status_on_head("E-02"), "OPEN", "{}", out.stdout);
    assert!(
        out.stdout.contains(
            "lane E: edit dropped from its commit: issues/E/E-02.md (E-02): the lane set its status to RESOLVED (not an issue of this lane)"
        ),
        "{}",
        out.stdout
    );
    r.cmd().args(["sync", "--check"]).assert().code(0);
}

/// A protected file an issue lists under `may_change:` is the lane's to change; without it the
/// same edit is dropped and the checks run on the base's version.
#[test]
fn may_change_lets_a_lane_change_a_protected_file_and_without_it_the_edit_is_dropped() {
    for (lenient, code, status) in [(true, 0, "RESOLVED"), (false, 3, "OPEN")] {
        let r = RunRepo::bare();
        r.write("tests/expected.txt", "old expectation\n");
        r.issue("E-01", &["tests/expected.txt"], "grep -q new tests/expected.txt && echo PASS || echo FAIL\n");
        if lenient {
            let text = std::fs::read_to_string(r.root().join("issues/E/E-01.md")).unwrap();
            r.write("issues/E/E-01.md", &text.replace("depends_on: []", "depends_on: []\nmay_change: [\"tests/expected.txt\"]"));
        }
        r.finish_setup("");
        r.cmd().arg("validate").assert().code(0);
        let out = r.run("R1", &[("E", "sed|tests/expected.txt|s/old/new/")], &["--lane", "E"]);
        out.expect_code(code);
        assert_eq!(r.status_on_head("E-01"), status, "may_change {lenient}: {}", out.stdout);
        let on_head = r.show("HEAD", "tests/expected.txt");
        assert_eq!(on_head.contains("new"), lenient, "{on_head}");
        assert_eq!(out.stdout.contains("lane E: edit dropped from its commit: tests/expected.txt"), !lenient, "{}", out.stdout);
    }
}

#[test]
fn a_weakened_test_in_a_python_package_is_not_merged_and_an_honest_fix_is() {
    if !crate::common_run::has_pytest() {
        eprintln!("skipped: `python3 -m pytest --version` fails (pytest is not installed)");
        return;
    }
    let r = RunRepo::bare();
    r.write("calc/__init__.py", "def add(a, b):\n    return a + b + 1\n\n\ndef mul(a, b):\n    return a * b + 1\n");
    let tests =
        "from calc import add, mul\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\ndef test_mul():\n    assert mul(2, 3) == 6\n";
    r.write("tests/test_calc.py", tests);
    let pytest = |t: &str| format!("python3 -m pytest -q -p no:cacheprovider tests/test_calc.py::{t}\n");
    r.issue("E-01", &["calc/"], &pytest("test_add"));
    r.issue("M-01", &["calc/"], &pytest("test_mul"));
    r.finish_setup("");
    let dry = r.cmd().args(["run", "--dry-run"]).output().unwrap();
    let dry = String::from_utf8_lossy(&dry.stdout);
    assert!(dry.contains("protected (run as at the base, edits not merged): tests/**"), "{dry}");
    assert!(dry.contains("tests/test_calc.py"), "{dry}");
    // Lane E rewrites the test to expect the bug; lane M fixes the code.
    let out = r.run(
        "R1",
        &[("E", "sed|tests/test_calc.py|s/add(2, 3) == 5/add(2, 3) == 6/"), ("M", "sed|calc/__init__.py|s/a \\* b + 1/a * b/")],
        &[],
    );
    out.expect_code(3);
    assert_eq!(r.status_on_head("E-01"), "OPEN", "{}", out.stdout);
    assert_eq!(r.status_on_head("M-01"), "RESOLVED", "{}", out.stdout);
    assert_eq!(r.show("HEAD", "tests/test_calc.py"), tests);
    assert!(r.show("HEAD", "calc/__init__.py").contains("return a * b\n"));
    assert!(
        out.stdout.contains(
            "lane E: edit dropped from its commit: tests/test_calc.py: the lane changed a protected path (`protect:` pattern `tests/**`)"
        ),
        "{}",
        out.stdout
    );
    let report = r.report_on_head("R1");
    assert_eq!(report_result(&report, "E-01").as_deref(), Some("REJECTED"), "{report}");
    assert_eq!(report_result(&report, "M-01").as_deref(), Some("RESOLVED"), "{report}");
    assert!(report.contains("edit dropped: tests/test_calc.py"), "{report}");
    let status = r.cmd().arg("status").output().unwrap();
    assert!(String::from_utf8_lossy(&status.stdout).contains("lane E: edit dropped: tests/test_calc.py"));
    r.assert_nothing_lost("R1", &["E", "M"]);
}

#[test]
fn two_lanes_that_conflict_back_out_the_second_and_keep_its_branch() {
    let r = RunRepo::standard();
    // One attempt: the lane that conflicts is not sent back to its worker (see tests/it/attempts.rs).
    let out = r.run("R1", &[("E", "conflict"), ("M", "conflict")], &["--attempts", "1"]);
    out.expect_code(3);
    assert_eq!(r.status_on_head("E-01"), "RESOLVED");
    assert_eq!(r.status_on_head("M-01"), "OPEN");
    assert_eq!(r.show("HEAD", "shared.txt"), "rewritten by lane E\n");
    let report = r.report_on_head("R1");
    assert_eq!(report_result(&report, "E-01").as_deref(), Some("RESOLVED"), "{report}");
    assert_eq!(report_result(&report, "M-01").as_deref(), Some("OPEN"), "{report}");
    assert!(report.contains("backed out"), "{report}");
    assert!(out.stdout.contains("lane M was backed out of the integration: conflicts with lane E"), "{}", out.stdout);
    let st = final_state(&r);
    assert_eq!(st.integration.as_ref().unwrap().merged, ["E"]);
    assert!(r.has_ref("refs/heads/lanes/R1/M"));
    assert!(!r.has_ref("refs/heads/lanes/R1/E"));
    assert_archived(&r, "R1", &["E", "M"]);
    r.cmd().args(["sync", "--check"]).assert().code(0);
    r.assert_nothing_lost("R1", &["E", "M"]);
}

#[test]
fn two_lanes_that_change_one_file_apart_are_both_merged_with_both_changes() {
    // Not disjoint paths: the in-memory tree merge hands this one to libgit2's content merge.
    let r = RunRepo::standard();
    let out = r.run("R1", &[("E", "share"), ("M", "share")], &[]);
    out.expect_code(0);
    assert_eq!(r.status_on_head("E-01"), "RESOLVED");
    assert_eq!(r.status_on_head("M-01"), "RESOLVED");
    assert_eq!(r.show("HEAD", "shared.txt"), "top by lane E\nkeepme\nshared base\nbottom by lane M\n");
    assert!(!out.stdout.contains("conflict"), "{}", out.stdout);
    // Credit per issue: E-01's changes are its own file; the shared line is listed under the lane.
    let e01 = r.show("HEAD", "issues/E/E-01.md");
    let changes = &e01[e01.find("**Changes Made:**").expect("a resolution")..];
    assert!(changes.contains("`src/E.txt`") && !changes.contains("`shared.txt`"), "{e01}");
    assert!(changes.contains("and 1 other file(s) of the lane, listed in the run report"), "{e01}");
    let report = r.report_on_head("R1");
    assert!(report.contains("- **Other changes (no issue of the lane's):** `shared.txt`"), "{report}");
    assert_eq!(final_state(&r).integration.as_ref().unwrap().merged, ["E", "M"]);
    r.cmd().args(["sync", "--check"]).assert().code(0);
    r.assert_nothing_lost("R1", &["E", "M"]);
}

#[test]
fn a_lane_whose_merge_breaks_another_lanes_check_is_backed_out() {
    let r = RunRepo::bare();
    r.issue("E-01", &["src/E.txt"], &format!("{}grep -q keepme shared.txt && echo PASS || echo FAIL\n", token_check("E-01")));
    r.issue("M-01", &["src/M.txt", "shared.txt"], &token_check("M-01"));
    r.finish_setup("");
    let out = r.run("R1", &[("M", "break")], &[]);
    out.expect_code(3);
    assert_eq!(r.status_on_head("E-01"), "RESOLVED");
    assert_eq!(r.status_on_head("M-01"), "OPEN");
    assert!(r.show("HEAD", "shared.txt").contains("keepme"));
    assert!(out.stdout.contains("lane M was backed out of the integration: its merge breaks the checks of E-01"), "{}", out.stdout);
    let report = r.report_on_head("R1");
    assert_eq!(report_result(&report, "E-01").as_deref(), Some("RESOLVED"), "{report}");
    assert_eq!(report_result(&report, "M-01").as_deref(), Some("OPEN"), "{report}");
    assert!(r.has_ref("refs/heads/lanes/R1/M"));
    r.assert_nothing_lost("R1", &["E", "M"]);
}

/// Pipelined lanes: lane M's worktree set-up waits for lane E's worker to have started (and then
/// opens E's gate). Were workers started only once every worktree is set up, M's set-up would
/// give up and E would wait for its gate in vain.
#[test]
fn a_lanes_worker_starts_while_other_worktrees_are_still_being_set_up() {
    let r = RunRepo::bare();
    r.issue("E-01", &["src/E.txt"], &token_check("E-01"));
    r.issue("M-01", &["src/M.txt"], &token_check("M-01"));
    r.finish_setup(
        "setup:\n  run:\n    - |\n      case \"$PWD\" in */M) i=0; while [ ! -e \"$FAKE_DIR/started-E\" ]; do i=$((i+1)); [ $i -gt 300 ] && exit 1; sleep 0.1; done; touch \"$FAKE_DIR/gate\" ;; esac\n",
    );
    let out = r.run("P1", &[("E", "gate"), ("M", "fix")], &[]);
    out.expect_code(0);
    assert_eq!(r.status_on_head("E-01"), "RESOLVED", "{}", out.stdout);
    assert_eq!(r.status_on_head("M-01"), "RESOLVED", "{}", out.stdout);
    let st = final_state(&r);
    assert!(st.worktree_setup_ms.is_some());
    r.assert_nothing_lost("P1", &["E", "M"]);
}

#[test]
fn a_lane_that_ends_is_judged_while_another_lanes_worker_still_works() {
    let r = RunRepo::standard();
    let mut child = r.run_child("J1", &[("E", "fix"), ("M", "gate")], &[]);
    assert!(r.wait_for_marker("started-M", Duration::from_secs(30)), "worker M never started");
    // M's worker waits for the gate; E's verdict is written and its state recorded meanwhile.
    let verdict = r.root().join(".git/lanes/runs/J1/E/E-01.verdict.yaml");
    let judged = wait_until(Duration::from_secs(30), || verdict.exists() && e_resolved_live(&r, "J1"));
    let live = live_state(&r, "J1");
    r.open_gate();
    let out = crate::common_run::wait_with_deadline(&mut child, Duration::from_secs(60)).expect("run ends");
    assert!(judged, "lane E was not judged while lane M still ran\n{}", out.stderr);
    assert_eq!(lane_status(&live, "M"), "running");
    assert_eq!(live.lanes["E"].resolved, ["E-01"]);
    out.expect_code(0);
    assert_eq!(r.status_on_head("E-01"), "RESOLVED", "{}", out.stdout);
    assert_eq!(r.status_on_head("M-01"), "RESOLVED", "{}", out.stdout);
    // Judged once, while M ran: not again with the rest after the last worker.
    let all = format!("{}{}", out.stdout, out.stderr);
    assert_eq!(all.matches("lane E: E-01 RESOLVED").count(), 1, "{all}");
    let st = final_state(&r);
    assert_eq!(st.lanes["E"].resolved, ["E-01"]);
    assert_eq!(st.lanes["M"].resolved, ["M-01"]);
    r.assert_nothing_lost("J1", &["E", "M"]);
}

/// Whether the live state of the run has lane E's issue resolved (false while it cannot be read).
fn e_resolved_live(r: &RunRepo, run_id: &str) -> bool {
    RunState::load(r.root(), &Path::new(".git/lanes/runs").join(run_id).join("state.yaml"))
        .ok()
        .flatten()
        .is_some_and(|st| st.lanes.get("E").is_some_and(|l| l.resolved == ["E-01"]))
}

#[test]
fn a_lane_judged_while_others_work_is_judged_again_when_the_operator_restarts_it() {
    let r = RunRepo::standard();
    let mut child = r.run_child("J2", &[("E", "fix"), ("M", "gate")], &[]);
    assert!(r.wait_for_marker("started-M", Duration::from_secs(30)), "worker M never started");
    let judged = wait_until(Duration::from_secs(30), || e_resolved_live(&r, "J2"));
    // What the live view's `r` sends for a lane (`git lanes restart` refuses a done one).
    std::fs::write(r.root().join(".git/lanes/runs/J2/E/control"), "restart\n").unwrap();
    let commits = r.fake_dir().join("commits-E");
    let twice = wait_until(Duration::from_secs(30), || std::fs::read_to_string(&commits).is_ok_and(|c| c.lines().count() == 2));
    r.open_gate();
    let out = crate::common_run::wait_with_deadline(&mut child, Duration::from_secs(60)).expect("run ends");
    assert!(judged, "lane E was not judged while lane M still ran\n{}", out.stderr);
    assert!(twice, "worker E was not started again\n{}", out.stderr);
    out.expect_code(0);
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(all.contains("lane E: restarted by the operator"), "{all}");
    // The first judgement is not the last word: the second worker's work is judged too.
    assert_eq!(all.matches("lane E: E-01 RESOLVED").count(), 2, "{all}");
    assert_eq!(r.status_on_head("E-01"), "RESOLVED", "{}", out.stdout);
    assert_eq!(r.status_on_head("M-01"), "RESOLVED", "{}", out.stdout);
    r.assert_nothing_lost("J2", &["E", "M"]);
}

/// Start a run of gate-mode workers as a child and wait until both workers are in.
fn start_gated(r: &RunRepo, run_id: &str) -> std::process::Child {
    let child = r.run_child(run_id, &[("E", "gate"), ("M", "gate")], &[]);
    for lane in ["E", "M"] {
        assert!(r.wait_for_marker(&format!("started-{lane}"), Duration::from_secs(30)), "worker {lane} never started");
    }
    child
}

#[test]
fn an_orchestrator_killed_mid_run_is_finished_by_resume_while_its_workers_still_run() {
    let r = RunRepo::standard();
    let mut child = start_gated(&r, "R1");
    kill9(child.id());
    let _ = child.wait();
    assert_eq!(lane_status(&live_state(&r, "R1"), "E"), "running");
    // The orphaned workers go on once the gate opens, while `--resume` follows them by pid.
    let opener = {
        let fake = r.fake_dir().to_path_buf();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(500));
            std::fs::write(fake.join("gate"), "go\n").unwrap();
        })
    };
    let out = r.cmd().args(["run", "--resume", "--done-grace", "1s"]).output().unwrap();
    opener.join().unwrap();
    let out = crate::common_run::RunOutput {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        took: Duration::ZERO,
    };
    out.expect_code(0);
    assert!(out.stderr.contains("resuming run R1"), "{}", out.stderr);
    assert_eq!(r.status_on_head("E-01"), "RESOLVED");
    assert_eq!(r.status_on_head("M-01"), "RESOLVED");
    assert_eq!(report_result(&r.report_on_head("R1"), "E-01").as_deref(), Some("RESOLVED"));
    assert_eq!(live_state(&r, "R1").status.as_str(), "complete");
    assert_archived(&r, "R1", &["E", "M"]);
    // Both commits of each worker (wip before the kill, fix after) are on HEAD.
    for lane in ["E", "M"] {
        assert_eq!(r.worker_commits(lane).len(), 2, "lane {lane}");
    }
    r.assert_nothing_lost("R1", &["E", "M"]);
}

#[test]
fn an_orchestrator_killed_mid_run_is_finished_by_resume_after_its_workers_ended() {
    let r = RunRepo::standard();
    let mut child = start_gated(&r, "R1");
    kill9(child.id());
    let _ = child.wait();
    r.open_gate();
    for lane in ["E", "M"] {
        // A sandboxed worker signals in its own worktree's signal folder.
        let done = r.worktree("R1", lane).join("LogBook/issue-fixing/signals").join(format!("{lane}.done"));
        assert!(wait_until(Duration::from_secs(20), || done.exists()), "worker {lane} never finished");
    }
    // Let the orphans exit.
    let st = live_state(&r, "R1");
    for lane in ["E", "M"] {
        let pid = st.lanes[lane].worker_pid.expect("worker pid recorded");
        assert!(wait_until(Duration::from_secs(10), || !process_alive(pid)), "worker {lane} ({pid}) still running");
    }
    let out = r.cmd().args(["run", "--resume", "--done-grace", "1s"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("lane E: done — worker from the earlier run finished (.done written) before the run was resumed"), "{stderr}");
    assert_eq!(r.status_on_head("E-01"), "RESOLVED");
    assert_eq!(r.status_on_head("M-01"), "RESOLVED");
    assert_archived(&r, "R1", &["E", "M"]);
    r.assert_nothing_lost("R1", &["E", "M"]);
    // A worker that finished (`.done`, exited) while no orchestrator watched is not run again.
    for lane in ["E", "M"] {
        assert_eq!(r.worker_commits(lane).len(), 2, "lane {lane} was run again");
    }
    // Nothing left to resume.
    r.cmd().args(["run", "--resume"]).assert().code(5);
}

#[test]
fn resume_times_out_a_worker_left_running_by_the_killed_orchestrator() {
    let r = RunRepo::standard();
    let mut child = r.run_child("R1", &[("E", "never")], &[]);
    assert!(r.wait_for_marker("pid-E", Duration::from_secs(30)), "worker E never started");
    // Lane M's worker has committed its fix: the resume's 2 s time-out is for E alone.
    assert!(r.wait_for_marker("commits-M", Duration::from_secs(30)), "worker M never committed");
    kill9(child.id());
    let _ = child.wait();
    let sleeper = r.worker_pid("E").unwrap();
    assert!(process_alive(sleeper));
    let mut resume = r.cmd_child(&["run", "--resume", "--timeout", "2s", "--done-grace", "1s"]);
    let out = crate::common_run::wait_with_deadline(&mut resume, Duration::from_secs(30));
    let Some(out) = out else {
        crate::common_run::signal(sleeper, "KILL"); // leave no stray process behind
        panic!("`run --resume` must not wait forever for a worker of the killed orchestrator");
    };
    out.expect_code(3);
    assert_eq!(lane_status(&final_state(&r), "E"), "timed_out");
    assert!(wait_until(Duration::from_secs(3), || !process_alive(sleeper)), "the worker's sleep {sleeper} is still running");
    assert_eq!(r.status_on_head("E-01"), "OPEN");
    assert_eq!(r.status_on_head("M-01"), "RESOLVED");
    assert_archived(&r, "R1", &["E", "M"]);
}

/// A kill between a worker's start and the state's save leaves a worker nobody recorded: the
/// resume finds it by its environment and follows it (here until its time-out) instead of
/// starting a second worker beside it.
#[test]
fn resume_adopts_a_worker_the_killed_orchestrator_had_not_recorded() {
    let r = RunRepo::standard();
    // Both lanes' workers run forever; the run aborts right after starting the first of them.
    let out = r
        .cmd()
        .args(["run", "--run-id", "R1", "--max-parallel", "1"])
        .env("FAKE_MODE_E", "never")
        .env("FAKE_MODE_M", "never")
        .env("LANES_FAULT", "after-spawn")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), None, "the fault point did not abort: {}", String::from_utf8_lossy(&out.stderr));
    let started = || ["E", "M"].into_iter().find(|l| r.worker_pid(l).is_some());
    assert!(wait_until(Duration::from_secs(30), || started().is_some()), "no worker started: {}", String::from_utf8_lossy(&out.stderr));
    let (lane, other) = if started() == Some("E") { ("E", "M") } else { ("M", "E") };
    let sleeper = r.worker_pid(lane).unwrap();
    let st = live_state(&r, "R1");
    assert!(st.lanes.get(lane).is_some_and(|l| l.worker_pid.is_none()), "the test needs an unrecorded worker");
    // The resume's workers fix (no FAKE_MODE): the other lane is resolved, the adopted one times out.
    let mut resume = r.cmd_child(&["run", "--resume", "--timeout", "2s", "--done-grace", "1s"]);
    let out = crate::common_run::wait_with_deadline(&mut resume, Duration::from_secs(60));
    let Some(out) = out else {
        crate::common_run::signal(sleeper, "KILL");
        panic!("`run --resume` did not end");
    };
    out.expect_code(3);
    assert_eq!(lane_status(&final_state(&r), lane), "timed_out");
    assert!(wait_until(Duration::from_secs(3), || !process_alive(sleeper)), "the unrecorded worker's sleep {sleeper} is still running");
    assert_eq!(r.status_on_head(&format!("{other}-01")), "RESOLVED");
    assert_eq!(r.status_on_head(&format!("{lane}-01")), "OPEN");
}

#[test]
fn ctrl_c_stops_the_workers_saves_the_state_and_resume_finishes() {
    let r = RunRepo::standard();
    let mut child = start_gated(&r, "R1");
    crate::common_run::signal(child.id(), "INT");
    let out = crate::common_run::wait_with_deadline(&mut child, Duration::from_secs(20)).expect("Ctrl-C ends the run");
    out.expect_code(130);
    assert!(out.stderr.contains("--resume"), "{}", out.stderr);
    let st = live_state(&r, "R1");
    assert_eq!(st.status.as_str(), "interrupted");
    assert_eq!(lane_status(&st, "E"), "interrupted");
    assert_eq!(r.status_on_head("E-01"), "OPEN");
    assert!(r.lane_branches().contains(&"lanes/R1/E".to_string()), "{:?}", r.lane_branches());
    r.open_gate();
    let out = r.cmd().args(["run", "--resume", "--done-grace", "1s"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(r.status_on_head("E-01"), "RESOLVED");
    assert_eq!(r.status_on_head("M-01"), "RESOLVED");
    assert_archived(&r, "R1", &["E", "M"]);
    r.assert_nothing_lost("R1", &["E", "M"]);
}

#[test]
fn no_integrate_leaves_verified_lane_branches_and_exits_zero() {
    let r = RunRepo::standard();
    let head = r.git(&["rev-parse", "HEAD"]);
    let out = r.run("R1", &[], &["--no-integrate"]);
    // Leaving the branches is what was asked for (a CI matrix job per lane), not a failure.
    out.expect_code(0);
    assert!(out.stderr.contains("lanes/R1/E"), "{}", out.stderr);
    assert_eq!(r.git(&["rev-parse", "HEAD"]), head, "--no-integrate must not move the user's branch");
    assert_eq!(r.status_on_head("E-01"), "OPEN");
    for (lane, id) in [("E", "E-01"), ("M", "M-01")] {
        let branch = format!("lanes/R1/{lane}");
        assert!(r.has_ref(&format!("refs/heads/{branch}")));
        assert_eq!(crate::common_run::frontmatter_status(&r.show(&branch, &format!("issues/{lane}/{id}.md"))), "RESOLVED");
    }
    assert_archived(&r, "R1", &["E", "M"]);
    r.assert_nothing_lost("R1", &["E", "M"]);
}

#[test]
fn resume_restarts_a_lane_whose_worker_crashed() {
    let r = RunRepo::standard();
    r.run("R1", &[("E", "crash")], &[]).expect_code(3);
    let out = r.cmd().args(["run", "--resume", "--done-grace", "1s"]).env("FAKE_MODE_E", "fix").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(r.status_on_head("E-01"), "RESOLVED");
    assert_eq!(r.status_on_head("M-01"), "RESOLVED");
    assert!(r.root().join("LogBook/issue-fixing/runs/R1.2.md").exists(), "the continuation has a report of its own");
    assert!(r.root().join("LogBook/issue-fixing/runs/R1.md").exists(), "the first pass's report is kept");
    r.assert_nothing_lost("R1", &["E", "M"]);
}

#[test]
fn integrate_takes_lanes_that_ran_elsewhere_and_verifies_them_again() {
    let r = RunRepo::standard();
    // One lane per "machine": each run leaves its branch without integrating.
    r.run("X1", &[], &["--lane", "E", "--no-integrate"]).expect_code(0);
    let out = r.run("X1", &[], &["--lane", "M", "--no-integrate"]);
    out.expect_code(0);
    assert!(out.stdout.contains("to integrate: git lanes integrate X1 --no-fetch"), "{}", out.stdout);
    let out = r.cmd().args(["integrate", "X1", "--no-fetch"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(r.status_on_head("E-01"), "RESOLVED");
    assert!(r.root().join("LogBook/issue-fixing/runs/X1.md").exists());
}

/// A bare repository outside `r` as its `origin`, with `main` pushed.
fn local_origin(r: &RunRepo) -> std::path::PathBuf {
    let remote = r.outside().join("remote.git");
    r.git(&["init", "-q", "--bare", &remote.display().to_string()]);
    r.git(&["remote", "add", "origin", &remote.display().to_string()]);
    r.git(&["push", "-q", "origin", "main"]);
    remote
}

#[test]
fn integrate_fetches_lane_branches_pushed_from_elsewhere() {
    let r = RunRepo::standard();
    local_origin(&r);
    let out = r.run("X1", &[], &["--lane", "E", "--no-integrate", "--push"]);
    out.expect_code(0);
    // It says what it verified and pushed and how to integrate it, not "0 resolved, 1 open".
    assert!(out.stdout.contains("run X1: 1 issue(s) verified on the lane branches (E-01), 0 open — not integrated here"), "{}", out.stdout);
    assert!(out.stdout.contains("pushed: lanes/X1/E"), "{}", out.stdout);
    assert!(out.stdout.contains("to integrate: git lanes integrate X1\n"), "{}", out.stdout);
    assert!(!out.stdout.contains("0 resolved"), "{}", out.stdout);
    // As if lane E had run on another machine: here, only the remote has its branch.
    r.git(&["worktree", "remove", "--force", &r.worktree("X1", "E").display().to_string()]);
    r.git(&["branch", "-D", "lanes/X1/E"]);
    let out = r.cmd().args(["integrate", "X1", "--remote", "origin"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(r.has_ref("refs/lanes/incoming/X1/E"), "the lane branch is fetched under refs/lanes/incoming/");
    assert_eq!(r.status_on_head("E-01"), "RESOLVED");
    assert!(r.root().join("LogBook/issue-fixing/runs/X1.md").exists());
}

#[test]
fn a_second_run_is_refused_while_the_first_holds_the_lock() {
    let r = RunRepo::standard();
    let mut child = start_gated(&r, "R1");
    let second = r.run("R2", &[], &[]);
    r.open_gate();
    second.expect_code(5);
    assert!(second.stderr.contains(&format!("pid {}", child.id())), "{}", second.stderr);
    assert!(second.stderr.contains("R1"), "{}", second.stderr);
    assert!(!r.lane_branches().iter().any(|b| b.starts_with("lanes/R2/")));
    assert!(!r.root().join(".git/lanes/runs/R2").exists());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    assert_eq!(r.status_on_head("E-01"), "RESOLVED");
    r.assert_nothing_lost("R1", &["E", "M"]);
}

#[test]
fn a_dirty_main_worktree_is_refused_before_anything_is_created() {
    let r = RunRepo::standard();
    let dirty = "# test repo\nlocal edit, not committed\n\r\n\u{0}";
    r.write("README.md", dirty);
    let head = r.git(&["rev-parse", "HEAD"]);
    let out = r.run("R1", &[], &[]);
    out.expect_code(5);
    assert!(out.stderr.contains("README.md"), "{}", out.stderr);
    assert_eq!(std::fs::read(r.root().join("README.md")).unwrap(), dirty.as_bytes());
    assert!(r.lane_branches().is_empty(), "{:?}", r.lane_branches());
    assert!(!r.root().join(".git/lanes/worktrees").exists());
    assert!(!r.root().join(".git/lanes/runs/R1").exists());
    assert!(r.worker_commits("E").is_empty() && r.worker_commits("M").is_empty());
    assert_eq!(r.git(&["rev-parse", "HEAD"]), head);
    assert_eq!(r.git(&["for-each-ref", "refs/lanes/"]), "");
}

#[test]
fn head_moved_during_the_run_leaves_the_integration_branch_and_the_merge_command() {
    let r = RunRepo::standard();
    let child = start_gated(&r, "R1");
    r.write("other.txt", "committed by the user during the run\n");
    r.git(&["add", "other.txt"]);
    r.git(&["commit", "-q", "-m", "user work during the run"]);
    let moved = r.git(&["rev-parse", "HEAD"]);
    r.open_gate();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("git merge lanes/R1/integration"), "{stdout}");
    assert_eq!(r.git(&["rev-parse", "HEAD"]), moved, "the user's branch must not move");
    assert!(r.has_ref("refs/heads/lanes/R1/integration"));
    assert_eq!(r.status_on_head("E-01"), "OPEN");
    assert_eq!(crate::common_run::frontmatter_status(&r.show("lanes/R1/integration", "issues/E/E-01.md")), "RESOLVED");
    assert_eq!(report_result(&r.show("lanes/R1/integration", "LogBook/issue-fixing/runs/R1.md"), "M-01").as_deref(), Some("RESOLVED"));
    r.assert_nothing_lost("R1", &["E", "M"]);
    // The printed command takes the result.
    r.git(&["merge", "-q", "--no-edit", "lanes/R1/integration"]);
    assert_eq!(r.status_on_head("E-01"), "RESOLVED");
    assert_eq!(r.read("other.txt"), "committed by the user during the run\n");
}

#[test]
fn a_verification_command_that_hangs_is_cut_off_and_its_issue_rejected() {
    let r = RunRepo::bare();
    r.issue("E-01", &["src/E.txt"], "sleep 600; echo PASS\n");
    r.issue("M-01", &["src/M.txt"], &token_check("M-01"));
    r.finish_setup("verify:\n  timeout: 1s\n");
    let out = r.run("R1", &[], &[]);
    out.expect_code(3);
    assert!(out.took < Duration::from_secs(30), "took {:?}", out.took);
    assert_eq!(r.status_on_head("E-01"), "OPEN");
    assert_eq!(r.status_on_head("M-01"), "RESOLVED");
    let report = r.report_on_head("R1");
    assert_eq!(report_result(&report, "E-01").as_deref(), Some("REJECTED"), "{report}");
    r.assert_nothing_lost("R1", &["E", "M"]);
}

#[test]
fn watch_exits_once_done_appears_and_three_on_timeout() {
    let r = RunRepo::standard();
    let signals = r.signals();
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        std::fs::create_dir_all(&signals).unwrap();
        std::fs::write(signals.join("E.status"), "COMPLETE: from the test\r\n").unwrap();
        std::fs::write(signals.join("E.done"), "").unwrap();
    });
    let started = std::time::Instant::now();
    r.cmd().args(["watch", "--lane", "E", "--timeout", "5s"]).assert().code(0);
    writer.join().unwrap();
    assert!(started.elapsed() < Duration::from_secs(4), "took {:?}", started.elapsed());
    std::fs::remove_file(r.signals().join("E.done")).unwrap();
    let started = std::time::Instant::now();
    r.cmd().args(["watch", "--lane", "E", "--timeout", "1s"]).assert().code(3);
    assert!(started.elapsed() >= Duration::from_secs(1));
}

#[test]
fn report_prints_the_last_report() {
    let r = RunRepo::standard();
    r.run("R1", &[], &[]).expect_code(0);
    let by_id = r.report_cmd("R1");
    assert_eq!(report_result(&by_id, "E-01").as_deref(), Some("RESOLVED"), "{by_id}");
    let newest = r.cmd().arg("report").output().unwrap();
    assert_eq!(newest.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&newest.stdout), by_id);
    assert_eq!(by_id.trim_end(), r.report_on_head("R1").trim_end());
    r.cmd().args(["report", "NOPE"]).assert().code(5);
}

#[test]
fn clean_keeps_unmerged_lanes_unless_forced_and_keeps_archive_refs() {
    let r = RunRepo::standard();
    r.run("R1", &[("E", "crash")], &[]).expect_code(3);
    assert!(r.has_ref("refs/heads/lanes/R1/E"));
    assert!(r.worktree("R1", "E").exists());
    r.cmd().arg("clean").assert().code(0);
    assert!(r.has_ref("refs/heads/lanes/R1/E"), "clean removed an unmerged lane");
    assert!(r.worktree("R1", "E").exists());
    r.cmd().args(["clean", "--force"]).assert().code(0);
    assert!(!r.has_ref("refs/heads/lanes/R1/E"));
    assert!(!r.worktree("R1", "E").exists());
    assert_archived(&r, "R1", &["E", "M"]);
    r.assert_nothing_lost("R1", &["E", "M"]);
}

#[test]
fn demo_builds_the_example_and_resolves_its_issues() {
    let r = RunRepo::bare();
    let dir = r.outside().join("demo");
    let out = r.cmd().args(["demo", "--dir"]).arg(&dir).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let resolved: Vec<&str> = stdout.lines().filter(|l| l.starts_with("| ") && l.contains(" | RESOLVED | ")).collect();
    assert_eq!(resolved.len(), 4, "{stdout}");
    assert!(stdout.contains(": 4 resolved, 1 open"), "{stdout}");
    let demo = dir.canonicalize().unwrap();
    assert_eq!(crate::common_run::report_result(&stdout, "E-03").as_deref(), Some("BLOCKED"), "{stdout}");
    assert!(demo.join(".git").exists());
    // The hunting pass: the example worker's two reproducing findings are committed under the
    // lanes' next ids; its claim that already holds is rejected.
    assert!(stdout.contains("2 new issue(s), 1 finding(s) rejected"), "{stdout}");
    assert!(stdout.contains("+ E-04 Attachments are kept forever") && stdout.contains("+ M-03 Order total may be negative"), "{stdout}");
    assert!(stdout.contains("`examples/demo/issues/E/E-05.md`: does not reproduce"), "{stdout}");
    for f in ["examples/demo/issues/E/E-04.md", "examples/demo/issues/M/M-03.md"] {
        assert!(demo.join(f).exists(), "{f} not committed");
    }
    assert!(!demo.join("examples/demo/issues/E/E-05.md").exists());
}

#[test]
fn squash_policy_makes_one_commit_per_lane_and_push_reaches_the_remote() {
    let r = RunRepo::standard();
    let remote = local_origin(&r);
    let base = r.git(&["rev-parse", "HEAD"]);
    r.run("R1", &[], &["--policy", "squash", "--push"]).expect_code(0);
    assert_gate_passes(&r, &base);
    assert_eq!(r.status_on_head("E-01"), "RESOLVED");
    assert_eq!(r.status_on_head("M-01"), "RESOLVED");
    let subjects = r.git(&["log", "--format=%s", "-4"]);
    assert!(subjects.contains("lane E (squashed): E-01"), "{subjects}");
    assert!(subjects.contains("lane M (squashed): M-01"), "{subjects}");
    assert!(!subjects.contains("merge lane"), "squash makes no merge commits: {subjects}");
    let remote_main = r.git(&["--git-dir", &remote.display().to_string(), "rev-parse", "main"]);
    assert_eq!(remote_main.trim(), r.git(&["rev-parse", "HEAD"]).trim(), "--push moved the remote's main");
    r.assert_nothing_lost("R1", &["E", "M"]);
}

#[test]
fn branches_policy_leaves_verified_lanes_for_review_and_keeps_main() {
    let r = RunRepo::standard();
    let head = r.git(&["rev-parse", "HEAD"]);
    r.run("R1", &[], &["--policy", "branches"]).expect_code(0);
    assert_eq!(r.git(&["rev-parse", "HEAD"]), head);
    for lane in ["E", "M"] {
        assert!(r.has_ref(&format!("refs/heads/lanes/R1/{lane}")), "lane {lane}'s branch is left for review");
    }
    assert!(r.report_cmd("R1").contains("| E-01 |"), "the report is kept with the run");
}

#[test]
fn a_run_with_nothing_ready_creates_and_commits_nothing() {
    let r = RunRepo::standard();
    r.run("R1", &[], &[]).expect_code(0);
    let head = r.git(&["rev-parse", "HEAD"]);
    let out = r.run("R2", &[], &[]);
    out.expect_code(0);
    assert!(out.stderr.contains("nothing to do"), "{}", out.stderr);
    assert_eq!(r.git(&["rev-parse", "HEAD"]), head, "no commit");
    assert!(!r.lane_branches().iter().any(|b| b.starts_with("lanes/R2/")));
    assert!(!r.root().join(".git/lanes/runs/R2").exists());
}

#[test]
fn watch_json_lists_every_lane_and_whether_it_timed_out() {
    let r = RunRepo::standard();
    let signals = r.signals();
    std::fs::create_dir_all(&signals).unwrap();
    std::fs::write(signals.join("E.status"), "COMPLETE: from the test\n").unwrap();
    std::fs::write(signals.join("E.done"), "").unwrap();
    std::fs::write(signals.join("M.status"), "WORKING: still at it\n").unwrap();
    let out = r.cmd().args(["--json", "watch", "--lane", "E", "--lane", "M", "--timeout", "1s", "--plain"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["timed_out"], true, "{doc}");
    let lanes = doc["lanes"].as_array().unwrap();
    let done: Vec<(&str, bool)> = lanes.iter().map(|l| (l["lane"].as_str().unwrap(), l["done"].as_bool().unwrap())).collect();
    assert_eq!(done, [("E", true), ("M", false)], "{doc}");
    // Without --json: the lanes not done are named.
    let out = r.cmd().args(["watch", "--lane", "E", "--lane", "M", "--timeout", "1s", "--plain"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stdout).contains("timed out; not done: M"), "{}", String::from_utf8_lossy(&out.stdout));
    std::fs::write(signals.join("M.done"), "").unwrap();
    let out = r.cmd().args(["--json", "watch", "--lane", "E", "--lane", "M", "--timeout", "5s", "--plain"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["timed_out"], false, "{doc}");
}

/// A package adopted as it is, with upstream `TODO`s in the files its issues name: the run's
/// resolutions add none, so its very first push (an empty remote, no remote-tracking ref) passes
/// the installed hook; a marker a resolution does add is still refused, on its own line.
#[test]
fn the_first_push_of_an_adopted_package_does_not_blame_upstream_markers() {
    let r = RunRepo::bare();
    r.write("src/E.txt", "E base\n# TODO: upstream wants a rewrite\n");
    r.write("src/M.txt", "M base\n# FIXME upstream\n");
    r.issue("E-01", &["src/E.txt"], &token_check("E-01"));
    r.issue("M-01", &["src/M.txt"], &token_check("M-01"));
    r.finish_setup("");
    r.run("S1", &[], &[]).expect_code(0);
    assert_eq!(r.status_on_head("E-01"), "RESOLVED");
    let remote = r.outside().join("remote.git");
    std::fs::create_dir_all(&remote).unwrap();
    r.git(&["init", "-q", "--bare", "-b", "main", remote.to_str().unwrap()]);
    r.git(&["remote", "add", "origin", remote.to_str().unwrap()]);
    r.cmd().args(["hooks", "install"]).assert().success();
    let bin = assert_cmd::cargo::cargo_bin("git-lanes");
    let path = format!("{}:{}", bin.parent().unwrap().display(), std::env::var("PATH").unwrap_or_default());
    let push = |args: &[&str]| {
        std::process::Command::new("git")
            .current_dir(r.root())
            .env_clear()
            .envs(r.isolated_env())
            .env("PATH", &path)
            .args(["push", "origin"])
            .args(args)
            .output()
            .unwrap()
    };
    let out = push(&["main"]);
    assert!(out.status.success(), "first push refused:\n{}", String::from_utf8_lossy(&out.stderr));
    // A resolution that does add a marker, on a branch the remote does not have: refused for
    // that line only, not for the upstream one above it.
    r.git(&["checkout", "-q", "-b", "topic"]);
    r.issue("E-02", &["src/E.txt"], &token_check("E-02"));
    r.cmd().arg("sync").assert().success();
    r.git(&["add", "-A"]);
    r.git(&["commit", "-q", "-m", "file E-02"]);
    r.write("src/E.txt", &(r.read("src/E.txt") + "# TODO: finish\n"));
    let issue = r.read("issues/E/E-02.md");
    r.write(
        "issues/E/E-02.md",
        &issue.replace("status: \"OPEN\"", "status: \"RESOLVED\"").replace("**Status:** OPEN", "**Status:** RESOLVED"),
    );
    r.cmd().arg("sync").assert().success();
    r.git(&["commit", "-q", "-am", "resolve E-02 with a stub"]);
    let out = push(&["topic"]);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success(), "a stub added by a resolution was pushed:\n{text}");
    assert!(text.contains("src/E.txt:4: stub marker `TODO` added in a line that resolves E-02"), "{text}");
    assert!(!text.contains("src/E.txt:2:"), "an upstream marker was blamed:\n{text}");
}

/// `status` counts the last run from its own record: the committed state also keeps a lane an
/// earlier run ran (and its count), which the last run did not touch.
#[test]
fn status_counts_the_last_run_from_its_own_record() {
    let r = RunRepo::bare();
    r.write("src/X.txt", "X base\n");
    for id in ["E-01", "M-01"] {
        r.issue(id, &[&format!("src/{}.txt", &id[..1])], &token_check(id));
    }
    r.issue("X-01", &["src/X.txt"], &token_check("X-01"));
    r.finish_setup("");
    r.run("C1", &[], &["--lane", "X"]).expect_code(0);
    r.run("C2", &[], &[]).expect_code(0);
    let out = r.cmd().arg("status").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("last run: C2 complete (2 lanes, 2 resolved)"), "{text}");
}

/// A check that tries every write into the repository's git data from a lane worktree (hidden
/// in a script, out of the danger reading's sight) and says PASS only if all of them worked.
const HOSTILE_SCRIPT: &str = r#"common=$(git rev-parse --path-format=absolute --git-common-dir)
ok=1
rm -rf "$common/objects" || ok=0
git update-ref refs/heads/main HEAD~1 || ok=0
echo '*.txt' >> "$common/info/exclude" || ok=0
mkdir -p "$common/hooks" && echo 'touch pwned' > "$common/hooks/post-commit" || ok=0
git config core.fsmonitor 'touch pwned' || ok=0
echo planted > "$common/lanes/planted" || ok=0
echo 'gitdir: /nowhere' > .git || ok=0
[ $ok = 1 ] && echo PASS || echo FAIL
"#;

#[test]
fn a_check_in_a_lane_cannot_write_the_repositorys_git_data() {
    let r = RunRepo::bare();
    r.write("hostile.sh", HOSTILE_SCRIPT);
    r.issue("E-01", &["src/E.txt"], &format!("{}sh hostile.sh\n", token_check("E-01")));
    r.issue("M-01", &["src/M.txt"], &token_check("M-01"));
    r.finish_setup("");
    let base = r.git(&["rev-parse", "HEAD"]);
    let config = std::fs::read(r.root().join(".git/config")).unwrap();
    let exclude = std::fs::read(r.root().join(".git/info/exclude")).ok();
    let out = r.run("R1", &[], &[]);
    assert!(!r.root().join(".git/hooks/post-commit").exists(), "a check planted a hook");
    assert_eq!(std::fs::read(r.root().join(".git/config")).unwrap(), config, "a check changed the config");
    assert_eq!(std::fs::read(r.root().join(".git/info/exclude")).ok(), exclude);
    assert!(!r.root().join(".git/lanes/planted").exists());
    assert!(r.git_ok(&["fsck", "--no-progress"]), "objects lost");
    assert!(r.git_ok(&["merge-base", "--is-ancestor", base.trim(), "main"]), "main was rewound");
    let report = r.report_on_head("R1");
    assert_eq!(report_result(&report, "M-01").as_deref(), Some("RESOLVED"), "{report}\n{}", out.stdout);
    // It could not do what it wanted, so it did not pass (here and without any sandbox, as
    // git-lanes' own checks of the lane fail first).
    assert_ne!(report_result(&report, "E-01").as_deref(), Some("RESOLVED"), "{report}\n{}", out.stdout);
    assert!(out.stdout.contains("E-01 was not resolved: REJECT - Verification: 1 of 2"), "{}", out.stdout);
    r.assert_nothing_lost("R1", &["E", "M"]);
}

#[test]
fn a_symlinked_catalog_state_logbook_or_lanes_folder_is_refused_before_any_lane_starts() {
    for what in ["catalog", "state", "logbook", "signals", "lanes"] {
        let r = RunRepo::standard();
        let outside = r.outside().join("elsewhere");
        std::fs::create_dir_all(&outside).unwrap();
        let link = |rel: &str| {
            let at = r.root().join(rel);
            let to = outside.join(at.file_name().unwrap());
            if at.exists() {
                std::fs::rename(&at, &to).unwrap();
            } else if rel.ends_with(".yaml") {
                std::fs::write(&to, "status: idle\n").unwrap();
            } else {
                std::fs::create_dir_all(&to).unwrap();
            }
            std::fs::create_dir_all(at.parent().unwrap()).unwrap();
            std::os::unix::fs::symlink(&to, &at).unwrap();
        };
        match what {
            "catalog" => link("SAF_ISSUE_CATALOG.md"),
            "state" => link("LogBook/issue-fixing/orchestrator-state.yaml"),
            "logbook" => link("LogBook/issue-fixing"),
            "signals" => link("LogBook/issue-fixing/signals"),
            _ => {
                std::fs::create_dir_all(r.root().join(".git/lanes")).unwrap();
                link(".git/lanes");
            }
        }
        if what != "lanes" {
            r.git(&["add", "-A"]);
            r.git(&["commit", "-q", "-m", "symlink"]);
        }
        let listed = |dir: &Path| std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0);
        let before = listed(&outside);
        let out = r.run("R1", &[], &[]);
        assert_ne!(out.code, Some(0), "{what}: {}", out.stdout);
        assert!(out.stderr.contains("is a symlink"), "{what}: {}", out.stderr);
        assert!(out.stderr.contains("hint:"), "{what}: {}", out.stderr);
        assert!(!out.stderr.contains("started"), "{what}: a lane started: {}", out.stderr);
        assert!(r.lane_branches().is_empty(), "{what}: {:?}", r.lane_branches());
        assert_eq!(listed(&outside), before, "{what}: something was written outside the repository");
        assert!(!r.root().join(".git/lanes/runs/R1").exists(), "{what}: the run is listed");
        let status = r.cmd().arg("status").output().unwrap();
        assert!(!String::from_utf8_lossy(&status.stdout).contains("running"), "{what}");
    }
}

#[test]
fn a_check_that_deletes_its_worktrees_git_file_fails_its_lane_by_name_and_clean_still_works() {
    for sandbox in ["", "off"] {
        let r = RunRepo::bare();
        r.write("cut.sh", "rm -rf .git\necho PASS\n");
        r.issue("E-01", &["src/E.txt"], &format!("{}sh cut.sh\n", token_check("E-01")));
        r.issue("M-01", &["src/M.txt"], &token_check("M-01"));
        r.finish_setup("");
        let mut c = r.cmd();
        c.args(["run", "--run-id", "R1", "--done-grace", "1s", "--timeout", "60s"]).env("LANES_SANDBOX", sandbox);
        let out = c.output().unwrap();
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(!stdout.contains("collecting failed") && !stderr.contains("collecting failed"), "{sandbox}: {stdout}{stderr}");
        if sandbox == "off" {
            // Nothing kept it from deleting the link: it is put back, and the check is named.
            assert!(stdout.contains("lane E: check `sh cut.sh` of E-01: it deleted or changed the worktree's link"), "{stdout}");
            assert_ne!(report_result(&r.report_on_head("R1"), "E-01").as_deref(), Some("RESOLVED"));
        }
        let report = r.report_on_head("R1");
        assert_eq!(report_result(&report, "M-01").as_deref(), Some("RESOLVED"), "{sandbox}: {report}");
        if r.has_ref("refs/heads/lanes/R1/E") {
            assert!(r.show("refs/heads/lanes/R1/E", "src/E.txt").contains("fixed-E-01"), "{sandbox}");
        }
        assert_archived(&r, "R1", &["E", "M"]);
        assert!(r.show("refs/lanes/archive/R1/E", "src/E.txt").contains("fixed-E-01"), "{sandbox}: the archive ref is not the lane's work");
        r.cmd().arg("clean").assert().success();
        r.cmd().args(["clean", "--force"]).assert().success();
        r.cmd().args(["clean", "--force"]).assert().success();
        assert!(r.git_ok(&["fsck", "--no-progress"]));
    }
}
