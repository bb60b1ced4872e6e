//! `git lanes sync [--check]`.

use std::path::PathBuf;

use clap::Args;

use crate::cli::context::Ctx;
use crate::cli::error::{CliError, CliResult, Exit};
use crate::files::answers;
use crate::files::catalog::Synced;
use crate::files::config::Config;
use crate::files::scaffold::now_stamp;
use crate::files::workspace::Workspace;

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
    let repo = ctx.repo()?;
    let config = Config::load(&repo.root, &ctx.overrides())?;
    let cache_dir = repo.cache_dir();
    // Read once: the bytes compared are the bytes an answer is remembered for.
    let catalog = crate::base::fsutil::read_optional_capped(&repo.root.join(&config.catalog), crate::files::text::MAX_FILE_BYTES)?;
    if let Some(issues) = answers::recall(&repo.root, &config, &cache_dir, catalog.as_deref(), |a, sum, inputs| a.in_sync(sum, inputs))? {
        return up_to_date(ctx, &config, issues);
    }
    // The catalog is parsed and compared while the summary cache is written.
    let (ws, summaries, synced) = Workspace::load_cached_while(&repo.root, config, &cache_dir, true, |ws| -> Result<Synced, CliError> {
        ws.ensure_clean()?;
        Ok(ctx.parse_catalog(ws, catalog.clone())?.sync(ws, &now_stamp()))
    })?;
    let exit = report(&args, ctx, &ws, synced?, catalog, summaries.map(|s| (s, cache_dir)));
    ws.release_at_exit();
    exit
}

/// Say (or write) what `synced` found; an in-sync outcome is remembered under `summaries` (the
/// summary cache's checksum, when it holds exactly these issues, and where it lives).
fn report(
    args: &SyncArgs,
    ctx: &Ctx,
    ws: &Workspace,
    synced: Synced,
    catalog: Option<Vec<u8>>,
    summaries: Option<(u64, PathBuf)>,
) -> CliResult {
    if !synced.changed {
        if let Some((checksum, cache_dir)) = summaries {
            answers::remember(ws, &cache_dir, checksum, catalog.as_deref(), |a, sum, inputs| {
                a.remember_in_sync(sum, inputs, ws.issues.len())
            });
        }
        return up_to_date(ctx, &ws.config, ws.issues.len());
    }
    let path = ws.config.catalog.display().to_string();
    let ui = &ctx.ui;
    if ui.json {
        ui.json(serde_json::json!({
            "catalog": path,
            "in_sync": false,
            "written": !args.check,
            "differences": synced.differences,
        }))?;
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

/// The catalog is in sync with `issues` issues: nothing to write.
fn up_to_date(ctx: &Ctx, config: &Config, issues: usize) -> CliResult {
    let path = config.catalog.display().to_string();
    let ui = &ctx.ui;
    if ui.json {
        ui.json(serde_json::json!({ "catalog": path, "in_sync": true, "written": false, "differences": [] }))?;
    }
    ui.info(format!("{path} is up to date ({issues} issues)"));
    Ok(Exit::Success)
}
