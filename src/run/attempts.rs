//! Attempts: a lane whose issues are rejected goes back to its agent with what failed.
//!
//! When a lane is judged (as soon as its worker ends) and an issue of it is rejected — its checks
//! fail, or the lane guard refuses the lane — the same worker is started again in the same
//! worktree, while attempts are left (`--attempts`, `attempts:`, 2 in all) and the run's budget
//! (`--budget-usd`, `--budget-tokens`, `budget:`) is not reached. Its feedback is a markdown file
//! in the lane's run folder (`feedback.md`, one `feedback-<N>.md` per attempt kept): each rejected
//! issue and why, each failing check with its command and the tail of its output, the edits the
//! guard reverted and why the lane was refused. The worker sees `LANES_ATTEMPT` (1, 2, …) and
//! `LANES_FEEDBACK_FILE`, and its prompt has the feedback appended. Issues resolved on an earlier
//! attempt stay resolved: only the rest are given to the worker and judged again.
//!
//! The budget also ends a running worker whose usage so far, read from its log, passes it (see
//! the coordinator). After the integration, a lane backed out of it (a conflict, or checks its
//! merge breaks) goes back too, with the integration result merged into its worktree
//! ([`after_integration`]).
//!
//! Each attempt is kept in the lane's state ([`Attempt`]): when it ran, how it was judged, what it
//! cost; the report, `run --json` and `git lanes logs <LANE> --checks` show them.

use std::fmt::Write as _;
use std::path::PathBuf;

use crate::base::error::Result;
use crate::run::collected::Collected;
use crate::run::context::Run;
use crate::run::events::RunEvent;
use crate::run::state::{Attempt, LaneState};
use crate::run::status::LaneStatus;

/// The feedback file of a lane's latest attempt, in its run folder.
pub(super) const FEEDBACK_FILE: &str = "feedback.md";
/// The prompt the lane was first given (its `prompt.md` then has the feedback appended).
const FIRST_PROMPT: &str = "prompt.first.md";

/// How many attempts a lane gets in all.
pub(super) fn max_attempts(r: &Run<'_>) -> u32 {
    r.settings.attempts
}

/// The run's recorded usage: dollars and tokens of every attempt of every lane.
pub(super) fn usage(r: &Run<'_>) -> (f64, u64) {
    let mut usd = 0.0;
    let mut tokens = 0;
    for ls in r.state.lanes.values() {
        usd += lane_cost(ls).unwrap_or(0.0);
        tokens += ls.attempts.iter().filter_map(|a| a.tokens).sum::<u64>();
    }
    (usd, tokens)
}

/// What the lane's attempts cost in all (the lane's own figure when it kept no attempts).
fn lane_cost(ls: &LaneState) -> Option<f64> {
    let costs: Vec<f64> = ls.attempts.iter().filter_map(|a| a.cost_usd).collect();
    if costs.is_empty() { ls.cost_usd } else { Some(costs.iter().sum()) }
}

/// Why no attempt may start any more (the budget reached), if so.
pub(super) fn budget_reached(r: &Run<'_>) -> Option<String> {
    let (usd, tokens) = usage(r);
    if let Some(limit) = r.settings.budget_usd
        && usd >= limit
    {
        return Some(format!("the run's budget of ${limit:.2} is reached (${usd:.2} recorded)"));
    }
    if let Some(limit) = r.settings.budget_tokens
        && tokens >= limit
    {
        return Some(format!("the run's budget of {limit} tokens is reached ({tokens} recorded)"));
    }
    None
}

/// What the run may still spend while a lane's worker runs: the budget's limits and what the
/// run recorded before this attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct BudgetLeft {
    pub usd: Option<(f64, f64)>,
    pub tokens: Option<(u64, u64)>,
}

/// The budget's limits and what the run recorded so far (ended attempts), when it has one.
pub(super) fn budget_left(r: &Run<'_>) -> Option<BudgetLeft> {
    let (usd, tokens) = (r.settings.budget_usd, r.settings.budget_tokens);
    if usd.is_none() && tokens.is_none() {
        return None;
    }
    let (spent_usd, spent_tokens) = usage(r);
    Some(BudgetLeft { usd: usd.map(|l| (l, spent_usd)), tokens: tokens.map(|l| (l, spent_tokens)) })
}

/// A new attempt of the lane's worker starts now: recorded, and its number returned.
pub(super) fn begin(ls: &mut LaneState) -> u32 {
    let n = ls.attempts.len() as u32 + 1;
    ls.attempts.push(Attempt { n, started: Some(crate::run::timeline::now_ms()), outcome: "running".into(), ..Attempt::default() });
    n
}

/// The number the next attempt of the lane gets.
pub(super) fn next_number(ls: Option<&LaneState>) -> u32 {
    ls.map_or(0, |l| l.attempts.len() as u32) + 1
}

/// The lane's worker ended (`state` is its lane status): the latest attempt ends with its usage;
/// the lane's cost becomes the sum of its attempts'.
pub(super) fn worker_ended(ls: &mut LaneState, state: &LaneStatus, cost_usd: Option<f64>, tokens: Option<u64>, detail: &str) {
    let Some(a) = ls.attempts.last_mut().filter(|a| a.ended.is_none()) else { return };
    a.ended = Some(crate::run::timeline::now_ms());
    a.outcome = if *state == LaneStatus::Done { "judging".into() } else { state.as_str().to_string() };
    if *state != LaneStatus::Done {
        a.reason = Some(detail.lines().next().unwrap_or(detail).to_string());
    }
    a.cost_usd = cost_usd;
    a.tokens = tokens;
    if ls.attempts.len() > 1 {
        ls.cost_usd = lane_cost(ls);
    }
}

/// The lane was judged: its latest attempt gets its outcome. When an issue was rejected, the run
/// was not interrupted, attempts are left and the budget allows, the next attempt is prepared
/// (feedback written, prompt extended, earlier resolutions kept, the lane made pending again) and
/// `true` returned: the coordinator then queues the lane.
pub(super) fn after_judgement(r: &mut Run<'_>, lane: &str, interrupted: bool) -> Result<bool> {
    let Some(c) = r.collected.get(lane).cloned() else { return Ok(false) };
    let rejected: Vec<String> = c.judgements.iter().filter(|j| !j.approved).map(|j| format!("{}: {}", j.id, j.reason)).collect();
    let outcome = if !c.refused.is_empty() {
        "refused"
    } else if !rejected.is_empty() {
        "rejected"
    } else if c.error.is_some() {
        "error"
    } else {
        "resolved"
    };
    let ls = r.lane_state(lane);
    let done = ls.attempts.len() as u32;
    if let Some(a) = ls.attempts.last_mut() {
        a.outcome = outcome.into();
        a.reason = (!rejected.is_empty()).then(|| rejected.join("; ")).or_else(|| c.error.clone());
    }
    if rejected.is_empty() || interrupted {
        return Ok(false);
    }
    let max = max_attempts(r);
    if done >= max {
        if max > 1 {
            let note = format!("lane {lane}: no attempt left ({done} of {max} made); its rejected issues wait for a human");
            r.emit(RunEvent::Note(note));
        }
        crate::run::notify::lane_needs_human(r, lane, &format!("rejected after {done} attempt(s): {}", rejected.join("; ")));
        return Ok(false);
    }
    if let Some(why) = budget_reached(r) {
        let stopped = format!("not started again: {why}");
        if let Some(a) = r.lane_state(lane).attempts.last_mut() {
            a.reason = Some(format!("{}; {stopped}", a.reason.clone().unwrap_or_default()));
        }
        r.lane_state(lane).warnings.push(format!("budget: attempt {} {stopped}", done + 1));
        r.emit(RunEvent::Note(format!("lane {lane}: attempt {} {stopped}", done + 1)));
        crate::run::notify::lane_needs_human(r, lane, &format!("rejected, and attempt {} {stopped}: {}", done + 1, rejected.join("; ")));
        return Ok(false);
    }
    let feedback = prepare(r, lane, &c, done + 1, max)?;
    let Some(lr) = r.lanes.get_mut(lane) else { return Ok(false) };
    lr.resolved_before = c.judgements.iter().filter(|j| j.approved).cloned().collect();
    lr.judged_before = c.tip.clone().map(|tip| (tip, c.judgements.clone()));
    r.collected.remove(lane);
    let ls = r.lane_state(lane);
    ls.status = LaneStatus::Pending;
    ls.exit = None;
    ls.completed_at = None;
    let ids: Vec<&str> = c.judgements.iter().filter(|j| !j.approved).map(|j| j.id.as_str()).collect();
    r.emit(RunEvent::Note(format!(
        "lane {lane}: attempt {} of {max} starts: {} rejected; the worker gets the failing output ({})",
        done + 1,
        ids.join(", "),
        feedback.display()
    )));
    Ok(true)
}

/// A later attempt whose worker failed, timed out or was stopped (by the budget) leaves the lane
/// with the verified result of the attempt before it, when that one resolved something: the
/// worktree (and branch) go back to that tip — the failed attempt's work, its leftovers committed,
/// stays archived under `refs/lanes/archive/<RUN_ID>/<LANE>.<N>` — and the lane is done with
/// those judgements, so what was verified is still integrated.
pub(super) fn keep_earlier_result(r: &mut Run<'_>, c: &mut Collected) -> Result<()> {
    let Some(lr) = r.lanes.get(&c.lane) else { return Ok(()) };
    let Some((tip, judgements)) = lr.judged_before.clone() else { return Ok(()) };
    let status = r.state.lanes.get(&c.lane).map(|l| l.status.clone()).unwrap_or_default();
    let worked = c.error.is_none() && c.refused.is_empty() && judgements.iter().any(|j| j.approved);
    if !matches!(status, LaneStatus::Failed | LaneStatus::TimedOut) || !worked {
        return Ok(());
    }
    crate::git::gitcli::git(&lr.worktree, &["reset", "--hard", "--quiet", &tip])?;
    crate::git::worktree::archive(r.repo, &r.run_id, &c.lane, &tip)?;
    c.tip = Some(tip);
    c.judgements = judgements;
    let lane = c.lane.clone();
    let ls = r.lane_state(&lane);
    let n = ls.attempts.len();
    let why = ls.exit.clone().unwrap_or_default();
    ls.status = LaneStatus::Done;
    let kept = format!(
        "attempt {n} {} ({why}); the lane keeps attempt {}'s verified result, and attempt {n}'s work is archived under refs/lanes/archive/",
        crate::run::state::status_words(&status),
        n.saturating_sub(1)
    );
    ls.warnings.push(kept.clone());
    r.emit(RunEvent::Note(format!("lane {lane}: {kept}")));
    Ok(())
}

/// Write the feedback of attempt `n` and append it to the lane's first prompt; returns the
/// feedback file.
fn prepare(r: &Run<'_>, lane: &str, c: &Collected, n: u32, max: u32) -> Result<PathBuf> {
    // The lane's judgements (those of earlier attempts included: see `collect::record`).
    let resolved: Vec<String> = c.judgements.iter().filter(|j| j.approved).map(|j| j.id.clone()).collect();
    let text = feedback(lane, c, r.state.lanes.get(lane), &resolved, n, max);
    write_feedback(r, lane, &text, n)
}

/// Keep `text` as attempt `n`'s feedback and append it to the lane's first prompt.
fn write_feedback(r: &Run<'_>, lane: &str, text: &str, n: u32) -> Result<PathBuf> {
    let files = r.dir.join(lane);
    let path = files.join(FEEDBACK_FILE);
    crate::base::fsutil::write_atomic(&files.join(format!("feedback-{n}.md")), text.as_bytes())?;
    crate::base::fsutil::write_atomic(&path, text.as_bytes())?;
    let first = files.join(FIRST_PROMPT);
    let prompt = match crate::base::fsutil::read_optional(&first)? {
        Some(b) => b,
        None => {
            let b = crate::base::fsutil::read_optional(&files.join("prompt.md"))?.unwrap_or_default();
            crate::base::fsutil::write_atomic(&first, &b)?;
            b
        }
    };
    let mut extended = String::from_utf8_lossy(&prompt).trim_end().to_string();
    extended.push_str("\n\n---\n\n");
    extended.push_str(text);
    crate::base::fsutil::write_atomic(&files.join("prompt.md"), extended.as_bytes())?;
    Ok(path)
}

/// After the integration: each lane backed out of it (its merge conflicts with lanes merged
/// before it, or makes checks fail) goes back to its worker while attempts are left and the
/// budget allows: the integration result is merged into its worktree (conflict markers and all,
/// the merge left for the worker to finish), its feedback names the files and the lanes, and its
/// work is judged again from that merge. Returns the lanes sent back (pending again).
pub(super) fn after_integration(r: &mut Run<'_>, int: &crate::run::integrate::Integrated) -> Result<Vec<String>> {
    let mut sent = Vec::new();
    let Ok(tip) = crate::git::worktree::head(&int.worktree) else { return Ok(sent) };
    let max = max_attempts(r);
    for (lane, reason) in &int.backed_out {
        let Some(lr) = r.lanes.get(lane) else { continue };
        let worktree = lr.worktree.clone();
        let done = r.state.lanes.get(lane).map_or(0, |l| l.attempts.len() as u32);
        if done >= max || done == 0 {
            continue;
        }
        if let Some(why) = budget_reached(r) {
            let stopped = format!("attempt {} not started: {why}", done + 1);
            r.lane_state(lane).warnings.push(format!("budget: {stopped}"));
            r.emit(RunEvent::Note(format!("lane {lane}: {stopped}")));
            continue;
        }
        let message = format!("lanes: run {}: lane {lane}: merge the integration result for attempt {}", r.run_id, done + 1);
        let merged = crate::git::gitcli::git(&worktree, &["merge", "--no-ff", "--no-edit", "-m", &message, &tip]);
        let conflicted: Vec<String> = crate::git::gitcli::git(&worktree, &["diff", "--name-only", "--diff-filter=U"])
            .map(|o| o.lines().map(str::to_string).filter(|l| !l.is_empty()).collect())
            .unwrap_or_default();
        if merged.is_err() && conflicted.is_empty() {
            // Not a conflict git can leave for the worker: nothing to send back.
            let _ = crate::git::gitcli::git(&worktree, &["merge", "--abort"]);
            continue;
        }
        let with: Vec<String> = int
            .conflicting_pairs
            .iter()
            .filter_map(|(a, b)| {
                if a == lane {
                    Some(b.clone())
                } else if b == lane {
                    Some(a.clone())
                } else {
                    None
                }
            })
            .filter(|other| int.merged.contains(other))
            .collect();
        let text = integration_feedback(lane, reason, &conflicted, &with, &int.merged, done + 1, max);
        let path = write_feedback(r, lane, &text, done + 1)?;
        if let Some(a) = r.lane_state(lane).attempts.last_mut() {
            a.outcome = if conflicted.is_empty() { "backed_out".into() } else { "conflict".into() };
            a.reason = Some(reason.clone());
        }
        let Some(lr) = r.lanes.get_mut(lane) else { continue };
        // The merge is the lane's own work from now on: every issue of it is judged again.
        lr.resolved_before.clear();
        lr.judged_before = None;
        lr.fork = Some(tip.clone());
        r.collected.remove(lane);
        let ls = r.lane_state(lane);
        ls.status = LaneStatus::Pending;
        ls.exit = None;
        ls.completed_at = None;
        ls.merge = None;
        r.emit(RunEvent::Note(format!(
            "lane {lane}: attempt {} of {max} starts: {reason}; the integration result is merged into its worktree{} ({})",
            done + 1,
            if conflicted.is_empty() { String::new() } else { format!(" with conflicts in {}", conflicted.join(", ")) },
            path.display()
        )));
        sent.push(lane.clone());
    }
    Ok(sent)
}

/// The feedback of an attempt after the integration backed the lane out.
fn integration_feedback(lane: &str, reason: &str, conflicted: &[String], with: &[String], merged: &[String], n: u32, max: u32) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Attempt {n} of {max} for lane {lane}: your work could not be integrated\n");
    let _ = writeln!(s, "git-lanes backed your lane out of the integration: {reason}.\n");
    let others = if merged.is_empty() { "none".to_string() } else { merged.join(", ") };
    let _ = writeln!(s, "The integration result (the work of lane(s) {others}) is merged into this worktree now.");
    if conflicted.is_empty() {
        let _ = writeln!(
            s,
            "The merge is committed. Make your issues' checks pass together with the others' work, commit, and write \
             the .done signal again."
        );
    } else {
        let _ = writeln!(s, "\n## Conflicts to resolve\n");
        if !with.is_empty() {
            let _ = writeln!(s, "Your changes conflict with lane(s) {}, in these files:\n", with.join(", "));
        }
        for f in conflicted {
            let _ = writeln!(s, "- `{f}`");
        }
        let _ = writeln!(
            s,
            "\nThe files hold git's conflict markers (`<<<<<<<`, `=======`, `>>>>>>>`). Keep both lanes' intent, remove \
             the markers, `git add` the files and commit (the merge is in progress), then write the .done signal again. \
             Your issues are judged again on the result."
        );
    }
    crate::base::redact::redact(&s).into_owned()
}

/// The feedback markdown: what was rejected and why, each failing check's output, what the guard
/// reverted and why the lane was refused.
pub(super) fn feedback(lane: &str, c: &Collected, ls: Option<&LaneState>, resolved: &[String], n: u32, max: u32) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Attempt {n} of {max} for lane {lane}: what the last attempt left to fix\n");
    let _ = writeln!(
        s,
        "git-lanes ran each issue's verification commands itself on your last attempt's commits. The issues \
         below were rejected and are still open: fix them in this worktree, commit, and write the .done signal \
         again. Do not edit the issue files or their checks: the checks of the run's start are the ones that judge."
    );
    if !resolved.is_empty() {
        let _ = writeln!(s, "\nResolved already (keep them working, no need to touch them): {}.", resolved.join(", "));
    }
    for j in c.judgements.iter().filter(|j| !j.approved) {
        let _ = writeln!(s, "\n## {} — REJECTED\n\n{}", j.id, j.reason);
        for check in &j.failing {
            let fence = "`".repeat(check.output.split(|ch| ch != '`').map(str::len).max().unwrap_or(0).max(2) + 1);
            let _ = writeln!(s, "\n### Failing check: `{}` ({})\n", check.command, check.ending);
            if check.output.trim().is_empty() {
                let _ = writeln!(s, "(it printed nothing)");
            } else {
                let _ = writeln!(s, "The last lines of its output:\n\n{fence}text\n{}\n{fence}", check.output);
            }
        }
    }
    if !c.reverts.is_empty() {
        let _ = writeln!(s, "\n## What the lane guard reverted\n");
        for rv in &c.reverts {
            let _ = writeln!(s, "- {rv}");
        }
    }
    if !c.refused.is_empty() {
        let _ = writeln!(s, "\n## Why the lane was refused as a whole\n");
        for why in &c.refused {
            let _ = writeln!(s, "- {why}");
        }
    }
    if let Some(err) = ls.and_then(|l| l.exit.as_deref()).filter(|e| !e.starts_with("exit 0")) {
        let _ = writeln!(s, "\n(Your last worker ended: {err}.)");
    }
    crate::base::redact::redact(&s).into_owned()
}

#[cfg(test)]
mod tests {
    use crate::run::attempts::*;
    use crate::run::collected::Judgement;
    use crate::run::state::FailedCheck;

    fn judgement(id: &str, approved: bool, failing: Vec<FailedCheck>) -> Judgement {
        Judgement {
            id: id.into(),
            approved,
            reason: if approved { "1/1 checks passed".into() } else { "Verification: 1 of 1 verification commands failed".into() },
            verdict_yaml: None,
            failing,
            evidence_json: None,
        }
    }

    #[test]
    fn the_feedback_names_each_rejected_issue_its_failing_checks_output_and_the_guards_reverts() {
        let c = Collected {
            lane: "E".into(),
            judgements: vec![
                judgement("E-01", true, vec![]),
                judgement("E-02", false, vec![FailedCheck::of("pytest -q", "exit 1".into(), "collected 1 item\nassert 2 == 3\n")]),
            ],
            reverts: vec!["issues/M/M-01.md: another lane's issue file".into()],
            ..Collected::default()
        };
        let text = feedback("E", &c, None, &["E-01".into()], 2, 3);
        assert!(text.starts_with("# Attempt 2 of 3 for lane E"), "{text}");
        assert!(text.contains("Resolved already (keep them working, no need to touch them): E-01."), "{text}");
        assert!(text.contains("## E-02 — REJECTED\n\nVerification: 1 of 1"), "{text}");
        assert!(text.contains("### Failing check: `pytest -q` (exit 1)"), "{text}");
        assert!(text.contains("```text\ncollected 1 item\nassert 2 == 3\n```"), "{text}");
        assert!(!text.contains("## E-01"), "a resolved issue is not fed back: {text}");
        assert!(text.contains("## What the lane guard reverted\n\n- issues/M/M-01.md"), "{text}");
    }

    #[test]
    fn attempts_record_their_end_and_a_lanes_cost_is_the_sum_of_its_attempts() {
        let mut ls = LaneState::default();
        assert_eq!(next_number(Some(&ls)), 1);
        assert_eq!(begin(&mut ls), 1);
        worker_ended(&mut ls, &LaneStatus::Done, Some(0.5), Some(1000), "exit 0");
        assert_eq!(ls.attempts[0].outcome, "judging");
        assert_eq!(begin(&mut ls), 2);
        worker_ended(&mut ls, &LaneStatus::Failed, Some(0.25), None, "worker ended with exit 1 without writing .done\n  worker log: x");
        assert_eq!(ls.attempts[1].outcome, "failed");
        assert_eq!(ls.attempts[1].reason.as_deref(), Some("worker ended with exit 1 without writing .done"));
        assert_eq!(ls.cost_usd, Some(0.75));
        // An end seen twice changes nothing.
        worker_ended(&mut ls, &LaneStatus::Done, Some(9.0), None, "");
        assert_eq!(ls.attempts[1].outcome, "failed");
    }
}
