//! One lane's worker as the coordinator sees it: started, read for deadlines and stuck shapes,
//! and its end told (the state it leaves the lane in, and what its log says about it).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::event::Event;
use super::stage::LaneStage;
use crate::agents::presets::{self, Preset, WorkerContext};
use crate::base::error::{Error, Result};
use crate::exec::process::{self, Ending, EnvPolicy, OutputTarget, ProcessSpec, Running};
use crate::run::context::{LaneRun, Run};
use crate::run::events::RunEvent;
use crate::run::follow::LaneFollow;

/// How often a running worker's log is read for a known stuck shape.
const STUCK_EVERY: Duration = Duration::from_secs(1);

/// A running lane's worker and what is followed of it.
pub(super) struct Active {
    pub lane: String,
    pub child: Option<Running>,
    /// A worker from an earlier orchestrator (after a crash), followed by pid only.
    pub foreign_pid: Option<u32>,
    pub follow: LaneFollow,
    pub started: Instant,
    pub timeout: Duration,
    pub ended_by_us: bool,
    /// Whose log format the worker's log follows.
    pub preset: Preset,
    /// When the log was last read for a known stuck shape or the usage so far.
    looked_at: Instant,
    /// Why git-lanes ended a worker that would not end on its own.
    pub stuck: Option<String>,
    /// The lane's cgroup, where the kernel allows one: what the worker started is in it.
    pub cgroup: Option<crate::exec::cgroup::LaneGroup>,
    /// The lane's worktree, looked at for changes before a quiet worker is called stalled.
    worktree: Option<PathBuf>,
    /// The last sign of life seen: output in its log, a new status, a change in its worktree.
    alive_at: Instant,
    /// The log's length when last looked at.
    log_len: u64,
    /// The status line when last looked at.
    last_status: Option<String>,
    /// When the signs of life were last looked for.
    life_checked: Instant,
}

/// How a lane ended: the state it is left in and the detail shown and saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Ended {
    pub state: LaneStage,
    pub detail: String,
}

impl Ended {
    pub fn new(state: LaneStage, detail: impl Into<String>) -> Ended {
        Ended { state, detail: detail.into() }
    }
}

impl Active {
    fn new(lane: &str, child: Option<Running>, foreign_pid: Option<u32>, follow: LaneFollow, timeout: Duration, preset: Preset) -> Active {
        Active {
            lane: lane.to_string(),
            child,
            foreign_pid,
            follow,
            started: Instant::now(),
            timeout,
            ended_by_us: false,
            preset,
            looked_at: Instant::now(),
            stuck: None,
            cgroup: None,
            worktree: None,
            alive_at: Instant::now(),
            log_len: 0,
            last_status: None,
            life_checked: Instant::now(),
        }
    }

    /// Ends a worker that showed no sign of life — no output, no new status, no change in its
    /// worktree — for `after` (`stall_after`). The log and status are looked at every
    /// [`STUCK_EVERY`]; the worktree is walked only once the others have been quiet for `after`.
    pub fn end_if_stalled(&mut self, run_dir: &Path, after: Duration) -> Option<Ended> {
        if self.follow.done || self.life_checked.elapsed() < STUCK_EVERY {
            return None;
        }
        self.life_checked = Instant::now();
        let log = run_dir.join(&self.lane).join("worker.log");
        let len = std::fs::metadata(&log).map_or(0, |m| m.len());
        if len != self.log_len || self.follow.status != self.last_status {
            self.log_len = len;
            self.last_status.clone_from(&self.follow.status);
            self.alive_at = Instant::now();
            return None;
        }
        let quiet = self.alive_at.elapsed();
        if quiet < after {
            return None;
        }
        let since = std::time::SystemTime::now().checked_sub(quiet).unwrap_or(std::time::UNIX_EPOCH);
        if self.worktree.as_deref().is_some_and(|w| changed_since(w, since)) {
            self.alive_at = Instant::now();
            return None;
        }
        let secs = after.as_secs();
        let why = format!("stalled: no output, no signal and no change in its worktree for {secs}s (stall_after)");
        self.stuck = Some(why);
        self.ended_by_us = true;
        if let Some(pid) = self.foreign_pid {
            kill_group(pid);
        }
        let how = self.child.as_mut().map(|c| format!(" ({})", c.terminate(Duration::from_secs(2)))).unwrap_or_default();
        Some(Ended::new(LaneStage::Failed, format!("ended by git-lanes: no sign of life for {secs}s{how}")))
    }

    /// A worker an earlier orchestrator started, still alive after its crash: followed by pid.
    pub fn adopted(r: &Run<'_>, lane: &str, pid: u32, follow: LaneFollow) -> Active {
        let preset = r.lanes.get(lane).map_or(Preset::Script, |lr| preset_of(&lr.worker));
        let mut active = Active::new(lane, None, Some(pid), follow, lane_timeout(r, lane), preset);
        active.worktree = r.lanes.get(lane).map(|lr| lr.worktree.clone());
        active
    }

    /// How the worker ended, once it has; never blocks.
    pub fn exited(&mut self) -> Option<Ending> {
        match (&mut self.child, self.foreign_pid) {
            (Some(c), _) => c.try_wait(),
            (None, Some(pid)) if !process::pid_alive(pid) => Some(Ending::Unknown),
            _ => None,
        }
    }

    /// The lane's end now that its worker has exited with `ending`.
    pub fn on_exit(&self, ending: Ending, presses: usize) -> Ended {
        let done = self.follow.done;
        match self.foreign_pid {
            Some(_) if done => Ended::new(LaneStage::Done, "worker from the earlier run finished"),
            Some(_) => Ended::new(LaneStage::Failed, "worker from the earlier run exited without .done"),
            None => classify(ending, done, self.ended_by_us, presses),
        }
    }

    /// Whether `.done` was seen at least `grace` ago while the worker still runs.
    pub fn past_grace(&self, grace: Duration) -> bool {
        self.follow.done && self.follow.done_seen.is_some_and(|t| t.elapsed() >= grace)
    }

    /// `.done` was written `grace` ago and the worker still runs: its group is ended; done.
    pub fn on_grace_over(&mut self, grace: Duration) -> Ended {
        if let Some(pid) = self.foreign_pid {
            kill_group(pid);
            return Ended::new(LaneStage::Done, "worker from the earlier run ended after .done grace");
        }
        self.ended_by_us = true;
        let ending = self.child.as_mut().map_or(Ending::Unknown, |c| c.terminate(Duration::from_secs(2)));
        Ended::new(
            LaneStage::Done,
            format!("worker still running {}s after .done; its process group was ended ({ending})", grace.as_secs()),
        )
    }

    /// Past the lane timeout without an end: its group is killed; timed out. For a worker from
    /// the earlier run, the timeout counts from the resume: the run never waits forever, not even
    /// for a worker it did not start.
    pub fn on_timeout(&mut self) -> Ended {
        let secs = self.timeout.as_secs();
        if let Some(pid) = self.foreign_pid {
            kill_group(pid);
            return Ended::new(
                LaneStage::TimedOut,
                format!("worker from the earlier run: no .done within {secs}s of the resume; process group killed"),
            );
        }
        self.ended_by_us = true;
        let ending = self.child.as_mut().map_or(Ending::Unknown, |c| c.terminate(Duration::from_secs(2)));
        Ended::new(LaneStage::TimedOut, format!("no .done within {secs}s; process group killed ({ending})"))
    }

    /// The operator asked to stop the lane: its worker's group is ended.
    pub fn on_stop(&mut self) -> Ended {
        self.ended_by_us = true;
        let how = self.child.as_mut().map(|c| format!(" ({})", c.terminate(Duration::from_secs(2)))).unwrap_or_default();
        if let Some(pid) = self.foreign_pid {
            kill_group(pid);
        }
        Ended::new(LaneStage::Failed, format!("stopped by the operator{how}"))
    }

    /// End the worker's group whoever started it (a restart): ours are ended and reaped, one
    /// from the earlier run is killed.
    pub fn end_group(&mut self) {
        if let Some(c) = self.child.as_mut() {
            c.terminate(Duration::from_secs(2));
        }
        if let Some(pid) = self.foreign_pid {
            kill_group(pid);
        }
    }

    /// Ends a worker whose log shows it will never finish on its own (`presets::stuck`, read in
    /// the log's last 64 KiB), or whose usage so far (for agents that print it as they go) takes
    /// the run past its budget: `budget` holds each limit and what the run recorded before this
    /// attempt. The log's tail is read once, at most every [`STUCK_EVERY`].
    pub fn end_if_stuck_or_over_budget(&mut self, run_dir: &Path, budget: Option<crate::run::attempts::BudgetLeft>) -> Option<Ended> {
        if self.looked_at.elapsed() < STUCK_EVERY {
            return None;
        }
        self.looked_at = Instant::now();
        self.child.as_ref()?;
        let max = if budget.is_some() { 256 * 1024 } else { 64 * 1024 };
        let tail = log_tail(&run_dir.join(&self.lane).join("worker.log"), max)?;
        let recent = tail.len().saturating_sub(64 * 1024);
        let recent = &tail[(recent..).find(|&i| tail.is_char_boundary(i)).unwrap_or(tail.len())..];
        if let Some(why) = presets::stuck(self.preset, recent) {
            self.stuck = Some(why);
            let ending = self.end_by_us();
            return Some(Ended::new(LaneStage::Failed, format!("ended by git-lanes: the agent would not finish on its own ({ending})")));
        }
        let why = over_budget(&presets::parse_usage(self.preset, &tail)?, budget?)?;
        let ending = self.end_by_us();
        Some(Ended::new(LaneStage::Failed, format!("stopped by git-lanes: {why} ({ending})")))
    }

    /// End the worker's group, marked as ended by git-lanes; how it ended.
    fn end_by_us(&mut self) -> String {
        self.ended_by_us = true;
        self.child.as_mut().map(|c| c.terminate(Duration::from_secs(2)).to_string()).unwrap_or_default()
    }
}

/// Why `usage` (this attempt's so far) takes the run past `budget`, if it does.
fn over_budget(usage: &presets::WorkerUsage, budget: crate::run::attempts::BudgetLeft) -> Option<String> {
    let tokens = usage.input_tokens.unwrap_or(0) + usage.output_tokens.unwrap_or(0);
    match (budget.usd, usage.cost_usd, budget.tokens) {
        (Some((limit, before)), Some(now), _) if before + now > limit => {
            Some(format!("the run's budget of ${limit:.2} was passed (${:.2} with this attempt's ${now:.2})", before + now))
        }
        (_, _, Some((limit, before))) if tokens > 0 && before + tokens > limit => {
            Some(format!("the run's budget of {limit} tokens was passed ({} with this attempt's {tokens})", before + tokens))
        }
        _ => None,
    }
}

/// Start a lane's worker through the process module; `events` hears when it exits.
pub(super) fn start(r: &mut Run<'_>, lane: &str, main_signals: &Path, events: &mpsc::Sender<Event>) -> Result<Active> {
    let lr = r.lanes.get(lane).expect("lane prepared").clone();
    let prompt = lr.files.join("prompt.md");
    let order = lr.files.join("work-order.yaml");
    let sandboxed = r.settings.sandbox_workers;
    // In the sandbox the agent's own folder is a part of the lane's state folder: the rest of
    // it (the operator's control file, the log) is git-lanes' alone.
    let state_dir = if sandboxed { lr.files.join(AGENT_DIR) } else { lr.files.clone() };
    if sandboxed {
        crate::base::fsutil::create_dir_all(&state_dir.join("tmp"))?;
    }
    let spec = r.ws.specs.get(lane);
    let model = crate::planning::model::lane_model(preset_of(&lr.worker), r.opts.model.as_deref(), spec, &r.ws.config);
    let ctx = WorkerContext {
        prompt_file: &prompt,
        work_order_file: &order,
        state_dir: &state_dir,
        model: model.as_deref(),
        max_turns: r.opts.max_turns,
        max_budget_usd: r.opts.max_budget_usd,
        lane,
        sandboxed,
    };
    let mut cmd = presets::resolve_worker(&lr.worker, &ctx).map_err(worker_error)?;
    // A later attempt works on what is left: issues an earlier attempt resolved stay resolved.
    let ids: Vec<String> =
        lr.plan.issues.iter().map(|a| a.id.clone()).filter(|id| !lr.resolved_before.iter().any(|j| &j.id == id)).collect();
    let attempt = crate::run::attempts::next_number(r.state.lanes.get(lane));
    // A sandboxed worker signals in its own worktree's signal folder (the shared one is not
    // writable to it); it is followed there already, and nobody else's.
    let signal_dir = if sandboxed { lr.worktree.join(&r.ws.config.signals) } else { main_signals.to_path_buf() };
    let mut env = worker_env(r, lane, &lr, ctx.env(), &signal_dir, &ids);
    env.push(("LANES_ATTEMPT".into(), attempt.to_string().into()));
    let feedback = lr.files.join(crate::run::attempts::FEEDBACK_FILE);
    if attempt > 1 && feedback.is_file() {
        env.push(("LANES_FEEDBACK_FILE".into(), feedback.into_os_string()));
        // Each attempt has a log of its own (what it cost is read from it); the earlier one is
        // kept beside it.
        let log = lr.files.join("worker.log");
        let earlier = lr.files.join(format!("worker.attempt-{}.log", attempt - 1));
        if log.exists() {
            let _ = std::fs::rename(&log, &earlier);
        }
        // An agent that can resume its session headless continues the conversation.
        let session = log_tail(&earlier, 256 * 1024).and_then(|tail| crate::agents::resume::session_id(cmd.preset, &tail));
        if let Some(line) = session.and_then(|id| crate::agents::resume::resumed_line(cmd.preset, &cmd.shell, &id)) {
            cmd.shell = line;
        }
    }
    // `agents: {<preset>: {env: …}}`: this preset's own variables (a gateway, a key's name).
    if let Some(agent) = r.ws.config.agents.get(cmd.preset.name()) {
        env.extend(agent.env.iter().map(|(k, v)| (OsString::from(k), OsString::from(v))));
    }
    let mut record = None;
    if sandboxed {
        crate::base::fsutil::create_dir_all(&signal_dir)?;
        env.extend(sandbox_env(&state_dir.join("tmp")));
        let (detached, warnings) = crate::git::confine::detach(&r.repo.common_dir, &lr.worktree, &lr.branch)?;
        r.lane_state(lane).warnings.extend(warnings);
        env.extend(detached.env);
        record = Some(detached.admin);
    }
    let timeout = lane_timeout(r, lane);
    let cgroup = crate::exec::cgroup::LaneGroup::create(&format!("git-lanes-{}-{lane}", std::process::id()));
    let argv: Vec<String> = match &cgroup {
        Some(g) => g.wrap(&cmd.argv()),
        None => cmd.argv().iter().map(|a| a.to_string()).collect(),
    };
    let mut spec = ProcessSpec::new(&argv[0], &argv[1..], &lr.worktree)
        .with_env(EnvPolicy::Inherit(env))
        .with_output(OutputTarget::File(lr.files.join("worker.log")))
        .with_timeout(timeout);
    if let Some(record) = &record {
        let procs = cgroup.as_ref().map(crate::exec::cgroup::LaneGroup::procs);
        let home = agent_home(cmd.preset);
        let mut own: Vec<&Path> = vec![&lr.worktree, &state_dir, record];
        own.extend(procs.as_deref());
        own.extend(home.iter().map(PathBuf::as_path));
        own.extend(r.ws.config.sandbox_writable.iter().map(PathBuf::as_path));
        spec = spec.with_sandbox(crate::exec::sandbox::Policy::for_worker(&own));
    }
    let exited = events.clone();
    let name = lane.to_string();
    let child = process::spawn_notifying(&spec, move || {
        let _ = exited.send(Event::WorkerExited { lane: name });
    })?;
    crate::base::fault::point("after-spawn");
    let pid = child.pid();
    let ls = r.lane_state(lane);
    ls.model.clone_from(&model);
    ls.status = LaneStage::Running.status();
    ls.worker_pid = Some(pid);
    ls.started_at = Some(crate::files::scaffold::now_rfc3339());
    let attempt = crate::run::attempts::begin(ls);
    r.emit(RunEvent::LaneStarted { lane: lane.to_string(), pid, issues: ids, attempt });
    let follow = LaneFollow::new(lane, vec![main_signals.to_path_buf(), lr.worktree.join(&r.ws.config.signals)]);
    let mut active = Active::new(lane, Some(child), None, follow, timeout, cmd.preset);
    active.cgroup = cgroup;
    active.worktree = Some(lr.worktree.clone());
    Ok(active)
}

/// The agent's own folders under `$HOME`, created when missing: the sandbox can only let it
/// write a folder that exists, and a CLI run for the first time creates its folder (claude's
/// `~/.claude`, qwen's `~/.qwen`) before anything else.
fn agent_home(preset: Preset) -> Vec<PathBuf> {
    let Some(home) = std::env::var_os("HOME").map(PathBuf::from).filter(|h| h.is_absolute()) else { return Vec::new() };
    preset.agent().home.iter().map(|d| home.join(d)).filter(|d| d.is_dir() || crate::base::fsutil::create_dir_all(d).is_ok()).collect()
}

/// Whether any file or folder under `root` (its `.git` left out, symlinks not followed) was
/// modified after `since`. Stops at the first one, and after 200 000 entries (then: changed, so
/// a huge worktree is never called stalled for want of looking).
fn changed_since(root: &Path, since: std::time::SystemTime) -> bool {
    let mut todo = vec![root.to_path_buf()];
    let mut seen = 0usize;
    while let Some(dir) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            seen += 1;
            if seen > 200_000 {
                return true;
            }
            if entry.file_name() == ".git" {
                continue;
            }
            let Ok(meta) = entry.metadata() else { continue };
            if meta.modified().is_ok_and(|m| m > since) {
                return true;
            }
            if meta.is_dir() {
                todo.push(entry.path());
            }
        }
    }
    false
}

/// The worker's environment on top of the orchestrator's: the preset's own variables, the run's
/// `LANES_*`, the workers' `PATH` and the guard against pushing.
fn worker_env(
    r: &Run<'_>,
    lane: &str,
    lr: &LaneRun,
    preset_env: Vec<(&'static str, OsString)>,
    main_signals: &Path,
    issue_ids: &[String],
) -> Vec<(OsString, OsString)> {
    let index = r.lanes.keys().position(|l| l == lane).unwrap_or(0) as u32;
    let port_base = u32::from(r.ws.config.port_base) + index * u32::from(r.ws.config.port_span);
    let mut env: Vec<(OsString, OsString)> = preset_env.into_iter().map(|(k, v)| (OsString::from(k), v)).collect();
    env.push(("LANES_RUN_ID".into(), r.run_id.clone().into()));
    env.push(("LANES_TASK".into(), r.task.into()));
    env.push(("LANES_SIGNAL_DIR".into(), main_signals.as_os_str().to_owned()));
    env.push(("LANES_ISSUES".into(), issue_ids.join(",").into()));
    env.push(("LANES_PORT_BASE".into(), port_base.to_string().into()));
    env.push(("LANES_PORT_SPAN".into(), r.ws.config.port_span.to_string().into()));
    env.push(("LANES_WORKTREE".into(), lr.worktree.as_os_str().to_owned()));
    env.push((MARK.into(), lane_mark(r, lane).into()));
    if let Some(path) = presets::worker_path() {
        env.push(("PATH".into(), path));
    }
    env.extend(crate::judge::guard::no_push_env(std::env::var_os("GIT_CONFIG_COUNT").as_deref()));
    env
}

/// What a lane's worker left behind once it has ended, for the lane's warnings: its processes
/// still running (found by the [`MARK`] they inherited, also after `setsid`, a double fork or
/// `nohup`) are ended; signal files it wrote for other lanes in its
/// own signal folder are named (they count for nobody: a lane is followed only through its
/// own files).
pub(super) fn end_left_behind(r: &Run<'_>, lane: &str, cgroup: Option<&crate::exec::cgroup::LaneGroup>) -> Vec<String> {
    let mut warnings = Vec::new();
    let mut left = cgroup.map(crate::exec::cgroup::LaneGroup::end).unwrap_or_default();
    let marked = process::processes_with_env(&[(MARK, &lane_mark(r, lane))]);
    process::end_processes(&marked, Duration::from_millis(500));
    left.extend(marked);
    if !left.is_empty() {
        let list: Vec<String> = left.iter().map(ToString::to_string).collect();
        warnings.push(format!("the worker left processes running after it ended; git-lanes ended them: {}", list.join(", ")));
    }
    if let Some(lr) = r.lanes.get(lane) {
        let dir = lr.worktree.join(&r.ws.config.signals);
        let mut foreign: Vec<String> = std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .filter(|n| {
                let stem = crate::files::signal::SignalFile::of_file_name(n).map(|(_, lane)| lane);
                stem.is_some_and(|s| s != lane && r.lanes.contains_key(s))
            })
            .collect();
        foreign.sort();
        if !foreign.is_empty() {
            warnings.push(format!(
                "the worker wrote signal files of other lanes ({}) in {}; they are ignored (a lane signals only through its own files)",
                foreign.join(", "),
                dir.display()
            ));
        }
    }
    warnings
}

/// The variable every process of a lane's worker inherits, naming the repository, the run and
/// the lane: what is left behind is found by it (the run id and lane name alone are not unique
/// across repositories).
const MARK: &str = "LANES_MARK";

fn lane_mark(r: &Run<'_>, lane: &str) -> String {
    format!("{}:{}:{lane}", r.repo.common_dir.display(), r.run_id)
}

/// The agent's own folder in a lane's state folder when the worker is sandboxed
/// (`LANES_STATE_DIR`; its `tmp/` is the worker's `TMPDIR`).
pub(crate) const AGENT_DIR: &str = "agent";

/// What a sandboxed worker's environment changes: temp is its own, and the user's ssh agent and
/// password prompts are out of reach.
fn sandbox_env(tmp: &Path) -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> =
        ["TMPDIR", "TMP", "TEMP"].into_iter().map(|k| (OsString::from(k), tmp.as_os_str().to_owned())).collect();
    // An empty value counts as unset for ssh and git.
    for k in ["SSH_AUTH_SOCK", "SSH_AGENT_PID", "GIT_ASKPASS", "SSH_ASKPASS"] {
        env.push((k.into(), OsString::new()));
    }
    env.push(("GIT_TERMINAL_PROMPT".into(), "0".into()));
    env
}

fn lane_timeout(r: &Run<'_>, lane: &str) -> Duration {
    r.settings.lane_timeout(r.ws.specs.get(lane))
}

/// The end of a worker this run started, from how it exited and whether `.done` was seen.
fn classify(ending: Ending, done: bool, ended_by_us: bool, presses: usize) -> Ended {
    match ending {
        Ending::TimedOut { after } => {
            Ended::new(LaneStage::TimedOut, format!("no .done within {}s; process group killed", after.as_secs()))
        }
        _ if presses > 0 && !done => Ended::new(LaneStage::Interrupted, format!("stopped by Ctrl-C ({ending})")),
        Ending::Exited(0) if done => Ended::new(LaneStage::Done, "exit 0"),
        // Stopped by us (the grace after `.done` ran out) or by the user's Ctrl-C after it wrote
        // `.done`: it said it was done, and its checks will tell.
        _ if done && (ended_by_us || presses > 0) => Ended::new(LaneStage::Done, ending.to_string()),
        Ending::Exited(0) => Ended::new(LaneStage::Failed, "worker exited 0 without writing .done"),
        _ if done => Ended::new(LaneStage::Failed, format!("worker wrote .done but ended with {ending}")),
        _ => Ended::new(LaneStage::Failed, format!("worker ended with {ending} without writing .done")),
    }
}

pub(super) fn preset_of(worker: &str) -> Preset {
    worker.trim().parse::<Preset>().unwrap_or(Preset::Script)
}

/// The last `max` bytes of a worker's log (a result object is at its end).
fn log_tail(log: &Path, max: u64) -> Option<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(log).ok()?;
    let len = file.metadata().ok()?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(max))).ok()?;
    let mut bytes = Vec::new();
    file.take(max).read_to_end(&mut bytes).ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// A lane's end as the agent tells it: its state, detail, reason and usage.
pub(super) struct WorkerOutcome {
    pub state: LaneStage,
    pub detail: String,
    pub reason: Option<String>,
    pub usage: Option<presets::WorkerUsage>,
}

impl WorkerOutcome {
    /// What the log says overrides a clean exit: a preset worker that wrote `.done` and exited 0
    /// but whose agent reported an error (aider after an authentication error, claude's
    /// `is_error`) failed. A failed or timed-out lane gets the agent's reason, or the last
    /// meaningful lines of its log.
    pub fn of(preset: Preset, log: &Path, ended: Ended, stuck: Option<String>) -> WorkerOutcome {
        let tail = log_tail(log, 256 * 1024).unwrap_or_default();
        let usage = presets::parse_usage(preset, &tail);
        let said_error = usage.as_ref().and_then(|u| u.is_error) == Some(true);
        let mut out = WorkerOutcome { state: ended.state, detail: ended.detail, reason: None, usage };
        // Only a preset's own format decides: a user's script that wrote `.done` and exited 0 is
        // done, whatever JSON or error-looking lines it printed on the way.
        if out.state == LaneStage::Done && said_error && preset != Preset::Script {
            out.state = LaneStage::Failed;
            out.detail = format!("{}; but the agent reported an error", out.detail);
        }
        if matches!(out.state, LaneStage::Failed | LaneStage::TimedOut) {
            out.reason = if stuck.is_some() {
                stuck
            } else if tail.trim().is_empty() {
                Some("the worker printed nothing".into())
            } else {
                presets::failure_reason(preset, &tail)
            };
        }
        out
    }

    /// The detail with the agent's reason and the log's path, as the console shows it.
    pub fn shown(&self, preset: Preset, log: &Path) -> String {
        let mut text = self.detail.clone();
        if let Some(reason) = &self.reason {
            let who = if preset == Preset::Script { "worker" } else { preset.name() };
            text.push_str(&format!("\n  {who} said: {reason}"));
        }
        if self.state != LaneStage::Done {
            text.push_str(&format!("\n  worker log: {}", log.display()));
        }
        text
    }
}

#[allow(unsafe_code)]
fn kill_group(pid: u32) {
    // SAFETY: signals the process group led by a worker we started in an earlier run.
    unsafe {
        libc::kill(-(pid as i32), libc::SIGTERM);
    }
    std::thread::sleep(Duration::from_millis(500));
    unsafe {
        libc::kill(-(pid as i32), libc::SIGKILL);
    }
}

/// A worker setting that does not resolve or check, as the error the user sees: a missing
/// program is the machine's state, anything else the setting itself.
pub(super) fn worker_error(e: presets::WorkerError) -> Error {
    let hint = e.hint();
    match e {
        presets::WorkerError::ProgramMissing { .. } => Error::state(e.to_string(), hint),
        _ => Error::usage(e.to_string(), hint),
    }
}

#[cfg(test)]
mod tests {
    use crate::run::coordinator::worker::*;

    #[test]
    fn an_exit_is_told_by_done_and_by_who_ended_it() {
        let state = |ending, done, by_us, presses| classify(ending, done, by_us, presses).state;
        assert_eq!(state(Ending::Exited(0), true, false, 0), LaneStage::Done);
        assert_eq!(state(Ending::Exited(0), false, false, 0), LaneStage::Failed);
        assert_eq!(state(Ending::Signaled(15), true, true, 0), LaneStage::Done);
        assert_eq!(state(Ending::Signaled(15), true, false, 0), LaneStage::Failed);
        assert_eq!(state(Ending::Signaled(2), false, false, 1), LaneStage::Interrupted);
        assert_eq!(state(Ending::Exited(0), true, false, 1), LaneStage::Done);
        // Ctrl-C reached a worker that had just written `.done`.
        assert_eq!(state(Ending::Signaled(2), true, false, 1), LaneStage::Done);
        assert_eq!(state(Ending::TimedOut { after: Duration::from_secs(3) }, true, false, 0), LaneStage::TimedOut);
    }
}
