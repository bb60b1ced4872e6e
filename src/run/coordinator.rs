//! Steps 3–5: lane worktrees, workers, and following them to an end, as a state machine.
//!
//! # Design note: the coordinator
//! One thread owns every lane's state ([`LaneStage`]) and waits on one channel for the next
//! [`Event`]: a signal folder changed (notify), the set-up thread made a worktree, a worker
//! exited (its waiter thread says so at once), or the timer ticked ([`TICK`]). Each event goes to
//! one small handler (`on_…`) that moves lanes between states; after every event, lanes whose
//! worktree is ready start while there is room (`--max-parallel`). Events are hints, files are
//! the truth: a handler reads the signal files again rather than trusting what woke it. Ctrl-C is
//! a counter the signal handler bumps; it is read before every wait (the tick bounds its delay).
//!
//! The rules: `.done` + exited ⇒ done; `.done` + still running after `done_grace` ⇒ group ended,
//! done (agent CLIs are known to hang after finishing); exit without `.done` or non-zero ⇒
//! failed; past the lane timeout ⇒ group killed, timed out; a log in a known stuck shape ⇒ group
//! ended, failed; no output, no new status and no worktree change for `stall_after` ⇒ group
//! ended, failed, the reason naming the stall. Ctrl-C once forwards SIGINT to
//! every lane group, stops scheduling and saves state; twice (or 10 s later) kills the groups.
//! SIGTERM and SIGHUP count as a Ctrl-C. When a lane's worker has ended, processes carrying its
//! lane's mark (`LANES_MARK`) are ended and named in its warnings; git-lanes is the
//! subreaper of its descendants, and children of it still alive when every lane has ended are
//! ended too.
//!
//! # A lane's states
//! The words are those `state.yaml` keeps (`preparing` and `ready` are both `pending` there); an
//! arrow is an event and the handler that takes it.
//!
//! ```text
//!                  prepare_lanes
//!   pending ──────────────┬─────────────────────────────┐
//!                         │ new worktree                │ worktree exists
//!                         ▼                             ▼
//!                     preparing ── WorktreeReady ──►  ready ◄── on_restart (operator, any state)
//!                         │        on_worktree_ready    │
//!   WorktreeReady (error) │                             │ a free slot (--max-parallel):
//!   on_worktree_failed    │                             │ start_ready_lanes
//!                         ▼       could not start  ┌─────────┐   SignalSeen: on_status,
//!                      failed ◄─────────────────── │ running │ ◄─ on_done_seen
//!                         ▲                        └────┬────┘
//!                         │ on_stop (operator),         │
//!                         │ Tick: a stuck log, a stall  │ WorkerExited: on_exit
//!                         └─────────────────────────────┤ Tick: on_grace_over, on_timeout
//!          ┌──────────────────┬─────────────────────────┼──────────────────────┐
//!          ▼                  ▼                         ▼                      ▼
//!        done               failed                 interrupted             timed_out
//!   .done, then exit 0   exit without .done,    exit after Ctrl-C       no .done within
//!   (or the grace over)  or .done but not 0     without .done           the lane timeout
//! ```
//!
//! `Interrupt` (Ctrl-C, `on_interrupt`) moves no lane itself: SIGINT reaches every worker's group
//! (SIGKILL from the second press), no lane starts any more, and when the last worker has ended
//! the lanes still pending or running are left `interrupted` for `run --resume` (`finish`). A
//! resumed lane whose worker outlived the orchestrator is adopted `running` (followed by pid), or
//! `done` if it wrote `.done` meanwhile (`on_finished_unwatched`).
//!
//! In a fixing run a `done` lane is collected and judged at once, on a thread of its own (at
//! most [`collect::POOL`] at a time, in the order lanes ended, once every worktree is set up:
//! `start_collections`), while the other lanes still work; `Collected` (`on_collected`) records
//! the judgement. The loop ends when no lane runs, waits or is being collected. A lane being
//! judged is not restarted; one judged already is judged again when its restarted worker ends.
//! A judged lane with a rejected issue goes back to `ready` (last in the queue) while attempts
//! are left and the budget allows (`super::attempts`); a running lane whose usage so far takes
//! the run past its budget is ended, failed.

mod event;
mod stage;
mod worker;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::collect::{self, Collector};
use crate::agents::presets::{self, Preset, WorkerContext};
use crate::base::error::{Error, Result};
use crate::files::signal::SignalFile;
use crate::files::workspace::Workspace;
use crate::git::worktree;
use crate::planning::plan::LanePlan;
use crate::planning::workorder::{self, WorkOrder};
use crate::run::collected::Collected;
use crate::run::context::{LaneRun, Run};
use crate::run::events::RunEvent;
use crate::run::follow::{Change, LaneFollow, SignalWatcher};
use crate::run::options::{LaneControl, RunOptions};
use crate::run::status::{LaneStatus, RunStatus};
use event::Event;
use stage::LaneStage;
use worker::{Active, Ended, WorkerOutcome};

/// The timer: deadlines, the operator's controls, workers followed by pid and Ctrl-C are looked
/// at this often (signal files and exits are events and need no tick).
const TICK: Duration = Duration::from_millis(100);

/// While file events arrive, the tick reads every lane's signal files again only this often (a
/// safety net for an event lost, e.g. to a folder deleted and re-created); each tick still checks
/// exits and deadlines. Without events, every tick reads them.
const RESCAN_EVERY: Duration = Duration::from_secs(1);

/// Worktrees still to be created when [`prepare_lanes`] returns; [`follow`] creates them on a
/// set-up thread and starts each lane's worker as soon as its own worktree is ready.
#[must_use]
pub(super) struct Setup {
    fresh: Vec<(String, worktree::NewWorktree)>,
    started: Instant,
}

impl Setup {
    /// Nothing to set up: every lane's worktree exists (lanes sent back to their workers after
    /// the integration).
    pub(super) fn none() -> Setup {
        Setup { fresh: Vec::new(), started: Instant::now() }
    }
}

/// Step 3: branch, work order and prompt for each lane; worktrees that already exist are
/// attached here, new ones are left to [`follow`] (pipelined lanes).
pub(super) fn prepare_lanes(r: &mut Run<'_>, plans: Vec<LanePlan>) -> Result<Setup> {
    let by_id = r.ws.by_id();
    let now = crate::files::scaffold::now_rfc3339();
    let wt_root = worktree::worktrees_dir(r.repo, &r.ws.config, &r.run_id);
    let setup_started = Instant::now();
    let mut prepared = Vec::new();
    let mut fresh = Vec::new();
    for p in plans {
        let lane = p.lane.clone();
        let branch = worktree::lane_branch(&r.ws.config, &r.run_id, &lane);
        let path = wt_root.join(&lane);
        let files = r.dir.join(&lane);
        crate::base::fsutil::create_dir_all(&files)?;
        let log = files.join("worker.log");
        // A worktree whose checkout a crash or a full disk cut short is never reused; one whose
        // worker already ran (or made by an older git-lanes, without the marker) always is.
        let never_worked = r.state.lanes.get(&lane).is_none_or(|l| matches!(l.status, LaneStatus::Unset | LaneStatus::Pending));
        if path.exists() && never_worked && !worktree::is_ready(&path) {
            worktree::discard_unready(&r.repo.root, &path)?;
        }
        if !path.exists() {
            if r.repo.git.find_branch(&branch, git2::BranchType::Local).is_ok() {
                worktree::add_existing(&r.repo.root, &path, &branch)?;
            } else {
                fresh.push((
                    lane.clone(),
                    worktree::NewWorktree {
                        path: path.clone(),
                        branch: branch.clone(),
                        base: r.base.clone(),
                        log: log.clone(),
                        reuse: None,
                    },
                ));
            }
        }
        let spec = r.ws.specs.get(&lane);
        let yaml = match r.work_orders.get(&lane) {
            Some(y) => y.clone(),
            None => {
                let cx = workorder::Context { run_id: &r.run_id, created_at: &now, config: &r.ws.config, spec, issues: &by_id };
                WorkOrder::build(&p, &cx)?.to_yaml()?
            }
        };
        crate::base::fsutil::write_atomic(&files.join("work-order.yaml"), yaml.as_bytes())?;
        let prompt = workorder::prompt(spec.map(|s| s.body.as_str()).unwrap_or(""), &yaml);
        crate::base::fsutil::write_atomic(&files.join("prompt.md"), prompt.as_bytes())?;
        let recorded = r.state.lanes.get(&lane).and_then(|l| l.worker.clone());
        let worker = lane_worker(&r.ws, &r.opts, recorded.as_deref(), &lane)?;
        prepared.push((p, branch, path, files, worker));
    }
    // Worktrees a finished run pooled are re-pointed instead of added (`git::pool`).
    for note in crate::git::pool::assign(r.repo, &r.ws.config, fresh.iter_mut().map(|(_, w)| w).collect()) {
        r.emit(RunEvent::Note(note));
    }
    for (p, branch, path, files, worker) in prepared {
        let lane = p.lane.clone();
        let ls = r.lane_state(&lane);
        ls.branch = Some(branch.clone());
        ls.worktree = Some(path.display().to_string());
        ls.worker = Some(worker.clone());
        if !fresh.iter().any(|(l, _)| *l == lane) {
            r.emit(RunEvent::WorktreeReady { lane: lane.clone(), path: path.clone() });
        }
        r.lanes.insert(
            lane,
            LaneRun {
                plan: p,
                branch,
                worktree: path,
                files,
                worker,
                duration: None,
                keep_out: Vec::new(),
                resolved_before: Vec::new(),
                fork: None,
                judged_before: None,
            },
        );
    }
    if fresh.is_empty() {
        r.state.worktree_setup_ms = Some(setup_started.elapsed().as_millis() as u64);
    }
    r.save()?;
    Ok(Setup { fresh, started: setup_started })
}

/// Start the set-up thread for `setup`'s worktrees; it reports each one on `events`. `None` when
/// nothing is to be set up.
fn start_setup(
    fresh: Vec<(String, worktree::NewWorktree)>,
    r: &Run<'_>,
    events: mpsc::Sender<Event>,
) -> std::io::Result<Option<std::thread::JoinHandle<()>>> {
    if fresh.is_empty() {
        return Ok(None);
    }
    let root = r.repo.root.clone();
    let config = r.ws.config.setup.clone();
    let (lanes, items): (Vec<String>, Vec<worktree::NewWorktree>) = fresh.into_iter().unzip();
    let work = move || {
        worktree::add_many_streaming(&root, &items, &config, &|k, res| {
            let _ = events.send(Event::WorktreeReady { lane: lanes[k].clone(), result: res.map_err(|e| e.to_string()) });
        });
    };
    std::thread::Builder::new().name("lane-setup".into()).spawn(work).map(Some)
}

/// Save the live state while workers run. A full disk (ENOSPC) or any other write error must not
/// end the run — that would kill live workers: it is said once, and the save is tried again at
/// the next change.
fn save_following(r: &mut Run<'_>, warned: &mut bool) {
    match r.save() {
        Ok(()) => *warned = false,
        Err(e) if !*warned => {
            *warned = true;
            r.emit(RunEvent::Note(format!("could not save the run state ({e}); the workers keep running and the save is retried")));
        }
        Err(_) => {}
    }
}

/// The settings that bound the lanes: how many run at once, the `.done` grace, the stall limit.
struct Limits {
    max_parallel: usize,
    done_grace: Duration,
    stall_after: Duration,
}

/// The one owner of every lane's state while the run follows them.
struct Coordinator<'r, 'a> {
    r: &'r mut Run<'a>,
    main_signals: PathBuf,
    states: BTreeMap<String, LaneStage>,
    /// Lanes waiting to start (preparing or ready), in the order they start.
    queue: VecDeque<String>,
    running: BTreeMap<String, Active>,
    events: mpsc::Sender<Event>,
    /// Events taken off the channel while hints were merged, handled next.
    held: VecDeque<Event>,
    watcher: SignalWatcher,
    limits: Limits,
    presses_seen: usize,
    /// When the first Ctrl-C (or SIGTERM, SIGHUP) came: workers still running [`KILL_AFTER`]
    /// later are killed as a second press would (nobody may be there to press it).
    interrupted_at: Option<Instant>,
    save_warned: bool,
    setup_started: Instant,
    next_tick: Instant,
    /// When the tick last read every lane's signal files (see [`RESCAN_EVERY`]).
    rescanned_at: Instant,
    /// Collects a finished lane while the others still work (a fixing run; a hunt judges its
    /// findings once every hunter has ended).
    collector: Option<Collector>,
    /// Finished lanes waiting for a free collection slot, in the order they ended.
    to_collect: VecDeque<String>,
    /// Lanes being collected now (at most [`collect::POOL`]).
    collecting: BTreeSet<String>,
}

/// How long workers get to stop after the first interrupt before they are killed.
const KILL_AFTER: Duration = Duration::from_secs(10);

/// Steps 4–5: start workers (at most `max_parallel` at once) and follow every lane to an end.
/// Returns whether the run was interrupted.
pub(super) fn follow(r: &mut Run<'_>, setup: Setup) -> Result<bool> {
    let (events, rx) = mpsc::channel::<Event>();
    // What a worker or check detaches from its group comes back to git-lanes, to be ended.
    crate::exec::process::become_subreaper();
    crate::exec::cgroup::remove_stale();
    let fresh: BTreeSet<String> = setup.fresh.iter().map(|(l, _)| l.clone()).collect();
    let mut c = Coordinator::new(r, &fresh, setup.started, events.clone())?;
    c.take_over_lanes(&fresh);
    let setup_thread = match start_setup(setup.fresh, c.r, events) {
        Ok(handle) => handle,
        Err(e) => {
            c.on_setup_unavailable(&fresh, &e);
            None
        }
    };
    if let Some(why) = c.watcher.degraded.clone() {
        c.r.emit(RunEvent::Note(format!("signal events unavailable: {why}")));
    }
    let followed = c.run_until_settled(&rx);
    // Worktrees still being set up (after Ctrl-C): let the set-up thread finish, so nothing is
    // half checked out when the run is collected or resumed.
    if let Some(handle) = setup_thread {
        let _ = handle.join();
    }
    followed?;
    c.finish()
}

impl<'r, 'a> Coordinator<'r, 'a> {
    /// Watch the signal folders of worktrees that exist; the others are added once set up
    /// (creating the folder earlier would make the worktree's path exist before `git worktree
    /// add`).
    fn new(r: &'r mut Run<'a>, fresh: &BTreeSet<String>, setup_started: Instant, events: mpsc::Sender<Event>) -> Result<Self> {
        let main_signals = r.repo.root.join(&r.ws.config.signals);
        crate::base::fsutil::create_dir_all(&main_signals)?;
        let mut dirs = vec![main_signals.clone()];
        dirs.extend(r.lanes.iter().filter(|(l, _)| !fresh.contains(*l)).map(|(_, lr)| lr.worktree.join(&r.ws.config.signals)));
        let watcher = SignalWatcher::new(dirs, events.clone(), || Event::SignalSeen);
        let limits = Limits {
            max_parallel: r.settings.max_parallel.unwrap_or(usize::MAX).max(1),
            done_grace: r.settings.done_grace,
            stall_after: r.settings.stall_after,
        };
        let collector = (r.task == crate::run::context::TASK_FIX).then(|| Collector::new(r));
        Ok(Coordinator {
            r,
            main_signals,
            states: BTreeMap::new(),
            queue: VecDeque::new(),
            running: BTreeMap::new(),
            events,
            held: VecDeque::new(),
            watcher,
            limits,
            presses_seen: 0,
            interrupted_at: None,
            save_warned: false,
            setup_started,
            next_tick: Instant::now() + TICK,
            rescanned_at: Instant::now(),
            collector,
            to_collect: VecDeque::new(),
            collecting: BTreeSet::new(),
        })
    }

    /// Each lane's state from the live state: ended ones stay ended, a resumed lane whose worker
    /// still runs is followed by pid, the rest wait for their worktree or a slot.
    fn take_over_lanes(&mut self, fresh: &BTreeSet<String>) {
        let lanes: Vec<(String, PathBuf)> = self.r.lanes.iter().map(|(l, lr)| (l.clone(), lr.worktree.clone())).collect();
        let mut finished_unwatched = Vec::new();
        for (lane, worktree) in lanes {
            let (status, pid) = self.r.state.lanes.get(&lane).map(|ls| (ls.status.clone(), ls.worker_pid)).unwrap_or_default();
            match LaneStage::of(&status) {
                _ if status == LaneStatus::Collected => {}
                Some(ended @ (LaneStage::Done | LaneStage::Failed | LaneStage::TimedOut)) => {
                    self.states.insert(lane, ended);
                }
                Some(LaneStage::Running) => {
                    // Resume: a worker from a dead orchestrator may still be alive.
                    let mut follow = LaneFollow::new(&lane, vec![self.main_signals.clone(), worktree.join(&self.r.ws.config.signals)]);
                    if let Some(pid) = pid.filter(|p| crate::exec::process::pid_alive(*p)) {
                        self.running.insert(lane.clone(), Active::adopted(self.r, &lane, pid, follow));
                        self.states.insert(lane, LaneStage::Running);
                        continue;
                    }
                    // Its worker finished (`.done` written, process gone) while nobody watched:
                    // the lane is done; running the worker again would redo (and re-bill) its work.
                    follow.rescan();
                    if follow.done {
                        finished_unwatched.push(lane);
                    } else {
                        self.enqueue(lane, fresh);
                    }
                }
                _ => self.enqueue(lane, fresh),
            }
        }
        for lane in finished_unwatched {
            self.on_finished_unwatched(lane);
        }
    }

    fn enqueue(&mut self, lane: String, fresh: &BTreeSet<String>) {
        let state = if fresh.contains(&lane) { LaneStage::Preparing } else { LaneStage::Ready };
        self.states.insert(lane.clone(), state);
        self.queue.push_back(lane);
    }

    /// running → done: the worker of the earlier run wrote `.done` and exited before the resume.
    fn on_finished_unwatched(&mut self, lane: String) {
        let ls = self.r.lane_state(&lane);
        ls.status = LaneStage::Done.status();
        ls.exit = Some("worker from the earlier run finished (.done written) before the run was resumed".into());
        ls.completed_at = Some(crate::files::scaffold::now_rfc3339());
        let detail = ls.exit.clone().unwrap_or_default();
        self.states.insert(lane.clone(), LaneStage::Done);
        self.r.emit(RunEvent::LaneEnded { lane, state: LaneStage::Done.as_str().into(), detail });
    }

    /// preparing → failed, for every lane: no set-up thread, so no new worktree.
    fn on_setup_unavailable(&mut self, fresh: &BTreeSet<String>, e: &std::io::Error) {
        for lane in fresh {
            self.queue.retain(|l| l != lane);
            let why = format!("could not set up the worktree: {e}");
            self.fail(lane, why.clone(), why);
        }
    }

    /// The loop: start what can start, stop once nothing runs, waits or is being collected,
    /// else take the next event. After Ctrl-C no lane starts and no collection begins (the rest
    /// is collected after the loop), but those under way end first.
    fn run_until_settled(&mut self, rx: &mpsc::Receiver<Event>) -> Result<()> {
        loop {
            self.start_ready_lanes();
            self.start_collections();
            let waiting = !self.interrupted() && (!self.queue.is_empty() || !self.to_collect.is_empty());
            if self.running.is_empty() && self.collecting.is_empty() && !waiting {
                return Ok(());
            }
            let event = self.next_event(rx);
            self.dispatch(event)?;
        }
    }

    /// The next event: Ctrl-C first, then what has arrived — a signal hint before the rest (a
    /// burst of hints is one event, and reading the signal files is cheap and what the latency
    /// counts, while ending a lane saves the state) — else what comes before the next tick, else
    /// the tick.
    fn next_event(&mut self, rx: &mpsc::Receiver<Event>) -> Event {
        let presses = self.r.interrupts.load(Ordering::SeqCst);
        if presses > self.presses_seen {
            return Event::Interrupt { presses };
        }
        if take_arrived(rx, &mut self.held) {
            return Event::SignalSeen;
        }
        if let Some(event) = self.held.pop_front() {
            return event;
        }
        let now = Instant::now();
        if now < self.next_tick
            && let Ok(event) = rx.recv_timeout(self.next_tick - now)
        {
            if matches!(event, Event::SignalSeen) {
                take_arrived(rx, &mut self.held);
            }
            return event;
        }
        self.next_tick = Instant::now() + TICK;
        Event::Tick
    }

    fn dispatch(&mut self, event: Event) -> Result<()> {
        match event {
            Event::SignalSeen => self.on_signal_seen(),
            Event::WorktreeReady { lane, result: Ok(()) } => self.on_worktree_ready(lane),
            Event::WorktreeReady { lane, result: Err(why) } => self.on_worktree_failed(lane, &why)?,
            Event::WorkerExited { lane } => self.on_exit(&lane),
            Event::Tick => self.on_tick(),
            Event::Interrupt { presses } => self.on_interrupt(presses),
            Event::Collected(c) => self.on_collected(*c)?,
        }
        Ok(())
    }

    fn interrupted(&self) -> bool {
        self.presses_seen > 0
    }

    /// ready → running (or failed), in queue order while there is a free slot (not after Ctrl-C).
    fn start_ready_lanes(&mut self) {
        while !self.interrupted() && self.running.len() < self.limits.max_parallel {
            let Some(at) = self.queue.iter().position(|l| self.states.get(l) == Some(&LaneStage::Ready)) else { break };
            let Some(lane) = self.queue.remove(at) else { break };
            if let Some(why) = super::attempts::budget_reached(self.r) {
                self.fail(&lane, format!("not started: {why}"), format!("not started: {why}"));
                save_following(self.r, &mut self.save_warned);
                continue;
            }
            // A stale `.done` from an earlier run (in either folder) must not end the new worker
            // at once.
            let _ = crate::base::fsutil::remove_file_if_exists(&SignalFile::Done.path(&self.main_signals, &lane));
            if let Some(lr) = self.r.lanes.get(&lane) {
                let _ =
                    crate::base::fsutil::remove_file_if_exists(&SignalFile::Done.path(&lr.worktree.join(&self.r.ws.config.signals), &lane));
            }
            match worker::start(self.r, &lane, &self.main_signals, &self.events) {
                Ok(active) => {
                    self.running.insert(lane.clone(), active);
                    self.states.insert(lane, LaneStage::Running);
                }
                Err(e) => self.fail(&lane, format!("could not start: {e}"), format!("could not start the worker: {e}")),
            }
            save_following(self.r, &mut self.save_warned);
        }
    }

    /// done → being collected, in the order lanes ended while there is a free slot (not after
    /// Ctrl-C). The lane's worktree is the collection's alone from now on: its worker has ended.
    /// None while worktrees are still being set up: every lane still waiting for its worktree
    /// needs the cores more than a judgement that can come later (measured on 32 lanes, two
    /// cores: judging one lane at a time during set-up made the set-up, and the whole run, about
    /// 0.6 s slower than waiting).
    fn start_collections(&mut self) {
        let Some(collector) = &self.collector else { return };
        let slots = if self.setting_up() { 0 } else { collect::POOL };
        while !self.interrupted() && self.collecting.len() < slots {
            let Some(lane) = self.to_collect.pop_front() else { break };
            let Some(input) = collect::lane_input(self.r, &lane) else { continue };
            crate::run::timeline::collection_begins(&mut self.r.state);
            let events = self.events.clone();
            match collector.start(input, move |c| drop(events.send(Event::Collected(Box::new(c))))) {
                Ok(()) => {
                    self.collecting.insert(lane);
                }
                // No thread for it: the lane is collected with the rest after the loop.
                Err(e) => self.r.emit(RunEvent::Note(format!("lane {lane}: collected at the end of the run ({e})"))),
            }
        }
    }

    /// being collected → collected: its judgements shown, its results in the run state.
    /// A lane with a rejected issue goes back to its worker while attempts are left
    /// (`super::attempts`): collected → ready, last in the queue.
    fn on_collected(&mut self, c: Collected) -> Result<()> {
        self.collecting.remove(&c.lane);
        let lane = c.lane.clone();
        collect::record(self.r, c)?;
        if super::attempts::after_judgement(self.r, &lane, self.interrupted())? {
            self.states.insert(lane.clone(), LaneStage::Ready);
            self.queue.push_back(lane);
        }
        self.r.save()
    }

    /// preparing → ready: the lane's worktree exists; its signal folder is watched from now on.
    fn on_worktree_ready(&mut self, lane: String) {
        if self.states.get(&lane) == Some(&LaneStage::Preparing) {
            self.states.insert(lane.clone(), LaneStage::Ready);
        }
        let path = self.r.lanes.get(&lane).map(|l| l.worktree.clone()).unwrap_or_default();
        self.watcher.add_dir(path.join(&self.r.ws.config.signals));
        self.r.emit(RunEvent::WorktreeReady { lane, path });
        self.note_setup_progress();
    }

    /// preparing → failed: the set-up thread could not make the lane's worktree.
    fn on_worktree_failed(&mut self, lane: String, why: &str) -> Result<()> {
        self.queue.retain(|l| *l != lane);
        let why = format!("could not set up the worktree: {why}");
        self.fail(&lane, why.clone(), why);
        self.r.save()?;
        self.note_setup_progress();
        Ok(())
    }

    /// Once no worktree is being made, the set-up time is known.
    fn note_setup_progress(&mut self) {
        if !self.setting_up() && self.r.state.worktree_setup_ms.is_none() {
            self.r.state.worktree_setup_ms = Some(self.setup_started.elapsed().as_millis() as u64);
        }
    }

    /// Whether a lane's worktree is still being made.
    fn setting_up(&self) -> bool {
        self.states.values().any(|s| *s == LaneStage::Preparing)
    }

    /// A lane fails before a worker ran for it: `exit` is saved, `detail` shown.
    fn fail(&mut self, lane: &str, exit: String, detail: String) {
        let ls = self.r.lane_state(lane);
        ls.status = LaneStage::Failed.status();
        ls.exit = Some(exit);
        self.states.insert(lane.to_string(), LaneStage::Failed);
        self.r.emit(RunEvent::LaneEnded { lane: lane.to_string(), state: LaneStage::Failed.as_str().into(), detail });
    }

    /// Signal files changed: every running lane's files are read again (a lane ends on its
    /// worker's exit or on the timer, not here).
    fn on_signal_seen(&mut self) {
        self.watcher.rewatch();
        let lanes: Vec<String> = self.running.keys().cloned().collect();
        for lane in lanes {
            self.rescan(&lane);
        }
    }

    /// The timer: the operator's requests, then every running lane's exit and deadlines; folders
    /// re-watched and signal files read again every [`RESCAN_EVERY`] (every tick without events).
    fn on_tick(&mut self) {
        let full = self.watcher.degraded.is_some() || self.rescanned_at.elapsed() >= RESCAN_EVERY;
        if full {
            self.rescanned_at = Instant::now();
            self.watcher.rewatch();
        }
        if self.presses_seen == 1 && self.interrupted_at.is_some_and(|t| t.elapsed() >= KILL_AFTER) && !self.running.is_empty() {
            self.on_interrupt(2);
        }
        for control in take_controls(self.r) {
            match control {
                LaneControl::Stop(lane) => self.on_stop(&lane),
                LaneControl::Restart(lane) => self.on_restart(lane),
            }
        }
        let lanes: Vec<String> = self.running.keys().cloned().collect();
        for lane in lanes {
            self.follow_lane(&lane, full);
        }
    }

    /// Check a running lane: whether its worker has exited, its signal files (with `rescan`),
    /// then its deadlines: the `.done` grace, the timeout, a stuck log, a stall. The exit is read
    /// *before* the signal files: a worker writes `.done` and then exits, so an exit seen here
    /// comes with a `.done` the rescan in [`Self::on_exit`] sees.
    fn follow_lane(&mut self, lane: &str, rescan: bool) {
        let Some(a) = self.running.get_mut(lane) else { return };
        if a.exited().is_some() {
            return self.on_exit(lane);
        }
        if rescan {
            self.rescan(lane);
        }
        let (grace, stall_after) = (self.limits.done_grace, self.limits.stall_after);
        let budget = super::attempts::budget_left(self.r);
        let Some(a) = self.running.get_mut(lane) else { return };
        let ended = if a.past_grace(grace) {
            Some(a.on_grace_over(grace))
        } else if a.started.elapsed() >= a.timeout {
            Some(a.on_timeout())
        } else {
            a.end_if_stuck_or_over_budget(&self.r.dir, budget).or_else(|| a.end_if_stalled(&self.r.dir, stall_after))
        };
        let stalled = a.stuck.as_deref().is_some_and(|s| s.starts_with("stalled:"));
        if let Some(ended) = ended {
            if stalled {
                self.on_stall(lane);
            }
            self.end_lane(lane, ended);
        }
    }

    /// The lane's signal files read again; each change goes to its handler.
    fn rescan(&mut self, lane: &str) {
        let Some(a) = self.running.get_mut(lane) else { return };
        let changes = a.follow.rescan();
        for change in changes {
            match change {
                Change::Status(text) => self.on_status(lane, text),
                Change::Done { latency } => self.on_done_seen(lane, latency),
                Change::Warning(text) => self.on_signal_warning(lane, text),
            }
        }
    }

    /// running → running: a new status line.
    fn on_status(&mut self, lane: &str, text: String) {
        self.r.lane_state(lane).last_status = Some(text.clone());
        self.r.emit(RunEvent::LaneStatus { lane: lane.to_string(), text });
    }

    /// running → running, done seen: the lane ends when its worker exits (or the grace is over).
    fn on_done_seen(&mut self, lane: &str, latency: Option<Duration>) {
        let ms = latency.map(|d| d.as_secs_f64() * 1000.0);
        self.r.lane_state(lane).signal_latency_ms = ms;
        self.r.emit(RunEvent::LaneDone { lane: lane.to_string(), latency_ms: ms });
    }

    /// A signal file that is not a regular file, or too large.
    fn on_signal_warning(&mut self, lane: &str, text: String) {
        self.r.lane_state(lane).warnings.push(text.clone());
        (self.r.observer)(&RunEvent::Note(format!("lane {lane}: {text}")));
    }

    /// running → failed (ended next): no sign of life from the worker for `stall_after`.
    fn on_stall(&mut self, lane: &str) {
        let secs = self.limits.stall_after.as_secs();
        (self.r.observer)(&RunEvent::LaneStalled { lane: lane.to_string(), for_secs: secs });
    }

    /// running → done | failed | timed_out | interrupted: the worker exited. A hint for a lane
    /// that has ended, or whose worker was restarted and runs, is ignored.
    fn on_exit(&mut self, lane: &str) {
        let Some(ending) = self.running.get_mut(lane).and_then(Active::exited) else { return };
        self.rescan(lane);
        let presses = self.presses_seen;
        let Some(ended) = self.running.get(lane).map(|a| a.on_exit(ending, presses)) else { return };
        self.end_lane(lane, ended);
    }

    /// running → failed, or ready/preparing → failed: the operator stopped the lane.
    fn on_stop(&mut self, lane: &str) {
        if let Some(a) = self.running.get_mut(lane) {
            let ended = a.on_stop();
            self.end_lane(lane, ended);
        } else if let Some(at) = self.queue.iter().position(|l| l == lane) {
            self.queue.remove(at);
            self.end_lane(lane, Ended::new(LaneStage::Failed, "stopped by the operator before it started"));
        }
    }

    /// any state → ready, first in the queue: the operator restarted the lane (its worker, if
    /// it runs, is ended first; a judgement already made is made again when it ends). Not after
    /// Ctrl-C, nor for a lane already waiting, nor while the lane is being judged.
    fn on_restart(&mut self, lane: String) {
        if !self.r.lanes.contains_key(&lane) || self.queue.contains(&lane) || self.interrupted() {
            return;
        }
        if self.collecting.contains(&lane) {
            let note = format!("lane {lane}: not restarted: it is being judged; restart it once its judgement is shown");
            return self.r.emit(RunEvent::Note(note));
        }
        self.to_collect.retain(|l| *l != lane);
        self.r.collected.remove(&lane);
        if let Some(mut a) = self.running.remove(&lane) {
            a.end_group();
        }
        let ls = self.r.lane_state(&lane);
        ls.status = LaneStage::Pending.status();
        ls.exit = None;
        ls.completed_at = None;
        self.r.emit(RunEvent::Note(format!("lane {lane}: restarted by the operator")));
        self.states.insert(lane.clone(), LaneStage::Ready);
        self.queue.push_front(lane);
    }

    /// Ctrl-C: SIGINT to every lane group (SIGKILL from the second press, then each is reaped),
    /// and no lane starts any more.
    fn on_interrupt(&mut self, presses: usize) {
        self.presses_seen = presses;
        self.interrupted_at.get_or_insert_with(Instant::now);
        self.r.emit(RunEvent::Interrupted { count: presses });
        let sig = if presses >= 2 { libc::SIGKILL } else { libc::SIGINT };
        for a in self.running.values() {
            if let Some(c) = &a.child {
                let _ = c.signal_group(sig);
            }
        }
        self.r.state.status = RunStatus::Interrupted;
        if presses >= 2 {
            for c in self.running.values_mut().filter_map(|a| a.child.as_mut()) {
                c.terminate(Duration::ZERO);
            }
        }
    }

    /// A lane has ended: what its log says is read, its state saved and shown.
    fn end_lane(&mut self, lane: &str, ended: Ended) {
        // Every lane that ran since the last comparison (this one among them) may have moved a
        // ref; each lane's end compares them.
        let suspects: Vec<String> = self.running.keys().cloned().collect();
        crate::run::context::check_refs(self.r, &suspects);
        // A lane stopped before it started has no worker.
        let mut a = self.running.remove(lane);
        let cgroup = a.as_mut().and_then(|a| a.cgroup.take());
        let r = &mut *self.r;
        if let (Some(a), Some(lr)) = (&a, r.lanes.get_mut(lane)) {
            lr.duration = Some(a.started.elapsed());
        }
        let preset =
            a.as_ref().map(|a| a.preset).unwrap_or_else(|| worker::preset_of(r.lanes.get(lane).map_or("", |lr| lr.worker.as_str())));
        let log = r.dir.join(lane).join("worker.log");
        let outcome = WorkerOutcome::of(preset, &log, ended, a.and_then(|a| a.stuck));
        let ws = std::sync::Arc::clone(&r.ws);
        let ls = r.lane_state(lane);
        ls.status = outcome.state.status();
        ls.exit = Some(outcome.detail.clone());
        ls.completed_at = Some(crate::files::scaffold::now_rfc3339());
        ls.reason = outcome.reason.clone();
        ls.limit = outcome.usage.as_ref().and_then(|u| u.limit.clone());
        ls.log = Some(log.display().to_string());
        if let Some(u) = &outcome.usage {
            ls.cost_usd = u.cost_usd;
            ls.turns = u.turns;
            ls.input_tokens = u.input_tokens;
            ls.output_tokens = u.output_tokens;
            ls.cost_estimated = false;
            if ls.cost_usd.is_none() {
                let prices = ws.config.agents.get(preset.name()).map(|a| &a.prices);
                let price = prices.and_then(|p| ls.model.as_deref().and_then(|m| p.get(m)).or_else(|| p.get("*")));
                if let Some(price) = price
                    && (u.input_tokens.is_some() || u.output_tokens.is_some())
                {
                    #[allow(clippy::cast_precision_loss, reason = "token counts are far below 2^52")]
                    let dollars =
                        (u.input_tokens.unwrap_or(0) as f64 * price.input + u.output_tokens.unwrap_or(0) as f64 * price.output) / 1e6;
                    ls.cost_usd = Some(dollars);
                    ls.cost_estimated = true;
                }
            }
        }
        // This attempt's usage (its cost perhaps estimated from the prices above).
        let usage = outcome.usage.as_ref();
        let tokens = usage.and_then(|u| match (u.input_tokens, u.output_tokens) {
            (None, None) => None,
            (i, o) => Some(i.unwrap_or(0) + o.unwrap_or(0)),
        });
        let cost = usage.and(ls.cost_usd);
        super::attempts::worker_ended(ls, &outcome.state.status(), cost, tokens, &outcome.detail);
        let used = RunEvent::LaneUsage {
            lane: lane.to_string(),
            cost_usd: ls.cost_usd,
            cost_estimated: ls.cost_estimated,
            input_tokens: ls.input_tokens,
            output_tokens: ls.output_tokens,
        };
        if let Some(lr) = r.lanes.get(lane)
            && let Err(e) = presets::remove_droppings(&lr.worktree)
        {
            r.lane_state(lane).warnings.push(format!("could not remove the agent's own files: {e}"));
        }
        let left = worker::end_left_behind(r, lane, cgroup.as_ref());
        r.lane_state(lane).warnings.extend(left);
        self.states.insert(lane.to_string(), outcome.state);
        if outcome.state == LaneStage::Done && self.collector.is_some() {
            self.to_collect.push_back(lane.to_string());
        }
        let shown = outcome.shown(preset, &log);
        self.r.emit(used);
        let by_operator = outcome.detail.starts_with("stopped by the operator");
        self.r.emit(RunEvent::LaneEnded { lane: lane.to_string(), state: outcome.state.as_str().into(), detail: shown.clone() });
        if matches!(outcome.state, LaneStage::Failed | LaneStage::TimedOut) && !by_operator {
            super::notify::lane_needs_human(self.r, lane, &shown);
        }
        save_following(self.r, &mut self.save_warned);
    }

    /// After the last worker: on Ctrl-C, lanes still pending or running are left interrupted.
    fn finish(self) -> Result<bool> {
        let interrupted = self.interrupted();
        // Every worker, check and set-up command has ended: a child of git-lanes still alive
        // is one they left behind with its environment cleared (found by the subreaper).
        let orphans = crate::exec::process::adopted_orphans(&[]);
        if !orphans.is_empty() {
            crate::exec::process::end_processes(&orphans, Duration::from_millis(500));
            let list: Vec<String> = orphans.iter().map(ToString::to_string).collect();
            self.r.emit(RunEvent::Note(format!("ended processes a worker or check left running: {}", list.join(", "))));
        }
        if interrupted {
            for (lane, ls) in self.r.state.lanes.iter_mut() {
                if matches!(LaneStage::of(&ls.status), Some(LaneStage::Running | LaneStage::Pending)) {
                    ls.status = LaneStage::Interrupted.status();
                    ls.warnings.push(format!("lane {lane} was interrupted; `git lanes run --resume` restarts it"));
                }
            }
            self.r.state.status = RunStatus::Interrupted;
        }
        self.r.save()?;
        Ok(interrupted)
    }
}

/// Move what the channel holds to `held`, signal hints aside (any number of them are one
/// rescan); whether there was one.
fn take_arrived(rx: &mpsc::Receiver<Event>, held: &mut VecDeque<Event>) -> bool {
    let mut hinted = false;
    for event in rx.try_iter() {
        match event {
            Event::SignalSeen => hinted = true,
            other => held.push_back(other),
        }
    }
    hinted
}

/// The operator's requests since the last tick: from the live view's queue, and from the
/// `control` files `git lanes stop|restart <LANE>` writes into a lane's run folder.
fn take_controls(r: &Run<'_>) -> Vec<crate::run::options::LaneControl> {
    let mut out: Vec<crate::run::options::LaneControl> = match &r.opts.controls {
        Some(q) => q.lock().map(|mut q| q.drain(..).collect()).unwrap_or_default(),
        None => Vec::new(),
    };
    for (lane, lr) in &r.lanes {
        let path = lr.files.join(crate::run::options::CONTROL_FILE);
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        let _ = std::fs::remove_file(&path);
        match text.trim() {
            "stop" => out.push(crate::run::options::LaneControl::Stop(lane.clone())),
            "restart" => out.push(crate::run::options::LaneControl::Restart(lane.clone())),
            _ => {}
        }
    }
    out
}

/// The worker setting of a lane: `--worker`, else the worker the run recorded for it (a resumed
/// run keeps its lanes' workers), else the spec's, else `lanes.yaml`'s; or the error saying how
/// to give one.
pub(crate) fn lane_worker(ws: &Workspace, opts: &RunOptions, recorded: Option<&str>, lane: &str) -> Result<String> {
    let spec = ws.specs.get(lane).and_then(|s| s.worker.as_deref());
    let spec = recorded.filter(|w| !w.trim().is_empty()).or(spec);
    presets::lane_setting(opts.worker.as_deref(), spec, ws.config.worker.as_deref()).map(str::to_owned).ok_or_else(|| {
        Error::usage(
            format!("no worker for lane {lane}"),
            Some(format!(
                "pass `--worker claude` (or {}, or a command line), or set `worker:` in lanes.yaml or the lane's spec",
                Preset::NAMES[2..].join(", ")
            )),
        )
    })
}

/// `model:` maps and `agents:` keyed by something that is no preset: refused, with the line.
fn check_agent_keys(root: &Path, ws: &Workspace) -> Result<()> {
    let config = Path::new(crate::files::config::CONFIG_FILE);
    let mut wrong: Vec<(PathBuf, String)> = crate::planning::model::unknown_presets(ws.config.model.as_ref())
        .into_iter()
        .chain(ws.config.agents.keys().filter(|k| k.parse::<Preset>().is_err()).cloned())
        .map(|k| (config.to_path_buf(), k))
        .collect();
    for spec in ws.specs.values() {
        wrong.extend(crate::planning::model::unknown_presets(spec.model.as_ref()).into_iter().map(|k| (spec.path.clone(), k)));
    }
    let Some((file, key)) = wrong.into_iter().next() else { return Ok(()) };
    let full = if file.is_absolute() { file.clone() } else { root.join(&file) };
    let text = std::fs::read_to_string(&full).unwrap_or_default();
    let line = text.lines().position(|l| l.contains(&format!("{key}:"))).map_or(0, |n| n + 1);
    let shown = file.strip_prefix(root).unwrap_or(&file).to_path_buf();
    Err(crate::base::error::Problem::new(shown, line, format!("`{key}` is not an agent preset (a key of `model:` or `agents:`)"))
        .with_hint(format!("use one of: {}", Preset::NAMES.join(", ")))
        .into())
}

/// The preflight for workers (before any lock, branch, worktree or commit exists): every lane
/// that will run has a worker, its limits are valid, and its program is installed. `state` is the
/// state of the run being resumed, whose recorded workers count (see [`lane_worker`]).
pub(super) fn check_workers(
    root: &Path,
    ws: &Workspace,
    opts: &RunOptions,
    state: Option<&crate::run::state::RunState>,
    lanes: &[&str],
) -> Result<()> {
    let path = presets::worker_path().or_else(|| std::env::var_os("PATH"));
    let nowhere = Path::new("");
    check_agent_keys(root, ws)?;
    let sandboxed = crate::run::settings::Settings::resolve(opts, &ws.config).sandbox_workers;
    for lane in lanes {
        let recorded = state.and_then(|s| s.lanes.get(*lane)).and_then(|l| l.worker.as_deref());
        let worker = lane_worker(ws, opts, recorded, lane)?;
        let ctx = WorkerContext {
            prompt_file: nowhere,
            work_order_file: nowhere,
            state_dir: nowhere,
            model: None,
            max_turns: opts.max_turns,
            max_budget_usd: opts.max_budget_usd,
            lane,
            sandboxed,
        };
        let cmd = presets::resolve_worker(&worker, &ctx).map_err(worker::worker_error)?;
        presets::check_worker(&cmd, lane, path.as_deref(), root).map_err(worker::worker_error)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::run::coordinator::*;

    #[test]
    fn lane_states_keep_the_words_of_the_state_file() {
        let all = [
            LaneStage::Pending,
            LaneStage::Preparing,
            LaneStage::Ready,
            LaneStage::Running,
            LaneStage::Done,
            LaneStage::Failed,
            LaneStage::TimedOut,
            LaneStage::Interrupted,
        ];
        let words: Vec<&str> = all.iter().map(|s| s.as_str()).collect();
        assert_eq!(words, ["pending", "pending", "pending", "running", "done", "failed", "timed_out", "interrupted"]);
        // Every word the coordinator writes reads back as the state (a waiting lane as pending).
        for s in all {
            assert_eq!(s.status().as_str(), s.as_str());
            let back = LaneStage::of(&s.status()).unwrap();
            assert_eq!(back.as_str(), s.as_str());
        }
        assert_eq!(LaneStage::of(&LaneStatus::Collected), None);
        assert_eq!(LaneStage::of(&LaneStatus::Unset), None);
    }

    #[test]
    fn a_burst_of_signal_hints_is_one_and_keeps_the_other_events_in_order() {
        let (tx, rx) = mpsc::channel();
        for e in [Event::WorkerExited { lane: "E".into() }, Event::SignalSeen, Event::Tick, Event::SignalSeen] {
            tx.send(e).unwrap();
        }
        let mut held = VecDeque::new();
        assert!(take_arrived(&rx, &mut held));
        assert!(matches!(held.pop_front(), Some(Event::WorkerExited { lane }) if lane == "E"));
        assert!(matches!(held.pop_front(), Some(Event::Tick)));
        assert!(held.is_empty());
        assert!(!take_arrived(&rx, &mut held), "nothing more arrived");
    }
}
