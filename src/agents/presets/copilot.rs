//! The GitHub Copilot CLI (`@github/copilot`), checked against 1.0.102 (`copilot --help`; the CLI
//! ships as a native binary, so its source could not be read).
//!
//! Line: `exec copilot --prompt="$(cat "$LANES_PROMPT_FILE")" --allow-all --no-ask-user
//! --no-color --output-format json [--model M]`, for a prompt up to 100 000 bytes; a longer one
//! is replaced by a sentence naming the prompt file, which the agent reads with its tools.
//!
//! - `--prompt` runs one prompt non-interactively and exits. The prompt is an argument, read from
//!   the file by the shell; the `=` form keeps a prompt that starts with `-` from being read as
//!   a flag. Linux refuses a single argument over 128 KiB ("Argument list too long"), hence the
//!   file for long ones.
//! - `--allow-all` allows every tool, path and URL without asking (as `--yolo`), so the agent
//!   can run checks and `git lanes signal`; `--no-ask-user` removes the tool that would ask a
//!   question nobody answers.
//! - `--no-color` keeps escape codes out of the log; `--output-format json` prints JSONL events.
//!
//! Known failure shapes: without a token it prints `Error: No authentication information
//! found.` on stderr and exits 1; a classic `ghp_` token in `GH_TOKEN` gives `Error: Classic
//! Personal Access Tokens (ghp_) are not supported by Copilot.` Copilot's limits are credits
//! (`--max-ai-credits`), not dollars or turns, so no limit is passed.

use serde_json::Value;

use super::agent::{Agent, LineParts, push_option};
use super::usage::{WorkerUsage, add, count, json_lines};

pub(super) const AGENT: Agent = Agent {
    name: "copilot",
    on_path: true,
    package: "@github/copilot",
    install: "npm install -g @github/copilot",
    checked_version: "1.0.102",
    flags: &["--prompt", "--allow-all", "--no-ask-user", "--no-color", "--output-format", "--model"],
    hidden_flags: &[],
    droppings: &[],
    home: &[".copilot", ".cache"],
    keys: &["COPILOT_GITHUB_TOKEN"],
    max_turns_flag: None,
    max_budget_flag: None,
    reports_cost: false,
    line,
    parse,
    stuck: super::agent::never_stuck,
};

/// The largest prompt passed as the argument itself (Linux refuses one argument over 128 KiB).
pub(super) const INLINE_MAX: u64 = 100_000;

fn line(p: &LineParts<'_>) -> String {
    let file = format!("\"${}\"", super::agent::ENV_PROMPT_FILE);
    let mut line = format!(
        "if [ \"$(wc -c < {file})\" -le {INLINE_MAX} ]; then set -- --prompt=\"$(cat {file})\"; \
         else set -- --prompt=\"{BY_FILE}\"; fi; exec copilot \"$@\" --allow-all --no-ask-user --no-color --output-format json"
    );
    push_option(&mut line, "--model", p.model);
    line
}

/// The prompt given instead of one too long for an argument: where to read it.
const BY_FILE: &str =
    "Your task is written in the file $LANES_PROMPT_FILE (too long to pass here): read all of it first, then carry it out.";

/// The first `Error:` line (and the line explaining it), else the last JSON event whose type
/// names an error (`session.error`, whose message is under `data`), with the tokens the
/// `assistant.usage` events reported.
pub(super) fn parse(log: &str) -> Option<WorkerUsage> {
    if let Some(reason) = super::usage::error_line(log) {
        return Some(WorkerUsage::failed(reason));
    }
    let mut input: Option<u64> = None;
    let mut output: Option<u64> = None;
    let mut error = None;
    let mut any = false;
    for event in json_lines(log) {
        let Some(kind) = event.get("type").and_then(Value::as_str) else { continue };
        any = true;
        let data = event.get("data").and_then(Value::as_object);
        if kind.contains("error") {
            error = super::usage::error_message(&event)
                .or_else(|| data.and_then(super::usage::error_message))
                .or_else(|| data.and_then(|d| d.get("message")).and_then(Value::as_str).map(str::to_owned))
                .or_else(|| event.get("message").and_then(Value::as_str).map(str::to_owned))
                .or_else(|| Some(kind.to_owned()));
        }
        if kind.ends_with("usage")
            && let Some(d) = data
        {
            let field = |keys: &[&str]| keys.iter().find_map(|k| d.get(*k)).and_then(count);
            add(&mut input, field(&["inputTokens", "input_tokens", "promptTokens"]));
            add(&mut output, field(&["outputTokens", "output_tokens", "completionTokens"]));
        }
    }
    if !any {
        return None;
    }
    if error.is_none() && input.is_none() && output.is_none() {
        return None;
    }
    Some(WorkerUsage {
        is_error: Some(error.is_some()),
        reason: error.map(|e| super::usage::clip(&e)),
        input_tokens: input,
        output_tokens: output,
        ..WorkerUsage::default()
    })
}

#[cfg(test)]
mod tests {
    use crate::agents::presets::copilot::*;
    use crate::agents::presets::fixtures::fixture_log;

    #[test]
    fn missing_authentication_is_the_reason() {
        let usage = parse(&fixture_log(&AGENT, "no-auth")).unwrap();
        assert_eq!(usage.is_error, Some(true));
        assert_eq!(
            usage.reason.as_deref(),
            Some(
                "No authentication information found. Copilot can be authenticated with GitHub using an OAuth Token or a Fine-Grained Personal Access Token."
            )
        );
        let classic = parse(&fixture_log(&AGENT, "token-offline")).unwrap();
        assert!(classic.reason.unwrap().starts_with("Classic Personal Access Tokens (ghp_) are not supported"));
        assert_eq!(parse("all good\n"), None);
    }

    #[test]
    fn a_session_error_event_is_the_reason_and_usage_events_are_summed() {
        let log = r#"{"type":"session.start","data":{"sessionId":"s1"}}
{"type":"assistant.usage","data":{"model":"gpt-5","inputTokens":1200,"outputTokens":80}}
{"type":"assistant.usage","data":{"model":"gpt-5","inputTokens":300,"outputTokens":20}}
{"type":"session.error","data":{"errorType":"authentication","message":"Authentication failed (Request ID: 1): 401 invalid api key"}}
"#;
        let usage = parse(log).unwrap();
        assert_eq!(usage.is_error, Some(true));
        assert_eq!(usage.reason.as_deref(), Some("Authentication failed (Request ID: 1): 401 invalid api key"));
        assert_eq!(usage.input_tokens, Some(1500));
        assert_eq!(usage.output_tokens, Some(100));
        let fine: String = log.lines().take(3).map(|l| format!("{l}\n")).collect();
        let usage = parse(&fine).unwrap();
        assert_eq!(usage.is_error, Some(false));
        assert_eq!(usage.reason, None);
    }
}
