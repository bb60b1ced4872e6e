//! `git lanes plan`: which issues each lane would work on in a run, in which order, and why the
//! others wait.
//!
//! # JSON contract (`--json`, schema_version 1)
//!
//! ```text
//! {
//!   "schema_version": 1,
//!   "lanes": [                      // every lane (or those given with --lane), idle ones too
//!     {
//!       "lane": "E",
//!       "max_issues": 5,            // the budget that applied
//!       "issues": [                 // assigned, in work order
//!         { "id": "E-01", "title": "…", "complexity": "LOW|MEDIUM|HIGH|EXTREME", "reason": "2 affected paths" }
//!       ],
//!       "blocked": [                // OPEN issues whose depends_on are not all closed
//!         { "id": "E-03", "waiting_on": ["E-01"], "reason": "waiting on dependencies|dependency cycle" }
//!       ],
//!       "deferred": [               // ready but left for a later run
//!         { "id": "E-07", "reason": "over budget (max 5)" }
//!       ]
//!     }
//!   ]
//! }
//! ```
//!
//! `git lanes run --dry-run --json` prints the same document with `run_id` at the top and, in each
//! lane, `work_order` (the work order YAML's content as an object, `null` for an idle lane) and
//! `verdict_preview`: `[{ "id", "unverifiable", "checks": [{ "label", "command",
//! "currently_passing": true|false|null, "findings": [{ "kind", "message" }], "note", "git_shield" }] }]` —
//! `false`: the check fails on HEAD (the issue reproduces), `true`: it passes already (suspicious),
//! `null`: not run (a finding, or no commit); `worker`: the shell line the lane's worker would be
//! started with (presets expanded; `null` for an idle lane) and `worker_problem`: why it could
//! not start (`null` when it can: its CLI is installed). Fields may be added; none are removed or renamed
//! without a new `schema_version`.

use clap::Args;

use crate::cli::context::Ctx;
use crate::cli::error::{CliError, CliResult, Exit};
use crate::cli::ui::Ui;
use crate::files::answers::{self, AnswerKind};
use crate::files::catalog::Catalog;
use crate::files::config::Config;
use crate::files::workspace::Workspace;
use crate::planning::plan::{LanePlan, PlanOptions};

/// Show the work each lane would get in a run: issues in order, and why others wait
///
/// Lanes take their OPEN issues in catalog order, skip those whose dependencies are not closed
/// (blocked), and stop at the issue budget or where complexity ends the batch (deferred).
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Plan only this lane (repeatable)
    #[arg(long = "lane", value_name = "LANE")]
    pub lanes: Vec<String>,
    /// Issues per lane (overrides the agent spec and lanes.yaml; default 5)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_issues: Option<u64>,
}

pub fn run(args: PlanArgs, ctx: &Ctx) -> CliResult {
    let repo = ctx.repo()?;
    let config = Config::load(&repo.root, &ctx.overrides())?;
    let opts = PlanOptions { lanes: args.lanes, max_issues: args.max_issues.map(|n| n as usize) };
    // The plans are remembered, for these options, while no input changes.
    let extra = format!("{:?} {:?}", opts.lanes, opts.max_issues);
    let plans: Vec<LanePlan> = answers::answer(&repo.root, config.clone(), &repo.cache_dir(), AnswerKind::Plan, &extra, |ws, catalog| {
        crate::cli::context::require_setup_of(&ws.root, &ws.config, !ws.lanes(&[]).is_empty())?;
        ws.ensure_clean()?;
        let catalog = catalog.map(|b| Catalog::parse(&ws.config.catalog, b.to_vec())).transpose()?;
        Ok::<_, CliError>(crate::planning::plan::plan(ws, catalog.as_ref(), &opts)?)
    })?;
    crate::cli::context::require_setup_of(&repo.root, &config, !plans.is_empty())?;
    show(ctx, &plans)
}

fn show(ctx: &Ctx, plans: &[LanePlan]) -> CliResult {
    let ui = &ctx.ui;
    if ui.json {
        ui.json(serde_json::json!({ "lanes": plans }))?;
        return Ok(Exit::Success);
    }
    for p in plans {
        print_lane(ui, p)?;
    }
    summary(ui, plans);
    Ok(Exit::Success)
}

/// Refuse bad input (unparseable files, duplicate ids) and read the catalog if there is one.
pub(super) fn load_inputs(ctx: &Ctx, ws: &Workspace) -> Result<Option<Catalog>, CliError> {
    ws.ensure_clean()?;
    Ok(match ctx.catalog(ws)? {
        Some(r) => Some(r?),
        None => None,
    })
}

/// `Lane E (2 of max 5)`, the assigned issues with complexity, then blocked and deferred ones.
pub(super) fn print_lane(ui: &Ui, p: &LanePlan) -> std::io::Result<()> {
    // A lane's lines go out in one write: a lane may have a thousand blocked issues.
    let mut lines = Vec::with_capacity(1 + p.issues.len() + p.blocked.len() + 1);
    if p.is_idle() {
        lines.push(format!("{} {}", ui.bold(format!("Lane {}", p.lane)), ui.dim("nothing ready")));
    } else {
        lines.push(format!("{} ({} of max {})", ui.bold(format!("Lane {}", p.lane)), p.issues.len(), p.max_issues));
    }
    for a in &p.issues {
        lines.push(format!(
            "  {:<10} {:<18} {}  {}",
            a.id,
            format!("{} complexity", a.complexity.as_str()),
            a.title,
            ui.dim(format!("({})", a.reason))
        ));
    }
    for b in &p.blocked {
        let why = if b.reason == "dependency cycle" { " (on a dependency cycle)" } else { "" };
        lines.push(format!(
            "  {:<10} {} until {} {} resolved{why}",
            b.id,
            ui.yellow("BLOCKED"),
            b.waiting_on.join(", "),
            if b.waiting_on.len() == 1 { "is" } else { "are" }
        ));
    }
    if let Some(first) = p.deferred.first() {
        let ids: Vec<&str> = p.deferred.iter().take(5).map(|d| d.id.as_str()).collect();
        let more = if p.deferred.len() > 5 { format!(" and {} more", p.deferred.len() - 5) } else { String::new() };
        lines.push(ui.dim(format!("  deferred: {}{more} — {}", ids.join(", "), first.reason)));
    }
    ui.out_lines(&lines)
}

/// One line on stderr: how many lanes have work.
pub(super) fn summary(ui: &Ui, plans: &[LanePlan]) {
    let busy = plans.iter().filter(|p| !p.is_idle()).count();
    let issues: usize = plans.iter().map(|p| p.issues.len()).sum();
    let blocked: usize = plans.iter().map(|p| p.blocked.len()).sum();
    let total = crate::files::text::plural(plans.len(), "lane");
    ui.info(format!(
        "{busy} of {total} {} work: {} assigned, {blocked} blocked",
        if busy == 1 { "has" } else { "have" },
        crate::files::text::plural(issues, "issue")
    ));
}
