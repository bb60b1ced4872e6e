//! `git lanes init`.

use clap::Args;

use crate::cli::context::Ctx;
use crate::cli::error::{CliError, CliResult, Exit};
use crate::files::config::Config;
use crate::files::scaffold::{self, InitOptions};

/// Scaffold lanes in this repository: catalog, lane folders, agent specs, LogBook, .gitignore
///
/// Asks on a terminal; with --yes (or without a terminal) uses the flags and defaults.
/// Never overwrites an existing file.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Lanes to create, as NAME or NAME=description (default: E and M)
    #[arg(long = "lane", value_name = "NAME[=DESCRIPTION]")]
    pub lanes: Vec<String>,
    /// Do not ask; use the flags and defaults
    #[arg(long, short)]
    pub yes: bool,
    /// Also write a commented lanes.yaml with every setting
    #[arg(long)]
    pub config: bool,
    /// Catalog title
    #[arg(long, default_value = "Issue Catalog")]
    pub title: String,
}

pub fn run(args: InitArgs, ctx: &Ctx) -> CliResult {
    let repo = ctx.repo()?;
    let config = Config::load(&repo.root, &ctx.overrides())?;
    let mut lanes: Vec<(String, String)> = args
        .lanes
        .iter()
        .map(|l| match l.split_once('=') {
            Some((n, d)) => (n.trim().to_string(), d.trim().to_string()),
            None => (l.trim().to_string(), format!("Lane {l} issues")),
        })
        .collect();
    // A repository that already has lanes (specs, issue folders, catalog sections, lanes.yaml)
    // keeps exactly those: init adopts them and never adds lanes nobody asked for.
    let existing = existing_lanes(&repo.root, &config, ctx);
    let mut write_config = args.config;
    if !args.yes && ctx.ui.interactive && !ctx.ui.json {
        let theme = dialoguer::theme::SimpleTheme;
        if lanes.is_empty() {
            let default = if existing.is_empty() {
                "E,M".to_string()
            } else {
                existing.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(",")
            };
            let answer: String = dialoguer::Input::with_theme(&theme)
                .with_prompt("Lanes (comma-separated names)")
                .default(default)
                .interact_text()
                .map_err(|e| CliError::git(format!("prompt failed: {e}")))?;
            for name in answer.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                if let Some(known) = existing.iter().find(|(n, _)| n == name) {
                    lanes.push(known.clone());
                    continue;
                }
                let desc: String = dialoguer::Input::with_theme(&theme)
                    .with_prompt(format!("Description of lane {name}"))
                    .default(format!("Lane {name} issues"))
                    .interact_text()
                    .map_err(|e| CliError::git(format!("prompt failed: {e}")))?;
                lanes.push((name.to_string(), desc));
            }
        }
        if !write_config {
            write_config = dialoguer::Confirm::with_theme(&theme)
                .with_prompt("Write a commented lanes.yaml?")
                .default(false)
                .interact()
                .map_err(|e| CliError::git(format!("prompt failed: {e}")))?;
        }
    }
    let adopted = lanes.is_empty() && !existing.is_empty();
    if lanes.is_empty() {
        lanes = if existing.is_empty() {
            vec![("E".into(), "Lane E issues".into()), ("M".into(), "Lane M issues".into())]
        } else {
            existing.clone()
        };
    }
    let outcomes = scaffold::init(
        &repo.root,
        &config,
        &InitOptions {
            lanes: lanes.clone(),
            catalog_title: args.title,
            write_config,
            worker_presets: crate::agents::presets::Preset::NAMES.join(", "),
        },
    )?;
    let ui = &ctx.ui;
    if ui.json {
        ui.json(serde_json::json!({ "files": outcomes }))?;
    } else {
        for o in &outcomes {
            let what = match o.what {
                "created" => ui.green("created "),
                "appended" => ui.green("appended"),
                _ => ui.dim("kept    "),
            };
            ui.out(format!("{what} {}", o.path.display()))?;
        }
        if adopted {
            let names: Vec<&str> = lanes.iter().map(|(n, _)| n.as_str()).collect();
            ui.info(format!("kept the existing lanes: {} (add one with `git lanes init --lane NAME`)", names.join(", ")));
        }
        ui.info("next: `git lanes new <LANE> <title>` to add an issue, `git lanes status` to see the catalog");
    }
    Ok(Exit::Success)
}

/// The lanes the repository already has, with their descriptions (from their specs, else
/// `Lane X issues`). Unreadable files do not stop `init`: they only hide what they hold.
fn existing_lanes(root: &std::path::Path, config: &Config, ctx: &Ctx) -> Vec<(String, String)> {
    let Ok(ws) = crate::files::workspace::Workspace::load(root, config.clone()) else { return vec![] };
    let cat_lanes = match ctx.catalog(&ws) {
        Ok(Some(Ok(c))) => c.lanes(),
        _ => vec![],
    };
    ws.lanes(&cat_lanes)
        .into_iter()
        .map(|l| {
            let desc = ws.lane_title(&l).unwrap_or_else(|| format!("Lane {l} issues"));
            (l, desc)
        })
        .collect()
}
