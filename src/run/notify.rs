//! `notify:` (or `--notify CMD`): a command of the user's told when the run ends or a lane needs
//! a human, with JSON on its standard input, so desktop notifications, chat or a pager can hook
//! in. It runs as `sh -c CMD` in the repository root, through the process module, with at most
//! [`TIMEOUT`]; its output goes to `notify.log` in the run's folder, and a command that fails
//! never changes the run's outcome.
//!
//! What it reads: `{"event": "run_ended", "summary": {…what `run --json` prints…}}` once the run
//! has ended, and `{"event": "lane_needs_human", "run_id", "lane", "reason", "lanes": […]}` when a
//! lane is left for a human while the others still work (no attempt left, the budget reached, its
//! worker failed). `LANES_NOTIFY_EVENT` names the event too.

use std::path::Path;
use std::time::Duration;

use crate::exec::process::{self, EnvPolicy, OutputTarget, ProcessSpec};
use crate::run::context::Run;
use crate::run::summary::{LaneOutcome, RunSummary};

/// How long a notify command may take.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// The notify command of this fixing run (`--notify`, else `lanes.yaml`'s `notify:`), if any (a
/// hunt tells none).
pub(super) fn command(r: &Run<'_>) -> Option<String> {
    if r.task != crate::run::context::TASK_FIX {
        return None;
    }
    r.settings.notify.clone()
}

/// Tell the notify command that `lane` needs a human (`why`); it runs beside the run (not
/// waited for: the run goes on), and is reaped with the run's end.
pub(super) fn lane_needs_human(r: &mut Run<'_>, lane: &str, why: &str) {
    let Some(cmd) = command(r) else { return };
    let body = serde_json::json!({
        "event": "lane_needs_human",
        "run_id": r.run_id,
        "lane": lane,
        "reason": crate::base::redact::redact(why),
        "lanes": LaneOutcome::of(&r.state),
    });
    let input = r.dir.join(lane).join("notify.json");
    let spec = match prepare(&cmd, &r.repo.root, &r.dir, &input, &body, "lane_needs_human") {
        Ok(spec) => spec,
        Err(e) => return r.lane_state(lane).warnings.push(format!("notify: {e}")),
    };
    match process::spawn(&spec) {
        Ok(child) => r.notifying.push(child),
        Err(e) => r.lane_state(lane).warnings.push(format!("notify: could not start `{cmd}`: {e}")),
    }
}

/// Tell the notify command that the run ended, with its summary; waits for it (and for those
/// started while lanes ran) at most [`TIMEOUT`]. Returns what went wrong, for a warning.
pub fn run_ended(root: &Path, run_dir: &Path, cmd: &str, summary: &RunSummary) -> Option<String> {
    let body = serde_json::json!({ "event": "run_ended", "summary": summary.to_json() });
    let spec = match prepare(cmd, root, run_dir, &run_dir.join("notify.json"), &body, "run_ended") {
        Ok(spec) => spec,
        Err(e) => return Some(e),
    };
    match process::run(&spec) {
        Ok(done) if done.ending.success() => None,
        Ok(done) => Some(format!("`{cmd}` ended with {} (its output: {})", done.ending, run_dir.join("notify.log").display())),
        Err(e) => Some(format!("could not start `{cmd}`: {e}")),
    }
}

/// Wait for the lane notifications still running (at most [`TIMEOUT`] each from their start).
pub(super) fn reap(r: &mut Run<'_>) {
    for mut child in std::mem::take(&mut r.notifying) {
        let left = TIMEOUT.saturating_sub(child.started().elapsed());
        if child.wait_timeout(left).is_none() {
            child.terminate(Duration::from_secs(1));
        }
    }
}

/// Write `body` to `input` and the spec that gives it to `sh -c cmd`.
fn prepare(cmd: &str, root: &Path, run_dir: &Path, input: &Path, body: &serde_json::Value, event: &str) -> Result<ProcessSpec, String> {
    let json = serde_json::to_string_pretty(body).map_err(|e| e.to_string())? + "\n";
    crate::base::fsutil::write_atomic(input, json.as_bytes()).map_err(|e| e.to_string())?;
    Ok(ProcessSpec::shell(cmd, root)
        .with_stdin_file(input)
        .with_env(EnvPolicy::Inherit(vec![("LANES_NOTIFY_EVENT".into(), event.into())]))
        .with_output(OutputTarget::File(run_dir.join("notify.log")))
        .with_timeout(TIMEOUT))
}
