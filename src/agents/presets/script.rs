//! The `script` preset, which is also every user's own command line.
//!
//! Line: `exec "${LANES_WORKER_SCRIPT:-./lanes-worker.sh}"`: the conventional script at the
//! worktree root, or the one `LANES_WORKER_SCRIPT` names in the user's environment. A command
//! line that is not a preset name is run as written and read as this preset: every agent's
//! output format is tried in turn, so a hand-written line that runs an agent still gets its
//! usage and its failure reason recorded.

use super::agent::{Agent, LineParts};
use super::usage::WorkerUsage;
use super::{aider, claude, codex, gemini, opencode, qwen};

pub(super) const AGENT: Agent = Agent {
    name: "script",
    on_path: false,
    package: "",
    install: "",
    checked_version: "",
    flags: &[],
    hidden_flags: &[],
    droppings: &[],
    home: &[],
    keys: &[],
    max_turns_flag: None,
    max_budget_flag: None,
    reports_cost: false,
    line,
    parse,
    stuck: super::agent::never_stuck,
};

pub(super) fn line(_: &LineParts<'_>) -> String {
    format!("exec \"${{{}:-{}}}\"", super::agent::ENV_WORKER_SCRIPT, super::agent::DEFAULT_WORKER_SCRIPT)
}

/// Each agent's format in turn, the structured ones first.
fn parse(log: &str) -> Option<WorkerUsage> {
    [&claude::AGENT, &qwen::AGENT, &gemini::AGENT, &opencode::AGENT, &codex::AGENT, &aider::AGENT].into_iter().find_map(|a| (a.parse)(log))
}
