//! Opt-in: the presets against the real agent CLIs installed on this machine
//! (`LANES_REAL_AGENTS=1 cargo test --test agents_real`; every CLI not on `PATH` is skipped and
//! named). For each installed CLI:
//! - its `--help` (and `codex exec --help`, `opencode run --help`) still lists every flag the
//!   preset passes, and a hidden flag (claude's `--max-turns`) is still accepted;
//! - `git lanes run --worker <preset>` in a fresh repository, with an empty `HOME` (no
//!   credentials), ends with the lane failed and the console naming the CLI's own reason — no
//!   flag, trust or root refusal — and nothing tracked left dirty.
//!
//! It needs no network, and works without it: the CLIs fail on authentication or on the
//! connection, which is what it checks.

mod common;
mod common_run;

use std::time::Duration;

use common_run::RunRepo;
use git_lanes::agents::presets::{Preset, find_program};

fn enabled() -> bool {
    std::env::var_os("LANES_REAL_AGENTS").is_some_and(|v| v == "1")
}

fn installed() -> Vec<Preset> {
    let path = std::env::var_os("PATH");
    Preset::ALL.into_iter().filter(|p| p.agent().program.is_some_and(|prog| find_program(prog, path.as_deref()).is_some())).collect()
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
    let out = common_run::wait_with_deadline(&mut child, Duration::from_secs(120)).unwrap_or_else(|| panic!("{program} {args:?} hangs"));
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
        let program = agent.program.unwrap();
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
