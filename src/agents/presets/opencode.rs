//! opencode (`opencode-ai`), checked against 1.18.33: `opencode run --help` and the bundled source
//! of the `run` command (stdin handling, the `--format json` events, the exit status).
//!
//! Line: `OPENCODE_DISABLE_AUTOUPDATE=true OPENCODE_DISABLE_MODELS_FETCH=…
//! exec opencode run --format json --auto --print-logs --log-level WARN [--model M]
//! 'Carry out the task described above.' < "$LANES_PROMPT_FILE"`
//!
//! - The variables keep a headless worker from updating itself and from fetching the model list
//!   from models.dev at start (it uses the list it ships): without a route to it, that fetch alone
//!   took 20 s and a rejected key 60 to 80 s to end the run, against 16 s without it. Set
//!   `OPENCODE_DISABLE_MODELS_FETCH: "false"` under `agents: {opencode: {env: …}}` to fetch it.
//! - `run` is the headless mode; when stdin is not a terminal it is read and put before the
//!   message, so the prompt comes from the redirection.
//! - `--auto` approves every permission that is not explicitly denied (without it `run`
//!   rejects each request, and the agent could not run checks or `git lanes signal`).
//! - `--format json` prints one JSON event per line: `step_start`, `tool_use`, `text`,
//!   `step_finish` (with `part.cost` and `part.tokens`), `error` (with `error.data.message`);
//!   the exit status is 1 after an error.
//! - `--print-logs --log-level WARN` send its warnings and errors to stderr, i.e. into the lane's
//!   log: without them an offline opencode retries silently and the log stays empty.
//!
//! Known failure shapes: offline it logs `level=ERROR … message="stream error" …
//! error.error="AI_APICallError: Cannot connect to API: …"` for each retry, gives up after about
//! a minute with an `error` event (`Cannot connect to API: Unable to connect.`) and exits 1.
//! opencode has no turn or budget flag; its state lives under `~/.local/share/opencode`.

use serde_json::Value;

use super::agent::{Agent, LineParts, TRAILER, push_option, push_prompt_redirect};
use super::usage::{WorkerUsage, add, count, dollars, json_lines, to_u32};

pub(super) const AGENT: Agent = Agent {
    name: "opencode",
    on_path: true,
    package: "opencode-ai",
    install: "npm install -g opencode-ai",
    checked_version: "1.18.33",
    flags: &["run", "--format", "--auto", "--print-logs", "--log-level", "--model"],
    hidden_flags: &[],
    droppings: &[],
    home: &[".local/share/opencode", ".local/state/opencode", ".config/opencode", ".cache/opencode"],
    keys: &["ANTHROPIC_API_KEY", "OPENAI_API_KEY"],
    max_turns_flag: None,
    max_budget_flag: None,
    reports_cost: true,
    line,
    parse,
    stuck: super::agent::never_stuck,
};

fn line(p: &LineParts<'_>) -> String {
    let mut line = String::from(
        "OPENCODE_DISABLE_AUTOUPDATE=true OPENCODE_DISABLE_MODELS_FETCH=\"${OPENCODE_DISABLE_MODELS_FETCH:-true}\" \
         exec opencode run --format json --auto --print-logs --log-level WARN",
    );
    push_option(&mut line, "--model", p.model);
    line.push(' ');
    line.push_str(&super::agent::shell_quote(TRAILER));
    push_prompt_redirect(&mut line);
    line
}

/// `step_finish` events summed (cost, tokens, one turn each); the last `error` event, or else the
/// last logged `stream error`, is the reason.
pub(super) fn parse(log: &str) -> Option<WorkerUsage> {
    let mut steps: Option<u64> = None;
    let mut cost: Option<f64> = None;
    let mut input: Option<u64> = None;
    let mut output: Option<u64> = None;
    let mut error = None;
    for event in json_lines(log) {
        match event.get("type").and_then(Value::as_str) {
            Some("step_finish") => {
                let part = event.get("part");
                add(&mut steps, Some(1));
                if let Some(c) = part.and_then(|p| p.get("cost")).and_then(dollars) {
                    cost = Some(cost.unwrap_or(0.0) + c);
                }
                let tokens = part.and_then(|p| p.get("tokens"));
                add(&mut input, tokens.and_then(|t| t.get("input")).and_then(count));
                add(&mut input, tokens.and_then(|t| t.get("cache")).and_then(|c| c.get("read")).and_then(count));
                add(&mut output, tokens.and_then(|t| t.get("output")).and_then(count));
            }
            // Codex's `error` events carry a `message`, opencode's an `error` object.
            Some("error") if event.contains_key("error") => error = super::usage::error_message(&event).or_else(|| Some("error".into())),
            _ => {}
        }
    }
    let logged = last_stream_error(log);
    if steps.is_none() && error.is_none() {
        return logged.or_else(|| last_logged_error(log)).map(WorkerUsage::failed);
    }
    // A generic final error ("Unexpected server error") hides the cause logged just before it.
    let error = error.map(|e| match last_logged_error(log) {
        Some(cause) if is_generic(&e) && !e.contains(&cause) => format!("{e} (logged: {cause})"),
        _ => e,
    });
    let reason = error.or(if steps.is_none() { logged } else { None });
    Some(WorkerUsage {
        cost_usd: cost,
        turns: steps.and_then(to_u32),
        is_error: Some(reason.is_some()),
        input_tokens: input,
        output_tokens: output,
        reason: reason.map(|r| super::usage::clip(&r)),
        ..WorkerUsage::default()
    })
}

/// An error message that names no cause.
fn is_generic(message: &str) -> bool {
    let m = message.trim().to_ascii_lowercase();
    m.is_empty() || m == "error" || m.contains("unexpected server error") || m.contains("unknown error") || m == "unknownerror"
}

/// The cause of the last `level=ERROR` log line: its `error.error=`, `error.message=`, `error=`
/// or else `message=` value.
fn last_logged_error(log: &str) -> Option<String> {
    let line = log.lines().rev().find(|l| l.contains("level=ERROR"))?;
    ["error.error=", "error.message=", "error=", "message="].iter().find_map(|key| logged_value(line, key))
}

/// The value of ` key` in a logfmt line, quoted (`key="a b"`) or not (`key=word`).
fn logged_value(line: &str, key: &str) -> Option<String> {
    let at = line.match_indices(key).find(|(i, _)| *i == 0 || line.as_bytes()[i - 1] == b' ')?.0 + key.len();
    let rest = &line[at..];
    let value = match rest.strip_prefix('"') {
        Some(quoted) => {
            let mut out = String::new();
            let mut chars = quoted.chars();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => out.extend(chars.next()),
                    '"' => break,
                    c => out.push(c),
                }
            }
            out
        }
        None => rest.split_whitespace().next().unwrap_or("").to_owned(),
    };
    Some(value).filter(|v| !v.trim().is_empty())
}

/// The `error.error="…"` of the last `message="stream error"` log line.
fn last_stream_error(log: &str) -> Option<String> {
    let line = log.lines().rev().find(|l| l.contains("level=ERROR") && l.contains("message=\"stream error\""))?;
    let at = line.find("error.error=\"")? + "error.error=\"".len();
    let rest = &line[at..];
    let end = rest.find("\" ").or_else(|| rest.rfind('"')).unwrap_or(rest.len());
    Some(rest[..end].replace("\\\"", "\""))
}

#[cfg(test)]
mod tests {
    use crate::agents::presets::fixtures::fixture_log;
    use crate::agents::presets::opencode::*;

    #[test]
    fn offline_gives_up_with_an_error_event() {
        let log = fixture_log(&AGENT, "offline");
        let usage = parse(&log).unwrap();
        assert_eq!(usage.is_error, Some(true));
        assert_eq!(usage.reason.as_deref(), Some("Cannot connect to API: Unable to connect. Is the computer able to access the url?"));
        // Before the event, the logged stream errors say why.
        let retrying: String = log.lines().filter(|l| l.starts_with("timestamp=")).take(3).map(|l| format!("{l}\n")).collect();
        let usage = parse(&retrying).unwrap();
        assert!(usage.reason.unwrap().starts_with("AI_APICallError: Cannot connect to API"));
    }

    #[test]
    fn steps_are_summed_and_an_error_event_is_the_reason() {
        let usage = parse(&fixture_log(&AGENT, "success")).unwrap();
        assert_eq!(usage.turns, Some(2));
        assert_eq!(usage.is_error, Some(false));
        assert_eq!(usage.cost_usd, Some(0.0125 + 0.0031));
        assert_eq!(usage.input_tokens, Some(1200 + 300 + 1500));
        assert_eq!(usage.output_tokens, Some(210 + 40));
        let failed = parse(&fixture_log(&AGENT, "error-event")).unwrap();
        assert_eq!(failed.is_error, Some(true));
        assert_eq!(failed.reason.as_deref(), Some("Invalid API key."));
    }

    #[test]
    fn a_generic_final_error_gets_the_cause_logged_before_it() {
        let log = r#"timestamp=2026-12-01T19:43:40.040Z level=ERROR run=f6 message="failed to resolve model" error="ProviderModelNotFoundError: model \"sonnet\" not found for provider anthropic"
{"type":"error","timestamp":1,"sessionID":"s","error":{"name":"UnknownError","data":{"message":"Unexpected server error"}}}
"#;
        let usage = parse(log).unwrap();
        assert_eq!(usage.is_error, Some(true));
        assert_eq!(
            usage.reason.as_deref(),
            Some(r#"Unexpected server error (logged: ProviderModelNotFoundError: model "sonnet" not found for provider anthropic)"#)
        );
        // A specific final error is kept as it is.
        let offline = parse(&fixture_log(&AGENT, "offline")).unwrap();
        assert!(!offline.reason.unwrap().contains("logged:"));
    }
}
