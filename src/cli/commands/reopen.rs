//! `git lanes reopen <ID>`: put a closed issue back in its lane's queue.

use clap::Args;

use crate::cli::context::Ctx;
use crate::cli::error::{CliResult, Exit};
use crate::files::lifecycle::{self, StatusChange};

/// Reopen a RESOLVED or WONTFIX issue (it joins its lane's queue again)
///
/// Only the status bytes change, plus one dated line in its Resolution section; the catalog is
/// synced.
#[derive(Debug, Args)]
pub struct ReopenArgs {
    /// The issue id (e.g. E-03)
    pub id: String,
    /// Why it is reopened (recorded in the issue file)
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
}

pub fn run(args: ReopenArgs, ctx: &Ctx) -> CliResult {
    let (_repo, ws) = ctx.setup_workspace()?;
    ws.ensure_clean()?;
    let issue = super::wontfix::find(&ws, &args.id)?;
    match lifecycle::reopen(&ws, issue, args.reason.as_deref(), &crate::files::scaffold::today())? {
        StatusChange::Unchanged => {
            ctx.ui.info(format!("{} is already OPEN; nothing changed", args.id));
            Ok(Exit::Success)
        }
        // Only an OPEN issue is left alone; kept for the match to stay exhaustive.
        StatusChange::Resolved => Ok(Exit::Success),
        StatusChange::Changed { path, catalog } => {
            super::new::warn_unsynced(ctx, &catalog);
            super::wontfix::report(ctx, &args.id, "OPEN", &path, catalog.written())
        }
    }
}
