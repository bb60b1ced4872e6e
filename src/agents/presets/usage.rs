//! Reading what an agent said: [`WorkerUsage`] and the log-reading helpers every preset's parser
//! shares (JSON objects in a log, ANSI codes, the last meaningful lines, repeated refusals).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What an agent reported about its run. Every field is what the agent said, or `None`.
///
/// Stored in the run state and shown in the report; `None` fields are left out of JSON.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkerUsage {
    /// Dollars spent (claude `total_cost_usd`; aider's session total; opencode's step costs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    /// Agent turns (claude/qwen `num_turns`; codex turns; gemini model requests; aider
    /// messages; opencode steps).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turns: Option<u32>,
    /// The agent's own measure of the run (claude `duration_ms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// Whether the agent says the run ended in error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_error: Option<bool>,
    /// Input tokens, cached ones included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<u64>,
    /// Output tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<u64>,
    /// How the agent says the run ended, in its words: claude's `subtype` (`success`,
    /// `error_max_turns`, `error_max_budget_usd`), gemini's `error.type`, codex's failure message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// When it failed: the agent's own message (`Not logged in · Please run /login`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When a limit ended the run: `turns` or `budget`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
}

impl WorkerUsage {
    /// A failure the agent reported in so many words, with nothing else known.
    pub(super) fn failed(reason: impl Into<String>) -> WorkerUsage {
        WorkerUsage { is_error: Some(true), reason: Some(clip(&reason.into())), ..WorkerUsage::default() }
    }
}

/// How many times the same authentication or quota error must be seen to end the lane: a CLI
/// that retries a rejected key (claude for three minutes) will not succeed on its own.
const REFUSALS: usize = 3;

/// The same authentication or quota error, [`REFUSALS`] times: the API refuses the key or the
/// account, and retrying will not change that. Lines are compared with their digits removed
/// (timestamps, attempt counters); the content an agent reads or writes (tool output events) is
/// not looked at.
pub(super) fn repeated_refusal(log: &str) -> Option<String> {
    const SIGNS: &[&str] = &[
        "401",
        "403",
        "unauthorized",
        "invalid api key",
        "invalid_api_key",
        "invalid x-api-key",
        "authentication_error",
        "authentication failed",
        "incorrect api key",
        "api key not valid",
        "permission_denied",
        "insufficient_quota",
        "exceeded your current quota",
        "quota exceeded",
        "billing",
    ];
    const CONTENT: &[&str] = &["user", "assistant", "tool_use", "tool_result", "item.completed", "item.started", "text", "message", "tool"];
    let mut seen: Vec<(String, usize, String)> = Vec::new();
    for line in log.lines() {
        let lower = line.to_ascii_lowercase();
        if !lower.contains("error") || !SIGNS.iter().any(|s| lower.contains(s)) {
            continue;
        }
        let event = line.find('{').and_then(|at| first_json_object(&line[at..]));
        if event.as_ref().and_then(|e| e.get("type")).and_then(Value::as_str).is_some_and(|t| CONTENT.contains(&t)) {
            continue;
        }
        let said = event
            .as_ref()
            .and_then(|e| {
                let message = error_message(e).or_else(|| e.get("message").and_then(Value::as_str).map(str::to_owned))?;
                // claude's `api_retry` events: `"error": "authentication_failed", "error_status": 401`.
                Some(match e.get("error_status").and_then(Value::as_u64) {
                    Some(status) => format!("{message} (HTTP {status})"),
                    None => message,
                })
            })
            .unwrap_or_else(|| strip_ansi(line).trim().to_owned());
        // An event is known by what it says (its ids and delays change every time), a plain
        // line by its words.
        let basis = if event.is_some() { said.to_ascii_lowercase() } else { lower.clone() };
        let key: String = basis.chars().filter(|c| !c.is_ascii_digit()).collect();
        match seen.iter_mut().find(|(k, _, _)| *k == key) {
            Some((_, n, _)) => {
                *n += 1;
                if *n >= REFUSALS {
                    return Some(format!("the API refuses it, {REFUSALS} times the same: {}", clip(&said)));
                }
            }
            None => seen.push((key, 1, said)),
        }
    }
    None
}

/// The last `n` lines of a log worth showing: not blank, not a stack frame, not a JSON event,
/// not a progress bar; ANSI colour codes removed; joined with ` / `.
#[must_use]
pub fn last_meaningful_lines(log: &str, n: usize) -> Option<String> {
    let mut kept: Vec<String> = Vec::new();
    for line in log.lines().rev() {
        let line = strip_ansi(line);
        let t = line.trim();
        let noise = t.is_empty()
            || t.starts_with("at ")
            || t.starts_with('{')
            || t.starts_with('}')
            || t.starts_with('[') && t.ends_with(']')
            || t.starts_with('"')
            || t.starts_with("[lanes]")
            || t.chars().all(|c| !c.is_alphanumeric());
        if noise {
            continue;
        }
        kept.push(t.to_owned());
        if kept.len() == n {
            break;
        }
    }
    if kept.is_empty() {
        return None;
    }
    kept.reverse();
    Some(clip(&kept.join(" / ")))
}

/// At most 400 characters, cut at a character boundary with `…`.
pub(super) fn clip(text: &str) -> String {
    const MAX: usize = 400;
    let text = text.trim();
    match text.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

pub(super) fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for n in chars.by_ref() {
                    if n.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        if c != '\r' {
            out.push(c);
        }
    }
    out
}

/// The last JSON object in `text` that starts on a line of its own (after any prefix on that
/// line) and satisfies `wanted`. Objects may span lines, as pretty-printed output does.
pub(super) fn last_json_object(text: &str, wanted: impl Fn(&Map<String, Value>) -> bool) -> Option<Map<String, Value>> {
    let mut starts = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if let Some(brace) = line.find('{') {
            starts.push(offset + brace);
        }
        offset += line.len();
    }
    starts.into_iter().rev().filter_map(|start| first_json_object(&text[start..])).find(|object| wanted(object))
}

/// Every JSON object that starts a line (after any prefix), in order: JSONL event streams.
pub(super) fn json_lines(text: &str) -> impl Iterator<Item = Map<String, Value>> + '_ {
    text.lines().filter_map(|line| line.find('{').and_then(|at| first_json_object(&line[at..])))
}

/// The JSON object at the very start of `text`, ignoring whatever follows it.
pub(super) fn first_json_object(text: &str) -> Option<Map<String, Value>> {
    match serde_json::Deserializer::from_str(text).into_iter::<Value>().next() {
        Some(Ok(Value::Object(object))) => Some(object),
        _ => None,
    }
}

/// `error.message` (or `error` itself when it is a string) of a JSON object.
pub(super) fn error_message(object: &Map<String, Value>) -> Option<String> {
    let error = object.get("error")?;
    match error {
        Value::String(s) => Some(s.clone()),
        Value::Object(e) => e
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| e.get("data").and_then(|d| d.get("message")).and_then(Value::as_str).map(str::to_owned))
            .or_else(|| e.get("name").and_then(Value::as_str).map(str::to_owned)),
        _ => None,
    }
}

/// A non-negative whole number, also when written as a float (`1234.0`).
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_precision_loss,
    reason = "the float is checked to be finite and within 0..=u64::MAX first"
)]
pub(super) fn count(value: &Value) -> Option<u64> {
    value.as_u64().or_else(|| value.as_f64().filter(|f| f.is_finite() && *f >= 0.0 && *f <= u64::MAX as f64).map(|f| f.round() as u64))
}

pub(super) fn dollars(value: &Value) -> Option<f64> {
    value.as_f64().filter(|f| f.is_finite() && *f >= 0.0)
}

pub(super) fn to_u32(n: u64) -> Option<u32> {
    u32::try_from(n).ok()
}

pub(super) fn add(total: &mut Option<u64>, part: Option<u64>) {
    if let Some(part) = part {
        *total = Some(total.unwrap_or(0).saturating_add(part));
    }
}

pub(super) fn sum_fields(object: Option<&Value>, keys: &[&str]) -> Option<u64> {
    let mut total = None;
    for key in keys {
        add(&mut total, object.and_then(|o| o.get(*key)).and_then(count));
    }
    total
}

/// Lines of `log` that contain `needle`.
pub(super) fn count_lines(log: &str, needle: &str) -> usize {
    log.lines().filter(|l| l.contains(needle)).count()
}

/// The first line of `log` that starts with `Error:` (after trimming), with the line after it
/// when that one explains it.
pub(super) fn error_line(log: &str) -> Option<String> {
    let mut lines = log.lines().map(|l| strip_ansi(l).trim().to_owned());
    while let Some(line) = lines.next() {
        if let Some(rest) = line.strip_prefix("Error:").or_else(|| line.strip_prefix("error:")) {
            let mut reason = rest.trim().to_owned();
            if let Some(next) = lines.find(|l| !l.is_empty())
                && !next.starts_with("Usage:")
                && !next.starts_with("For more information")
            {
                reason.push(' ');
                reason.push_str(&next);
            }
            return Some(reason);
        }
    }
    None
}
