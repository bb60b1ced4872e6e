//! `git lanes diff <LANE> [--run ID]`: a lane's branch against the commit its run started from,
//! through the user's own `git diff` (their pager, colours and diff settings apply).
//!
//! JSON (`--json`, schema_version 1): `{ "run_id", "lane", "base", "tip", "files": [ { "status"
//! (git's letter: A, M, D, R…), "path" } ] }`.

use clap::Args;

use crate::cli::context::Ctx;
use crate::cli::error::{CliError, CliResult, Exit};

/// Show what a lane changed: its branch against the run's base, through git's pager and colours
///
/// Arguments after `--` go to `git diff` (e.g. `-- --stat`, `-- -- src/`).
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The lane (e.g. E)
    pub lane: String,
    /// The run (default: the newest run that has this lane; `git lanes runs` lists them)
    #[arg(long = "run", value_name = "RUN_ID")]
    pub run_id: Option<String>,
    /// Extra `git diff` arguments (after `--`)
    #[arg(last = true, value_name = "GIT_DIFF_ARGS")]
    pub git_args: Vec<String>,
}

pub fn run(args: DiffArgs, ctx: &Ctx) -> CliResult {
    let (repo, _ws) = ctx.setup_workspace()?;
    if let Some(id) = &args.run_id {
        crate::files::names::check_run_id(id).map_err(|m| CliError::usage(m).hint("`git lanes runs` lists the run ids"))?;
    }
    let lane = crate::run::runs::lane_ref(&repo, &args.lane, args.run_id.as_deref())?;
    let (base, tip) = crate::run::runs::lane_range(&repo, &lane)?;
    let ui = &ctx.ui;
    if ui.json {
        let files = crate::git::gitcli::git(&repo.root, &["diff", "--no-color", "--name-status", &base, &tip])?;
        let files: Vec<serde_json::Value> =
            files.lines().filter_map(|l| l.split_once('\t')).map(|(st, path)| serde_json::json!({ "status": st, "path": path })).collect();
        ui.json(serde_json::json!({ "run_id": lane.run_id, "lane": lane.lane, "base": base, "tip": tip, "files": files }))?;
        return Ok(Exit::Success);
    }
    ui.info(ui.dim(format!("run {} lane {}: {}..{}", lane.run_id, lane.lane, &base[..base.len().min(10)], &tip[..tip.len().min(10)])));
    let mut argv: Vec<&str> = vec!["diff"];
    if ctx.global.color == crate::cli::args::ColorChoice::Always {
        argv.push("--color=always");
    } else if ctx.global.color == crate::cli::args::ColorChoice::Never || !ctx.ui.color && std::env::var_os("NO_COLOR").is_some() {
        argv.push("--no-color");
    }
    argv.push(&base);
    argv.push(&tip);
    argv.extend(args.git_args.iter().map(String::as_str));
    match crate::exec::process::run_foreground("git", &argv, &repo.root, &[]).map_err(crate::Error::from)? {
        Some(0) => Ok(Exit::Success),
        code => Err(CliError::new(
            crate::cli::error::ExitKind::Git,
            format!("`git {}` failed ({})", argv.join(" "), code.map_or("killed by a signal".into(), |c| format!("exit {c}"))),
        )),
    }
}
