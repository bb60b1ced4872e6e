//! `git lanes report [RUN_ID]`.

use std::path::PathBuf;

use clap::Args;

use crate::cli::context::Ctx;
use crate::cli::error::{CliError, CliResult, Exit};

/// Print a run's report (default: the newest)
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The run id (e.g. 20261125-213011)
    pub run_id: Option<String>,
}

pub fn run(args: ReportArgs, ctx: &Ctx) -> CliResult {
    let (repo, ws) = ctx.workspace()?;
    let runs_dir = ws.root.join(&ws.config.runs);
    let committed = |id: &str| runs_dir.join(format!("{id}.md"));
    let live = |id: &str| repo.lanes_dir().join("runs").join(id).join("report.md");
    let path: PathBuf = match &args.run_id {
        Some(id) => {
            crate::names::check_lane(&id.replace('.', "-")).map_err(CliError::usage)?;
            [committed(id), live(id)].into_iter().find(|p| p.exists()).ok_or_else(|| {
                CliError::new(1, format!("no report for run {id}"))
                    .hint("`git lanes report` without an id prints the newest; `git lanes status` names the last run")
            })?
        }
        None => {
            let mut found: Vec<(String, PathBuf)> = std::fs::read_dir(&runs_dir)
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|e| {
                    let n = e.file_name().to_string_lossy().into_owned();
                    n.strip_suffix(".md").map(|id| (id.to_string(), e.path()))
                })
                .collect();
            for e in std::fs::read_dir(repo.lanes_dir().join("runs")).into_iter().flatten().flatten() {
                let id = e.file_name().to_string_lossy().into_owned();
                if live(&id).exists() && !found.iter().any(|(f, _)| f == &id) {
                    found.push((id.clone(), live(&id)));
                }
            }
            found.sort_by(|a, b| crate::names::natural_cmp(&a.0, &b.0));
            found.pop().map(|(_, p)| p).ok_or_else(|| CliError::new(1, "no run reports yet").hint("start a run with `git lanes run`"))?
        }
    };
    let text = String::from_utf8_lossy(&crate::fsutil::read(&path)?).into_owned();
    let ui = &ctx.ui;
    if ui.json {
        ui.json(serde_json::json!({ "path": path, "resolved": crate::report::resolved_ids(&text), "markdown": text }))?;
    } else {
        ui.out(text.trim_end())?;
    }
    Ok(Exit::Success)
}
