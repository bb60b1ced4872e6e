//! `git lanes sync [--check]`.

use clap::Args;

use crate::cli::context::Ctx;
use crate::cli::error::{CliResult, Exit};
use crate::files::scaffold::now_stamp;

/// Regenerate the catalog's tables from the issue files
///
/// Only the generated regions change (summary row, lane table, each lane's open-issue rows);
/// prose is kept byte for byte. With --check nothing is written and a stale catalog exits 4.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Check only: list every difference and exit 4 when the catalog is out of date
    #[arg(long)]
    pub check: bool,
}

pub fn run(args: SyncArgs, ctx: &Ctx) -> CliResult {
    let (_repo, ws) = ctx.summaries(true)?;
    ws.ensure_clean()?;
    let cat = ctx.require_catalog(&ws)?;
    let synced = cat.sync(&ws, &now_stamp());
    let path = ws.config.catalog.display().to_string();
    let ui = &ctx.ui;
    if ui.json {
        ui.json(serde_json::json!({
            "catalog": path,
            "in_sync": !synced.changed,
            "written": synced.changed && !args.check,
            "differences": synced.differences,
        }))?;
    }
    if !synced.changed {
        ui.info(format!("{path} is up to date ({} issues)", ws.issues.len()));
        return Ok(Exit::Success);
    }
    if args.check {
        if !ui.json {
            for d in &synced.differences {
                ui.out(format!("{}:{}: {}: {}", path, d.line, d.region, d.message))?;
            }
            eprintln!("{} {path} is out of date ({} difference(s))", ui.red("error:"), synced.differences.len());
            eprintln!("  {} run `git lanes sync`", ui.dim("hint:"));
        }
        return Ok(Exit::CheckFailed);
    }
    crate::base::fsutil::write_under(&ws.root, &ws.config.catalog, &synced.bytes)?;
    ui.info(format!("updated {path} ({} change(s))", synced.differences.len()));
    Ok(Exit::Success)
}
