//! `git lanes reopen <ID>`: put a closed issue back in its lane's queue.

use clap::Args;

use crate::cli::context::Ctx;
use crate::cli::error::{CliResult, Exit};
use crate::files::issue::Status;
use crate::files::rewrite::Edit;

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
    if issue.status() == Status::Open {
        ctx.ui.info(format!("{} is already OPEN; nothing changed", args.id));
        return Ok(Exit::Success);
    }
    let was = issue.status();
    let note = match args.reason.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
        Some(r) => format!("{} (was {was}) — {r}", crate::files::scaffold::today()),
        None => format!("{} (was {was})", crate::files::scaffold::today()),
    };
    let mut e = Edit::new(issue);
    e.set_status(Status::Open).add_resolution_note("Reopened", &note);
    e.write(&ws.root, issue)?;
    let path = issue.path.clone();
    let synced = super::new::sync_catalog(ctx, &ws)?;
    super::wontfix::report(ctx, &args.id, "OPEN", &path, synced)
}
