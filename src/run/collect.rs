//! Step 6: collect and judge a finished lane.
//!
//! Whatever the worker left uncommitted is committed on its lane branch first (work is never
//! lost). A lane that did not finish (failed, timed out, interrupted) stops there: its work waits
//! for a human. The lane guard ([`crate::judge::guard`]) then drops from the lane's commit what
//! is not the lane's to change — issue files and statuses, protected files (tests, files checks
//! name), `lanes.yaml`, agent specs, the catalog, git-lanes' records — by committing them back as
//! they were at the base, so a finished lane's assigned issues are each verified **with the
//! checks of the issue file and the protected files as they were when the run started** — a
//! worker that edits its own checks or weakens a test cannot make them pass — and judged on the
//! rest; APPROVED issues are marked RESOLVED on the lane branch (byte-minimal
//! rewrite + Resolution section + evidence), REJECTED ones stay (or are set back to) OPEN.
//! Lanes are judged in parallel (each has its own worktree): in a fixing run each as soon as
//! its worker ends, while the others work ([`Collector`], driven by the coordinator); the lanes
//! left (after Ctrl-C, on resume, in `integrate`) together after the last worker ([`collect_all`]).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::base::error::Result;
use crate::files::config::Config;
use crate::files::issue::{Issue, Status};
use crate::files::rewrite::{Edit, Resolution};
use crate::git::worktree;
use crate::judge::guard::Revert;
use crate::judge::verdict::{self, CheckOutcome, JudgeInput};
use crate::judge::verify::{self, VerifyOptions};
use crate::planning::plan::LanePlan;
use crate::run::collected::{Collected, Judgement};
use crate::run::context::Run;
use crate::run::events::RunEvent;
use crate::run::state::{FailedCheck, LaneState, Rejection};
use crate::run::status::LaneStatus;

/// One lane to collect, owned so a collection can run on its own thread while the coordinator
/// follows the other lanes.
#[derive(Debug, Clone)]
pub(super) struct LaneInput {
    lane: String,
    plan: LanePlan,
    worktree: PathBuf,
    branch: String,
    judge: bool,
    duration: Option<Duration>,
    /// Extra paths/globs the lane's worker drops (kept out of the lane commit).
    keep_out: Vec<String>,
    /// Issues of the plan an earlier attempt resolved: not judged again.
    resolved_before: Vec<String>,
    /// What the lane's work is judged against instead of the run's fork: the integration result
    /// merged into its worktree for an attempt after a conflict (the others' work is not its).
    fork: Option<String>,
}

/// At most this many lanes are collected at once: lanes are judged in parallel, but a hundred
/// lanes must not start a hundred `git` and check processes at once.
pub(super) const POOL: usize = 8;

/// Collect every lane that ended and is not collected yet (in parallel), record the results in
/// the run state, and return every lane's collection of this pass (those made while other
/// lanes ran too), in lane order.
pub(super) fn collect_all(r: &mut Run<'_>) -> Result<Vec<Collected>> {
    let inputs: Vec<LaneInput> =
        r.lanes.keys().filter(|lane| !r.collected.contains_key(*lane)).filter_map(|lane| lane_input(r, lane)).collect();
    if !inputs.is_empty() {
        crate::run::timeline::collection_begins(&mut r.state);
    }
    let results = collect_in_parallel(&Cx::of(r), &inputs);
    for c in results {
        record(r, c)?;
    }
    r.save()?;
    Ok(r.collected.values().cloned().collect())
}

/// The lane to collect, when it is one of the run's and not collected yet; only a finished
/// lane is judged.
pub(super) fn lane_input(r: &Run<'_>, lane: &str) -> Option<LaneInput> {
    let lr = r.lanes.get(lane)?;
    let st = &r.state.lanes.get(lane)?.status;
    (*st != LaneStatus::Collected).then(|| LaneInput {
        lane: lane.to_string(),
        plan: lr.plan.clone(),
        resolved_before: lr.resolved_before.iter().map(|j| j.id.clone()).collect(),
        fork: lr.fork.clone(),
        worktree: lr.worktree.clone(),
        branch: lr.branch.clone(),
        judge: *st == LaneStatus::Done,
        duration: lr.duration,
        keep_out: lr.keep_out.clone(),
    })
}

/// Collects single lanes on threads of their own while the run goes on (see
/// [`crate::run::coordinator`]); each result goes to `deliver`, to be [`record`]ed by the
/// coordinator.
pub(super) struct Collector {
    cx: Arc<Cx>,
}

impl Collector {
    pub(super) fn new(r: &Run<'_>) -> Collector {
        Collector { cx: Arc::new(Cx::of(r)) }
    }

    /// Collect `input` on a new thread; a panic is delivered as the lane's error.
    pub(super) fn start(&self, input: LaneInput, deliver: impl FnOnce(Collected) + Send + 'static) -> std::io::Result<()> {
        let cx = Arc::clone(&self.cx);
        std::thread::Builder::new().name(format!("collect {}", input.lane)).spawn(move || {
            let c = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| collect_lane(&cx, &input)))
                .unwrap_or_else(|_| panicked(&input.lane));
            deliver(c);
        })?;
        Ok(())
    }
}

/// What a collection that panicked leaves: the lane, uncollected, with the reason.
fn panicked(lane: &str) -> Collected {
    Collected { lane: lane.to_string(), error: Some("collecting the lane panicked".into()), ..Collected::default() }
}

/// One lane's collection, in the run: its judgements as events and verdict files, its results in
/// its state (with the issues an earlier attempt resolved), its tip archived.
pub(super) fn record(r: &mut Run<'_>, mut c: Collected) -> Result<()> {
    emit_judgements(r, &c)?;
    if let Some(lr) = r.lanes.get(&c.lane) {
        let earlier: Vec<Judgement> = lr.resolved_before.iter().filter(|e| !c.judgements.iter().any(|j| j.id == e.id)).cloned().collect();
        c.judgements.splice(0..0, earlier);
    }
    if let Some(tip) = &c.tip {
        worktree::archive(r.repo, &r.run_id, &c.lane, tip)?;
    }
    super::attempts::keep_earlier_result(r, &mut c)?;
    record_lane(r.lane_state(&c.lane), &c);
    r.collected.insert(c.lane.clone(), c);
    Ok(())
}

/// Collect the lanes in a bounded pool ([`POOL`]). Results come back in input order.
fn collect_in_parallel(cx: &Cx, inputs: &[LaneInput]) -> Vec<Collected> {
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<Collected>>> = inputs.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..inputs.len().min(POOL) {
            s.spawn(|| {
                loop {
                    let k = next.fetch_add(1, Ordering::SeqCst);
                    let Some(input) = inputs.get(k) else { break };
                    *slots[k].lock().unwrap_or_else(|e| e.into_inner()) = Some(collect_lane(cx, input));
                }
            });
        }
    });
    slots
        .into_iter()
        .zip(inputs)
        .map(|(slot, input)| slot.into_inner().unwrap_or_else(|e| e.into_inner()).unwrap_or_else(|| panicked(&input.lane)))
        .collect()
}

/// Each judgement as an event, its verdict file in the lane's run folder.
fn emit_judgements(r: &mut Run<'_>, c: &Collected) -> Result<()> {
    for j in &c.judgements {
        r.emit(RunEvent::Judged {
            lane: c.lane.clone(),
            id: j.id.clone(),
            approved: j.approved,
            reason: j.reason.clone(),
            failing: j.failing.clone(),
        });
        if let Some(y) = &j.verdict_yaml {
            crate::base::fsutil::write_atomic(&r.dir.join(&c.lane).join(format!("{}.verdict.yaml", j.id)), y.as_bytes())?;
        }
        // A rejected issue's evidence; an earlier attempt's goes once the issue is resolved.
        let evidence = r.dir.join(&c.lane).join(format!("{}.evidence.json", j.id));
        match &j.evidence_json {
            Some(json) => crate::base::fsutil::write_atomic(&evidence, json.as_bytes())?,
            None => crate::base::fsutil::remove_file_if_exists(&evidence)?,
        }
    }
    Ok(())
}

/// What collecting found, in the lane's state: its tip, what was resolved and rejected, why it
/// was refused, and warnings.
fn record_lane(ls: &mut LaneState, c: &Collected) {
    ls.tip = c.tip.clone();
    ls.resolved = c.judgements.iter().filter(|j| j.approved).map(|j| j.id.clone()).collect();
    ls.issues_fixed = ls.resolved.len();
    ls.rejected = c
        .judgements
        .iter()
        .filter(|j| !j.approved)
        .map(|j| Rejection { id: j.id.clone(), reason: j.reason.clone(), checks: j.failing.clone() })
        .collect();
    for rv in &c.reverts {
        ls.warnings.push(format!("edit dropped: {rv}"));
    }
    ls.refused = c.refused.clone();
    for j in c.judgements.iter().filter(|j| j.approved && j.reason.contains("APPROVE with warnings")) {
        ls.warnings.push(format!("{} approved with warnings: {}", j.id, j.reason));
    }
    ls.other_changes = c.other_changes.clone();
    ls.warnings.extend(c.warnings.iter().cloned());
    for e in &c.embedded {
        ls.warnings.push(embedded_warning(e));
    }
    // Leftovers committed for the worker are the documented normal path, not a warning: the
    // lane's commit "work left uncommitted by the worker" says it.
    if let Some(e) = &c.error {
        ls.warnings.push(format!("collecting failed: {e}"));
    }
    ls.warnings.extend(c.tampering.iter().cloned());
}

/// The warning for a repository a worker made inside its worktree.
pub(super) fn embedded_warning(path: &str) -> String {
    format!("`{path}` is a git repository the worker made inside its worktree; it was left out of the lane (still in the worktree)")
}

/// What every lane's collection shares: owned, so collections can run on threads of their own.
struct Cx {
    ws: Arc<crate::files::workspace::Workspace>,
    /// The run's folder (`.git/lanes/runs/<RUN_ID>`).
    dir: PathBuf,
    /// The repository's common git folder.
    common: PathBuf,
    base: String,
    run_id: String,
    opts: VerifyOptions,
    /// The protected paths at the base.
    protection: crate::judge::protect::Protection,
    /// What git-lanes owns: no lane's commit changes it.
    owned: Vec<(PathBuf, &'static str)>,
}

impl Cx {
    fn of(r: &Run<'_>) -> Cx {
        let config = &r.ws.config;
        let base_tree = git2::Oid::from_str(&r.fork).ok().and_then(|o| r.repo.git.find_commit(o).ok()).and_then(|c| c.tree().ok());
        let exists = |p: &str| base_tree.as_ref().is_some_and(|t| t.get_path(Path::new(p)).is_ok());
        Cx {
            ws: Arc::clone(&r.ws),
            dir: r.dir.clone(),
            common: r.repo.common_dir.clone(),
            base: r.fork.clone(),
            run_id: r.run_id.clone(),
            opts: VerifyOptions::from_config(config, false),
            protection: crate::judge::protect::Protection::new(&config.protect, &r.ws.issues, exists),
            owned: owned_paths(config),
        }
    }

    fn config(&self) -> &Config {
        &self.ws.config
    }
}

/// The files and folders git-lanes owns, each with what it is.
fn owned_paths(config: &Config) -> Vec<(PathBuf, &'static str)> {
    let mut out: Vec<(PathBuf, &'static str)> = vec![
        (PathBuf::from(crate::files::config::CONFIG_FILE), "git-lanes' configuration (`lanes.yaml`)"),
        (config.catalog.clone(), "the catalog"),
        (PathBuf::from(".claude/agents"), "an agent spec"),
        (config.fixer_specs.clone(), "an agent spec"),
        (config.hunter_specs.clone(), "an agent spec"),
        (logbook_dir(config), "git-lanes' LogBook"),
    ];
    for p in [&config.runs, &config.evidence, &config.signals, &config.state] {
        out.push((p.clone(), "git-lanes' run records"));
    }
    out
}

fn collect_lane(cx: &Cx, input: &LaneInput) -> Collected {
    let mut out = Collected { lane: input.lane.to_string(), ..Collected::default() };
    if let Err(e) = collect_inner(cx, input, &mut out) {
        out.error = Some(e.to_string());
    }
    out.tip = worktree::head(&input.worktree).ok();
    out
}

/// The note of a lane's worktree state kept while its checks run and its judge writes (see
/// [`crate::git::snapshot::Droppings::save`]): in `.git/lanes/runs/<RUN_ID>/<LANE>/`.
const JUDGING_NOTE: &str = "judging.json";

/// One lane's collection, phase by phase: recover an interrupted judgement → commit the
/// worker's leftovers → guard (refuse or revert) → run the checks with their droppings undone
/// → judge → write and commit the judgement. Each phase may be redone after a crash.
fn collect_inner(cx: &Cx, input: &LaneInput, out: &mut Collected) -> Result<()> {
    // A sandboxed worker's commits (detached, in its own objects) go onto the lane branch.
    out.warnings.extend(crate::git::confine::adopt(&cx.common, &input.worktree, &input.branch)?);
    let note = cx.dir.join(&input.lane).join(JUDGING_NOTE);
    recover_interrupted_judgement(&input.worktree, &note)?;
    if refuse_secret_leftovers(&input.worktree, out)? {
        return Ok(());
    }
    let base =
        git2::Oid::from_str(input.fork.as_deref().unwrap_or(&cx.base)).map_err(|e| crate::base::error::Error::git("bad base commit", e))?;
    (out.committed_leftovers, out.embedded) = worktree::commit_leftovers_naming_embedded(
        &input.worktree,
        &format!("lanes: run {}: lane {}: work left uncommitted by the worker", cx.run_id, input.lane),
        &crate::run::context::keep_out(cx.config(), &input.keep_out),
        base,
        &format!("lanes: run {}: lane {}: leave out repositories the worker made inside its worktree", cx.run_id, input.lane),
    )?;
    let git = git2::Repository::open(&input.worktree).map_err(|e| crate::base::error::Error::git("could not open the lane worktree", e))?;
    // A lane this run already guarded (and maybe judged) before it was killed: the guard's commit
    // and the judge's are git-lanes' own, the worker's tip is the one the guard saw then.
    let guarded = cx.dir.join(&input.lane).join(GUARD_NOTE);
    let head = head_or(&git, base);
    let note_read = read_guard_note(&guarded);
    // A lane worked on again after it was judged (restarted): what the judge wrote then is put
    // back like any edit, to be judged again, but it is not the lane's to be named for.
    let own = note_read.as_ref().map(|(_, heads)| judge_writes(&git, heads, head)).unwrap_or_default();
    let earlier = note_read.filter(|(_, heads)| heads.contains(&head));
    let worker_tip = earlier.as_ref().map_or(head, |(w, _)| *w);
    if !guard_lane(cx, input, &git, (base, worker_tip), earlier.is_none(), &own, out)? || !input.judge {
        return Ok(());
    }
    let mut heads = earlier.map(|(_, h)| h).unwrap_or_default();
    heads.push(head_or(&git, base));
    write_guard_note(&guarded, worker_tip, &heads)?;
    let judging = Judging::new(cx, input, &git, base, &out.reverts)?;
    let results = run_checks(cx, input, &note)?;
    out.tampering = tampering(&results);
    let mut written = Written::default();
    for (issue, result) in results {
        out.judgements.push(judging.judge(issue, &result, &mut written)?);
    }
    out.other_changes = judging.unclaimed();
    crate::base::fault::point("mid-judge");
    commit_judgement(cx, input, &written)?;
    heads.push(head_or(&git, base));
    write_guard_note(&guarded, worker_tip, &heads)?;
    crate::base::fsutil::remove_file_if_exists(&note)?;
    Ok(())
}

/// The note of a lane the guard has seen (in `.git/lanes/runs/<RUN_ID>/<LANE>/`): the worker's
/// tip, then the heads git-lanes itself made on top of it (the guard's commit, the judge's).
const GUARD_NOTE: &str = "guarded.txt";

/// The files the judge wrote in its commit (between the first and the last of git-lanes' own
/// `heads`) that `head`, a descendant of the last, still has as the judge wrote them.
fn judge_writes(git: &git2::Repository, heads: &[git2::Oid], head: git2::Oid) -> Vec<PathBuf> {
    let (Some(first), Some(last)) = (heads.first(), heads.last()) else { return Vec::new() };
    if first == last || !git.graph_descendant_of(head, *last).unwrap_or(false) {
        return Vec::new();
    }
    let tree = |o: git2::Oid| git.find_commit(o).and_then(|c| c.tree()).ok();
    let (Some(a), Some(b), Some(now)) = (tree(*first), tree(*last), tree(head)) else { return Vec::new() };
    let Ok(diff) = git.diff_tree_to_tree(Some(&a), Some(&b), None) else { return Vec::new() };
    diff.deltas()
        .filter_map(|d| d.new_file().path().map(|p| (p.to_path_buf(), d.new_file().id())))
        .filter(|(p, id)| now.get_path(p).is_ok_and(|e| e.id() == *id))
        .map(|(p, _)| p)
        .collect()
}

fn read_guard_note(path: &Path) -> Option<(git2::Oid, Vec<git2::Oid>)> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut ids = text.split_whitespace().map(git2::Oid::from_str);
    let worker = ids.next()?.ok()?;
    Some((worker, ids.flatten().collect()))
}

fn write_guard_note(path: &Path, worker_tip: git2::Oid, heads: &[git2::Oid]) -> Result<()> {
    let line: Vec<String> = std::iter::once(worker_tip).chain(heads.iter().copied()).map(|o| o.to_string()).collect();
    crate::base::fsutil::write_atomic(path, format!("{}\n", line.join(" ")).as_bytes())
}

/// The commit HEAD points at, or `base` when there is none.
fn head_or(git: &git2::Repository, base: git2::Oid) -> git2::Oid {
    git.head().ok().and_then(|h| h.target()).unwrap_or(base)
}

/// A collection killed while judging: what its checks and its judge wrote since is git-lanes'
/// own, not the worker's — undone, so no leftover commit takes it.
fn recover_interrupted_judgement(worktree: &Path, note: &Path) -> Result<()> {
    if let Some(before) = crate::git::snapshot::Droppings::load(note) {
        before.recover(worktree)?;
        crate::base::fsutil::remove_file_if_exists(note)?;
    }
    Ok(())
}

/// Refuse the lane when the worker left files carrying a secret's value: committing them would
/// store the secret in the repository's objects, so they stay uncommitted in the kept worktree,
/// for a human. Returns whether the lane was refused.
fn refuse_secret_leftovers(worktree: &Path, out: &mut Collected) -> Result<bool> {
    let secret_files = uncommitted_files_with_secrets(worktree)?;
    if secret_files.is_empty() {
        return Ok(false);
    }
    out.refused.push(format!(
        "the worker left files carrying the value of a secret environment variable: {} (left uncommitted in its worktree)",
        secret_files.join(", ")
    ));
    Ok(true)
}

/// What judges the lane is not the lane's to change; nothing is written through its symlinks.
/// A lane the guard refuses as a whole has each of its issues rejected (when it is judged);
/// edits it may not make are reverted and committed (`apply`; otherwise they were before a crash,
/// and are only named). Returns whether the lane goes on to be judged.
/// `own`: files the judge wrote in an earlier judgement of this lane (put back, not named).
fn guard_lane(
    cx: &Cx,
    input: &LaneInput,
    git: &git2::Repository,
    (base, tip): (git2::Oid, git2::Oid),
    apply: bool,
    own: &[PathBuf],
    out: &mut Collected,
) -> Result<bool> {
    let assigned: Vec<&Issue> = input.plan.issues.iter().filter_map(|a| cx.ws.issue(&a.id)).collect();
    let scope =
        crate::judge::guard::Scope { issues_dir: &cx.config().issues, assigned: &assigned, protection: &cx.protection, owned: &cx.owned };
    let inspection = crate::judge::guard::inspect_lane(git, base, tip, &scope)?;
    if !inspection.refusals.is_empty() {
        out.refused = inspection.refusals;
        if input.judge {
            let reason = format!("the lane was refused: {}", out.refused.join("; "));
            for a in input.plan.issues.iter().filter(|a| !input.resolved_before.contains(&a.id)) {
                out.judgements.push(Judgement {
                    id: a.id.clone(),
                    approved: false,
                    reason: reason.clone(),
                    verdict_yaml: None,
                    failing: Vec::new(),
                    evidence_json: None,
                });
            }
        }
        return Ok(false);
    }
    // What the judge wrote earlier stays for an issue not judged again (resolved on an earlier
    // attempt); for one judged again it is put back, to be written anew.
    let of_issue = |p: &Path, id: &str| {
        cx.ws.issue(id).is_some_and(|i| i.path == p)
            || p.starts_with(cx.config().evidence.join(&input.lane))
                && p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(&format!("{id}_")))
    };
    let judged_again = |p: &Path| input.plan.issues.iter().any(|a| !input.resolved_before.contains(&a.id) && of_issue(p, &a.id));
    let resolved_before = |p: &Path| input.resolved_before.iter().any(|id| of_issue(p, id));
    let reverts: Vec<Revert> = inspection
        .reverts
        .into_iter()
        .filter(|rv| !resolved_before(&rv.path) && (!own.contains(&rv.path) || judged_again(&rv.path)))
        .collect();
    let named = || reverts.iter().filter(|rv| !own.contains(&rv.path)).map(ToString::to_string);
    if !apply {
        out.reverts = named().collect();
    } else if !reverts.is_empty() {
        out.reverts.extend(named());
        restore_guarded_files(cx, input, &reverts)?;
    }
    Ok(true)
}

/// Put back the files the lane may not change (or remove ones it may not add) and commit that on
/// the lane branch: what the checks then run on, and what is merged.
fn restore_guarded_files(cx: &Cx, input: &LaneInput, reverts: &[Revert]) -> Result<()> {
    let mut paths = Vec::new();
    for rv in reverts {
        match &rv.bytes {
            Some(b) => {
                crate::base::fsutil::write_under(&input.worktree, &rv.path, b)?;
                set_executable(&input.worktree.join(&rv.path), rv.executable)?;
            }
            None => {
                crate::base::fsutil::check_no_symlink(&input.worktree, &rv.path)?;
                crate::base::fsutil::remove_file_if_exists(&input.worktree.join(&rv.path))?;
            }
        }
        paths.push(rv.path.display().to_string());
    }
    let mut args: Vec<&str> = vec!["add", "-A", "--"];
    args.extend(paths.iter().map(String::as_str));
    crate::git::gitcli::git(&input.worktree, &args)?;
    let mut names: Vec<String> =
        reverts.iter().map(|r| if r.id.is_empty() { r.path.display().to_string() } else { r.id.clone() }).collect();
    names.dedup();
    worktree::commit(
        &input.worktree,
        &format!(
            "lanes: run {}: lane {}: restore files a lane may not change ({})\n\n{}",
            cx.run_id,
            input.lane,
            names.join(", "),
            reverts.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
        ),
    )
}

/// Give a restored file the executable bit it had at the base (and only then).
fn set_executable(path: &Path, executable: bool) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let io = |e| crate::base::error::Error::io("could not set the mode of", path, e);
    let mut perms = std::fs::metadata(path).map_err(io)?.permissions();
    let mode = if executable { perms.mode() | 0o111 } else { perms.mode() & !0o111 };
    if mode != perms.mode() {
        perms.set_mode(mode);
        std::fs::set_permissions(path, perms).map_err(io)?;
    }
    Ok(())
}

/// Verify each of the lane's issues in its worktree. The worker's tree is committed; whatever
/// the checks write is undone afterwards, so no dropping reaches the lane commit, the run
/// commit or a tracked file. All checks run before anything is written, so undoing their
/// droppings cannot undo a judgement's own edits; the note lets a killed collection undo them.
fn run_checks<'w>(cx: &'w Cx, input: &LaneInput, note: &Path) -> Result<Vec<(&'w Issue, verify::IssueVerdict)>> {
    let droppings = crate::git::snapshot::Droppings::before(&input.worktree)?;
    droppings.save(note)?;
    let checker = verify::Checker::new(&input.worktree, &cx.opts);
    let results = input
        .plan
        .issues
        .iter()
        .filter(|a| !input.resolved_before.contains(&a.id))
        .filter_map(|a| cx.ws.issue(&a.id))
        .map(|issue| (issue, checker.verify(issue)))
        .collect();
    droppings.restore(&input.worktree, true)?;
    Ok(results)
}

/// The checks that changed git's files (their results say what git-lanes put back).
fn tampering(results: &[(&Issue, verify::IssueVerdict)]) -> Vec<String> {
    results
        .iter()
        .flat_map(|(issue, v)| v.checks.iter().map(move |c| (issue, c)))
        .filter_map(|(issue, c)| match &c.reason {
            verify::Reason::NotRun { why } if why.contains("git-lanes put it back") && c.ending.is_some() => {
                Some(format!("check `{}` of {}: {why}", c.check.label(), issue.id()))
            }
            _ => None,
        })
        .collect()
}

/// What the judge wrote in the lane worktree: the only files its commit takes.
#[derive(Default)]
struct Written {
    files: Vec<PathBuf>,
    resolved: Vec<String>,
    reopened: Vec<String>,
}

/// What every judgement of one lane shares.
struct Judging<'a> {
    cx: &'a Cx,
    input: &'a LaneInput,
    siblings: Vec<&'a Issue>,
    /// What the lane changed (from the fork to its tip, after the guard's reverts).
    changed: Vec<verdict::ChangedFile>,
    /// The edits the guard dropped, one line each.
    dropped: &'a [String],
    other_lane_files: Vec<PathBuf>,
    time_box: Duration,
    logbook: PathBuf,
    now: String,
    /// The tree evidence is of: the lane tip after the guard's reverts.
    tree: verify::TreeState,
}

impl<'a> Judging<'a> {
    /// The lane is judged on what the guard left (what is merged); what it dropped is named in
    /// the verdict.
    fn new(cx: &'a Cx, input: &'a LaneInput, git: &git2::Repository, base: git2::Oid, dropped: &'a [String]) -> Result<Self> {
        let tip = head_or(git, base);
        let mut changed = verdict::changed_files(git, base, tip)?;
        // Evidence of this lane's own issues is written by the judge (here, or where the lane
        // ran), not by the worker: it does not count against SpecFit.
        let own_evidence: Vec<PathBuf> =
            input.plan.issues.iter().map(|a| cx.config().evidence.join(&input.lane).join(format!("{}_", a.id))).collect();
        changed.retain(|c| !own_evidence.iter().any(|prefix| c.path.starts_with(&*prefix.to_string_lossy())));
        let siblings: Vec<&Issue> = input.plan.issues.iter().filter_map(|a| cx.ws.issue(&a.id)).collect();
        Ok(Judging {
            cx,
            input,
            time_box: crate::planning::workorder::lane_time_box(&siblings),
            siblings,
            changed,
            dropped,
            other_lane_files: cx.ws.issues.iter().filter(|i| i.lane() != input.lane).map(|i| i.path.clone()).collect(),
            logbook: logbook_dir(cx.config()),
            now: crate::files::scaffold::now_rfc3339(),
            tree: verify::TreeState { commit: Some(tip.to_string()), dirty: false },
        })
    }

    /// Judge one issue from its checks' results; an approved one is marked RESOLVED with its
    /// evidence, a refused one the worker marked RESOLVED (or WONTFIX) is set back to OPEN.
    fn judge(&self, issue: &Issue, result: &verify::IssueVerdict, written: &mut Written) -> Result<Judgement> {
        let v = self.verdict(issue, result);
        let reason = if v.approved() {
            format!("{}/{} checks passed; {}", result.passed_checks(), result.checks.len(), v.recommendation)
        } else if result.checks.is_empty() {
            "UNVERIFIABLE: the issue has no verification commands".to_string()
        } else {
            v.recommendation.clone()
        };
        let current = current_issue(&self.input.worktree, issue);
        if v.approved() && !self.already_recorded(&current, issue) {
            self.resolve(issue, &current, result, written)?;
        } else if !v.approved() && current.status() != Status::Open {
            // The worker marked it RESOLVED (or WONTFIX) itself: that claim is not accepted.
            let mut e = Edit::new(&current);
            e.set_status(Status::Open);
            e.write(&self.input.worktree, &current)?;
            written.files.push(current.path.clone());
            written.reopened.push(issue.id().to_string());
        }
        let (failing, evidence_json) = if v.approved() {
            (Vec::new(), None)
        } else {
            let failing = result
                .checks
                .iter()
                .filter(|c| !c.passed)
                .map(|c| FailedCheck::of(&crate::base::redact::redact(&c.check.command), c.ending_words(), &c.output))
                .collect();
            let ev = verify::evidence_of(result, issue, &self.tree, Some(&self.cx.run_id.to_string()), &chrono::Local::now());
            (failing, serde_json::to_string_pretty(&ev).ok().map(|j| j + "\n"))
        };
        Ok(Judgement { id: issue.id().to_string(), approved: v.approved(), reason, verdict_yaml: v.to_yaml().ok(), failing, evidence_json })
    }

    fn verdict(&self, issue: &Issue, result: &verify::IssueVerdict) -> verdict::Verdict {
        let checks: Vec<CheckOutcome> =
            result.checks.iter().map(|c| CheckOutcome { command: c.check.command.clone(), passed: c.passed }).collect();
        let deps: Vec<(String, Option<Status>)> =
            issue.meta.depends_on.iter().map(|d| (d.clone(), self.cx.ws.issue(d).map(|i| i.status()))).collect();
        verdict::judge(&JudgeInput {
            issue,
            lane: &self.input.lane,
            siblings: &self.siblings,
            changed: &self.changed,
            checks: &checks,
            dependencies: &deps,
            duration: self.input.duration,
            time_box: Some(self.time_box),
            other_lane_issue_files: &self.other_lane_files,
            dropped: self.dropped,
            catalog: &self.cx.config().catalog,
            logbook: &self.logbook,
            now: &self.now,
        })
    }

    /// The files the lane changed that belong to none of its issues (nor are one of their issue
    /// files): listed under the lane in the report.
    fn unclaimed(&self) -> Vec<String> {
        self.changed
            .iter()
            .map(|c| c.path.clone())
            .filter(|p| !self.siblings.iter().any(|i| Path::new(p) == i.path || belongs(i, p)))
            .collect()
    }

    /// Already judged and recorded where the lane ran (`git lanes integrate`): verified again
    /// here, nothing more to write.
    fn already_recorded(&self, current: &Issue, issue: &Issue) -> bool {
        current.status() == Status::Resolved
            && current.has_resolution()
            && crate::judge::evidence::latest(&self.input.worktree, &self.cx.config().evidence, &self.input.lane, issue.id()).is_some()
    }

    /// Mark the issue RESOLVED (byte-minimal rewrite + Resolution section) and write its evidence.
    fn resolve(&self, issue: &Issue, current: &Issue, result: &verify::IssueVerdict, written: &mut Written) -> Result<()> {
        let (cx, input) = (self.cx, self.input);
        let mut e = Edit::new(current);
        e.set_status(Status::Resolved);
        verify::stamp_verified(&mut e, result, &crate::files::scaffold::today()).add_resolution(&Resolution {
            date: crate::files::scaffold::today(),
            fixed_by: format!("lane {} (git-lanes run {})", input.lane, cx.run_id),
            files_changed: files_for(issue, &self.changed),
            other_files: self.changed.len() - files_for(issue, &self.changed).len(),
            verification: format!("{}/{} checks passed (git-lanes verify)", result.passed_checks(), result.checks.len()),
        });
        e.write(&input.worktree, current)?;
        written.files.push(current.path.clone());
        let run_id = cx.run_id.to_string();
        let now = chrono::Local::now();
        written.files.push(verify::record_evidence(
            &input.worktree,
            &cx.config().evidence,
            result,
            issue,
            &self.tree,
            Some(&run_id),
            &now,
        )?);
        written.resolved.push(issue.id().to_string());
        Ok(())
    }
}

/// Commit what the judge wrote on the lane branch (nothing when it wrote nothing).
fn commit_judgement(cx: &Cx, input: &LaneInput, written: &Written) -> Result<()> {
    if written.resolved.is_empty() && written.reopened.is_empty() {
        return Ok(());
    }
    let mut msg = format!("lanes: run {}: lane {}:", cx.run_id, input.lane);
    if !written.resolved.is_empty() {
        msg += &format!(" resolve {} (verified)", written.resolved.join(", "));
    }
    if !written.reopened.is_empty() {
        msg += &format!("{} keep {} OPEN (not verified)", if written.resolved.is_empty() { "" } else { ";" }, written.reopened.join(", "));
    }
    crate::git::snapshot::commit_paths(&input.worktree, &msg, &written.files).map(|_| ())
}

/// The files a fix changed for one issue: those inside its affected paths or named by its
/// checks (its issue file aside).
fn files_for(issue: &Issue, changed: &[verdict::ChangedFile]) -> Vec<String> {
    changed.iter().map(|c| c.path.clone()).filter(|p| Path::new(p) != issue.path && belongs(issue, p)).collect()
}

/// Whether a changed file belongs to an issue: inside its affected paths, or named by its checks.
fn belongs(issue: &Issue, path: &str) -> bool {
    use crate::judge::protect::covers;
    issue.meta.affected_paths.iter().any(|a| covers(a, path))
        || issue.checks().iter().any(|c| crate::judge::protect::named_paths(&c.command).iter().any(|n| covers(n, path)))
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
