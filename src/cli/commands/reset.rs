//! `git lanes reset`.

use clap::Args;

use crate::cli::context::Ctx;
use crate::cli::error::{CliError, CliResult, Exit};
use crate::files::config::Config;
use crate::run::state::RunState;

/// Clear signal files and reset the run state file for a new run
///
/// The seed orchestrator's step 1. Refuses while a run holds the lock.
#[derive(Debug, Args)]
pub struct ResetArgs {}

pub fn run(_args: ResetArgs, ctx: &Ctx) -> CliResult {
    let repo = ctx.repo()?;
    let config = Config::load(&repo.root, &ctx.overrides())?;
    if let Some(holder) = crate::run::lock::holder(&repo.lanes_dir()) {
        return Err(CliError::state(format!("a run is in progress (pid {holder})"))
            .hint("wait for it, or stop it with Ctrl-C; `git lanes status` shows it"));
    }
    let removed = crate::files::signal::clear(&repo.root.join(&config.signals))?;
    let mut state = RunState::fresh();
    // Keys another tool keeps in the state file (the seed's `complexity_notes`) survive a reset.
    if let Ok(Some(old)) = RunState::load(&repo.root, &config.state) {
        state.extra = old.extra;
    }
    state.save(&repo.root, &config.state)?;
    let ui = &ctx.ui;
    if ui.json {
        ui.json(serde_json::json!({ "signals_removed": removed, "state": config.state }))?;
    } else {
        ui.info(format!("removed {removed} signal file(s); reset {}", config.state.display()));
    }
    Ok(Exit::Success)
}
