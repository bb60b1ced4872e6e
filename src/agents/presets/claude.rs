//! Claude Code (`@anthropic-ai/claude-code`), checked against 2.1.197: its `--help`, and the
//! bundled source for the hidden `--max-turns`, the root check and the result subtypes.
//!
//! Line: `IS_SANDBOX=1 exec claude -p --output-format stream-json --verbose
//! --dangerously-skip-permissions [--model M] [--max-turns N] [--max-budget-usd X]
//! < "$LANES_PROMPT_FILE"`
//!
//! - `-p` is print (headless) mode and reads the prompt from stdin when no prompt argument is
//!   given; `--output-format stream-json` (which needs `--verbose` in print mode) prints one
//!   JSON event per message as it happens, so a working agent is seen working, and ends with the
//!   result object (`total_cost_usd`, `num_turns`, `duration_ms`, `is_error`, `subtype`). With
//!   `json` nothing is printed until the end.
//! - `--dangerously-skip-permissions`: in print mode a tool that needs approval is denied, and a
//!   worker must run checks and `git lanes signal` (which writes outside the worktree).
//! - `IS_SANDBOX=1`: as root (every container, most CI and Kubernetes pods) the CLI refuses
//!   `--dangerously-skip-permissions` ("cannot be used with root/sudo privileges") unless this
//!   variable is `1`; a lane is already confined to its own worktree and branch.
//! - `--max-turns` exists though `--help` does not list it; `--max-budget-usd` is listed. The
//!   result's `subtype` is `error_max_turns` or `error_max_budget_usd` when one was hit.
//!
//! Known failure shapes: not logged in prints `"subtype":"success","is_error":true,
//! "result":"Not logged in · Please run /login"` and exits 1 (the outcome follows `is_error`);
//! the root refusal prints one line on stderr and no JSON.

use serde_json::Value;

use super::agent::{Agent, LineParts, push_option, push_prompt_redirect};
use super::usage::{WorkerUsage, count, dollars, last_json_object, sum_fields, to_u32};

pub(super) const AGENT: Agent = Agent {
    name: "claude",
    on_path: true,
    package: "@anthropic-ai/claude-code",
    install: "npm install -g @anthropic-ai/claude-code",
    checked_version: "2.1.197",
    flags: &["-p", "--output-format", "--verbose", "--dangerously-skip-permissions", "--model", "--max-budget-usd"],
    hidden_flags: &["--max-turns"],
    droppings: &[],
    home: &[".claude"],
    keys: &["ANTHROPIC_API_KEY"],
    max_turns_flag: Some("--max-turns"),
    max_budget_flag: Some("--max-budget-usd"),
    reports_cost: true,
    line,
    parse,
    stuck: super::agent::never_stuck,
};

/// The one line the CLI prints as root without `IS_SANDBOX=1`.
const ROOT_REFUSAL: &str = "cannot be used with root/sudo privileges";

fn line(p: &LineParts<'_>) -> String {
    let mut line = String::from("IS_SANDBOX=1 exec claude -p --output-format stream-json --verbose --dangerously-skip-permissions");
    push_option(&mut line, "--model", p.model);
    push_option(&mut line, "--max-turns", p.turns().as_deref());
    push_option(&mut line, "--max-budget-usd", p.budget().as_deref());
    push_prompt_redirect(&mut line);
    line
}

/// The last JSON object with `"type": "result"` (or `total_cost_usd`: older releases), as
/// printed by `--output-format json` and at the end of `stream-json`.
pub(super) fn parse(log: &str) -> Option<WorkerUsage> {
    let Some(result) = last_json_object(log, |object| {
        object.get("type").and_then(Value::as_str) == Some("result") || object.contains_key("total_cost_usd")
    }) else {
        return log
            .lines()
            .find(|l| l.contains(ROOT_REFUSAL))
            .map(|l| WorkerUsage::failed(format!("{} (run as root: set IS_SANDBOX=1 for claude)", l.trim())));
    };
    let usage = result.get("usage");
    let input = sum_fields(usage, &["input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"]);
    let subtype = result.get("subtype").and_then(Value::as_str).map(str::to_owned);
    let is_error = result.get("is_error").and_then(Value::as_bool);
    let limit = match subtype.as_deref() {
        Some("error_max_turns") => Some("turns"),
        Some("error_max_budget_usd") => Some("budget"),
        _ => None,
    };
    let errors: Vec<&str> =
        result.get("errors").and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    let reason = if is_error == Some(true) || limit.is_some() {
        let said = result.get("result").and_then(Value::as_str).filter(|r| !r.trim().is_empty()).map(str::to_owned);
        let said = said.or_else(|| (!errors.is_empty()).then(|| errors.join("; ")));
        let said = said.unwrap_or_else(|| subtype.clone().unwrap_or_else(|| "error".into()));
        Some(match limit {
            Some("turns") => format!("turn limit reached: {said}"),
            Some(_) => format!("budget limit reached: {said}"),
            None => said,
        })
    } else {
        // The agent says it succeeded: in a lane that failed (no `.done`), the tool call that
        // failed last says why.
        last_failed_tool(log)
    };
    Some(WorkerUsage {
        // `cost_usd` is what versions before the Agent SDK rename called it.
        cost_usd: result.get("total_cost_usd").or_else(|| result.get("cost_usd")).and_then(dollars),
        turns: result.get("num_turns").and_then(count).and_then(to_u32),
        duration_ms: result.get("duration_ms").and_then(count),
        is_error: if limit.is_some() { Some(true) } else { is_error },
        input_tokens: input,
        output_tokens: usage.and_then(|u| u.get("output_tokens")).and_then(count),
        outcome: subtype,
        reason: reason.map(|r| super::usage::clip(&r)),
        limit: limit.map(str::to_owned),
    })
}

/// The last `tool_result` with `is_error` in a `stream-json` log (claude's, and qwen's, which
/// has the same shape): its first meaningful lines.
pub(super) fn last_failed_tool(log: &str) -> Option<String> {
    super::usage::json_lines(log)
        .filter(|e| e.get("type").and_then(Value::as_str) == Some("user"))
        .filter_map(|e| {
            let content = e.get("message")?.get("content")?.as_array()?.clone();
            content.into_iter().rev().find(|b| b.get("is_error").and_then(Value::as_bool) == Some(true))
        })
        .last()
        .and_then(|block| {
            let text = match block.get("content") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Array(parts)) => {
                    parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).collect::<Vec<_>>().join("\n")
                }
                _ => return None,
            };
            let head: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).take(3).collect();
            (!head.is_empty()).then(|| format!("its last failed tool call: {}", head.join(" / ")))
        })
}

#[cfg(test)]
mod tests {
    use crate::agents::presets::claude::*;
    use crate::agents::presets::fixtures::fixture_log;

    #[test]
    fn not_logged_in_is_an_error_despite_subtype_success() {
        let log = fixture_log(&AGENT, "not-logged-in");
        let usage = parse(&log).unwrap();
        assert_eq!(usage.is_error, Some(true));
        assert_eq!(usage.outcome.as_deref(), Some("success"));
        assert_eq!(usage.reason.as_deref(), Some("Not logged in · Please run /login"));
        assert_eq!(usage.cost_usd, Some(0.0));
        assert_eq!(usage.limit, None);
    }

    #[test]
    fn root_refusal_is_named() {
        let usage = parse(&fixture_log(&AGENT, "root-refusal")).unwrap();
        assert_eq!(usage.is_error, Some(true));
        assert!(usage.reason.unwrap().contains("cannot be used with root/sudo privileges"));
    }

    #[test]
    fn success_result_is_read() {
        let usage = parse(&fixture_log(&AGENT, "success")).unwrap();
        assert_eq!(usage.is_error, Some(false));
        assert_eq!(usage.cost_usd, Some(0.4231));
        assert_eq!(usage.turns, Some(12));
        assert_eq!(usage.duration_ms, Some(45210));
        assert_eq!(usage.input_tokens, Some(38 + 15521 + 204_310));
        assert_eq!(usage.output_tokens, Some(3120));
        assert_eq!(usage.reason, None);
    }

    #[test]
    fn limits_are_named() {
        let turns = parse(&fixture_log(&AGENT, "max-turns")).unwrap();
        assert_eq!(turns.limit.as_deref(), Some("turns"));
        assert_eq!(turns.is_error, Some(true));
        assert_eq!(turns.reason.as_deref(), Some("turn limit reached: Reached maximum number of turns (3)"));
        let budget = parse(&fixture_log(&AGENT, "max-budget")).unwrap();
        assert_eq!(budget.limit.as_deref(), Some("budget"));
        assert!(budget.reason.unwrap().starts_with("budget limit reached"));
        assert_eq!(parse(&fixture_log(&AGENT, "success")).unwrap().limit, None);
    }

    #[test]
    fn stream_json_takes_the_last_result_and_old_cost_field_is_read() {
        let log = r#"{"type":"system","subtype":"init","session_id":"s","model":"claude-sonnet-4-5"}
{"type":"assistant","message":{"usage":{"input_tokens":5,"output_tokens":7}}}
{"type":"result","subtype":"error_max_turns","is_error":true,"duration_ms":9000,"num_turns":31,"session_id":"s","total_cost_usd":1.02,"usage":{"input_tokens":10,"output_tokens":20}}
"#;
        let usage = parse(log).unwrap();
        assert_eq!(usage.cost_usd, Some(1.02));
        assert_eq!(usage.turns, Some(31));
        assert_eq!(usage.outcome.as_deref(), Some("error_max_turns"));
        let old = r#"{"type":"result","subtype":"success","cost_usd":0.05,"is_error":false,"num_turns":2}"#;
        assert_eq!(parse(old).unwrap().cost_usd, Some(0.05));
    }

    #[test]
    fn a_success_in_a_failed_lane_names_its_last_failed_tool_call() {
        // Recorded from claude 2.1.197 against the scripted endpoint (trimmed): its command failed.
        let log = r#"{"type":"user","message":{"role":"user","content":[{"type":"tool_result","content":"Exit code 128\nAuthor identity unknown\n\n*** Please tell me who you are.","is_error":true,"tool_use_id":"toolu_1"}]}}
{"type":"assistant","message":{"content":[{"type":"text","text":"Done."}]}}
{"type":"result","subtype":"success","is_error":false,"num_turns":2,"result":"Done.","total_cost_usd":0.0075,"usage":{"input_tokens":2000,"output_tokens":100}}
"#;
        let usage = parse(log).unwrap();
        assert_eq!(usage.is_error, Some(false));
        assert_eq!(
            usage.reason.as_deref(),
            Some("its last failed tool call: Exit code 128 / Author identity unknown / *** Please tell me who you are.")
        );
    }

    #[test]
    fn without_result_gives_none() {
        assert_eq!(parse("Error: something else\n"), None);
        assert_eq!(parse(""), None);
        let log = fixture_log(&AGENT, "success");
        // Cut off at its start: the object cannot be found.
        assert_eq!(parse(&log[40..]), None);
    }
}
