//! Opt-in: the presets against the real agent CLIs installed on this machine
//! (`LANES_REAL_AGENTS=1 cargo test --test it agents_real::`; every CLI not on `PATH` is skipped and
//! named; `LANES_REAL_ONLY=qwen,aider` keeps only those). For each installed CLI:
//! - its `--help` (and `codex exec --help`, `opencode run --help`) still lists every flag the
//!   preset passes, and a hidden flag (claude's `--max-turns`) is still accepted;
//! - `git lanes run --worker <preset>` in a fresh repository, with an empty `HOME` (no
//!   credentials), ends with the lane failed and the console naming the CLI's own reason — no
//!   flag, trust or root refusal — and nothing tracked left dirty.
//!
//! - against a scripted model endpoint (`tests/fixtures/endpoint.py`, loopback only, speaking
//!   the Anthropic Messages, OpenAI Chat Completions and Responses and Gemini APIs, streaming
//!   included; aider, which edits through its answer's text, gets SEARCH/REPLACE blocks), `git lanes run --worker <preset>` on the demo repository as shipped (its specs'
//!   `model:` maps included) resolves lane E's issues with `--no-sandbox-workers` and (where
//!   Landlock is) in the sandbox, the default, where the next two cases also run; a rejected key ends the lane within 60 s naming the CLI's own message;
//!   an API that accepts requests and never answers ends it within 90 s with `--stall-after 30s`,
//!   naming the stall.
//!
//! It needs no network, and works without it: the CLIs fail on authentication or on the
//! connection, or talk to the loopback endpoint, which is what it checks.

use std::time::Duration;

use crate::common_run::RunRepo;
use git_lanes::agents::presets::{Preset, find_program};

fn enabled() -> bool {
    std::env::var_os("LANES_REAL_AGENTS").is_some_and(|v| v == "1")
}

/// The presets whose CLI is on `PATH` (only those named in `LANES_REAL_ONLY=qwen,aider` when set).
fn installed() -> Vec<Preset> {
    let path = std::env::var_os("PATH");
    let only = std::env::var("LANES_REAL_ONLY").ok();
    Preset::ALL
        .into_iter()
        .filter(|p| only.as_deref().is_none_or(|o| o.split(',').any(|n| n.trim() == p.name())))
        .filter(|p| p.agent().program().is_some_and(|prog| find_program(prog, path.as_deref()).is_some()))
        .collect()
}

/// `program args…` with a deadline: (exit code, stdout + stderr).
fn output(program: &str, args: &[&str], home: &std::path::Path) -> (Option<i32>, String) {
    #[allow(clippy::disallowed_methods)] // the test runs the real CLI directly
    let mut child = std::process::Command::new(program)
        .args(args)
        .env("HOME", home)
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the CLI starts");
    let out =
        crate::common_run::wait_with_deadline(&mut child, Duration::from_secs(120)).unwrap_or_else(|| panic!("{program} {args:?} hangs"));
    (out.code, format!("{}{}", out.stdout, out.stderr))
}

#[test]
fn every_preset_flag_is_still_accepted_by_the_installed_cli() {
    if !enabled() {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let found = installed();
    assert!(!found.is_empty(), "no preset CLI is on PATH");
    for preset in found {
        let agent = preset.agent();
        let program = agent.program().unwrap();
        let mut help = output(program, &["--help"], home.path()).1;
        for sub in ["exec", "run"] {
            if agent.flags.first() == Some(&sub) {
                help.push_str(&output(program, &[sub, "--help"], home.path()).1);
            }
        }
        for flag in agent.flags {
            let listed = help.split(|c: char| c.is_whitespace() || c == ',' || c == '[' || c == ']' || c == '=').any(|w| w == *flag);
            assert!(listed, "{program}: the preset passes `{flag}`, which its --help no longer lists");
        }
        for flag in agent.hidden_flags {
            let (code, text) = output(program, &[flag, "1", "--version"], home.path());
            assert_eq!(code, Some(0), "{program}: hidden flag `{flag}` is no longer accepted: {text}");
        }
        let (_, version) = output(program, &["--version"], home.path());
        eprintln!("{program}: {} (preset checked with {})", version.lines().next().unwrap_or("?"), agent.checked_version);
    }
}

#[test]
fn each_installed_cli_fails_offline_with_its_own_reason_and_leaves_nothing_dirty() {
    if !enabled() {
        return;
    }
    let found = installed();
    for preset in Preset::ALL.into_iter().filter(|p| *p != Preset::Script && !found.contains(p)) {
        eprintln!("skipped {preset}: not installed");
    }
    for (n, preset) in found.into_iter().enumerate() {
        let r = RunRepo::standard();
        let id = format!("REAL{n}");
        let out = r.run(&id, &[], &["--lane", "E", "--worker", preset.name(), "--timeout", "300s"]);
        let console = &out.stderr;
        eprintln!("--- {preset} ({:.0?})\n{console}", out.took);
        assert_eq!(out.code, Some(3), "{preset}: exit\n{console}");
        assert!(console.contains("lane E: failed") || console.contains("lane E: timed out"), "{preset}: {console}");
        assert!(console.contains(&format!("{preset} said: ")), "{preset}: the CLI's own reason is not named: {console}");
        for refusal in
            ["root/sudo privileges", "not running in a trusted directory", "unknown option", "unexpected argument", "Unknown argument"]
        {
            assert!(!console.contains(refusal), "{preset}: `{refusal}`: {console}");
        }
        let dirty = r.git(&["status", "--porcelain", "--untracked-files=no"]);
        assert!(dirty.trim().is_empty(), "{preset}: tracked files left dirty: {dirty}");
    }
}

/// The scripted endpoint, started on a free loopback port; killed when dropped.
struct Endpoint {
    child: std::process::Child,
    url: String,
    log: std::path::PathBuf,
}

impl Endpoint {
    fn start(dir: &std::path::Path, mode: &str, reply: Option<&str>) -> Endpoint {
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/endpoint.py");
        let port_file = dir.join("endpoint.port");
        let log = dir.join("endpoint.log");
        #[allow(clippy::disallowed_methods)] // the test's own server, not a worker
        let child = std::process::Command::new("python3")
            .arg(&script)
            .arg(&port_file)
            .env("SCRIPTED_MODE", mode)
            .env("SCRIPTED_LOG", &log)
            .env("SCRIPTED_COMMAND", SCRIPTED_COMMAND)
            .envs(reply.map(|r| ("SCRIPTED_REPLY", r)))
            .stdin(std::process::Stdio::null())
            .spawn()
            .expect("python3 runs the endpoint");
        assert!(crate::common_run::wait_until(Duration::from_secs(10), || port_file.is_file()), "the endpoint did not start");
        let port = std::fs::read_to_string(&port_file).unwrap();
        Endpoint { child, url: format!("http://127.0.0.1:{}", port.trim()), log }
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the scripted model has the agent run: the demo's own fixes (its example worker, with its
/// signals sent elsewhere), then `git lanes signal` from the agent's shell.
const SCRIPTED_COMMAND: &str = "mkdir -p \"${TMPDIR:-/tmp}/scripted-$LANES_LANE\" && LANES_SIGNAL_DIR=\"${TMPDIR:-/tmp}/scripted-$LANES_LANE\" sh examples/demo/worker.sh && git lanes signal status \"COMPLETE: scripted\" && git lanes signal done";

/// What the scripted model answers aider, which edits through SEARCH/REPLACE blocks in its
/// answer and runs no shell command (its preset's line signals done once it exits 0): the demo's
/// E-01 and E-02 fixes.
const AIDER_REPLY: &str = "examples/demo/config/retention.yaml
```yaml
<<<<<<< SEARCH
tickets:
  open_ticket_days: unlimited
=======
tickets:
  closed_ticket_days: 365
  open_ticket_days: unlimited
>>>>>>> REPLACE
```

examples/demo/config/privacy-notice.md
```markdown
<<<<<<< SEARCH
Data is processed only to answer requests and is never sold.
=======
Data is processed only to answer requests and is never sold.

## Data requests

Send access or deletion requests to privacy@example.com.
>>>>>>> REPLACE
```
";

/// The demo repository as `git lanes demo` writes it, committed.
fn demo_repo(dir: &std::path::Path) -> std::path::PathBuf {
    let root = dir.join("demo");
    git_lanes::files::example::write(&root).unwrap();
    for args in [
        &["init", "-q", "-b", "main"][..],
        &["config", "user.name", "Scripted"],
        &["config", "user.email", "scripted@example.invalid"],
        &["add", "-A"],
        &["commit", "-qm", "demo"],
    ] {
        #[allow(clippy::disallowed_methods)]
        let ok = std::process::Command::new("git").args(args).current_dir(&root).status().unwrap().success();
        assert!(ok, "git {args:?}");
    }
    root
}

/// The variables (and files under `home`) that point `preset`'s CLI at `url` with a key.
fn point_at(preset: Preset, url: &str, home: &std::path::Path) -> Vec<(String, String)> {
    let v = |pairs: &[(&str, String)]| pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect::<Vec<_>>();
    let write = |rel: &str, text: String| {
        let p = home.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    match preset {
        Preset::Claude => v(&[
            ("ANTHROPIC_BASE_URL", url.to_owned()),
            ("ANTHROPIC_API_KEY", "sk-scripted".into()),
            ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1".into()),
        ]),
        Preset::Codex => {
            write(
                ".codex/config.toml",
                format!(
                    "model_provider = \"scripted\"\nmodel = \"scripted\"\n[model_providers.scripted]\nname = \"scripted\"\nbase_url = \"{url}/v1\"\nwire_api = \"responses\"\nenv_key = \"SCRIPTED_KEY\"\nsupports_websockets = false\n"
                ),
            );
            v(&[("SCRIPTED_KEY", "sk-scripted".into())])
        }
        Preset::Gemini => {
            write(".gemini/settings.json", r#"{"security":{"auth":{"selectedType":"gemini-api-key"}}}"#.into());
            v(&[("GOOGLE_GEMINI_BASE_URL", url.to_owned()), ("GEMINI_API_KEY", "scripted".into())])
        }
        Preset::Qwen => {
            write(".qwen/settings.json", r#"{"security":{"auth":{"selectedType":"openai"}}}"#.into());
            v(&[("OPENAI_BASE_URL", format!("{url}/v1")), ("OPENAI_API_KEY", "sk-scripted".into()), ("OPENAI_MODEL", "scripted".into())])
        }
        Preset::Copilot => v(&[
            ("COPILOT_PROVIDER_BASE_URL", format!("{url}/v1")),
            ("COPILOT_PROVIDER_TYPE", "openai".into()),
            ("COPILOT_PROVIDER_API_KEY", "sk-scripted".into()),
            ("COPILOT_MODEL", "scripted".into()),
            ("COPILOT_OFFLINE", "true".into()),
        ]),
        Preset::Opencode => {
            write(
                ".config/opencode/opencode.json",
                format!(
                    r#"{{"model":"scripted/scripted","provider":{{"scripted":{{"npm":"@ai-sdk/openai-compatible","name":"scripted","options":{{"baseURL":"{url}/v1","apiKey":"sk-scripted"}},"models":{{"scripted":{{"name":"scripted"}}}}}}}}}}"#
                ),
            );
            Vec::new()
        }
        // No `model:` for aider in the demo's specs: its own variables name the model (through
        // litellm's OpenAI-compatible route) and the SEARCH/REPLACE edit format the reply uses;
        // litellm's price list is read from its package, not fetched.
        Preset::Aider => v(&[
            ("OPENAI_API_BASE", format!("{url}/v1")),
            ("OPENAI_API_KEY", "sk-scripted".into()),
            ("AIDER_MODEL", "openai/scripted".into()),
            ("AIDER_EDIT_FORMAT", "diff".into()),
            ("LITELLM_LOCAL_MODEL_COST_MAP", "True".into()),
        ]),
        Preset::Script => Vec::new(),
    }
}

struct Scripted {
    code: Option<i32>,
    console: String,
    took: Duration,
}

/// `git lanes run --lane E --worker <preset> <args>` on a fresh demo repository, the CLI pointed
/// at a scripted endpoint in `mode`.
fn run_scripted(preset: Preset, mode: &str, args: &[&str]) -> Scripted {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.keep();
    let home = dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let root = demo_repo(&dir);
    let endpoint = Endpoint::start(&dir, mode, (preset == Preset::Aider).then_some(AIDER_REPLY));
    #[allow(clippy::disallowed_methods)] // a child the test waits for with a deadline
    let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("git-lanes"));
    c.current_dir(&root)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &home)
        .env("NO_COLOR", "1")
        .env("TMPDIR", &dir)
        .envs(point_at(preset, &endpoint.url, &home))
        .args(["run", "--lane", "E", "--worker", preset.name(), "--timeout", "240s"])
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = c.spawn().expect("git-lanes starts");
    let started = std::time::Instant::now();
    let out = crate::common_run::wait_with_deadline(&mut child, Duration::from_secs(300))
        .unwrap_or_else(|| panic!("{preset} {mode}: the run hangs"));
    let took = started.elapsed();
    let console = format!("{}{}", out.stdout, out.stderr);
    eprintln!("--- {preset} {mode} {args:?} ({took:.0?}); endpoint log {}\n{console}", endpoint.log.display());
    Scripted { code: out.code, console, took }
}

#[test]
fn each_installed_cli_resolves_the_demo_against_a_scripted_endpoint_in_and_out_of_the_sandbox() {
    if !enabled() {
        return;
    }
    let sandbox = git_lanes::exec::sandbox::status().is_enforced();
    if !sandbox {
        eprintln!("the sandbox runs are skipped: Landlock is not available here");
    }
    let mut failed = Vec::new();
    for preset in installed() {
        // Workers run in the sandbox by default; `--no-sandbox-workers` is the run outside it.
        for extra in [&["--no-sandbox-workers"][..], &["--sandbox-workers"][..]] {
            if extra == ["--sandbox-workers"] && !sandbox {
                continue;
            }
            let out = run_scripted(preset, "work", extra);
            let resolved = out.code == Some(0) && out.console.contains("E-01 RESOLVED") && out.console.contains("E-02 RESOLVED");
            if !resolved {
                failed.push(format!("{preset} {extra:?}: {}", out.console));
            }
        }
    }
    assert!(failed.is_empty(), "not resolved:\n{}", failed.join("\n"));
}

#[test]
fn a_rejected_key_ends_each_lane_within_a_minute_naming_the_clis_own_message() {
    if !enabled() {
        return;
    }
    for preset in installed() {
        let out = run_scripted(preset, "reject", &[]);
        assert_eq!(out.code, Some(3), "{preset}: {}", out.console);
        assert!(out.took < Duration::from_secs(60), "{preset}: took {:?}: {}", out.took, out.console);
        assert!(out.console.contains(&format!("{preset} said: ")), "{preset}: {}", out.console);
        let named = ["401", "key rejected", "authentication", "Authentication"].iter().any(|w| out.console.contains(w));
        assert!(named, "{preset}: the rejection is not named: {}", out.console);
    }
}

#[test]
fn an_api_that_never_answers_ends_the_lane_at_stall_after_naming_the_stall() {
    if !enabled() {
        return;
    }
    for preset in installed() {
        let out = run_scripted(preset, "hang", &["--stall-after", "30s"]);
        assert_eq!(out.code, Some(3), "{preset}: {}", out.console);
        assert!(out.took < Duration::from_secs(90), "{preset}: took {:?}: {}", out.took, out.console);
        assert!(out.console.contains("stalled: no output, no signal and no change in its worktree for 30s"), "{preset}: {}", out.console);
    }
}
