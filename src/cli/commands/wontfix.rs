//! `git lanes wontfix <ID> --reason TEXT`: close an issue without a fix.

use clap::Args;

use crate::cli::context::Ctx;
use crate::cli::error::{CliError, CliResult, Exit};
use crate::files::lifecycle::{self, StatusChange};

/// Close an open issue as WONTFIX, with the reason recorded in its Resolution section
///
/// Only the status bytes change, plus one appended line; the catalog is synced. RESOLVED is never
/// set by hand: a run earns it through the issue's verification commands.
#[derive(Debug, Args)]
pub struct WontfixArgs {
    /// The issue id (e.g. E-03)
    pub id: String,
    /// Why it will not be fixed (recorded in the issue file)
    #[arg(long, value_name = "TEXT")]
    pub reason: String,
}

pub fn run(args: WontfixArgs, ctx: &Ctx) -> CliResult {
    let (_repo, ws) = ctx.setup_workspace()?;
    ws.ensure_clean()?;
    let issue = find(&ws, &args.id)?;
    if args.reason.trim().is_empty() {
        return Err(CliError::usage("--reason is empty").hint(format!("git lanes wontfix {} --reason \"out of scope\"", args.id)));
    }
    match lifecycle::wontfix(&ws, issue, &args.reason, &crate::files::scaffold::today())? {
        StatusChange::Unchanged => {
            ctx.ui.info(format!("{} is already WONTFIX; nothing changed", args.id));
            Ok(Exit::Success)
        }
        StatusChange::Resolved => Err(CliError::state(format!("{} is RESOLVED; it was fixed and verified", args.id))
            .hint(format!("`git lanes reopen {}` first if the fix did not hold", args.id))),
        StatusChange::Changed { path, catalog } => {
            super::new::warn_unsynced(ctx, &catalog);
            report(ctx, &args.id, "WONTFIX", &path, catalog.written())
        }
    }
}

/// The issue with this id, or a usage error naming it.
pub(super) fn find<'a>(ws: &'a crate::files::workspace::Workspace, id: &str) -> Result<&'a crate::files::issue::Issue, CliError> {
    crate::files::names::check_id(id).map_err(CliError::usage)?;
    ws.issue(id).ok_or_else(|| {
        let ids: Vec<String> = ws.issues.iter().map(|i| i.id().to_string()).collect();
        let mut e = CliError::usage(format!("issue {id} does not exist"));
        if let Some(near) = crate::files::names::closest(id, &ids) {
            e = e.hint(format!("did you mean {near}?"));
        }
        e.hint("`git lanes status` lists the lanes; the issue files are under the issues folder")
    })
}

pub(super) fn report(ctx: &Ctx, id: &str, status: &str, path: &std::path::Path, synced: bool) -> CliResult {
    let ui = &ctx.ui;
    if ui.json {
        ui.json(serde_json::json!({ "id": id, "status": status, "path": path, "catalog_synced": synced }))?;
    } else {
        ui.info(format!("{id} is now {status}{}", if synced { "; the catalog is synced" } else { "" }));
    }
    Ok(Exit::Success)
}
