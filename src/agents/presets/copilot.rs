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

/// The largest prompt passed as the argument itself (Linux refuses one argument over 128 KiB).
pub(super) const INLINE_MAX: u64 = 100_000;

fn line(p: &LineParts<'_>) -> String {
    let file = format!("\"${}\"", super::ENV_PROMPT_FILE);
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
