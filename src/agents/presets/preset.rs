//! The preset table: the [`Preset`] enum, one variant per agent file, and what is looked up
//! through it (each preset's [`Agent`], its log parser, its stuck shapes, the droppings of all).
//!
//! [`Preset::agent`] is an exhaustive `match`: a new variant does not compile until it names its
//! file's `AGENT`, and [`Preset::ALL`] is checked against the enum by a test.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::agent::Agent;
use super::usage::{WorkerUsage, last_meaningful_lines, repeated_refusal};
use super::{aider, claude, codex, copilot, gemini, opencode, qwen, script};

/// A named way of starting an agent, selectable with `--worker <name>`.
///
/// Written to and read from files by its name (`Agent::name`), like everywhere else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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
    /// Every preset, in the order help text lists them (a test checks that none is missing).
    pub const ALL: [Preset; 8] =
        [Preset::Script, Preset::Claude, Preset::Codex, Preset::Aider, Preset::Gemini, Preset::Opencode, Preset::Qwen, Preset::Copilot];

    /// Every preset name, in the order help text lists them: each [`Preset::ALL`]'s
    /// [`Preset::name`].
    pub const NAMES: [&'static str; Preset::ALL.len()] = {
        let mut names = [""; Preset::ALL.len()];
        let mut i = 0;
        while i < names.len() {
            names[i] = Preset::ALL[i].name();
            i += 1;
        }
        names
    };

    /// The name accepted by `--worker` and shown in help and reports: its file's `AGENT.name`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        self.agent().name
    }

    /// What git-lanes knows about this preset's agent CLI: the `AGENT` its file defines.
    #[must_use]
    pub const fn agent(self) -> &'static Agent {
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

impl Serialize for Preset {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Preset {
    /// Exactly a preset's name (`--worker` also takes other cases; a file holds what was written).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Preset::ALL.into_iter().find(|p| p.name() == name).ok_or_else(|| serde::de::Error::unknown_variant(&name, &Preset::NAMES))
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

#[cfg(test)]
mod tests {
    use crate::agents::presets::preset::*;

    /// `Preset::ALL` holds every variant once. A new variant does not compile here until it is
    /// named, and then fails until `ALL` lists it.
    #[test]
    fn all_lists_every_variant_once_with_its_own_name() {
        let listed = |p: Preset| match p {
            Preset::Script
            | Preset::Claude
            | Preset::Codex
            | Preset::Aider
            | Preset::Gemini
            | Preset::Opencode
            | Preset::Qwen
            | Preset::Copilot => Preset::ALL.iter().filter(|q| **q == p).count(),
        };
        for p in Preset::ALL {
            assert_eq!(listed(p), 1, "{p:?} must be in Preset::ALL once");
        }
        for (p, name) in Preset::ALL.into_iter().zip(Preset::NAMES) {
            assert_eq!(p.name(), name);
            assert_eq!(Preset::ALL.iter().filter(|q| q.name() == name).count(), 1, "two presets are named {name}");
            assert_eq!(name.parse::<Preset>(), Ok(p));
            assert_eq!(serde_json::to_string(&p).unwrap(), format!("\"{name}\""));
            assert_eq!(serde_json::from_str::<Preset>(&format!("\"{name}\"")).unwrap(), p);
            assert_eq!(p.agent().program().is_some(), p != Preset::Script, "every agent but the script runs its own name");
        }
        assert!(serde_json::from_str::<Preset>("\"Claud\"").is_err());
    }
}
