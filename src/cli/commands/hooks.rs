//! `git lanes hooks install | uninstall`.

use clap::{Args, Subcommand};

use crate::cli::context::Ctx;
use crate::cli::error::{CliResult, Exit};
use crate::gate::hook::{self, HookAction};

/// Install or remove the pre-push hook that runs `git lanes check --pre-push`
///
/// Installs into the hooks directory git uses (core.hooksPath and linked worktrees respected).
/// An existing pre-push hook is never overwritten: it is kept as pre-push.lanes-chained and runs
/// first; uninstall puts it back byte for byte.
#[derive(Debug, Args)]
pub struct HooksArgs {
    #[command(subcommand)]
    pub action: HooksAction,
}

/// `hooks` subcommands.
#[derive(Debug, Subcommand)]
pub enum HooksAction {
    /// Install the pre-push hook, chaining any existing one
    Install,
    /// Remove the pre-push hook and restore the one it chained
    Uninstall,
}

pub fn run(args: HooksArgs, ctx: &Ctx) -> CliResult {
    let repo = ctx.repo()?;
    let dir = hook::hooks_dir(&repo.root)?;
    let actions = match args.action {
        HooksAction::Install => hook::install(&dir)?,
        HooksAction::Uninstall => hook::uninstall(&dir)?,
    };
    let ui = &ctx.ui;
    if ui.json {
        ui.json(serde_json::json!({ "hooks_dir": dir, "actions": actions }))?;
        return Ok(Exit::Success);
    }
    for a in &actions {
        let line = match a {
            HookAction::Installed { path } => format!("installed {}", path.display()),
            HookAction::Updated { path } => format!("updated {} to this version's hook", path.display()),
            HookAction::AlreadyInstalled { path } => format!("{} is already installed; nothing to do", path.display()),
            HookAction::Chained { from, to } => {
                format!("kept the existing hook as {} (it runs first; `uninstall` puts it back)", to.display())
                    + &format!(" — was {}", from.display())
            }
            HookAction::Removed { path } => format!("removed {}", path.display()),
            HookAction::Restored { from, to } => format!("restored {} from {}", to.display(), from.display()),
            HookAction::NotOurs { path } => format!("{} is not git-lanes' hook; left alone", path.display()),
            HookAction::NotInstalled { path } => format!("{} is not installed; nothing to remove", path.display()),
        };
        ui.out(line)?;
    }
    Ok(Exit::Success)
}
