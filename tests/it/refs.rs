//! End-to-end: a worker moves no ref but its lane branch. Refs moved behind the run's back (the
//! user's branch pointed at a forged commit, a tag, a push past the push guard to a local
//! remote, a push through another push URL) are put back when the lane ends, kept under
//! `refs/lanes/quarantine/<RUN_ID>/…`, and the lane is named and not integrated; several lanes
//! running at once are all held. All without the sandbox (`sandbox_workers: false`).
#![allow(clippy::disallowed_methods)] // the tests start processes with the std API

use std::time::Duration;

use crate::common_run::{RunRepo, wait_with_deadline};

fn unsandboxed() -> RunRepo {
    let r = RunRepo::bare();
    r.issue("E-01", &["src/E.txt"], &crate::common_run::token_check("E-01"));
    r.issue("M-01", &["src/M.txt"], &crate::common_run::token_check("M-01"));
    r.finish_setup("sandbox_workers: false\n");
    r
}

fn said(out: &crate::common_run::RunOutput) -> String {
    format!("{}\n{}", out.stdout, out.stderr)
}

fn rev(r: &RunRepo, name: &str) -> String {
    r.git(&["rev-parse", "--verify", "--quiet", name]).trim().to_string()
}

#[test]
fn a_worker_pointing_main_at_a_forged_commit_is_put_back_and_its_lane_held() {
    let r = unsandboxed();
    let base = rev(&r, "HEAD");
    // One lane at a time: the forger is the only lane running when main moves.
    let out = r.run("R1", &[("E", "forge")], &["--max-parallel", "1"]);
    let text = said(&out);
    let forged = std::fs::read_to_string(r.fake_dir().join("forged-E")).unwrap().trim().to_string();
    assert_ne!(rev(&r, "main"), forged, "main kept the forged commit\n{text}");
    assert!(r.git_ok(&["merge-base", "--is-ancestor", &base, "main"]), "main lost its history");
    assert_eq!(rev(&r, "refs/lanes/quarantine/R1/heads/main"), forged, "the forged value is not kept\n{text}");
    assert!(text.contains("lane E") && text.contains("refs/heads/main"), "the lane is not named:\n{text}");
    // M's own fix is merged; E's lane is not integrated; M-01 is RESOLVED by its judge only.
    assert_eq!(r.status_on_head("M-01"), "RESOLVED");
    assert_eq!(r.status_on_head("E-01"), "OPEN", "the held lane was integrated\n{text}");
    assert!(r.has_ref("refs/heads/lanes/R1/E") || r.has_ref("refs/lanes/archive/R1/E"), "the held lane's work is gone");
    assert_ne!(out.code, Some(0), "a held lane needs a human\n{text}");
    let state = std::fs::read_to_string(r.root().join(".git/lanes/runs/R1/state.yaml")).unwrap();
    assert!(state.contains("held:"), "{state}");
    let report = r.report_on_head("R1");
    assert!(report.contains("lane E is held") && report.contains("refs/lanes/quarantine/R1/heads/main"), "{report}");
}

#[test]
fn with_several_lanes_running_a_ref_moved_onto_one_lanes_work_holds_that_lane() {
    let r = unsandboxed();
    let base = rev(&r, "HEAD");
    let mut child = r.run_child("R1", &[("E", "forge_wait"), ("M", "gate")], &[]);
    assert!(r.wait_for_marker("forged-E", Duration::from_secs(60)), "E never forged");
    r.open_gate();
    let out = wait_with_deadline(&mut child, Duration::from_secs(120)).expect("the run ends");
    let text = said(&out);
    assert!(r.git_ok(&["merge-base", "--is-ancestor", &base, "main"]), "{text}");
    assert_ne!(rev(&r, "main"), std::fs::read_to_string(r.fake_dir().join("forged-E")).unwrap().trim(), "{text}");
    assert!(text.contains("while lane E ran"), "the move is not traced to lane E:\n{text}");
    assert_eq!(r.status_on_head("E-01"), "OPEN", "{text}");
    assert_eq!(r.status_on_head("M-01"), "RESOLVED", "the innocent lane was held\n{text}");
}

#[test]
fn with_several_lanes_running_a_move_no_lane_can_be_told_from_holds_all_of_them_and_says_so() {
    let r = unsandboxed();
    let base = rev(&r, "HEAD");
    let mut child = r.run_child("R1", &[("E", "forge_base_wait"), ("M", "gate")], &[]);
    assert!(r.wait_for_marker("forged-E", Duration::from_secs(60)), "E never forged");
    r.open_gate();
    let out = wait_with_deadline(&mut child, Duration::from_secs(120)).expect("the run ends");
    let text = said(&out);
    assert_eq!(rev(&r, "main"), base, "main moved\n{text}");
    assert!(text.contains("cannot be told"), "{text}");
    assert_eq!(r.status_on_head("E-01"), "OPEN", "{text}");
    assert_eq!(r.status_on_head("M-01"), "OPEN", "{text}");
}

/// A bare repository beside the main one, added as `origin` and fetched.
fn with_origin(r: &RunRepo) -> std::path::PathBuf {
    let bare = r.outside().join("origin.git");
    r.git(&["init", "-q", "--bare", bare.to_str().unwrap()]);
    r.git(&["remote", "add", "origin", bare.to_str().unwrap()]);
    r.git(&["push", "-q", "origin", "main"]);
    r.git(&["fetch", "-q", "origin"]);
    bare
}

#[test]
fn a_push_past_the_guard_to_a_local_remote_is_undone_and_its_lane_held() {
    let r = unsandboxed();
    let bare = with_origin(&r);
    let out = r.run("R1", &[("E", "push")], &["--max-parallel", "1"]);
    let text = said(&out);
    let remote_has = |name: &str| r.git_ok(&["--git-dir", bare.to_str().unwrap(), "rev-parse", "--verify", "--quiet", name]);
    assert!(!remote_has("refs/heads/pushed-E"), "the push stayed on the remote\n{text}");
    assert!(r.has_ref("refs/lanes/quarantine/R1/remote/origin/heads/pushed-E"), "{text}");
    assert!(text.contains("lane E") && text.contains("a push"), "{text}");
    assert_eq!(r.status_on_head("E-01"), "OPEN", "{text}");
    assert_eq!(r.status_on_head("M-01"), "RESOLVED", "{text}");
}

#[test]
fn a_push_through_another_push_url_is_seen_on_the_remote_tracking_ref() {
    let r = unsandboxed();
    with_origin(&r);
    let elsewhere = r.outside().join("elsewhere.git");
    r.git(&["init", "-q", "--bare", elsewhere.to_str().unwrap()]);
    let tracking = rev(&r, "refs/remotes/origin/main");
    let mut c = r.cmd();
    c.args(["run", "--run-id", "R1", "--done-grace", "1s", "--timeout", "60s", "--max-parallel", "1"])
        .env("FAKE_MODE_E", "pushurl")
        .env("FAKE_PUSHURL", elsewhere.to_str().unwrap());
    let out = c.output().unwrap();
    let text = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(rev(&r, "refs/remotes/origin/main"), tracking, "{text}");
    assert!(text.contains("lane E") && text.contains("refs/remotes/origin/main"), "{text}");
    assert_eq!(r.status_on_head("E-01"), "OPEN", "{text}");
    assert_eq!(r.status_on_head("M-01"), "RESOLVED", "{text}");
}

#[test]
fn a_tag_is_removed_and_kept_in_quarantine_and_a_stash_is_put_back_without_holding() {
    let r = unsandboxed();
    r.write("shared.txt", "keepme\nshared base\nmine\n");
    r.git(&["stash", "-q"]);
    let users_stash = rev(&r, "refs/stash");
    let out = r.run("R1", &[("E", "tag"), ("M", "stash")], &["--max-parallel", "1"]);
    let text = said(&out);
    assert!(!r.has_ref("refs/tags/v-E"), "{text}");
    assert!(r.has_ref("refs/lanes/quarantine/R1/tags/v-E"), "{text}");
    assert_eq!(rev(&r, "refs/stash"), users_stash, "the user's stash was changed\n{text}");
    assert_eq!(r.status_on_head("E-01"), "OPEN", "{text}");
    assert_eq!(r.status_on_head("M-01"), "RESOLVED", "a stash held the lane\n{text}");
}

#[test]
fn a_branch_the_worker_made_and_checked_out_is_kept_and_holds_its_lane() {
    let r = unsandboxed();
    let out = r.run("R1", &[("E", "branch")], &["--max-parallel", "1"]);
    let text = said(&out);
    // Deleting it would leave the lane's worktree on a branch that does not exist: it stays, the
    // lane is named and held, its work kept.
    assert!(text.contains("lane E") && text.contains("refs/heads/side-E"), "{text}");
    assert!(r.has_ref("refs/heads/side-E"), "{text}");
    assert!(!text.contains("collecting failed"), "{text}");
    assert_eq!(r.status_on_head("E-01"), "OPEN", "{text}");
    assert_eq!(r.status_on_head("M-01"), "RESOLVED", "{text}");
    r.assert_nothing_lost("R1", &["E"]);
}
