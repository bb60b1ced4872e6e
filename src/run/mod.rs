//! `git lanes run`: the main job (docs/design.md#the-run-algorithm). Start reading at [`run`].
//!
//! # Design note: the order of a run
//! 1. **Preflight** (`preflight`): lock, refuse a dirty main worktree, validate everything —
//!    bad input stops the run before anything exists.
//! 2. **Plan**: one work order per lane; idle lanes are reported and skipped.
//! 3. **Worktrees**: one branch + worktree per lane, created one at a time.
//! 4. **Workers and follow** (`coordinator.rs`, steps 4–5): one coordinator owns lane state;
//!    signal-file events, worker exits, timers and Ctrl-C are inputs to it; every lane ends done,
//!    failed or timed out.
//! 6. **Collect and judge** (`collect.rs`): leftovers committed; checks run; verdicts decide.
//! 7. **Integrate** (`integrate.rs`): lane by lane into an integration branch, re-checking.
//! 8. **Finish**: catalog, report and state committed; the user's branch fast-forwarded only if
//!    HEAD did not move; archive refs before anything is removed.
//!
//! The live state is kept in `<common git dir>/lanes/runs/<RUN_ID>/state.yaml` (rewritten at every
//! change, seen from every worktree, never a tracked file, so it cannot block the final
//! fast-forward); the LogBook's `orchestrator-state.yaml` gets the final state in the run commit.

mod attempts;
pub mod clean;
mod collect;
mod coordinator;
mod finish;
pub mod follow;
pub mod hunt;
pub mod integrate;
pub mod lock;
pub mod notify;
mod refwatch;
mod remote;
pub mod report;
pub mod runs;
pub mod signal;
pub mod state;
pub mod timeline;

pub use hunt::{HuntOptions, HuntSummary, hunt, hunt_resume};
pub use remote::integrate_run;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use crate::base::error::{Error, Result};
use crate::files::catalog::Catalog;
use crate::files::config::IntegrationPolicy;
use crate::files::workspace::Workspace;
use crate::git::repo::Repo;
use crate::planning::plan::{LanePlan, PlanOptions};
use crate::run::state::{LaneState, RunState};

/// What the user asked for, merged with `lanes.yaml` by the CLI.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Lanes to run (empty: all with ready issues).
    pub lanes: Vec<String>,
    pub max_parallel: Option<usize>,
    pub max_issues: Option<usize>,
    /// Worker command line or preset (overrides specs and lanes.yaml).
    pub worker: Option<String>,
    pub model: Option<String>,
    pub max_turns: Option<u32>,
    pub max_budget_usd: Option<f64>,
    pub timeout: Option<Duration>,
    pub done_grace: Option<Duration>,
    pub stall_after: Option<Duration>,
    pub policy: Option<IntegrationPolicy>,
    pub no_commit: bool,
    pub no_integrate: bool,
    /// Skip `lanes.yaml` `integration_checks:` for this run (`--no-integration-checks`).
    pub no_integration_checks: bool,
    pub push: bool,
    /// Run workers in the sandbox (`--sandbox-workers` / `--no-sandbox-workers`); `None`:
    /// lanes.yaml's `sandbox_workers` (on by default).
    pub sandbox_workers: Option<bool>,
    /// Use this run id instead of a timestamp (tests, CI matrices).
    pub run_id: Option<String>,
    /// Requests from the operator (the live view's stop and restart keys), read every tick.
    pub controls: Option<LaneControls>,
    /// How many times a lane's worker is started in all when its issues are rejected
    /// (`--attempts`; else `lanes.yaml`'s `attempts:`, 2).
    pub attempts: Option<u32>,
    /// The whole run's budget in dollars (`--budget-usd`; else `lanes.yaml`'s `budget.usd`).
    pub budget_usd: Option<f64>,
    /// The whole run's budget in tokens (`--budget-tokens`; else `budget.tokens`).
    pub budget_tokens: Option<u64>,
    /// The command told when the run ends or a lane needs a human (`--notify`; else
    /// `lanes.yaml`'s `notify:`); see [`notify`].
    pub notify: Option<String>,
}

/// What the operator can ask of a lane while the run follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LaneControl {
    /// End the lane's worker (its process group); the lane fails as "stopped by the operator",
    /// its work is collected and kept on its branch (`run --resume` restarts it).
    Stop(String),
    /// End the lane's worker if it runs and start it again in the same worktree (its commits
    /// so far are kept; the log goes on).
    Restart(String),
}

/// The file in `<common>/lanes/runs/<RUN_ID>/<LANE>/` through which another process asks the
/// running orchestrator to `stop` or `restart` the lane (its whole content is the word).
pub const CONTROL_FILE: &str = "control";

/// Ask the orchestrator of a running run to stop or restart a lane (`git lanes stop|restart`):
/// the request is a file it reads on its next tick.
pub fn request_control(repo: &Repo, run_id: &str, lane: &str, control: &LaneControl) -> Result<()> {
    crate::files::names::check_run_id(run_id).map_err(|m| Error::usage(m, None))?;
    crate::files::names::check_lane(lane).map_err(|m| Error::usage(m, None))?;
    let word = match control {
        LaneControl::Stop(_) => "stop",
        LaneControl::Restart(_) => "restart",
    };
    crate::base::fsutil::write_atomic(
        &repo.lanes_dir().join("runs").join(run_id).join(lane).join(CONTROL_FILE),
        format!("{word}\n").as_bytes(),
    )
}

/// The queue the display pushes [`LaneControl`]s into and the coordinator drains.
pub type LaneControls = Arc<std::sync::Mutex<std::collections::VecDeque<LaneControl>>>;

/// What happened, for the display (human lines, progress bars, JSON); the runner never prints.
#[derive(Debug, Clone)]
pub enum RunEvent {
    Started {
        run_id: String,
        lanes: Vec<String>,
    },
    Skipped {
        lane: String,
        reason: String,
    },
    WorktreeReady {
        lane: String,
        path: PathBuf,
    },
    LaneStarted {
        lane: String,
        pid: u32,
        issues: Vec<String>,
        /// 1 for the first attempt; more when a rejected lane is started again.
        attempt: u32,
    },
    LaneStatus {
        lane: String,
        text: String,
    },
    LaneDone {
        lane: String,
        latency_ms: Option<f64>,
    },
    LaneStalled {
        lane: String,
        for_secs: u64,
    },
    LaneEnded {
        lane: String,
        state: String,
        detail: String,
    },
    Judged {
        lane: String,
        id: String,
        approved: bool,
        reason: String,
        /// The checks that failed, with the tail of their output.
        failing: Vec<crate::run::state::FailedCheck>,
    },
    /// A hunter's finding (the file it wrote) judged: kept or rejected, and why.
    Finding {
        lane: String,
        path: String,
        accepted: bool,
        reason: String,
    },
    Merged {
        lane: String,
    },
    BackedOut {
        lane: String,
        reason: String,
    },
    Interrupted {
        count: usize,
    },
    Note(String),
}

/// How a run ended.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub run_id: String,
    pub resolved: Vec<String>,
    pub open: usize,
    pub needs_human: Vec<String>,
    pub report: Option<PathBuf>,
    pub commit: Option<String>,
    /// The command to merge the result when the user's branch could not be fast-forwarded.
    pub merge_command: Option<String>,
    pub interrupted: bool,
    /// Lanes merged into the integration result.
    pub integrated: Vec<String>,
    /// Whether the user's branch was moved (fast-forwarded) to the result.
    pub fast_forwarded: bool,
    /// How each lane's worker ended, for `--json` (`lanes[]`).
    pub lanes: Vec<LaneOutcome>,
    /// A run that left its lane branches (`--no-integrate`, policy `branches`): what they hold.
    pub left: Option<LeftBranches>,
    /// What the integration checks did (`None`: none ran or none are configured).
    pub integration_checks: Option<crate::run::state::IntegrationChecks>,
}

/// What a run that integrates nothing itself left: the issues verified on its lane branches,
/// the branches (and those pushed), and the command that integrates them.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct LeftBranches {
    /// Issues whose checks passed on their lane branch (RESOLVED there, not on your branch yet).
    pub verified: Vec<String>,
    /// Issues the run was given that its lanes did not resolve.
    pub open: Vec<String>,
    pub branches: Vec<String>,
    /// The branches pushed to `origin` (`--push`).
    pub pushed: Vec<String>,
    /// The command that verifies and integrates them (`git lanes integrate <RUN_ID>`).
    pub integrate: String,
}

/// How one lane's worker ended: what `run --json` reports per lane.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct LaneOutcome {
    pub lane: String,
    /// `done`, `failed`, `timed_out`, `interrupted`, ….
    pub status: String,
    /// The worker setting (a preset name or a command line).
    pub worker: Option<String>,
    /// How the process ended (`exit 1 without writing .done`).
    pub exit: Option<String>,
    /// The agent's own reason for a failure or timeout (or the last lines of its log).
    pub reason: Option<String>,
    /// `turns` or `budget` when a limit ended the agent's run.
    pub limit: Option<String>,
    /// The worker's log file.
    pub log: Option<String>,
    pub cost_usd: Option<f64>,
    /// Whether `cost_usd` comes from `lanes.yaml`'s prices rather than the agent.
    pub cost_estimated: bool,
    pub turns: Option<u32>,
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    /// The model the agent was given (`null`: the CLI's own default).
    pub model: Option<String>,
    /// Each attempt of the lane's worker: `{n, started, ended, outcome, reason, cost_usd, tokens}`.
    pub attempts: Vec<crate::run::state::Attempt>,
}

impl RunSummary {
    /// What `run --json` prints (and a notify command reads as `summary`).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "run_id": self.run_id,
            "resolved": self.resolved,
            "open": self.open,
            "needs_human": self.needs_human,
            "report": self.report,
            "commit": self.commit,
            "merge_command": self.merge_command,
            "interrupted": self.interrupted,
            "integrated": self.integrated,
            "fast_forwarded": self.fast_forwarded,
            "lanes": self.lanes,
            "left_branches": self.left,
            "integration_checks": self.integration_checks,
        })
    }
}

impl LaneOutcome {
    /// The outcome of every lane in a run's state.
    pub fn of(state: &RunState) -> Vec<LaneOutcome> {
        state
            .lanes
            .iter()
            .map(|(lane, l)| LaneOutcome {
                lane: lane.clone(),
                status: l.status.clone(),
                worker: l.worker.clone(),
                exit: l.exit.clone(),
                reason: l.reason.clone(),
                limit: l.limit.clone(),
                log: l.log.clone(),
                cost_usd: l.cost_usd,
                cost_estimated: l.cost_estimated,
                turns: l.turns,
                input_tokens: l.input_tokens,
                output_tokens: l.output_tokens,
                model: l.model.clone(),
                attempts: l.attempts.clone(),
            })
            .collect()
    }
}

/// Everything the phases share.
pub(crate) struct Run<'a> {
    pub repo: &'a Repo,
    /// Shared with the threads that collect lanes while others still run.
    pub ws: Arc<Workspace>,
    pub opts: RunOptions,
    pub run_id: String,
    /// Where the integration branch starts and what the user's branch must still be to be
    /// fast-forwarded.
    pub base: String,
    /// What lanes forked from: the judge diffs `fork..lane tip` (differs from `base` when a
    /// finished run is continued on top of its own result, or lanes ran elsewhere).
    pub fork: String,
    /// Names this pass's report, integration branch and run commit: the run id, or
    /// `<RUN_ID>.2`, … when a finished run is continued.
    pub label: String,
    pub dir: PathBuf,
    pub state: RunState,
    pub lanes: BTreeMap<String, LaneRun>,
    pub observer: &'a mut dyn FnMut(&RunEvent),
    pub interrupts: Arc<AtomicUsize>,
    /// The job: `fix_issue` (`run`) or `hunt_issues` (`hunt`); workers see it as `LANES_TASK`.
    pub task: &'static str,
    /// Work-order YAML per lane made by the mode (hunting); a lane without one gets the fixing
    /// work order built from its plan.
    pub work_orders: BTreeMap<String, String>,
    /// Lanes already collected and judged this pass (while others still ran), by lane.
    pub collected: BTreeMap<String, collect::Collected>,
    /// Notify commands told that a lane needs a human, still running (see [`notify`]).
    pub notifying: Vec<crate::exec::process::Running>,
}

/// The task of a fixing run (work orders' `task_type`, `LANES_TASK`).
pub const TASK_FIX: &str = "fix_issue";
/// The task of a hunting run.
pub const TASK_HUNT: &str = "hunt_issues";

/// One lane's run-time facts (what is not in the serialisable [`LaneState`]).
#[derive(Debug, Clone)]
pub(crate) struct LaneRun {
    pub plan: LanePlan,
    pub branch: String,
    pub worktree: PathBuf,
    pub files: PathBuf,
    pub worker: String,
    pub duration: Option<Duration>,
    /// Paths and globs the lane's worker leaves behind that never belong in a commit (an agent
    /// preset's own files), on top of the signal folders; see [`keep_out`].
    pub keep_out: Vec<String>,
    /// Issues an earlier attempt resolved: kept resolved, neither given to the worker nor
    /// judged again (see [`attempts`]).
    pub resolved_before: Vec<collect::Judgement>,
    /// The tip and judgements of the lane's last judged attempt, while a later one runs: what the
    /// lane keeps when that one fails (see [`attempts`]).
    pub judged_before: Option<(String, Vec<collect::Judgement>)>,
    /// Set once the integration result was merged into the lane's worktree (an attempt after a
    /// conflict): its work is judged from that commit, not from the run's fork.
    pub fork: Option<String>,
}

impl Run<'_> {
    pub(crate) fn emit(&mut self, e: RunEvent) {
        crate::run::timeline::record(&mut self.state, &e);
        (self.observer)(&e);
    }

    pub(crate) fn lane_state(&mut self, lane: &str) -> &mut LaneState {
        self.state.lanes.entry(lane.to_string()).or_default()
    }

    /// Persist the live state atomically.
    pub(crate) fn save(&mut self) -> Result<()> {
        self.state.update_progress();
        let rel = self.dir.join("state.yaml");
        self.state.save(Path::new("/"), &rel)
    }
}

/// What never goes into a lane or run commit: the signal folders (fixing and hunting), the agent
/// CLIs' own files ([`crate::agents::presets::all_droppings`]) and `extra` (paths or globs; see
/// [`crate::git::snapshot::KeepOut`]).
pub fn keep_out(config: &crate::files::config::Config, extra: &[String]) -> crate::git::snapshot::KeepOut {
    // Both signal folders, whichever of the two this configuration follows (a hunt's config
    // points at the hunting one).
    let signals = config.signals.to_string_lossy().into_owned();
    let fix = signals.replace("issue-hunting", "issue-fixing");
    let hunt = signals.replace("issue-fixing", "issue-hunting");
    let mut k = crate::git::snapshot::KeepOut::new([signals, fix, hunt]);
    // What agent CLIs drop into a worktree (aider's tags cache and histories) is never work.
    let droppings: Vec<String> = crate::agents::presets::all_droppings().iter().map(|p| p.display().to_string()).collect();
    k.extend(&droppings);
    // git-lanes' own temporary files (a write killed before its rename) are never anyone's work.
    k.extend([crate::base::fsutil::TEMP_PREFIX.to_string() + "*"]);
    k.extend(extra);
    k
}

/// The folder of a run's own branches, `refs/heads/<prefix>/<RUN_ID>/` (its lanes' and its
/// integration branch): the only branches its workers may move.
pub(crate) fn own_branches(config: &crate::files::config::Config, run_id: &str) -> String {
    format!("refs/heads/{}/{run_id}/", config.branch_prefix)
}

/// Compare the refs the run watches with their value at its start (see [`refwatch`]): what
/// moved is put back, `suspects` (the lanes that ran since the last comparison) are held, and
/// what was found is said.
pub(crate) fn check_refs(r: &mut Run<'_>, suspects: &[String]) {
    if r.state.watched_refs.is_empty() {
        return;
    }
    let own = own_branches(&r.ws.config, &r.run_id);
    let base = git2::Oid::from_str(&r.fork).ok();
    let found = refwatch::check(&r.repo.git, &r.run_id, &own, base, &r.state.watched_refs, suspects);
    for (lane, lines) in found.held {
        for line in lines {
            r.emit(RunEvent::Note(format!("lane {lane}: {line}")));
            let ls = r.lane_state(&lane);
            if !ls.held.contains(&line) {
                ls.held.push(line);
            }
        }
    }
    for (key, value) in found.accepted {
        match value {
            Some(v) => r.state.watched_refs.insert(key, v),
            None => r.state.watched_refs.remove(&key),
        };
    }
    for note in found.notes {
        r.emit(RunEvent::Note(note.clone()));
        r.state.ref_notes.push(note);
    }
    // A worker whose worktree is on another branch than its lane's moved that branch, not its own.
    let switched: Vec<(String, String)> = suspects
        .iter()
        .filter_map(|lane| {
            let lr = r.lanes.get(lane)?;
            refwatch::switched_branch(&lr.worktree, &lr.branch).map(|b| (lane.clone(), b))
        })
        .collect();
    for (lane, branch) in switched {
        let line = format!("its worktree is on `{branch}`, not on its lane branch; the lane is not integrated");
        r.emit(RunEvent::Note(format!("lane {lane}: {line}")));
        let ls = r.lane_state(&lane);
        if !ls.held.contains(&line) {
            ls.held.push(line);
        }
    }
}

/// A run id: `YYYYmmdd-HHMMSS`, with `-2`, `-3`… when taken.
fn new_run_id(repo: &Repo) -> String {
    let base = chrono::Local::now().format("%Y%m%d-%H%M%S").to_string();
    let runs = repo.lanes_dir().join("runs");
    let mut id = base.clone();
    let mut n = 2;
    while runs.join(&id).exists() {
        id = format!("{base}-{n}");
        n += 1;
    }
    id
}

/// The run id asked for (checked by `names::check_run_id`), or a new timestamp id.
pub(crate) fn choose_run_id(repo: &Repo, asked: Option<&str>) -> Result<String> {
    match asked {
        Some(id) => {
            crate::files::names::check_run_id(id).map_err(|m| Error::usage(m, None))?;
            Ok(id.to_string())
        }
        None => Ok(new_run_id(repo)),
    }
}

/// The state of a run that starts now from `base`.
pub(crate) fn begin_state(repo: &Repo, run_id: &str, base: &str) -> RunState {
    RunState {
        run_id: Some(run_id.to_string()),
        started: Some(crate::files::scaffold::now_rfc3339()),
        status: "running".into(),
        base_commit: Some(base.to_string()),
        base_branch: repo.head_branch(),
        orchestrator_pid: Some(std::process::id()),
        ..RunState::default()
    }
}

/// Ids of the runs with a folder under `<common>/lanes/runs`, oldest first (ids sort by time).
fn run_ids(repo: &Repo) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(repo.lanes_dir().join("runs"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    ids.sort_by(|a, b| crate::files::names::natural_cmp(a, b));
    ids
}

/// Run the main job. `observer` sees every event; `interrupts` counts Ctrl-C presses.
pub fn run(
    repo: &Repo,
    ws: Workspace,
    opts: RunOptions,
    observer: &mut dyn FnMut(&RunEvent),
    interrupts: Arc<AtomicUsize>,
) -> Result<RunSummary> {
    let run_id = choose_run_id(repo, opts.run_id.as_deref())?;
    // Before anything exists (no lock, branch, worktree or commit): lanes start from HEAD, so
    // a set-up that is not committed yet cannot be run.
    refuse_uncommitted_setup(repo, &ws)?;
    let catalog = preflight(repo, &ws, &opts)?;
    let plans =
        crate::planning::plan::plan(&ws, catalog.as_ref(), &PlanOptions { lanes: opts.lanes.clone(), max_issues: opts.max_issues })?;
    // Every worker is checked before anything exists: no lock, branch, worktree or commit is
    // made for a run whose agent CLI is not installed.
    let running: Vec<&str> = plans.iter().filter(|p| !p.is_idle()).map(|p| p.lane.as_str()).collect();
    coordinator::check_workers(&repo.root, &ws, &opts, None, &running)?;
    let _lock = crate::run::lock::acquire(&repo.lanes_dir(), &run_id)?;
    let base = repo.head_commit().ok_or_else(|| Error::state("HEAD has no commit yet", Some("commit something first".into())))?.to_string();
    let dir = repo.lanes_dir().join("runs").join(&run_id);
    // A run id given twice (`--run-id`) must not remove the folder of the run that has it.
    let dir_is_new = !dir.exists();
    crate::base::fsutil::create_dir_all(&dir)?;
    let mut state = begin_state(repo, &run_id, &base);
    let mut r = Run {
        repo,
        ws: Arc::new(ws),
        opts,
        run_id: run_id.clone(),
        fork: base.clone(),
        base,
        label: run_id.clone(),
        dir,
        state: RunState::default(),
        lanes: BTreeMap::new(),
        observer,
        interrupts,
        task: TASK_FIX,
        work_orders: BTreeMap::new(),
        collected: BTreeMap::new(),
        notifying: Vec::new(),
    };
    let active = skip_idle(&mut r, plans);
    if active.is_empty() {
        return Ok(nothing_to_do(&mut r, dir_is_new));
    }
    for p in &active {
        state.lanes.insert(
            p.lane.clone(),
            LaneState {
                status: "pending".into(),
                issue_ids: p.issues.iter().map(|a| a.id.clone()).collect(),
                // Recorded from the first save, so a resume after a kill at any moment has it.
                worker: coordinator::lane_worker(&r.ws, &r.opts, None, &p.lane).ok(),
                ..LaneState::default()
            },
        );
    }
    state.watched_refs = refwatch::snapshot(&repo.git, &run_id, &own_branches(&r.ws.config, &run_id));
    r.state = state;
    r.emit(RunEvent::Started { run_id: run_id.clone(), lanes: active.iter().map(|p| p.lane.clone()).collect() });
    r.save()?;
    let setup = coordinator::prepare_lanes(&mut r, active)?;
    crate::base::fault::point("after-prepare");
    let interrupted = coordinator::follow(&mut r, setup)?;
    let summary = finish::complete(&mut r, interrupted);
    notify::reap(&mut r);
    summary
}

/// The lanes with work; each idle one is reported as skipped (and why).
fn skip_idle(r: &mut Run<'_>, plans: Vec<LanePlan>) -> Vec<LanePlan> {
    let mut active = Vec::new();
    for p in plans {
        if p.is_idle() {
            let why = if p.blocked.is_empty() {
                "no open issues".to_string()
            } else {
                format!("{} blocked issue(s), none ready", p.blocked.len())
            };
            (r.observer)(&RunEvent::Skipped { lane: p.lane.clone(), reason: why });
            continue;
        }
        active.push(p);
    }
    active
}

/// Nothing is ready: no worktree, no commit, no report; the run leaves no trace (its folder goes
/// unless it was there before).
fn nothing_to_do(r: &mut Run<'_>, dir_is_new: bool) -> RunSummary {
    if dir_is_new {
        let _ = std::fs::remove_dir_all(&r.dir);
    }
    r.emit(RunEvent::Note("no lane has an issue ready; nothing to do".into()));
    let open = r.ws.issues.iter().filter(|i| i.status() == crate::files::issue::Status::Open).count();
    RunSummary {
        run_id: r.run_id.clone(),
        resolved: vec![],
        open,
        needs_human: vec![],
        report: None,
        commit: None,
        merge_command: None,
        interrupted: false,
        integrated: vec![],
        fast_forwarded: false,
        lanes: vec![],
        left: None,
        integration_checks: None,
    }
}

/// Continue an interrupted run from its live state.
pub fn resume(
    repo: &Repo,
    ws: Workspace,
    opts: RunOptions,
    observer: &mut dyn FnMut(&RunEvent),
    interrupts: Arc<AtomicUsize>,
) -> Result<RunSummary> {
    let (run_id, state) = latest_resumable(repo, TASK_FIX)?
        .ok_or_else(|| Error::state("there is no interrupted run to resume", Some("start one with `git lanes run`".into())))?;
    crate::git::snapshot::check_signing(&repo.git)?;
    let _lock = crate::run::lock::acquire(&repo.lanes_dir(), &run_id)?;
    let catalog = match crate::base::fsutil::read_optional_capped(&ws.root.join(&ws.config.catalog), crate::files::text::MAX_FILE_BYTES)? {
        Some(b) => Some(Catalog::parse(&ws.config.catalog, b)?),
        None => None,
    };
    let mut state = state;
    let (fork, base, label) = resume_point(repo, &ws, &mut state, &run_id)?;
    let plans = crate::planning::plan::plan(
        &ws,
        catalog.as_ref(),
        &PlanOptions { lanes: state.lanes.keys().cloned().collect(), max_issues: opts.max_issues },
    )?;
    let dir = repo.lanes_dir().join("runs").join(&run_id);
    let mut r = Run {
        repo,
        ws: Arc::new(ws),
        opts,
        run_id: run_id.clone(),
        base,
        fork,
        label,
        dir,
        state,
        lanes: BTreeMap::new(),
        observer,
        interrupts,
        task: TASK_FIX,
        work_orders: BTreeMap::new(),
        collected: BTreeMap::new(),
        notifying: Vec::new(),
    };
    r.state.status = "running".into();
    r.state.orchestrator_pid = Some(std::process::id());
    // What moved while no run watched is not a worker's doing (the user's own work since).
    r.state.watched_refs = refwatch::snapshot(&repo.git, &run_id, &own_branches(&r.ws.config, &run_id));
    r.emit(RunEvent::Note(format!("resuming run {run_id}")));
    if r.state.finishing.is_some() {
        // The run commit exists: no lane is prepared, judged or committed again.
        return finish::resume_finishing(&mut r);
    }
    // Keep each lane's original assignment: the plan is recomputed only for its shape.
    let mut active = Vec::new();
    for mut p in plans {
        let Some(ls) = r.state.lanes.get(&p.lane) else { continue };
        p.issues.retain(|a| ls.issue_ids.contains(&a.id));
        for id in &ls.issue_ids {
            if !p.issues.iter().any(|a| &a.id == id)
                && let Some(issue) = r.ws.issue(id)
            {
                let (complexity, reason) = crate::planning::plan::complexity(issue);
                p.issues.push(crate::planning::plan::Assigned { id: id.clone(), title: issue.title.clone(), complexity, reason });
            }
        }
        active.push(p);
    }
    let lanes: Vec<&str> = active.iter().map(|p| p.lane.as_str()).collect();
    coordinator::check_workers(&r.repo.root, &r.ws, &r.opts, Some(&r.state), &lanes)?;
    let setup = coordinator::prepare_lanes(&mut r, active)?;
    let interrupted = coordinator::follow(&mut r, setup)?;
    let summary = finish::complete(&mut r, interrupted);
    notify::reap(&mut r);
    summary
}

/// Where a resumed run or hunt starts: `(fork, base, label)`. An interrupted one goes on from its
/// fork under its own id; a finished one with lanes that failed restarts just those, on top of its
/// result, under the next free label (`<RUN_ID>.2`: no report, live folder or kept ref has it).
/// Worktree records whose folders are gone (a kill while tidying) are pruned first: git would
/// refuse to add them again, and dropping them loses nothing.
pub(crate) fn resume_point(repo: &Repo, ws: &Workspace, state: &mut RunState, run_id: &str) -> Result<(String, String, String)> {
    let _ = crate::git::worktree::prune(&repo.root);
    if !finished(state) {
        adopt_unrecorded_workers(state, run_id, &crate::git::worktree::worktrees_dir(repo, &ws.config, run_id));
    }
    clear_stale_locks(repo, ws, state, run_id);
    let fork = state.base_commit.clone().ok_or_else(|| Error::state("the run's state has no base commit", None))?;
    let mut base = fork.clone();
    let mut label = run_id.to_string();
    if finished(state) {
        state.lanes.retain(|_, l| restartable(l));
        for l in state.lanes.values_mut() {
            l.status = "pending".into();
            l.warnings.clear();
            l.exit = None;
        }
        base = repo.head_commit().map(|o| o.to_string()).unwrap_or(base);
        state.base_commit = Some(base.clone());
        state.base_branch = repo.head_branch();
        state.integration = None;
        let taken = |l: &str| {
            ws.root.join(&ws.config.runs).join(format!("{l}.md")).exists()
                || repo.lanes_dir().join("runs").join(l).exists()
                || repo.git.find_reference(&crate::run::runs::run_ref(l)).is_ok()
        };
        let mut n = 2;
        while taken(&format!("{run_id}.{n}")) {
            n += 1;
        }
        label = format!("{run_id}.{n}");
    }
    Ok((fork, base, label))
}

/// Workers the killed orchestrator started but had not recorded yet (a kill between the spawn
/// and the state's save): adopted, so the resume follows each rather than starting a second
/// worker beside an orphan that goes on editing the same worktree. A worker is known by its run,
/// its lane and its worktree (another repository may run a run of the same id).
fn adopt_unrecorded_workers(state: &mut RunState, run_id: &str, worktrees: &Path) {
    for (lane, ls) in state.lanes.iter_mut() {
        if ls.worker_pid.is_some_and(crate::exec::process::pid_alive) || !matches!(ls.status.as_str(), "pending" | "running") {
            continue;
        }
        let worktree = ls.worktree.as_ref().map(PathBuf::from).unwrap_or_else(|| worktrees.join(lane));
        let worktree = worktree.to_string_lossy();
        let found = crate::exec::process::group_leaders_with_env(&[
            ("LANES_RUN_ID", run_id),
            ("LANES_LANE", lane),
            ("LANES_WORKTREE", worktree.as_ref()),
        ]);
        if let Some(pid) = found.into_iter().next() {
            ls.worker_pid = Some(pid);
            ls.status = "running".into();
        }
    }
}

/// Lock files the killed orchestrator left on the run's own refs and worktrees (a lane whose
/// worker still runs aside: that worker may hold them).
fn clear_stale_locks(repo: &Repo, ws: &Workspace, state: &RunState, run_id: &str) {
    let mut refs = vec![format!("refs/lanes/backup/{run_id}"), crate::run::runs::run_ref(run_id)];
    let mut worktrees = Vec::new();
    for ls in state.lanes.values() {
        if ls.worker_pid.is_some_and(crate::exec::process::pid_alive) {
            continue;
        }
        refs.extend(ls.branch.as_ref().map(|b| format!("refs/heads/{b}")));
        worktrees.extend(ls.worktree.as_ref().map(PathBuf::from));
    }
    refs.push(format!("refs/heads/{}", crate::git::worktree::integration_branch(&ws.config, run_id)));
    worktrees.push(crate::git::worktree::integration_worktree(&crate::git::worktree::worktrees_dir(repo, &ws.config, run_id), run_id));
    let ref_dirs = [format!("refs/lanes/archive/{run_id}"), format!("refs/lanes/incoming/{run_id}")];
    crate::git::locks::clear_stale(&repo.common_dir, &refs, &ref_dirs, &worktrees);
}

fn finished(st: &RunState) -> bool {
    matches!(st.status.as_str(), "complete" | "needs_attention")
}

/// A lane of a finished run that `--resume` starts again.
fn restartable(l: &LaneState) -> bool {
    matches!(l.status.as_str(), "failed" | "timed_out" | "interrupted")
}

/// The newest run (fixing or hunting) that `--resume` can continue: interrupted or crashed, or
/// finished with lanes that failed or timed out.
pub fn latest_unfinished(repo: &Repo) -> Result<Option<(String, RunState)>> {
    latest_matching(repo, |_| true)
}

/// Like [`latest_unfinished`], for runs of one task (`fix_issue`, `hunt_issues`): `run --resume`
/// never continues a hunt, nor `hunt --resume` a run.
pub(crate) fn latest_resumable(repo: &Repo, task: &str) -> Result<Option<(String, RunState)>> {
    latest_matching(repo, |st| st.task.as_deref().unwrap_or(TASK_FIX) == task)
}

fn latest_matching(repo: &Repo, of_task: impl Fn(&RunState) -> bool) -> Result<Option<(String, RunState)>> {
    let runs = repo.lanes_dir().join("runs");
    for id in run_ids(repo).into_iter().rev() {
        if let Some(st) = RunState::load(Path::new("/"), &runs.join(&id).join("state.yaml"))?
            && (matches!(st.status.as_str(), "running" | "interrupted") || finished(&st) && st.lanes.values().any(restartable))
            && of_task(&st)
        {
            return Ok(Some((id, st)));
        }
    }
    Ok(None)
}

/// The live state of a run by id (or the newest run).
pub fn live_state(repo: &Repo, run_id: Option<&str>) -> Result<Option<(String, RunState)>> {
    let runs = repo.lanes_dir().join("runs");
    let id = match run_id {
        Some(id) => id.to_string(),
        None => match run_ids(repo).pop() {
            Some(id) => id,
            None => return Ok(None),
        },
    };
    Ok(RunState::load(Path::new("/"), &runs.join(&id).join("state.yaml"))?.map(|s| (id, s)))
}

/// The set-up files (`lanes.yaml`, catalog, issue files, fixer and hunter specs) that are
/// untracked, or differ from HEAD (staged or not), ignored files aside.
pub fn uncommitted_setup(repo: &Repo, ws: &Workspace) -> Result<Vec<String>> {
    let c = &ws.config;
    let rel = |p: &Path| -> String {
        let abs = ws.root.join(p);
        abs.strip_prefix(&repo.root).unwrap_or(p).to_string_lossy().replace('\\', "/")
    };
    let files = [Path::new(crate::files::config::CONFIG_FILE), c.catalog.as_path()].map(rel);
    let dirs = [c.issues.as_path(), c.fixer_specs.as_path(), c.hunter_specs.as_path()].map(rel);
    let mut opts = git2::StatusOptions::new();
    opts.include_untracked(true).recurse_untracked_dirs(true).include_ignored(false).exclude_submodules(true);
    for f in &files {
        opts.pathspec(f);
    }
    for d in &dirs {
        opts.pathspec(format!("{}/", d.trim_end_matches('/')));
    }
    opts.disable_pathspec_match(false);
    let statuses =
        crate::git::repo::statuses(&repo.git, &mut opts).map_err(|e| Error::git("could not read the status of the set-up files", e))?;
    let mut out: Vec<String> = statuses
        .into_iter()
        .filter(|(_, st)| !st.contains(git2::Status::IGNORED))
        .map(|(p, _)| p)
        .filter(|p| files.contains(p) || dirs.iter().any(|d| p.starts_with(&format!("{}/", d.trim_end_matches('/')))))
        .collect();
    out.sort();
    Ok(out)
}

fn refuse_uncommitted_setup(repo: &Repo, ws: &Workspace) -> Result<()> {
    let files = uncommitted_setup(repo, ws)?;
    if files.is_empty() {
        return Ok(());
    }
    let quoted: Vec<String> = files.iter().map(|f| if f.contains([' ', '\'', '"']) { format!("'{f}'") } else { f.clone() }).collect();
    Err(Error::State {
        message: format!(
            "the set-up is not committed: {} (lanes start from HEAD, where {} missing or different)",
            files.join(", "),
            if files.len() == 1 { "it is" } else { "they are" }
        ),
        hint: Some(format!("git add {} && git commit -m \"lanes set-up\"", quoted.join(" "))),
    })
}

/// Refuse a run whose files would be written through a symlink (the catalog, the state file,
/// the runs, signals and evidence folders and the folders above them, `.git/lanes`): before
/// any lane starts, not at the finish after every lane has worked.
pub(crate) fn refuse_symlinked_files(repo: &Repo, ws: &Workspace) -> Result<()> {
    let c = &ws.config;
    let link = |at: &Path| std::fs::symlink_metadata(at).is_ok_and(|m| m.file_type().is_symlink());
    let mut found: Option<PathBuf> = None;
    for rel in [&c.catalog, &c.state, &c.runs, &c.signals, &c.evidence] {
        let mut at = ws.root.clone();
        for part in rel.components() {
            at.push(part);
            if link(&at) {
                found = Some(at);
                break;
            }
        }
        if found.is_some() {
            break;
        }
    }
    let lanes = repo.lanes_dir();
    if found.is_none() {
        found = [lanes.clone(), lanes.join("runs"), lanes.join("worktrees"), lanes.join("cache")].into_iter().find(|p| link(p));
    }
    let Some(at) = found else { return Ok(()) };
    let shown = at.strip_prefix(&ws.root).unwrap_or(&at).display().to_string();
    let target = std::fs::read_link(&at).map(|t| format!(" (to {})", t.display())).unwrap_or_default();
    Err(Error::State {
        message: format!("`{shown}` is a symlink{target}; git-lanes writes its files there and never through a symlink"),
        hint: Some(format!("make `{shown}` a real folder or file inside the repository, then run again")),
    })
}

/// Step 1: refuse a dirty main worktree when the run will commit or merge; validate input.
fn preflight(repo: &Repo, ws: &Workspace, opts: &RunOptions) -> Result<Option<Catalog>> {
    let will_touch_main =
        !opts.no_commit && !opts.no_integrate && opts.policy.unwrap_or(ws.config.integration) != IntegrationPolicy::Branches;
    if will_touch_main {
        let dirty = repo.dirty_tracked_files()?;
        if !dirty.is_empty() {
            return Err(Error::State {
                message: format!("the main worktree has uncommitted changes to tracked files: {}", dirty.join(", ")),
                hint: Some("commit or stash them yourself (git-lanes never does), or run with `--no-commit` or `--policy branches`".into()),
            });
        }
    }
    ws.ensure_clean()?;
    refuse_symlinked_files(repo, ws)?;
    let catalog = match crate::base::fsutil::read_optional_capped(&ws.root.join(&ws.config.catalog), crate::files::text::MAX_FILE_BYTES)? {
        Some(b) => Some(Catalog::parse(&ws.config.catalog, b)?),
        None => None,
    };
    let report = crate::files::validate::validate(ws, None);
    if !report.errors.is_empty() {
        return Err(Error::from(report.errors));
    }
    // The run's commits are signed as git would sign them, or the run does not start.
    crate::git::snapshot::check_signing(&repo.git)?;
    Ok(catalog)
}
