//! End-to-end tests of the operator's view (docs/guide.md#runs-reports-logs-and-diffs): `runs`, `report <RUN_ID>`, `logs`,
//! `diff`, the run timeline, the issue lifecycle commands, and a set-up that explains itself —
//! against real temporary repositories with the scriptable fake worker (`tests/common_run`).
#![allow(clippy::disallowed_methods)] // the tests start and read child processes with the std API

use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common_run::{RunRepo, report_result, wait_until};

fn stdout_of(cmd: &mut assert_cmd::Command, code: i32) -> String {
    let out = cmd.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr_of(cmd: &mut assert_cmd::Command, code: i32) -> String {
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(code), "stderr:\n{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json(cmd: &mut assert_cmd::Command) -> serde_json::Value {
    let s = stdout_of(cmd, 0);
    serde_json::from_str(&s).unwrap_or_else(|e| panic!("not JSON ({e}):\n{s}"))
}

#[test]
fn report_takes_a_run_id_that_starts_with_a_digit() {
    let r = RunRepo::standard();
    r.run("20261129-232417", &[], &[]).expect_code(0);
    let text = r.report_cmd("20261129-232417");
    assert_eq!(report_result(&text, "E-01").as_deref(), Some("RESOLVED"), "{text}");
    // Run ids are checked with their own rule, and a path is never built from a bad one.
    let err = stderr_of(r.cmd().args(["report", "../etc"]), 2);
    assert!(err.contains("run id `../etc`"), "{err}");
    assert!(!err.contains("lane name"), "{err}");
}

#[test]
fn runs_lists_each_run_with_its_lanes_results_and_integration() {
    let r = RunRepo::standard();
    r.cmd().arg("runs").assert().code(0);
    r.run("20260101-000001", &[("M", "claim")], &[]).expect_code(3);
    let doc = json(r.cmd().args(["runs", "--json"]));
    let runs = doc["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "{doc}");
    let run = &runs[0];
    assert_eq!(run["id"], "20260101-000001");
    assert_eq!(run["lanes"], serde_json::json!(["E", "M"]));
    assert_eq!(run["resolved"], serde_json::json!(["E-01"]));
    assert_eq!(run["open"], 1);
    assert_eq!(run["status"], "needs_attention");
    assert_eq!(run["integrated"], "fast-forwarded");
    assert_eq!(run["report"]["kind"], "committed");
    assert!(run["started"].as_str().is_some_and(|s| s.starts_with("20")), "{run}");
    let text = stdout_of(r.cmd().arg("runs"), 0);
    let line = text.lines().find(|l| l.starts_with("20260101-000001")).unwrap_or_else(|| panic!("{text}"));
    assert!(line.contains("needs attention") && line.contains("fast-forwarded") && line.contains("E, M"), "{line}");
}

#[test]
fn logs_prints_a_finished_lanes_worker_output_and_diff_its_changes() {
    let r = RunRepo::standard();
    r.run("R1", &[], &[]).expect_code(0);
    let log = stdout_of(r.cmd().args(["logs", "E"]), 0);
    assert!(log.contains("fake worker: lane E, mode fix, issues E-01"), "{log}");
    let log = stdout_of(r.cmd().args(["logs", "M", "--run", "R1"]), 0);
    assert!(log.contains("fake worker: lane M"), "{log}");
    // The lane branch is gone after the merge; the diff comes from the recorded tip.
    let diff = stdout_of(r.cmd().args(["diff", "E", "--run", "R1"]), 0);
    assert!(diff.contains("+fixed-E-01"), "{diff}");
    assert!(!diff.contains("fixed-M-01"), "lane M's change is not lane E's diff:\n{diff}");
    let stat = stdout_of(r.cmd().args(["diff", "E", "--", "--stat"]), 0);
    // The lane branch holds the worker's fix and what collection added (status, evidence).
    assert!(stat.contains("src/E.txt") && stat.contains("issues/E/E-01.md"), "{stat}");
    let doc = json(r.cmd().args(["diff", "M", "--json"]));
    let files = doc["files"].as_array().unwrap();
    assert!(files.contains(&serde_json::json!({ "status": "M", "path": "src/M.txt" })), "{doc}");
    assert!(!files.iter().any(|f| f["path"] == "src/E.txt"), "{doc}");
    let err = stderr_of(r.cmd().args(["logs", "Q", "--run", "R1"]), 2);
    assert!(err.contains("lane Q was not part of run R1") && err.contains("E, M"), "{err}");
    // A run id this clone has no run for: state (5).
    stderr_of(r.cmd().args(["logs", "E", "--run", "R9"]), 5);
}

/// A child process whose stdout is collected as it arrives.
struct Streaming {
    child: std::process::Child,
    out: Arc<Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Streaming {
    fn start(mut child: std::process::Child) -> Streaming {
        let mut so = child.stdout.take().unwrap();
        let out = Arc::new(Mutex::new(String::new()));
        let sink = out.clone();
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = so.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Streaming { child, out, reader: Some(reader) }
    }

    fn text(&self) -> String {
        self.out.lock().unwrap().clone()
    }

    fn wait(&mut self, within: Duration) -> Option<i32> {
        let ok = wait_until(within, || self.child.try_wait().unwrap().is_some());
        if !ok {
            let _ = self.child.kill();
        }
        let code = self.child.wait().unwrap().code();
        if let Some(h) = self.reader.take() {
            h.join().unwrap();
        }
        if ok { code } else { None }
    }
}

#[test]
fn logs_follow_shows_a_slow_workers_output_live_and_ends_with_its_lane() {
    let r = RunRepo::standard();
    let mut run = r.run_child("R1", &[("E", "gate"), ("M", "gate")], &[]);
    assert!(r.wait_for_marker("started-E", Duration::from_secs(30)), "worker E never started");
    let mut follow = Streaming::start(r.cmd_child(&["logs", "E", "-f"]));
    assert!(
        wait_until(Duration::from_secs(20), || follow.text().contains("gate: waiting")),
        "the log did not show what the worker printed so far: {:?}",
        follow.text()
    );
    // The worker is still running: `-f` keeps following and has not seen the rest yet.
    assert!(follow.child.try_wait().unwrap().is_none(), "logs -f ended while the lane was running");
    assert!(!follow.text().contains("gate: open"));
    r.open_gate();
    let code = follow.wait(Duration::from_secs(60));
    assert_eq!(code, Some(0), "logs -f did not end with its lane: {:?}", follow.text());
    assert!(follow.text().contains("gate: open"), "{}", follow.text());
    let out = crate::common_run::wait_with_deadline(&mut run, Duration::from_secs(60)).expect("run ends");
    out.expect_code(0);
}

#[test]
fn new_creates_an_issue_with_checks_and_wontfix_and_reopen_keep_the_catalog_in_sync() {
    let r = RunRepo::standard();
    let out = stdout_of(
        r.cmd().args([
            "new",
            "E",
            "Retention",
            "policy",
            "--check",
            "test -f src/E.txt",
            "--check",
            "grep -q base src/E.txt",
            "--path",
            "src/E.txt",
        ]),
        0,
    );
    assert_eq!(out.trim(), "issues/E/E-02.md");
    let text = r.read("issues/E/E-02.md");
    assert!(text.contains("\ntest -f src/E.txt\ngrep -q base src/E.txt\n```"), "{text}");
    let catalog = r.read("SAF_ISSUE_CATALOG.md");
    assert!(catalog.lines().any(|l| l.starts_with("| E-02 | Retention policy |")), "{catalog}");
    r.cmd().args(["sync", "--check"]).assert().code(0);
    // The checks are real checks: verify runs both and they pass on this tree.
    let doc = json(r.cmd().args(["verify", "E-02", "--json"]));
    assert_eq!(doc["passed"], true, "{doc}");
    assert_eq!(doc["summary"]["passed"], 1, "{doc}");
    let plan = stdout_of(r.cmd().args(["plan", "--lane", "E"]), 0);
    assert!(plan.contains("E-02") && plan.contains("LOW complexity"), "{plan}");

    r.cmd().args(["wontfix", "E-02", "--reason", "out of scope for now"]).assert().code(0);
    let text = r.read("issues/E/E-02.md");
    assert!(text.contains("status: \"WONTFIX\"") && text.contains("- **Status:** WONTFIX"), "{text}");
    assert!(text.contains("- **Won't fix:** ") && text.contains("out of scope for now"), "{text}");
    let catalog = r.read("SAF_ISSUE_CATALOG.md");
    assert!(!catalog.contains("| E-02 |"), "a closed issue leaves the open list:\n{catalog}");
    r.cmd().args(["sync", "--check"]).assert().code(0);
    let status = json(r.cmd().args(["status", "--json"]));
    assert_eq!((status["total"].as_u64(), status["open"].as_u64()), (Some(3), Some(2)), "{status}");

    r.cmd().args(["reopen", "E-02"]).assert().code(0);
    let text = r.read("issues/E/E-02.md");
    assert!(text.contains("status: \"OPEN\"") && text.contains("- **Reopened:** ") && text.contains("(was WONTFIX)"), "{text}");
    assert!(r.read("SAF_ISSUE_CATALOG.md").contains("| E-02 | Retention policy |"));
    r.cmd().args(["sync", "--check"]).assert().code(0);
    // Nothing here marks RESOLVED by hand, and unknown ids are refused.
    let err = stderr_of(r.cmd().args(["reopen", "E-9"]), 2);
    assert!(err.contains("issue E-9 does not exist"), "{err}");
    r.cmd().args(["wontfix", "E-02"]).assert().code(2);
}

#[test]
fn new_refuses_a_typo_lane_with_a_did_you_mean_unless_new_lane() {
    let r = RunRepo::standard();
    let err = stderr_of(r.cmd().args(["new", "e", "typo lane"]), 2);
    assert!(err.contains("lane e does not exist (lanes: E, M)"), "{err}");
    assert!(err.contains("did you mean `E`?"), "{err}");
    assert!(err.contains("--new-lane"), "{err}");
    assert!(!r.root().join("issues/e").exists());
    let out = stdout_of(r.cmd().args(["new", "web", "first web issue", "--new-lane"]), 0);
    assert_eq!(out.trim(), "issues/web/web-01.md");
    assert!(r.read("SAF_ISSUE_CATALOG.md").contains("| web-01 | first web issue |"));
}

#[test]
fn new_edit_opens_the_editor_before_the_catalog_is_synced() {
    let r = RunRepo::standard();
    let editor = r.outside().join("editor.sh");
    std::fs::write(&editor, "#!/bin/sh\nsed -i 's/^severity: 5$/severity: 9/' \"$1\"\n").unwrap();
    std::fs::set_permissions(&editor, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    r.cmd().env("EDITOR", &editor).args(["new", "M", "edited", "--edit"]).assert().code(0);
    assert!(r.read("issues/M/M-02.md").contains("severity: 9"));
    assert!(r.read("SAF_ISSUE_CATALOG.md").contains("| M-02 | edited | 9/10"), "{}", r.read("SAF_ISSUE_CATALOG.md"));
}

#[test]
fn outside_a_set_up_commands_say_run_init_and_init_twice_adds_no_lane() {
    let r = RunRepo::bare(); // a git repository; no catalog yet once it is removed
    std::fs::remove_file(r.root().join("SAF_ISSUE_CATALOG.md")).unwrap();
    for args in [&["status"][..], &["runs"], &["plan"], &["new", "E", "x"], &["report"]] {
        let err = stderr_of(r.cmd().args(args), 5);
        assert!(err.contains("no git-lanes set-up") && err.contains("run `git lanes init`"), "{args:?}: {err}");
    }
    r.cmd().args(["init", "--yes"]).assert().code(0);
    let lanes = |r: &RunRepo| {
        json(r.cmd().args(["status", "--json"]))["lanes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["lane"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(lanes(&r), ["E", "M"]);
    let again = stdout_of(r.cmd().args(["init", "--yes"]), 0);
    assert!(!again.contains("created"), "a second init creates nothing:\n{again}");
    assert_eq!(lanes(&r), ["E", "M"]);
}

#[test]
fn init_in_a_repository_with_lanes_adopts_them_and_adds_none() {
    let r = RunRepo::bare();
    std::fs::remove_file(r.root().join("SAF_ISSUE_CATALOG.md")).unwrap();
    for lane in ["core", "docs"] {
        r.write(&format!("issues/{lane}/{lane}-01.md"), &crate::common::issue_text(&format!("{lane}-01"), lane, "OPEN", "", "true\n"));
    }
    let err = stderr_of(r.cmd().args(["init", "--yes"]), 0);
    assert!(err.contains("kept the existing lanes: core, docs"), "{err}");
    let doc = json(r.cmd().args(["status", "--json"]));
    let lanes: Vec<&str> = doc["lanes"].as_array().unwrap().iter().map(|l| l["lane"].as_str().unwrap()).collect();
    assert_eq!(lanes, ["core", "docs"], "{doc}");
    assert!(!r.root().join("issues/E").exists() && !r.root().join("issues/M").exists());
    assert!(r.root().join(".claude/agents/issue-fixers/IF-Lane-core.md").exists());
}

#[test]
fn git_bash_completion_finds_git_lanes_and_completes_subcommands_and_options() {
    let git_completion =
        ["/usr/share/bash-completion/completions/git", "/etc/bash_completion.d/git"].into_iter().find(|p| std::path::Path::new(p).exists());
    let r = RunRepo::standard();
    let script = r.outside().join("git-lanes.bash");
    std::fs::write(&script, stdout_of(r.cmd().args(["completions", "bash"]), 0)).unwrap();
    let Some(git_completion) = git_completion else {
        // Without git's completion installed, the function must still be there.
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!("source {}; declare -F _git_lanes", script.display()))
            .output()
            .unwrap();
        assert!(out.status.success());
        return;
    };
    let probe = format!(
        "source {git_completion}\nsource {}\ndeclare -F _git_lanes || exit 9\n\
         COMP_WORDS=(git lanes ru); COMP_CWORD=2; COMP_LINE='git lanes ru'; COMP_POINT=${{#COMP_LINE}}\n__git_wrap__git_main\necho \"subcommands: ${{COMPREPLY[*]}}\"\n\
         COMP_WORDS=(git lanes logs --fo); COMP_CWORD=3; COMP_LINE='git lanes logs --fo'; COMP_POINT=${{#COMP_LINE}}\n__git_wrap__git_main\necho \"options: ${{COMPREPLY[*]}}\"\n",
        script.display()
    );
    let out = std::process::Command::new("bash").arg("-c").arg(probe).current_dir(r.root()).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("subcommands: run runs"), "{text}");
    assert!(text.contains("options: --follow"), "{text}");
    for (shell, needle) in [("zsh", "#compdef git-lanes"), ("fish", "complete -c git-lanes")] {
        assert!(stdout_of(r.cmd().args(["completions", shell]), 0).contains(needle), "{shell}");
    }
}

#[test]
fn man_install_puts_the_page_where_man_looks() {
    let r = RunRepo::standard();
    let home = r.outside().join("home");
    let err = stderr_of(r.cmd().args(["man", "--install"]), 0);
    let page = home.join(".local/share/man/man1/git-lanes.1");
    assert!(page.exists(), "{err}");
    assert!(home.join(".local/share/man/man1/git-lanes-runs.1").exists());
    // man-db searches <dir>/../share/man for each <dir> on PATH: with ~/.local/bin on PATH (as
    // the README's install has it) `man -w git-lanes` finds the page without any MANPATH.
    if std::path::Path::new("/usr/bin/man").exists() {
        std::fs::create_dir_all(home.join(".local/bin")).unwrap();
        let path = format!("{}:/usr/bin:/bin", home.join(".local/bin").display());
        let out =
            std::process::Command::new("man").args(["-w", "git-lanes"]).env_clear().env("PATH", path).env("HOME", &home).output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), page.display().to_string(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let help = stdout_of(r.cmd().arg("--help"), 0);
    assert!(help.contains("  man ") && help.contains("  runs ") && help.contains("Global options:"), "{help}");
    let run_help = stdout_of(r.cmd().args(["run", "--help"]), 0);
    assert!(run_help.contains("else 1h]") && run_help.contains("else merge]"), "{run_help}");
}

#[test]
fn clean_quiet_prints_nothing_and_force_removes_a_branch_checked_out_elsewhere() {
    let r = RunRepo::standard();
    r.run("R1", &[("M", "crash")], &[]).expect_code(3);
    // The user checks the failed lane's branch out in a worktree of their own.
    r.git(&["worktree", "remove", "--force", r.worktree("R1", "M").to_str().unwrap()]);
    let mine = r.outside().join("my-look-at-M");
    r.git(&["worktree", "add", "-q", mine.to_str().unwrap(), "lanes/R1/M"]);
    let out = r.cmd().args(["clean", "--force", "-q"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stdout.is_empty() && out.stderr.is_empty(), "clean -q printed: {:?}", out);
    assert!(!r.lane_branches().contains(&"lanes/R1/M".to_string()), "{:?}", r.lane_branches());
    assert!(r.has_ref("refs/lanes/archive/R1/M"));
    r.assert_nothing_lost("R1", &["M"]);
}

#[test]
fn a_run_that_resolves_nothing_keeps_its_bookkeeping_under_refs_lanes_runs() {
    let r = RunRepo::standard();
    let head = r.git(&["rev-parse", "HEAD"]);
    let branch_log = r.git(&["log", "--oneline", "main"]);
    r.run("R0", &[("E", "claim"), ("M", "claim")], &[]).expect_code(3);
    // The user's branch is untouched: no report commit.
    assert_eq!(r.git(&["rev-parse", "HEAD"]), head);
    assert_eq!(r.git(&["log", "--oneline", "main"]), branch_log);
    assert!(!r.root().join("LogBook/issue-fixing/runs/R0.md").exists());
    // The report, the state and the timeline are in the commit refs/lanes/runs/R0 points at.
    assert!(r.has_ref("refs/lanes/runs/R0"));
    let kept = r.show("refs/lanes/runs/R0", "LogBook/issue-fixing/runs/R0.md");
    assert_eq!(report_result(&kept, "E-01").as_deref(), Some("REJECTED"), "{kept}");
    assert!(kept.contains("refs/lanes/runs/R0"), "{kept}");
    r.show("refs/lanes/runs/R0", "LogBook/issue-fixing/orchestrator-state.yaml");
    r.show("refs/lanes/runs/R0", "LogBook/issue-fixing/runs/R0.svg");
    // No integration branch or worktree is left behind for it.
    assert!(!r.lane_branches().contains(&"lanes/R0/integration".to_string()), "{:?}", r.lane_branches());
    // `runs` and `report` see it.
    assert_eq!(r.report_cmd("R0").trim_end(), kept.trim_end());
    let doc = json(r.cmd().args(["runs", "--json"]));
    let run = &doc["runs"][0];
    assert_eq!((run["id"].as_str(), run["integrated"].as_str()), (Some("R0"), Some("kept under refs/lanes/runs")), "{doc}");
    assert_eq!(run["report"]["kind"], "ref");
    // A later run that resolves something commits as usual, and both are listed.
    r.run("R1", &[], &[]).expect_code(0);
    let ids: Vec<String> =
        json(r.cmd().args(["runs", "--json"]))["runs"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(ids, ["R0", "R1"]);
}

#[test]
fn the_committed_report_links_a_timeline_svg_with_a_bar_per_lane() {
    let r = RunRepo::standard();
    r.run("R1", &[("M", "claim")], &[]).expect_code(3);
    let report = r.report_on_head("R1");
    assert!(report.contains("](R1.svg)"), "the report links its timeline:\n{report}");
    let svg = r.show("HEAD", "LogBook/issue-fixing/runs/R1.svg");
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""), "{svg}");
    assert!(svg.trim_end().ends_with("</svg>"));
    for lane in ["E", "M"] {
        assert!(svg.contains(&format!(">lane {lane}</text>")), "no row for lane {lane}");
        for phase in ["set-up", "work", "judging"] {
            assert!(svg.contains(&format!("lane {lane}: {phase} ")), "lane {lane} has no {phase} bar:\n{svg}");
        }
    }
    assert!(svg.contains("lane E: integration "), "the merged lane has an integration bar:\n{svg}");
    assert!(!svg.contains("lane M: integration "), "the rejected lane was not integrated:\n{svg}");
    // Lane M was rejected on each of its two attempts.
    assert!(svg.contains(">1 resolved</text>") && svg.contains(">1 rejected (2 attempts)</text>"), "outcomes:\n{svg}");
    // The signal moments: the fake worker's last status line and `.done` (earlier lines of a
    // fast worker may be overwritten before they are seen: signal files hold the latest state).
    assert!(svg.contains("<title>COMPLETE: fixed</title>") && svg.contains("<title>.done</title>"), "{svg}");
    // The phase times are in the committed state.
    let st: git_lanes::run::state::RunState =
        serde_saphyr::from_str(&r.show("HEAD", "LogBook/issue-fixing/orchestrator-state.yaml")).unwrap();
    let p = st.lanes["E"].phases.clone().unwrap();
    assert!(p.work_started_at.is_some() && p.work_ended_at.is_some() && p.judged_at.is_some() && p.integrated_at.is_some());
}

fn live_lane_status(r: &RunRepo, run_id: &str, lane: &str) -> String {
    let path = r.root().join(".git/lanes/runs").join(run_id).join("state.yaml");
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_saphyr::from_str::<git_lanes::run::state::RunState>(&t).ok())
        .and_then(|s| s.lanes.get(lane).map(|l| l.status.as_str().to_string()))
        .unwrap_or_default()
}

#[test]
fn stop_ends_one_lane_of_a_running_run_and_the_others_go_on() {
    let r = RunRepo::standard();
    let mut run = r.run_child("R1", &[("E", "gate"), ("M", "gate")], &[]);
    assert!(r.wait_for_marker("started-M", Duration::from_secs(30)), "worker M never started");
    let err = stderr_of(r.cmd().args(["stop", "M"]), 0);
    assert!(err.contains("asked run R1 to stop lane M"), "{err}");
    assert!(wait_until(Duration::from_secs(20), || live_lane_status(&r, "R1", "M") == "failed"), "lane M was not stopped");
    r.open_gate();
    let out = crate::common_run::wait_with_deadline(&mut run, Duration::from_secs(60)).expect("run ends");
    out.expect_code(3);
    assert!(out.stdout.contains("lane M failed: stopped by the operator"), "{}", out.stdout);
    assert_eq!(r.status_on_head("E-01"), "RESOLVED");
    assert_eq!(r.status_on_head("M-01"), "OPEN");
    // Its work so far is kept on its branch.
    r.assert_nothing_lost("R1", &["M"]);
    // A finished run cannot be steered.
    let err = stderr_of(r.cmd().args(["stop", "E", "--run", "R1"]), 5);
    assert!(err.contains("not being followed"), "{err}");
}

#[test]
fn restart_starts_a_lanes_worker_again_in_its_worktree() {
    let r = RunRepo::standard();
    let mut run = r.run_child("R1", &[("E", "gate")], &["--lane", "E"]);
    assert!(r.wait_for_marker("started-E", Duration::from_secs(30)), "worker E never started");
    std::fs::remove_file(r.fake_dir().join("started-E")).unwrap();
    r.cmd().args(["restart", "E"]).assert().code(0);
    assert!(r.wait_for_marker("started-E", Duration::from_secs(30)), "worker E was not started again");
    r.open_gate();
    let out = crate::common_run::wait_with_deadline(&mut run, Duration::from_secs(60)).expect("run ends");
    out.expect_code(0);
    assert!(out.stderr.contains("lane E: restarted by the operator"), "{}", out.stderr);
    let log = stdout_of(r.cmd().args(["logs", "E"]), 0);
    assert_eq!(log.matches("fake worker: lane E").count(), 2, "{log}");
    assert_eq!(r.status_on_head("E-01"), "RESOLVED");
    // Both workers' commits (the first one's wip, the second's wip and fix) are kept.
    r.assert_nothing_lost("R1", &["E"]);
}

#[test]
fn plan_and_status_messages_read_as_sentences() {
    let r = RunRepo::standard();
    r.cmd().args(["new", "E", "later", "--depends-on", "E-01", "--check", "true"]).assert().code(0);
    let out = r.cmd().args(["plan"]).output().unwrap();
    let (plan, err) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(plan.contains("E-02       BLOCKED until E-01 is resolved"), "{plan}");
    assert!(!plan.contains("waiting on dependencies"), "{plan}");
    assert!(plan.contains("E-01       LOW complexity"), "{plan}");
    assert!(err.contains("2 of 2 lanes have work: 2 issues assigned, 1 blocked"), "{err}");
    r.git(&["add", "-A"]);
    r.git(&["commit", "-q", "-m", "E-02"]);
    r.run("R1", &[], &["--lane", "M"]).expect_code(0);
    let status = stdout_of(r.cmd().arg("status"), 0);
    assert!(status.contains("last run: R1 complete (1 lane, 1 resolved)"), "{status}");
    r.run("R2", &[("E", "claim")], &["--lane", "E"]).expect_code(3);
    let status = stdout_of(r.cmd().arg("status"), 0);
    assert!(status.contains("needs attention") && !status.contains("needs_attention"), "{status}");
}
