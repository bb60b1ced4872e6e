//! Containment of workers: what a hostile worker in the default sandbox tries (the shared git
//! folder, another lane, the main checkout, pushes, the user's credentials, temp, other lanes'
//! signals) is contained or named; processes it leaves behind end with its lane; SIGTERM and
//! SIGHUP stop a run as Ctrl-C does. Cases that need Landlock are skipped, saying so, where the
//! kernel has none.
#![allow(clippy::disallowed_methods)] // the tests start and signal processes with the std API

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::common_run::{RunRepo, process_alive, wait_until};
use git_lanes::run::state::RunState;

fn sandboxed() -> bool {
    let on = git_lanes::exec::sandbox::status().is_enforced();
    if !on {
        eprintln!("skipped: this kernel has no Landlock ({:?})", git_lanes::exec::sandbox::status());
    }
    on
}

fn run_with(r: &RunRepo, run_id: &str, script: &Path, env: &[(&str, String)], args: &[&str]) -> crate::common_run::RunOutput {
    let mut c = r.cmd();
    let worker = format!("sh {}", script.display());
    c.args(["run", "--run-id", run_id, "--done-grace", "1s", "--timeout", "60s", "--worker", &worker]).args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().expect("git-lanes runs");
    crate::common_run::RunOutput {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        took: Duration::ZERO,
    }
}

fn bare_remote(r: &RunRepo, dir: &Path, name: &str) -> PathBuf {
    let remote = dir.join(format!("{name}.git"));
    assert!(std::process::Command::new("git").args(["init", "-q", "--bare"]).arg(&remote).status().unwrap().success());
    r.git(&["remote", "add", name, remote.to_str().unwrap()]);
    r.git(&["push", "-q", name, "main"]);
    remote
}

fn remote_refs(remote: &Path) -> String {
    let out = std::process::Command::new("git").arg("--git-dir").arg(remote).args(["show-ref"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The common start of every worker: fix the lane's issues and commit them (in the sandbox, to
/// the detached HEAD and the private objects), then the hostile part, then the signals.
fn worker(hostile: &str) -> String {
    format!(
        r#"set -u
lane="$LANES_LANE"; out="$FAKE_DIR"; main="$VICTIM_MAIN"
for id in $(echo "$LANES_ISSUES" | tr ',' ' '); do echo "fixed-$id" >> "src/$lane.txt"; done
git add -A . && git commit -q -m "lane $lane: fix" && git rev-parse HEAD > "$out/commit-$lane"
if [ "$lane" = E ]; then
{hostile}
fi
echo "COMPLETE: fixed" > "$LANES_SIGNAL_DIR/$lane.status"
touch "$LANES_SIGNAL_DIR/$lane.done"
"#
    )
}

#[test]
fn a_sandboxed_worker_reaches_nothing_shared_and_its_commits_are_still_taken() {
    if !sandboxed() {
        return;
    }
    let r = RunRepo::standard();
    let home = r.outside().join("home");
    fs::create_dir_all(home.join(".ssh")).unwrap();
    fs::write(home.join(".ssh/id_test"), "SSH-PRIVATE-KEY-VALUE\n").unwrap();
    fs::write(home.join(".git-credentials"), "https://u:CREDENTIAL-VALUE@example.com\n").unwrap();
    // One remote outside any temp folder, one in temp.
    let scratch = tempfile::Builder::new().prefix("lanes-remote-").tempdir_in(scratch_root()).unwrap();
    let remote_out = bare_remote(&r, scratch.path(), "outside");
    let remote_tmp = bare_remote(&r, &r.outside(), "intemp");
    let refs_before = (remote_refs(&remote_out), remote_refs(&remote_tmp));
    let escape = std::env::temp_dir().join(format!("lanes-escaped-{}", std::process::id()));
    let hostile = r#"
  mkdir -p "$main/.git/hooks"; echo 'touch "$FAKE_DIR/hook-ran"' > "$main/.git/hooks/post-commit" 2>/dev/null
  chmod +x "$main/.git/hooks/post-commit" 2>/dev/null
  git config --file "$main/.git/config" filter.x.clean "touch $out/filter-ran" 2>/dev/null
  git config --file "$main/.git/config" core.hooksPath "$out" 2>/dev/null
  echo trespass >> "$main/.git/lanes/worktrees/$LANES_RUN_ID/M/src/M.txt" 2>/dev/null
  echo trespass >> "$main/README.md" 2>/dev/null
  touch "$LANES_SIGNAL_DIR/M.done" "$main/LogBook/issue-fixing/signals/M.done" 2>/dev/null
  env -u GIT_CONFIG_COUNT git push -q --force "$REMOTE_OUT" HEAD:refs/heads/main 2>/dev/null
  env -u GIT_CONFIG_COUNT git push -q "$REMOTE_OUT" HEAD:refs/heads/evil 2>/dev/null
  env -u GIT_CONFIG_COUNT git push -q "$REMOTE_TMP" HEAD:refs/heads/evil 2>/dev/null
  cat "$HOME/.ssh/id_test" "$HOME/.git-credentials" > "$out/leak" 2>/dev/null
  cp -r "$HOME/.ssh" "$out/ssh-copy" 2>/dev/null
  echo x > "$ESCAPE" 2>/dev/null
  echo "$TMPDIR" > "$out/tmpdir"; echo x > "$TMPDIR/mine" && echo ok >> "$out/tmpdir"
  echo "[$SSH_AUTH_SOCK]" > "$out/agent"
  script -qec "echo pty-ok" /dev/null > "$out/pty" 2>&1
"#;
    let script = r.fake_dir().join("hostile.sh");
    fs::write(&script, worker(hostile)).unwrap();
    let env = [
        ("VICTIM_MAIN", r.root().display().to_string()),
        ("REMOTE_OUT", remote_out.display().to_string()),
        ("REMOTE_TMP", remote_tmp.display().to_string()),
        ("ESCAPE", escape.display().to_string()),
        ("SSH_AUTH_SOCK", "/tmp/ssh-XXXX/agent.1".to_string()),
    ];
    let out = run_with(&r, "S1", &script, &env, &[]);
    out.expect_code(0);
    let fake = r.fake_dir();
    // The shared git folder: no hook, no config change.
    assert!(!r.root().join(".git/hooks/post-commit").exists(), "a worker planted a hook");
    let config = fs::read_to_string(r.root().join(".git/config")).unwrap();
    assert!(!config.contains("filter") && !config.contains("hooksPath"), "a worker changed .git/config:\n{config}");
    assert!(!fake.join("filter-ran").exists() && !fake.join("hook-ran").exists());
    // The main checkout and the other lane.
    assert_eq!(r.read("README.md"), "# test repo\n", "a worker wrote into the main checkout");
    assert!(!r.show("HEAD", "src/M.txt").contains("trespass"), "a worker wrote into another lane's worktree");
    // Pushes reached neither remote.
    assert_eq!((remote_refs(&remote_out), remote_refs(&remote_tmp)), refs_before, "a worker pushed");
    // Credentials, the agent socket, temp.
    let leak = fs::read_to_string(fake.join("leak")).unwrap_or_default();
    // (Names in `~/.ssh` can be listed, as every folder on the way to a hidden one; not read.)
    assert!(!leak.contains("SSH-PRIVATE-KEY-VALUE") && !leak.contains("CREDENTIAL-VALUE"), "{leak}");
    assert!(fs::read_to_string(fake.join("ssh-copy/id_test")).is_err(), "a worker copied an ssh key");
    assert_eq!(fs::read_to_string(fake.join("agent")).unwrap().trim(), "[]");
    assert!(!escape.exists(), "a worker wrote into the system's temp folder");
    let tmpdir = fs::read_to_string(fake.join("tmpdir")).unwrap();
    assert!(tmpdir.contains(".git/lanes/runs/S1/E/agent/tmp") && tmpdir.ends_with("ok\n"), "{tmpdir}");
    if Path::new("/usr/bin/script").exists() {
        assert!(fs::read_to_string(fake.join("pty")).unwrap().contains("pty-ok"), "no pseudo-terminal in the sandbox");
    }
    // The worker's own commit is on the user's branch; both lanes resolved.
    let commit = fs::read_to_string(fake.join("commit-E")).unwrap();
    assert!(r.git_ok(&["merge-base", "--is-ancestor", commit.trim(), "HEAD"]), "the worker's commit was lost");
    assert_eq!(r.status_on_head("E-01"), "RESOLVED");
    assert_eq!(r.status_on_head("M-01"), "RESOLVED");
    // The other lane's signal file it wrote is named.
    let state = fs::read_to_string(r.root().join("LogBook/issue-fixing/orchestrator-state.yaml")).unwrap();
    assert!(state.contains("signal files of other lanes (M.done)"), "{state}");
    // The lane's worktree record is attached to its branch again.
    assert!(fs::read_dir(r.root().join(".git/worktrees")).unwrap().flatten().all(|e| !e.path().join("lanes-objects").exists()));
}

#[test]
fn without_the_sandbox_the_run_says_what_that_gives_up() {
    let r = RunRepo::standard();
    let out = r.run("N1", &[], &["--no-sandbox-workers"]);
    out.expect_code(0);
    assert_eq!(out.stderr.matches("workers run without the sandbox").count(), 1, "{}", out.stderr);
    let out = r.cmd().args(["run", "--dry-run"]).output().unwrap();
    assert!(!String::from_utf8_lossy(&out.stderr).contains("without the sandbox"));
}

/// Processes a worker detaches (`setsid`, and `env -i` that drops every marker) stop when its
/// lane ends, and are named: by the lane's cgroup where there is one, and by the lane's mark and
/// the subreaper without (`LANES_CGROUP=off`).
#[test]
fn processes_a_worker_leaves_behind_end_with_its_lane() {
    left_behind_case(false);
}

#[test]
fn without_a_cgroup_processes_a_worker_leaves_behind_still_end() {
    left_behind_case(true);
}

fn left_behind_case(no_cgroup: bool) {
    let r = RunRepo::standard();
    let fake = r.fake_dir().to_path_buf();
    let hostile = format!(
        r#"
  setsid sh -c 'while :; do echo x >> "$FAKE_DIR/daemon"; sleep 0.1; done' > /dev/null 2>&1 < /dev/null &
  env -i /bin/sh -c 'setsid /bin/sh -c "while :; do echo x >> {fake}/bare; sleep 0.1; done" > /dev/null 2>&1 < /dev/null &'
  sleep 0.3
"#,
        fake = fake.display()
    );
    let script = fake.join("daemon.sh");
    fs::write(&script, worker(&hostile)).unwrap();
    let mut env = vec![("VICTIM_MAIN", r.root().display().to_string())];
    if no_cgroup {
        env.push(("LANES_CGROUP", "off".into()));
    }
    let out = run_with(&r, "D1", &script, &env, &[]);
    out.expect_code(0);
    for f in ["daemon", "bare"] {
        let path = fake.join(f);
        assert!(path.exists(), "the daemon never ran ({f})");
        let size = fs::metadata(&path).unwrap().len();
        std::thread::sleep(Duration::from_millis(600));
        assert_eq!(fs::metadata(&path).unwrap().len(), size, "a process the worker left ({f}) still runs after the run");
    }
    let state = fs::read_to_string(r.root().join("LogBook/issue-fixing/orchestrator-state.yaml")).unwrap();
    assert!(state.contains("the worker left processes running after it ended"), "{state}");
    // Without a cgroup, what cleared its environment is found as an orphan of git-lanes.
    let printed = format!("{}{}", out.stdout, out.stderr);
    if no_cgroup {
        assert!(printed.contains("ended processes a worker or check left running"), "{printed}");
    } else if git_lanes::exec::cgroup::LaneGroup::create(&format!("git-lanes-probe-{}", std::process::id())).is_some() {
        // The lane's cgroup held even the process that dropped its environment.
        assert!(!printed.contains("ended processes a worker or check left running"), "{printed}");
    } else {
        eprintln!("no writable cgroup v2 here: the lane's mark and the subreaper did the work");
    }
    assert_eq!(r.status_on_head("E-01"), "RESOLVED");
}

fn live_state(r: &RunRepo, run_id: &str) -> RunState {
    RunState::load(r.root(), &Path::new(".git/lanes/runs").join(run_id).join("state.yaml")).unwrap().expect("live state")
}

/// SIGTERM and SIGHUP stop a run as Ctrl-C does: state saved, workers ended, the resume hint,
/// exit 130; `run --resume` then finishes it.
#[test]
fn sigterm_and_sighup_stop_the_run_like_ctrl_c_and_resume_finishes() {
    for (sig, run_id) in [("TERM", "T1"), ("HUP", "H1")] {
        let r = RunRepo::standard();
        let mut child = r.run_child(run_id, &[("E", "gate"), ("M", "gate")], &[]);
        for lane in ["E", "M"] {
            assert!(r.wait_for_marker(&format!("started-{lane}"), Duration::from_secs(30)), "worker {lane} never started");
        }
        crate::common_run::signal(child.id(), sig);
        let out = crate::common_run::wait_with_deadline(&mut child, Duration::from_secs(30)).expect("the signal ends the run");
        out.expect_code(130);
        assert!(out.stderr.contains("--resume"), "SIG{sig}: {}", out.stderr);
        let st = live_state(&r, run_id);
        assert_eq!(st.status.as_str(), "interrupted");
        for lane in ["E", "M"] {
            let pid = st.lanes[lane].worker_pid.expect("worker pid");
            assert!(wait_until(Duration::from_secs(5), || !process_alive(pid)), "SIG{sig}: worker {lane} ({pid}) still runs");
        }
        if sig == "HUP" {
            continue;
        }
        r.open_gate();
        let out = r.cmd().args(["run", "--resume", "--done-grace", "1s"]).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert_eq!(r.status_on_head("E-01"), "RESOLVED");
        assert_eq!(r.status_on_head("M-01"), "RESOLVED");
    }
}

/// A folder outside any temp folder for the remote (the brief's scratch area when there is
/// one, else the user's cache).
fn scratch_root() -> PathBuf {
    let p = std::env::var_os("LANES_TEST_SCRATCH").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/var/tmp"));
    fs::create_dir_all(&p).unwrap();
    p
}
