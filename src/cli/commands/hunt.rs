//! `git lanes hunt`: hunters find new issues in parallel lanes; only findings that reproduce are
//! committed (the engine is `crate::run::hunt`). `--dry-run` prints the lanes and work orders and
//! writes nothing.
//!
//! `--json` prints [`crate::run::HuntSummary`] (`run_id`, `lanes`, `accepted` with `id`, `path`,
//! `filed_as`, `from`, `title`, `severity`, `reproduced`; `rejected` with `path`, `kind`,
//! `reason`; `dropped` with `path`, `change`, `why`; `needs_human`, `report`, `commit`,
//! `merge_command`, `interrupted`), or with `--dry-run` `{ dry_run: true, lanes: [...] }`.

use clap::Args;

use crate::cli::context::Ctx;
use crate::cli::error::{CliError, CliResult, Exit};
use crate::run::{self, HuntOptions, HuntSummary, LaneControls, RunOptions};

/// Run a hunter per lane to find new issues; keep only findings whose checks fail today
///
/// Each hunter works in its own worktree and branch and files new issue files in its lane's
/// folder. A finding is kept only if it is a valid issue file of that lane, its checks are safe
/// and all FAIL on the run's base commit (run in a clean export of it), and it repeats no known
/// issue. Kept findings get the lane's next free ids and are committed in one commit with the
/// synced catalog and a report; everything else a hunter changed is dropped and listed.
#[derive(Debug, Args)]
pub struct HuntArgs {
    /// Show the lanes, workers and work orders only; write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Hunt only in this lane (repeatable; default: every lane with a hunter spec)
    #[arg(long = "lane", value_name = "LANE")]
    pub lanes: Vec<String>,
    /// Findings kept per lane at most (default: the hunter spec's max_issues, else 5)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_findings: Option<u64>,
    /// With --dry-run: print each lane's work order YAML
    #[arg(long, requires = "dry_run")]
    pub show_work_order: bool,
    /// Continue the newest interrupted hunt
    #[arg(long, conflicts_with = "dry_run")]
    pub resume: bool,
    #[command(flatten)]
    pub workers: super::run::WorkerArgs,
    /// Use this run id instead of the current time
    #[arg(long, value_name = "ID")]
    pub run_id: Option<String>,
    /// Plain progress lines instead of the live view, also on a terminal
    #[arg(long)]
    pub plain: bool,
}

fn options(args: &HuntArgs, controls: LaneControls) -> HuntOptions {
    HuntOptions {
        run: RunOptions {
            lanes: args.lanes.clone(),
            max_parallel: args.workers.max_parallel.map(|n| n as usize),
            worker: args.workers.worker.clone(),
            model: args.workers.model.clone(),
            max_turns: args.workers.max_turns,
            max_budget_usd: args.workers.max_budget_usd,
            timeout: args.workers.timeout,
            done_grace: args.workers.done_grace,
            stall_after: args.workers.stall_after,
            run_id: args.run_id.clone(),
            sandbox_workers: args.workers.sandbox(),
            controls: Some(controls),
            ..RunOptions::default()
        },
        max_findings: args.max_findings.map(|n| n as usize),
    }
}

pub fn run(args: HuntArgs, ctx: &Ctx) -> CliResult {
    let (repo, ws) = ctx.workspace()?;
    let controls = LaneControls::default();
    let opts = options(&args, controls.clone());
    let ui = &ctx.ui;
    if args.dry_run {
        let lanes = run::hunt::preview(ws, &opts)?;
        if ui.json {
            ui.json(serde_json::json!({ "dry_run": true, "lanes": lanes }))?;
            return Ok(Exit::Success);
        }
        for l in &lanes {
            let spec = l.hunter_spec.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "no hunter spec".into());
            ui.out(format!(
                "{} {}: up to {} finding(s), new ids from {} ({spec})",
                ui.bold("lane"),
                l.lane,
                l.max_findings,
                l.work_order.hunt.next_id
            ))?;
            match &l.worker {
                Some(w) => ui.out(format!("  worker: {w}"))?,
                None => {
                    ui.out(format!("  {} no worker: pass --worker, or set `worker:` in lanes.yaml or the hunter spec", ui.yellow("⚠")))?
                }
            }
            ui.out(ui.dim(format!(
                "  work order {} (time box {}); {} open issue(s) listed to avoid duplicates",
                l.work_order.work_order.id,
                l.work_order.work_order.time_box,
                l.work_order.hunt.open_issues.len()
            )))?;
            if args.show_work_order {
                ui.out(format!("  --- work order {} ---", l.work_order.work_order.id))?;
                ui.out(l.work_order.to_yaml()?.trim_end())?;
            }
        }
        ui.info(ui.dim("dry run: nothing was written"));
        return Ok(Exit::Success);
    }
    super::run::warn_unsandboxed_workers(ctx, &run::settings::Settings::resolve(&opts.run, &ws.config));
    let result = super::run_live::follow_live(ui, args.plain, "git lanes hunt", repo.lanes_dir(), &controls, |observer, interrupts| {
        if args.resume { run::hunt_resume(&repo, ws, opts, observer, interrupts) } else { run::hunt(&repo, ws, opts, observer, interrupts) }
    });
    print_summary(ctx, &result?)
}

/// Print a hunt's summary; exit 0 when all went well, 3 when a human is needed, 130 when
/// interrupted. Rejected findings are the judge doing its job, not something for a human.
pub fn print_summary(ctx: &Ctx, s: &HuntSummary) -> CliResult {
    let ui = &ctx.ui;
    if ui.json {
        ui.json(serde_json::to_value(s).map_err(|e| CliError::internal(format!("could not write JSON: {e}")))?)?;
    } else {
        ui.out(format!(
            "hunt {}: {} new issue(s), {} finding(s) rejected, {} change(s) dropped{}",
            s.run_id,
            ui.green(s.accepted.len()),
            s.rejected.len(),
            s.dropped.len(),
            s.commit.as_ref().map(|c| format!(" — committed {}", &c[..c.len().min(10)])).unwrap_or_default()
        ))?;
        for a in &s.accepted {
            ui.out(format!("  {} {} {} (filed as `{}`)", ui.green("+"), a.id, a.title, a.from))?;
        }
        for x in &s.rejected {
            ui.out(format!("  {} `{}`: {}", ui.red("✗"), x.path, x.reason))?;
        }
        for d in &s.dropped {
            ui.out(format!("  {} {} `{}`: {}", ui.dim("dropped"), d.change, d.path, d.why))?;
        }
        if let Some(r) = &s.report {
            ui.out(format!("report: {}", r.display()))?;
        }
        for h in &s.needs_human {
            ui.out(format!("{} {h}", ui.yellow("needs a human:")))?;
        }
        if let Some(c) = &s.merge_command {
            ui.out(format!("to take the result: {c}"))?;
        }
    }
    if s.interrupted {
        return Err(CliError::interrupted(format!("hunt {} was interrupted; its state is saved", s.run_id))
            .hint("`git lanes hunt --resume` continues it"));
    }
    Ok(if s.needs_human.is_empty() { Exit::Success } else { Exit::NeedsHuman })
}
