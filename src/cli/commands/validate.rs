//! `git lanes validate`.

use clap::Args;

use crate::cli::context::Ctx;
use crate::cli::error::{CliResult, Exit};
use crate::files::workspace::Workspace;

/// Check every issue file, agent spec and the catalog, and list every problem
///
/// Reports parse errors with path:line, misplaced files, duplicate and unknown ids, dependency
/// cycles, a stale catalog, and verification commands that are missing or dangerous.
/// Exits 4 when any error is found.
#[derive(Debug, Args)]
pub struct ValidateArgs {}

pub fn run(_args: ValidateArgs, ctx: &Ctx) -> CliResult {
    let (_repo, ws) = ctx.summaries(true)?;
    let exit = show(ctx, &ws);
    ws.release_at_exit();
    exit
}

fn show(ctx: &Ctx, ws: &Workspace) -> CliResult {
    let catalog = ctx.catalog(ws)?;
    let report = crate::files::validate::validate(ws, catalog.as_ref());
    let ui = &ctx.ui;
    if ui.json {
        ui.json(serde_json::to_value(&report).map_err(std::io::Error::other)?)?;
    } else {
        for p in &report.errors {
            ui.out(ui.problem_lines(p, "error"))?;
        }
        for p in &report.warnings {
            ui.out(ui.problem_lines(p, "warning"))?;
        }
        let summary =
            format!("{} issue files: {} error(s), {} warning(s)", report.issues_checked, report.errors.len(), report.warnings.len());
        if report.errors.is_empty() { ui.info(ui.green(summary)) } else { eprintln!("{}", ui.red(summary)) }
    }
    Ok(if report.errors.is_empty() { Exit::Success } else { Exit::CheckFailed })
}
