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
//! The files, from the bottom up: `agent.rs` (what a preset file defines, and the helpers its
//! line uses) and `usage.rs` (reading a log) know no preset; the agent files import only them
//! (and one another); `preset.rs` is the table, the [`Preset`] enum naming each file's `AGENT`;
//! `worker.rs` turns a setting into a checked command line; `endpoints.rs` says where each CLI
//! sends its requests. This file only declares and re-exports them.
//!
//! To add a preset: add a file here with its `AGENT`, a variant to [`Preset`] (and to
//! `Preset::ALL`), and a row in the preset table of `docs/guide.md` (a test checks it); its name,
//! written once in its `AGENT`, reaches `--worker`'s help and completion, `init`'s `lanes.yaml`,
//! `doctor` and the error for an unknown preset from there.
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

mod agent;
mod aider;
mod claude;
mod codex;
mod copilot;
pub mod endpoints;
mod gemini;
mod opencode;
mod preset;
mod qwen;
mod script;
mod usage;
mod worker;

pub use agent::{
    Agent, DEFAULT_WORKER_SCRIPT, ENV_LANE, ENV_MODEL, ENV_PROMPT_FILE, ENV_SIGNAL_DIR, ENV_STATE_DIR, ENV_WORK_ORDER, ENV_WORKER_SCRIPT,
    SHELL, shell_quote,
};
pub use preset::{Preset, all_droppings, failure_reason, parse_usage, stuck};
pub use usage::{WorkerUsage, last_meaningful_lines};
pub use worker::{
    Installed, WorkerCommand, WorkerContext, WorkerError, check_worker, find_program, installed_agents, lane_setting, preset_command,
    remove_droppings, resolve_worker, worker_path,
};

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod tests;
