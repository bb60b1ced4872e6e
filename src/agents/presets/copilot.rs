//! The GitHub Copilot CLI (`@github/copilot`), checked against 1.0.102 (`copilot --help`; the CLI
//! ships as a native binary, so its source could not be read).
//!
//! Line: `exec copilot --prompt="$(cat "$LANES_PROMPT_FILE")" --allow-all --no-ask-user
//! --no-color --output-format json [--model M]`
//!
//! - `--prompt` runs one prompt non-interactively and exits. The prompt is an argument, read from
//!   the file by the shell; the `=` form keeps a prompt that starts with `-` from being read as
//!   a flag.
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

use super::{Agent, LineParts, WorkerUsage, json_lines, push_option};

pub(super) const AGENT: Agent = Agent {
    name: "copilot",
    program: Some("copilot"),
    package: "@github/copilot",
    install: "npm install -g @github/copilot",
    checked_version: "1.0.102",
    flags: &["--prompt", "--allow-all", "--no-ask-user", "--no-color", "--output-format", "--model"],
    hidden_flags: &[],
    droppings: &[],
    keys: &["COPILOT_GITHUB_TOKEN"],
    max_turns_flag: None,
    max_budget_flag: None,
    reports_cost: false,
    line,
    parse,
    stuck: super::never_stuck,
};

fn line(p: &LineParts<'_>) -> String {
    let mut line = String::from("exec copilot --prompt=\"$(cat \"$");
    line.push_str(super::ENV_PROMPT_FILE);
    line.push_str("\")\" --allow-all --no-ask-user --no-color --output-format json");
    push_option(&mut line, "--model", p.model);
    line
}

/// The first `Error:` line (and the line explaining it), else the last JSON event whose type
/// names an error.
pub(super) fn parse(log: &str) -> Option<WorkerUsage> {
    if let Some(reason) = super::error_line(log) {
        return Some(WorkerUsage::failed(reason));
    }
    let error = json_lines(log)
        .filter(|e| e.get("type").and_then(Value::as_str).is_some_and(|t| t.contains("error")))
        .filter_map(|e| super::error_message(&e).or_else(|| e.get("message").and_then(Value::as_str).map(str::to_owned)))
        .last()?;
    Some(WorkerUsage::failed(error))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::presets::tests::fixture_log;

    #[test]
    fn missing_authentication_is_the_reason() {
        let usage = parse(&fixture_log("copilot", "no-auth")).unwrap();
        assert_eq!(usage.is_error, Some(true));
        assert_eq!(
            usage.reason.as_deref(),
            Some(
                "No authentication information found. Copilot can be authenticated with GitHub using an OAuth Token or a Fine-Grained Personal Access Token."
            )
        );
        let classic = parse(&fixture_log("copilot", "token-offline")).unwrap();
        assert!(classic.reason.unwrap().starts_with("Classic Personal Access Tokens (ghp_) are not supported"));
        assert_eq!(parse("all good\n"), None);
    }
}
