//! What the phases of a run share: [`Run`] (the run being worked, its live state and its
//! observer), [`LaneRun`] (a lane's run-time facts), the task words, the run's own branches and
//! what never goes into a commit.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use crate::base::error::{Error, Result};
use crate::files::workspace::Workspace;
use crate::git::repo::Repo;
use crate::planning::plan::LanePlan;
use crate::run::collected::{Collected, Judgement};
use crate::run::events::RunEvent;
use crate::run::options::RunOptions;
use crate::run::refwatch;
use crate::run::settings::Settings;
use crate::run::state::{LaneState, RunState};
use crate::run::status::RunStatus;

/// Everything the phases share.
pub(crate) struct Run<'a> {
    pub repo: &'a Repo,
    /// Shared with the threads that collect lanes while others still run.
    pub ws: Arc<Workspace>,
    pub opts: RunOptions,
    /// The settings `opts` and `lanes.yaml` resolve to, worked out once (see [`Settings`]).
    pub settings: Settings,
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
    pub collected: BTreeMap<String, Collected>,
    /// Notify commands told that a lane needs a human, still running (see `notify.rs`).
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
    /// judged again (see `attempts.rs`).
    pub resolved_before: Vec<Judgement>,
    /// The tip and judgements of the lane's last judged attempt, while a later one runs: what the
    /// lane keeps when that one fails (see `attempts.rs`).
    pub judged_before: Option<(String, Vec<Judgement>)>,
    /// Set once the integration result was merged into the lane's worktree (an attempt after a
    /// conflict): its work is judged from that commit, not from the run's fork.
    pub fork: Option<String>,
}

/// Where a pass of a run starts, new, resumed or integrated from elsewhere: what [`Run::new`]
/// is given beside the repository, the workspace and the display. [`RunStart::new`] gives a new
/// run's defaults (forked from `base`, labelled with its id, an empty state); a resumed or
/// continued one sets the fields that differ.
pub(crate) struct RunStart {
    /// `fix_issue` or `hunt_issues` (see [`Run`]'s `task`).
    pub task: &'static str,
    pub run_id: String,
    pub base: String,
    pub fork: String,
    pub label: String,
    pub state: RunState,
    /// Lanes known before any is prepared (lanes that ran elsewhere, integrated here).
    pub lanes: BTreeMap<String, LaneRun>,
    /// Work-order YAML per lane made by the mode (hunting).
    pub work_orders: BTreeMap<String, String>,
}

impl RunStart {
    /// A new pass of `run_id` starting from `base`: lanes fork from it, the label is the id.
    pub(crate) fn new(task: &'static str, run_id: &str, base: &str) -> RunStart {
        RunStart {
            task,
            run_id: run_id.to_string(),
            base: base.to_string(),
            fork: base.to_string(),
            label: run_id.to_string(),
            state: RunState::default(),
            lanes: BTreeMap::new(),
            work_orders: BTreeMap::new(),
        }
    }
}

impl<'a> Run<'a> {
    /// The run every phase works on; its folder is the run's live folder,
    /// `<common>/lanes/runs/<RUN_ID>`.
    pub(crate) fn new(
        repo: &'a Repo,
        ws: Workspace,
        opts: RunOptions,
        start: RunStart,
        observer: &'a mut dyn FnMut(&RunEvent),
        interrupts: Arc<AtomicUsize>,
    ) -> Run<'a> {
        Run {
            repo,
            settings: Settings::resolve(&opts, &ws.config),
            ws: Arc::new(ws),
            opts,
            dir: crate::run::runs::live_dir(repo, &start.run_id),
            run_id: start.run_id,
            base: start.base,
            fork: start.fork,
            label: start.label,
            state: start.state,
            lanes: start.lanes,
            observer,
            interrupts,
            task: start.task,
            work_orders: start.work_orders,
            collected: BTreeMap::new(),
            notifying: Vec::new(),
        }
    }
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
    let folders = config.signal_folders().into_iter().map(|f| f.to_string_lossy().into_owned());
    let mut k = crate::git::snapshot::KeepOut::new(folders);
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

/// Compare the refs the run watches with their value at its start (see `refwatch.rs`): what
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
        status: RunStatus::Running,
        base_commit: Some(base.to_string()),
        base_branch: repo.head_branch(),
        orchestrator_pid: Some(std::process::id()),
        ..RunState::default()
    }
}
