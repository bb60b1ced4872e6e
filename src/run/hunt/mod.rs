//! `git lanes hunt`: hunters find new issues on the run engine, and only findings that reproduce
//! are kept (docs/design.md#hunting). Start at [`hunt`].
//!
//! # Design note: a hunt is a run in another mode
//! The lock, preflight, lane branches and worktrees, workers and presets, signal following,
//! timeouts, Ctrl-C, live state and `--resume` are the run engine's (`coordinator.rs`); a hunt
//! changes only what is mode-specific:
//! - hunter specs (`.claude/agents/issue-hunters/IH-Lane-<X>.md`) take the fixer specs' place,
//!   and the hunting signal folder, state file and reports (`LogBook/issue-hunting/`) the fixing
//!   ones (a copy of the configuration with those paths, `Config::hunting`);
//! - each lane gets a `hunt_issues` work order (`order.rs`) instead of an issue batch;
//! - instead of verdicts on fixes, the findings judge (`judge.rs`) looks at what each hunter
//!   committed on its branch: only new issue files of its lane whose checks all FAIL on the base
//!   commit (in a clean export of it) and that repeat no known issue are accepted; everything
//!   else is dropped and listed;
//! - instead of merging lane branches, the accepted files alone are committed on top of the
//!   user's branch in one commit `lanes: hunt <RUN_ID>: N new issue(s)`, renumbered to each
//!   lane's next free ids (`land.rs`), with the catalog synced, the report
//!   `LogBook/issue-hunting/runs/<RUN_ID>.md` and the seed-shaped state; the user's branch is
//!   fast-forwarded only if it did not move meanwhile. The hunters' branches are archived under
//!   `refs/lanes/archive/<RUN_ID>/<LANE>` before they are removed, so dropped work has a way back.

pub mod judge;
pub mod land;
pub mod order;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use serde::Serialize;

use self::judge::{Dropped, JudgeContext, Judged, Rejected};
use self::land::{Landed, ReportInput};
use self::order::HuntOrder;
use crate::base::error::{Error, Result};
use crate::files::catalog::Catalog;
use crate::files::config::Config;
use crate::files::lifecycle::CatalogSync;
use crate::files::spec::AgentSpec;
use crate::files::workspace::Workspace;
use crate::git::repo::Repo;
use crate::judge::verify::VerifyOptions;
use crate::planning::plan::LanePlan;
use crate::run::context::{Run, RunStart, TASK_HUNT};
use crate::run::coordinator;
use crate::run::events::RunEvent;
use crate::run::options::RunOptions;
use crate::run::settings::Settings;
use crate::run::state::{IntegrationState, LaneState};
use crate::run::status::{LaneStatus, RunStatus};
use crate::{base::fsutil, files::signal, git::gitcli, git::worktree};

/// What the user asked for: the run options that apply to a hunt, and `--max-findings`.
#[derive(Debug, Clone, Default)]
pub struct HuntOptions {
    pub run: RunOptions,
    /// Judged accepted per lane at most (default: the hunter spec's `max_issues`, else
    /// `lanes.yaml` `max_issues`, else 5 — the seed hunters' quota).
    pub max_findings: Option<usize>,
}

/// How a hunt ended (`hunt --json` prints it; fields are the contract).
#[derive(Debug, Clone, Default, Serialize)]
pub struct HuntSummary {
    pub run_id: String,
    pub lanes: Vec<String>,
    /// Accepted findings with their final ids, in commit order.
    pub accepted: Vec<Landed>,
    pub rejected: Vec<Rejected>,
    pub dropped: Vec<Dropped>,
    pub needs_human: Vec<String>,
    pub report: Option<PathBuf>,
    pub commit: Option<String>,
    /// The command to take the result when the user's branch could not be fast-forwarded.
    pub merge_command: Option<String>,
    pub interrupted: bool,
}

/// One lane of `hunt --dry-run`.
#[derive(Debug, Clone, Serialize)]
pub struct HuntPreview {
    pub lane: String,
    pub hunter_spec: Option<PathBuf>,
    pub worker: Option<String>,
    pub max_findings: usize,
    pub work_order: HuntOrder,
}

/// The workspace a hunt runs with (hunter specs, hunting paths) and the fixer specs.
fn hunting_workspace(mut ws: Workspace) -> Result<(Workspace, BTreeMap<String, AgentSpec>)> {
    let mut problems = Vec::new();
    let hunters = crate::files::workspace::load_specs(&ws.root, &ws.config.hunter_specs, &mut problems)?;
    if !problems.is_empty() {
        return Err(Error::from(problems));
    }
    let fixers = std::mem::replace(&mut ws.specs, hunters);
    ws.config = ws.config.hunting();
    Ok((ws, fixers))
}

/// The lanes to hunt: `--lane` (any valid name, also a lane with no issues yet), else
/// `lanes.yaml`'s pinned list, else every lane with a hunter spec — or, in a repository with no
/// hunter spec at all, every known lane (issue folders, fixer specs, catalog sections).
fn lanes_to_hunt(ws: &Workspace, fixers: &BTreeMap<String, AgentSpec>, asked: &[String]) -> Result<Vec<String>> {
    let mut lanes: Vec<String> = Vec::new();
    let from: Vec<String> = if !asked.is_empty() {
        asked.to_vec()
    } else if let Some(pinned) = &ws.config.lanes {
        pinned.clone()
    } else if !ws.specs.is_empty() {
        ws.specs.keys().cloned().collect()
    } else {
        let mut known: Vec<String> = fixers.keys().cloned().collect();
        if let Some(Ok(cat)) =
            crate::base::fsutil::read_optional_capped(&ws.root.join(&ws.config.catalog), crate::files::text::MAX_FILE_BYTES)
                .ok()
                .flatten()
                .map(|b| Catalog::parse(&ws.config.catalog, b))
        {
            known.extend(cat.lanes());
        }
        ws.lanes(&known)
    };
    for l in from {
        crate::files::names::check_lane(&l).map_err(|m| Error::usage(format!("lane `{l}`: {m}"), None))?;
        if !lanes.contains(&l) {
            lanes.push(l);
        }
    }
    if lanes.is_empty() {
        return Err(Error::state(
            format!("no lane to hunt: no hunter spec in {} and no lane yet", ws.config.hunter_specs.display()),
            Some("`git lanes init --lane E` writes one (IH-Lane-E.md), or name the lanes: `git lanes hunt --lane E`".into()),
        ));
    }
    lanes.sort_by(|a, b| crate::files::names::natural_cmp(a, b));
    Ok(lanes)
}

/// Each lane's `--max-findings` quota.
fn quotas(ws: &Workspace, lanes: &[String], asked: Option<usize>) -> BTreeMap<String, usize> {
    lanes
        .iter()
        .map(|l| (l.clone(), asked.or_else(|| ws.specs.get(l).and_then(|s| s.max_issues)).unwrap_or(ws.config.max_issues).max(1)))
        .collect()
}

/// The work order of every lane.
fn work_orders(
    ws: &Workspace,
    fixers: &BTreeMap<String, AgentSpec>,
    lanes: &[String],
    run_id: &str,
    quotas: &BTreeMap<String, usize>,
    settings: &Settings,
) -> BTreeMap<String, HuntOrder> {
    let created_at = crate::files::scaffold::now_rfc3339();
    let taken: std::collections::HashSet<String> = ws.issues.iter().map(|i| i.id().to_string()).collect();
    lanes
        .iter()
        .map(|lane| {
            let (after, width) = order::numbering(lane, taken.iter().cloned());
            let (next_id, _) = order::next_free_id(lane, &taken, after, width);
            let spec = ws.specs.get(lane);
            let time_box = settings.lane_timeout(spec);
            let cx = order::Context {
                run_id,
                created_at: &created_at,
                config: &ws.config,
                hunter: spec,
                fixer: fixers.get(lane),
                issues: &ws.issues,
                max_findings: quotas[lane],
                next_id,
                time_box,
            };
            (lane.clone(), order::build(lane, &cx))
        })
        .collect()
}

/// A plan with no issues: a hunting lane is never idle.
fn hunt_plan(lane: &str, quota: usize) -> LanePlan {
    LanePlan { lane: lane.to_string(), max_issues: quota, issues: vec![], blocked: vec![], deferred: vec![] }
}

/// `hunt --dry-run`: the lanes, workers and work orders a hunt would use. Reads only.
pub fn preview(ws: Workspace, opts: &HuntOptions) -> Result<Vec<HuntPreview>> {
    ws.ensure_clean()?;
    let (ws, fixers) = hunting_workspace(ws)?;
    let lanes = lanes_to_hunt(&ws, &fixers, &opts.run.lanes)?;
    let quotas = quotas(&ws, &lanes, opts.max_findings);
    let run_id = opts.run.run_id.clone().unwrap_or_else(|| chrono::Local::now().format("%Y%m%d-%H%M%S").to_string());
    let mut orders = work_orders(&ws, &fixers, &lanes, &run_id, &quotas, &Settings::resolve(&opts.run, &ws.config));
    Ok(lanes
        .iter()
        .map(|lane| {
            let spec = ws.specs.get(lane);
            HuntPreview {
                lane: lane.clone(),
                hunter_spec: spec.map(|s| s.path.clone()),
                worker: coordinator::lane_worker(&ws, &opts.run, None, lane).ok(),
                max_findings: quotas[lane],
                work_order: orders.remove(lane).expect("an order per lane"),
            }
        })
        .collect())
}

/// Run a hunt. `observer` sees every event; `interrupts` counts Ctrl-C presses.
pub fn hunt(
    repo: &Repo,
    ws: Workspace,
    opts: HuntOptions,
    observer: &mut dyn FnMut(&RunEvent),
    interrupts: Arc<AtomicUsize>,
) -> Result<HuntSummary> {
    let run_id = crate::run::context::choose_run_id(repo, opts.run.run_id.as_deref())?;
    crate::run::preflight::refuse_uncommitted_setup(repo, &ws)?;
    crate::run::preflight::preflight(repo, &ws, &opts.run)?;
    let (ws, fixers) = hunting_workspace(ws)?;
    crate::run::preflight::refuse_symlinked_files(repo, &ws)?;
    let lanes = lanes_to_hunt(&ws, &fixers, &opts.run.lanes)?;
    // Every lane's worker is checked (it exists, its program is installed, its limits are valid)
    // before anything — lock, run folder, branch, worktree — exists.
    let names: Vec<&str> = lanes.iter().map(String::as_str).collect();
    coordinator::check_workers(&repo.root, &ws, &opts.run, None, &names)?;
    let _lock = crate::run::lock::acquire(&repo.lanes_dir(), &run_id)?;
    let base = repo.head_commit().ok_or_else(|| Error::state("HEAD has no commit yet", Some("commit something first".into())))?.to_string();
    let quotas = quotas(&ws, &lanes, opts.max_findings);
    let work_orders = as_yaml(&work_orders(&ws, &fixers, &lanes, &run_id, &quotas, &Settings::resolve(&opts.run, &ws.config)))?;
    fsutil::create_dir_all(&crate::run::runs::live_dir(repo, &run_id))?;
    let mut state = crate::run::context::begin_state(repo, &run_id, &base);
    state.task = Some(TASK_HUNT.into());
    state.watched_refs = super::refwatch::snapshot(&repo.git, &run_id, &crate::run::context::own_branches(&ws.config, &run_id));
    for lane in &lanes {
        // The worker is recorded from the first save, so a resume after a kill at any moment has it.
        let worker = coordinator::lane_worker(&ws, &opts.run, None, lane).ok();
        state.lanes.insert(lane.clone(), LaneState { status: LaneStatus::Pending, worker, ..LaneState::default() });
    }
    let start = RunStart { state, work_orders, ..RunStart::new(TASK_HUNT, &run_id, &base) };
    let mut r = Run::new(repo, ws, opts.run, start, observer, interrupts);
    r.emit(RunEvent::Started { run_id, lanes: lanes.clone() });
    r.save()?;
    hunt_lanes(&mut r, &lanes, &quotas)
}

/// Continue the newest interrupted hunt (or restart the lanes of a finished one that failed,
/// judging them against the code as it is now).
pub fn hunt_resume(
    repo: &Repo,
    ws: Workspace,
    opts: HuntOptions,
    observer: &mut dyn FnMut(&RunEvent),
    interrupts: Arc<AtomicUsize>,
) -> Result<HuntSummary> {
    let (run_id, mut state) = crate::run::resume::latest_resumable(repo, TASK_HUNT)?
        .ok_or_else(|| Error::state("there is no interrupted hunt to resume", Some("start one with `git lanes hunt`".into())))?;
    let _lock = crate::run::lock::acquire(&repo.lanes_dir(), &run_id)?;
    let (ws, fixers) = hunting_workspace(ws)?;
    let (fork, base, label) = crate::run::resume::resume_point(repo, &ws, &mut state, &run_id)?;
    let lanes: Vec<String> = state.lanes.keys().cloned().collect();
    let names: Vec<&str> = lanes.iter().map(String::as_str).collect();
    coordinator::check_workers(&repo.root, &ws, &opts.run, Some(&state), &names)?;
    let quotas = quotas(&ws, &lanes, opts.max_findings);
    let work_orders = as_yaml(&work_orders(&ws, &fixers, &lanes, &run_id, &quotas, &Settings::resolve(&opts.run, &ws.config)))?;
    state.status = RunStatus::Running;
    state.orchestrator_pid = Some(std::process::id());
    state.watched_refs = super::refwatch::snapshot(&repo.git, &run_id, &crate::run::context::own_branches(&ws.config, &run_id));
    let start = RunStart { fork, label, state, work_orders, ..RunStart::new(TASK_HUNT, &run_id, &base) };
    let mut r = Run::new(repo, ws, opts.run, start, observer, interrupts);
    r.emit(RunEvent::Note(format!("resuming hunt {run_id}")));
    hunt_lanes(&mut r, &lanes, &quotas)
}

/// Every lane's work order as the YAML its worker reads.
fn as_yaml(orders: &BTreeMap<String, HuntOrder>) -> Result<BTreeMap<String, String>> {
    orders.iter().map(|(l, o)| Ok((l.clone(), o.to_yaml()?))).collect()
}

/// The run engine's steps with hunting lanes: worktrees and workers, following them until every
/// hunter ends, then [`finish`].
fn hunt_lanes(r: &mut Run<'_>, lanes: &[String], quotas: &BTreeMap<String, usize>) -> Result<HuntSummary> {
    let setup = coordinator::prepare_lanes(r, lanes.iter().map(|l| hunt_plan(l, quotas[l])).collect())?;
    let interrupted = coordinator::follow(r, setup)?;
    finish(r, interrupted, quotas)
}

/// After the hunters: leftovers committed and archived, findings judged and landed, tidy-up.
fn finish(r: &mut Run<'_>, interrupted: bool, quotas: &BTreeMap<String, usize>) -> Result<HuntSummary> {
    let lanes: Vec<String> = r.lanes.keys().cloned().collect();
    crate::run::context::check_refs(r, &[]);
    let mut human = settle_lanes(r, &lanes)?;
    for (lane, ls) in &r.state.lanes {
        human.extend(ls.held.iter().map(|h| format!("lane {lane} is held, its findings not judged: {h}")));
    }
    human.extend(r.state.ref_notes.iter().cloned());
    let mut summary = HuntSummary { run_id: r.run_id.clone(), lanes: lanes.clone(), ..HuntSummary::default() };
    if interrupted {
        r.state.status = RunStatus::Interrupted;
        r.save()?;
        summary.needs_human = human;
        summary.interrupted = true;
        return Ok(summary);
    }
    let found = judge_findings(r, quotas)?;
    announce(r, &found);
    let landed = if found.accepted.is_empty() {
        summary.report = Some(report_without_findings(r, &found, &human)?);
        Vec::new()
    } else {
        let out = land_findings(r, &found, &mut human)?;
        summary.report = Some(out.report);
        summary.commit = Some(out.commit);
        summary.merge_command = out.merge_command;
        out.landed
    };
    for (lane, ls) in r.state.lanes.iter_mut() {
        ls.issue_ids = landed.iter().filter(|l| &l.lane == lane).map(|l| l.id.clone()).collect();
        ls.issue_ids.sort_by(|a, b| crate::files::names::natural_cmp(a, b));
        ls.issues_fixed = 0;
    }
    tidy(r, &lanes, &mut human)?;
    if !human.is_empty() {
        r.state.status = RunStatus::NeedsAttention;
    }
    r.save()?;
    summary.accepted = landed;
    summary.rejected = found.rejected;
    summary.dropped = found.dropped;
    summary.needs_human = human;
    Ok(summary)
}

/// Every hunter that ran: what it left uncommitted is committed on its branch, its tip archived;
/// returns what needs a human (a lane that failed, timed out or was interrupted, among others).
fn settle_lanes(r: &mut Run<'_>, lanes: &[String]) -> Result<Vec<String>> {
    let mut human: Vec<String> = Vec::new();
    for lane in lanes {
        let lr = r.lanes[lane].clone();
        let status = r.state.lanes.get(lane).map(|l| l.status.clone()).unwrap_or_default();
        if status == LaneStatus::Pending {
            continue;
        }
        human.extend(commit_leftovers(r, lane, &lr));
        if let Ok(tip) = worktree::head(&lr.worktree) {
            worktree::archive(r.repo, &r.run_id, lane, &tip)?;
            r.lane_state(lane).tip = Some(tip);
        }
        let exit = r.lane_state(lane).exit.clone();
        human.extend(unjudged_note(lane, &status, exit.as_deref(), &lr.branch));
    }
    Ok(human)
}

/// Commit what a hunter left uncommitted on its lane branch (the run's keep-out applies); the
/// note for a human when that failed.
fn commit_leftovers(r: &mut Run<'_>, lane: &str, lr: &crate::run::context::LaneRun) -> Option<String> {
    let msg = format!("lanes: hunt {}: lane {lane}: work left uncommitted by the hunter", r.run_id);
    // Signal folders (both), agents' droppings and the preset's own files never go into a commit.
    let keep_out = crate::run::context::keep_out(&r.ws.config, &lr.keep_out);
    match crate::git::confine::adopt(&r.repo.common_dir, &lr.worktree, &lr.branch) {
        Ok(warnings) => r.lane_state(lane).warnings.extend(warnings),
        Err(e) => return Some(format!("lane {lane}: could not take the hunter's commits: {e}")),
    }
    match worktree::commit_leftovers(&lr.worktree, &msg, &keep_out) {
        // The documented normal path (the commit says it), not a warning.
        Ok(_) => None,
        Err(e) => Some(format!("lane {lane}: could not commit what the hunter left: {e}")),
    }
}

/// What a human is told about a lane whose findings are not judged (it failed, timed out or was
/// interrupted).
fn unjudged_note(lane: &str, status: &LaneStatus, exit: Option<&str>, branch: &str) -> Option<String> {
    match status {
        LaneStatus::Failed | LaneStatus::TimedOut => Some(format!(
            "lane {lane} {}: {}; its findings were not judged; its work is on `{branch}` (`git lanes hunt --resume` restarts it)",
            status.words(),
            exit.unwrap_or("?"),
        )),
        LaneStatus::Interrupted => Some(format!("lane {lane} was interrupted; `git lanes hunt --resume` continues it")),
        _ => None,
    }
}

/// Judge what the finished hunters committed: every new issue file on the base commit, then
/// against the issues filed on the user's branch while the hunters ran.
fn judge_findings(r: &mut Run<'_>, quotas: &BTreeMap<String, usize>) -> Result<Judged> {
    let mut candidates = Vec::new();
    let mut dropped = Vec::new();
    for (lane, ls) in &r.state.lanes {
        let Some(tip) = ls.tip.as_deref().filter(|_| ls.status == LaneStatus::Done && ls.held.is_empty()) else { continue };
        let (c, d) = judge::lane_changes(&r.repo.git, &r.fork, tip, lane, &r.ws.config)?;
        candidates.extend(c);
        dropped.extend(d);
    }
    let (mut accepted, mut rejected) = if candidates.is_empty() { (vec![], vec![]) } else { judge_on_base(r, candidates, quotas)? };
    drop_filed_meanwhile(r, &mut accepted, &mut rejected)?;
    Ok(Judged { accepted, rejected, dropped })
}

/// Run every candidate's checks in a clean export of the base commit (in the sandbox when there
/// is one) and keep those that reproduce and repeat no known issue.
fn judge_on_base(
    r: &mut Run<'_>,
    candidates: Vec<judge::Candidate>,
    quotas: &BTreeMap<String, usize>,
) -> Result<(Vec<judge::Accepted>, Vec<Rejected>)> {
    let oid = git2::Oid::from_str(&r.base).map_err(|e| Error::git("bad base commit", e))?;
    let tree = r.repo.git.find_commit(oid).and_then(|c| c.tree()).map_err(|e| Error::git("could not read the base commit", e))?;
    let (_tmp, export) = crate::planning::dryrun::export_outside(&r.repo.git, &r.repo.root, &tree)?;
    let verify = VerifyOptions::from_config(&r.ws.config, false);
    if let crate::exec::sandbox::Status::Missing(why) = crate::exec::sandbox::status() {
        r.emit(RunEvent::Note(format!(
            "no sandbox for checks here ({why}): the hunters' checks run with a scrubbed environment and a timeout only"
        )));
    }
    let short = &r.base[..r.base.len().min(10)];
    let cx = JudgeContext { existing: &r.ws.issues, export: &export, verify: &verify, base_label: short, quotas };
    Ok(judge::judge(candidates, &cx))
}

/// Issues filed on the user's branch while the hunters ran are known by now too: an accepted
/// finding that repeats one is rejected.
fn drop_filed_meanwhile(r: &Run<'_>, accepted: &mut Vec<judge::Accepted>, rejected: &mut Vec<Rejected>) -> Result<()> {
    if accepted.is_empty() {
        return Ok(());
    }
    let Some(head) = r.repo.reopen()?.head_commit().filter(|h| h.to_string() != r.base) else { return Ok(()) };
    let known: std::collections::HashSet<&str> = r.ws.issues.iter().map(|i| i.id()).collect();
    let meanwhile: Vec<crate::files::issue::Issue> =
        judge::issues_at(&r.repo.git, head, &r.ws.config.issues).into_iter().filter(|i| !known.contains(i.id())).collect();
    judge::drop_meanwhile(accepted, rejected, &r.ws.issues, &meanwhile);
    Ok(())
}

/// Tell the observer every finding's fate and every dropped change; record the rejections in
/// each lane's state.
fn announce(r: &mut Run<'_>, found: &Judged) {
    for a in &found.accepted {
        let reason = format!("reproduces: {} check(s) fail on the base commit", a.reproduced.len());
        r.emit(RunEvent::Finding { lane: a.lane.clone(), path: a.path.clone(), accepted: true, reason });
    }
    for x in &found.rejected {
        r.emit(RunEvent::Finding { lane: x.lane.clone(), path: x.path.clone(), accepted: false, reason: x.reason.clone() });
    }
    for d in &found.dropped {
        r.emit(RunEvent::Note(format!("lane {}: dropped {} `{}`: {}", d.lane, d.change, d.path, d.why)));
    }
    for (lane, ls) in r.state.lanes.iter_mut() {
        ls.rejected = found
            .rejected
            .iter()
            .filter(|x| &x.lane == lane)
            .map(|x| crate::run::state::Rejection { id: x.path.clone(), reason: x.reason.clone(), checks: Vec::new() })
            .collect();
    }
}

/// The hunt's final status (`complete`, or `needs_attention` when a human is needed) and end time.
fn close_state(r: &mut Run<'_>, human: &[String]) {
    r.state.status = if human.is_empty() { RunStatus::Complete } else { RunStatus::NeedsAttention };
    r.state.finished = Some(crate::files::scaffold::now_rfc3339());
}

/// No finding was accepted: nothing is committed; the report goes to the run's live folder.
fn report_without_findings(r: &mut Run<'_>, found: &Judged, human: &[String]) -> Result<PathBuf> {
    close_state(r, human);
    let text = land::render(&ReportInput {
        label: &r.label,
        state: &r.state,
        landed: &[],
        rejected: &found.rejected,
        dropped: &found.dropped,
        human,
        generated: &crate::files::scaffold::now_stamp(),
    });
    let path = r.dir.join("report.md");
    fsutil::write_atomic(&path, text.as_bytes())?;
    r.state.report = Some(path.display().to_string());
    r.emit(RunEvent::Note(format!("no finding was accepted: nothing to commit (report: {})", path.display())));
    Ok(path)
}

/// Tidy: finished hunters' branches go (their tips are archived), their worktrees to the pool
/// (`git::pool`), and every lane's signal files.
fn tidy(r: &mut Run<'_>, lanes: &[String], human: &mut Vec<String>) -> Result<()> {
    let finished: Vec<(String, crate::run::context::LaneRun)> = r
        .lanes
        .iter()
        .filter(|(l, _)| r.state.lanes.get(*l).is_some_and(|s| s.status == LaneStatus::Done))
        .map(|(l, lr)| (l.clone(), lr.clone()))
        .collect();
    let paths: Vec<&Path> = finished.iter().map(|(_, lr)| lr.worktree.as_path()).collect();
    for ((lane, lr), gone) in finished.iter().zip(crate::git::pool::retire_many(r.repo, &r.ws.config, &paths)) {
        if gone? {
            worktree::delete_branch(r.repo, &lr.branch)?;
        } else {
            human.push(format!("the worktree of lane {lane} holds uncommitted changes and was kept: {}", lr.worktree.display()));
        }
    }
    let dir = r.repo.root.join(&r.ws.config.signals);
    for lane in lanes {
        signal::remove_lane(&dir, lane);
    }
    Ok(())
}

struct LandOutcome {
    landed: Vec<Landed>,
    report: PathBuf,
    commit: String,
    merge_command: Option<String>,
}

/// Commit the accepted findings (renumbered), the synced catalog, the report and the seed state
/// on top of the user's branch as it is now, in an integration worktree; fast-forward the branch
/// when it did not move.
fn land_findings(r: &mut Run<'_>, found: &Judged, human: &mut Vec<String>) -> Result<LandOutcome> {
    let config = r.ws.config.clone();
    let (target, branch, iw) = open_integration(r, &config)?;
    let (landed, mut paths) = write_findings(r, &iw, &config, &found.accepted)?;
    paths.extend(sync_catalog(&iw, &config)?);
    close_state(r, human);
    let report_rel = write_report_and_state(r, &iw, &config, &landed, found, human)?;
    paths.push(report_rel.to_string_lossy().into_owned());
    paths.push(config.state.to_string_lossy().into_owned());
    let mut args: Vec<&str> = vec!["add", "--"];
    args.extend(paths.iter().map(String::as_str));
    gitcli::git(&iw, &args)?;
    worktree::commit(&iw, &format!("lanes: hunt {}: {} new issue(s)", r.label, landed.len()))?;
    let commit = worktree::head(&iw)?;
    worktree::archive(r.repo, &r.label, "integration", &commit)?;
    let merge_command = fast_forward_or_keep(r, &iw, &branch, &target, &commit, human)?;
    r.state.integration = Some(IntegrationState {
        policy: "hunt".into(),
        branch: Some(branch),
        merged: vec![],
        backed_out: vec![],
        fast_forwarded: merge_command.is_none(),
        commit: Some(commit.clone()),
        kept_at: None,
        checks: None,
    });
    Ok(LandOutcome { landed, report: report_rel, commit, merge_command })
}

/// A fresh integration branch and worktree at the user's branch as it is now (any left by an
/// earlier attempt are removed first): `(target commit, branch, worktree)`.
fn open_integration(r: &Run<'_>, config: &Config) -> Result<(String, String, PathBuf)> {
    let fresh = r.repo.reopen()?;
    let target = fresh.head_commit().map(|o| o.to_string()).unwrap_or_else(|| r.base.clone());
    let branch = worktree::lane_branch(config, &r.label, "integration");
    let iw = worktree::worktrees_dir(r.repo, config, &r.label).join("integration");
    if iw.exists() {
        worktree::remove(&r.repo.root, &iw)?;
    }
    if r.repo.git.find_branch(&branch, git2::BranchType::Local).is_ok() {
        worktree::delete_branch(r.repo, &branch)?;
    }
    worktree::add(&r.repo.root, &iw, &branch, &target)?;
    Ok((target, branch, iw))
}

/// Write the accepted findings under their final ids into the integration worktree (a file
/// already there is a conflict): the landed findings and their paths.
fn write_findings(r: &mut Run<'_>, iw: &Path, config: &Config, accepted: &[judge::Accepted]) -> Result<(Vec<Landed>, Vec<String>)> {
    let iws = Workspace::load(iw, config.clone())?;
    let taken = land::taken_ids(&iws.issues, &iw.join(&config.issues));
    let numbered = land::renumber(accepted, &config.issues, &taken);
    let mut paths: Vec<String> = Vec::new();
    for (l, bytes) in &numbered {
        if !fsutil::create_new(&land::landed_path(iw, l), bytes)? {
            return Err(Error::State {
                message: format!("{} already exists on the integration branch", l.path),
                hint: Some("run `git lanes doctor`".into()),
            });
        }
        paths.push(l.path.clone());
    }
    let landed: Vec<Landed> = numbered.into_iter().map(|(l, _)| l).collect();
    for l in landed.iter().filter(|l| l.filed_as != l.id) {
        r.emit(RunEvent::Note(format!("lane {}: `{}` (filed as {}) becomes {}", l.lane, l.from, l.filed_as, l.id)));
    }
    Ok((landed, paths))
}

/// Sync the integration worktree's catalog with its issue files: the catalog's path, when there
/// is a catalog.
fn sync_catalog(iw: &Path, config: &Config) -> Result<Option<String>> {
    let iws = Workspace::load(iw, config.clone())?;
    match crate::files::lifecycle::resync_catalog(&iws)? {
        CatalogSync::NoCatalog => Ok(None),
        CatalogSync::Unparsable(p) => Err(p.into()),
        CatalogSync::Synced { .. } | CatalogSync::IssueProblems(_) => Ok(Some(config.catalog.to_string_lossy().into_owned())),
    }
}

/// The hunt report (`<runs>/<LABEL>.md`) and the seed-shaped state, in the integration worktree;
/// returns the report's path.
fn write_report_and_state(
    r: &mut Run<'_>,
    iw: &Path,
    config: &Config,
    landed: &[Landed],
    found: &Judged,
    human: &[String],
) -> Result<PathBuf> {
    let report_rel = config.runs.join(format!("{}.md", r.label));
    r.state.report = Some(report_rel.display().to_string());
    let input = ReportInput {
        label: &r.label,
        state: &r.state,
        landed,
        rejected: &found.rejected,
        dropped: &found.dropped,
        human,
        generated: &crate::files::scaffold::now_stamp(),
    };
    fsutil::write_atomic(&iw.join(&report_rel), land::render(&input).as_bytes())?;
    let batch = r.settings.max_parallel.unwrap_or(r.state.lanes.len());
    let seed = land::seed_state(&input, true, batch, &report_rel);
    fsutil::write_atomic(&iw.join(&config.state), land::seed_state_yaml(&seed)?.as_bytes())?;
    Ok(report_rel)
}

/// Fast-forward the user's branch to the hunt commit when it did not move (the integration
/// worktree and branch then go); else keep them and return the command that takes the result.
fn fast_forward_or_keep(
    r: &Run<'_>,
    iw: &Path,
    branch: &str,
    target: &str,
    commit: &str,
    human: &mut Vec<String>,
) -> Result<Option<String>> {
    let blocked = super::integrate::fast_forward(r.repo, &r.label, target, r.state.base_branch.as_deref(), commit)?;
    if let Some(why) = blocked {
        let cmd = format!("git merge {branch}");
        human.push(format!("your branch was not fast-forwarded: {why}; the findings are on `{branch}`; run `{cmd}`"));
        return Ok(Some(cmd));
    }
    if worktree::remove(&r.repo.root, iw)? {
        worktree::delete_branch(r.repo, branch)?;
    }
    Ok(None)
}
