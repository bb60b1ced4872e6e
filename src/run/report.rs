//! The run report (`LogBook/issue-fixing/runs/<RUN_ID>.md`): the seed's sample report shape,
//! extended with verdicts, branches, merge results and what is left for a human.
//!
//! `check` accepts a report as proof that an issue was resolved by a run when one of its lines is
//! a table row `| <ID> | RESOLVED | …` (see [`resolved_ids`]); the report writes exactly that.

use std::fmt::Write as _;

use crate::run::state::{IssueLine, RunState};

/// Ids the report says the run resolved: rows `| <ID> | RESOLVED | … |`.
pub fn resolved_ids(report: &str) -> Vec<String> {
    report
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.trim().strip_prefix('|')?.split('|').map(str::trim).collect();
            (cells.len() > 2 && cells[1] == "RESOLVED" && crate::files::names::check_id(cells[0]).is_ok()).then(|| cells[0].to_string())
        })
        .collect()
}

/// Render the report from the final state and per-issue lines.
pub fn render(state: &RunState, issues: &[IssueLine], human: &[String], generated: &str) -> String {
    let run_id = state.run_id.as_deref().unwrap_or("?");
    let resolved = issues.iter().filter(|i| i.result == "RESOLVED").count();
    let attempted = issues.iter().filter(|i| i.result != "BLOCKED").count();
    let mut s = String::new();
    let _ = writeln!(s, "# Run Report {run_id}\n");
    let _ = writeln!(s, "> **Generated:** {generated}");
    let _ = writeln!(s, "> **Status:** {}", crate::run::state::status_words(&state.status));
    if let Some(base) = &state.base_commit {
        let _ = writeln!(s, "> **Base:** {}{}", short(base), state.base_branch.as_ref().map(|b| format!(" ({b})")).unwrap_or_default());
    }
    if let Some(svg) = &state.timeline {
        let _ = writeln!(s, "\n## Timeline\n\n![Run {run_id} timeline: set-up, work, judging and integration of each lane]({svg})");
    }
    let _ = writeln!(s, "\n## Summary\n\n| Metric | Value |\n|--------|-------|");
    let _ = writeln!(s, "| Lanes processed | {} |", state.lanes.len());
    let _ = writeln!(s, "| Issues assigned | {attempted} |");
    let _ = writeln!(s, "| Issues resolved | {resolved} |");
    let _ = writeln!(s, "| Issues rejected | {} |", issues.iter().filter(|i| i.result == "REJECTED").count());
    let _ = writeln!(s, "| Issues blocked | {} |", issues.iter().filter(|i| i.result == "BLOCKED").count());
    let pct = (resolved * 100).checked_div(attempted).unwrap_or(0);
    let _ = writeln!(s, "| Completion | {pct}% |");
    let _ = writeln!(s, "\n## Results by Lane\n");
    for (lane, l) in &state.lanes {
        let _ = writeln!(s, "### Lane {lane}\n");
        let _ = writeln!(s, "- **Status:** {}", crate::run::state::status_words(&l.status));
        let _ = writeln!(s, "- **Issues assigned:** {}", if l.issue_ids.is_empty() { "none".into() } else { l.issue_ids.join(", ") });
        let _ = writeln!(s, "- **Issues fixed:** {}", l.issues_fixed);
        if !l.resolved.is_empty() {
            let _ = writeln!(s, "- **Fixed IDs:** {}", l.resolved.join(", "));
        }
        if let Some(b) = &l.branch {
            let _ = writeln!(s, "- **Branch:** `{b}`{}", l.tip.as_ref().map(|t| format!(" at {}", short(t))).unwrap_or_default());
        }
        if let (Some(a), Some(b)) = (&l.started_at, &l.completed_at) {
            let _ = writeln!(s, "- **Ran:** {a} → {b}");
        }
        if let Some(e) = &l.exit {
            let _ = writeln!(s, "- **Worker:** {e}");
        }
        if let Some(why) = &l.reason {
            let _ = writeln!(s, "- **Reason:** {}", why.replace('\n', " "));
        }
        if let Some(limit) = &l.limit {
            let _ = writeln!(s, "- **Limit hit:** {limit}");
        }
        if let (Some(log), false) = (&l.log, l.status == "done") {
            let _ = writeln!(s, "- **Worker log:** `{log}`");
        }
        if let Some(c) = l.cost_usd {
            let _ = writeln!(s, "- **Cost:** ${c:.4}{}", l.turns.map(|t| format!(" ({t} turns)")).unwrap_or_default());
        }
        if let Some(ms) = l.signal_latency_ms {
            let _ = writeln!(s, "- **Signal latency:** {ms:.1} ms");
        }
        if let Some(m) = &l.merge {
            let _ = writeln!(s, "- **Integration:** {m}");
        }
        for w in &l.warnings {
            let _ = writeln!(s, "- **Warning:** {w}");
        }
        let _ = writeln!(s);
    }
    let _ = writeln!(s, "## Issues\n\n| ID | Result | Lane | Detail |\n|----|--------|------|--------|");
    for i in issues {
        let _ = writeln!(s, "| {} | {} | {} | {} |", i.id, i.result, i.lane, i.detail.replace('|', "\\|").replace('\n', " "));
    }
    if let Some(int) = &state.integration {
        let _ = writeln!(s, "\n## Integration\n\n- **Policy:** {}", int.policy);
        if let Some(b) = &int.branch {
            let _ = writeln!(s, "- **Branch:** `{b}`");
        }
        let _ = writeln!(s, "- **Merged:** {}", if int.merged.is_empty() { "none".into() } else { int.merged.join(", ") });
        for b in &int.backed_out {
            let _ = writeln!(s, "- **Backed out:** lane {} — {}", b.id, b.reason);
        }
        let _ = writeln!(s, "- **Fast-forwarded:** {}", if int.fast_forwarded { "yes" } else { "no" });
        if let Some(kept) = &int.kept_at {
            let _ = writeln!(s, "- **Kept off your branch:** nothing was resolved, so this report and the state are kept under `{kept}`");
        }
    }
    let _ = writeln!(s, "\n## Left for a human\n");
    if human.is_empty() {
        let _ = writeln!(s, "Nothing.");
    }
    for h in human {
        let _ = writeln!(s, "- {h}");
    }
    let _ = writeln!(
        s,
        "\n---\n\n*Generated by git-lanes {}; each RESOLVED issue passed its own verification commands.*",
        env!("CARGO_PKG_VERSION")
    );
    // The report quotes status lines, reasons and warnings: no secret value goes into it.
    crate::base::redact::redact(&s).into_owned()
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(10)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolved_rows_are_found() {
        let r = "| ID | Result |\n|----|----|\n| E-01 | RESOLVED | E | ok |\n| E-02 | REJECTED | E | no |\n| not an id! | RESOLVED |\n";
        assert_eq!(resolved_ids(r), ["E-01"]);
    }
}
