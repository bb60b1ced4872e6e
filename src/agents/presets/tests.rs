//! Tests shared by every preset: the lines against a real shell, the recorded `--help` of each
//! CLI, resolution, the preflight and the reason extraction. Each agent's parser is tested in its
//! own file against the outputs recorded under `tests/fixtures/agents/<cli>/`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::agent::*;
use super::fixtures::{fixture_dir, fixture_log};
use super::preset::*;
use super::usage::*;
use super::worker::*;

fn ctx(model: Option<&str>, turns: Option<u32>, budget: Option<f64>) -> WorkerContext<'_> {
    WorkerContext {
        prompt_file: Path::new("/repo/.git/lanes/runs/r1/E/prompt.md"),
        work_order_file: Path::new("/repo/.git/lanes/runs/r1/E/work-order.yaml"),
        state_dir: Path::new("/repo/.git/lanes/runs/r1/E"),
        model,
        max_turns: turns,
        max_budget_usd: budget,
        lane: "E",
        sandboxed: false,
    }
}

/// Runs `sh -c` with the given environment and returns its stdout.
#[allow(clippy::disallowed_methods)]
fn run_sh(line: &str, env: &[(&str, &std::ffi::OsStr)]) -> String {
    let mut command = std::process::Command::new(SHELL);
    command.arg("-c").arg(line).stdin(std::process::Stdio::null()).env_remove("IS_SANDBOX");
    for (key, value) in env {
        command.env(key, value);
    }
    // A script this test just wrote can be "busy" for a moment: another test's child, forked
    // while the file was open for writing, holds that descriptor until it execs.
    let mut tries = 0;
    let out = loop {
        let out = command.output().expect("sh runs");
        if tries < 50 && !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("Text file busy") {
            tries += 1;
            std::thread::sleep(std::time::Duration::from_millis(20));
            continue;
        }
        break out;
    };
    assert!(out.status.success(), "sh -c {line:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn every_preset_flag_is_in_the_recorded_help_of_its_checked_version() {
    for preset in Preset::ALL.into_iter().filter(|p| *p != Preset::Script) {
        let agent = preset.agent();
        let mut help = std::fs::read_to_string(fixture_dir(agent).join("help.txt")).unwrap();
        for sub in ["exec-help.txt", "run-help.txt"] {
            help.push_str(&std::fs::read_to_string(fixture_dir(agent).join(sub)).unwrap_or_default());
        }
        for flag in agent.flags {
            let listed = help.split(|c: char| c.is_whitespace() || c == ',' || c == '[' || c == ']' || c == '=').any(|w| w == *flag);
            assert!(listed, "{}: `{flag}` is not in the recorded --help of {}", agent.name, agent.checked_version);
        }
        for flag in agent.hidden_flags {
            assert!(!agent.flags.contains(flag));
        }
        let line = preset_command(preset, &ctx(Some("m"), Some(3), Some(0.5)));
        assert!(line.contains(agent.program().unwrap()), "{line}");
        for flag in agent.max_turns_flag.iter().chain(agent.max_budget_flag.iter()) {
            assert!(line.contains(flag), "{}: {flag} not passed: {line}", agent.name);
        }
    }
}

#[test]
fn preset_lines_are_the_documented_ones() {
    let c = ctx(None, None, None);
    assert_eq!(
        preset_command(Preset::Claude, &c),
        "IS_SANDBOX=1 exec claude -p --output-format stream-json --verbose --dangerously-skip-permissions < \"$LANES_PROMPT_FILE\""
    );
    assert_eq!(
        preset_command(Preset::Codex, &c),
        "exec codex exec --json -c allow_login_shell=false --sandbox workspace-write --add-dir \"$LANES_SIGNAL_DIR\" - < \"$LANES_PROMPT_FILE\""
    );
    // In git-lanes' sandbox codex's bubblewrap cannot start: it relies on the outer sandbox.
    assert_eq!(
        preset_command(Preset::Codex, &WorkerContext { sandboxed: true, ..c }),
        "exec codex exec --json -c allow_login_shell=false --sandbox danger-full-access - < \"$LANES_PROMPT_FILE\""
    );
    assert_eq!(
        preset_command(Preset::Gemini, &c),
        "exec gemini --skip-trust --approval-mode yolo --output-format stream-json -p 'Carry out the task described above.' < \"$LANES_PROMPT_FILE\""
    );
    assert_eq!(
        preset_command(Preset::Qwen, &ctx(None, Some(7), None)),
        "exec qwen --approval-mode yolo --output-format stream-json --max-session-turns 7 -p 'Carry out the task described above.' < \"$LANES_PROMPT_FILE\""
    );
    assert_eq!(
        preset_command(Preset::Opencode, &c),
        "OPENCODE_DISABLE_AUTOUPDATE=true OPENCODE_DISABLE_MODELS_FETCH=\"${OPENCODE_DISABLE_MODELS_FETCH:-true}\" \
         exec opencode run --format json --auto --print-logs --log-level WARN 'Carry out the task described above.' < \"$LANES_PROMPT_FILE\""
    );
    let copilot = preset_command(Preset::Copilot, &c);
    assert!(copilot.contains("then set -- --prompt=\"$(cat \"$LANES_PROMPT_FILE\")\";"), "{copilot}");
    assert!(copilot.ends_with("exec copilot \"$@\" --allow-all --no-ask-user --no-color --output-format json"), "{copilot}");
    let aider = preset_command(Preset::Aider, &c);
    assert!(aider.starts_with("aider --message-file \"$LANES_PROMPT_FILE\" --yes-always --no-auto-commits --no-dirty-commits"), "{aider}");
    assert!(aider.contains("--no-detect-urls --disable-playwright"), "{aider}");
    assert!(aider.contains("--chat-history-file \"$LANES_STATE_DIR/aider.chat.history.md\""), "{aider}");
    assert!(aider.ends_with(" && exec git lanes signal done"), "{aider}");
    assert_eq!(preset_command(Preset::Script, &c), "exec \"${LANES_WORKER_SCRIPT:-./lanes-worker.sh}\"");
    let claude = preset_command(Preset::Claude, &ctx(Some("opus"), Some(5), Some(2.5)));
    assert!(claude.contains("--model opus --max-turns 5 --max-budget-usd 2.5 <"), "{claude}");
    // A model with shell characters is quoted; a blank one is left out.
    assert!(preset_command(Preset::Claude, &ctx(Some("x'; rm -rf ~"), None, None)).contains("--model 'x'\\''; rm -rf ~'"));
    assert!(!preset_command(Preset::Gemini, &ctx(Some("  "), None, None)).contains("--model"));
}

#[test]
fn every_preset_line_is_valid_sh() {
    for preset in Preset::ALL {
        let line = preset_command(preset, &ctx(Some("a b'c"), Some(3), Some(0.75)));
        run_sh(&format!("sh -n -c {}", shell_quote(&line)), &[]);
    }
}

/// Runs each preset line against fake agents that print their arguments and stdin, so the
/// quoting, the environment and the prompt delivery are checked by a real shell.
#[test]
fn preset_lines_deliver_arguments_and_prompt() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let echo = "#!/bin/sh\nprintf 'sandbox=%s\\n' \"${IS_SANDBOX:-}\"\nfor a in \"$@\"; do printf '[%s]' \"$a\"; done\necho\ncat\n";
    for agent in Preset::ALL.into_iter().filter_map(|p| p.agent().program()).chain(["git"]) {
        let path = bin.join(agent);
        std::fs::write(&path, echo).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let prompt: PathBuf = dir.path().join("prompt with 'quote'.md");
    std::fs::write(&prompt, "-Fix E-01.\n").unwrap();
    let path = format!("{}:/usr/bin:/bin", bin.display());
    let context = WorkerContext { prompt_file: &prompt, ..ctx(Some("my model"), Some(4), Some(1.5)) };
    let mut env: Vec<(&str, OsString)> = context.env();
    env.push(("PATH", OsString::from(&path)));
    env.push((ENV_SIGNAL_DIR, OsString::from("/tmp/signals dir")));
    let env: Vec<(&str, &std::ffi::OsStr)> = env.iter().map(|(k, v)| (*k, v.as_os_str())).collect();

    let out = run_sh(&preset_command(Preset::Claude, &context), &env);
    assert_eq!(
        out,
        "sandbox=1\n[-p][--output-format][stream-json][--verbose][--dangerously-skip-permissions][--model][my model]\
         [--max-turns][4][--max-budget-usd][1.5]\n-Fix E-01.\n"
    );
    let out = run_sh(&preset_command(Preset::Codex, &context), &env);
    assert_eq!(
        out,
        "sandbox=\n[exec][--json][-c][allow_login_shell=false][--sandbox][workspace-write][--add-dir][/tmp/signals dir][--model][my model][-]\n-Fix E-01.\n"
    );
    let out = run_sh(&preset_command(Preset::Aider, &context), &env);
    assert!(out.contains(&format!("[--message-file][{}][--yes-always]", prompt.display())), "{out}");
    assert!(out.contains("[--chat-history-file][/repo/.git/lanes/runs/r1/E/aider.chat.history.md]"), "{out}");
    // After aider exits 0, the line signals `.done` itself (aider cannot run shell commands).
    assert!(out.ends_with("[lanes][signal][done]\n"), "{out}");
    let out = run_sh(&preset_command(Preset::Gemini, &context), &env);
    assert!(out.ends_with("[-p][Carry out the task described above.]\n-Fix E-01.\n"), "{out}");
    let out = run_sh(&preset_command(Preset::Qwen, &context), &env);
    assert!(out.contains("[--max-session-turns][4][-p]"), "{out}");
    let out = run_sh(&preset_command(Preset::Opencode, &context), &env);
    assert!(out.ends_with("[Carry out the task described above.]\n-Fix E-01.\n"), "{out}");
    let out = run_sh(&preset_command(Preset::Copilot, &context), &env);
    assert!(out.starts_with("sandbox=\n[--prompt=-Fix E-01.][--allow-all]"), "{out}");
}

/// Every preset gets a prompt of any size: the ones reading stdin or a file trivially, copilot
/// (whose prompt is an argument, refused by Linux over 128 KiB) by naming the file instead.
#[test]
fn a_prompt_over_the_argument_limit_reaches_every_preset() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    // Prints how many bytes of arguments and of stdin it got, and the prompt argument's start.
    let fake = "#!/bin/sh\nargs=0\nfor a in \"$@\"; do args=$((args + ${#a})); done\nprintf 'args=%s stdin=%s\\n' \"$args\" \"$(wc -c | tr -d ' ')\"\nfor a in \"$@\"; do case \"$a\" in --prompt=*) printf '%.60s\\n' \"$a\";; esac; done\n";
    for agent in Preset::ALL.into_iter().filter_map(|p| p.agent().program()).chain(["git"]) {
        let path = bin.join(agent);
        std::fs::write(&path, fake).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let prompt = dir.path().join("prompt.md");
    std::fs::write(&prompt, "x".repeat(300 * 1024)).unwrap();
    let context = WorkerContext { prompt_file: &prompt, ..ctx(None, None, None) };
    let mut env: Vec<(&str, OsString)> = context.env();
    env.push(("PATH", OsString::from(format!("{}:/usr/bin:/bin", bin.display()))));
    env.push((ENV_SIGNAL_DIR, OsString::from("/tmp/signals")));
    let env: Vec<(&str, &std::ffi::OsStr)> = env.iter().map(|(k, v)| (*k, v.as_os_str())).collect();
    for preset in Preset::ALL.into_iter().filter(|p| *p != Preset::Script) {
        let out = run_sh(&preset_command(preset, &context), &env);
        let got_it = out.contains(&format!("stdin={}", 300 * 1024)) || out.contains("--prompt=Your task is written in the file");
        assert!(got_it || preset == Preset::Aider, "{preset}: {out}");
    }
    // A prompt that fits is passed as it is.
    std::fs::write(&prompt, "small").unwrap();
    assert!(run_sh(&preset_command(Preset::Copilot, &context), &env).contains("--prompt=small"));
}

#[test]
fn resolve_expands_presets_and_keeps_command_lines() {
    let c = ctx(Some("sonnet"), None, None);
    let claude = resolve_worker(Preset::Claude.name(), &c).unwrap();
    assert_eq!(claude.preset, Preset::Claude);
    assert_eq!(claude.shell, preset_command(Preset::Claude, &c));
    assert_eq!(resolve_worker(" Gemini\n", &c).unwrap().preset, Preset::Gemini);
    assert_eq!(resolve_worker(Preset::Opencode.name(), &c).unwrap().preset, Preset::Opencode);
    let literal = "python3 tools/fix.py --lane \"$LANES_LANE\"";
    let own = resolve_worker(literal, &c).unwrap();
    assert_eq!(own.preset, Preset::Script);
    assert_eq!(own.shell, literal);
    assert_eq!(own.argv(), ["/bin/sh", "-c", literal]);
    // A preset name followed by arguments is a command line, kept as written.
    assert_eq!(resolve_worker("claude -p hi", &c).unwrap().shell, "claude -p hi");
    assert_eq!(lane_setting(None, Some(Preset::Codex.name()), Some(Preset::Claude.name())), Some(Preset::Codex.name()));
    assert_eq!(lane_setting(Some(Preset::Aider.name()), Some(Preset::Codex.name()), None), Some(Preset::Aider.name()));
}

#[test]
fn resolve_rejects_empty_commands_and_bad_limits() {
    assert_eq!(resolve_worker("  \n", &ctx(None, None, None)), Err(WorkerError::EmptyCommand { lane: "E".into() }));
    for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let err = resolve_worker(Preset::Claude.name(), &ctx(None, None, Some(bad))).unwrap_err();
        assert!(matches!(err, WorkerError::InvalidBudget { .. }), "{bad}");
    }
    assert_eq!(resolve_worker(Preset::Codex.name(), &ctx(None, Some(0), None)), Err(WorkerError::ZeroMaxTurns { lane: "E".into() }));
    assert_eq!(WorkerError::EmptyCommand { lane: "E".into() }.to_string(), "worker command for lane E is empty");
}

#[test]
fn env_lists_prompt_work_order_model_lane_and_state_dir() {
    let env = ctx(None, None, None).env();
    let names: Vec<&str> = env.iter().map(|(k, _)| *k).collect();
    assert_eq!(names, ["LANES_PROMPT_FILE", "LANES_WORK_ORDER", "LANES_MODEL", "LANES_LANE", "LANES_STATE_DIR"]);
    assert_eq!(env[2].1, OsString::new());
    assert_eq!(env[3].1, OsString::from("E"));
}

#[test]
fn preflight_names_the_missing_cli_and_its_install_command() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let path = OsString::from(bin.as_os_str());
    let c = ctx(None, None, None);
    let claude = resolve_worker(Preset::Claude.name(), &c).unwrap();
    let err = check_worker(&claude, "E", Some(&path), dir.path()).unwrap_err();
    assert_eq!(err.to_string(), "claude (the worker of lane E) is not installed: not found on PATH");
    assert_eq!(err.hint().unwrap(), "install it with `npm install -g @anthropic-ai/claude-code`, or pick another worker with `--worker`");
    let tool = bin.join(Preset::Claude.name());
    std::fs::write(&tool, "#!/bin/sh\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    // Not executable: still missing.
    assert!(check_worker(&claude, "E", Some(&path), dir.path()).is_err());
    std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(check_worker(&claude, "E", Some(&path), dir.path()), Ok(()));

    // A command line: its first program is looked up, shell syntax is left alone.
    let line = |l: &str| resolve_worker(l, &c).unwrap();
    let err = check_worker(&line("FOO=1 exec nosuchtool --x"), "M", Some(&path), dir.path()).unwrap_err();
    assert!(err.to_string().starts_with("nosuchtool (the worker of lane M) is not installed"), "{err}");
    let err = check_worker(&line("aider --model x"), "M", Some(&path), dir.path()).unwrap_err();
    assert!(err.hint().unwrap().contains("pip install aider-chat"));
    assert_eq!(check_worker(&line("claude -p hi"), "M", Some(&path), dir.path()), Ok(()));
    assert_eq!(check_worker(&line("cd sub && make"), "M", Some(&path), dir.path()), Ok(()));
    assert_eq!(check_worker(&line("\"$HOME/bin/x\""), "M", Some(&path), dir.path()), Ok(()));
    let err = check_worker(&line("./missing.sh"), "M", Some(&path), dir.path()).unwrap_err();
    assert!(err.to_string().contains("no such file"), "{err}");
    std::fs::write(dir.path().join("here.sh"), "").unwrap();
    assert_eq!(check_worker(&line("./here.sh --go"), "M", Some(&path), dir.path()), Ok(()));
    // An interpreter's script is looked for where the worker starts (its worktree, a checkout
    // of the repository), not where the command was typed.
    let sh = bin.join("sh");
    std::fs::write(&sh, "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(&sh, std::fs::Permissions::from_mode(0o755)).unwrap();
    let err = check_worker(&line("sh ../fix.sh"), "M", Some(&path), dir.path()).unwrap_err();
    assert!(err.to_string().contains("a worker starts in its lane worktree"), "{err}");
    assert!(err.hint().unwrap().contains("absolute path"), "{err:?}");
    assert_eq!(check_worker(&line("sh here.sh"), "M", Some(&path), dir.path()), Ok(()));
    assert_eq!(check_worker(&line(&format!("sh {}", dir.path().join("here.sh").display())), "M", Some(&path), dir.path()), Ok(()));
    assert_eq!(check_worker(&line("sh -c 'echo hi'"), "M", Some(&path), dir.path()), Ok(()));
    // The script preset needs its script.
    let script = resolve_worker(Preset::Script.name(), &c).unwrap();
    assert!(check_worker(&script, "E", Some(&path), dir.path()).is_err());
    std::fs::write(dir.path().join("lanes-worker.sh"), "").unwrap();
    assert_eq!(check_worker(&script, "E", Some(&path), dir.path()), Ok(()));
}

#[test]
fn first_program_skips_assignments_and_exec() {
    assert_eq!(first_program("exec claude -p").as_deref(), Some(Preset::Claude.name()));
    assert_eq!(first_program("A=1 B='x y' env sh worker.sh").as_deref(), Some("sh"));
    assert_eq!(first_program("'my tool' --x").as_deref(), Some("my tool"));
    assert_eq!(first_program("if true; then x; fi"), None);
    assert_eq!(first_program("$TOOL run"), None);
    assert_eq!(first_program("(cd a && b)"), None);
    assert_eq!(first_program(""), None);
    assert_eq!(first_program("'unclosed"), None);
}

#[test]
fn reasons_come_from_the_agent_or_the_last_meaningful_lines() {
    assert_eq!(
        failure_reason(Preset::Claude, &fixture_log(Preset::Claude.agent(), "not-logged-in")).as_deref(),
        Some("Not logged in · Please run /login")
    );
    let log = "starting\n\u{1b}[31mboom: disk full\u{1b}[0m\n    at f (x.js:1:2)\n{\"type\":\"x\"}\n\n[lanes] worker exited 1\n";
    assert_eq!(failure_reason(Preset::Script, log).as_deref(), Some("starting / boom: disk full"));
    assert_eq!(failure_reason(Preset::Script, "\n\n"), None);
    let long = "x".repeat(1000);
    assert_eq!(last_meaningful_lines(&long, 3).unwrap().chars().count(), 401);
    // Secrets in a reason are redacted.
    let leaked = "Error: bad key sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789\n";
    let reason = failure_reason(Preset::Copilot, leaked).unwrap();
    assert!(!reason.contains("abcdefghijklmnopqrstuvwxyz0123456789"), "{reason}");
}

#[test]
fn stuck_shapes_apply_to_own_command_lines_too() {
    assert!(stuck(Preset::Script, &fixture_log(Preset::Aider.agent(), "no-auth")).is_some());
    assert!(stuck(Preset::Codex, &fixture_log(Preset::Codex.agent(), "no-auth")).is_some());
    assert_eq!(stuck(Preset::Claude, &fixture_log(Preset::Codex.agent(), "no-auth")), None);
    assert_eq!(stuck(Preset::Script, "all fine\n"), None);
}

#[test]
fn script_tries_every_format() {
    assert_eq!(parse_usage(Preset::Script, &fixture_log(Preset::Claude.agent(), "success")).unwrap().cost_usd, Some(0.4231));
    assert_eq!(parse_usage(Preset::Script, &fixture_log(Preset::Aider.agent(), "success")).unwrap().cost_usd, Some(0.04));
    assert_eq!(parse_usage(Preset::Script, &fixture_log(Preset::Gemini.agent(), "success")).unwrap().turns, Some(5));
    assert_eq!(parse_usage(Preset::Script, &fixture_log(Preset::Codex.agent(), "success")).unwrap().turns, Some(1));
    assert_eq!(parse_usage(Preset::Script, &fixture_log(Preset::Qwen.agent(), "no-auth")).unwrap().is_error, Some(true));
    assert_eq!(parse_usage(Preset::Script, "STARTING\nCOMPLETE: 2 fixed\n"), None);
}

#[test]
fn droppings_are_collected_once() {
    let all = all_droppings();
    assert!(all.contains(&PathBuf::from(".aider.tags.cache.v4")));
    let mut dedup = all.clone();
    dedup.dedup();
    assert_eq!(all, dedup);
}

#[test]
fn garbage_never_panics() {
    let nasty = [
        "{",
        "{{{{{{{{",
        "}\n{\"type\":",
        "Cost: $",
        "Tokens: k sent, M received.",
        "Tokens: 1e400k sent, -5 received.",
        "Cost: $1.2.3 message, $4.5.6 session.",
        "Cost: $9e999 message, $9e999 session.",
        "{\"type\":\"result\",\"total_cost_usd\":-5,\"num_turns\":99999999999,\"duration_ms\":-1}",
        "{\"stats\":{\"models\":{\"m\":{\"api\":{\"totalRequests\":\"4\"},\"tokens\":null}}}}",
        "{\"type\":\"turn.completed\",\"usage\":{\"input_tokens\":18446744073709551615}}\n\
         {\"type\":\"turn.completed\",\"usage\":{\"input_tokens\":18446744073709551615}}",
        "[{\"type\":\"result\",\"is_error\":\"yes\"}]",
        "[1,2,{\"type\":\"result\"}",
        "level=ERROR message=\"stream error\" error.error=\"",
        "litellm.AuthenticationError",
        "Error:",
        "\u{0}\u{feff}ü{ü}\r\n{\"a\":1}\r\n",
    ];
    for text in nasty {
        for preset in Preset::ALL {
            let _ = parse_usage(preset, text);
            let _ = failure_reason(preset, text);
            let _ = stuck(preset, text);
        }
    }
    let odd = parse_usage(Preset::Claude, nasty[8]).unwrap();
    assert_eq!(odd.cost_usd, None);
    assert_eq!(odd.turns, None);
    assert_eq!(odd.duration_ms, None);
    let big = parse_usage(Preset::Codex, nasty[10]).unwrap();
    assert_eq!(big.input_tokens, Some(u64::MAX));
}

#[test]
fn usage_serialises_without_empty_fields() {
    let usage = WorkerUsage { cost_usd: Some(0.5), turns: Some(3), ..WorkerUsage::default() };
    let json = serde_json::to_string(&usage).unwrap();
    assert_eq!(json, r#"{"cost_usd":0.5,"turns":3}"#);
    assert_eq!(serde_json::from_str::<WorkerUsage>(&json).unwrap(), usage);
    assert_eq!(serde_json::to_string(&Preset::Opencode).unwrap(), "\"opencode\"");
}

#[test]
fn the_same_authentication_error_three_times_ends_the_lane_with_it() {
    let retry = |n: u32| {
        format!(
            "{{\"type\":\"system\",\"subtype\":\"api_retry\",\"attempt\":{n},\"error_status\":401,\"error\":{{\"message\":\"authentication_error: invalid x-api-key\"}}}}\n"
        )
    };
    let two = format!("{}{}", retry(1), retry(2));
    assert_eq!(stuck(Preset::Claude, &two), None, "two may still be a hiccup");
    let three = format!("{two}{}", retry(3));
    let why = stuck(Preset::Claude, &three).unwrap();
    assert_eq!(why, "the API refuses it, 3 times the same: authentication_error: invalid x-api-key (HTTP 401)");
    // Recorded from claude 2.1.197 against an endpoint that rejects the key (ids shortened): it
    // retries ten times over about three minutes.
    let claude: String = (1..=3)
        .map(|n| format!("{{\"type\":\"system\",\"subtype\":\"api_retry\",\"attempt\":{n},\"max_retries\":10,\"retry_delay_ms\":{}.89,\"error_status\":401,\"error\":\"authentication_failed\",\"session_id\":\"3c8f\",\"uuid\":\"{n}a{n}b-de{n}\"}}\n", 600 * n))
        .collect();
    assert_eq!(stuck(Preset::Claude, &claude).unwrap(), "the API refuses it, 3 times the same: authentication_failed (HTTP 401)");
    // Plain log lines too, whatever their timestamps.
    let plain: String =
        (1..=3).map(|n| format!("2026-12-0{n}T10:00:0{n}Z ERROR quota: insufficient_quota: You exceeded your current quota\n")).collect();
    assert!(stuck(Preset::Script, &plain).unwrap().contains("insufficient_quota"));
    // What the agent reads or runs (tool output events) is not its CLI being refused.
    let tool = "{\"type\":\"user\",\"message\":{\"content\":\"test auth: expected error 401 unauthorized\"}}\n".repeat(5);
    assert_eq!(stuck(Preset::Claude, &tool), None);
    // Different errors are not repeated ones.
    let mixed = "Error: 401 one\nError: 401 two\nError: 401 three\n";
    assert_eq!(stuck(Preset::Qwen, mixed), None);
}

/// The preset table in docs/guide.md ("Agent presets") has one row per preset, in any order: its
/// name, its package and checked version, and a command line whose program and flags are the
/// preset's own.
#[test]
fn the_guide_table_lists_every_preset_as_it_is() {
    let guide = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/guide.md")).unwrap();
    let section = guide.split("### Agent presets").nth(1).expect("docs/guide.md has a section `### Agent presets`");
    let rows: Vec<Vec<&str>> = section
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .map(|l| l.trim_matches('|').split(" | ").map(str::trim).collect())
        .collect();
    let mut named: Vec<&str> = rows.iter().map(|r| r[0].trim_matches('`')).collect();
    named.sort_unstable();
    let mut names = Preset::NAMES.to_vec();
    names.sort_unstable();
    assert_eq!(named, names, "docs/guide.md's preset table names other presets than Preset::ALL");
    let full = WorkerContext { model: Some("M"), max_turns: Some(3), max_budget_usd: Some(1.5), ..ctx(None, None, None) };
    for row in &rows {
        let preset: Preset = row[0].trim_matches('`').parse().unwrap();
        let agent = preset.agent();
        let cli = match agent.program() {
            Some(_) => format!("`{}` {}", agent.package, agent.checked_version),
            None => "—".to_owned(),
        };
        assert_eq!(row[1], cli, "docs/guide.md: the CLI of {preset}");
        let line = preset_command(preset, &full);
        if let Some(program) = agent.program() {
            assert!(row[2].contains(&format!("exec {program} ")) || row[2].starts_with(&format!("`{program} ")), "{preset}: {}", row[2]);
        }
        for word in row[2].split_whitespace().filter_map(|w| w.trim_start_matches(['[', '`']).strip_prefix("--")) {
            let flag = format!("--{}", word.split(['=', ']', '`']).next().unwrap_or_default());
            assert!(line.contains(&flag), "docs/guide.md shows {flag} for {preset}, which its line does not pass: {line}");
        }
    }
}
