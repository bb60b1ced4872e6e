//! `git lanes clean`.

use clap::Args;

use crate::cli::context::Ctx;
use crate::cli::error::{CliResult, Exit};

/// Remove finished runs' worktrees and merged lane branches
///
/// Every tip is kept under refs/lanes/archive/<RUN_ID>/<LANE> before a branch is deleted.
/// Unmerged lanes and worktrees with uncommitted changes are kept unless --force (which commits
/// those changes on the lane branch first, so nothing is lost).
#[derive(Debug, Args)]
pub struct CleanArgs {
    /// Also remove unmerged lanes (their tips stay archived)
    #[arg(long)]
    pub force: bool,
    /// Show what would be removed, remove nothing
    #[arg(long)]
    pub dry_run: bool,
}

pub fn run(args: CleanArgs, ctx: &Ctx) -> CliResult {
    let (repo, ws) = ctx.workspace()?;
    let actions = crate::run::clean::plan(&repo, &ws.config, args.force)?;
    if !args.dry_run {
        crate::run::clean::apply(&repo, &ws.config, &actions)?;
    }
    let ui = &ctx.ui;
    if ui.json {
        ui.json(serde_json::json!({ "dry_run": args.dry_run, "actions": actions }))?;
    } else {
        // The list is what clean did, for people: `-q` silences it (errors still print).
        for a in actions.iter().filter(|_| !ui.quiet) {
            let line = if args.dry_run {
                format!("{} {}", ui.yellow("would"), a.describe(&a.action))
            } else {
                a.describe(&ui.green(a.done_verb()))
            };
            ui.out(line)?;
        }
        if actions.is_empty() {
            ui.info("nothing to clean");
        }
    }
    Ok(Exit::Success)
}
