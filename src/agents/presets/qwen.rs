//! Qwen Code (`@qwen-code/qwen-code`), checked against 0.15.10: its `--help` and the bundled
//! source (`buildResultMessage`, `handleMaxTurnsExceededError`, the stdin handling).
//!
//! Line: `exec qwen --approval-mode yolo --output-format stream-json [--model M]
//! [--max-session-turns N] -p 'Carry out the task described above.' < "$LANES_PROMPT_FILE"`
//!
//! - `-p` runs headless; stdin, when it is not a terminal, is read and put before its text. (The
//!   help calls `-p` deprecated in favour of a positional prompt; it is still accepted, and the
//!   opt-in real-CLI test notices when it goes.)
//! - `--approval-mode yolo` approves every tool call. Folder trust is off by default in this
//!   CLI (`security.folderTrust.enabled`), so no trust flag is needed.
//! - `--output-format stream-json` prints one JSON message per line as they happen, ending with
//!   a `{"type":"result", "is_error", "num_turns", "usage", "stats"}` object (`json` prints the
//!   same messages as one array, only at the end; both are read).
//! - `--max-session-turns` is the turn limit; reaching it prints gemini's fatal-error shape
//!   (`FatalTurnLimitedError`, code 53) on stderr.
//!
//! Known failure shapes: no auth type prints a result with `"subtype":"error_during_execution"`
//! and `error.message`; an API that cannot be reached gives `"is_error":false` with
//! `"result":"[API Error: Connection error. ...]"` and exit 0 — an error all the same.

use serde_json::{Map, Value};

use super::agent::{Agent, LineParts, TRAILER, push_option, push_prompt_redirect};
use super::usage::{WorkerUsage, count, first_json_object, to_u32};

pub(super) const AGENT: Agent = Agent {
    name: "qwen",
    on_path: true,
    package: "@qwen-code/qwen-code",
    install: "npm install -g @qwen-code/qwen-code",
    checked_version: "0.15.10",
    flags: &["--approval-mode", "--output-format", "--model", "--max-session-turns", "-p"],
    hidden_flags: &[],
    droppings: &[],
    home: &[".qwen"],
    keys: &["OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_MODEL"],
    max_turns_flag: Some("--max-session-turns"),
    max_budget_flag: None,
    reports_cost: false,
    line,
    parse,
    stuck: super::agent::never_stuck,
};

fn line(p: &LineParts<'_>) -> String {
    let mut line = String::from("exec qwen --approval-mode yolo --output-format stream-json");
    push_option(&mut line, "--model", p.model);
    push_option(&mut line, "--max-session-turns", p.turns().as_deref());
    push_option(&mut line, "-p", Some(TRAILER));
    push_prompt_redirect(&mut line);
    line
}

/// The `result` message of the last JSON array (or object, for `stream-json`) in the log; else
/// the fatal-error object qwen shares with gemini.
pub(super) fn parse(log: &str) -> Option<WorkerUsage> {
    let fatal = super::usage::last_json_object(log, |o| o.get("error").is_some_and(Value::is_object) && o.get("type").is_none());
    let result = last_result(log);
    match (result, fatal) {
        (_, Some(error)) => Some(super::gemini::read_result(&error)),
        (Some(result), None) => {
            let mut usage = read(&result);
            if usage.reason.is_none() {
                // It says it succeeded: in a lane that failed, its last failed tool call says why.
                usage.reason = super::claude::last_failed_tool(log);
            }
            Some(usage)
        }
        (None, None) => None,
    }
}

fn last_result(log: &str) -> Option<Map<String, Value>> {
    let is_result = |o: &Map<String, Value>| o.get("type").and_then(Value::as_str) == Some("result");
    for line in log.lines().rev() {
        let t = line.trim_start();
        if t.starts_with('[')
            && let Ok(Value::Array(items)) = serde_json::from_str::<Value>(t)
            && let Some(Value::Object(o)) = items.into_iter().rev().find(|v| v.as_object().is_some_and(is_result))
        {
            return Some(o);
        }
        if t.starts_with('{')
            && let Some(o) = first_json_object(t).filter(is_result)
        {
            return Some(o);
        }
    }
    None
}

fn read(result: &Map<String, Value>) -> WorkerUsage {
    let text = result.get("result").and_then(Value::as_str).unwrap_or("");
    let api_error = text.trim_start().starts_with("[API Error");
    let said_error = result.get("is_error").and_then(Value::as_bool).unwrap_or(false);
    let usage = result.get("usage");
    let reason = if said_error {
        Some(
            super::usage::error_message(result)
                .unwrap_or_else(|| result.get("subtype").and_then(Value::as_str).unwrap_or("error").to_owned()),
        )
    } else if api_error {
        Some(text.trim().to_owned())
    } else {
        None
    };
    WorkerUsage {
        turns: result.get("num_turns").and_then(count).and_then(to_u32),
        duration_ms: result.get("duration_ms").and_then(count),
        is_error: Some(said_error || api_error),
        input_tokens: usage.and_then(|u| u.get("input_tokens")).and_then(count),
        output_tokens: usage.and_then(|u| u.get("output_tokens")).and_then(count),
        outcome: result.get("subtype").and_then(Value::as_str).map(str::to_owned),
        reason: reason.map(|r| super::usage::clip(&r)),
        ..WorkerUsage::default()
    }
}

#[cfg(test)]
mod tests {
    use crate::agents::presets::fixtures::fixture_log;
    use crate::agents::presets::qwen::*;

    #[test]
    fn no_auth_is_an_error_with_its_message() {
        let usage = parse(&fixture_log(&AGENT, "no-auth")).unwrap();
        assert_eq!(usage.is_error, Some(true));
        assert_eq!(usage.outcome.as_deref(), Some("error_during_execution"));
        assert!(usage.reason.unwrap().starts_with("No auth type is selected"));
    }

    #[test]
    fn api_error_reported_as_success_is_an_error() {
        let usage = parse(&fixture_log(&AGENT, "api-key-offline")).unwrap();
        assert_eq!(usage.is_error, Some(true));
        assert_eq!(usage.outcome.as_deref(), Some("success"));
        assert_eq!(usage.reason.as_deref(), Some("[API Error: Connection error. (cause: fetch failed)]"));
        assert_eq!(usage.turns, Some(1));
    }

    #[test]
    fn a_failed_shell_in_a_successful_run_is_the_reason() {
        // Recorded from qwen 0.15.10 in git-lanes' sandbox without pty access (ids shortened).
        let log = r#"{"type":"user","uuid":"b","session_id":"s","parent_tool_use_id":null,"message":{"role":"user","content":[{"type":"tool_result","tool_use_id":"call_0","is_error":true,"content":"forkpty(3) failed."}]}}
{"type":"result","subtype":"success","uuid":"4","session_id":"s","is_error":false,"duration_ms":21337,"num_turns":2,"result":"Done.","usage":{"input_tokens":2000,"output_tokens":100}}
"#;
        let usage = parse(log).unwrap();
        assert_eq!(usage.is_error, Some(false));
        assert_eq!(usage.reason.as_deref(), Some("its last failed tool call: forkpty(3) failed."));
        assert_eq!(usage.input_tokens, Some(2000));
    }

    #[test]
    fn turn_limit_is_named_and_success_is_read() {
        let usage = parse(&fixture_log(&AGENT, "max-turns")).unwrap();
        assert_eq!(usage.limit.as_deref(), Some("turns"));
        assert_eq!(usage.is_error, Some(true));
        let ok = parse(&fixture_log(&AGENT, "success")).unwrap();
        assert_eq!(ok.is_error, Some(false));
        assert_eq!(ok.turns, Some(4));
        assert_eq!(ok.reason, None);
    }
}
