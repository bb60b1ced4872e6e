//! `git lanes status`.
//!
//! JSON `stale_evidence`: `count` and `issues`, the RESOLVED issues whose latest evidence no longer
//! backs them, each with `id`, `lane`, `state` (`missing`, `failing` or `stale`), `evidence` (the
//! evidence file; absent when missing) and `paths` (the affected paths changed since; stale only).

use clap::Args;
use serde_json::json;

use crate::cli::context::Ctx;
use crate::cli::error::{CliResult, Exit};
use crate::files::catalog::Counts;
use crate::run::state::RunState;

/// Show catalog totals, per-lane progress, the last run and live signals
#[derive(Debug, Args)]
pub struct StatusArgs {}

pub fn run(_args: StatusArgs, ctx: &Ctx) -> CliResult {
    let (repo, ws) = ctx.setup_summaries(true)?;
    let cat_lanes = match ctx.catalog(&ws)? {
        Some(Ok(c)) => c.lanes(),
        _ => vec![],
    };
    let lanes = ws.lanes(&cat_lanes);
    let counts = Counts::of(&ws.issues, &lanes);
    let mut state = RunState::load(&ws.root, &ws.config.state).unwrap_or(None);
    // A newer run than the committed state knows (one still going, or one that resolved nothing
    // and kept its bookkeeping under refs/lanes/runs) is the last run.
    if let Ok(Some((id, live))) = crate::run::live_state(&repo, None)
        && state.as_ref().and_then(|s| s.run_id.as_deref()).is_none_or(|c| crate::files::names::natural_cmp(&id, c).is_gt())
    {
        state = Some(live);
    }
    let signal_dir = ws.root.join(&ws.config.signals);
    let signals: Vec<_> = lanes.iter().map(|l| crate::run::signal::read(&signal_dir, l)).filter(|s| s.status.is_some() || s.done).collect();
    let lock = crate::run::lock::holder(&repo.lanes_dir());
    // Resolved issues whose latest evidence no longer backs them (missing, failing or stale).
    let unbacked = crate::judge::verify::unbacked_resolved(&ws.root, &ws.config.evidence, &ws.issues);
    let ui = &ctx.ui;
    if ui.json {
        let per_lane: Vec<_> = lanes
            .iter()
            .map(|l| {
                let t = counts.per_lane.get(l).copied().unwrap_or_default();
                json!({ "lane": l, "total": t.total, "resolved": t.closed, "open": t.open, "has_spec": ws.specs.contains_key(l) })
            })
            .collect();
        ui.json(json!({
            "catalog": ws.config.catalog,
            "total": counts.total.total,
            "resolved": counts.total.closed,
            "open": counts.total.open,
            "percent": counts.total.percent(),
            "lanes": per_lane,
            "problems": ws.problems.len(),
            "last_run": state.as_ref().map(|s| json!({ "run_id": s.run_id, "status": s.status, "started": s.started, "finished": s.finished })),
            "running_pid": lock,
            "signals": signals,
            "stale_evidence": {
                "count": unbacked.len(),
                "issues": unbacked.iter().map(|(i, st)| {
                    let mut v = serde_json::to_value(st).unwrap_or_default();
                    if let Some(m) = v.as_object_mut() {
                        m.insert("id".into(), i.id().into());
                        m.insert("lane".into(), i.lane().into());
                    }
                    v
                }).collect::<Vec<_>>(),
            },
        }))?;
        return Ok(Exit::Success);
    }
    let t = counts.total;
    ui.out(format!(
        "{}: {} issues, {} resolved, {} open ({}%)",
        ui.bold(ws.config.catalog.display()),
        t.total,
        ui.green(t.closed),
        if t.open > 0 { ui.yellow(t.open) } else { t.open.to_string() },
        t.percent()
    ))?;
    ui.out(format!("{:<12} {:>6} {:>9} {:>6}  spec", "lane", "open", "resolved", "total"))?;
    for l in &lanes {
        let c = counts.per_lane.get(l).copied().unwrap_or_default();
        let spec = if ws.specs.contains_key(l) { "yes" } else { "-" };
        ui.out(format!("{l:<12} {:>6} {:>9} {:>6}  {spec}", c.open, c.closed, c.total))?;
    }
    if !ws.problems.is_empty() {
        ui.out(format!("{} {} file(s) have problems; run `git lanes validate`", ui.yellow("warning:"), ws.problems.len()))?;
    }
    if !unbacked.is_empty() {
        let list: Vec<String> = unbacked.iter().map(|(i, st)| format!("{} ({})", i.id(), st.label())).collect();
        ui.out(format!(
            "{} {} resolved issue(s) without fresh evidence: {}; run `git lanes verify <ID>…`",
            ui.yellow("evidence:"),
            unbacked.len(),
            list.join(", ")
        ))?;
    }
    match &state {
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
    if let Some(pid) = &lock {
        ui.out(format!("{} a run is in progress (pid {pid})", ui.yellow("running:")))?;
    }
    for s in &signals {
        ui.out(format!("  {} {}{}", s.lane, s.status.as_deref().unwrap_or("-"), if s.done { "  (done)" } else { "" }))?;
    }
    Ok(Exit::Success)
}
