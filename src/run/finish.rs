//! Steps 6–8 in order: collect every lane, integrate, then commit the catalog, report and state
//! and tidy up — archiving every tip before a branch or worktree is removed.

use super::collect;
use super::integrate::{self, Candidate};
use super::{Run, RunEvent, RunSummary};
use crate::base::error::Result;
use crate::files::catalog::Catalog;
use crate::files::config::IntegrationPolicy;
use crate::files::issue::Status;
use crate::files::workspace::Workspace;
use crate::run::report;
use crate::run::state::IssueLine;
use crate::run::state::{Finishing, IntegrationState, MergedLane, Rejection};
use crate::{git::gitcli, git::worktree, run::signal};

pub(super) fn complete(r: &mut Run<'_>, interrupted: bool) -> Result<RunSummary> {
    let collected = collect::collect_all(r)?;
    crate::base::fault::point("after-collect");
    let mut human: Vec<String> = Vec::new();
    for (lane, ls) in &r.state.lanes {
        match ls.status.as_str() {
            "failed" | "timed_out" => human.push(format!(
                "lane {lane} {}: {}{}{}; its work is on `{}` (`git lanes run --resume` restarts it; `git lanes integrate {} --no-fetch` verifies it and takes it as it stands)",
                ls.status.replace('_', " "),
                ls.exit.as_deref().unwrap_or("?"),
                ls.reason.as_deref().map(|why| format!(" — {why}")).unwrap_or_default(),
                ls.log.as_deref().map(|log| format!(" (log: {log})")).unwrap_or_default(),
                ls.branch.as_deref().unwrap_or("?"),
                r.run_id
            )),
            "interrupted" => human.push(format!("lane {lane} was interrupted; `git lanes run --resume` continues it")),
            _ => {}
        }
        for rej in &ls.rejected {
            human.push(format!("{} was not resolved: {}", rej.id, rej.reason));
        }
    }
    for c in &collected {
        if let Some(e) = &c.error {
            human.push(format!("lane {}: collecting failed: {e}", c.lane));
        }
        for rv in &c.reverts {
            human.push(format!("lane {}: issue file edit reverted: {rv}", c.lane));
        }
        if !c.refused.is_empty() {
            human.push(format!(
                "lane {} was refused ({}); it is neither judged nor integrated, its branch is kept",
                c.lane,
                c.refused.join("; ")
            ));
        }
    }
    // Workers cannot push (their git refuses); whatever changed tags or a local remote anyway
    // is said.
    let now = crate::judge::guard::watched_refs(&r.repo.git);
    for change in crate::judge::guard::ref_changes(&r.state.watched_refs, &now) {
        human.push(format!("{change}: a worker may have pushed or tagged; check it"));
    }
    if interrupted {
        r.state.status = "interrupted".into();
        r.save()?;
        return Ok(summary(r, vec![], human, None, None, None, true));
    }
    let policy = r.opts.policy.unwrap_or(r.ws.config.integration);
    let candidates: Vec<Candidate> = r
        .lanes
        .iter()
        .filter_map(|(lane, lr)| {
            let ls = r.state.lanes.get(lane)?;
            (ls.status == "done" && ls.refused.is_empty()).then(|| Candidate {
                lane: lane.clone(),
                branch: lr.branch.clone(),
                tip: ls.tip.clone().unwrap_or_default(),
                resolved: ls.resolved.clone(),
            })
        })
        .collect();
    for c in candidates.iter().filter(|c| c.resolved.is_empty()) {
        human.push(format!("lane {} resolved nothing; its branch `{}` is kept for review", c.lane, c.branch));
    }
    let wt_root = worktree::worktrees_dir(r.repo, &r.ws.config, &r.run_id);
    let merge_command = None;
    let mut commit = None;
    let mut resolved: Vec<String> = Vec::new();
    let report_rel = r.ws.config.runs.join(format!("{}.md", r.label));
    if r.opts.no_integrate || policy == IntegrationPolicy::Branches {
        for c in &candidates {
            if r.opts.push
                && let Err(e) = gitcli::git(&r.repo.root, &["push", "--quiet", "origin", &c.branch])
            {
                human.push(format!("could not push `{}`: {e}", c.branch));
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
        r.state.status = if human.is_empty() { "complete".into() } else { "needs_attention".into() };
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
        return Ok(summary(r, vec![], human, Some(path), None, None, false));
    }
    crate::run::timeline::integration_begins(&mut r.state);
    let mut on_step = |lane: &str, backed: Option<&str>| {
        let e = match backed {
            None => RunEvent::Merged { lane: lane.to_string() },
            Some(reason) => RunEvent::BackedOut { lane: lane.to_string(), reason: reason.to_string() },
        };
        crate::run::timeline::record(&mut r.state, &e);
        (r.observer)(&e);
    };
    let int = integrate::integrate(r.repo, &r.ws, &r.label, &r.base, &wt_root, &candidates, policy, &mut on_step)?;
    crate::base::fault::point("after-integrate");
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
    resolved.extend(int.resolved.iter().cloned());
    r.state.integration = Some(IntegrationState {
        policy: format!("{policy:?}").to_lowercase(),
        branch: Some(int.branch.clone()),
        merged: int.merged.clone(),
        backed_out: int.backed_out.iter().map(|(l, why)| Rejection { id: l.clone(), reason: why.clone() }).collect(),
        fast_forwarded: false,
        commit: None,
        kept_at: None,
    });
    // Finish in the integration worktree: catalog, report, state, verdicts; one commit.
    let iw = int.worktree.clone();
    let iws = Workspace::load(&iw, r.ws.config.clone())?;
    if let Some(bytes) = crate::base::fsutil::read_optional(&iw.join(&r.ws.config.catalog))? {
        let cat = Catalog::parse(&r.ws.config.catalog, bytes)?;
        let synced = cat.sync(&iws, &crate::files::scaffold::now_stamp());
        if synced.changed {
            crate::base::fsutil::write_under(&iw, &r.ws.config.catalog, &synced.bytes)?;
        }
    }
    let open = iws.issues.iter().filter(|i| i.status() == Status::Open).count();
    for (lane, _) in r.lanes.clone() {
        for entry in std::fs::read_dir(r.dir.join(&lane)).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".verdict.yaml") {
                let to = r.ws.config.runs.join(&r.label).join(&name);
                crate::base::fsutil::write_under(&iw, &to, &crate::base::fsutil::read(&entry.path())?)?;
            }
        }
    }
    // A run that resolved nothing changes nothing the user needs on their branch: its
    // bookkeeping commit is kept under refs/lanes/runs/<RUN_ID> instead (`runs`/`report` read it).
    let off_branch = int.resolved.is_empty() && !r.opts.no_commit;
    if off_branch && let Some(i) = r.state.integration.as_mut() {
        i.kept_at = Some(crate::run::runs::run_ref(&r.label));
    }
    let ff_possible = !r.opts.no_commit && !off_branch;
    // The report is written before the fast-forward: say what will happen (HEAD unmoved ⇒ yes).
    if let Some(i) = r.state.integration.as_mut() {
        i.fast_forwarded = ff_possible && r.repo.reopen()?.head_commit().map(|o| o.to_string()).as_deref() == Some(r.base.as_str());
    }
    r.state.status = if human.is_empty() { "complete".into() } else { "needs_attention".into() };
    r.state.finished = Some(crate::files::scaffold::now_rfc3339());
    r.state.report = Some(report_rel.display().to_string());
    let lines = issue_lines(r, &int.resolved);
    write_report(r, &iw, &report_rel, &lines, &human)?;
    let message = format!("lanes: run {}: {} resolved, {} open", r.label, resolved.len(), open);
    let keep_out = super::keep_out(&r.ws.config, &[]);
    if r.opts.no_commit {
        human.push(format!("--no-commit: the catalog, report and state are written but not committed in {}", iw.display()));
    } else {
        // A run killed between its commit and the journal left that commit at the integration
        // branch's tip: the resumed run folds into it rather than committing a second one.
        if head_is_run_commit(&iw, &r.label) {
            crate::git::snapshot::amend_head(&iw, &keep_out)?;
        } else {
            crate::git::snapshot::commit_worktree(&iw, &message, &keep_out)?;
        }
        crate::base::fault::point("before-journal");
        let tip = worktree::head(&iw)?;
        worktree::archive(r.repo, &r.label, "integration", &tip)?;
        commit = Some(tip.clone());
        if let Some(i) = r.state.integration.as_mut() {
            i.commit = Some(tip.clone());
        }
        if off_branch {
            let oid = git2::Oid::from_str(&tip).map_err(|e| crate::base::error::Error::git(format!("bad commit id {tip}"), e))?;
            let name = crate::run::runs::run_ref(&r.label);
            r.repo
                .git
                .reference(&name, oid, true, &format!("git-lanes: run {} resolved nothing", r.label))
                .map_err(|e| crate::base::error::Error::git(format!("could not write {name}"), e))?;
            r.emit(RunEvent::Note(format!(
                "nothing was resolved: the report and state are kept under {name}, not committed on your branch (`git lanes report {}`)",
                r.label
            )));
            commit = None;
        }
    }
    let report_at = if off_branch {
        format!("{}:{}", crate::run::runs::run_ref(&r.label), report_rel.display())
    } else {
        report_rel.display().to_string()
    };
    let f = Finishing {
        steps: Vec::new(),
        status: r.state.status.clone(),
        commit,
        ff_possible,
        off_branch,
        fast_forwarded: false,
        integration_branch: int.branch.clone(),
        integration_worktree: iw.display().to_string(),
        merged: int
            .merged
            .iter()
            .filter_map(|l| r.lanes.get(l).map(|lr| (l, lr)))
            .map(|(l, lr)| MergedLane { lane: l.clone(), branch: lr.branch.clone(), worktree: lr.worktree.display().to_string() })
            .collect(),
        human,
        resolved,
        open,
        report: report_rel.display().to_string(),
        report_at,
        merge_command,
        lines,
    };
    finish_steps(r, f)
}

/// Whether `worktree`'s HEAD is the run commit of `label` (`lanes: run <label>: N resolved, M open`).
fn head_is_run_commit(worktree: &std::path::Path, label: &str) -> bool {
    let Ok(git) = git2::Repository::open(worktree) else { return false };
    let Some(subject) = git.head().and_then(|h| h.peel_to_commit()).ok().and_then(|c| c.summary().map(str::to_string)) else {
        return false;
    };
    subject.strip_prefix(&format!("lanes: run {label}: ")).is_some_and(|rest| rest.contains(" resolved, ") && rest.ends_with(" open"))
}

/// The steps after the run commit — fast-forward, push, tidy, final state — each journalled in
/// the live state before the next begins and each idempotent, so a crash anywhere is finished by
/// `run --resume` ([`resume_finishing`]) without a second judgement, commit or report.
fn finish_steps(r: &mut Run<'_>, mut f: Finishing) -> Result<RunSummary> {
    journal(r, &f)?;
    crate::base::fault::point("after-commit");
    let iw = std::path::PathBuf::from(&f.integration_worktree);
    let report_rel = std::path::PathBuf::from(&f.report);
    let keep_out = super::keep_out(&r.ws.config, &[]);
    // Move the user's branch, only by fast-forward and only if HEAD has not moved (a resumed
    // run whose branch is already at the result finds nothing to do).
    if !f.done("ff") {
        if f.ff_possible
            && let Some(tip) = f.commit.clone()
        {
            let blocked = integrate::fast_forward(r.repo, &r.label, &r.base, r.state.base_branch.as_deref(), &tip)?;
            f.fast_forwarded = blocked.is_none();
            if let Some(why) = blocked {
                let cmd = format!("git merge {}", f.integration_branch);
                f.human
                    .push(format!("your branch was not fast-forwarded: {why}; the result is on `{}`; run `{cmd}`", f.integration_branch));
                f.merge_command = Some(cmd);
                // The committed report said what was expected; say what happened instead (the run
                // commit is not on any branch of the user's yet, so it is amended).
                if let Some(i) = r.state.integration.as_mut() {
                    i.fast_forwarded = false;
                }
                r.state.status = "needs_attention".into();
                write_report(r, &iw, &report_rel, &f.lines, &f.human)?;
                if let Some(amended) = crate::git::snapshot::amend_head(&iw, &keep_out)? {
                    let amended = amended.to_string();
                    worktree::archive(r.repo, &r.label, "integration", &amended)?;
                    if let Some(i) = r.state.integration.as_mut() {
                        i.commit = Some(amended.clone());
                    }
                    f.commit = Some(amended);
                }
            }
        }
        if let Some(i) = r.state.integration.as_mut() {
            i.fast_forwarded = f.fast_forwarded;
        }
        f.status = r.state.status.clone();
        f.steps.push("ff".into());
        journal(r, &f)?;
        crate::base::fault::point("after-ff");
    }
    if !f.done("push") {
        if r.opts.push
            && f.fast_forwarded
            && let Some(b) = r.state.base_branch.clone()
            && let Err(e) = gitcli::git(&r.repo.root, &["push", "--quiet", "origin", &b])
        {
            f.human.push(format!("could not push `{b}`: {e}"));
        }
        f.steps.push("push".into());
        journal(r, &f)?;
    }
    if !f.done("tidy") {
        // Merged lanes' worktrees and branches go (their tips are archived); the rest stay.
        // Worktrees are removed in parallel (see `worktree::remove_many`); a folder already gone
        // (a crash after removing it) is only pruned.
        let paths: Vec<std::path::PathBuf> = f.merged.iter().map(|m| std::path::PathBuf::from(&m.worktree)).collect();
        let refs: Vec<&std::path::Path> = paths.iter().map(std::path::PathBuf::as_path).collect();
        let removed = worktree::remove_many(&r.repo.root, &refs);
        crate::base::fault::point("mid-tidy");
        for (m, gone) in f.merged.clone().iter().zip(removed) {
            if gone? {
                worktree::delete_branch(r.repo, &m.branch)?;
            } else {
                f.human.push(format!("the worktree of lane {} holds uncommitted changes and was kept: {}", m.lane, m.worktree));
            }
        }
        if (f.fast_forwarded || f.off_branch) && worktree::remove(&r.repo.root, &iw)? {
            worktree::delete_branch(r.repo, &f.integration_branch)?;
        }
        f.steps.push("tidy".into());
        journal(r, &f)?;
        crate::base::fault::point("after-tidy");
    }
    r.state.status = if !f.human.is_empty() {
        "needs_attention".into()
    } else if f.status.is_empty() || f.status == "running" {
        "complete".into()
    } else {
        f.status.clone()
    };
    r.state.finishing = None;
    r.save()?;
    clear_signals(r);
    let mut out = summary(
        r,
        f.resolved.clone(),
        f.human.clone(),
        Some(std::path::PathBuf::from(&f.report_at)),
        f.commit.clone(),
        f.merge_command.clone(),
        false,
    );
    // The same count as the run commit's message: the issues OPEN in the integrated result.
    out.open = f.open;
    out.integrated = r.state.integration.as_ref().map(|i| i.merged.clone()).unwrap_or_default();
    out.fast_forwarded = f.fast_forwarded;
    Ok(out)
}

/// Save the journal in the live state, which says `running` until the last step is done.
fn journal(r: &mut Run<'_>, f: &Finishing) -> Result<()> {
    r.state.finishing = Some(f.clone());
    let status = std::mem::replace(&mut r.state.status, "running".into());
    let saved = r.save();
    r.state.status = status;
    saved
}

/// `run --resume` of a run that crashed after its run commit: finish the journalled steps.
pub(super) fn resume_finishing(r: &mut Run<'_>) -> Result<RunSummary> {
    let f = r.state.finishing.clone().unwrap_or_default();
    r.state.status = f.status.clone();
    r.emit(RunEvent::Note(format!(
        "the run commit exists; finishing what is left ({})",
        ["ff", "push", "tidy"].iter().filter(|s| !f.done(s)).copied().collect::<Vec<_>>().join(", ")
    )));
    finish_steps(r, f)
}

/// The per-issue lines of the report.
/// The report and the committed state, in the integration worktree.
/// The timeline picture is written next to the report (`<RUN_ID>.svg`) and linked from it.
fn write_report(r: &mut Run<'_>, iw: &std::path::Path, report_rel: &std::path::Path, lines: &[IssueLine], human: &[String]) -> Result<()> {
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
                ("OPEN".to_string(), format!("lane {}", ls.status.replace('_', " ")))
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

fn clear_signals(r: &Run<'_>) {
    let dir = r.repo.root.join(&r.ws.config.signals);
    for lane in r.lanes.keys().chain(r.state.lanes.keys()) {
        let (s, d) = signal::paths(&dir, lane);
        let _ = crate::base::fsutil::remove_file_if_exists(&s);
        let _ = crate::base::fsutil::remove_file_if_exists(&d);
    }
}

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
        lanes: super::LaneOutcome::of(&r.state),
    }
}
