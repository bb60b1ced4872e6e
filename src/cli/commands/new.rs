//! `git lanes new <LANE> <title>`.

use clap::Args;

use crate::cli::context::Ctx;
use crate::cli::error::{CliError, CliResult, Exit};
use crate::files::lifecycle::{self, CatalogSync};
use crate::files::scaffold::{self, NewIssue};
use crate::files::workspace::Workspace;

/// Create the next issue file of a lane from the template (E-04 after E-03)
///
/// The catalog is synced afterwards when it exists, so the new issue is queued at once.
/// A lane the repository does not have is refused (a typo would start a new queue) unless
/// --new-lane is given.
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
    #[arg(long = "path", value_delimiter = ',', value_name = "PATH")]
    pub paths: Vec<String>,
    /// A verification command (repeatable; it passes when it exits 0 and prints no FAIL)
    #[arg(long = "check", value_name = "CMD")]
    pub checks: Vec<String>,
    /// Issues this one depends on
    #[arg(long = "depends-on", value_delimiter = ',', value_name = "ID")]
    pub depends_on: Vec<String>,
    /// Create the lane if the repository does not have it yet
    #[arg(long)]
    pub new_lane: bool,
    /// Open the new file in $VISUAL / $EDITOR before the catalog is synced
    #[arg(long)]
    pub edit: bool,
    /// Do not sync the catalog afterwards
    #[arg(long)]
    pub no_sync: bool,
}

pub fn run(args: NewArgs, ctx: &Ctx) -> CliResult {
    crate::files::names::check_lane(&args.lane).map_err(CliError::usage)?;
    let (repo, ws) = ctx.setup_workspace()?;
    let cat_lanes = match ctx.catalog(&ws)? {
        Some(Ok(c)) => c.lanes(),
        _ => vec![],
    };
    let known = ws.lanes(&cat_lanes);
    if !args.new_lane && !known.contains(&args.lane) {
        let mut e = CliError::usage(format!(
            "lane {} does not exist (lanes: {})",
            args.lane,
            if known.is_empty() { "none yet".into() } else { known.join(", ") }
        ));
        if let Some(near) = crate::files::names::closest(&args.lane, &known) {
            e = e.hint(format!("did you mean `{near}`? `git lanes new {near} …`"));
        }
        return Err(e.hint(format!("to start lane {} with this issue, add `--new-lane`", args.lane)));
    }
    let n = NewIssue {
        lane: args.lane,
        title: args.title.join(" "),
        severity: args.severity,
        tags: args.tags,
        affected_paths: args.paths,
        depends_on: args.depends_on,
        checks: args.checks,
    };
    let (id, path) = scaffold::new_issue(&ws, &n)?;
    if args.edit {
        edit(ctx, &repo.root, &path)?;
    }
    let synced = if args.no_sync { false } else { sync_catalog(ctx, &ws)? };
    let ui = &ctx.ui;
    if ui.json {
        ui.json(serde_json::json!({ "id": id, "path": path, "catalog_synced": synced, "checks": n.checks.len() }))?;
    } else {
        ui.out(path.display().to_string())?;
        let next =
            if n.checks.is_empty() { "; write its verification commands (or pass `--check CMD`) before a run can resolve it" } else { "" };
        ui.info(format!("created {id}{}{next}", if synced { " and synced the catalog" } else { "" }));
    }
    Ok(Exit::Success)
}

/// Open `rel` in the user's editor (`$VISUAL`, then `$EDITOR`, then `vi`), run as git runs it:
/// through `sh`, so an editor with arguments (`code -w`) works. The file stays if it no longer
/// parses; the error says so.
fn edit(ctx: &Ctx, root: &std::path::Path, rel: &std::path::Path) -> Result<(), CliError> {
    let editor =
        ["VISUAL", "EDITOR"].iter().filter_map(|k| std::env::var(k).ok()).find(|v| !v.trim().is_empty()).unwrap_or_else(|| "vi".into());
    let file = root.join(rel);
    let file = file.to_string_lossy();
    let script = format!("{editor} \"$@\"");
    let code = crate::exec::process::run_foreground("sh", &["-c", &script, &editor, &file], root, &[]).map_err(crate::Error::from)?;
    if code != Some(0) {
        return Err(CliError::git(format!("the editor `{editor}` failed ({})", code.map_or("killed".into(), |c| format!("exit {c}"))))
            .hint(format!("the issue file is kept: {}", rel.display())));
    }
    let bytes = crate::base::fsutil::read(&root.join(rel))?;
    if let Err(p) = crate::files::issue::Issue::parse(rel, bytes) {
        return Err(CliError::from(p).hint(format!("fix {} and run `git lanes sync`", rel.display())));
    }
    ctx.ui.info(ctx.ui.dim(format!("edited {}", rel.display())));
    Ok(())
}

/// Re-sync the catalog after an issue file changed (when the catalog exists and every issue file
/// reads cleanly), saying why not when it could not be; returns whether it was written.
pub(super) fn sync_catalog(ctx: &Ctx, ws: &Workspace) -> Result<bool, CliError> {
    let sync = lifecycle::resync_after_edit(ws)?;
    warn_unsynced(ctx, &sync);
    Ok(sync.written())
}

/// The warning for a catalog that was left as it was.
pub(super) fn warn_unsynced(ctx: &Ctx, sync: &CatalogSync) {
    match sync {
        CatalogSync::IssueProblems(first) => {
            let first = first.as_ref().map(|p| format!("{}: {}; ", p.location(), p.message)).unwrap_or_default();
            ctx.ui.warn(format!("{first}the catalog was not synced (run `git lanes validate` for every problem)"));
        }
        CatalogSync::Unparsable(p) => ctx.ui.warn(format!("the catalog was not synced: {p}")),
        CatalogSync::NoCatalog | CatalogSync::Synced { .. } => {}
    }
}
