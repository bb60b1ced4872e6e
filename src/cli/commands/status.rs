//! `git lanes status`.
//!
//! JSON `stale_evidence`: `count` and `issues`, the RESOLVED issues whose latest evidence no longer
//! backs them, each with `id`, `lane`, `state` (`missing`, `failing` or `stale`), `evidence` (the
//! evidence file; absent when missing) and `paths` (the affected paths changed since; stale only).

use clap::Args;
use serde_json::json;

use crate::cli::context::Ctx;
use crate::cli::error::{CliError, CliResult, Exit};
use crate::cli::ui::Ui;
use crate::files::answers::{self, AnswerKind};
use crate::files::catalog::Catalog;
use crate::files::config::Config;
use crate::files::overview::Overview;
use crate::git::repo::Repo;
use crate::judge::verify::EvidenceState;
use crate::run::state::RunState;

/// Show catalog totals, per-lane progress, the last run and live signals
#[derive(Debug, Args)]
pub struct StatusArgs {}

pub fn run(_args: StatusArgs, ctx: &Ctx) -> CliResult {
    let repo = ctx.repo()?;
    let config = Config::load(&repo.root, &ctx.overrides())?;
    // What the issue files say is remembered while none of them changes; the evidence, the last
    // run, the lock and the signals are read every time.
    let issues = answers::answer(&repo.root, config.clone(), &repo.cache_dir(), AnswerKind::Overview, "", |ws, catalog| {
        let lanes = catalog.and_then(|b| Catalog::parse(&ws.config.catalog, b.to_vec()).ok()).map(|c| c.lanes());
        Ok::<_, CliError>(Overview::of(ws, &lanes.unwrap_or_default()))
    })?;
    crate::cli::context::require_setup_of(&repo.root, &config, !issues.lanes.is_empty())?;
    show(ctx, &repo, &config, &issues)
}

/// What `status` shows, gathered before anything is printed.
struct StatusView<'o> {
    config: &'o Config,
    issues: &'o Overview,
    state: Option<RunState>,
    /// The last run as its own record (report and live state) has it.
    last_run: Option<crate::run::runs::RunInfo>,
    signals: Vec<crate::files::signal::LaneSignal>,
    lock: Option<String>,
    /// Resolved issues whose latest evidence no longer backs them (missing, failing or stale):
    /// `(lane, id, state)`.
    unbacked: Vec<(&'o str, &'o str, EvidenceState)>,
}

fn show(ctx: &Ctx, repo: &Repo, config: &Config, issues: &Overview) -> CliResult {
    let mut state = RunState::load(&repo.root, &config.state).unwrap_or(None);
    // A newer run than the committed state knows (one still going, or one that resolved nothing
    // and kept its bookkeeping under refs/lanes/runs) is the last run.
    if let Ok(Some((id, live))) = crate::run::live_state(repo, None)
        && state.as_ref().and_then(|s| s.run_id.as_deref()).is_none_or(|c| crate::files::names::natural_cmp(&id, c).is_gt())
    {
        state = Some(live);
    }
    let signal_dir = repo.root.join(&config.signals);
    let signals: Vec<_> =
        issues.lanes.iter().map(|l| crate::files::signal::read(&signal_dir, l)).filter(|s| s.status.is_some() || s.done).collect();
    let lock = crate::run::lock::holder(&repo.lanes_dir());
    let (root, issues_dir) = (repo.root.as_path(), config.issues.as_path());
    let resolved = issues.resolved();
    // The affected paths are read from the issue file itself, and only for the seed's evidence.
    let affected = |at: usize| {
        let (lane, id) = resolved[at];
        let rel = issues_dir.join(lane).join(format!("{id}.md"));
        let parsed = crate::base::fsutil::read_optional_capped(&root.join(&rel), crate::files::text::MAX_FILE_BYTES)
            .ok()
            .flatten()
            .and_then(|b| crate::files::issue::Issue::parse(&rel, b).ok());
        parsed.map(|i| i.meta.affected_paths).unwrap_or_default()
    };
    let unbacked = crate::judge::verify::unbacked(&repo.root, &config.evidence, &resolved, affected)
        .into_iter()
        .map(|(at, st)| (resolved[at].0, resolved[at].1, st))
        .collect();
    let last_run = state.as_ref().and_then(|s| s.run_id.as_deref()).and_then(|id| crate::run::runs::info(repo, config, id).ok());
    let status = StatusView { config, issues, state, last_run, signals, lock, unbacked };
    if ctx.ui.json {
        print_json(&ctx.ui, &status)?;
    } else {
        print_human(&ctx.ui, &status)?;
    }
    Ok(Exit::Success)
}

fn print_json(ui: &Ui, o: &StatusView) -> std::io::Result<()> {
    let counts = &o.issues.counts;
    let per_lane: Vec<_> = o
        .issues
        .lanes
        .iter()
        .map(|l| {
            let t = counts.per_lane.get(l).copied().unwrap_or_default();
            json!({ "lane": l, "total": t.total, "resolved": t.closed, "open": t.open, "has_spec": o.issues.has_spec(l) })
        })
        .collect();
    ui.json(json!({
        "catalog": o.config.catalog,
        "total": counts.total.total,
        "resolved": counts.total.closed,
        "open": counts.total.open,
        "percent": counts.total.percent(),
        "lanes": per_lane,
        "problems": o.issues.problems,
        "last_run": o.state.as_ref().map(|s| json!({
            "run_id": s.run_id, "status": s.status, "started": s.started, "finished": s.finished,
            "warnings": s.lanes.iter().flat_map(|(lane, l)| l.warnings.iter().map(move |w| json!({ "lane": lane, "warning": w }))).collect::<Vec<_>>(),
            "lanes": o.last_run.as_ref().map(|i| i.lanes.clone()),
            "resolved": o.last_run.as_ref().map(|i| i.resolved.len()),
        })),
        "running_pid": o.lock,
        "signals": o.signals,
        "stale_evidence": {
            "count": o.unbacked.len(),
            "issues": o.unbacked.iter().map(|(lane, id, st)| {
                let mut v = serde_json::to_value(st).unwrap_or_default();
                if let Some(m) = v.as_object_mut() {
                    m.insert("id".into(), (*id).into());
                    m.insert("lane".into(), (*lane).into());
                }
                v
            }).collect::<Vec<_>>(),
        },
    }))
}

fn print_human(ui: &Ui, o: &StatusView) -> std::io::Result<()> {
    let t = o.issues.counts.total;
    ui.out(format!(
        "{}: {} issues, {} resolved, {} open ({}%)",
        ui.bold(o.config.catalog.display()),
        t.total,
        ui.green(t.closed),
        if t.open > 0 { ui.yellow(t.open) } else { t.open.to_string() },
        t.percent()
    ))?;
    ui.out(format!("{:<12} {:>6} {:>9} {:>6}  spec", "lane", "open", "resolved", "total"))?;
    for l in &o.issues.lanes {
        let c = o.issues.counts.per_lane.get(l).copied().unwrap_or_default();
        let spec = if o.issues.has_spec(l) { "yes" } else { "-" };
        ui.out(format!("{l:<12} {:>6} {:>9} {:>6}  {spec}", c.open, c.closed, c.total))?;
    }
    if o.issues.problems > 0 {
        ui.out(format!("{} {} file(s) have problems; run `git lanes validate`", ui.yellow("warning:"), o.issues.problems))?;
    }
    if !o.unbacked.is_empty() {
        let list: Vec<String> = o.unbacked.iter().map(|(_, id, st)| format!("{id} ({})", st.label())).collect();
        ui.out(format!(
            "{} {} resolved issue(s) without fresh evidence: {}; run `git lanes verify <ID>…`",
            ui.yellow("evidence:"),
            o.unbacked.len(),
            list.join(", ")
        ))?;
    }
    print_last_run(ui, o)
}

fn print_last_run(ui: &Ui, o: &StatusView) -> std::io::Result<()> {
    match &o.state {
        Some(s) if s.run_id.is_some() => {
            // Counted from that run's own record (the committed state also keeps lanes earlier
            // runs ran, with their counts).
            let (lanes, fixed) =
                o.last_run.as_ref().map_or_else(|| (s.lanes.len(), s.progress.total_fixed), |i| (i.lanes.len(), i.resolved.len()));
            ui.out(format!(
                "last run: {} {} ({}, {fixed} resolved){}",
                s.run_id.as_deref().unwrap_or("?"),
                crate::run::state::status_words(&s.status),
                crate::files::text::plural(lanes, "lane"),
                match s.integration.as_ref().and_then(|i| i.kept_at.as_ref()) {
                    Some(kept) => format!(", report under {kept}"),
                    None => s.report.as_ref().map(|r| format!(", report {r}")).unwrap_or_default(),
                }
            ))?;
        }
        _ => ui.out("last run: none")?,
    }
    // What the judge dropped from a lane's commit and what it approved only with warnings.
    for (lane, l) in o.state.iter().flat_map(|s| s.lanes.iter()) {
        for w in &l.warnings {
            ui.out(format!("  {} lane {lane}: {w}", ui.yellow("warning:")))?;
        }
    }
    if let Some(pid) = &o.lock {
        ui.out(format!("{} a run is in progress (pid {pid})", ui.yellow("running:")))?;
    }
    for s in &o.signals {
        ui.out(format!("  {} {}{}", s.lane, s.status.as_deref().unwrap_or("-"), if s.done { "  (done)" } else { "" }))?;
    }
    Ok(())
}
