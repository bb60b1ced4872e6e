//! Worker commands: what each lane's agent is started with, and what its log says it cost.
//!
//! Start at [`resolve_worker`]: it turns what the user configured (`--worker`, `lanes.yaml`, the
//! spec's `worker:` key) into a [`WorkerCommand`], either a preset expanded by [`preset_command`]
//! or a literal command line kept verbatim. After the worker has exited, [`parse_usage`] reads the
//! tail of its log for the cost, turns and tokens the agent CLI reported.
//!
//! # Design note: every worker is one `sh -c` line
//!
//! The runner starts children with stdin set to null, so no agent can be fed its prompt through a
//! pipe held by git-lanes. Each preset therefore reads the prompt from the file named by
//! `$LANES_PROMPT_FILE`, either through a redirection (`< "$LANES_PROMPT_FILE"`) or a file option
//! (`aider --message-file`). Redirecting a regular file also gives the CLI an end of input, which
//! matters: agent CLIs that read stdin when it is not a terminal wait forever on an open pipe.
//!
//! A preset and a user's own command are then the same thing, a shell line run as
//! `/bin/sh -c <line>` in the lane worktree ([`WorkerCommand::argv`]), so one code path spawns both
//! and `--dry-run` can print exactly what will run. Paths are never interpolated: the line refers
//! to the `LANES_*` variables the runner sets ([`WorkerContext::env`] lists the ones this module
//! relies on), so a path with spaces or quotes cannot break it. The few values that are
//! interpolated (model, turn and budget limits) go through [`shell_quote`]. Preset lines start
//! with `exec`, so the agent replaces the shell: its exit status is the worker's, and signals
//! reach it without a shell in between.
//!
//! # Agent CLIs that hang after finishing
//!
//! `claude -p` has repeatedly been reported to stay alive after printing its result (background
//! Bash tasks, MCP servers or language servers holding stdio open), and so have `codex exec` and
//! the Gemini CLI in some versions. Nothing here can prevent that; the runner ends the lane's
//! process group a grace period after `.done` appears or after the result is in the log
//! (SPEC §4 step 5).

#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::ffi::OsString;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Environment variable holding the prompt file (spec body followed by the work order).
pub const ENV_PROMPT_FILE: &str = "LANES_PROMPT_FILE";
/// Environment variable holding the lane's work order file.
pub const ENV_WORK_ORDER: &str = "LANES_WORK_ORDER";
/// Environment variable holding the model the spec asks for (empty when none).
pub const ENV_MODEL: &str = "LANES_MODEL";
/// Environment variable holding the lane name.
pub const ENV_LANE: &str = "LANES_LANE";
/// Environment variable holding the absolute signal directory.
pub const ENV_SIGNAL_DIR: &str = "LANES_SIGNAL_DIR";
/// Optional user variable naming the script the `script` preset runs.
pub const ENV_WORKER_SCRIPT: &str = "LANES_WORKER_SCRIPT";
/// Script the `script` preset runs, relative to the worktree, when `LANES_WORKER_SCRIPT` is unset.
pub const DEFAULT_WORKER_SCRIPT: &str = "./lanes-worker.sh";
/// The shell every worker line is run with.
pub const SHELL: &str = "/bin/sh";

/// Instruction given to Gemini with `-p`; the CLI appends it to the prompt read from stdin.
const GEMINI_TRAILER: &str = "Carry out the task described above.";

/// A named way of starting an agent, selectable with `--worker <name>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// A command line the user wrote; `--worker script` alone runs `./lanes-worker.sh`.
    Script,
    /// Claude Code in print mode (`claude -p`).
    Claude,
    /// The Codex CLI (`codex exec`).
    Codex,
    /// Aider (`aider --message-file`).
    Aider,
    /// Google Gemini CLI (`gemini -p`).
    Gemini,
}

impl Preset {
    /// Every preset, in the order help text lists them.
    pub const ALL: [Preset; 5] = [Preset::Script, Preset::Claude, Preset::Codex, Preset::Aider, Preset::Gemini];

    /// Every preset name, in the order help text lists them.
    pub const NAMES: [&'static str; 5] = ["script", "claude", "codex", "aider", "gemini"];

    /// The name accepted by `--worker` and shown in help and reports.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Preset::Script => "script",
            Preset::Claude => "claude",
            Preset::Codex => "codex",
            Preset::Aider => "aider",
            Preset::Gemini => "gemini",
        }
    }

    /// Whether the preset passes `max_turns` on to the agent (the others ignore it).
    #[must_use]
    pub fn accepts_max_turns(self) -> bool {
        matches!(self, Preset::Claude)
    }

    /// Whether the preset passes `max_budget_usd` on to the agent (the others ignore it).
    #[must_use]
    pub fn accepts_max_budget(self) -> bool {
        matches!(self, Preset::Claude)
    }

    /// Whether the agent reports a dollar cost that [`parse_usage`] can read.
    #[must_use]
    pub fn reports_cost(self) -> bool {
        matches!(self, Preset::Claude | Preset::Aider)
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Preset {
    type Err = WorkerError;

    /// Parses a preset name, ignoring ASCII case and surrounding whitespace.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim();
        Preset::ALL
            .into_iter()
            .find(|preset| preset.name().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| WorkerError::UnknownPreset { name: wanted.to_owned() })
    }
}

/// Errors found while turning a worker setting into a command line.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WorkerError {
    /// The name is not a preset.
    #[error("unknown worker preset `{name}` (presets: script, claude, codex, aider, gemini)")]
    UnknownPreset {
        /// The name as given.
        name: String,
    },
    /// The worker setting is empty or only whitespace.
    #[error("worker command for lane {lane} is empty")]
    EmptyCommand {
        /// The lane whose worker is empty.
        lane: String,
    },
    /// The budget is zero, negative or not a number.
    #[error("max budget for lane {lane} must be a positive number of dollars, not {value}")]
    InvalidBudget {
        /// The lane the budget was given for.
        lane: String,
        /// The value as given.
        value: f64,
    },
    /// The turn limit is zero.
    #[error("max turns for lane {lane} must be at least 1")]
    ZeroMaxTurns {
        /// The lane the limit was given for.
        lane: String,
    },
}

/// What a worker is started with, beyond its command line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WorkerContext<'a> {
    /// Spec body followed by the work order; presets read the prompt from here.
    pub prompt_file: &'a Path,
    /// The lane's work order.
    pub work_order_file: &'a Path,
    /// Model the spec asks for, passed to the agent as given (`sonnet`, `gpt-5-codex`, ...).
    pub model: Option<&'a str>,
    /// Turn limit, for presets that accept one ([`Preset::accepts_max_turns`]).
    pub max_turns: Option<u32>,
    /// Dollar budget, for presets that accept one ([`Preset::accepts_max_budget`]).
    pub max_budget_usd: Option<f64>,
    /// The lane, for error messages and `LANES_LANE`.
    pub lane: &'a str,
}

impl WorkerContext<'_> {
    /// The `LANES_*` variables preset lines refer to, for the runner to set.
    ///
    /// `LANES_MODEL` is set to an empty string when there is no model, so a value inherited from
    /// the user's shell cannot leak in. The runner adds the run-wide ones (`LANES_RUN_ID`,
    /// `LANES_SIGNAL_DIR`, `LANES_ISSUES`, `LANES_PORT_BASE`).
    #[must_use]
    pub fn env(&self) -> Vec<(&'static str, OsString)> {
        vec![
            (ENV_PROMPT_FILE, self.prompt_file.as_os_str().to_owned()),
            (ENV_WORK_ORDER, self.work_order_file.as_os_str().to_owned()),
            (ENV_MODEL, OsString::from(self.model.unwrap_or(""))),
            (ENV_LANE, OsString::from(self.lane)),
        ]
    }

    fn validate(&self) -> Result<(), WorkerError> {
        if let Some(value) = self.max_budget_usd.filter(|v| !(v.is_finite() && *v > 0.0)) {
            return Err(WorkerError::InvalidBudget { lane: self.lane.to_owned(), value });
        }
        if self.max_turns == Some(0) {
            return Err(WorkerError::ZeroMaxTurns { lane: self.lane.to_owned() });
        }
        Ok(())
    }
}

/// A worker ready to start: a shell line and the preset whose log format it follows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerCommand {
    /// The preset the line came from; [`Preset::Script`] for a user's own command line.
    pub preset: Preset,
    /// The line given to `/bin/sh -c`, run in the lane worktree.
    pub shell: String,
}

impl WorkerCommand {
    /// The program and arguments to spawn: `/bin/sh -c <line>`.
    #[must_use]
    pub fn argv(&self) -> [&str; 3] {
        [SHELL, "-c", &self.shell]
    }
}

/// Turns a worker setting into the command to run.
///
/// A setting that is exactly a preset name (case and surrounding whitespace ignored) is expanded
/// with [`preset_command`]; anything else is a command line and is kept verbatim, with
/// [`Preset::Script`] as its preset. The context is checked first, so a bad budget is reported
/// even for presets that would ignore it.
///
/// # Errors
///
/// [`WorkerError::EmptyCommand`] for an empty setting, [`WorkerError::InvalidBudget`] and
/// [`WorkerError::ZeroMaxTurns`] for limits no agent can honour.
pub fn resolve_worker(spec: &str, ctx: &WorkerContext<'_>) -> Result<WorkerCommand, WorkerError> {
    ctx.validate()?;
    if spec.trim().is_empty() {
        return Err(WorkerError::EmptyCommand { lane: ctx.lane.to_owned() });
    }
    Ok(match spec.parse::<Preset>() {
        Ok(preset) => WorkerCommand { preset, shell: preset_command(preset, ctx) },
        Err(_) => WorkerCommand { preset: Preset::Script, shell: spec.to_owned() },
    })
}

/// The shell line a preset runs.
///
/// The prompt always comes from `$LANES_PROMPT_FILE`; the model, turn limit and budget are
/// interpolated (quoted) only when set and only for presets that accept them. Values that
/// [`resolve_worker`] would reject (a budget that is not a positive number, zero turns) are left
/// out rather than passed on.
///
/// | preset | line |
/// |---|---|
/// | `claude` | `exec claude -p --output-format json --dangerously-skip-permissions [--model M] [--max-turns N] [--max-budget-usd X] < "$LANES_PROMPT_FILE"` |
/// | `codex` | `exec codex exec --json --sandbox workspace-write --add-dir "$LANES_SIGNAL_DIR" [--model M] - < "$LANES_PROMPT_FILE"` |
/// | `aider` | `exec aider --message-file "$LANES_PROMPT_FILE" --yes-always --no-auto-commits --no-gitignore --no-check-update --no-show-release-notes --no-show-model-warnings --analytics-disable --no-pretty --no-stream --no-fancy-input [--model M]` |
/// | `gemini` | `exec gemini --approval-mode yolo --output-format json [--model M] -p '…' < "$LANES_PROMPT_FILE"` |
/// | `script` | `exec "${LANES_WORKER_SCRIPT:-./lanes-worker.sh}"` |
///
/// Why each flag is there:
/// - claude: `-p` is print (headless) mode and reads the prompt from stdin when no prompt
///   argument is given; `--output-format json` prints one result object with `total_cost_usd`,
///   `num_turns`, `duration_ms`, `is_error`; `--dangerously-skip-permissions` because in print
///   mode a tool that needs approval is denied, and a worker must run tests and
///   `git lanes signal` (which writes outside the worktree), which `acceptEdits` would not allow.
///   `--max-turns` and `--max-budget-usd` are print-mode limits.
/// - codex: `exec` is the non-interactive mode; `-` reads the prompt from stdin;
///   `--sandbox workspace-write` lets it edit the worktree (the default is read-only; the older
///   `--full-auto` is deprecated); `--add-dir` makes the signal directory writable inside the
///   sandbox, so `git lanes signal` works; `--json` prints JSONL events whose `turn.completed`
///   carries token usage. Codex has no turn or budget flag and reports no cost.
/// - aider: `--message-file` sends one message and exits; `--yes-always` answers its
///   confirmations; the `--no-*` and `--analytics-disable` flags stop it from committing
///   (git-lanes commits the lane's work), editing `.gitignore`, checking for updates, opening
///   release notes or documentation, asking about analytics, and writing colours, streamed
///   partial output or a prompt-toolkit UI into the log. It prints `Cost: $x message, $y session.`
/// - gemini: `-p` forces non-interactive mode and is appended to what is read from stdin, which
///   carries the prompt; `--approval-mode yolo` approves tool calls (`--yolo` is deprecated);
///   `--output-format json` prints one object with `response`, `stats` and `error`.
/// - script: the conventional script at the worktree root, or the one `LANES_WORKER_SCRIPT`
///   names in the user's environment.
#[must_use]
pub fn preset_command(preset: Preset, ctx: &WorkerContext<'_>) -> String {
    let mut line = String::from("exec ");
    let model = ctx.model.map(str::trim).filter(|m| !m.is_empty());
    match preset {
        Preset::Script => {
            line.push_str("\"${");
            line.push_str(ENV_WORKER_SCRIPT);
            line.push_str(":-");
            line.push_str(DEFAULT_WORKER_SCRIPT);
            line.push_str("}\"");
        }
        Preset::Claude => {
            line.push_str("claude -p --output-format json --dangerously-skip-permissions");
            push_option(&mut line, "--model", model);
            if let Some(turns) = ctx.max_turns.filter(|&n| n > 0) {
                push_option(&mut line, "--max-turns", Some(&turns.to_string()));
            }
            if let Some(budget) = ctx.max_budget_usd.filter(|b| b.is_finite() && *b > 0.0) {
                push_option(&mut line, "--max-budget-usd", Some(&budget.to_string()));
            }
            push_prompt_redirect(&mut line);
        }
        Preset::Codex => {
            line.push_str("codex exec --json --sandbox workspace-write --add-dir \"$");
            line.push_str(ENV_SIGNAL_DIR);
            line.push('"');
            push_option(&mut line, "--model", model);
            line.push_str(" -");
            push_prompt_redirect(&mut line);
        }
        Preset::Aider => {
            line.push_str("aider --message-file \"$");
            line.push_str(ENV_PROMPT_FILE);
            line.push_str(
                "\" --yes-always --no-auto-commits --no-gitignore --no-check-update \
                 --no-show-release-notes --no-show-model-warnings --analytics-disable \
                 --no-pretty --no-stream --no-fancy-input",
            );
            push_option(&mut line, "--model", model);
        }
        Preset::Gemini => {
            line.push_str("gemini --approval-mode yolo --output-format json");
            push_option(&mut line, "--model", model);
            push_option(&mut line, "-p", Some(GEMINI_TRAILER));
            push_prompt_redirect(&mut line);
        }
    }
    line
}

fn push_option(line: &mut String, flag: &str, value: Option<&str>) {
    if let Some(value) = value {
        line.push(' ');
        line.push_str(flag);
        line.push(' ');
        line.push_str(&shell_quote(value));
    }
}

fn push_prompt_redirect(line: &mut String) {
    line.push_str(" < \"$");
    line.push_str(ENV_PROMPT_FILE);
    line.push('"');
}

/// Quotes a string so that a POSIX shell reads it back as exactly one word, unchanged.
///
/// Words made only of characters no shell treats specially are returned as they are, so lines
/// stay readable; anything else is wrapped in single quotes, with each `'` written as `'\''`.
#[must_use]
pub fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty() && word.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-+=.,/:@%".contains(&b));
    if plain {
        return word.to_owned();
    }
    let mut quoted = String::with_capacity(word.len() + 2);
    quoted.push('\'');
    for c in word.chars() {
        if c == '\'' {
            quoted.push_str("'\\''");
        } else {
            quoted.push(c);
        }
    }
    quoted.push('\'');
    quoted
}

/// What an agent reported about its run. Every field is what the agent said, or `None`.
///
/// Stored in the run state and shown in the report; `None` fields are left out of JSON.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkerUsage {
    /// Dollars spent (claude `total_cost_usd`; aider's session total).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    /// Agent turns (claude `num_turns`; codex turns; gemini model requests; aider messages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turns: Option<u32>,
    /// The agent's own measure of the run (claude `duration_ms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// Whether the agent says the run ended in error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_error: Option<bool>,
    /// Input tokens, cached ones included (claude, codex, gemini).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<u64>,
    /// Output tokens (claude, codex, gemini).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<u64>,
    /// How the agent says the run ended, in its words: claude's `subtype` (`success`,
    /// `error_max_turns`, `error_max_budget_usd`), gemini's `error.type`, codex's failure message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
}

/// Reads what the agent reported from the end of a worker's log (stdout and stderr together).
///
/// Pass a generous tail (the last 256 KiB, say): a result object cut off at its start is not
/// found. Returns `None` when the log holds nothing the preset's format recognises. For
/// [`Preset::Script`] each format is tried in turn, so a hand-written line that runs an agent
/// still gets its usage recorded. Never panics, whatever the log holds.
///
/// - claude: the last JSON object with `"type": "result"` or `total_cost_usd`.
/// - codex: every `turn.completed` / `turn.failed` JSONL event, token usage summed.
/// - aider: the session figure of the last `Cost: $x message, $y session.` line.
/// - gemini: the last JSON object with a `stats` object, tokens and requests summed over models.
#[must_use]
pub fn parse_usage(preset: Preset, log_tail: &str) -> Option<WorkerUsage> {
    match preset {
        Preset::Claude => claude_usage(log_tail),
        Preset::Codex => codex_usage(log_tail),
        Preset::Aider => aider_usage(log_tail),
        Preset::Gemini => gemini_usage(log_tail),
        Preset::Script => {
            claude_usage(log_tail).or_else(|| gemini_usage(log_tail)).or_else(|| codex_usage(log_tail)).or_else(|| aider_usage(log_tail))
        }
    }
}

fn claude_usage(log: &str) -> Option<WorkerUsage> {
    let result = last_json_object(log, |object| {
        object.get("type").and_then(Value::as_str) == Some("result") || object.contains_key("total_cost_usd")
    })?;
    let usage = result.get("usage");
    let input = sum_fields(usage, &["input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"]);
    Some(WorkerUsage {
        // `cost_usd` is what versions before the Agent SDK rename called it.
        cost_usd: result.get("total_cost_usd").or_else(|| result.get("cost_usd")).and_then(dollars),
        turns: result.get("num_turns").and_then(count).and_then(to_u32),
        duration_ms: result.get("duration_ms").and_then(count),
        is_error: result.get("is_error").and_then(Value::as_bool),
        input_tokens: input,
        output_tokens: usage.and_then(|u| u.get("output_tokens")).and_then(count),
        outcome: result.get("subtype").and_then(Value::as_str).map(str::to_owned),
    })
}

fn codex_usage(log: &str) -> Option<WorkerUsage> {
    let mut turns: u32 = 0;
    let mut input: u64 = 0;
    let mut output: u64 = 0;
    let mut last_failed = false;
    let mut outcome = None;
    let mut last_error = None;
    for line in log.lines() {
        let Some(event) = line.find('{').and_then(|at| first_json_object(&line[at..])) else {
            continue;
        };
        match event.get("type").and_then(Value::as_str) {
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
                outcome = event
                    .get("error")
                    .and_then(|e| e.get("message"))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .or_else(|| Some("failed".to_owned()));
            }
            // Top-level errors include passing ones ("Reconnecting... 1/5"); they only decide
            // the outcome when no turn ended.
            Some("error") => {
                last_error = event.get("message").and_then(Value::as_str).map(str::to_owned).or_else(|| Some("error".to_owned()));
            }
            _ => {}
        }
    }
    if turns == 0 {
        return last_error.map(|message| WorkerUsage { is_error: Some(true), outcome: Some(message), ..WorkerUsage::default() });
    }
    Some(WorkerUsage {
        turns: Some(turns),
        is_error: Some(last_failed),
        input_tokens: Some(input),
        output_tokens: Some(output),
        outcome,
        ..WorkerUsage::default()
    })
}

fn aider_usage(log: &str) -> Option<WorkerUsage> {
    const MARK: &str = "Cost: $";
    let mut session = None;
    let mut messages: u32 = 0;
    for line in log.lines() {
        let Some(at) = line.rfind(MARK) else { continue };
        let rest = &line[at + MARK.len()..];
        let Some((_message, rest)) = leading_number(rest) else {
            continue;
        };
        let Some(rest) = rest.strip_prefix(" message, $") else {
            continue;
        };
        let Some((total, rest)) = leading_number(rest) else {
            continue;
        };
        if rest.starts_with(" session") && total.is_finite() && total >= 0.0 {
            session = Some(total);
            messages = messages.saturating_add(1);
        }
    }
    session.map(|cost| WorkerUsage { cost_usd: Some(cost), turns: Some(messages), ..WorkerUsage::default() })
}

fn gemini_usage(log: &str) -> Option<WorkerUsage> {
    let object = last_json_object(log, |object| object.get("stats").is_some_and(Value::is_object))?;
    let stats = object.get("stats")?;
    let mut requests: Option<u64> = None;
    let mut input: Option<u64> = None;
    let mut output: Option<u64> = None;
    if let Some(models) = stats.get("models").and_then(Value::as_object) {
        for model in models.values() {
            let api = model.get("api");
            let tokens = model.get("tokens");
            add(&mut requests, api.and_then(|a| a.get("totalRequests")).and_then(count));
            add(&mut input, tokens.and_then(|t| t.get("prompt")).and_then(count));
            add(&mut output, tokens.and_then(|t| t.get("candidates")).and_then(count));
        }
    }
    // Flat counters, as in the stream-json `result` event and older releases.
    let input = input.or_else(|| ["input_tokens", "inputTokens"].iter().find_map(|k| stats.get(*k).and_then(count)));
    let output = output.or_else(|| ["output_tokens", "outputTokens"].iter().find_map(|k| stats.get(*k).and_then(count)));
    let error = object.get("error").filter(|e| !e.is_null());
    Some(WorkerUsage {
        cost_usd: None,
        turns: requests.and_then(to_u32),
        duration_ms: stats.get("duration_ms").and_then(count),
        is_error: Some(error.is_some()),
        input_tokens: input,
        output_tokens: output,
        outcome: error.and_then(|e| e.get("type")).and_then(Value::as_str).map(str::to_owned),
    })
}

/// The last JSON object in `text` that starts on a line of its own (after any prefix on that
/// line) and satisfies `wanted`. Objects may span lines, as pretty-printed output does.
fn last_json_object(text: &str, wanted: impl Fn(&Map<String, Value>) -> bool) -> Option<Map<String, Value>> {
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

/// The JSON object at the very start of `text`, ignoring whatever follows it.
fn first_json_object(text: &str) -> Option<Map<String, Value>> {
    match serde_json::Deserializer::from_str(text).into_iter::<Value>().next() {
        Some(Ok(Value::Object(object))) => Some(object),
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
fn count(value: &Value) -> Option<u64> {
    value.as_u64().or_else(|| value.as_f64().filter(|f| f.is_finite() && *f >= 0.0 && *f <= u64::MAX as f64).map(|f| f.round() as u64))
}

fn dollars(value: &Value) -> Option<f64> {
    value.as_f64().filter(|f| f.is_finite() && *f >= 0.0)
}

fn to_u32(n: u64) -> Option<u32> {
    u32::try_from(n).ok()
}

fn add(total: &mut Option<u64>, part: Option<u64>) {
    if let Some(part) = part {
        *total = Some(total.unwrap_or(0).saturating_add(part));
    }
}

fn sum_fields(object: Option<&Value>, keys: &[&str]) -> Option<u64> {
    let mut total = None;
    for key in keys {
        add(&mut total, object.and_then(|o| o.get(*key)).and_then(count));
    }
    total
}

/// A decimal number at the start of `text` (`0.0012`, `1.23`) and the text after it.
fn leading_number(text: &str) -> Option<(f64, &str)> {
    let end = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let value = text[..end].parse::<f64>().ok()?;
    Some((value, &text[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn ctx(model: Option<&str>, turns: Option<u32>, budget: Option<f64>) -> WorkerContext<'_> {
        WorkerContext {
            prompt_file: Path::new("/repo/.git/lanes/runs/r1/E.prompt.md"),
            work_order_file: Path::new("/repo/.git/lanes/runs/r1/E.work-order.yaml"),
            model,
            max_turns: turns,
            max_budget_usd: budget,
            lane: "E",
        }
    }

    fn words(line: &str) -> Vec<&str> {
        line.split_whitespace().collect()
    }

    /// Runs `sh -c` with the given environment and returns its stdout.
    #[allow(clippy::disallowed_methods)]
    fn run_sh(line: &str, env: &[(&str, &std::ffi::OsStr)]) -> String {
        let mut command = std::process::Command::new(SHELL);
        command.arg("-c").arg(line).stdin(std::process::Stdio::null());
        for (key, value) in env {
            command.env(key, value);
        }
        let output = command.output().expect("sh runs");
        assert!(output.status.success(), "sh failed: {output:?}");
        String::from_utf8(output.stdout).expect("utf-8")
    }

    #[test]
    fn quote_leaves_plain_words_alone() {
        assert_eq!(shell_quote("sonnet"), "sonnet");
        assert_eq!(shell_quote("claude-opus-4-1"), "claude-opus-4-1");
        assert_eq!(shell_quote("openrouter/x:y@1.5"), "openrouter/x:y@1.5");
    }

    #[test]
    fn quote_wraps_anything_else() {
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("$HOME"), "'$HOME'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote("x;rm -rf /"), "'x;rm -rf /'");
        assert_eq!(shell_quote("*"), "'*'");
        assert_eq!(shell_quote("~"), "'~'");
    }

    #[test]
    fn quote_round_trips_through_sh() {
        let samples = [
            "",
            "plain",
            "two words",
            "it's",
            "''",
            "$HOME `id` $(id)",
            "back\\slash \"dq\"",
            "line\nbreak\ttab",
            "glob * ? [a]",
            "-n",
            "ünïcödé ✓",
        ];
        for sample in samples {
            let line = format!("printf '%s|' {}", shell_quote(sample));
            assert_eq!(run_sh(&line, &[]), format!("{sample}|"), "for {sample:?}");
        }
    }

    #[test]
    fn preset_names_round_trip() {
        for (preset, name) in Preset::ALL.into_iter().zip(Preset::NAMES) {
            assert_eq!(preset.name(), name);
            assert_eq!(preset.to_string(), name);
            assert_eq!(name.parse::<Preset>(), Ok(preset));
        }
        assert_eq!(" Claude ".parse::<Preset>(), Ok(Preset::Claude));
        let err = "cursor".parse::<Preset>().unwrap_err();
        assert_eq!(err.to_string(), "unknown worker preset `cursor` (presets: script, claude, codex, aider, gemini)");
    }

    #[test]
    fn claude_line_has_print_json_and_limits() {
        let line = preset_command(Preset::Claude, &ctx(Some("opus"), Some(30), Some(2.5)));
        assert_eq!(
            line,
            "exec claude -p --output-format json --dangerously-skip-permissions \
             --model opus --max-turns 30 --max-budget-usd 2.5 < \"$LANES_PROMPT_FILE\""
        );
    }

    #[test]
    fn claude_line_without_limits_has_no_limit_flags() {
        let line = preset_command(Preset::Claude, &ctx(None, None, None));
        assert_eq!(
            line,
            "exec claude -p --output-format json --dangerously-skip-permissions \
             < \"$LANES_PROMPT_FILE\""
        );
    }

    #[test]
    fn codex_line_uses_exec_json_sandbox_and_stdin() {
        let line = preset_command(Preset::Codex, &ctx(Some("gpt-5-codex"), Some(30), Some(2.0)));
        let w = words(&line);
        assert_eq!(&w[..3], ["exec", "codex", "exec"]);
        for flag in ["--json", "--sandbox", "workspace-write", "--add-dir", "-"] {
            assert!(w.contains(&flag), "{flag} missing from {line}");
        }
        assert!(line.contains("--model gpt-5-codex"));
        assert!(line.ends_with(" - < \"$LANES_PROMPT_FILE\""));
        // Codex takes no turn or budget limit.
        assert!(!line.contains("--max-turns") && !line.contains("budget"));
        assert!(!line.contains("--full-auto"));
    }

    #[test]
    fn aider_line_reads_message_file_and_never_prompts() {
        let line = preset_command(Preset::Aider, &ctx(Some("sonnet"), None, Some(1.0)));
        assert!(line.starts_with("exec aider --message-file \"$LANES_PROMPT_FILE\""));
        for flag in [
            "--yes-always",
            "--no-auto-commits",
            "--no-gitignore",
            "--no-check-update",
            "--no-show-release-notes",
            "--analytics-disable",
            "--no-pretty",
            "--no-fancy-input",
        ] {
            assert!(words(&line).contains(&flag), "{flag} missing from {line}");
        }
        assert!(line.ends_with("--model sonnet"));
        assert!(!line.contains('<'), "aider gets the prompt as a file option");
    }

    #[test]
    fn gemini_line_is_headless_yolo_json() {
        let line = preset_command(Preset::Gemini, &ctx(Some("gemini-2.5-pro"), Some(9), None));
        assert_eq!(
            line,
            "exec gemini --approval-mode yolo --output-format json --model gemini-2.5-pro \
             -p 'Carry out the task described above.' < \"$LANES_PROMPT_FILE\""
        );
    }

    #[test]
    fn script_line_runs_the_conventional_script() {
        let line = preset_command(Preset::Script, &ctx(None, None, None));
        assert_eq!(line, "exec \"${LANES_WORKER_SCRIPT:-./lanes-worker.sh}\"");
    }

    #[test]
    fn model_with_shell_characters_is_quoted() {
        let line = preset_command(Preset::Claude, &ctx(Some("x'; rm -rf ~"), None, None));
        assert!(line.contains("--model 'x'\\''; rm -rf ~'"), "{line}");
    }

    #[test]
    fn blank_model_is_left_out() {
        let line = preset_command(Preset::Gemini, &ctx(Some("  "), None, None));
        assert!(!line.contains("--model"));
    }

    #[test]
    fn every_preset_line_is_valid_sh() {
        for preset in Preset::ALL {
            let line = preset_command(preset, &ctx(Some("a b'c"), Some(3), Some(0.75)));
            run_sh(&format!("sh -n -c {}", shell_quote(&line)), &[]);
        }
    }

    /// Runs each preset line against fake agents that print their arguments and stdin, so the
    /// quoting and the prompt redirection are checked by a real shell.
    #[test]
    fn preset_lines_deliver_arguments_and_prompt() {
        let dir = std::env::temp_dir().join(format!("lanes-worker-test-{}", std::process::id()));
        let bin = dir.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        for agent in ["claude", "codex", "aider", "gemini"] {
            let path = bin.join(agent);
            std::fs::write(&path, "#!/bin/sh\nfor a in \"$@\"; do printf '[%s]' \"$a\"; done\necho\ncat\n").unwrap();
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
            }
        }
        let prompt: PathBuf = dir.join("prompt with 'quote'.md");
        std::fs::write(&prompt, "Fix E-01.\n").unwrap();
        let path = format!("{}:/usr/bin:/bin", bin.display());
        let context = WorkerContext { prompt_file: &prompt, ..ctx(Some("my model"), Some(4), Some(1.5)) };
        let mut env: Vec<(&str, OsString)> = context.env();
        env.push(("PATH", OsString::from(&path)));
        env.push((ENV_SIGNAL_DIR, OsString::from("/tmp/signals dir")));
        let env: Vec<(&str, &std::ffi::OsStr)> = env.iter().map(|(k, v)| (*k, v.as_os_str())).collect();

        let out = run_sh(&preset_command(Preset::Claude, &context), &env);
        assert_eq!(
            out,
            "[-p][--output-format][json][--dangerously-skip-permissions][--model][my model]\
             [--max-turns][4][--max-budget-usd][1.5]\nFix E-01.\n"
        );
        let out = run_sh(&preset_command(Preset::Codex, &context), &env);
        assert_eq!(
            out,
            "[exec][--json][--sandbox][workspace-write][--add-dir][/tmp/signals dir]\
             [--model][my model][-]\nFix E-01.\n"
        );
        let out = run_sh(&preset_command(Preset::Aider, &context), &env);
        assert!(out.starts_with(&format!("[--message-file][{}][--yes-always]", prompt.display())), "{out}");
        let out = run_sh(&preset_command(Preset::Gemini, &context), &env);
        assert!(out.ends_with("[-p][Carry out the task described above.]\nFix E-01.\n"), "{out}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn resolve_expands_presets_and_keeps_command_lines() {
        let c = ctx(Some("sonnet"), None, None);
        let claude = resolve_worker("claude", &c).unwrap();
        assert_eq!(claude.preset, Preset::Claude);
        assert_eq!(claude.shell, preset_command(Preset::Claude, &c));
        assert_eq!(resolve_worker(" Gemini\n", &c).unwrap().preset, Preset::Gemini);

        let literal = "python3 tools/fix.py --lane \"$LANES_LANE\"";
        let own = resolve_worker(literal, &c).unwrap();
        assert_eq!(own.preset, Preset::Script);
        assert_eq!(own.shell, literal);
        assert_eq!(own.argv(), ["/bin/sh", "-c", literal]);
        // A preset name followed by arguments is a command line, kept as written.
        assert_eq!(resolve_worker("claude -p hi", &c).unwrap().shell, "claude -p hi");
        assert_eq!(resolve_worker("script", &c).unwrap().shell, "exec \"${LANES_WORKER_SCRIPT:-./lanes-worker.sh}\"");
    }

    #[test]
    fn resolve_rejects_empty_commands_and_bad_limits() {
        assert_eq!(resolve_worker("  \n", &ctx(None, None, None)), Err(WorkerError::EmptyCommand { lane: "E".into() }));
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let err = resolve_worker("claude", &ctx(None, None, Some(bad))).unwrap_err();
            assert!(matches!(err, WorkerError::InvalidBudget { .. }), "{bad}");
        }
        assert_eq!(resolve_worker("codex", &ctx(None, Some(0), None)), Err(WorkerError::ZeroMaxTurns { lane: "E".into() }));
        assert_eq!(WorkerError::EmptyCommand { lane: "E".into() }.to_string(), "worker command for lane E is empty");
    }

    #[test]
    fn env_lists_prompt_work_order_model_and_lane() {
        let env = ctx(None, None, None).env();
        let names: Vec<&str> = env.iter().map(|(k, _)| *k).collect();
        assert_eq!(names, ["LANES_PROMPT_FILE", "LANES_WORK_ORDER", "LANES_MODEL", "LANES_LANE"]);
        assert_eq!(env[2].1, OsString::new());
        assert_eq!(env[3].1, OsString::from("E"));
    }

    const CLAUDE_RESULT: &str = r#"{"type":"result","subtype":"success","is_error":false,"duration_ms":45210,"duration_api_ms":43988,"num_turns":12,"result":"Fixed E-03: {\"braces\": true}\nDone.","session_id":"9f1c2b7e-4c1d-4e55-9d0a-3b8f0c2d1e4f","total_cost_usd":0.4231,"usage":{"input_tokens":38,"cache_creation_input_tokens":15521,"cache_read_input_tokens":204310,"output_tokens":3120,"server_tool_use":{"web_search_requests":0},"service_tier":"standard"},"permission_denials":[],"uuid":"0b7a"}"#;

    #[test]
    fn claude_result_is_read() {
        let log = format!("npm WARN something\n{{not json at all\n{CLAUDE_RESULT}\n[lanes] worker exited 0\n");
        let usage = parse_usage(Preset::Claude, &log).unwrap();
        assert_eq!(
            usage,
            WorkerUsage {
                cost_usd: Some(0.4231),
                turns: Some(12),
                duration_ms: Some(45210),
                is_error: Some(false),
                input_tokens: Some(38 + 15521 + 204_310),
                output_tokens: Some(3120),
                outcome: Some("success".into()),
            }
        );
    }

    #[test]
    fn claude_stream_json_takes_the_last_result() {
        let log = r#"{"type":"system","subtype":"init","session_id":"s","model":"claude-sonnet-4-5"}
{"type":"assistant","message":{"usage":{"input_tokens":5,"output_tokens":7}}}
{"type":"result","subtype":"error_max_turns","is_error":true,"duration_ms":9000,"num_turns":31,"session_id":"s","total_cost_usd":1.02,"usage":{"input_tokens":10,"output_tokens":20}}
"#;
        let usage = parse_usage(Preset::Claude, log).unwrap();
        assert_eq!(usage.cost_usd, Some(1.02));
        assert_eq!(usage.turns, Some(31));
        assert_eq!(usage.is_error, Some(true));
        assert_eq!(usage.outcome.as_deref(), Some("error_max_turns"));
    }

    #[test]
    fn claude_old_cost_field_is_read() {
        let log = r#"{"type":"result","subtype":"success","cost_usd":0.05,"is_error":false,"num_turns":2}"#;
        assert_eq!(parse_usage(Preset::Claude, log).unwrap().cost_usd, Some(0.05));
    }

    #[test]
    fn claude_without_result_gives_none() {
        assert_eq!(parse_usage(Preset::Claude, "Error: not logged in\n"), None);
        assert_eq!(parse_usage(Preset::Claude, ""), None);
        // Cut off at its start: the object cannot be found.
        assert_eq!(parse_usage(Preset::Claude, &CLAUDE_RESULT[40..]), None);
    }

    const CODEX_LOG: &str = r#"Reading prompt from stdin...
{"type":"thread.started","thread_id":"0199a213-81c0-7800-8aa1-bbab2a035a53"}
{"type":"turn.started"}
{"type":"error","message":"Reconnecting... 1/5"}
{"type":"item.completed","item":{"id":"item_0","type":"reasoning","text":"**Searching for README files**"}}
{"type":"item.started","item":{"id":"item_1","type":"command_execution","command":"bash -lc ls","aggregated_output":"","status":"in_progress"}}
{"type":"item.completed","item":{"id":"item_3","type":"agent_message","text":"Fixed E-01."}}
{"type":"turn.completed","usage":{"input_tokens":24763,"cached_input_tokens":24448,"output_tokens":122}}
"#;

    #[test]
    fn codex_usage_sums_turns() {
        let usage = parse_usage(Preset::Codex, CODEX_LOG).unwrap();
        assert_eq!(
            usage,
            WorkerUsage {
                turns: Some(1),
                is_error: Some(false),
                input_tokens: Some(24763),
                output_tokens: Some(122),
                outcome: Some("completed".into()),
                ..WorkerUsage::default()
            }
        );
        let two = format!(
            "{CODEX_LOG}{{\"type\":\"turn.started\"}}\n\
             {{\"type\":\"turn.failed\",\"error\":{{\"message\":\"stream disconnected\"}}}}\n"
        );
        let usage = parse_usage(Preset::Codex, &two).unwrap();
        assert_eq!(usage.turns, Some(2));
        assert_eq!(usage.is_error, Some(true));
        assert_eq!(usage.outcome.as_deref(), Some("stream disconnected"));
    }

    #[test]
    fn codex_error_without_turns_is_an_error() {
        let log = "{\"type\":\"thread.started\",\"thread_id\":\"t\"}\n\
                   {\"type\":\"error\",\"message\":\"401 Unauthorized\"}\n";
        let usage = parse_usage(Preset::Codex, log).unwrap();
        assert_eq!(usage.is_error, Some(true));
        assert_eq!(usage.outcome.as_deref(), Some("401 Unauthorized"));
        assert_eq!(parse_usage(Preset::Codex, "thread started\n"), None);
    }

    const AIDER_LOG: &str = "\
Aider v0.86.1
Main model: anthropic/claude-sonnet-4-20250514 with diff edit format, infinite output
Git repo: .git with 412 files
Repo-map: using 4096 tokens, auto refresh

src/parser.rs
Applied edit to src/parser.rs
Tokens: 8.1k sent, 412 received. Cost: $0.03 message, $0.03 session.

Tokens: 9.0k sent, 2.2k cache hit, 230 received.
Cost: $0.0045 message, $0.04 session.
";

    #[test]
    fn aider_takes_the_last_session_cost() {
        let usage = parse_usage(Preset::Aider, AIDER_LOG).unwrap();
        assert_eq!(usage.cost_usd, Some(0.04));
        assert_eq!(usage.turns, Some(2));
        assert_eq!(usage.is_error, None);
        assert_eq!(parse_usage(Preset::Aider, "Aider v0.86.1\nNo changes.\n"), None);
        // Damaged lines are skipped, not fatal.
        let damaged = format!("{AIDER_LOG}Cost: $ message, $x session.\nCost: $1.2 message\n");
        assert_eq!(parse_usage(Preset::Aider, &damaged).unwrap().cost_usd, Some(0.04));
    }

    const GEMINI_JSON: &str = r#"{
  "session_id": "c4f2a9e0-5b1d-4f7e-9a33-0d2e8b7c6a51",
  "response": "I fixed E-02 by guarding the empty slice.",
  "stats": {
    "models": {
      "gemini-2.5-pro": {
        "api": { "totalRequests": 4, "totalErrors": 0, "totalLatencyMs": 15053 },
        "tokens": { "prompt": 24939, "candidates": 620, "total": 25713, "cached": 21263, "thoughts": 154, "tool": 0 }
      },
      "gemini-2.5-flash-lite": {
        "api": { "totalRequests": 1, "totalErrors": 0, "totalLatencyMs": 800 },
        "tokens": { "prompt": 1000, "candidates": 20, "total": 1020, "cached": 0, "thoughts": 0, "tool": 0 }
      }
    },
    "tools": {
      "totalCalls": 3, "totalSuccess": 3, "totalFail": 0, "totalDurationMs": 1881,
      "totalDecisions": { "accept": 0, "reject": 0, "modify": 0, "auto_accept": 3 },
      "byName": { "run_shell_command": { "count": 3, "success": 3, "fail": 0, "durationMs": 1881 } }
    },
    "files": { "totalLinesAdded": 4, "totalLinesRemoved": 1 }
  }
}"#;

    #[test]
    fn gemini_pretty_json_is_read() {
        let log = format!("Loaded cached credentials.\n{GEMINI_JSON}\n");
        let usage = parse_usage(Preset::Gemini, &log).unwrap();
        assert_eq!(
            usage,
            WorkerUsage {
                turns: Some(5),
                is_error: Some(false),
                input_tokens: Some(25939),
                output_tokens: Some(640),
                ..WorkerUsage::default()
            }
        );
    }

    #[test]
    fn gemini_error_is_reported() {
        let log = r#"{"response":null,"stats":{"models":{}},"error":{"type":"FatalTurnLimitedError","message":"Reached max session turns","code":53}}"#;
        let usage = parse_usage(Preset::Gemini, log).unwrap();
        assert_eq!(usage.is_error, Some(true));
        assert_eq!(usage.outcome.as_deref(), Some("FatalTurnLimitedError"));
        assert_eq!(usage.turns, None);
    }

    #[test]
    fn script_tries_every_format() {
        assert_eq!(parse_usage(Preset::Script, CLAUDE_RESULT).unwrap().cost_usd, Some(0.4231));
        assert_eq!(parse_usage(Preset::Script, AIDER_LOG).unwrap().cost_usd, Some(0.04));
        assert_eq!(parse_usage(Preset::Script, GEMINI_JSON).unwrap().turns, Some(5));
        assert_eq!(parse_usage(Preset::Script, CODEX_LOG).unwrap().turns, Some(1));
        assert_eq!(parse_usage(Preset::Script, "STARTING\nCOMPLETE: 2 fixed\n"), None);
    }

    #[test]
    fn garbage_never_panics() {
        let nasty = [
            "{",
            "{{{{{{{{",
            "}\n{\"type\":",
            "Cost: $",
            "Cost: $1.2.3 message, $4.5.6 session.",
            "Cost: $9e999 message, $9e999 session.",
            "{\"type\":\"result\",\"total_cost_usd\":-5,\"num_turns\":99999999999,\"duration_ms\":-1}",
            "{\"stats\":{\"models\":{\"m\":{\"api\":{\"totalRequests\":\"4\"},\"tokens\":null}}}}",
            "{\"type\":\"turn.completed\",\"usage\":{\"input_tokens\":18446744073709551615}}\n\
             {\"type\":\"turn.completed\",\"usage\":{\"input_tokens\":18446744073709551615}}",
            "\u{0}\u{feff}ü{ü}\r\n{\"a\":1}\r\n",
        ];
        for text in nasty {
            for preset in Preset::ALL {
                let _ = parse_usage(preset, text);
            }
        }
        let odd = parse_usage(Preset::Claude, nasty[6]).unwrap();
        assert_eq!(odd.cost_usd, None);
        assert_eq!(odd.turns, None);
        assert_eq!(odd.duration_ms, None);
        let big = parse_usage(Preset::Codex, nasty[8]).unwrap();
        assert_eq!(big.input_tokens, Some(u64::MAX));
    }

    #[test]
    fn usage_serialises_without_empty_fields() {
        let usage = WorkerUsage { cost_usd: Some(0.5), turns: Some(3), ..WorkerUsage::default() };
        let json = serde_json::to_string(&usage).unwrap();
        assert_eq!(json, r#"{"cost_usd":0.5,"turns":3}"#);
        assert_eq!(serde_json::from_str::<WorkerUsage>(&json).unwrap(), usage);
        assert_eq!(serde_json::to_string(&Preset::Gemini).unwrap(), "\"gemini\"");
    }
}
