//! `git lanes run --worker <preset>` against fake agent CLIs: shell scripts named like each real
//! CLI, generated here into a temporary `PATH`, that accept only the flags the installed real
//! version lists (`tests/fixtures/agents/<cli>/accepted-flags.txt`, taken from its `--help`),
//! behave like it where it matters (claude refuses `--dangerously-skip-permissions` as root
//! unless `IS_SANDBOX=1`; gemini refuses an untrusted folder), and replay the real CLI's recorded
//! output (`<case>.stdout`, `.stderr`, `.exit`) — or fix the issue, for the `fix` case.
//!
//! The real CLIs are exercised by `tests/it/agents_real.rs` (opt-in, `LANES_REAL_AGENTS=1`).

use std::fs;
use std::path::{Path, PathBuf};

use crate::common_run::RunRepo;

const PRESETS: [&str; 7] = ["claude", "codex", "gemini", "aider", "opencode", "qwen", "copilot"];

fn fixtures(cli: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/agents").join(cli)
}

/// What each fake does before replaying its case: the real CLI's refusals.
fn quirks(cli: &str) -> &'static str {
    match cli {
        "claude" => {
            r#"if [ "${FAKE_UID:-$(id -u)}" = 0 ] && [ "${IS_SANDBOX:-}" != 1 ]; then
  case " $* " in *" --dangerously-skip-permissions "*) cat "$FIX/root-refusal.stderr" >&2; exit 1 ;; esac
fi"#
        }
        "gemini" => {
            r#"case " $* " in *" --skip-trust "*) ;; *)
  [ "${GEMINI_CLI_TRUST_WORKSPACE:-}" = true ] || { echo 'Gemini CLI is not running in a trusted directory.' >&2; exit 55; } ;;
esac"#
        }
        _ => "",
    }
}

/// Writes the fake `cli` into `bin`.
fn fake(bin: &Path, cli: &str) {
    let script = format!(
        r#"#!/bin/sh
# Fake {cli}: only the flags the real CLI accepts; replays recorded cases ($FAKE_AGENT_CASE).
FIX='{fix}'
for a in "$@"; do
  case "$a" in
    --version|-v|-V) echo "fake {cli}"; exit 0 ;;
    -) continue ;;
    --*=*) f="${{a%%=*}}" ;;
    -*) f="$a" ;;
    *) continue ;;
  esac
  grep -qxF -- "$f" "$FIX/accepted-flags.txt" || {{ echo "error: unknown option '$f'" >&2; exit 2; }}
done
{quirks}
echo "$*" >> "$FAKE_DIR/args-{cli}"
case="${{FAKE_AGENT_CASE:-fix}}"
if [ "$case" = fix ]; then
  for id in $(echo "$LANES_ISSUES" | tr ',' ' '); do echo "fixed-$id" >> "src/$LANES_LANE.txt"; done
  mkdir -p .aider.tags.cache.v4 && echo cache > .aider.tags.cache.v4/cache.db
  [ "{cli}" = aider ] || git lanes signal done
  cat "$FIX/success.stdout" 2>/dev/null
  exit 0
fi
cat "$FIX/$case.stdout" 2>/dev/null
cat "$FIX/$case.stderr" >&2 2>/dev/null
[ "${{FAKE_HANG:-}}" = 1 ] && exec sleep 600
exit "$(cat "$FIX/$case.exit" 2>/dev/null || echo 1)"
"#,
        fix = fixtures(cli).display(),
        quirks = quirks(cli),
    );
    let path = bin.join(cli);
    fs::write(&path, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
}

/// A repository with every fake CLI on a `PATH` folder outside it.
fn repo_with_fakes() -> (RunRepo, PathBuf) {
    let r = RunRepo::standard();
    let bin = r.outside().join("bin");
    fs::create_dir_all(&bin).unwrap();
    for cli in PRESETS {
        fake(&bin, cli);
    }
    (r, bin)
}

fn path_with(bin: &Path) -> String {
    format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into()))
}

/// A `PATH` of links to the few system tools a run needs (git, sh, …), without anything else
/// that happens to be installed next to them — such as a real agent CLI in `/usr/bin`.
fn bare_path(r: &RunRepo, extra: Option<&Path>) -> String {
    let tools = r.outside().join("tools");
    if !tools.exists() {
        fs::create_dir_all(&tools).unwrap();
        let path = std::env::var_os("PATH").unwrap_or_default();
        for tool in ["git", "sh", "grep", "cat", "sed", "tr", "env", "mkdir", "rm", "ls", "echo", "test", "touch", "dirname"] {
            if let Some(found) = std::env::split_paths(&path).map(|d| d.join(tool)).find(|p| p.is_file()) {
                std::os::unix::fs::symlink(found, tools.join(tool)).unwrap();
            }
        }
    }
    match extra {
        Some(bin) => format!("{}:{}", bin.display(), tools.display()),
        None => tools.display().to_string(),
    }
}

struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// `git lanes run` with the fakes first on `PATH` and `env` for them.
fn run(r: &RunRepo, bin: &Path, env: &[(&str, &str)], args: &[&str]) -> Out {
    let mut c = r.cmd();
    c.env("PATH", path_with(bin)).args(["run", "--done-grace", "1s"]).args(args);
    if !args.contains(&"--timeout") {
        c.args(["--timeout", "120s"]);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    Out {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Nothing tracked is left dirty in the main worktree.
fn assert_clean(r: &RunRepo) {
    let dirty = r.git(&["status", "--porcelain", "--untracked-files=no"]);
    assert!(dirty.trim().is_empty(), "tracked files left dirty: {dirty}");
}

/// The case each preset's recorded authentication failure is in, and the words it must show.
fn auth_failure(cli: &str) -> (&'static str, &'static str) {
    match cli {
        "claude" => ("not-logged-in", "Not logged in · Please run /login"),
        "codex" => ("unauthorized", "401 Unauthorized"),
        "gemini" => ("no-auth", "Please set an Auth method"),
        "aider" => ("model-no-key", "The API provider is not able to authenticate you"),
        "opencode" => ("offline", "Cannot connect to API"),
        "qwen" => ("no-auth", "No auth type is selected"),
        "copilot" => ("no-auth", "No authentication information found."),
        _ => unreachable!(),
    }
}

#[test]
fn each_presets_failure_reason_reaches_the_console_the_report_and_json() {
    let (r, bin) = repo_with_fakes();
    for (n, cli) in PRESETS.iter().enumerate() {
        let (case, words) = auth_failure(cli);
        let id = format!("A{n}");
        let env = [("FAKE_AGENT_CASE", case), ("FAKE_UID", "0")];
        let out = run(&r, &bin, &env, &["--run-id", &id, "--lane", "E", "--worker", cli]);
        assert_eq!(out.code, Some(3), "{cli}: exit\n{}\n{}", out.stdout, out.stderr);
        // No flag, trust or root refusal: the fake saw only accepted flags.
        assert!(!out.stderr.contains("unknown option"), "{cli}: {}", out.stderr);
        assert!(!out.stderr.contains("root/sudo") && !out.stderr.contains("trusted directory"), "{cli}: {}", out.stderr);
        assert!(out.stderr.contains(&format!("{cli} said: ")) && out.stderr.contains(words), "{cli}: console\n{}", out.stderr);
        assert!(out.stderr.contains("worker log: "), "{cli}: {}", out.stderr);
        let report = r.report_cmd(&id);
        assert!(report.contains("- **Reason:** ") && report.contains(words), "{cli}: report\n{report}");
        assert!(report.contains("- **Worker log:** "), "{cli}: {report}");
        // `--json` (no progress lines): the same reason per lane.
        let id = format!("J{n}");
        let out = run(&r, &bin, &env, &["--run-id", &id, "--lane", "E", "--worker", cli, "--json"]);
        assert_eq!(out.code, Some(3), "{cli}: exit\n{}\n{}", out.stdout, out.stderr);
        let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{cli}: {e}: {}", out.stdout));
        let lane = &json["lanes"][0];
        assert_eq!(lane["status"], "failed", "{cli}: {json}");
        assert!(lane["reason"].as_str().unwrap().contains(words), "{cli}: {json}");
        assert!(Path::new(lane["log"].as_str().unwrap()).is_file(), "{cli}: {json}");
        assert!(json["needs_human"].as_array().unwrap().iter().any(|h| h.as_str().unwrap().contains(words)), "{cli}: {json}");
        assert_clean(&r);
    }
}

#[test]
fn claude_as_root_is_started_with_is_sandbox_and_its_fix_is_resolved() {
    let (r, bin) = repo_with_fakes();
    let out = run(&r, &bin, &[("FAKE_UID", "0")], &["--run-id", "R1", "--lane", "E", "--worker", "claude"]);
    assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    assert_eq!(r.status_on_head("E-01"), "RESOLVED");
    // The same CLI started by hand, without the variable, is refused — and the console says so.
    let line = "exec claude -p --output-format json --dangerously-skip-permissions < \"$LANES_PROMPT_FILE\"";
    let out = run(&r, &bin, &[("FAKE_UID", "0")], &["--run-id", "R2", "--lane", "M", "--worker", line]);
    assert_eq!(out.code, Some(3));
    assert!(out.stderr.contains("cannot be used with root/sudo privileges"), "{}", out.stderr);
    assert_clean(&r);
}

#[test]
fn gemini_trusts_the_new_worktree_and_aider_signals_done_without_committing_its_droppings() {
    let (r, bin) = repo_with_fakes();
    let out = run(&r, &bin, &[], &["--run-id", "G1", "--lane", "E", "--worker", "gemini"]);
    assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    assert_eq!(r.status_on_head("E-01"), "RESOLVED");
    // aider cannot run `git lanes signal`: its line writes `.done` after it exits 0.
    let out = run(&r, &bin, &[], &["--run-id", "D1", "--lane", "M", "--worker", "aider"]);
    assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    assert_eq!(r.status_on_head("M-01"), "RESOLVED");
    let files = r.git(&["log", "--all", "--name-only", "--format="]);
    assert!(!files.contains(".aider"), "an agent's dropping was committed:\n{files}");
    // Its history files went to the lane's state folder (the agent's part of it, in the
    // sandbox), not the worktree.
    let args = fs::read_to_string(r.fake_dir().join("args-aider")).unwrap();
    assert!(args.contains("--chat-history-file") && args.contains(".git/lanes/runs/D1/M/agent/aider.chat.history.md"), "{args}");
    assert!(!r.worktree("D1", "M").exists(), "the merged lane's worktree was kept");
    assert_clean(&r);
}

#[test]
fn aider_exit_0_after_an_authentication_error_fails_the_lane() {
    let (r, bin) = repo_with_fakes();
    let out = run(&r, &bin, &[("FAKE_AGENT_CASE", "model-no-key")], &["--run-id", "X1", "--lane", "E", "--worker", "aider"]);
    assert_eq!(out.code, Some(3), "{}", out.stderr);
    assert!(out.stderr.contains("lane E: failed — exit 0; but the agent reported an error"), "{}", out.stderr);
    assert_ne!(r.status_on_head("E-01"), "RESOLVED");
}

#[test]
fn a_limit_hit_is_named() {
    let (r, bin) = repo_with_fakes();
    let out = run(
        &r,
        &bin,
        &[("FAKE_AGENT_CASE", "max-turns")],
        &["--run-id", "L1", "--lane", "E", "--worker", "claude", "--max-turns", "3", "--json"],
    );
    assert_eq!(out.code, Some(3), "{}", out.stderr);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(json["lanes"][0]["limit"], "turns");
    assert_eq!(json["lanes"][0]["reason"], "turn limit reached: Reached maximum number of turns (3)");
    assert!(r.report_cmd("L1").contains("- **Limit hit:** turns"));
    let args = fs::read_to_string(r.fake_dir().join("args-claude")).unwrap();
    assert!(args.contains("--max-turns 3"), "{args}");
}

#[test]
fn an_agent_stuck_offline_is_ended_with_its_reason_before_the_timeout() {
    let (r, bin) = repo_with_fakes();
    let out = run(
        &r,
        &bin,
        &[("FAKE_AGENT_CASE", "no-auth"), ("FAKE_HANG", "1")],
        &["--run-id", "S1", "--lane", "E", "--worker", "codex", "--timeout", "600s"],
    );
    assert_eq!(out.code, Some(3), "{}", out.stderr);
    assert!(out.stderr.contains("lane E: failed — ended by git-lanes: the agent would not finish on its own"), "{}", out.stderr);
    assert!(
        out.stderr.contains("codex said: cannot reach its API, waiting for the network: Reconnecting... waiting for network"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("timed out"), "{}", out.stderr);
}

#[test]
fn a_timed_out_lane_names_the_last_lines_of_its_log() {
    let (r, bin) = repo_with_fakes();
    let out = run(
        &r,
        &bin,
        &[("FAKE_AGENT_CASE", "api-key-offline"), ("FAKE_HANG", "1")],
        &["--run-id", "T1", "--lane", "E", "--worker", "gemini", "--timeout", "3s", "--json"],
    );
    assert_eq!(out.code, Some(3), "{}", out.stderr);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(json["lanes"][0]["status"], "timed_out");
    let reason = json["lanes"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("failed. Retrying with backoff"), "{reason}");
}

#[test]
fn a_missing_cli_is_refused_before_any_branch_worktree_lock_or_commit() {
    let r = RunRepo::standard();
    let empty = r.outside().join("empty-bin");
    fs::create_dir_all(&empty).unwrap();
    let head = r.git(&["rev-parse", "HEAD"]);
    for cli in PRESETS {
        let mut c = r.cmd();
        c.env("PATH", bare_path(&r, Some(&empty))).args(["run", "--run-id", "N1", "--worker", cli]);
        let out = c.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(5), "{cli}: {stderr}");
        assert!(stderr.contains(&format!("{cli} (the worker of lane E) is not installed: not found on PATH")), "{cli}: {stderr}");
        assert!(stderr.contains("hint: install it with `") && stderr.contains("install"), "{cli}: {stderr}");
    }
    let mut c = r.cmd();
    c.args(["run", "--run-id", "N2", "--worker", "./no-such-worker.sh --go"]);
    let out = c.output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("./no-such-worker.sh (the worker of lane E) is not installed: no such file"));
    assert!(r.lane_branches().is_empty());
    assert_eq!(r.git(&["rev-parse", "HEAD"]), head);
    assert!(!r.root().join(".git/lanes/worktrees").exists());
    assert!(!r.root().join(".git/lanes/runs").exists());
    // The summary cache (`cache/`) is written by the set-up's catalog commands, not by the run.
    let lanes_dir: Vec<_> = fs::read_dir(r.root().join(".git/lanes"))
        .map(|d| d.flatten().map(|e| e.file_name()).filter(|n| n != "cache").collect())
        .unwrap_or_default();
    assert!(lanes_dir.is_empty(), "left behind in .git/lanes: {lanes_dir:?}");
}

#[test]
fn dry_run_shows_each_lanes_worker_line_and_what_would_stop_it() {
    let (r, bin) = repo_with_fakes();
    let mut c = r.cmd();
    c.env("PATH", path_with(&bin)).args(["run", "--dry-run", "--json", "--worker", "claude", "--model", "opus"]);
    let out = c.output().unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for lane in json["lanes"].as_array().unwrap() {
        assert_eq!(
            lane["worker"],
            "IS_SANDBOX=1 exec claude -p --output-format stream-json --verbose --dangerously-skip-permissions --model opus < \"$LANES_PROMPT_FILE\""
        );
        assert!(lane["worker_problem"].is_null(), "{lane}");
    }
    let mut c = r.cmd();
    c.env("PATH", bare_path(&r, None)).args(["run", "--dry-run", "--worker", "qwen"]);
    let out = c.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("worker: exec qwen --approval-mode yolo --output-format stream-json"), "{text}");
    assert!(
        text.contains("qwen (the worker of lane E) is not installed") && text.contains("npm install -g @qwen-code/qwen-code"),
        "{text}"
    );
}

#[test]
fn doctor_lists_each_preset_cli_with_its_version_or_not_installed() {
    let r = RunRepo::standard();
    let bin = r.outside().join("bin");
    fs::create_dir_all(&bin).unwrap();
    fake(&bin, "claude");
    let mut c = r.cmd();
    c.env("PATH", bare_path(&r, Some(&bin))).arg("doctor");
    let out = c.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("agent claude: fake claude ("), "{text}");
    assert!(text.contains("agent codex: not installed — install with `npm install -g @openai/codex`"), "{text}");
    assert!(text.contains("agent aider: not installed — install with `python3 -m pip install aider-chat`"), "{text}");
    let mut c = r.cmd();
    c.env("PATH", bare_path(&r, Some(&bin))).args(["doctor", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&c.output().unwrap().stdout).unwrap();
    let agents = json["agents"].as_array().unwrap();
    assert_eq!(agents.len(), 7);
    assert_eq!(agents[0]["preset"], "claude");
    assert_eq!(agents[0]["version"], "fake claude");
    assert!(agents[1]["path"].is_null());
    assert!(agents[0]["uses"].as_str().unwrap().starts_with("Anthropic's API"), "{json}");
    // What the CLI would use: lanes.yaml's `agents.claude.env` over the environment, key names only.
    r.write("lanes.yaml", "worker: sh fake-worker.sh\nagents:\n  claude:\n    env: {ANTHROPIC_BASE_URL: 'http://127.0.0.1:9/'}\n");
    let mut c = r.cmd();
    c.env("PATH", bare_path(&r, Some(&bin))).env("ANTHROPIC_API_KEY", "sk-ant-api03-abcdefabcdefabcdefabcdef").arg("doctor");
    let text = String::from_utf8_lossy(&c.output().unwrap().stdout).into_owned();
    assert!(text.contains("uses: http://127.0.0.1:9/ (from ANTHROPIC_BASE_URL); key from ANTHROPIC_API_KEY"), "{text}");
    assert!(!text.contains("abcdef"), "{text}");
}

#[test]
fn a_users_own_line_that_prints_error_looking_json_and_finishes_is_done() {
    let (r, bin) = repo_with_fakes();
    let line = r#"echo '{"error": {"type": "Error", "message": "a log line that looks like an agent error"}}'; sh fake-worker.sh"#;
    let out = run(&r, &bin, &[], &["--run-id", "U1", "--lane", "E", "--worker", line]);
    assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    assert_eq!(r.status_on_head("E-01"), "RESOLVED");
}

#[test]
fn claudes_second_attempt_resumes_the_session_of_its_first() {
    let r = RunRepo::bare();
    // Passes once the fix is there twice: the first attempt's fix alone is rejected.
    r.issue("E-01", &["src/E.txt"], "[ \"$(grep -c fixed-E-01 src/E.txt)\" -ge 2 ] && echo PASS || echo FAIL\n");
    r.finish_setup("");
    let bin = r.outside().join("bin");
    fs::create_dir_all(&bin).unwrap();
    fake(&bin, "claude");
    let out = run(&r, &bin, &[], &["--run-id", "C1", "--lane", "E", "--worker", "claude"]);
    assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    assert_eq!(r.status_on_head("E-01"), "RESOLVED");
    let args = fs::read_to_string(r.fake_dir().join("args-claude")).unwrap();
    let calls: Vec<&str> = args.lines().collect();
    assert_eq!(calls.len(), 2, "{args}");
    assert!(!calls[0].contains("--resume"), "{args}");
    // The session id the first attempt's result object named (tests/fixtures/agents/claude/success.stdout).
    assert!(calls[1].starts_with("-p --resume 9f1c2b7e-4c1d-4e55-9d0a-3b8f0c2d1e4f "), "{args}");
}

/// The worker line `run --dry-run --json --worker <cli>` shows for lane E.
fn dry_line(r: &RunRepo, bin: &Path, extra: &[&str]) -> String {
    let mut c = r.cmd();
    c.env("PATH", path_with(bin)).args(["run", "--dry-run", "--json", "--lane", "E"]).args(extra);
    let out = c.output().unwrap();
    let json: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    json["lanes"][0]["worker"].as_str().unwrap_or_default().to_owned()
}

#[test]
fn a_model_reaches_only_the_agent_it_was_written_for() {
    let (r, bin) = repo_with_fakes();
    // A plain name in lanes.yaml is for the preset lanes.yaml names as its worker.
    r.write("lanes.yaml", "worker: claude\nmodel: sonnet\n");
    assert!(dry_line(&r, &bin, &[]).contains("--model sonnet"));
    for cli in ["codex", "gemini", "qwen", "opencode", "copilot", "aider"] {
        let line = dry_line(&r, &bin, &["--worker", cli]);
        assert!(line.contains(cli) && !line.contains("--model"), "{cli}: {line}");
    }
    // A map gives each preset its own; `--model` overrides for one run.
    r.write("lanes.yaml", "worker: claude\nmodel: {claude: sonnet, codex: gpt-5.2}\n");
    assert!(dry_line(&r, &bin, &["--worker", "codex"]).contains("--model gpt-5.2"));
    assert!(!dry_line(&r, &bin, &["--worker", "gemini"]).contains("--model"));
    assert!(dry_line(&r, &bin, &["--worker", "gemini", "--model", "gemini-2.5-pro"]).contains("--model gemini-2.5-pro"));
    // A spec's map wins over lanes.yaml's for the presets it names.
    r.write(".claude/agents/issue-fixers/IF-Lane-E.md", "---\nname: IF-Lane-E\nmodel: {codex: o4-mini}\n---\nFix it.\n");
    assert!(dry_line(&r, &bin, &["--worker", "codex"]).contains("--model o4-mini"));
    assert!(dry_line(&r, &bin, &[]).contains("--model sonnet"));
    // A key that is no preset is refused, naming the file and the line.
    r.write("lanes.yaml", "worker: claude\nmodel:\n  claude: sonnet\n  claud: opus\n");
    r.git(&["add", "-A"]);
    r.git(&["commit", "-qm", "a typo"]);
    let out = run(&r, &bin, &[], &["--run-id", "K1", "--lane", "E"]);
    assert_eq!(out.code, Some(1), "{}\n{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("lanes.yaml:4") && out.stderr.contains("`claud` is not an agent preset"), "{}", out.stderr);
    assert!(out.stderr.contains("hint:"), "{}", out.stderr);
}

#[test]
fn tokens_and_a_cost_from_lanes_yaml_prices_reach_the_report_runs_and_json_and_env_reaches_only_its_preset() {
    let (r, bin) = repo_with_fakes();
    // (The fake agents write their markers outside the repository: sandboxed workers may.)
    r.write(
        "lanes.yaml",
        &format!(
            "worker: sh fake-worker.sh\nsandbox_writable: [\"{}\"]\nagents:\n  codex:\n    env: {{CODEX_GATEWAY_PROBE: via-codex}}\n    prices:\n      \"*\": {{input: 1.0, output: 10.0}}\n  claude:\n    env: {{CLAUDE_ONLY: yes}}\n",
            r.fake_dir().display()
        ),
    );
    r.git(&["commit", "-qam", "prices"]);
    let out = run(&r, &bin, &[], &["--run-id", "U1", "--lane", "E", "--worker", "codex", "--json"]);
    assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let lane = &json["lanes"][0];
    // The recorded codex run: 24 763 input and 122 output tokens, no cost of its own.
    assert_eq!(lane["input_tokens"], 24763, "{lane}");
    assert_eq!(lane["output_tokens"], 122, "{lane}");
    let cost = lane["cost_usd"].as_f64().unwrap();
    assert!((cost - (24763.0 + 1220.0) / 1e6).abs() < 1e-9, "{lane}");
    assert_eq!(lane["cost_estimated"], true, "{lane}");
    let report = r.report_cmd("U1");
    assert!(report.contains("- **Tokens:** 24763 in, 122 out"), "{report}");
    assert!(report.contains("estimated from lanes.yaml prices"), "{report}");
    let runs = r.cmd().args(["runs", "--json"]).output().unwrap();
    let runs: serde_json::Value = serde_json::from_slice(&runs.stdout).unwrap();
    let row = runs["runs"].as_array().unwrap().iter().find(|x| x["id"] == "U1").unwrap().clone();
    assert_eq!(row["tokens"], 24763 + 122, "{row}");
    assert!(row["cost_usd"].as_f64().is_some(), "{row}");
    let text = String::from_utf8(r.cmd().args(["runs"]).output().unwrap().stdout).unwrap();
    assert!(text.contains("tok"), "{text}");
    // `agents.<preset>.env` reaches that preset's worker only.
    let probe =
        "sh -c 'echo \"codex=${CODEX_GATEWAY_PROBE:-unset} claude=${CLAUDE_ONLY:-unset}\" > \"$FAKE_DIR/env-seen\"; git lanes signal done'";
    fs::write(bin.join("codex"), format!("#!/bin/sh\n{probe}\n")).unwrap();
    let out = run(&r, &bin, &[], &["--run-id", "U2", "--lane", "M", "--worker", "codex"]);
    assert_eq!(out.code, Some(3), "{}\n{}", out.stdout, out.stderr);
    assert_eq!(fs::read_to_string(r.fake_dir().join("env-seen")).unwrap().trim(), "codex=via-codex claude=unset");
}

#[test]
fn logs_ends_with_the_agents_reason_for_a_failed_lane() {
    let (r, bin) = repo_with_fakes();
    let env = [("FAKE_AGENT_CASE", "not-logged-in"), ("FAKE_UID", "0")];
    let out = run(&r, &bin, &env, &["--run-id", "G1", "--lane", "E", "--worker", "claude"]);
    assert_eq!(out.code, Some(3), "{}", out.stderr);
    let logs = r.cmd().args(["logs", "E", "--run", "G1"]).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&logs.stdout), String::from_utf8_lossy(&logs.stderr));
    assert!(text.contains("lane E failed: claude said: Not logged in · Please run /login"), "{text}");
    let json = r.cmd().args(["logs", "E", "--run", "G1", "--json"]).output().unwrap();
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(json["reason"], "Not logged in · Please run /login", "{json}");
}
