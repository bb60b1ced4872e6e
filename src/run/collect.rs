//! Step 6: collect and judge a finished lane.
//!
//! Whatever the worker left uncommitted is committed on its lane branch first (work is never
//! lost). A lane that did not finish (failed, timed out, interrupted) stops there: its work waits
//! for a human. A finished lane's assigned issues are each verified **with the checks of the
//! issue file as it was when the run started** — a worker that edits its own checks cannot make
//! them pass — and judged; APPROVED issues are marked RESOLVED on the lane branch (byte-minimal
//! rewrite + Resolution section + evidence), REJECTED ones stay (or are set back to) OPEN.
//! Lanes are judged in parallel (each has its own worktree); events are emitted afterwards.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::{Run, RunEvent};
use crate::base::error::Result;
use crate::files::config::Config;
use crate::files::issue::{Issue, Status};
use crate::files::rewrite::{Edit, Resolution};
use crate::git::worktree;
use crate::judge::verdict::{self, CheckOutcome, JudgeInput};
use crate::judge::verify::{self, VerifyOptions};
use crate::planning::plan::LanePlan;

/// One issue's judgement.
#[derive(Debug, Clone)]
pub struct Judgement {
    pub id: String,
    pub approved: bool,
    pub reason: String,
    pub verdict_yaml: Option<String>,
}

/// What collecting a lane produced.
#[derive(Debug, Clone, Default)]
pub struct Collected {
    pub lane: String,
    pub committed_leftovers: bool,
    pub tip: Option<String>,
    pub judgements: Vec<Judgement>,
    pub error: Option<String>,
    /// Issue-file edits the guard reverted on the lane branch (see [`crate::guard`]).
    pub reverts: Vec<String>,
    /// Why the lane is refused as a whole (neither judged nor integrated).
    pub refused: Vec<String>,
}

struct LaneInput<'a> {
    lane: &'a str,
    plan: &'a LanePlan,
    worktree: &'a Path,
    judge: bool,
    duration: Option<Duration>,
    /// Extra paths/globs the lane's worker drops (kept out of the lane commit).
    keep_out: &'a [String],
}

/// Collect every lane that ended (in parallel), then record the results in the run state.
pub(super) fn collect_all(r: &mut Run<'_>) -> Result<Vec<Collected>> {
    let inputs: Vec<LaneInput<'_>> = r
        .lanes
        .iter()
        .filter_map(|(lane, lr)| {
            let st = r.state.lanes.get(lane)?.status.as_str();
            (st != "collected").then_some(LaneInput {
                lane,
                plan: &lr.plan,
                worktree: &lr.worktree,
                judge: st == "done",
                duration: lr.duration,
                keep_out: &lr.keep_out,
            })
        })
        .collect();
    let cx = Cx {
        ws: &r.ws,
        config: &r.ws.config,
        dir: &r.dir,
        base: &r.fork,
        run_id: &r.run_id,
        opts: VerifyOptions::from_config(&r.ws.config, false),
    };
    // A bounded pool: lanes are judged in parallel, but a hundred lanes must not start a hundred
    // `git` and check processes at once.
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<Collected>>> = inputs.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..inputs.len().min(8) {
            s.spawn(|| {
                loop {
                    let k = next.fetch_add(1, Ordering::SeqCst);
                    let Some(input) = inputs.get(k) else { break };
                    *slots[k].lock().unwrap_or_else(|e| e.into_inner()) = Some(collect_lane(&cx, input));
                }
            });
        }
    });
    let results: Vec<Collected> = slots
        .into_iter()
        .zip(&inputs)
        .map(|(slot, input)| {
            slot.into_inner().unwrap_or_else(|e| e.into_inner()).unwrap_or_else(|| Collected {
                lane: input.lane.to_string(),
                error: Some("collecting the lane panicked".into()),
                ..Collected::default()
            })
        })
        .collect();
    for c in &results {
        for j in &c.judgements {
            r.emit(RunEvent::Judged { lane: c.lane.clone(), id: j.id.clone(), approved: j.approved, reason: j.reason.clone() });
            if let Some(y) = &j.verdict_yaml {
                crate::base::fsutil::write_atomic(&r.dir.join(&c.lane).join(format!("{}.verdict.yaml", j.id)), y.as_bytes())?;
            }
        }
        let ls = r.state.lanes.entry(c.lane.clone()).or_default();
        ls.tip = c.tip.clone();
        ls.resolved = c.judgements.iter().filter(|j| j.approved).map(|j| j.id.clone()).collect();
        ls.issues_fixed = ls.resolved.len();
        ls.rejected = c
            .judgements
            .iter()
            .filter(|j| !j.approved)
            .map(|j| crate::run::state::Rejection { id: j.id.clone(), reason: j.reason.clone() })
            .collect();
        for rv in &c.reverts {
            ls.warnings.push(format!("issue file edit reverted: {rv}"));
        }
        ls.refused = c.refused.clone();
        if c.committed_leftovers {
            ls.warnings.push("the worker left uncommitted changes; git-lanes committed them on the lane branch".into());
        }
        if let Some(e) = &c.error {
            ls.warnings.push(format!("collecting failed: {e}"));
        }
        if let Some(tip) = &c.tip {
            worktree::archive(r.repo, &r.run_id, &c.lane, tip)?;
        }
    }
    r.save()?;
    Ok(results)
}

struct Cx<'a> {
    ws: &'a crate::files::workspace::Workspace,
    config: &'a Config,
    /// The run's folder (`.git/lanes/runs/<RUN_ID>`).
    dir: &'a Path,
    base: &'a str,
    run_id: &'a str,
    opts: VerifyOptions,
}

fn collect_lane(cx: &Cx<'_>, input: &LaneInput<'_>) -> Collected {
    let mut out = Collected { lane: input.lane.to_string(), ..Collected::default() };
    if let Err(e) = collect_inner(cx, input, &mut out) {
        out.error = Some(e.to_string());
    }
    out.tip = worktree::head(input.worktree).ok();
    out
}

/// The note of a lane's worktree state kept while its checks run and its judge writes (see
/// [`crate::git::snapshot::Droppings::save`]): in `.git/lanes/runs/<RUN_ID>/<LANE>/`.
const JUDGING_NOTE: &str = "judging.json";

fn collect_inner(cx: &Cx<'_>, input: &LaneInput<'_>, out: &mut Collected) -> Result<()> {
    let keep_out = super::keep_out(cx.config, input.keep_out);
    let note = cx.dir.join(input.lane).join(JUDGING_NOTE);
    if let Some(before) = crate::git::snapshot::Droppings::load(&note) {
        // A collection killed while judging: what its checks and its judge wrote since is
        // git-lanes' own, not the worker's — undone, so no leftover commit takes it.
        before.recover(input.worktree)?;
        crate::base::fsutil::remove_file_if_exists(&note)?;
    }
    let secret_files = uncommitted_files_with_secrets(input.worktree)?;
    if !secret_files.is_empty() {
        // Committing them would store the secret in the repository's objects: they stay
        // uncommitted in the kept worktree, for a human.
        out.refused.push(format!(
            "the worker left files carrying the value of a secret environment variable: {} (left uncommitted in its worktree)",
            secret_files.join(", ")
        ));
        return Ok(());
    }
    out.committed_leftovers = worktree::commit_leftovers(
        input.worktree,
        &format!("lanes: run {}: lane {}: work left uncommitted by the worker", cx.run_id, input.lane),
        &keep_out,
    )?;
    let git = git2::Repository::open(input.worktree).map_err(|e| crate::base::error::Error::git("could not open the lane worktree", e))?;
    let base = git2::Oid::from_str(cx.base).map_err(|e| crate::base::error::Error::git("bad base commit", e))?;
    let tip = git.head().ok().and_then(|h| h.target()).unwrap_or(base);
    // What judges the lane is not the lane's to change; nothing is written through its symlinks.
    let inspection = crate::judge::guard::inspect_lane(&git, base, tip, &cx.config.issues)?;
    if !inspection.refusals.is_empty() {
        out.refused = inspection.refusals;
        if input.judge {
            let reason = format!("the lane was refused: {}", out.refused.join("; "));
            for a in &input.plan.issues {
                out.judgements.push(Judgement { id: a.id.clone(), approved: false, reason: reason.clone(), verdict_yaml: None });
            }
        }
        return Ok(());
    }
    if !inspection.reverts.is_empty() {
        let mut paths = Vec::new();
        for rv in &inspection.reverts {
            match &rv.bytes {
                Some(b) => crate::base::fsutil::write_under(input.worktree, &rv.path, b)?,
                None => {
                    crate::base::fsutil::check_no_symlink(input.worktree, &rv.path)?;
                    crate::base::fsutil::remove_file_if_exists(&input.worktree.join(&rv.path))?;
                }
            }
            paths.push(rv.path.display().to_string());
            out.reverts.push(rv.to_string());
        }
        let mut args: Vec<&str> = vec!["add", "-A", "--"];
        args.extend(paths.iter().map(String::as_str));
        crate::git::gitcli::git(input.worktree, &args)?;
        let ids: Vec<&str> = inspection.reverts.iter().map(|r| r.id.as_str()).collect();
        worktree::commit(
            input.worktree,
            &format!(
                "lanes: run {}: lane {}: restore issue files a lane may not change ({})\n\n{}",
                cx.run_id,
                input.lane,
                ids.join(", "),
                out.reverts.join("\n")
            ),
        )?;
    }
    if !input.judge {
        return Ok(());
    }
    // The judge sees what the worker did (a trespass on another lane's issue file is judged even
    // though the guard reverted it); evidence and the merge are of the reverted tip.
    let worker_tip = tip;
    let tip = git.head().ok().and_then(|h| h.target()).unwrap_or(base);
    let mut changed = verdict::changed_files(&git, base, worker_tip)?;
    // Evidence of this lane's own issues is written by the judge (here, or where the lane ran),
    // not by the worker: it does not count against SpecFit.
    let own_evidence: Vec<PathBuf> =
        input.plan.issues.iter().map(|a| cx.config.evidence.join(input.lane).join(format!("{}_", a.id))).collect();
    changed.retain(|c| !own_evidence.iter().any(|prefix| c.path.starts_with(&*prefix.to_string_lossy())));
    let siblings: Vec<&Issue> = input.plan.issues.iter().filter_map(|a| cx.ws.issue(&a.id)).collect();
    let other_lane_files: Vec<PathBuf> = cx.ws.issues.iter().filter(|i| i.lane() != input.lane).map(|i| i.path.clone()).collect();
    let time_box = crate::planning::workorder::lane_time_box(&siblings);
    let logbook = logbook_dir(cx.config);
    let now = crate::files::scaffold::now_rfc3339();
    let tree = verify::TreeState { commit: Some(tip.to_string()), dirty: false };
    let mut resolved = Vec::new();
    let mut reopened = Vec::new();
    // Files git-lanes writes here (issue files, evidence): the only ones the judge's commit takes.
    let mut written: Vec<PathBuf> = Vec::new();
    // The worker's tree is committed; whatever the checks write is undone after each issue's
    // checks, so no dropping reaches the lane commit, the run commit or a tracked file.
    // All checks run before anything is written, so undoing their droppings cannot undo a
    // judgement's own edits.
    let droppings = crate::git::snapshot::Droppings::before(input.worktree)?;
    droppings.save(&note)?;
    let results: Vec<(&Issue, verify::IssueVerdict)> = input
        .plan
        .issues
        .iter()
        .filter_map(|a| cx.ws.issue(&a.id))
        .map(|issue| {
            let result = verify::verify_issue(issue, input.worktree, &cx.opts);
            (issue, result)
        })
        .collect();
    droppings.restore(input.worktree, true)?;
    for (issue, result) in results {
        let checks: Vec<CheckOutcome> =
            result.checks.iter().map(|c| CheckOutcome { command: c.check.command.clone(), passed: c.passed }).collect();
        let deps: Vec<(String, Option<Status>)> =
            issue.meta.depends_on.iter().map(|d| (d.clone(), cx.ws.issue(d).map(|i| i.status()))).collect();
        let v = verdict::judge(&JudgeInput {
            issue,
            lane: input.lane,
            siblings: &siblings,
            changed: &changed,
            checks: &checks,
            dependencies: &deps,
            duration: input.duration,
            time_box: Some(time_box),
            other_lane_issue_files: &other_lane_files,
            catalog: &cx.config.catalog,
            logbook: &logbook,
            now: &now,
        });
        let reason = if v.approved() {
            format!("{}/{} checks passed; {}", result.passed_checks(), result.checks.len(), v.recommendation)
        } else if result.checks.is_empty() {
            "UNVERIFIABLE: the issue has no verification commands".to_string()
        } else {
            v.recommendation.clone()
        };
        let current = current_issue(input.worktree, issue);
        let already_recorded = current.status() == Status::Resolved
            && current.has_resolution()
            && crate::judge::evidence::latest(input.worktree, &cx.config.evidence, input.lane, issue.id()).is_some();
        // Already judged and recorded where the lane ran (`git lanes integrate`): verified again
        // here, nothing more to write.
        if v.approved() && !already_recorded {
            let files = files_for(issue, &changed);
            let mut e = Edit::new(&current);
            e.set_status(Status::Resolved)
                .set_key("date_verified", &crate::files::scaffold::today())
                .set_number("verification_confidence", u64::from(result.confidence()))
                .add_resolution(&Resolution {
                    date: crate::files::scaffold::today(),
                    fixed_by: format!("lane {} (git-lanes run {})", input.lane, cx.run_id),
                    files_changed: files,
                    verification: format!("{}/{} checks passed (git-lanes verify)", result.passed_checks(), result.checks.len()),
                });
            e.write(input.worktree, &current)?;
            written.push(current.path.clone());
            let ev = verify::to_evidence(&result, issue, &tree, &chrono::Local::now().format("%Y-%m-%dT%H:%M:%S%.6f").to_string());
            let mut ev = ev;
            ev.run_id = Some(cx.run_id.to_string());
            written.push(crate::judge::evidence::write(
                input.worktree,
                &cx.config.evidence,
                &ev,
                &chrono::Local::now().format("%Y%m%d_%H%M%S").to_string(),
            )?);
            resolved.push(issue.id().to_string());
        } else if !v.approved() && current.status() != Status::Open {
            // The worker marked it RESOLVED (or WONTFIX) itself: that claim is not accepted.
            let mut e = Edit::new(&current);
            e.set_status(Status::Open);
            e.write(input.worktree, &current)?;
            written.push(current.path.clone());
            reopened.push(issue.id().to_string());
        }
        out.judgements.push(Judgement { id: issue.id().to_string(), approved: v.approved(), reason, verdict_yaml: v.to_yaml().ok() });
    }
    crate::base::fault::point("mid-judge");
    if !resolved.is_empty() || !reopened.is_empty() {
        let mut msg = format!("lanes: run {}: lane {}:", cx.run_id, input.lane);
        if !resolved.is_empty() {
            msg += &format!(" resolve {} (verified)", resolved.join(", "));
        }
        if !reopened.is_empty() {
            msg += &format!("{} keep {} OPEN (not verified)", if resolved.is_empty() { "" } else { ";" }, reopened.join(", "));
        }
        crate::git::snapshot::commit_paths(input.worktree, &msg, &written)?;
    }
    crate::base::fsutil::remove_file_if_exists(&note)?;
    Ok(())
}

/// The files a fix changed for one issue: those inside its affected paths, or every file the
/// lane changed (its issue file aside) when none is.
fn files_for(issue: &Issue, changed: &[verdict::ChangedFile]) -> Vec<String> {
    let all: Vec<String> = changed.iter().map(|c| c.path.clone()).filter(|p| Path::new(p) != issue.path).collect();
    let inside: Vec<String> = all
        .iter()
        .filter(|p| {
            issue.meta.affected_paths.iter().any(|a| {
                let a = a.trim_end_matches('/');
                p.as_str() == a || p.starts_with(&format!("{a}/"))
            })
        })
        .cloned()
        .collect();
    if inside.is_empty() { all } else { inside }
}

/// Uncommitted files (modified or untracked, signal files aside) of a worktree that carry the
/// value of a secret environment variable. Only regular files of at most 16 MiB are read.
fn uncommitted_files_with_secrets(worktree: &Path) -> Result<Vec<String>> {
    if !crate::base::redact::has_secret_values() {
        return Ok(Vec::new());
    }
    let listed = crate::git::gitcli::git(worktree, &["ls-files", "-z", "--modified", "--others", "--exclude-standard"])?;
    let mut out = Vec::new();
    for rel in listed.split('\0').filter(|s| !s.is_empty()) {
        let p = worktree.join(rel);
        let Ok(meta) = std::fs::symlink_metadata(&p) else { continue };
        if !meta.is_file() || meta.len() > 16 << 20 {
            continue;
        }
        if let Ok(bytes) = std::fs::read(&p)
            && crate::base::redact::contains_secret_value(&String::from_utf8_lossy(&bytes))
        {
            out.push(rel.to_string());
        }
    }
    out.dedup();
    Ok(out)
}

/// The issue file as it is in the lane worktree now (the worker may have edited it); the
/// run-start version when it is gone or no longer parses.
fn current_issue(worktree: &Path, original: &Issue) -> Issue {
    std::fs::read(worktree.join(&original.path)).ok().and_then(|b| Issue::parse(&original.path, b).ok()).unwrap_or_else(|| original.clone())
}

/// The LogBook folder: the first component of the state path (`LogBook`).
pub(super) fn logbook_dir(config: &Config) -> PathBuf {
    config.state.components().next().map(|c| PathBuf::from(c.as_os_str())).unwrap_or_else(|| PathBuf::from("LogBook"))
}
