//! `git lanes validate`.

use clap::Args;

use crate::cli::context::Ctx;
use crate::cli::error::{CliResult, Exit};
use crate::files::answers;
use crate::files::catalog::Catalog;
use crate::files::config::Config;
use crate::files::validate::Report;
use crate::files::workspace::Workspace;

/// Check every issue file, agent spec and the catalog, and list every problem
///
/// Reports parse errors with path:line, misplaced files, duplicate and unknown ids, dependency
/// cycles, a stale catalog, and verification commands that are missing or dangerous.
/// Exits 4 when any error is found.
#[derive(Debug, Args)]
pub struct ValidateArgs {}

pub fn run(_args: ValidateArgs, ctx: &Ctx) -> CliResult {
    let repo = ctx.repo()?;
    let config = Config::load(&repo.root, &ctx.overrides())?;
    let cache_dir = repo.cache_dir();
    // Read once: the bytes validated are the bytes a report is remembered for.
    let catalog = crate::base::fsutil::read_optional_capped(&repo.root.join(&config.catalog), crate::files::text::MAX_FILE_BYTES)?;
    // Hunter specs are read here, not remembered: `hunt` alone loads them.
    let hunters = crate::files::validate::hunter_specs(&repo.root, &config)?;
    if let Some(mut report) =
        answers::recall(&repo.root, &config, &cache_dir, catalog.as_deref(), |a, sum, inputs| a.validated(sum, inputs))?
    {
        report.errors.extend(hunters);
        return show(ctx, &report);
    }
    // Validated while the summary cache is written.
    let (ws, summaries, report) = Workspace::load_cached_while(&repo.root, config, &cache_dir, true, |ws| {
        let parsed = catalog.clone().map(|bytes| Catalog::parse(&ws.config.catalog, bytes));
        crate::files::validate::validate(ws, parsed.as_ref())
    })?;
    if let Some(sum) = summaries {
        answers::remember(&ws, &cache_dir, sum, catalog.as_deref(), |a, sum, inputs| a.remember_validated(sum, inputs, &report));
    }
    ws.release_at_exit();
    let mut report = report;
    report.errors.extend(hunters);
    show(ctx, &report)
}

fn show(ctx: &Ctx, report: &Report) -> CliResult {
    let ui = &ctx.ui;
    if ui.json {
        ui.json(serde_json::to_value(report).map_err(std::io::Error::other)?)?;
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
