//! Steps 6–8 in order: collect every lane, integrate, then commit the catalog, report and state
//! and tidy up — archiving every tip before a branch or worktree is removed.
//!
//! # Design note: finishing as a list of idempotent steps
//! [`complete`] reads as its steps: record the lanes' outcomes → integrate → write the catalog,
//! verdicts and report in the integration worktree → the run commit → the journal. Until the
//! run commit exists, `run --resume` simply does those steps again, and each may be redone:
//! collection undoes what a killed judgement wrote (`judging.json`), integration continues its
//! branch, the files are rewritten whole, and a run commit already at the integration tip is
//! amended instead of repeated ([`head_is_run_commit`]). From the run commit on, each [`Step`]
//! (fast-forward, push, tidy) is journalled in [`Finishing::steps`] as soon as it is done, so
//! [`resume_finishing`] does only what is left, then [`final_state`] saves the run's last word.
//! The fault points (`crate::base::fault::point`) sit on these step boundaries.

use std::path::{Path, PathBuf};

use super::collect;
use super::integrate::{self, Candidate, Integrated};
use crate::base::error::Result;
use crate::files::config::IntegrationPolicy;
use crate::files::issue::Status;
use crate::files::workspace::Workspace;
use crate::run::collected::Collected;
use crate::run::context::Run;
use crate::run::events::RunEvent;
use crate::run::report;
use crate::run::state::{Finishing, IntegrationChecks, IntegrationState, IssueLine, LaneState, MergedLane, Rejection};
use crate::run::status::{LaneStatus, RunStatus};
use crate::run::summary::RunSummary;
use crate::{files::signal, git::gitcli, git::worktree};

/// Collect, integrate and finish a run whose lanes all ended; `interrupted` stops after
/// collecting (the work is kept; `run --resume` continues).
pub(super) fn complete(r: &mut Run<'_>, interrupted: bool) -> Result<RunSummary> {
    // What moved after the last lane's end (a process a worker left behind) is put back too.
    crate::run::context::check_refs(r, &[]);
    let collected = collect::collect_all(r)?;
    crate::base::fault::point("after-collect");
    let mut human = lane_outcomes(r, &collected);
    if interrupted {
        return stop_interrupted(r, human);
    }
    let policy = r.settings.policy;
    let candidates = candidates(r);
    human.extend(kept_for_review(&candidates));
    if r.opts.no_integrate || policy == IntegrationPolicy::Branches {
        return leave_branches(r, &candidates, human);
    }
    let mut int = integrate_lanes(r, &candidates, policy)?;
    // Lanes backed out of the integration go back to their workers while attempts are left;
    // then the integration is made again from the base, with every lane.
    loop {
        let sent = super::attempts::after_integration(r, &int)?;
        if sent.is_empty() {
            break;
        }
        r.save()?;
        let interrupted = super::coordinator::follow(r, super::coordinator::Setup::none())?;
        let collected = collect::collect_all(r)?;
        human = lane_outcomes(r, &collected);
        if interrupted {
            return stop_interrupted(r, human);
        }
        let candidates = self::candidates(r);
        human.extend(kept_for_review(&candidates));
        gitcli::git(&int.worktree, &["reset", "--hard", "--quiet", &r.base])?;
        int = integrate_lanes(r, &candidates, policy)?;
    }
    crate::base::fault::point("after-integrate");
    record_integration(r, &int, policy, &mut human);
    let mut f = finishing_of(r, &int, human);
    f.open = write_catalog_and_verdicts(r, &int.worktree)?;
    place_run_commit(r, &int, &mut f)?;
    write_run_report(r, &int, &mut f)?;
    run_commit(r, &mut f)?;
    finish_steps(r, f)
}

/// What the lanes leave for a human: failures, interruptions, rejections, collection problems,
/// refusals, and refs a worker changed.
fn lane_outcomes(r: &Run<'_>, collected: &[Collected]) -> Vec<String> {
    let mut human: Vec<String> = r.state.lanes.iter().flat_map(|(lane, ls)| lane_state_lines(&r.run_id, lane, ls)).collect();
    human.extend(collected.iter().flat_map(collected_lines));
    // Refs a worker moved (put back at each lane's end; see `run::refwatch`).
    for (lane, ls) in &r.state.lanes {
        human.extend(ls.held.iter().map(|h| format!("lane {lane} is held, its branch kept: {h}")));
    }
    human.extend(r.state.ref_notes.iter().cloned());
    human
}

/// A lane that failed, timed out or was interrupted, and each issue its judge rejected.
fn lane_state_lines(run_id: &str, lane: &str, ls: &LaneState) -> Vec<String> {
    let mut out = Vec::new();
    match ls.status {
        LaneStatus::Failed | LaneStatus::TimedOut => out.push(format!(
            "lane {lane} {}: {}{}{}; its work is on `{}` (`git lanes run --resume` restarts it; `git lanes integrate {run_id} --no-fetch` verifies it and takes it as it stands)",
            ls.status.words(),
            ls.exit.as_deref().unwrap_or("?"),
            ls.reason.as_deref().map(|why| format!(" — {why}")).unwrap_or_default(),
            ls.log.as_deref().map(|log| format!(" (log: {log})")).unwrap_or_default(),
            ls.branch.as_deref().unwrap_or("?"),
        )),
        LaneStatus::Interrupted => out.push(format!("lane {lane} was interrupted; `git lanes run --resume` continues it")),
        _ => {}
    }
    out.extend(ls.rejected.iter().map(|rej| format!("{} was not resolved: {}", rej.id, rej.reason)));
    out
}

/// What collecting one lane ran into: an error, edits the guard dropped, a refusal.
fn collected_lines(c: &Collected) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(e) = &c.error {
        out.push(format!("lane {}: collecting failed: {e}", c.lane));
    }
    out.extend(c.reverts.iter().map(|rv| format!("lane {}: edit dropped from its commit: {rv}", c.lane)));
    out.extend(c.embedded.iter().map(|e| format!("lane {}: {}", c.lane, collect::embedded_warning(e))));
    out.extend(c.tampering.iter().map(|t| format!("lane {}: {t}", c.lane)));
    if !c.refused.is_empty() {
        out.push(format!(
            "lane {} was refused ({}); it is neither judged nor integrated, its branch is kept",
            c.lane,
            c.refused.join("; ")
        ));
    }
    out
}

/// An interrupted run stops after collecting: its state says so, nothing is integrated.
fn stop_interrupted(r: &mut Run<'_>, human: Vec<String>) -> Result<RunSummary> {
    r.state.status = RunStatus::Interrupted;
    r.save()?;
    Ok(summary(r, vec![], human, None, None, None, true))
}

/// The lanes offered for integration: finished and not refused.
fn candidates(r: &Run<'_>) -> Vec<Candidate> {
    r.lanes
        .iter()
        .filter_map(|(lane, lr)| {
            let ls = r.state.lanes.get(lane)?;
            (ls.status == LaneStatus::Done && ls.refused.is_empty() && ls.held.is_empty()).then(|| Candidate {
                lane: lane.clone(),
                branch: lr.branch.clone(),
                tip: ls.tip.clone().unwrap_or_default(),
                resolved: ls.resolved.clone(),
            })
        })
        .collect()
}

/// A finished lane that resolved nothing is not merged: its branch waits for a human.
fn kept_for_review(candidates: &[Candidate]) -> Vec<String> {
    candidates
        .iter()
        .filter(|c| c.resolved.is_empty())
        .map(|c| format!("lane {} resolved nothing; its branch `{}` is kept for review", c.lane, c.branch))
        .collect()
}

/// `--no-integrate` or policy `branches`: push the lane branches when asked, write the report
/// and state in the run's folder, and leave the branches for review.
fn leave_branches(r: &mut Run<'_>, candidates: &[Candidate], mut human: Vec<String>) -> Result<RunSummary> {
    let mut pushed = Vec::new();
    if r.opts.push {
        for c in candidates {
            match gitcli::git(&r.repo.root, &["push", "--quiet", "origin", &c.branch]) {
                Ok(_) => pushed.push(c.branch.clone()),
                Err(e) => human.push(format!("could not push `{}`: {e}", c.branch)),
            }
        }
    }
    // Leaving the branches is what was asked for (e.g. one CI job per lane), not something
    // that needs a human: it is said in the report and as a note, and does not make exit 3.
    let left = format!(
        "lane branches were left for review (policy {}): {}",
        if r.opts.no_integrate { "--no-integrate" } else { "branches" },
        candidates.iter().map(|c| c.branch.as_str()).collect::<Vec<_>>().join(", ")
    );
    r.emit(RunEvent::Note(left.clone()));
    r.state.status = status_for(&human);
    r.state.finished = Some(crate::files::scaffold::now_rfc3339());
    let lines = issue_lines(r, &[]);
    let mut listed = human.clone();
    listed.push(left);
    r.state.timeline = Some("timeline.svg".into());
    crate::base::fsutil::write_atomic(&r.dir.join("timeline.svg"), crate::run::timeline::svg(&r.state).as_bytes())?;
    let text = report::render(&r.state, &lines, &listed, &crate::files::scaffold::now_stamp());
    let path = r.dir.join("report.md");
    crate::base::fsutil::write_atomic(&path, text.as_bytes())?;
    r.state.report = Some(path.display().to_string());
    r.save()?;
    clear_signals(r);
    let verified: Vec<String> = candidates.iter().flat_map(|c| c.resolved.iter().cloned()).collect();
    let open: Vec<String> = r.state.lanes.values().flat_map(|l| l.issue_ids.iter()).filter(|id| !verified.contains(id)).cloned().collect();
    // Pushed branches are fetched by `integrate` on any clone; branches only here are taken as
    // they stand.
    let integrate = if pushed.is_empty() {
        format!("git lanes integrate {} --no-fetch", r.run_id)
    } else {
        format!("git lanes integrate {}", r.run_id)
    };
    let branches = candidates.iter().map(|c| c.branch.clone()).collect();
    let mut s = summary(r, vec![], human, Some(path), None, None, false);
    s.open = open.len();
    s.left = Some(crate::run::summary::LeftBranches { verified, open, branches, pushed, integrate });
    Ok(s)
}

/// `complete` when nobody needs to look: `complete`, else `needs_attention`.
fn status_for(human: &[String]) -> RunStatus {
    if human.is_empty() { RunStatus::Complete } else { RunStatus::NeedsAttention }
}

/// Merge the candidates into the integration branch, each merge or back-out an event.
fn integrate_lanes(r: &mut Run<'_>, candidates: &[Candidate], policy: IntegrationPolicy) -> Result<Integrated> {
    let wt_root = worktree::worktrees_dir(r.repo, &r.ws.config, &r.run_id);
    crate::run::timeline::integration_begins(&mut r.state);
    let mut on_step = |lane: &str, backed: Option<&str>| {
        let e = match backed {
            None => RunEvent::Merged { lane: lane.to_string() },
            Some(reason) => RunEvent::BackedOut { lane: lane.to_string(), reason: reason.to_string() },
        };
        crate::run::timeline::record(&mut r.state, &e);
        (r.observer)(&e);
    };
    let commands: &[String] = if r.opts.no_integration_checks { &[] } else { &r.ws.config.integration_checks };
    integrate::integrate(r.repo, &r.ws, &r.label, &r.base, &wt_root, candidates, policy, commands, &mut on_step)
}

/// Each lane's merge result in the state, the integration as a whole, and what a human must
/// know about it (lanes backed out; pairs that conflict are a note).
fn record_integration(r: &mut Run<'_>, int: &Integrated, policy: IntegrationPolicy, human: &mut Vec<String>) {
    for (lane, reason) in &int.backed_out {
        human.push(format!("lane {lane} was backed out of the integration: {reason}; its branch is kept"));
        if let Some(ls) = r.state.lanes.get_mut(lane) {
            ls.merge = Some(format!("backed out: {reason}"));
        }
    }
    for lane in &int.merged {
        if let Some(ls) = r.state.lanes.get_mut(lane) {
            ls.merge = Some("merged".into());
        }
    }
    for (a, b) in &int.conflicting_pairs {
        r.emit(RunEvent::Note(format!("lanes {a} and {b} conflict when merged")));
    }
    let mut checks = int.checks.clone();
    if r.opts.no_integration_checks && !r.ws.config.integration_checks.is_empty() {
        r.emit(RunEvent::Note("integration checks skipped for this run (--no-integration-checks)".into()));
        checks =
            Some(IntegrationChecks { commands: r.ws.config.integration_checks.clone(), skipped: true, ..IntegrationChecks::default() });
    }
    for f in checks.iter().flat_map(|c| &c.failing_before) {
        human.push(format!(
            "integration check `{}` already fails at the run's base (no lane is blamed); fix it or take it out of integration_checks",
            f.command
        ));
    }
    r.state.integration = Some(IntegrationState {
        policy: format!("{policy:?}").to_lowercase(),
        branch: Some(int.branch.clone()),
        merged: int.merged.clone(),
        backed_out: int.backed_out.iter().map(|(l, why)| Rejection { id: l.clone(), reason: why.clone(), checks: Vec::new() }).collect(),
        fast_forwarded: false,
        commit: None,
        kept_at: None,
        checks,
    });
}

/// The journal's first entry: what the integration did and what is left for a human.
fn finishing_of(r: &Run<'_>, int: &Integrated, human: Vec<String>) -> Finishing {
    let merged = int
        .merged
        .iter()
        .filter_map(|l| r.lanes.get(l).map(|lr| (l, lr)))
        .map(|(l, lr)| MergedLane { lane: l.clone(), branch: lr.branch.clone(), worktree: lr.worktree.display().to_string() })
        .collect();
    Finishing {
        integration_branch: int.branch.clone(),
        integration_worktree: int.worktree.display().to_string(),
        merged,
        human,
        resolved: int.resolved.clone(),
        report: report_rel(r).display().to_string(),
        ..Finishing::default()
    }
}

/// The report's path, relative to the repository: `<runs>/<label>.md`.
fn report_rel(r: &Run<'_>) -> PathBuf {
    r.ws.config.runs.join(format!("{}.md", r.label))
}

/// Finish in the integration worktree: the catalog synced to the integrated issue files and
/// each lane's verdicts next to the report. Returns how many issues stay OPEN there.
fn write_catalog_and_verdicts(r: &Run<'_>, iw: &Path) -> Result<usize> {
    let iws = Workspace::load(iw, r.ws.config.clone())?;
    if let crate::files::lifecycle::CatalogSync::Unparsable(p) = crate::files::lifecycle::resync_catalog(&iws)? {
        return Err(p.into());
    }
    for lane in r.lanes.keys() {
        for entry in std::fs::read_dir(r.dir.join(lane)).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".verdict.yaml") {
                let to = r.ws.config.runs.join(&r.label).join(&name);
                crate::base::fsutil::write_under(iw, &to, &crate::base::fsutil::read(&entry.path())?)?;
            }
        }
    }
    Ok(iws.issues.iter().filter(|i| i.status() == Status::Open).count())
}

/// Where the run commit goes. A run that resolved nothing changes nothing the user needs on
/// their branch: its bookkeeping commit is kept under `refs/lanes/runs/<RUN_ID>` instead
/// (`runs`/`report` read it). The report is written before the fast-forward, so it says what
/// will happen (HEAD unmoved ⇒ yes).
fn place_run_commit(r: &mut Run<'_>, int: &Integrated, f: &mut Finishing) -> Result<()> {
    f.off_branch = int.resolved.is_empty() && !r.opts.no_commit;
    f.ff_possible = !r.opts.no_commit && !f.off_branch;
    let run_ref = crate::run::runs::run_ref(&r.label);
    f.report_at = if f.off_branch { format!("{run_ref}:{}", f.report) } else { f.report.clone() };
    let expected = f.ff_possible && r.repo.reopen()?.head_commit().map(|o| o.to_string()).as_deref() == Some(r.base.as_str());
    if let Some(i) = r.state.integration.as_mut() {
        if f.off_branch {
            i.kept_at = Some(run_ref);
        }
        i.fast_forwarded = expected;
    }
    Ok(())
}

/// The run's outcome, the report and the committed state, in the integration worktree.
fn write_run_report(r: &mut Run<'_>, int: &Integrated, f: &mut Finishing) -> Result<()> {
    r.state.status = status_for(&f.human);
    r.state.finished = Some(crate::files::scaffold::now_rfc3339());
    r.state.report = Some(f.report.clone());
    f.status = r.state.status.clone();
    f.lines = issue_lines(r, &int.resolved);
    write_report(r, &int.worktree, Path::new(&f.report), &f.lines, &f.human)
}

/// The one run commit (`lanes: run <label>: N resolved, M open`) in the integration worktree,
/// archived; kept off the user's branch when nothing was resolved. `--no-commit` leaves the
/// files uncommitted and says so.
fn run_commit(r: &mut Run<'_>, f: &mut Finishing) -> Result<()> {
    let iw = PathBuf::from(&f.integration_worktree);
    if r.opts.no_commit {
        f.human.push(format!("--no-commit: the catalog, report and state are written but not committed in {}", iw.display()));
        return Ok(());
    }
    let keep_out = crate::run::context::keep_out(&r.ws.config, &[]);
    // A run killed between its commit and the journal left that commit at the integration
    // branch's tip: the resumed run folds into it rather than committing a second one.
    if head_is_run_commit(&iw, &r.label) {
        crate::git::snapshot::amend_head(&iw, &keep_out)?;
    } else {
        let message = run_commit_subject(&r.label, f.resolved.len(), f.open);
        crate::git::snapshot::commit_worktree(&iw, &message, &keep_out)?;
    }
    crate::base::fault::point("before-journal");
    let tip = worktree::head(&iw)?;
    worktree::archive(r.repo, &r.label, "integration", &tip)?;
    if let Some(i) = r.state.integration.as_mut() {
        i.commit = Some(tip.clone());
    }
    if f.off_branch {
        return keep_off_branch(r, &tip);
    }
    f.commit = Some(tip);
    Ok(())
}

/// Point `refs/lanes/runs/<label>` at the run commit of a run that resolved nothing.
fn keep_off_branch(r: &mut Run<'_>, tip: &str) -> Result<()> {
    let oid = git2::Oid::from_str(tip).map_err(|e| crate::base::error::Error::git(format!("bad commit id {tip}"), e))?;
    let name = crate::run::runs::run_ref(&r.label);
    r.repo
        .git
        .reference(&name, oid, true, &format!("git-lanes: run {} resolved nothing", r.label))
        .map_err(|e| crate::base::error::Error::git(format!("could not write {name}"), e))?;
    r.emit(RunEvent::Note(format!(
        "nothing was resolved: the report and state are kept under {name}, not committed on your branch (`git lanes report {}`)",
        r.label
    )));
    Ok(())
}

/// Whether `worktree`'s HEAD is the run commit of `label` (`lanes: run <label>: N resolved, M open`).
fn head_is_run_commit(worktree: &Path, label: &str) -> bool {
    let Ok(git) = git2::Repository::open(worktree) else { return false };
    let Some(subject) = git.head().and_then(|h| h.peel_to_commit()).ok().and_then(|c| c.summary().map(str::to_string)) else {
        return false;
    };
    is_run_commit_subject(&subject, label)
}

/// The run commit's subject: `lanes: run <label>: N resolved, M open`.
fn run_commit_subject(label: &str, resolved: usize, open: usize) -> String {
    format!("lanes: run {label}: {resolved} resolved, {open} open")
}

/// Whether `subject` is one [`run_commit_subject`] wrote for `label` (not a lane's or a merge's).
fn is_run_commit_subject(subject: &str, label: &str) -> bool {
    subject.strip_prefix(&format!("lanes: run {label}: ")).is_some_and(|rest| rest.contains(" resolved, ") && rest.ends_with(" open"))
}

/// The steps after the run commit, in order. Each is idempotent and journalled in the live
/// state before the next begins, so a crash anywhere is finished by `run --resume`
/// ([`resume_finishing`]) without a second judgement, commit or report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Move the user's branch to the run commit (only by fast-forward).
    FastForward,
    /// `--push`: push the user's branch once it was moved.
    Push,
    /// Remove the merged lanes' worktrees and branches, and the integration worktree.
    Tidy,
}

impl Step {
    const ALL: [Step; 3] = [Step::FastForward, Step::Push, Step::Tidy];

    /// The word the journal records in [`Finishing::steps`].
    fn name(self) -> &'static str {
        match self {
            Step::FastForward => "ff",
            Step::Push => "push",
            Step::Tidy => "tidy",
        }
    }

    fn run(self, r: &mut Run<'_>, f: &mut Finishing) -> Result<()> {
        match self {
            Step::FastForward => fast_forward(r, f),
            Step::Push => push(r, f),
            Step::Tidy => tidy(r, f),
        }
    }

    /// The fault point right after the step is journalled.
    fn fault_point(self) -> Option<&'static str> {
        match self {
            Step::FastForward => Some("after-ff"),
            Step::Push => None,
            Step::Tidy => Some("after-tidy"),
        }
    }
}

/// Journal the run commit, do each step the journal does not list yet, then the final state.
fn finish_steps(r: &mut Run<'_>, mut f: Finishing) -> Result<RunSummary> {
    journal(r, &f)?;
    crate::base::fault::point("after-commit");
    for step in Step::ALL {
        if f.done(step.name()) {
            continue;
        }
        step.run(r, &mut f)?;
        f.steps.push(step.name().into());
        journal(r, &f)?;
        if let Some(point) = step.fault_point() {
            crate::base::fault::point(point);
        }
    }
    final_state(r, f)
}

/// Move the user's branch, only by fast-forward and only if HEAD has not moved (a resumed
/// run whose branch is already at the result finds nothing to do).
fn fast_forward(r: &mut Run<'_>, f: &mut Finishing) -> Result<()> {
    if f.ff_possible
        && let Some(tip) = f.commit.clone()
    {
        let blocked = integrate::fast_forward(r.repo, &r.label, &r.base, r.state.base_branch.as_deref(), &tip)?;
        f.fast_forwarded = blocked.is_none();
        if let Some(why) = blocked {
            not_fast_forwarded(r, f, &why)?;
        }
    }
    if let Some(i) = r.state.integration.as_mut() {
        i.fast_forwarded = f.fast_forwarded;
    }
    f.status = r.state.status.clone();
    Ok(())
}

/// The fast-forward was refused: say why and how to merge, and correct the committed report,
/// which said what was expected (the run commit is on no branch of the user's yet, so it is
/// amended).
fn not_fast_forwarded(r: &mut Run<'_>, f: &mut Finishing, why: &str) -> Result<()> {
    let cmd = format!("git merge {}", f.integration_branch);
    f.human.push(format!("your branch was not fast-forwarded: {why}; the result is on `{}`; run `{cmd}`", f.integration_branch));
    f.merge_command = Some(cmd);
    if let Some(i) = r.state.integration.as_mut() {
        i.fast_forwarded = false;
    }
    r.state.status = RunStatus::NeedsAttention;
    let iw = PathBuf::from(&f.integration_worktree);
    write_report(r, &iw, Path::new(&f.report), &f.lines, &f.human)?;
    let keep_out = crate::run::context::keep_out(&r.ws.config, &[]);
    if let Some(amended) = crate::git::snapshot::amend_head(&iw, &keep_out)? {
        let amended = amended.to_string();
        worktree::archive(r.repo, &r.label, "integration", &amended)?;
        if let Some(i) = r.state.integration.as_mut() {
            i.commit = Some(amended.clone());
        }
        f.commit = Some(amended);
    }
    Ok(())
}

/// `--push`: push the user's branch once it was fast-forwarded; a refusal is said.
fn push(r: &mut Run<'_>, f: &mut Finishing) -> Result<()> {
    if r.opts.push
        && f.fast_forwarded
        && let Some(b) = r.state.base_branch.clone()
        && let Err(e) = gitcli::git(&r.repo.root, &["push", "--quiet", "origin", &b])
    {
        f.human.push(format!("could not push `{b}`: {e}"));
    }
    Ok(())
}

/// Merged lanes' worktrees and branches go (their tips are archived); the rest stay. Clean
/// worktrees go to the pool for the next run, others are removed in parallel (see
/// `pool::retire_many`); a folder already gone (a crash after moving it) is only pruned. The
/// integration worktree goes once its commit is on the user's branch or kept under the run's ref.
fn tidy(r: &mut Run<'_>, f: &mut Finishing) -> Result<()> {
    let paths: Vec<PathBuf> = f.merged.iter().map(|m| PathBuf::from(&m.worktree)).collect();
    let refs: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    let removed = crate::git::pool::retire_many(r.repo, &r.ws.config, &refs);
    crate::base::fault::point("mid-tidy");
    let mut gone_branches = Vec::new();
    for (m, gone) in f.merged.iter().zip(removed) {
        if gone? {
            gone_branches.push(m.branch.as_str());
        } else {
            f.human.push(format!("the worktree of lane {} holds uncommitted changes and was kept: {}", m.lane, m.worktree));
        }
    }
    worktree::delete_branches(r.repo, &gone_branches)?;
    if (f.fast_forwarded || f.off_branch)
        && crate::git::pool::retire_many(r.repo, &r.ws.config, &[Path::new(&f.integration_worktree)]).remove(0)?
    {
        worktree::delete_branch(r.repo, &f.integration_branch)?;
    }
    Ok(())
}

/// The run's last word: its final status in the live state (the journal goes), the signal
/// files cleared, and the summary.
fn final_state(r: &mut Run<'_>, f: Finishing) -> Result<RunSummary> {
    r.state.status = if !f.human.is_empty() {
        RunStatus::NeedsAttention
    } else if matches!(f.status, RunStatus::Unset | RunStatus::Running) {
        RunStatus::Complete
    } else {
        f.status.clone()
    };
    r.state.finishing = None;
    r.save()?;
    clear_signals(r);
    let mut out = summary(r, f.resolved, f.human, Some(PathBuf::from(&f.report_at)), f.commit, f.merge_command, false);
    // The same count as the run commit's message: the issues OPEN in the integrated result.
    out.open = f.open;
    out.integrated = r.state.integration.as_ref().map(|i| i.merged.clone()).unwrap_or_default();
    out.fast_forwarded = f.fast_forwarded;
    Ok(out)
}

/// Save the journal in the live state, which says `running` until the last step is done.
fn journal(r: &mut Run<'_>, f: &Finishing) -> Result<()> {
    r.state.finishing = Some(f.clone());
    let status = std::mem::replace(&mut r.state.status, RunStatus::Running);
    let saved = r.save();
    r.state.status = status;
    saved
}

/// `run --resume` of a run that crashed after its run commit: finish the journalled steps.
pub(super) fn resume_finishing(r: &mut Run<'_>) -> Result<RunSummary> {
    let f = r.state.finishing.clone().unwrap_or_default();
    r.state.status = f.status.clone();
    let left: Vec<&str> = Step::ALL.iter().map(|s| s.name()).filter(|s| !f.done(s)).collect();
    r.emit(RunEvent::Note(format!("the run commit exists; finishing what is left ({})", left.join(", "))));
    finish_steps(r, f)
}

/// The report and the committed state, in the integration worktree. The timeline picture is
/// written next to the report (`<RUN_ID>.svg`) and linked from it.
fn write_report(r: &mut Run<'_>, iw: &Path, report_rel: &Path, lines: &[IssueLine], human: &[String]) -> Result<()> {
    let svg_rel = report_rel.with_extension("svg");
    r.state.timeline = svg_rel.file_name().map(|n| n.to_string_lossy().into_owned());
    crate::base::fsutil::write_under(iw, &svg_rel, crate::run::timeline::svg(&r.state).as_bytes())?;
    let text = report::render(&r.state, lines, human, &crate::files::scaffold::now_stamp());
    crate::base::fsutil::write_under(iw, report_rel, text.as_bytes())?;
    // The committed state file keeps what other tools wrote in it (its unknown keys, lanes this
    // run did not run); the live state stays this run's own.
    let mut st = r.state.clone();
    st.finishing = None;
    if let Ok(Some(old)) = crate::run::state::RunState::load(iw, &r.ws.config.state) {
        st.keep_foreign(&old);
        st.update_progress();
    }
    st.save(iw, &r.ws.config.state)
}

/// The per-issue lines of the report: RESOLVED, REJECTED, OPEN (and why) or BLOCKED.
fn issue_lines(r: &Run<'_>, integrated: &[String]) -> Vec<IssueLine> {
    let mut out = Vec::new();
    let backed: Vec<String> = r.state.integration.as_ref().map(|i| i.backed_out.iter().map(|b| b.id.clone()).collect()).unwrap_or_default();
    for (lane, lr) in &r.lanes {
        let ls = r.state.lanes.get(lane).cloned().unwrap_or_default();
        for a in &lr.plan.issues {
            let (result, detail) = if ls.resolved.contains(&a.id) {
                if backed.contains(lane) {
                    ("OPEN".to_string(), "verified on the lane branch, but the lane was backed out of the integration".to_string())
                } else if integrated.is_empty() || integrated.contains(&a.id) {
                    ("RESOLVED".to_string(), format!("verified; {} complexity", a.complexity))
                } else {
                    ("OPEN".to_string(), "verified on the lane branch; not integrated".to_string())
                }
            } else if let Some(rej) = ls.rejected.iter().find(|x| x.id == a.id) {
                ("REJECTED".to_string(), rej.reason.clone())
            } else {
                ("OPEN".to_string(), format!("lane {}", ls.status.words()))
            };
            out.push(IssueLine { id: a.id.clone(), lane: lane.clone(), result, detail });
        }
        for b in &lr.plan.blocked {
            out.push(IssueLine {
                id: b.id.clone(),
                lane: lane.clone(),
                result: "BLOCKED".into(),
                detail: format!("waits on {}", b.waiting_on.join(", ")),
            });
        }
    }
    out
}

/// Remove every lane's signal files (status and `.done`): the run no longer follows them.
fn clear_signals(r: &Run<'_>) {
    let dir = r.repo.root.join(&r.ws.config.signals);
    for lane in r.lanes.keys().chain(r.state.lanes.keys()) {
        signal::remove_lane(&dir, lane);
    }
}

/// What the command line prints of a run (`open` counted from the run-start workspace).
fn summary(
    r: &Run<'_>,
    resolved: Vec<String>,
    needs_human: Vec<String>,
    report: Option<std::path::PathBuf>,
    commit: Option<String>,
    merge_command: Option<String>,
    interrupted: bool,
) -> RunSummary {
    let open = r.ws.issues.iter().filter(|i| i.status() == Status::Open).count().saturating_sub(resolved.len());
    RunSummary {
        run_id: r.run_id.clone(),
        resolved,
        open,
        needs_human,
        report,
        commit,
        merge_command,
        interrupted,
        integrated: vec![],
        fast_forwarded: false,
        lanes: crate::run::summary::LaneOutcome::of(&r.state),
        left: None,
        integration_checks: r.state.integration.as_ref().and_then(|i| i.checks.clone()),
    }
}

#[cfg(test)]
mod tests {
    use crate::run::finish::*;

    #[test]
    fn the_run_commit_is_told_from_lane_and_merge_commits_by_its_subject() {
        assert!(is_run_commit_subject(&run_commit_subject("P1", 2, 1), "P1"));
        assert!(!is_run_commit_subject(&run_commit_subject("P1", 2, 1), "P1.2"));
        assert!(!is_run_commit_subject("lanes: run P1: merge lane E", "P1"));
        assert!(!is_run_commit_subject("lanes: run P1: lane E: resolve E-01 (verified)", "P1"));
    }

    /// The journal of a run killed by an older git-lanes names its steps with these words:
    /// `run --resume` must still read them.
    #[test]
    fn steps_keep_their_journal_words_and_order() {
        let words: Vec<&str> = Step::ALL.iter().map(|s| s.name()).collect();
        assert_eq!(words, ["ff", "push", "tidy"]);
        let f = Finishing { steps: vec!["ff".into()], ..Finishing::default() };
        let left: Vec<Step> = Step::ALL.into_iter().filter(|s| !f.done(s.name())).collect();
        assert_eq!(left, [Step::Push, Step::Tidy]);
        assert_eq!(Step::ALL.map(Step::fault_point), [Some("after-ff"), None, Some("after-tidy")]);
    }
}
