//! Continuing an agent's conversation on a lane's next attempt, for the CLIs that can resume a
//! session headless: the session is found in the last attempt's log and the preset's line is
//! turned into the one that resumes it. Presets without such a hook start fresh (their prompt
//! carries the feedback either way).
//!
//! - claude: every `--output-format json` result object carries `"session_id"`; `claude -p
//!   --resume <id>` continues that session with the new prompt from stdin.

use super::presets::Preset;

/// The session the last attempt's `log` names, for a preset that can resume one. Only an id of
/// letters, digits, `-` and `_` (at most 128) is taken: it goes into a shell line.
pub fn session_id(preset: Preset, log: &str) -> Option<String> {
    if preset != Preset::Claude {
        return None;
    }
    let id = log
        .lines()
        .rev()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line.trim()).ok())
        .find_map(|v| v.get("session_id").and_then(serde_json::Value::as_str).map(str::to_owned))?;
    let safe = !id.is_empty() && id.len() <= 128 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    safe.then_some(id)
}

/// `line` (the preset's own line) made to resume `session`; `None` when the line is not the
/// preset's (a user's own command line is never rewritten).
pub fn resumed_line(preset: Preset, line: &str, session: &str) -> Option<String> {
    const CLAUDE: &str = "exec claude -p ";
    match preset {
        Preset::Claude if line.contains(CLAUDE) => Some(line.replacen(CLAUDE, &format!("exec claude -p --resume {session} "), 1)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use crate::agents::resume::*;

    #[test]
    fn a_claude_session_is_resumed_with_its_id_and_nothing_unsafe_reaches_the_line() {
        let log = "noise\n{\"type\":\"result\",\"subtype\":\"success\",\"session_id\":\"9f1c-ab_2\",\"total_cost_usd\":0.1}\n";
        let id = session_id(Preset::Claude, log).unwrap();
        assert_eq!(id, "9f1c-ab_2");
        let line = "IS_SANDBOX=1 exec claude -p --output-format json --dangerously-skip-permissions < \"$LANES_PROMPT_FILE\"";
        assert_eq!(
            resumed_line(Preset::Claude, line, &id).unwrap(),
            "IS_SANDBOX=1 exec claude -p --resume 9f1c-ab_2 --output-format json --dangerously-skip-permissions < \"$LANES_PROMPT_FILE\""
        );
        assert_eq!(session_id(Preset::Claude, "{\"session_id\":\"x; rm -rf ~\"}\n"), None);
        assert_eq!(session_id(Preset::Claude, "no json\n"), None);
        assert_eq!(session_id(Preset::Codex, log), None, "no resume hook for it");
        assert_eq!(resumed_line(Preset::Script, "sh my-worker.sh", &id), None);
    }
}
