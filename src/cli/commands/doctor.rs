//! `git lanes doctor [--fix]`.

use clap::Args;

use crate::cli::context::Ctx;
use crate::cli::error::{CliResult, Exit};
use crate::gate::doctor;

/// Find what needs repair and print the plan; --fix applies exactly that plan
///
/// Finds duplicate issue ids (parallel branches create them) and shows how each would be
/// renumbered. Notes RESOLVED issues whose latest verification evidence is missing, failing or
/// stale (an affected path changed since), lane branches and worktrees left by finished runs, and
/// runs that `run --resume` can continue; those have no automatic repair here. Lists each worker
/// preset's agent CLI with its version, or "not installed" with the command that installs it,
/// and for an installed one where it would send its requests (the endpoint variable set, else
/// its default) and which key variables are set (names only).
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Apply the repair plan
    #[arg(long)]
    pub fix: bool,
}

pub fn run(args: DoctorArgs, ctx: &Ctx) -> CliResult {
    let (repo, ws) = ctx.workspace()?;
    let mut notes = doctor::evidence_notes(&ws);
    notes.extend(doctor::run_notes(&repo, &ws.config)?);
    let index = repo.git.index().ok();
    let tracked = |p: &std::path::Path| index.as_ref().is_some_and(|i| i.get_path(p, 0).is_some());
    let mut actions = doctor::renumber_plan(&ws, &tracked);
    actions.extend(doctor::prune_plan(&repo.root));
    let plan = doctor::Plan { actions, notes };
    let path = crate::agents::presets::worker_path().or_else(|| std::env::var_os("PATH"));
    let agents = crate::agents::presets::installed_agents(path.as_deref(), std::time::Duration::from_secs(20));
    let ui = &ctx.ui;
    if args.fix {
        doctor::apply(&ws, &plan.actions)?;
    }
    if ui.json {
        let agents: Vec<serde_json::Value> = agents
            .iter()
            .map(|a| {
                let mut v = serde_json::to_value(a).unwrap_or_default();
                v["uses"] = serde_json::json!(a.path.as_ref().and_then(|_| uses(&ws.config, a.preset)));
                v
            })
            .collect();
        ui.json(serde_json::json!({ "applied": args.fix, "actions": plan.actions, "notes": plan.notes, "agents": agents }))?;
    } else {
        for a in &plan.actions {
            ui.out(format!("{} {a}", if args.fix { ui.green("fixed:") } else { ui.yellow("plan:") }))?;
        }
        for n in &plan.notes {
            ui.out(format!("{} {}: {}", ui.dim("note:"), n.subject, n.message))?;
        }
        for a in &agents {
            let line = match (&a.path, &a.version) {
                (Some(p), v) => {
                    let version = v.as_deref().unwrap_or("version unknown");
                    let checked = if version.contains(&a.checked_version) {
                        String::new()
                    } else {
                        format!("; preset checked with {}", a.checked_version)
                    };
                    format!("{} ({}{checked})", ui.green(version), p.display())
                }
                (None, _) => format!("{} — install with `{}`", ui.yellow("not installed"), a.install),
            };
            ui.out(format!("{} {}: {line}", ui.dim("agent"), a.preset))?;
            if a.path.is_some()
                && let Some(uses) = uses(&ws.config, a.preset)
            {
                ui.out(format!("      uses: {uses}"))?;
            }
        }
        if plan.actions.is_empty() {
            ui.info("nothing to repair");
        } else if !args.fix {
            ui.info("run `git lanes doctor --fix` to apply this plan");
        } else {
            ui.info("run `git lanes sync` to update the catalog");
        }
    }
    Ok(if plan.actions.is_empty() || args.fix { Exit::Success } else { Exit::CheckFailed })
}

/// Where an installed CLI would send its requests, with `lanes.yaml`'s `agents.<preset>.env`
/// over the environment, as its worker would see them.
fn uses(config: &crate::files::config::Config, preset: crate::agents::presets::Preset) -> Option<String> {
    let own = config.agents.get(preset.name()).map(|a| a.env.clone()).unwrap_or_default();
    let var = move |name: &str| own.get(name).cloned().or_else(|| std::env::var(name).ok());
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    crate::agents::presets::endpoints::describe(preset, &var, home.as_deref())
}
