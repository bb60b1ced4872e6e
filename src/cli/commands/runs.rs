//! `git lanes runs`: every run this clone knows, newest last.
//!
//! # JSON contract (`--json`, schema_version 1)
//!
//! `{ "runs": [ { "id", "started", "finished", "status", "lanes": [..], "resolved": [..],
//! "open", "integrated", "report": { "kind": "committed|ref|live", "path", "reference"? },
//! "cost_usd", "tokens" } ] }` (`cost_usd` and `tokens` are `null` when no agent said)
//! — `integrated` is one of `fast-forwarded`, `integration branch`, `kept under
//! refs/lanes/runs`, `branches left`, `not yet`, `unknown`.

use clap::Args;

use crate::cli::context::Ctx;
use crate::cli::error::{CliResult, Exit};

/// List the runs: id, date, lanes, resolved/open, whether they were integrated
#[derive(Debug, Args)]
pub struct RunsArgs {
    /// Show only the newest N runs
    #[arg(long, short = 'n', value_name = "N")]
    pub last: Option<usize>,
}

pub fn run(args: RunsArgs, ctx: &Ctx) -> CliResult {
    let (repo, ws) = ctx.setup_workspace()?;
    let mut runs = crate::run::runs::list(&repo, &ws.config)?;
    if let Some(n) = args.last {
        runs.drain(..runs.len().saturating_sub(n));
    }
    let ui = &ctx.ui;
    if ui.json {
        ui.json(serde_json::json!({ "runs": runs }))?;
        return Ok(Exit::Success);
    }
    if runs.is_empty() {
        ui.info("no runs yet; start one with `git lanes run`");
        return Ok(Exit::Success);
    }
    ui.out(ui.bold(format!(
        "{:<20} {:<19} {:<16} {:>8} {:>5}  {:<26} {:>18}  lanes",
        "run", "date", "status", "resolved", "open", "integrated", "usage"
    )))?;
    for r in &runs {
        let date = r.started.as_deref().map(short_date).unwrap_or_else(|| "-".into());
        let status = crate::run::state::status_words(&r.status);
        let status = match r.status.as_str() {
            "complete" => ui.green(format!("{status:<16}")),
            "running" => ui.yellow(format!("{status:<16}")),
            _ => ui.red(format!("{status:<16}")),
        };
        let usage = match (r.cost_usd, r.tokens) {
            (Some(c), Some(t)) => format!("${c:.2} {} tok", short_count(t)),
            (Some(c), None) => format!("${c:.2}"),
            (None, Some(t)) => format!("{} tok", short_count(t)),
            (None, None) => "-".into(),
        };
        ui.out(format!(
            "{:<20} {:<19} {status} {:>8} {:>5}  {:<26} {usage:>18}  {}",
            r.id,
            date,
            r.resolved.len(),
            r.open,
            r.integrated,
            if r.lanes.is_empty() { "-".into() } else { r.lanes.join(", ") }
        ))?;
    }
    ui.info(ui.dim("`git lanes report <RUN>` prints a report; `git lanes logs <LANE> --run <RUN>` a worker's output"));
    Ok(Exit::Success)
}

/// `1234` → `1234`, `258969` → `259k`, `3120000` → `3.1M`.
#[allow(clippy::cast_precision_loss, reason = "a rounded display figure")]
fn short_count(n: u64) -> String {
    match n {
        0..=9_999 => n.to_string(),
        10_000..=999_999 => format!("{}k", (n as f64 / 1e3).round()),
        _ => format!("{:.1}M", n as f64 / 1e6),
    }
}

/// `2026-11-29T23:24:17+00:00` → `2026-11-29 23:24:17` (other shapes as they are).
fn short_date(s: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(s) {
        Ok(d) => d.with_timezone(&chrono::Local).format("%Y-%m-%d %H:%M:%S").to_string(),
        Err(_) => s.chars().take(19).collect(),
    }
}
