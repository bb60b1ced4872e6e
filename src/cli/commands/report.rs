//! `git lanes report [RUN_ID]`: a run's report, wherever it is kept (committed on the branch,
//! under `refs/lanes/runs/<RUN_ID>`, or in the live folder).
//!
//! JSON: `{ "run_id", "source": { "kind", "path", "reference"? }, "resolved": [..], "markdown" }`
//! (`path` is also given at the top level, as before).

use clap::Args;

use crate::cli::context::Ctx;
use crate::cli::error::{CliError, CliResult, Exit};

/// Print a run's report (default: the newest)
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The run id (e.g. 20261125-213011; `git lanes runs` lists them)
    pub run_id: Option<String>,
}

pub fn run(args: ReportArgs, ctx: &Ctx) -> CliResult {
    let (repo, ws) = ctx.setup_workspace()?;
    let id = match args.run_id {
        Some(id) => {
            crate::files::names::check_run_id(&id).map_err(|m| CliError::usage(m).hint("`git lanes runs` lists the run ids"))?;
            id
        }
        None => crate::run::runs::list(&repo, &ws.config)?
            .into_iter()
            .rev()
            .find(|r| r.report.is_some())
            .map(|r| r.id)
            .ok_or_else(|| CliError::state("no run reports yet").hint("start a run with `git lanes run`"))?,
    };
    let (source, text) = crate::run::runs::find_report(&repo, &ws.config, &id)?.ok_or_else(|| {
        CliError::state(format!("run {id} has no report"))
            .hint("`git lanes runs` lists the runs and where their reports are; `git lanes report` prints the newest")
    })?;
    let ui = &ctx.ui;
    if ui.json {
        let path = match &source {
            crate::run::runs::ReportSource::Committed { path }
            | crate::run::runs::ReportSource::Live { path }
            | crate::run::runs::ReportSource::Ref { path, .. } => path.clone(),
        };
        ui.json(serde_json::json!({
            "run_id": id,
            "path": path,
            "source": source,
            "resolved": crate::run::report::resolved_ids(&text),
            "markdown": text,
        }))?;
    } else {
        ui.out(text.trim_end())?;
        if !matches!(source, crate::run::runs::ReportSource::Committed { .. }) {
            ui.info(ui.dim(format!("(from {source})")));
        }
    }
    Ok(Exit::Success)
}
