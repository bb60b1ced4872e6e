//! From a worker setting to a checked command line: [`resolve_worker`] (a preset's line or the
//! user's own, kept verbatim), the preflight ([`check_worker`]), the droppings removed after a
//! worker ended, and the inventory of installed agent CLIs for `doctor`.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::agent::{
    DEFAULT_WORKER_SCRIPT, ENV_LANE, ENV_MODEL, ENV_PROMPT_FILE, ENV_STATE_DIR, ENV_WORK_ORDER, ENV_WORKER_SCRIPT, LineParts, SHELL,
};
use super::preset::{Preset, all_droppings};
use super::script;

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

    pub(super) fn validate(&self) -> Result<(), WorkerError> {
        if let Some(value) = self.max_budget_usd.filter(|v| !(v.is_finite() && *v > 0.0)) {
            return Err(WorkerError::InvalidBudget { lane: self.lane.to_owned(), value });
        }
        if self.max_turns == Some(0) {
            return Err(WorkerError::ZeroMaxTurns { lane: self.lane.to_owned() });
        }
        Ok(())
    }

    pub(super) fn parts(&self) -> LineParts<'_> {
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
    if let Some(program) = agent.program() {
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
        let known = Preset::ALL.into_iter().map(Preset::agent).find(|a| a.program() == Some(first.as_str()));
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
pub(super) fn interpreted_script(line: &str) -> Option<String> {
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
pub(super) fn first_program(line: &str) -> Option<String> {
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
pub(super) fn shell_word(rest: &mut &str) -> Option<String> {
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
    let presets: Vec<(Preset, &'static str)> = Preset::ALL.into_iter().filter_map(|p| Some((p, p.agent().program()?))).collect();
    std::thread::scope(|s| {
        let handles: Vec<_> = presets
            .iter()
            .map(|&(preset, program)| {
                s.spawn(move || {
                    let agent = preset.agent();
                    let found = find_program(program, path);
                    let version = found.as_deref().and_then(|p| version_of(p, timeout));
                    Installed {
                        preset,
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
