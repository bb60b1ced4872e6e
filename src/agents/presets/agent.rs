//! What a preset's file defines: its [`Agent`] (command line, checked version, parser, failure
//! shapes), the `LANES_*` variables its line may refer to, and the helpers that build the line.
//! Each preset file imports from here and from `usage.rs`; nothing here knows the presets.

use super::usage::WorkerUsage;

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
/// Environment variable holding a folder outside the worktree (under the git common dir) where
/// a worker keeps its own state: presets point the agents' history files there.
pub const ENV_STATE_DIR: &str = "LANES_STATE_DIR";
/// Optional user variable naming the script the `script` preset runs.
pub const ENV_WORKER_SCRIPT: &str = "LANES_WORKER_SCRIPT";
/// Script the `script` preset runs, relative to the worktree, when `LANES_WORKER_SCRIPT` is unset.
pub const DEFAULT_WORKER_SCRIPT: &str = "./lanes-worker.sh";
/// The shell every worker line is run with.
pub const SHELL: &str = "/bin/sh";

/// Instruction given with the prompt flag of CLIs that append it to the prompt read from stdin.
pub(super) const TRAILER: &str = "Carry out the task described above.";

/// One agent CLI: how it is started, what it was checked against, how its output is read.
///
/// Each preset's file defines one as `AGENT`; `Preset::agent` finds it. Its `name` is the one
/// place the preset's name is written: `--worker`, help, `init`'s `lanes.yaml`, `doctor`,
/// completions and the program looked up on `PATH` all take it from here.
#[derive(Debug)]
pub struct Agent {
    /// The preset's name (`--worker <name>`), which is also its CLI's executable.
    pub name: &'static str,
    /// Whether the line runs an executable of the preset's name, looked up on `PATH` by the
    /// preflight (`false`: the script preset, whose program is a file in the worktree).
    pub on_path: bool,
    /// The registry package the CLI comes from.
    pub package: &'static str,
    /// How to install it, for the refusal when it is missing and for `doctor`.
    pub install: &'static str,
    /// The version the line and the parser were checked against (its `--help` and source).
    pub checked_version: &'static str,
    /// Every flag the line can pass: the opt-in real-CLI test fails when one is gone.
    pub flags: &'static [&'static str],
    /// Flags the CLI accepts without listing them in `--help` (claude's `--max-turns`).
    pub hidden_flags: &'static [&'static str],
    /// Files and folders the CLI writes into the worktree: never part of a lane's commit.
    pub droppings: &'static [&'static str],
    /// Its own folders under `$HOME` (settings, sessions, logs): writable in git-lanes' sandbox.
    pub home: &'static [&'static str],
    /// Environment variables the CLI takes its credentials from headless (for CI templates).
    pub keys: &'static [&'static str],
    /// The flag a turn limit is passed with, when the CLI has one.
    pub max_turns_flag: Option<&'static str>,
    /// The flag a dollar budget is passed with, when the CLI has one.
    pub max_budget_flag: Option<&'static str>,
    /// Whether the CLI reports a dollar cost.
    pub reports_cost: bool,
    pub(super) line: fn(&LineParts<'_>) -> String,
    pub(super) parse: fn(&str) -> Option<WorkerUsage>,
    pub(super) stuck: fn(&str) -> Option<String>,
}

impl Agent {
    /// The executable the line runs, looked up on `PATH` by the preflight: the preset's name
    /// (`None`: the script preset, whose program is a file in the worktree).
    #[must_use]
    pub fn program(&self) -> Option<&'static str> {
        self.on_path.then_some(self.name)
    }
}

/// The values a preset line may interpolate, already checked and trimmed.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct LineParts<'a> {
    pub(super) model: Option<&'a str>,
    pub(super) max_turns: Option<u32>,
    pub(super) max_budget_usd: Option<f64>,
    pub(super) sandboxed: bool,
}

impl LineParts<'_> {
    pub(super) fn turns(&self) -> Option<String> {
        self.max_turns.map(|n| n.to_string())
    }

    pub(super) fn budget(&self) -> Option<String> {
        self.max_budget_usd.map(|b| b.to_string())
    }
}

/// For agents with no known way of getting stuck.
pub(super) fn never_stuck(_log_tail: &str) -> Option<String> {
    None
}

pub(super) fn push_option(line: &mut String, flag: &str, value: Option<&str>) {
    if let Some(value) = value {
        line.push(' ');
        line.push_str(flag);
        line.push(' ');
        line.push_str(&shell_quote(value));
    }
}

pub(super) fn push_prompt_redirect(line: &mut String) {
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
