//! `git lanes demo`: the whole pipeline on the embedded example, for real.

use clap::Args;

use crate::cli::context::Ctx;
use crate::cli::error::{CliError, CliResult, Exit};
use crate::cli::progress::LaneDisplay;
use crate::git::gitcli::git;
use crate::git::repo::Repo;
use crate::run::{self, RunOptions};

/// Build a throwaway repository from the embedded example and run the whole pipeline on it
///
/// Lanes E and M with five issues; an example worker fixes them in parallel worktrees; git-lanes
/// verifies each fix, integrates the lanes, commits the report and prints it. Then a hunting pass:
/// the example worker hunts for new issues, and only its findings that reproduce are committed. The repository is
/// kept so you can look around (`git log`, `git lanes status`).
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where to build the repository (default: a new temporary folder)
    #[arg(long, value_name = "DIR")]
    pub dir: Option<std::path::PathBuf>,
}

pub fn run(args: DemoArgs, ctx: &Ctx) -> CliResult {
    let root = match args.dir {
        Some(d) => {
            if d.exists() && std::fs::read_dir(&d).map(|mut r| r.next().is_some()).unwrap_or(true) {
                return Err(
                    CliError::usage(format!("{} exists and is not empty", d.display())).hint("pass a new folder, or leave out --dir")
                );
            }
            crate::base::fsutil::create_dir_all(&d)?;
            d
        }
        None => tempfile::Builder::new()
            .prefix("git-lanes-demo-")
            .tempdir()
            .map_err(|e| CliError::git(format!("could not create a temporary folder: {e}")))?
            .keep(),
    };
    let root = root.canonicalize().unwrap_or(root);
    let ui = &ctx.ui;
    ui.info(format!("building the example repository in {}", root.display()));
    crate::files::example::write(&root)?;
    let init = || -> crate::Result<()> {
        git(&root, &["init", "--quiet", "-b", "main"])?;
        git(&root, &["config", "user.name", "git-lanes demo"])?;
        git(&root, &["config", "user.email", "demo@git-lanes.invalid"])?;
        git(&root, &["add", "-A"])?;
        git(&root, &["commit", "--quiet", "--no-verify", "-m", "example repository: two lanes, five issues"])?;
        Ok(())
    };
    init()?;
    let repo = Repo::open(Some(&root))?;
    let config = crate::files::config::Config::load(&repo.root, &Default::default())?;
    let ws = crate::files::workspace::Workspace::load(&repo.root, config)?;
    let interrupts = super::run_live::install_ctrl_c();
    let mut display = LaneDisplay::new(ui);
    let mut observer = |e: &run::RunEvent| display.event(e);
    let summary = run::run(&repo, ws, RunOptions::default(), &mut observer, interrupts.clone());
    display.finish();
    let summary = summary?;
    if !ui.json
        && let Some(rel) = &summary.report
    {
        let path = if rel.is_absolute() { rel.clone() } else { root.join(rel) };
        if let Ok(text) = std::fs::read_to_string(&path) {
            ui.out(text.trim_end())?;
            ui.out("")?;
        }
    }
    let exit = super::run_live::print_summary(ctx, &summary)?;
    // The other half of the cycle: hunters look for new problems, and only findings whose checks
    // fail on the code as it is now are kept.
    ui.info("hunting pass: the example worker hunts for new issues in both lanes");
    let repo = Repo::open(Some(&root))?;
    let config = crate::files::config::Config::load(&repo.root, &Default::default())?;
    let ws = crate::files::workspace::Workspace::load(&repo.root, config)?;
    let mut display = LaneDisplay::new(ui);
    let mut observer = |e: &run::RunEvent| display.event(e);
    let hunted = run::hunt(&repo, ws, run::HuntOptions::default(), &mut observer, interrupts);
    display.finish();
    let hunted = hunted?;
    let hunt_exit = if ui.json {
        ui.info(format!("hunt {}: {} new issue(s), {} finding(s) rejected", hunted.run_id, hunted.accepted.len(), hunted.rejected.len()));
        if hunted.needs_human.is_empty() { Exit::Success } else { Exit::NeedsHuman }
    } else {
        super::hunt::print_summary(ctx, &hunted)?
    };
    ui.info(format!(
        "explore it: cd {} && git log --oneline && git lanes status (then `git lanes run` fixes the hunted issues)",
        root.display()
    ));
    Ok(if exit == Exit::Success { hunt_exit } else { exit })
}
