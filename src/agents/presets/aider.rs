//! Aider (`aider-chat` on PyPI), checked against 0.86.2: its `--help` and its source
//! (`io.confirm_ask`, `onboarding.py`, `repomap.py`).
//!
//! Line: `aider --message-file "$LANES_PROMPT_FILE" --yes-always --no-auto-commits
//! --no-dirty-commits --no-gitignore --no-check-update --no-show-release-notes
//! --no-show-model-warnings --analytics-disable --no-pretty --no-stream --no-fancy-input
//! --no-detect-urls --disable-playwright --chat-history-file "$LANES_STATE_DIR/aider.chat.history.md"
//! --input-history-file "$LANES_STATE_DIR/aider.input.history" [--model M]
//! && exec git lanes signal done`
//!
//! - `--message-file` sends one message and exits; `--yes-always` answers its confirmations.
//! - `--no-auto-commits --no-dirty-commits`: git-lanes commits the lane's work; `--no-gitignore`:
//!   aider would otherwise add `.aider*` to the tracked `.gitignore`.
//! - `--no-check-update`, `--no-show-release-notes`, `--no-show-model-warnings`,
//!   `--analytics-disable`: nothing to ask or open; `--no-pretty --no-stream --no-fancy-input`:
//!   no colours, partial output or prompt-toolkit UI in the log.
//! - `--no-detect-urls --disable-playwright`: a URL in the prompt would otherwise make
//!   `--yes-always` install playwright and chromium to scrape it.
//! - `--chat-history-file`, `--input-history-file`: into the lane's state folder under the git
//!   common dir, not the worktree. The tags cache (`.aider.tags.cache.v4/`) has no such option;
//!   it is one of [`AGENT`]'s droppings, kept out of the lane's commit.
//! - `--yes-always` answers **no** to "Run shell command?" (`explicit_yes_required`), so aider can
//!   never run a check or `git lanes signal`: the line writes `.done` itself once aider exits 0.
//!
//! Known failure shapes: aider exits 0 after `litellm.AuthenticationError` (the outcome follows
//! the log); the `Cost:` line is missing when the model has no price data (`Tokens: 8.1k sent,
//! 412 received.` is still printed); with no model and no API key it offers an OpenRouter login,
//! which `--yes-always` accepts, and waits five minutes for a browser ([`stuck`]).

use super::agent::{Agent, LineParts, push_option};
use super::usage::WorkerUsage;

pub(super) const AGENT: Agent = Agent {
    name: "aider",
    on_path: true,
    package: "aider-chat",
    install: "python3 -m pip install aider-chat",
    checked_version: "0.86.2",
    flags: &[
        "--message-file",
        "--yes-always",
        "--no-auto-commits",
        "--no-dirty-commits",
        "--no-gitignore",
        "--no-check-update",
        "--no-show-release-notes",
        "--no-show-model-warnings",
        "--analytics-disable",
        "--no-pretty",
        "--no-stream",
        "--no-fancy-input",
        "--no-detect-urls",
        "--disable-playwright",
        "--chat-history-file",
        "--input-history-file",
        "--model",
    ],
    hidden_flags: &[],
    droppings: &[".aider.tags.cache.v4", ".aider.chat.history.md", ".aider.input.history", ".aider.llm.history"],
    home: &[".aider", ".cache"],
    keys: &["ANTHROPIC_API_KEY", "OPENAI_API_KEY"],
    max_turns_flag: None,
    max_budget_flag: None,
    reports_cost: true,
    line,
    parse,
    stuck,
};

/// Printed while aider waits for a browser login to OpenRouter.
const BROWSER_WAIT: &str = "Waiting up to 5 minutes for you to finish in the browser";

fn line(p: &LineParts<'_>) -> String {
    let mut line = String::from("aider --message-file \"$");
    line.push_str(super::agent::ENV_PROMPT_FILE);
    line.push_str(
        "\" --yes-always --no-auto-commits --no-dirty-commits --no-gitignore --no-check-update \
         --no-show-release-notes --no-show-model-warnings --analytics-disable --no-pretty --no-stream \
         --no-fancy-input --no-detect-urls --disable-playwright",
    );
    for (flag, file) in [("--chat-history-file", "aider.chat.history.md"), ("--input-history-file", "aider.input.history")] {
        line.push(' ');
        line.push_str(flag);
        line.push_str(" \"$");
        line.push_str(super::agent::ENV_STATE_DIR);
        line.push('/');
        line.push_str(file);
        line.push('"');
    }
    push_option(&mut line, "--model", p.model);
    line.push_str(" && exec git lanes signal done");
    line
}

/// The session figure of the last `Cost: $x message, $y session.` line; one turn per
/// `Tokens:` line; an error (`litellm.…Error`, no model or key) after the last exchange is the
/// outcome.
pub(super) fn parse(log: &str) -> Option<WorkerUsage> {
    const MARK: &str = "Cost: $";
    let lines: Vec<&str> = log.lines().collect();
    let mut session = None;
    let mut messages: u32 = 0;
    let mut sent: Option<u64> = None;
    let mut received: Option<u64> = None;
    let mut error: Option<String> = None;
    for (i, line) in lines.iter().enumerate() {
        if let Some((s, r)) = tokens(line) {
            messages = messages.saturating_add(1);
            super::usage::add(&mut sent, Some(s));
            super::usage::add(&mut received, Some(r));
            error = None;
        }
        if let Some(at) = line.rfind(MARK)
            && let Some(total) = session_cost(&line[at + MARK.len()..])
        {
            session = Some(total);
        }
        let t = line.trim();
        if t.starts_with("litellm.") && t.contains("Error") {
            error = Some(describe_error(&lines[i..]));
        } else if t.starts_with("No LLM model was specified and no API keys were provided") {
            error = Some(t.to_owned());
        }
    }
    if session.is_none() && messages == 0 && error.is_none() {
        return None;
    }
    Some(WorkerUsage {
        cost_usd: session,
        turns: (messages > 0).then_some(messages),
        is_error: error.as_ref().map(|_| true),
        input_tokens: sent,
        output_tokens: received,
        reason: error.map(|e| super::usage::clip(&e)),
        ..WorkerUsage::default()
    })
}

/// `litellm.AuthenticationError: … wrapped over lines` followed by aider's explanation
/// (`The API provider is not able to authenticate you. Check your API key.`).
fn describe_error(from: &[&str]) -> String {
    let mut first = from[0].trim().to_owned();
    let mut explanation = None;
    for next in &from[1..] {
        let t = next.trim();
        if t.is_empty() || t.starts_with("Retrying in") {
            break;
        }
        if t.starts_with("The API provider") || t.starts_with("The LLM") {
            explanation = Some(t.to_owned());
            break;
        }
        first.push(' ');
        first.push_str(t);
    }
    match explanation {
        Some(e) => format!("{e} ({first})"),
        None => first,
    }
}

/// `Tokens: 8.1k sent, 2.2k cache hit, 412 received.` → (8100, 412).
fn tokens(line: &str) -> Option<(u64, u64)> {
    let rest = line.trim().strip_prefix("Tokens: ")?;
    let mut sent = None;
    let mut received = None;
    for part in rest.split(',') {
        let part = part.trim().trim_end_matches(|c: char| c == '.' || c.is_whitespace());
        let part = part.split(". Cost").next().unwrap_or(part);
        if let Some(n) = part.strip_suffix(" sent") {
            sent = amount(n);
        } else if let Some(n) = part.strip_suffix(" received") {
            received = amount(n);
        }
    }
    Some((sent?, received?))
}

/// `412`, `8.1k`, `1.2M`.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "checked finite and non-negative first")]
fn amount(text: &str) -> Option<u64> {
    let (number, scale) = match text.trim() {
        t if t.ends_with('k') => (&t[..t.len() - 1], 1_000.0),
        t if t.ends_with('M') => (&t[..t.len() - 1], 1_000_000.0),
        t => (t, 1.0),
    };
    let value = number.parse::<f64>().ok()? * scale;
    (0.0..1e18).contains(&value).then(|| value.round() as u64)
}

/// `0.03 message, $0.04 session.` → 0.04.
fn session_cost(rest: &str) -> Option<f64> {
    let (_message, rest) = leading_number(rest)?;
    let rest = rest.strip_prefix(" message, $")?;
    let (total, rest) = leading_number(rest)?;
    (rest.starts_with(" session") && total.is_finite() && total >= 0.0).then_some(total)
}

/// A decimal number at the start of `text` (`0.0012`, `1.23`) and the text after it.
fn leading_number(text: &str) -> Option<(f64, &str)> {
    let end = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let value = text[..end].parse::<f64>().ok()?;
    Some((value, &text[end..]))
}

fn stuck(log: &str) -> Option<String> {
    log.contains(BROWSER_WAIT).then(|| {
        "no model and no API key: it waits for an OpenRouter login in a browser; pass `--model` and set the provider's API key (e.g. ANTHROPIC_API_KEY)".to_owned()
    })
}

#[cfg(test)]
mod tests {
    use crate::agents::presets::aider::*;
    use crate::agents::presets::fixtures::fixture_log;

    #[test]
    fn authentication_error_with_exit_0_is_an_error() {
        let usage = parse(&fixture_log(&AGENT, "model-no-key")).unwrap();
        assert_eq!(usage.is_error, Some(true));
        let reason = usage.reason.unwrap();
        assert!(
            reason.starts_with("The API provider is not able to authenticate you. Check your API key. (litellm.AuthenticationError"),
            "{reason}"
        );
        assert!(reason.contains("OPENAI_API_KEY environment variable"), "{reason}");
    }

    #[test]
    fn offline_retries_end_in_the_last_error() {
        let usage = parse(&fixture_log(&AGENT, "api-key-offline")).unwrap();
        assert_eq!(usage.is_error, Some(true));
        assert!(usage.reason.unwrap().starts_with("The API provider's servers are down or overloaded. (litellm.InternalServerError"));
    }

    #[test]
    fn browser_login_wait_is_stuck() {
        let log = fixture_log(&AGENT, "no-auth");
        assert!(stuck(&log).unwrap().starts_with("no model and no API key: it waits for an OpenRouter login"));
        let usage = parse(&log).unwrap();
        assert_eq!(usage.is_error, Some(true));
        assert_eq!(stuck("Aider v0.86.2\n"), None);
    }

    #[test]
    fn tokens_without_cost_count_and_the_last_session_cost_is_taken() {
        let usage = parse(&fixture_log(&AGENT, "success")).unwrap();
        assert_eq!(usage.cost_usd, Some(0.04));
        assert_eq!(usage.turns, Some(3));
        assert_eq!(usage.is_error, None);
        assert_eq!(usage.input_tokens, Some(8100 + 9000 + 8100));
        assert_eq!(usage.output_tokens, Some(412 + 230 + 412));
        let unpriced = parse("Aider v0.86.2\nTokens: 8.1k sent, 412 received.\n").unwrap();
        assert_eq!(unpriced.turns, Some(1));
        assert_eq!(unpriced.cost_usd, None);
        assert_eq!(parse("Aider v0.86.2\nNo changes.\n"), None);
        // Damaged lines are skipped, not fatal.
        let damaged = "Cost: $ message, $x session.\nCost: $1.2 message\nCost: $0.5 message, $0.7 session.\n";
        assert_eq!(parse(damaged).unwrap().cost_usd, Some(0.7));
    }

    #[test]
    fn an_error_followed_by_a_successful_exchange_is_not_the_outcome() {
        let log = "litellm.RateLimitError: slow down\nRetrying in 1.0 seconds...\nTokens: 1k sent, 10 received.\n";
        assert_eq!(parse(log).unwrap().is_error, None);
    }
}
