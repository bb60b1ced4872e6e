//! The recorded outputs of each agent CLI under `tests/fixtures/agents/<name>/`, for the parser
//! tests in each preset's file and in `tests.rs`. Test-only; it knows a preset only by its `Agent`.

use std::path::{Path, PathBuf};

use super::agent::Agent;

/// A recorded run: its stdout followed by its stderr, as the worker log holds them.
pub(super) fn fixture_log(agent: &Agent, case: &str) -> String {
    let dir = fixture_dir(agent);
    let read = |ext: &str| std::fs::read_to_string(dir.join(format!("{case}.{ext}"))).unwrap_or_default();
    let log = format!("{}{}", read("stdout"), read("stderr"));
    assert!(!log.is_empty(), "fixture {}/{case} is missing or empty", agent.name);
    log
}

/// The folder of one agent's recorded outputs and `--help` texts.
pub(super) fn fixture_dir(agent: &Agent) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/agents").join(agent.name)
}
