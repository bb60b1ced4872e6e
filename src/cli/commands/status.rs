//! `git lanes status`.
//!
//! JSON `stale_evidence`: `count` and `issues`, the RESOLVED issues whose latest evidence no longer
//! backs them, each with `id`, `lane`, `state` (`missing`, `failing` or `stale`), `evidence` (the
//! evidence file; absent when missing) and `paths` (the affected paths changed since; stale only).

use clap::Args;
use serde_json::json;

use crate::cli::context::Ctx;
use crate::cli::error::{CliResult, Exit};
use crate::cli::ui::Ui;
use crate::files::catalog::Counts;
use crate::files::issue::Issue;
use crate::files::workspace::Workspace;
use crate::git::repo::Repo;
use crate::judge::verify::EvidenceState;
use crate::run::state::RunState;

/// Show catalog totals, per-lane progress, the last run and live signals
#[derive(Debug, Args)]
pub struct StatusArgs {}

pub fn run(_args: StatusArgs, ctx: &Ctx) -> CliResult {
    let (repo, ws) = ctx.setup_summaries(true)?;
    let exit = show(ctx, &repo, &ws);
    ws.release_at_exit();
    exit
}

/// What `status` shows, gathered before anything is printed.
struct Overview<'w> {
    lanes: Vec<String>,
    counts: Counts,
    state: Option<RunState>,
    signals: Vec<crate::run::signal::LaneSignal>,
    lock: Option<String>,
    /// Resolved issues whose latest evidence no longer backs them (missing, failing or stale).
    unbacked: Vec<(&'w Issue, EvidenceState)>,
}

fn show(ctx: &Ctx, repo: &Repo, ws: &Workspace) -> CliResult {
    let cat_lanes = match ctx.catalog(ws)? {
        Some(Ok(c)) => c.lanes(),
        _ => vec![],
    };
    let lanes = ws.lanes(&cat_lanes);
    let counts = Counts::of(&ws.issues, &lanes);
    let mut state = RunState::load(&ws.root, &ws.config.state).unwrap_or(None);
    // A newer run than the committed state knows (one still going, or one that resolved nothing
    // and kept its bookkeeping under refs/lanes/runs) is the last run.
    if let Ok(Some((id, live))) = crate::run::live_state(repo, None)
        && state.as_ref().and_then(|s| s.run_id.as_deref()).is_none_or(|c| crate::files::names::natural_cmp(&id, c).is_gt())
    {
        state = Some(live);
    }
    let signal_dir = ws.root.join(&ws.config.signals);
    let signals: Vec<_> = lanes.iter().map(|l| crate::run::signal::read(&signal_dir, l)).filter(|s| s.status.is_some() || s.done).collect();
    let lock = crate::run::lock::holder(&repo.lanes_dir());
    let unbacked = crate::judge::verify::unbacked_resolved(&ws.root, &ws.config.evidence, &ws.issues);
    let overview = Overview { lanes, counts, state, signals, lock, unbacked };
    if ctx.ui.json {
        print_json(&ctx.ui, ws, &overview)?;
    } else {
        print_human(&ctx.ui, ws, &overview)?;
    }
    Ok(Exit::Success)
}

fn print_json(ui: &Ui, ws: &Workspace, o: &Overview) -> std::io::Result<()> {
    let per_lane: Vec<_> = o
        .lanes
        .iter()
        .map(|l| {
            let t = o.counts.per_lane.get(l).copied().unwrap_or_default();
            json!({ "lane": l, "total": t.total, "resolved": t.closed, "open": t.open, "has_spec": ws.specs.contains_key(l) })
        })
        .collect();
    ui.json(json!({
        "catalog": ws.config.catalog,
        "total": o.counts.total.total,
        "resolved": o.counts.total.closed,
        "open": o.counts.total.open,
        "percent": o.counts.total.percent(),
        "lanes": per_lane,
        "problems": ws.problems.len(),
        "last_run": o.state.as_ref().map(|s| json!({ "run_id": s.run_id, "status": s.status, "started": s.started, "finished": s.finished })),
        "running_pid": o.lock,
        "signals": o.signals,
        "stale_evidence": {
            "count": o.unbacked.len(),
            "issues": o.unbacked.iter().map(|(i, st)| {
                let mut v = serde_json::to_value(st).unwrap_or_default();
                if let Some(m) = v.as_object_mut() {
                    m.insert("id".into(), i.id().into());
                    m.insert("lane".into(), i.lane().into());
                }
                v
            }).collect::<Vec<_>>(),
        },
    }))
}

fn print_human(ui: &Ui, ws: &Workspace, o: &Overview) -> std::io::Result<()> {
    let t = o.counts.total;
    ui.out(format!(
        "{}: {} issues, {} resolved, {} open ({}%)",
        ui.bold(ws.config.catalog.display()),
        t.total,
        ui.green(t.closed),
        if t.open > 0 { ui.yellow(t.open) } else { t.open.to_string() },
        t.percent()
    ))?;
    ui.out(format!("{:<12} {:>6} {:>9} {:>6}  spec", "lane", "open", "resolved", "total"))?;
    for l in &o.lanes {
        let c = o.counts.per_lane.get(l).copied().unwrap_or_default();
        let spec = if ws.specs.contains_key(l) { "yes" } else { "-" };
        ui.out(format!("{l:<12} {:>6} {:>9} {:>6}  {spec}", c.open, c.closed, c.total))?;
    }
    if !ws.problems.is_empty() {
        ui.out(format!("{} {} file(s) have problems; run `git lanes validate`", ui.yellow("warning:"), ws.problems.len()))?;
    }
    if !o.unbacked.is_empty() {
        let list: Vec<String> = o.unbacked.iter().map(|(i, st)| format!("{} ({})", i.id(), st.label())).collect();
        ui.out(format!(
            "{} {} resolved issue(s) without fresh evidence: {}; run `git lanes verify <ID>…`",
            ui.yellow("evidence:"),
            o.unbacked.len(),
            list.join(", ")
        ))?;
    }
    print_last_run(ui, o)
}

fn print_last_run(ui: &Ui, o: &Overview) -> std::io::Result<()> {
    match &o.state {
        Some(s) if s.run_id.is_some() => {
            let fixed = s.progress.total_fixed;
            ui.out(format!(
                "last run: {} {} ({}, {fixed} resolved){}",
                s.run_id.as_deref().unwrap_or("?"),
                crate::run::state::status_words(&s.status),
                crate::files::text::plural(s.lanes.len(), "lane"),
                match s.integration.as_ref().and_then(|i| i.kept_at.as_ref()) {
                    Some(kept) => format!(", report under {kept}"),
                    None => s.report.as_ref().map(|r| format!(", report {r}")).unwrap_or_default(),
                }
            ))?;
        }
        _ => ui.out("last run: none")?,
    }
    if let Some(pid) = &o.lock {
        ui.out(format!("{} a run is in progress (pid {pid})", ui.yellow("running:")))?;
    }
    for s in &o.signals {
        ui.out(format!("  {} {}{}", s.lane, s.status.as_deref().unwrap_or("-"), if s.done { "  (done)" } else { "" }))?;
    }
    Ok(())
}
