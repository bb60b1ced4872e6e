//! The Gemini CLI (`@google/gemini-cli`), checked against 0.61.0: its `--help` and the bundled
//! source (folder trust, `FatalError` exit codes, the JSON error shape).
//!
//! Line: `exec gemini --skip-trust --approval-mode yolo --output-format stream-json [--model M]
//! -p 'Carry out the task described above.' < "$LANES_PROMPT_FILE"`
//!
//! - `-p` forces non-interactive mode; its text is appended to what is read from stdin, which
//!   carries the prompt.
//! - `--skip-trust`: folder trust is on by default in the code, and a new lane worktree is not
//!   trusted, so headless mode either exits 55 ("not running in a trusted directory") or resets
//!   `--approval-mode yolo` to `default` ("Approval mode overridden to "default" because the
//!   current folder is not trusted"). The flag trusts the worktree for this session only.
//! - `--approval-mode yolo` approves tool calls (`--yolo` is the older spelling);
//!   `--output-format stream-json` prints one JSON event per message and tool call as they
//!   happen (so a working agent is seen working) and ends with `{"type": "result", "status",
//!   "stats": {"input_tokens", "output_tokens", "duration_ms", …}}`, with an `error` object
//!   when it failed; `json` prints one object with `response` and `stats` only at the end.
//!
//! Known failure shapes: fatal errors (authentication, turn limit, API) print
//! `{"session_id", "error": {"type", "message", "code"}}` on **stderr**, with no `stats`, and exit
//! with the code (41 authentication, 42 input, 44 sandbox, 52 config, 53 turn limit, 54 tool
//! execution, 55 untrusted folder). Gemini has no turn or budget flag (`maxSessionTurns` is a
//! setting) and reports no cost.

use serde_json::{Map, Value};

use super::agent::{Agent, LineParts, TRAILER, push_option, push_prompt_redirect};
use super::usage::{WorkerUsage, add, count, last_json_object, to_u32};

pub(super) const AGENT: Agent = Agent {
    name: "gemini",
    on_path: true,
    package: "@google/gemini-cli",
    install: "npm install -g @google/gemini-cli",
    checked_version: "0.61.0",
    flags: &["--skip-trust", "--approval-mode", "--output-format", "--model", "-p"],
    hidden_flags: &[],
    droppings: &[],
    home: &[".gemini"],
    keys: &["GEMINI_API_KEY"],
    max_turns_flag: None,
    max_budget_flag: None,
    reports_cost: false,
    line,
    parse,
    stuck: super::agent::never_stuck,
};

/// `FatalTurnLimitedError`'s exit code and `error.code`.
const TURN_LIMIT_CODE: u64 = 53;

fn line(p: &LineParts<'_>) -> String {
    let mut line = String::from("exec gemini --skip-trust --approval-mode yolo --output-format stream-json");
    push_option(&mut line, "--model", p.model);
    push_option(&mut line, "-p", Some(TRAILER));
    push_prompt_redirect(&mut line);
    line
}

/// The last JSON object with `stats` (the result) or an `error` object (the fatal-error shape,
/// printed on stderr); tokens and requests summed over models.
pub(super) fn parse(log: &str) -> Option<WorkerUsage> {
    let object = last_json_object(log, |object| {
        object.get("stats").is_some_and(Value::is_object) || object.get("error").is_some_and(Value::is_object)
    })?;
    Some(read_result(&object))
}

/// Reads a gemini-shaped result or error object (qwen prints the same error shape).
pub(super) fn read_result(object: &Map<String, Value>) -> WorkerUsage {
    let mut requests: Option<u64> = None;
    let mut input: Option<u64> = None;
    let mut output: Option<u64> = None;
    let stats = object.get("stats");
    if let Some(models) = stats.and_then(|s| s.get("models")).and_then(Value::as_object) {
        for model in models.values() {
            let api = model.get("api");
            let tokens = model.get("tokens");
            add(&mut requests, api.and_then(|a| a.get("totalRequests")).and_then(count));
            add(&mut input, tokens.and_then(|t| t.get("prompt")).and_then(count));
            add(&mut output, tokens.and_then(|t| t.get("candidates")).and_then(count));
        }
    }
    // Flat counters, as in the stream-json `result` event and older releases.
    let flat = |keys: [&str; 2]| keys.iter().find_map(|k| stats.and_then(|s| s.get(*k)).and_then(count));
    let input = input.or_else(|| flat(["input_tokens", "inputTokens"]));
    let output = output.or_else(|| flat(["output_tokens", "outputTokens"]));
    let error = object.get("error").filter(|e| !e.is_null());
    let kind = error.and_then(|e| e.get("type")).and_then(Value::as_str).map(str::to_owned);
    let code = error.and_then(|e| e.get("code")).and_then(count);
    let turn_limit = code == Some(TURN_LIMIT_CODE) || kind.as_deref() == Some("FatalTurnLimitedError");
    let reason = error.map(|_| {
        let message = super::usage::error_message(object).unwrap_or_else(|| kind.clone().unwrap_or_else(|| "error".into()));
        if turn_limit { format!("turn limit reached: {message}") } else { message }
    });
    WorkerUsage {
        cost_usd: None,
        turns: requests.and_then(to_u32),
        duration_ms: stats.and_then(|s| s.get("duration_ms")).and_then(count),
        is_error: Some(error.is_some()),
        input_tokens: input,
        output_tokens: output,
        outcome: kind,
        reason: reason.map(|r| super::usage::clip(&r)),
        limit: turn_limit.then(|| "turns".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use crate::agents::presets::fixtures::fixture_log;
    use crate::agents::presets::gemini::*;

    #[test]
    fn stderr_error_without_stats_is_recorded() {
        for case in ["no-auth", "untrusted"] {
            let usage = parse(&fixture_log(&AGENT, case)).unwrap();
            assert_eq!(usage.is_error, Some(true), "{case}");
            assert!(usage.reason.as_deref().unwrap().starts_with("Please set an Auth method"), "{case}");
            assert_eq!(usage.turns, None);
        }
    }

    #[test]
    fn turn_limit_is_named() {
        let usage = parse(&fixture_log(&AGENT, "max-turns")).unwrap();
        assert_eq!(usage.limit.as_deref(), Some("turns"));
        assert!(usage.reason.unwrap().starts_with("turn limit reached: Reached max session turns"));
    }

    #[test]
    fn pretty_result_is_read() {
        let usage = parse(&fixture_log(&AGENT, "success")).unwrap();
        assert_eq!(usage.turns, Some(5));
        assert_eq!(usage.is_error, Some(false));
        assert_eq!(usage.input_tokens, Some(25939));
        assert_eq!(usage.output_tokens, Some(640));
        assert_eq!(usage.reason, None);
    }

    #[test]
    fn offline_with_a_key_has_no_result_yet() {
        // It retries with backoff and prints stack traces, no JSON, until it gives up.
        assert_eq!(parse(&fixture_log(&AGENT, "api-key-offline")), None);
    }
}
