//! `git lanes new <LANE> <title>`.

use clap::Args;

use crate::cli::context::Ctx;
use crate::cli::error::{CliResult, Exit};
use crate::scaffold::{self, NewIssue};

/// Create the next issue file of a lane from the template (E-04 after E-03)
///
/// The catalog is synced afterwards when it exists, so the new issue is queued at once.
#[derive(Debug, Args)]
pub struct NewArgs {
    /// The lane (e.g. E)
    pub lane: String,
    /// The issue title
    #[arg(required = true, num_args = 1..)]
    pub title: Vec<String>,
    /// Severity from 1 to 10
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u8).range(1..=10))]
    pub severity: u8,
    /// Type tags (repeat or comma-separate)
    #[arg(long = "tag", value_delimiter = ',')]
    pub tags: Vec<String>,
    /// Affected paths (repeat or comma-separate)
    #[arg(long = "path", value_delimiter = ',')]
    pub paths: Vec<String>,
    /// Issues this one depends on
    #[arg(long = "depends-on", value_delimiter = ',')]
    pub depends_on: Vec<String>,
    /// Do not sync the catalog afterwards
    #[arg(long)]
    pub no_sync: bool,
}

pub fn run(args: NewArgs, ctx: &Ctx) -> CliResult {
    let (_repo, ws) = ctx.workspace()?;
    let n = NewIssue {
        lane: args.lane,
        title: args.title.join(" "),
        severity: args.severity,
        tags: args.tags,
        affected_paths: args.paths,
        depends_on: args.depends_on,
    };
    let (id, path) = scaffold::new_issue(&ws, &n)?;
    let mut synced = false;
    if !args.no_sync && ws.ensure_clean().is_ok() {
        // Reload so the new file is part of the catalog.
        let ws = crate::workspace::Workspace::load(&ws.root, ws.config.clone())?;
        if let Some(Ok(cat)) = ctx.catalog(&ws)? {
            let s = cat.sync(&ws, &scaffold::now_stamp());
            if s.changed {
                crate::fsutil::write_atomic(&ws.root.join(&ws.config.catalog), &s.bytes)?;
                synced = true;
            }
        }
    }
    let ui = &ctx.ui;
    if ui.json {
        ui.json(serde_json::json!({ "id": id, "path": path, "catalog_synced": synced }))?;
    } else {
        ui.out(path.display().to_string())?;
        ui.info(format!(
            "created {id}{}; write its verification commands before a run can resolve it",
            if synced { " and synced the catalog" } else { "" }
        ));
    }
    Ok(Exit::Success)
}
