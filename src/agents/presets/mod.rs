//! Agent presets: how each agent CLI is started headless in a lane worktree, what is checked
//! before a run starts, and how its log is read while it runs and after it ended.
//!
//! Start at [`resolve_worker`]: it turns what the user configured (`--worker`, `lanes.yaml`, the
//! spec's `worker:` key) into a [`WorkerCommand`], either a preset's line or a literal command
//! line kept verbatim. Each agent has one file here (`claude.rs`, `codex.rs`, `gemini.rs`,
//! `aider.rs`, `opencode.rs`, `qwen.rs`, `copilot.rs`, `script.rs`) holding its [`Agent`]: the
//! command line, the version it was checked against, the output parser and the failure shapes the
//! CLI is known to show. Around them:
//! - before anything is created, [`check_worker`] refuses a worker whose program is not there
//!   (the preflight);
//! - while a worker runs, [`stuck`] recognises a CLI that will never finish on its own (offline
//!   retry loops, a browser login nobody will complete);
//! - after it ended, [`parse_usage`] reads cost, turns, tokens and whether the agent itself says
//!   it failed, and [`failure_reason`] gives the words shown to the user.
//!
//! # Design note: every worker is one `sh -c` line
//!
//! The runner starts children with stdin set to null, so no agent can be fed its prompt through a
//! pipe held by git-lanes. Each preset therefore reads the prompt from the file named by
//! `$LANES_PROMPT_FILE`, through a redirection (`< "$LANES_PROMPT_FILE"`), a file option
//! (`aider --message-file`) or an argument (`copilot --prompt="$(cat …)"`). Redirecting a regular
//! file also gives the CLI an end of input, which matters: agent CLIs that read stdin when it is
//! not a terminal wait forever on an open pipe.
//!
//! A preset and a user's own command are then the same thing, a shell line run as
//! `/bin/sh -c <line>` in the lane worktree ([`WorkerCommand::argv`]), so one code path spawns both
//! and `--dry-run` can print exactly what will run. Paths are never interpolated: the line refers
//! to the `LANES_*` variables the runner sets ([`WorkerContext::env`] lists the ones this module
//! relies on), so a path with spaces or quotes cannot break it. The few values that are
//! interpolated (model, turn and budget limits) go through [`shell_quote`]. Preset lines start
//! with `exec` where they can, so the agent replaces the shell: its exit status is the worker's,
//! and signals reach it without a shell in between.
//!
//! # Design note: the agent's word over its exit status
//!
//! Agent CLIs do not agree on what an exit status means: aider exits 0 after an authentication
//! error, claude prints `"subtype":"success"` with `"is_error":true` when it is not logged in,
//! qwen reports `is_error:false` for a result that is an API error. So a lane's outcome follows
//! what the CLI *said* ([`WorkerUsage::is_error`]) when it said anything, and its exit status
//! only otherwise; the reason shown is the agent's own message, or the last meaningful lines of
//! its log ([`failure_reason`]).
//!
//! # Agent CLIs that hang after finishing
//!
//! `claude -p` has repeatedly been reported to stay alive after printing its result (background
//! Bash tasks, MCP servers or language servers holding stdio open), and so have `codex exec` and
//! the Gemini CLI in some versions. Nothing here can prevent that; the runner ends the lane's
//! process group a grace period after `.done` appears (docs/design.md#follow).

#![deny(clippy::print_stdout, clippy::print_stderr)]

mod aider;
mod claude;
mod codex;
mod copilot;
pub mod endpoints;
mod gemini;
mod opencode;
mod qwen;
mod script;

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

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
const TRAILER: &str = "Carry out the task described above.";

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
    /// opencode (`opencode run`).
    Opencode,
    /// Qwen Code (`qwen -p`).
    Qwen,
    /// GitHub Copilot CLI (`copilot --prompt`).
    Copilot,
}

impl Preset {
    /// Every preset, in the order help text lists them.
    pub const ALL: [Preset; 8] =
        [Preset::Script, Preset::Claude, Preset::Codex, Preset::Aider, Preset::Gemini, Preset::Opencode, Preset::Qwen, Preset::Copilot];

    /// Every preset name, in the order help text lists them.
    pub const NAMES: [&'static str; 8] = ["script", "claude", "codex", "aider", "gemini", "opencode", "qwen", "copilot"];

    /// The name accepted by `--worker` and shown in help and reports.
    #[must_use]
    pub fn name(self) -> &'static str {
        self.agent().name
    }

    /// What git-lanes knows about this preset's agent CLI.
    #[must_use]
    pub fn agent(self) -> &'static Agent {
        match self {
            Preset::Script => &script::AGENT,
            Preset::Claude => &claude::AGENT,
            Preset::Codex => &codex::AGENT,
            Preset::Aider => &aider::AGENT,
            Preset::Gemini => &gemini::AGENT,
            Preset::Opencode => &opencode::AGENT,
            Preset::Qwen => &qwen::AGENT,
            Preset::Copilot => &copilot::AGENT,
        }
    }

    /// Whether the preset passes `max_turns` on to the agent (the others ignore it).
    #[must_use]
    pub fn accepts_max_turns(self) -> bool {
        self.agent().max_turns_flag.is_some()
    }

    /// Whether the preset passes `max_budget_usd` on to the agent (the others ignore it).
    #[must_use]
    pub fn accepts_max_budget(self) -> bool {
        self.agent().max_budget_flag.is_some()
    }

    /// Whether the agent reports a dollar cost that [`parse_usage`] can read.
    #[must_use]
    pub fn reports_cost(self) -> bool {
        self.agent().reports_cost
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

/// One agent CLI: how it is started, what it was checked against, how its output is read.
///
/// Each preset's file defines one as `AGENT`; [`Preset::agent`] finds it.
#[derive(Debug)]
pub struct Agent {
    /// The preset's name (`--worker <name>`).
    pub name: &'static str,
    /// The executable the line runs, looked up on `PATH` by the preflight (`None`: the script
    /// preset, whose program is a file in the worktree).
    pub program: Option<&'static str>,
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
    line: fn(&LineParts<'_>) -> String,
    parse: fn(&str) -> Option<WorkerUsage>,
    stuck: fn(&str) -> Option<String>,
}

/// The values a preset line may interpolate, already checked and trimmed.
#[derive(Debug, Clone, Copy, Default)]
struct LineParts<'a> {
    model: Option<&'a str>,
    max_turns: Option<u32>,
    max_budget_usd: Option<f64>,
    sandboxed: bool,
}

impl LineParts<'_> {
    fn turns(&self) -> Option<String> {
        self.max_turns.map(|n| n.to_string())
    }

    fn budget(&self) -> Option<String> {
        self.max_budget_usd.map(|b| b.to_string())
    }
}

/// For agents with no known way of getting stuck.
fn never_stuck(_log_tail: &str) -> Option<String> {
    None
}

/// Errors found while turning a worker setting into a command line, or while checking it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WorkerError {
    /// The name is not a preset.
    #[error("unknown worker preset `{name}` (presets: {})", Preset::NAMES.join(", "))]
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
    /// The program a worker line starts is not there.
    #[error("{program} (the worker of lane {lane}) is not installed: {why}")]
    ProgramMissing {
        /// The lane whose worker it is.
        lane: String,
        /// The program as the line names it.
        program: String,
        /// `not found on PATH`, `no such file …`.
        why: String,
        /// How to get it.
        hint: String,
    },
}

impl WorkerError {
    /// The command or setting that fixes the error, for the `hint:` line.
    #[must_use]
    pub fn hint(&self) -> Option<String> {
        match self {
            WorkerError::UnknownPreset { .. } => {
                Some("pass a preset name or a shell command line, e.g. `--worker claude` or `--worker 'sh my-worker.sh'`".into())
            }
            WorkerError::EmptyCommand { .. } => Some("set `worker:` in lanes.yaml or the lane's spec, or pass `--worker`".into()),
            WorkerError::InvalidBudget { .. } => Some("pass a positive amount, e.g. `--max-budget-usd 2.5`".into()),
            WorkerError::ZeroMaxTurns { .. } => Some("pass at least one turn, e.g. `--max-turns 40`".into()),
            WorkerError::ProgramMissing { hint, .. } => Some(hint.clone()),
        }
    }
}

/// What a worker is started with, beyond its command line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WorkerContext<'a> {
    /// Spec body followed by the work order; presets read the prompt from here.
    pub prompt_file: &'a Path,
    /// The lane's work order.
    pub work_order_file: &'a Path,
    /// A folder outside the worktree for the worker's own state (`LANES_STATE_DIR`).
    pub state_dir: &'a Path,
    /// Model the spec asks for, passed to the agent as given (`sonnet`, `gpt-5-codex`, ...).
    pub model: Option<&'a str>,
    /// Turn limit, for presets that accept one ([`Preset::accepts_max_turns`]).
    pub max_turns: Option<u32>,
    /// Dollar budget, for presets that accept one ([`Preset::accepts_max_budget`]).
    pub max_budget_usd: Option<f64>,
    /// The lane, for error messages and `LANES_LANE`.
    pub lane: &'a str,
    /// Whether git-lanes runs the worker in its own sandbox: an agent whose own sandbox cannot
    /// start inside it (codex's bubblewrap) is told to rely on the outer one.
    pub sandboxed: bool,
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
            (ENV_STATE_DIR, self.state_dir.as_os_str().to_owned()),
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

    fn parts(&self) -> LineParts<'_> {
        LineParts {
            model: self.model.map(str::trim).filter(|m| !m.is_empty()),
            max_turns: self.max_turns.filter(|&n| n > 0),
            max_budget_usd: self.max_budget_usd.filter(|b| b.is_finite() && *b > 0.0),
            sandboxed: self.sandboxed,
        }
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

/// The worker setting a lane uses: `--worker`, else the spec's `worker:`, else `lanes.yaml`.
#[must_use]
pub fn lane_setting<'a>(flag: Option<&'a str>, spec: Option<&'a str>, config: Option<&'a str>) -> Option<&'a str> {
    flag.or(spec).or(config)
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
/// out rather than passed on. Each agent's file documents its line and why each flag is there.
#[must_use]
pub fn preset_command(preset: Preset, ctx: &WorkerContext<'_>) -> String {
    (preset.agent().line)(&ctx.parts())
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

/// Every file or folder any known agent CLI drops into a worktree (see [`Agent::droppings`]).
///
/// The same list serves every lane, also one running a user's own command line (which may well
/// start aider): the names are the agents' own caches and histories, never a project's work.
#[must_use]
pub fn all_droppings() -> Vec<PathBuf> {
    let mut all: Vec<PathBuf> = Vec::new();
    for preset in Preset::ALL {
        for d in preset.agent().droppings {
            let p = PathBuf::from(d);
            if !all.contains(&p) {
                all.push(p);
            }
        }
    }
    all
}

/// Deletes the agents' droppings ([`all_droppings`]) from a lane worktree once its worker has
/// ended, so that a merged lane's worktree is clean and can be removed. Only untracked ones go:
/// a dropping name the project itself tracks (no index entry at or under it) is left alone.
///
/// # Errors
///
/// When the worktree cannot be opened or a dropping cannot be deleted.
pub fn remove_droppings(worktree: &Path) -> crate::base::error::Result<()> {
    let repo = git2::Repository::open(worktree).map_err(|e| crate::base::error::Error::git("could not open the lane worktree", e))?;
    let index = repo.index().map_err(|e| crate::base::error::Error::git("could not read the lane worktree's index", e))?;
    for dropping in all_droppings() {
        let name = dropping.to_string_lossy().into_owned();
        let under = format!("{name}/");
        let tracked = index.iter().any(|e| {
            let path = String::from_utf8_lossy(&e.path);
            path == name || path.starts_with(&under)
        });
        let full = worktree.join(&dropping);
        if tracked || std::fs::symlink_metadata(&full).is_err() {
            continue;
        }
        let removed = if full.is_dir() { std::fs::remove_dir_all(&full) } else { std::fs::remove_file(&full) };
        removed.map_err(|e| crate::base::error::Error::io("could not remove", &full, e))?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Preflight

/// Checks that a worker can start: a preset's CLI is on `PATH`, the `script` preset's script
/// exists, and a command line's first word is a program that can be found.
///
/// `path` is the `PATH` the worker will see; `root` is the repository root (lane worktrees are
/// checkouts of it, so a relative program is looked up there). A first word the shell itself
/// resolves (a builtin, a keyword, a variable, a subshell) is not checked.
///
/// # Errors
///
/// [`WorkerError::ProgramMissing`] naming the program and how to install or configure it.
pub fn check_worker(cmd: &WorkerCommand, lane: &str, path: Option<&OsStr>, root: &Path) -> Result<(), WorkerError> {
    let missing = |program: &str, why: String, hint: String| WorkerError::ProgramMissing {
        lane: lane.to_owned(),
        program: program.to_owned(),
        why,
        hint,
    };
    let agent = cmd.preset.agent();
    if let Some(program) = agent.program {
        if find_program(program, path).is_none() {
            return Err(missing(
                program,
                "not found on PATH".into(),
                format!("install it with `{}`, or pick another worker with `--worker`", agent.install),
            ));
        }
        return Ok(());
    }
    if cmd.shell == script::line(&LineParts::default()) {
        let script = std::env::var(ENV_WORKER_SCRIPT).ok().filter(|s| !s.is_empty()).unwrap_or_else(|| DEFAULT_WORKER_SCRIPT.to_owned());
        let full = root.join(&script);
        if !full.is_file() {
            return Err(missing(
                &script,
                format!("no such file at {}", full.display()),
                format!(
                    "commit an executable {DEFAULT_WORKER_SCRIPT} at the repository root, set {ENV_WORKER_SCRIPT}, or pass `--worker` with a preset or a command line"
                ),
            ));
        }
        return Ok(());
    }
    let Some(first) = first_program(&cmd.shell) else { return Ok(()) };
    let at_root = |name: &str| if Path::new(name).is_absolute() { PathBuf::from(name) } else { root.join(name) };
    if first.contains('/') {
        let full = at_root(&first);
        if !full.exists() {
            return Err(missing(
                &first,
                format!("no such file at {}", full.display()),
                "fix the worker command line (`worker:` in lanes.yaml or the spec, or `--worker`)".into(),
            ));
        }
        return Ok(());
    }
    if find_program(&first, path).is_none() {
        let known = Preset::ALL.into_iter().map(Preset::agent).find(|a| a.program == Some(first.as_str()));
        let hint = match known {
            Some(agent) => format!("install it with `{}`", agent.install),
            None => format!("install `{first}` or fix the worker command line (`worker:` in lanes.yaml or the spec, or `--worker`)"),
        };
        return Err(missing(&first, "not found on PATH".into(), hint));
    }
    // `sh fix.sh`: the script is looked for where the worker starts, its lane worktree (a
    // checkout of HEAD), not where the command was typed.
    if let Some(script) = interpreted_script(&cmd.shell) {
        let full = at_root(&script);
        if !full.exists() {
            return Err(missing(
                &script,
                format!("no such file at {} (a worker starts in its lane worktree, a checkout of HEAD)", full.display()),
                "give the script's absolute path, or commit it in the repository".into(),
            ));
        }
    }
    Ok(())
}

/// The script an interpreter is given as its first argument (`sh fix.sh`, `python3 w.py`), when
/// the line can be read without running a shell.
fn interpreted_script(line: &str) -> Option<String> {
    const INTERPRETERS: &[&str] = &["sh", "bash", "dash", "zsh", "python", "python3", "node", "perl", "ruby"];
    let first = first_program(line)?;
    let name = first.rsplit('/').next().unwrap_or(&first);
    if !INTERPRETERS.contains(&name) {
        return None;
    }
    let mut rest = line.trim_start();
    while let Some(word) = shell_word(&mut rest) {
        if word == first {
            break;
        }
    }
    let arg = shell_word(&mut rest)?;
    let plain =
        !arg.is_empty() && !arg.starts_with('-') && !arg.contains(['$', '`', '(', ')', '{', '}', ';', '&', '|', '<', '>', '*', '?', '~']);
    plain.then_some(arg)
}

/// The program a shell line starts, when it can be told without running a shell: leading
/// `exec`/`env`/`command` and `NAME=value` words are skipped; `None` for a line that starts with
/// shell syntax, a builtin or a variable.
fn first_program(line: &str) -> Option<String> {
    const SHELL_WORDS: &[&str] = &[
        "if", "for", "while", "until", "case", "then", "do", "!", "{", "(", "[", "[[", "cd", ".", ":", "true", "false", "echo", "printf",
        "set", "export", "test", "eval", "source", "trap", "exit", "read", "unset", "umask", "wait", "ulimit",
    ];
    let mut rest = line.trim_start();
    loop {
        let word = shell_word(&mut rest)?;
        if word.is_empty() {
            return None;
        }
        if matches!(word.as_str(), "exec" | "env" | "command" | "nohup") {
            continue;
        }
        if word.contains('=')
            && !word.starts_with('=')
            && word.split('=').next().is_some_and(|n| n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        {
            continue;
        }
        if word.contains(['$', '`', '(', ')', '{', '}', ';', '&', '|', '<', '>', '*', '?']) || SHELL_WORDS.contains(&word.as_str()) {
            return None;
        }
        return Some(word);
    }
}

/// Takes one shell word off the front of `rest` (plain, `'…'` or `"…"` quoting); `None` at the end.
fn shell_word(rest: &mut &str) -> Option<String> {
    let text = rest.trim_start();
    if text.is_empty() {
        return None;
    }
    let mut word = String::new();
    let mut chars = text.char_indices().peekable();
    let mut end = text.len();
    while let Some((i, c)) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                end = i;
                break;
            }
            '\'' | '"' => {
                let mut closed = false;
                for (_, q) in chars.by_ref() {
                    if q == c {
                        closed = true;
                        break;
                    }
                    word.push(q);
                }
                if !closed {
                    return None;
                }
            }
            '\\' => {
                if let Some((_, n)) = chars.next() {
                    word.push(n);
                }
            }
            c => word.push(c),
        }
    }
    *rest = &text[end..];
    Some(word)
}

/// The `PATH` a worker sees: this binary's folder first, so `git lanes signal …` works from it.
#[must_use]
pub fn worker_path() -> Option<OsString> {
    let exe = std::env::current_exe().ok()?;
    let mut path = OsString::from(exe.parent()?);
    if let Some(old) = std::env::var_os("PATH") {
        path.push(":");
        path.push(old);
    }
    Some(path)
}

/// The full path of `program` on `path` (a `PATH` value), when there is an executable file.
#[must_use]
pub fn find_program(program: &str, path: Option<&OsStr>) -> Option<PathBuf> {
    if program.contains('/') {
        let p = PathBuf::from(program);
        return is_executable(&p).then_some(p);
    }
    std::env::split_paths(path?).map(|dir| dir.join(program)).find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// One preset's CLI as found on this machine, for `doctor`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Installed {
    /// The preset.
    pub preset: Preset,
    /// Its executable.
    pub program: String,
    /// Where it was found; `None`: not installed.
    pub path: Option<PathBuf>,
    /// The first line of `<program> --version`, when it printed one.
    pub version: Option<String>,
    /// The version git-lanes' preset was checked against.
    pub checked_version: String,
    /// How to install it.
    pub install: String,
}

/// Every preset CLI on `path`, with its version (each `--version` runs in parallel, at most
/// `timeout` each).
#[must_use]
pub fn installed_agents(path: Option<&OsStr>, timeout: Duration) -> Vec<Installed> {
    let agents: Vec<&Agent> = Preset::ALL.into_iter().map(Preset::agent).filter(|a| a.program.is_some()).collect();
    std::thread::scope(|s| {
        let handles: Vec<_> = agents
            .iter()
            .map(|agent| {
                s.spawn(move || {
                    let program = agent.program.unwrap_or_default();
                    let found = find_program(program, path);
                    let version = found.as_deref().and_then(|p| version_of(p, timeout));
                    Installed {
                        preset: agent.name.parse().unwrap_or(Preset::Script),
                        program: program.to_owned(),
                        path: found,
                        version,
                        checked_version: agent.checked_version.to_owned(),
                        install: agent.install.to_owned(),
                    }
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    })
}

fn version_of(program: &Path, timeout: Duration) -> Option<String> {
    let spec = crate::exec::process::ProcessSpec::new(program.as_os_str(), ["--version"], std::env::temp_dir())
        .with_output(crate::exec::process::OutputTarget::capture())
        .with_timeout(timeout);
    let done = crate::exec::process::run(&spec).ok()?;
    if !done.ending.success() {
        return None;
    }
    done.output.text.lines().map(str::trim).find(|l| !l.is_empty()).map(str::to_owned)
}

// ---------------------------------------------------------------------------------------------
// Reading what the agent said

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
    fn failed(reason: impl Into<String>) -> WorkerUsage {
        WorkerUsage { is_error: Some(true), reason: Some(clip(&reason.into())), ..WorkerUsage::default() }
    }
}

/// Reads what the agent reported from the end of a worker's log (stdout and stderr together).
///
/// Pass a generous tail (the last 256 KiB, say): a result object cut off at its start is not
/// found. Returns `None` when the log holds nothing the preset's format recognises. For
/// [`Preset::Script`] each format is tried in turn, so a hand-written line that runs an agent
/// still gets its usage recorded. Never panics, whatever the log holds.
#[must_use]
pub fn parse_usage(preset: Preset, log_tail: &str) -> Option<WorkerUsage> {
    (preset.agent().parse)(log_tail)
}

/// Why a worker failed, in words for the user: the agent's own message when its output says
/// one ([`WorkerUsage::reason`]), else the last meaningful lines of its log (blank lines, stack
/// frames, JSON events and git-lanes' own markers skipped). Secret-like strings are redacted.
#[must_use]
pub fn failure_reason(preset: Preset, log_tail: &str) -> Option<String> {
    let said = parse_usage(preset, log_tail).and_then(|u| u.reason);
    let reason = said.or_else(|| last_meaningful_lines(log_tail, 3))?;
    Some(crate::base::redact::redact(&reason).into_owned())
}

/// When the log shows a CLI that will never finish on its own (an offline retry loop, a browser
/// login nobody will complete), why — so the runner can end it now instead of at the timeout.
#[must_use]
pub fn stuck(preset: Preset, log_tail: &str) -> Option<String> {
    let why = match preset {
        // A user's line may run any agent: every known shape applies.
        Preset::Script => Preset::ALL.into_iter().filter(|p| *p != Preset::Script).find_map(|p| (p.agent().stuck)(log_tail)),
        _ => (preset.agent().stuck)(log_tail),
    }
    .or_else(|| repeated_refusal(log_tail))?;
    Some(crate::base::redact::redact(&why).into_owned())
}

/// How many times the same authentication or quota error must be seen to end the lane: a CLI
/// that retries a rejected key (claude for three minutes) will not succeed on its own.
const REFUSALS: usize = 3;

/// The same authentication or quota error, [`REFUSALS`] times: the API refuses the key or the
/// account, and retrying will not change that. Lines are compared with their digits removed
/// (timestamps, attempt counters); the content an agent reads or writes (tool output events) is
/// not looked at.
fn repeated_refusal(log: &str) -> Option<String> {
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
fn clip(text: &str) -> String {
    const MAX: usize = 400;
    let text = text.trim();
    match text.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

fn strip_ansi(line: &str) -> String {
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

/// Every JSON object that starts a line (after any prefix), in order: JSONL event streams.
fn json_lines(text: &str) -> impl Iterator<Item = Map<String, Value>> + '_ {
    text.lines().filter_map(|line| line.find('{').and_then(|at| first_json_object(&line[at..])))
}

/// The JSON object at the very start of `text`, ignoring whatever follows it.
fn first_json_object(text: &str) -> Option<Map<String, Value>> {
    match serde_json::Deserializer::from_str(text).into_iter::<Value>().next() {
        Some(Ok(Value::Object(object))) => Some(object),
        _ => None,
    }
}

/// `error.message` (or `error` itself when it is a string) of a JSON object.
fn error_message(object: &Map<String, Value>) -> Option<String> {
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

/// Lines of `log` that contain `needle`.
fn count_lines(log: &str, needle: &str) -> usize {
    log.lines().filter(|l| l.contains(needle)).count()
}

/// The first line of `log` that starts with `Error:` (after trimming), with the line after it
/// when that one explains it.
fn error_line(log: &str) -> Option<String> {
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

#[cfg(test)]
pub(crate) mod tests;
