//! `git lanes run`: the main job (the engine is `crate::run`), `--resume`, and `--dry-run` (plan,
//! work orders and a verdict preview, writing nothing; its JSON contract is documented in
//! `plan.rs`).

use clap::Args;

use crate::cli::context::Ctx;
use crate::cli::error::{CliError, CliResult, Exit};
use crate::cli::ui::Ui;
use crate::files::config::IntegrationPolicy;
use crate::planning::dryrun::{DryRunOptions, LanePreview};
use crate::planning::plan::PlanOptions;
use crate::run::{self, LaneControls, RunOptions};

/// Run every lane's worker in its own worktree, verify the fixes and integrate them
///
/// With --dry-run: print each lane's work order and a verdict preview (which checks a run would
/// use, which fail on HEAD now, which are flagged as dangerous and not run); nothing is written.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Plan and preview only: run the checks in a throwaway export of HEAD, write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Run only this lane (repeatable)
    #[arg(long = "lane", value_name = "LANE")]
    pub lanes: Vec<String>,
    /// Issues per lane (overrides the agent spec and lanes.yaml; default 5)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_issues: Option<u64>,
    /// With --dry-run: print each lane's work order YAML
    #[arg(long, requires = "dry_run")]
    pub show_work_order: bool,
    /// With --dry-run: run the checks even where there is no sandbox (Landlock missing)
    #[arg(long, requires = "dry_run")]
    pub allow_unsandboxed: bool,
    /// Continue the newest interrupted run (after Ctrl-C, a crash or SIGKILL)
    #[arg(long, conflicts_with = "dry_run")]
    pub resume: bool,
    #[command(flatten)]
    pub workers: WorkerArgs,
    /// How finished lanes are integrated [default: lanes.yaml's `integration:`, else merge]
    #[arg(long, value_name = "POLICY", value_parser = ["merge", "branches", "squash"])]
    pub policy: Option<String>,
    /// Leave the catalog, report and state uncommitted in the integration worktree
    #[arg(long)]
    pub no_commit: bool,
    /// Run the lanes only: keep their branches, integrate elsewhere (`git lanes integrate`)
    #[arg(long)]
    pub no_integrate: bool,
    /// Skip lanes.yaml's `integration_checks:` for this run (the report says so)
    #[arg(long)]
    pub no_integration_checks: bool,
    /// Push the result (or, with --no-integrate / --policy branches, the lane branches)
    #[arg(long)]
    pub push: bool,
    /// Start a lane's worker at most N times in all: a rejected lane is started again with the
    /// failing output as feedback [default: lanes.yaml's `attempts:`, else 2]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub attempts: Option<u32>,
    /// Start no attempt once the run's recorded cost reaches this many dollars [default:
    /// lanes.yaml's `budget.usd`]
    #[arg(long, value_name = "USD", value_parser = budget_usd)]
    pub budget_usd: Option<f64>,
    /// Start no attempt once the run's recorded tokens reach N [default: lanes.yaml's
    /// `budget.tokens`]
    #[arg(long, value_name = "N")]
    pub budget_tokens: Option<u64>,
    /// Run CMD (`sh -c`) when the run ends or a lane needs a human, with the run's JSON on its
    /// standard input [default: lanes.yaml's `notify:`]
    #[arg(long, value_name = "CMD")]
    pub notify: Option<String>,
    /// Use this run id instead of the current time
    #[arg(long, value_name = "ID")]
    pub run_id: Option<String>,
    /// Plain lines instead of the live view on a terminal
    #[arg(long)]
    pub plain: bool,
}

/// `--worker`'s help, naming every preset from the one list.
fn worker_help() -> String {
    format!(
        "Worker: a preset ({}) or a shell command line [default: on --resume the worker the run recorded for the lane, else the lane spec's `worker:`, else lanes.yaml's]",
        crate::agents::presets::Preset::NAMES.join(", ")
    )
}

/// The worker options `run` and `hunt` share: which worker, its limits, and how it is followed.
#[derive(Debug, Args)]
pub struct WorkerArgs {
    #[arg(long, value_name = "CMD", help = worker_help(), value_parser = crate::cli::args::WorkerValue, hide_possible_values = true)]
    pub worker: Option<String>,
    /// Run workers in the sandbox (the default; lanes.yaml `sandbox_workers`): they write only
    /// their worktree, a temp folder of their own and their agent's folders in $HOME
    #[arg(long, overrides_with = "no_sandbox_workers")]
    pub sandbox_workers: bool,
    /// Run workers without the sandbox: they can write anywhere you can, push with your
    /// credentials and leave processes behind (lanes.yaml `sandbox_workers: false`)
    #[arg(long, overrides_with = "sandbox_workers")]
    pub no_sandbox_workers: bool,
    /// Model passed to preset workers (overrides the agent spec)
    #[arg(long)]
    pub model: Option<String>,
    /// Turn limit passed to presets that accept one
    #[arg(long, value_name = "N")]
    pub max_turns: Option<u32>,
    /// Per-lane dollar budget passed to presets that accept one
    #[arg(long, value_name = "USD")]
    pub max_budget_usd: Option<f64>,
    /// At most this many workers at once [default: lanes.yaml's, else all lanes]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_parallel: Option<u64>,
    /// Per-lane time limit (e.g. 30m, 1h, PT45M) [default: the spec's `timeout:`, else
    /// lanes.yaml's, else 1h]
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub timeout: Option<std::time::Duration>,
    /// How long a worker may keep running after writing .done before it is ended [default:
    /// lanes.yaml's, else 30s]
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub done_grace: Option<std::time::Duration>,
    /// End a lane whose worker shows no sign of life (no output, no new status, no change in its
    /// worktree) for this long [default: lanes.yaml's, else 10m]
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub stall_after: Option<std::time::Duration>,
}

impl WorkerArgs {
    /// `--sandbox-workers` / `--no-sandbox-workers` (the last given wins); `None`: lanes.yaml's.
    pub fn sandbox(&self) -> Option<bool> {
        if self.no_sandbox_workers {
            Some(false)
        } else if self.sandbox_workers {
            Some(true)
        } else {
            None
        }
    }
}

/// Say once what running workers without the sandbox gives up (or that there is none here).
pub(super) fn warn_unsandboxed_workers(ctx: &Ctx, settings: &run::settings::Settings) {
    if let Some(w) = crate::exec::sandbox::workers_warning(settings.sandbox_workers) {
        ctx.ui.warn(w);
    }
}

fn budget_usd(s: &str) -> Result<f64, String> {
    s.trim_start_matches('$')
        .parse::<f64>()
        .ok()
        .filter(|u| u.is_finite() && *u >= 0.0)
        .ok_or_else(|| format!("`{s}` is not a number of dollars (e.g. 5, 12.50)"))
}

pub(super) fn duration(s: &str) -> Result<std::time::Duration, String> {
    crate::files::config::parse_duration(s).ok_or_else(|| format!("`{s}` is not a duration (e.g. 30s, 10m, 1h, PT30M)"))
}

pub fn run(args: RunArgs, ctx: &Ctx) -> CliResult {
    if !args.dry_run {
        return run_live(args, ctx);
    }
    let (repo, ws) = ctx.setup_workspace()?;
    let catalog = super::plan::load_inputs(ctx, &ws)?;
    let now = chrono::Utc::now();
    let opts = DryRunOptions {
        plan: PlanOptions { lanes: args.lanes, max_issues: args.max_issues.map(|n| n as usize) },
        run_id: chrono::Local::now().format("%Y%m%d-%H%M%S").to_string(),
        created_at: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        worker: args.workers.worker,
        model: args.workers.model,
        max_turns: args.workers.max_turns,
        max_budget_usd: args.workers.max_budget_usd,
        allow_unsandboxed: args.allow_unsandboxed,
    };
    if let Some(w) = crate::exec::sandbox::missing_warning() {
        ctx.ui.warn(w);
    }
    let lanes = crate::planning::dryrun::dry_run(&repo.git, &ws, catalog.as_ref(), &opts)?;
    let ui = &ctx.ui;
    let integration_checks = &ws.config.integration_checks;
    if ui.json {
        ui.json(serde_json::json!({
            "run_id": opts.run_id, "dry_run": true, "lanes": lanes,
            "integration_checks": { "commands": integration_checks, "skipped": args.no_integration_checks },
        }))?;
        return Ok(Exit::Success);
    }
    for l in &lanes {
        print_preview(ui, l, args.show_work_order)?;
    }
    if !integration_checks.is_empty() {
        let when = if args.no_integration_checks {
            "skipped for this run (--no-integration-checks)"
        } else {
            "run on the integrated result before your branch moves; a lane that breaks one is backed out"
        };
        ui.out(format!("integration checks ({when}):"))?;
        for c in integration_checks {
            ui.out(format!("  {c}"))?;
        }
    }
    let plans: Vec<_> = lanes.iter().map(|l| l.plan.clone()).collect();
    super::plan::summary(ui, &plans);
    ui.info(ui.dim("dry run: nothing was written"));
    Ok(Exit::Success)
}

fn print_preview(ui: &Ui, l: &LanePreview, show_work_order: bool) -> Result<(), CliError> {
    super::plan::print_lane(ui, &l.plan)?;
    if let Some(wo) = &l.work_order {
        ui.out(ui.dim(format!("  work order {} (time box {})", wo.work_order.id, wo.work_order.time_box)))?;
    }
    if let Some(w) = &l.worker {
        ui.out(format!("  worker: {w}"))?;
    }
    if let Some(problem) = &l.worker_problem {
        ui.out(format!("  {} worker: {problem}", ui.red("⚠")))?;
    }
    for i in &l.verdict_preview {
        if i.unverifiable {
            ui.out(format!("  {} {}: no verification commands (UNVERIFIABLE: a run cannot resolve it)", ui.yellow("⚠"), i.id))?;
            continue;
        }
        ui.out(format!("  {} checks:", i.id))?;
        for c in &i.checks {
            let ran_in = c.git_shield.map(|g| format!(" ({})", g.describe())).unwrap_or_default();
            let line = match c.currently_passing {
                Some(true) => {
                    format!(
                        "{} {}  {}",
                        ui.yellow("✓"),
                        c.command,
                        ui.dim(format!("currently passing: suspicious, nothing to fix?{ran_in}"))
                    )
                }
                Some(false) => {
                    format!("{} {}  {}", ui.green("✗"), c.command, ui.dim(format!("currently failing: the issue reproduces{ran_in}")))
                }
                None => {
                    let why: Vec<&str> = c.findings.iter().map(|f| f.message.as_str()).collect();
                    let why = if why.is_empty() { c.note.clone() } else { format!("not run: {}", why.join("; ")) };
                    format!("{} {}  {}", ui.red("⚠"), c.command, why)
                }
            };
            ui.out(format!("    {line}"))?;
            // What a worker has to make pass: the last lines of the failing check's output.
            for out in c
                .output
                .as_deref()
                .map(|o| o.lines().rev().take(crate::cli::progress::CONSOLE_OUTPUT_LINES).collect::<Vec<_>>())
                .unwrap_or_default()
                .into_iter()
                .rev()
            {
                ui.out(format!("        {} {out}", ui.dim("|")))?;
            }
        }
        if !i.protected.is_empty() {
            ui.out(format!("    {}", ui.dim(format!("protected (run as at the base, edits not merged): {}", i.protected.join(", ")))))?;
        }
    }
    if show_work_order && let Some(wo) = &l.work_order {
        ui.out(format!("  --- work order {} ---", wo.work_order.id))?;
        ui.out(wo.to_yaml()?.trim_end())?;
    }
    Ok(())
}

/// A run that really runs (not a dry run): options resolved, progress shown, summary printed.
fn run_live(args: RunArgs, ctx: &Ctx) -> CliResult {
    let (repo, ws) = ctx.setup_workspace()?;
    let controls: LaneControls = LaneControls::default();
    let sandbox_workers = args.workers.sandbox();
    let opts = RunOptions {
        lanes: args.lanes,
        max_parallel: args.workers.max_parallel.map(|n| n as usize),
        max_issues: args.max_issues.map(|n| n as usize),
        worker: args.workers.worker,
        model: args.workers.model,
        max_turns: args.workers.max_turns,
        max_budget_usd: args.workers.max_budget_usd,
        timeout: args.workers.timeout,
        done_grace: args.workers.done_grace,
        stall_after: args.workers.stall_after,
        policy: args.policy.as_deref().map(|p| p.parse::<IntegrationPolicy>()).transpose().map_err(CliError::usage)?,
        no_commit: args.no_commit,
        no_integrate: args.no_integrate,
        no_integration_checks: args.no_integration_checks,
        push: args.push,
        sandbox_workers,
        run_id: args.run_id,
        controls: Some(controls.clone()),
        attempts: args.attempts,
        budget_usd: args.budget_usd,
        budget_tokens: args.budget_tokens,
        notify: args.notify.clone(),
    };
    if let Some(w) = crate::exec::sandbox::missing_warning() {
        ctx.ui.warn(w);
    }
    let settings = run::settings::Settings::resolve(&opts, &ws.config);
    warn_unsandboxed_workers(ctx, &settings);
    let notify = settings.notify;
    let result = super::run_live::follow_live(&ctx.ui, args.plain, "git lanes run", repo.lanes_dir(), &controls, |observer, interrupts| {
        if args.resume { run::resume(&repo, ws, opts, observer, interrupts) } else { run::run(&repo, ws, opts, observer, interrupts) }
    });
    let summary = result?;
    if let Some(cmd) = notify {
        let run_dir = repo.lanes_dir().join("runs").join(&summary.run_id);
        if let Some(problem) = run::notify::run_ended(&repo.root, &run_dir, &cmd, &summary) {
            ctx.ui.warn(format!("notify: {problem}"));
        }
    }
    super::run_live::print_summary(ctx, &summary)
}
