//! The Codex CLI (`@openai/codex`), checked against 0.171.0 (`codex exec --help`).
//!
//! Line: `exec codex exec --json -c allow_login_shell=false --sandbox workspace-write --add-dir
//! "$LANES_SIGNAL_DIR" [--model M] - < "$LANES_PROMPT_FILE"`; in git-lanes' own sandbox
//! `--sandbox danger-full-access` instead of the last two.
//!
//! - `exec` is the non-interactive mode; `-` reads the prompt from stdin.
//! - `-c allow_login_shell=false`: codex otherwise runs each command as `bash -lc`, whose
//!   `/etc/profile` resets `PATH`, so `git lanes signal` fails with "git: 'lanes' is not a git
//!   command". With it codex runs `bash -c` and keeps the worker's environment.
//! - `--sandbox workspace-write` lets it edit the worktree (the default is read-only; the older
//!   `--full-auto` is gone). `--add-dir` makes the signal directory writable inside the sandbox,
//!   so `git lanes signal` works.
//! - In git-lanes' sandbox (Landlock) codex's own bubblewrap cannot start ("bwrap: setting up uid
//!   map: Permission denied") and every command would fail, so codex runs its commands without
//!   its own sandbox, `danger-full-access`, confined by the outer one.
//! - `--json` prints JSONL events; `turn.completed` carries token usage, `turn.failed` and
//!   `error` events carry messages. Codex has no turn or budget flag and reports no cost.
//!
//! Known failure shapes: inside its sandbox `git add` fails (a linked worktree's index lock lives
//! in the main `.git`), so the work order does not ask for commits: git-lanes commits what the
//! worker leaves. Offline it retries (`Reconnecting... 2/5`), then falls back to HTTPS and waits
//! for the network forever (`Reconnecting... waiting for network`): [`stuck`] ends that.

use serde_json::Value;

use super::agent::{Agent, LineParts, push_option, push_prompt_redirect};
use super::usage::{WorkerUsage, count, count_lines, json_lines};

pub(super) const AGENT: Agent = Agent {
    name: "codex",
    on_path: true,
    package: "@openai/codex",
    install: "npm install -g @openai/codex",
    checked_version: "0.171.0",
    flags: &["exec", "--json", "-c", "--sandbox", "--add-dir", "--model"],
    hidden_flags: &[],
    droppings: &[],
    home: &[".codex"],
    keys: &["OPENAI_API_KEY", "CODEX_API_KEY"],
    max_turns_flag: None,
    max_budget_flag: None,
    reports_cost: false,
    line,
    parse,
    stuck,
};

/// What codex prints, once per retry, when it has given up on its connection and waits.
const WAITING: &str = "Reconnecting... waiting for network";
/// How many such retries mean it will not recover on its own (about a minute of them).
const WAITING_LIMIT: usize = 3;

fn line(p: &LineParts<'_>) -> String {
    let mut line = String::from("exec codex exec --json -c allow_login_shell=false");
    if p.sandboxed {
        line.push_str(" --sandbox danger-full-access");
    } else {
        line.push_str(" --sandbox workspace-write --add-dir \"$");
        line.push_str(super::agent::ENV_SIGNAL_DIR);
        line.push('"');
    }
    push_option(&mut line, "--model", p.model);
    line.push_str(" -");
    push_prompt_redirect(&mut line);
    line
}

/// Every `turn.completed` / `turn.failed` JSONL event, token usage summed; top-level `error`
/// events decide the outcome only when no turn ended.
pub(super) fn parse(log: &str) -> Option<WorkerUsage> {
    let mut turns: u32 = 0;
    let mut input: u64 = 0;
    let mut output: u64 = 0;
    let mut last_failed = false;
    let mut outcome = None;
    let mut last_error = None;
    let mut failed_command = None;
    for event in json_lines(log) {
        match event.get("type").and_then(Value::as_str) {
            Some("item.completed") => failed_command = failed_command_of(&event).or(failed_command),
            Some("turn.completed") => {
                turns = turns.saturating_add(1);
                let usage = event.get("usage");
                input = input.saturating_add(usage.and_then(|u| u.get("input_tokens")).and_then(count).unwrap_or(0));
                output = output.saturating_add(usage.and_then(|u| u.get("output_tokens")).and_then(count).unwrap_or(0));
                last_failed = false;
                outcome = Some("completed".to_owned());
            }
            Some("turn.failed") => {
                turns = turns.saturating_add(1);
                last_failed = true;
                outcome = super::usage::error_message(&event).or_else(|| Some("failed".to_owned()));
            }
            // Includes passing ones ("Reconnecting... 1/5").
            Some("error") => {
                last_error = event.get("message").and_then(Value::as_str).map(str::to_owned).or_else(|| Some("error".to_owned()));
            }
            _ => {}
        }
    }
    if turns == 0 {
        let said = last_error.or_else(|| logged_error(log))?;
        return Some(WorkerUsage { outcome: Some(said.clone()), ..WorkerUsage::failed(describe(&said)) });
    }
    // A turn that ended well in a lane that failed (no `.done`): the command that failed last
    // says why (`git lanes signal done` not found, a check that would not pass).
    let reason = if last_failed { outcome.clone().map(|m| describe(&m)) } else { failed_command };
    Some(WorkerUsage {
        turns: Some(turns),
        is_error: Some(last_failed),
        input_tokens: Some(input),
        output_tokens: Some(output),
        reason: reason.map(|m| super::usage::clip(&m)),
        outcome,
        ..WorkerUsage::default()
    })
}

/// A `command_execution` item that failed: the command, its exit code and its output's last line.
fn failed_command_of(event: &serde_json::Map<String, Value>) -> Option<String> {
    let item = event.get("item")?;
    if item.get("type").and_then(Value::as_str) != Some("command_execution") {
        return None;
    }
    let code = item.get("exit_code").and_then(Value::as_i64);
    let failed = item.get("status").and_then(Value::as_str) == Some("failed") || code.is_some_and(|c| c != 0);
    if !failed {
        return None;
    }
    let command = item.get("command").and_then(Value::as_str).unwrap_or("a command");
    let output = item.get("aggregated_output").and_then(Value::as_str).and_then(|o| super::usage::last_meaningful_lines(o, 1));
    let code = code.map(|c| format!(" (exit {c})")).unwrap_or_default();
    Some(match output {
        Some(out) => format!("its last failed command, `{command}`{code}: {out}"),
        None => format!("its last failed command, `{command}`{code}"),
    })
}

/// The message of codex's last logged `ERROR` line (`<time> ERROR <module>: <message>`), for a
/// run that printed no error event.
fn logged_error(log: &str) -> Option<String> {
    let line = log.lines().rev().find(|l| l.split_whitespace().nth(1) == Some("ERROR"))?;
    let rest = line.split_once(" ERROR ")?.1;
    let message = rest.split_once(": ").map_or(rest, |(_, m)| m);
    Some(message.trim().to_owned())
}

fn describe(message: &str) -> String {
    if message.starts_with("Reconnecting...") { format!("cannot reach its API: {message}") } else { message.to_owned() }
}

fn stuck(log: &str) -> Option<String> {
    if count_lines(log, WAITING) < WAITING_LIMIT {
        return None;
    }
    let last = log.lines().rev().find(|l| l.contains(WAITING))?;
    let message =
        super::usage::first_json_object(&last[last.find('{')?..]).and_then(|e| e.get("message").and_then(Value::as_str).map(str::to_owned));
    Some(format!("cannot reach its API, waiting for the network: {}", message.unwrap_or_else(|| WAITING.to_owned())))
}

#[cfg(test)]
mod tests {
    use crate::agents::presets::codex::*;
    use crate::agents::presets::fixtures::fixture_log;

    #[test]
    fn offline_is_an_error_naming_the_network_and_is_stuck() {
        let log = fixture_log(&AGENT, "no-auth");
        let usage = parse(&log).unwrap();
        assert_eq!(usage.is_error, Some(true));
        let reason = usage.reason.unwrap();
        assert!(reason.starts_with("cannot reach its API: Reconnecting... waiting for network"), "{reason}");
        let why = stuck(&log).unwrap();
        assert!(why.starts_with("cannot reach its API, waiting for the network: Reconnecting..."), "{why}");
        // Early retries are not yet stuck.
        let early: String = log.lines().take(4).map(|l| format!("{l}\n")).collect();
        assert_eq!(stuck(&early), None);
    }

    #[test]
    fn usage_sums_turns_and_a_failed_turn_is_the_reason() {
        let log = fixture_log(&AGENT, "success");
        let usage = parse(&log).unwrap();
        assert_eq!(usage.turns, Some(1));
        assert_eq!(usage.is_error, Some(false));
        assert_eq!(usage.input_tokens, Some(24763));
        assert_eq!(usage.output_tokens, Some(122));
        assert_eq!(usage.reason, None);
        let two =
            format!("{log}{{\"type\":\"turn.started\"}}\n{{\"type\":\"turn.failed\",\"error\":{{\"message\":\"stream disconnected\"}}}}\n");
        let usage = parse(&two).unwrap();
        assert_eq!(usage.turns, Some(2));
        assert_eq!(usage.is_error, Some(true));
        assert_eq!(usage.reason.as_deref(), Some("stream disconnected"));
    }

    #[test]
    fn the_last_failed_command_is_the_reason_when_the_turn_ended_well() {
        let log = r#"{"type":"thread.started","thread_id":"t"}
{"type":"turn.started"}
{"type":"item.completed","item":{"id":"item_1","type":"command_execution","command":"bash -c 'python3 -m pytest -q'","aggregated_output":"1 passed\n","exit_code":0,"status":"completed"}}
{"type":"item.completed","item":{"id":"item_2","type":"command_execution","command":"bash -c 'git lanes signal done'","aggregated_output":"git: 'lanes' is not a git command. See 'git --help'.\n","exit_code":1,"status":"failed"}}
{"type":"turn.completed","usage":{"input_tokens":10,"cached_input_tokens":0,"output_tokens":5}}
"#;
        let usage = parse(&format!("2026-12-01T19:41:56Z WARN codex_core::config: ignoring an unknown key\n{log}")).unwrap();
        assert_eq!(usage.is_error, Some(false));
        assert_eq!(
            usage.reason.as_deref(),
            Some(
                "its last failed command, `bash -c 'git lanes signal done'` (exit 1): git: 'lanes' is not a git command. See 'git --help'."
            )
        );
    }

    #[test]
    fn a_logged_error_line_is_the_reason_when_no_event_says_one() {
        let stderr = std::fs::read_to_string(crate::agents::presets::fixtures::fixture_dir(&AGENT).join("api-key-offline.stderr")).unwrap();
        let usage = parse(&stderr).unwrap();
        assert_eq!(usage.is_error, Some(true));
        assert_eq!(usage.reason.as_deref(), Some("failed to connect to Responses WebSocket stage=Unknown"));
    }

    #[test]
    fn unauthorized_without_turns_is_an_error() {
        let log = fixture_log(&AGENT, "unauthorized");
        let usage = parse(&log).unwrap();
        assert_eq!(usage.is_error, Some(true));
        assert!(usage.reason.unwrap().contains("401 Unauthorized"));
        assert_eq!(parse("thread started\n"), None);
    }
}
