//! Steps 3–5: lane worktrees, workers, and following them to an end.
//!
//! # Design note: the coordinator
//! One thread owns every lane's state. Its inputs are hints on one channel — notify events from
//! the signal folders — plus a 100 ms tick. On each wake-up it rescans the signal files of running
//! lanes (events are hints, files are the truth), polls each worker with a non-blocking wait, and
//! applies the rules: `.done` + exited ⇒ done; `.done` + still running after `done_grace` ⇒ group
//! ended, done (agent CLIs are known to hang after finishing); exit without `.done` or non-zero ⇒
//! failed; past the lane timeout ⇒ group killed, timed out; status unchanged for `stall_after` ⇒
//! a warning. Ctrl-C once forwards SIGINT to every lane group, stops scheduling and saves state;
//! twice kills the groups.

use std::collections::{BTreeMap, VecDeque};
use std::ffi::OsString;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::{LaneRun, Run, RunEvent, RunOptions};
use crate::agents::presets::{self, Preset, WorkerContext};
use crate::base::error::{Error, Result};
use crate::exec::process::{self, Ending, EnvPolicy, OutputTarget, ProcessSpec, Running};
use crate::files::workspace::Workspace;
use crate::planning::plan::LanePlan;
use crate::planning::workorder::{self, WorkOrder};
use crate::run::follow::{Change, LaneFollow, SignalWatcher};
use crate::{git::worktree, run::signal};

const TICK: Duration = Duration::from_millis(100);

/// Worktrees still to be created when [`prepare_lanes`] returns; [`follow`] creates them on a
/// set-up thread and starts each lane's worker as soon as its own worktree is ready.
#[must_use]
pub(super) struct Setup {
    fresh: Vec<(String, worktree::NewWorktree)>,
    started: Instant,
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
        let never_worked = r.state.lanes.get(&lane).is_none_or(|l| matches!(l.status.as_str(), "" | "pending"));
        if path.exists() && never_worked && !worktree::is_ready(&path) {
            worktree::discard_unready(&r.repo.root, &path)?;
        }
        if !path.exists() {
            if r.repo.git.find_branch(&branch, git2::BranchType::Local).is_ok() {
                worktree::add_existing(&r.repo.root, &path, &branch)?;
            } else {
                fresh.push((
                    lane.clone(),
                    worktree::NewWorktree { path: path.clone(), branch: branch.clone(), base: r.base.clone(), log: log.clone() },
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
        let worker = lane_worker(&r.ws, &r.opts, &lane)?;
        prepared.push((p, branch, path, files, worker));
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
        r.lanes.insert(lane, LaneRun { plan: p, branch, worktree: path, files, worker, duration: None, keep_out: Vec::new() });
    }
    if fresh.is_empty() {
        r.state.worktree_setup_ms = Some(setup_started.elapsed().as_millis() as u64);
    }
    r.save()?;
    Ok(Setup { fresh, started: setup_started })
}

/// What the set-up thread reports: a lane whose worktree is ready, or why it is not.
type SetupReport = (String, std::result::Result<(), String>);

/// Start the set-up thread for `setup`'s worktrees; each report also wakes the coordinator
/// through `wake`. `None` when nothing is to be set up.
fn start_setup(
    r: &Run<'_>,
    setup: Setup,
    wake: mpsc::Sender<()>,
) -> std::io::Result<Option<(mpsc::Receiver<SetupReport>, std::thread::JoinHandle<()>)>> {
    if setup.fresh.is_empty() {
        return Ok(None);
    }
    let (tx, rx) = mpsc::channel::<SetupReport>();
    let root = r.repo.root.clone();
    let config = r.ws.config.setup.clone();
    let (lanes, items): (Vec<String>, Vec<worktree::NewWorktree>) = setup.fresh.into_iter().unzip();
    let work = move || {
        worktree::add_many_streaming(&root, &items, &config, &|k, res| {
            let _ = tx.send((lanes[k].clone(), res.map_err(|e| e.to_string())));
            let _ = wake.send(());
        });
    };
    let handle = std::thread::Builder::new().name("lane-setup".into()).spawn(work)?;
    Ok(Some((rx, handle)))
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

/// A lane being followed.
struct Active {
    lane: String,
    child: Option<Running>,
    /// A worker from an earlier orchestrator (after a crash), followed by pid only.
    foreign_pid: Option<u32>,
    follow: LaneFollow,
    started: Instant,
    timeout: Duration,
    ended_by_us: bool,
    /// Whose log format the worker's log follows.
    preset: Preset,
    /// When the log was last read for a known stuck shape.
    looked_at: Instant,
    /// Why git-lanes ended a worker that would not end on its own.
    stuck: Option<String>,
}

/// Steps 4–5: start workers (at most `max_parallel` at once) and follow every lane to an end.
/// Returns whether the run was interrupted.
pub(super) fn follow(r: &mut Run<'_>, setup: Setup) -> Result<bool> {
    let main_signals = r.repo.root.join(&r.ws.config.signals);
    crate::base::fsutil::create_dir_all(&main_signals)?;
    let mut queue: VecDeque<String> = VecDeque::new();
    let mut active: BTreeMap<String, Active> = BTreeMap::new();
    let mut finished_unwatched: Vec<String> = Vec::new();
    let mut save_warned = false;
    for (lane, lr) in &r.lanes {
        let ls = r.state.lanes.get(lane).cloned().unwrap_or_default();
        match ls.status.as_str() {
            "done" | "failed" | "timed_out" | "collected" => continue,
            "running" => {
                // Resume: a worker from a dead orchestrator may still be alive.
                let dirs = vec![main_signals.clone(), lr.worktree.join(&r.ws.config.signals)];
                if let Some(pid) = ls.worker_pid.filter(|p| crate::exec::process::pid_alive(*p)) {
                    active.insert(
                        lane.clone(),
                        Active {
                            lane: lane.clone(),
                            child: None,
                            foreign_pid: Some(pid),
                            follow: LaneFollow::new(lane, dirs),
                            started: Instant::now(),
                            timeout: lane_timeout(r, lane),
                            ended_by_us: false,
                            preset: preset_of(&lr.worker),
                            looked_at: Instant::now(),
                            stuck: None,
                        },
                    );
                    continue;
                }
                // Its worker finished (`.done` written, process gone) while nobody watched: the
                // lane is done; running the worker again would redo (and re-bill) its work.
                let mut f = LaneFollow::new(lane, dirs);
                f.rescan();
                if f.done {
                    finished_unwatched.push(lane.clone());
                    continue;
                }
                queue.push_back(lane.clone());
            }
            _ => queue.push_back(lane.clone()),
        }
    }
    for lane in finished_unwatched {
        let ls = r.lane_state(&lane);
        ls.status = "done".into();
        ls.exit = Some("worker from the earlier run finished (.done written) before the run was resumed".into());
        ls.completed_at = Some(crate::files::scaffold::now_rfc3339());
        let detail = ls.exit.clone().unwrap_or_default();
        r.emit(RunEvent::LaneEnded { lane, state: "done".into(), detail });
    }
    let max_parallel = r.opts.max_parallel.or(r.ws.config.max_parallel).unwrap_or(usize::MAX).max(1);
    let (tx, rx) = mpsc::channel::<()>();
    // Lanes whose worktree the set-up thread has not reported yet.
    let mut not_ready: std::collections::BTreeSet<String> = setup.fresh.iter().map(|(l, _)| l.clone()).collect();
    let setup_started = setup.started;
    let (setup_rx, mut setup_thread) = match start_setup(r, setup, tx.clone()) {
        Ok(Some((rx, handle))) => (Some(rx), Some(handle)),
        Ok(None) => (None, None),
        Err(e) => {
            // No set-up thread: no new worktree, so those lanes cannot run.
            for lane in std::mem::take(&mut not_ready) {
                queue.retain(|l| *l != lane);
                let ls = r.lane_state(&lane);
                ls.status = "failed".into();
                ls.exit = Some(format!("could not set up the worktree: {e}"));
                r.emit(RunEvent::LaneEnded { lane, state: "failed".into(), detail: format!("could not set up the worktree: {e}") });
            }
            (None, None)
        }
    };
    // Signal folders of worktrees that exist; the others are added once set up (creating the
    // folder earlier would make the worktree's path exist before `git worktree add`).
    let mut dirs = vec![main_signals.clone()];
    dirs.extend(r.lanes.iter().filter(|(l, _)| !not_ready.contains(*l)).map(|(_, lr)| lr.worktree.join(&r.ws.config.signals)));
    let mut watcher = SignalWatcher::new(dirs, tx, || ());
    if let Some(why) = &watcher.degraded {
        r.emit(RunEvent::Note(format!("signal events unavailable: {why}")));
    }
    let done_grace = r.opts.done_grace.unwrap_or(r.ws.config.done_grace);
    let stall_after = r.opts.stall_after.unwrap_or(r.ws.config.stall_after);
    let mut interrupts_seen = 0;
    let mut interrupted = false;
    loop {
        // Start lanes while there is room (not after Ctrl-C).
        // Worktrees the set-up thread finished since the last wake-up.
        while let Some(Ok((lane, res))) = setup_rx.as_ref().map(|rx| rx.try_recv()) {
            not_ready.remove(&lane);
            match res {
                Ok(()) => {
                    let path = r.lanes.get(&lane).map(|l| l.worktree.clone()).unwrap_or_default();
                    watcher.add_dir(path.join(&r.ws.config.signals));
                    r.emit(RunEvent::WorktreeReady { lane, path });
                }
                Err(e) => {
                    queue.retain(|l| *l != lane);
                    let ls = r.lane_state(&lane);
                    ls.status = "failed".into();
                    ls.exit = Some(format!("could not set up the worktree: {e}"));
                    r.emit(RunEvent::LaneEnded { lane, state: "failed".into(), detail: format!("could not set up the worktree: {e}") });
                    r.save()?;
                }
            }
            if not_ready.is_empty() && r.state.worktree_setup_ms.is_none() {
                r.state.worktree_setup_ms = Some(setup_started.elapsed().as_millis() as u64);
            }
        }
        // Start lanes while there is room (not after Ctrl-C), in queue order among those whose
        // worktree is ready.
        while !interrupted && active.len() < max_parallel {
            let Some(at) = queue.iter().position(|l| !not_ready.contains(l)) else { break };
            let Some(lane) = queue.remove(at) else { break };
            // A stale `.done` from an earlier run (in either folder) must not end the new worker
            // at once.
            let _ = crate::base::fsutil::remove_file_if_exists(&signal::paths(&main_signals, &lane).1);
            if let Some(lr) = r.lanes.get(&lane) {
                let _ = crate::base::fsutil::remove_file_if_exists(&signal::paths(&lr.worktree.join(&r.ws.config.signals), &lane).1);
            }
            match start_worker(r, &lane, &main_signals) {
                Ok(a) => {
                    active.insert(lane, a);
                }
                Err(e) => {
                    let ls = r.lane_state(&lane);
                    ls.status = "failed".into();
                    ls.exit = Some(format!("could not start: {e}"));
                    r.emit(RunEvent::LaneEnded { lane, state: "failed".into(), detail: format!("could not start the worker: {e}") });
                }
            }
            save_following(r, &mut save_warned);
        }
        if active.is_empty() && (queue.is_empty() || interrupted) {
            break;
        }
        let _ = rx.recv_timeout(TICK);
        while rx.try_recv().is_ok() {}
        watcher.rewatch();
        let presses = r.interrupts.load(Ordering::SeqCst);
        if presses > interrupts_seen {
            interrupts_seen = presses;
            interrupted = true;
            r.emit(RunEvent::Interrupted { count: presses });
            for a in active.values_mut() {
                if let Some(c) = &a.child {
                    let sig = if presses >= 2 { libc::SIGKILL } else { libc::SIGINT };
                    let _ = c.signal_group(sig);
                }
            }
            r.state.status = "interrupted".into();
        }
        let mut ended = Vec::new();
        for c in take_controls(r) {
            match c {
                super::LaneControl::Stop(lane) => {
                    if let Some(a) = active.get_mut(&lane) {
                        a.ended_by_us = true;
                        let ending = a.child.as_mut().map(|c| c.terminate(Duration::from_secs(2)).to_string());
                        if let Some(pid) = a.foreign_pid {
                            kill_group(pid);
                        }
                        let how = ending.map(|e| format!(" ({e})")).unwrap_or_default();
                        ended.push((lane, ("failed".to_string(), format!("stopped by the operator{how}"))));
                    } else if let Some(i) = queue.iter().position(|l| *l == lane) {
                        queue.remove(i);
                        ended.push((lane, ("failed".to_string(), "stopped by the operator before it started".to_string())));
                    }
                }
                super::LaneControl::Restart(lane) => {
                    if !r.lanes.contains_key(&lane) || queue.contains(&lane) || interrupted {
                        continue;
                    }
                    if let Some(mut a) = active.remove(&lane) {
                        if let Some(c) = a.child.as_mut() {
                            c.terminate(Duration::from_secs(2));
                        }
                        if let Some(pid) = a.foreign_pid {
                            kill_group(pid);
                        }
                    }
                    let ls = r.lane_state(&lane);
                    ls.status = "pending".into();
                    ls.exit = None;
                    ls.completed_at = None;
                    r.emit(RunEvent::Note(format!("lane {lane}: restarted by the operator")));
                    queue.push_front(lane);
                }
            }
        }
        for a in active.values_mut() {
            if ended.iter().any(|(l, _)| *l == a.lane) {
                continue; // stopped by the operator just now
            }
            // Whether the worker has exited is read *before* its signal files: a worker writes
            // `.done` and then exits, so an exit seen here comes with a `.done` the rescan sees.
            let exited = match (&mut a.child, a.foreign_pid) {
                (Some(c), _) => c.try_wait(),
                (None, Some(pid)) if !crate::exec::process::pid_alive(pid) => Some(Ending::Unknown),
                _ => None,
            };
            for ch in a.follow.rescan() {
                match ch {
                    Change::Status(text) => {
                        r.state.lanes.entry(a.lane.clone()).or_default().last_status = Some(text.clone());
                        let e = RunEvent::LaneStatus { lane: a.lane.clone(), text };
                        crate::run::timeline::record(&mut r.state, &e);
                        (r.observer)(&e);
                    }
                    Change::Done { latency } => {
                        let ms = latency.map(|d| d.as_secs_f64() * 1000.0);
                        r.state.lanes.entry(a.lane.clone()).or_default().signal_latency_ms = ms;
                        let e = RunEvent::LaneDone { lane: a.lane.clone(), latency_ms: ms };
                        crate::run::timeline::record(&mut r.state, &e);
                        (r.observer)(&e);
                    }
                    Change::Warning(text) => {
                        r.state.lanes.entry(a.lane.clone()).or_default().warnings.push(text.clone());
                        (r.observer)(&RunEvent::Note(format!("lane {}: {text}", a.lane)));
                    }
                }
            }
            if let Some(outcome) = poll_lane(a, exited, done_grace, presses) {
                ended.push((a.lane.clone(), outcome));
            } else if let Some(outcome) = end_if_stuck(a, &r.dir) {
                ended.push((a.lane.clone(), outcome));
            } else if a.follow.stalled(stall_after) {
                (r.observer)(&RunEvent::LaneStalled { lane: a.lane.clone(), for_secs: stall_after.as_secs() });
                r.state
                    .lanes
                    .entry(a.lane.clone())
                    .or_default()
                    .warnings
                    .push(format!("stalled: status unchanged for {}s", stall_after.as_secs()));
            }
        }
        for (lane, (state, detail)) in ended {
            // A lane stopped before it started has no Active.
            let a = active.remove(&lane);
            if let (Some(a), Some(lr)) = (&a, r.lanes.get_mut(&lane)) {
                lr.duration = Some(a.started.elapsed());
            }
            let preset = a.as_ref().map(|a| a.preset).unwrap_or_else(|| preset_of(r.lanes.get(&lane).map_or("", |lr| lr.worker.as_str())));
            let log = r.dir.join(&lane).join("worker.log");
            let stuck = a.as_ref().and_then(|a| a.stuck.clone());
            let outcome = outcome_of(preset, &log, state, detail, stuck);
            let ls = r.lane_state(&lane);
            ls.status = outcome.state.clone();
            ls.exit = Some(outcome.detail.clone());
            ls.completed_at = Some(crate::files::scaffold::now_rfc3339());
            ls.reason = outcome.reason.clone();
            ls.limit = outcome.usage.as_ref().and_then(|u| u.limit.clone());
            ls.log = Some(log.display().to_string());
            if let Some(u) = &outcome.usage {
                ls.cost_usd = u.cost_usd;
                ls.turns = u.turns;
            }
            if let Some(lr) = r.lanes.get(&lane)
                && let Err(e) = presets::remove_droppings(&lr.worktree)
            {
                r.state.lanes.entry(lane.clone()).or_default().warnings.push(format!("could not remove the agent's own files: {e}"));
            }
            let shown = outcome.shown(preset, &log);
            r.emit(RunEvent::LaneEnded { lane, state: outcome.state, detail: shown });
            save_following(r, &mut save_warned);
        }
        if !interrupted {
            continue;
        }
        if presses >= 2 {
            for a in active.values_mut() {
                if let Some(c) = a.child.as_mut() {
                    c.terminate(Duration::ZERO);
                }
            }
        }
    }
    // Worktrees still being set up (after Ctrl-C): let the set-up thread finish, so nothing is
    // half checked out when the run is collected or resumed.
    if let Some(handle) = setup_thread.take() {
        let _ = handle.join();
    }
    if interrupted {
        for (lane, ls) in r.state.lanes.iter_mut() {
            if ls.status == "running" || ls.status == "pending" {
                ls.status = "interrupted".into();
                ls.warnings.push(format!("lane {lane} was interrupted; `git lanes run --resume` restarts it"));
            }
        }
        r.state.status = "interrupted".into();
    }
    r.save()?;
    Ok(interrupted)
}

/// The operator's requests since the last tick: from the live view's queue, and from the
/// `control` files `git lanes stop|restart <LANE>` writes into a lane's run folder.
fn take_controls(r: &Run<'_>) -> Vec<super::LaneControl> {
    let mut out: Vec<super::LaneControl> = match &r.opts.controls {
        Some(q) => q.lock().map(|mut q| q.drain(..).collect()).unwrap_or_default(),
        None => Vec::new(),
    };
    for (lane, lr) in &r.lanes {
        let path = lr.files.join(super::CONTROL_FILE);
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        let _ = std::fs::remove_file(&path);
        match text.trim() {
            "stop" => out.push(super::LaneControl::Stop(lane.clone())),
            "restart" => out.push(super::LaneControl::Restart(lane.clone())),
            _ => {}
        }
    }
    out
}

/// Start a lane's worker through the process module.
fn start_worker(r: &mut Run<'_>, lane: &str, main_signals: &std::path::Path) -> Result<Active> {
    let lr = r.lanes.get(lane).expect("lane prepared").clone();
    let prompt = lr.files.join("prompt.md");
    let order = lr.files.join("work-order.yaml");
    let spec = r.ws.specs.get(lane);
    let model = r.opts.model.clone().or_else(|| spec.and_then(|s| s.model.clone())).or_else(|| r.ws.config.model.clone());
    let ctx = WorkerContext {
        prompt_file: &prompt,
        work_order_file: &order,
        state_dir: &lr.files,
        model: model.as_deref(),
        max_turns: r.opts.max_turns,
        max_budget_usd: r.opts.max_budget_usd,
        lane,
    };
    let cmd = presets::resolve_worker(&lr.worker, &ctx).map_err(worker_error)?;
    let index = r.lanes.keys().position(|l| l == lane).unwrap_or(0) as u32;
    let port_base = u32::from(r.ws.config.port_base) + index * u32::from(r.ws.config.port_span);
    let mut env: Vec<(OsString, OsString)> = ctx.env().into_iter().map(|(k, v)| (OsString::from(k), v)).collect();
    let ids: Vec<String> = lr.plan.issues.iter().map(|a| a.id.clone()).collect();
    env.push(("LANES_RUN_ID".into(), r.run_id.clone().into()));
    env.push(("LANES_TASK".into(), r.task.into()));
    env.push(("LANES_SIGNAL_DIR".into(), main_signals.as_os_str().to_owned()));
    env.push(("LANES_ISSUES".into(), ids.join(",").into()));
    env.push(("LANES_PORT_BASE".into(), port_base.to_string().into()));
    env.push(("LANES_PORT_SPAN".into(), r.ws.config.port_span.to_string().into()));
    env.push(("LANES_WORKTREE".into(), lr.worktree.as_os_str().to_owned()));
    if let Some(path) = presets::worker_path() {
        env.push(("PATH".into(), path));
    }
    env.extend(crate::judge::guard::no_push_env(std::env::var_os("GIT_CONFIG_COUNT").as_deref()));
    let timeout = lane_timeout(r, lane);
    let argv = cmd.argv();
    let mut spec = ProcessSpec::new(argv[0], &argv[1..], &lr.worktree)
        .with_env(EnvPolicy::Inherit(env))
        .with_output(OutputTarget::File(lr.files.join("worker.log")))
        .with_timeout(timeout);
    if r.opts.sandbox_workers || r.ws.config.sandbox_workers {
        spec = spec.with_sandbox(crate::exec::sandbox::Policy::for_worker(&lr.worktree, r.repo.git.commondir(), main_signals, &lr.files));
    }
    let child = process::spawn(&spec)?;
    crate::base::fault::point("after-spawn");
    let pid = child.pid();
    let ls = r.lane_state(lane);
    ls.status = "running".into();
    ls.worker_pid = Some(pid);
    ls.started_at = Some(crate::files::scaffold::now_rfc3339());
    r.emit(RunEvent::LaneStarted { lane: lane.to_string(), pid, issues: ids });
    let dirs = vec![main_signals.to_path_buf(), lr.worktree.join(&r.ws.config.signals)];
    Ok(Active {
        lane: lane.to_string(),
        child: Some(child),
        foreign_pid: None,
        follow: LaneFollow::new(lane, dirs),
        started: Instant::now(),
        timeout,
        ended_by_us: false,
        preset: cmd.preset,
        looked_at: Instant::now(),
        stuck: None,
    })
}

fn lane_timeout(r: &Run<'_>, lane: &str) -> Duration {
    r.opts
        .timeout
        .or_else(|| r.ws.specs.get(lane).and_then(|s| s.timeout.as_deref()).and_then(crate::files::config::parse_duration))
        .unwrap_or(r.ws.config.lane_timeout)
}

/// Decide whether a lane has ended: `(state, detail)`.
fn poll_lane(a: &mut Active, exited: Option<Ending>, done_grace: Duration, presses: usize) -> Option<(String, String)> {
    let done = a.follow.done;
    if let Some(pid) = a.foreign_pid {
        if exited.is_none() {
            if done && a.follow.done_seen.is_some_and(|t| t.elapsed() >= done_grace) {
                kill_group(pid);
                return Some(("done".into(), "worker from the earlier run ended after .done grace".into()));
            }
            // The timeout counts from the resume: the run never waits forever, not even for a
            // worker it did not start.
            if a.started.elapsed() >= a.timeout {
                kill_group(pid);
                return Some((
                    "timed_out".into(),
                    format!("worker from the earlier run: no .done within {}s of the resume; process group killed", a.timeout.as_secs()),
                ));
            }
            return None;
        }
        return Some(if done {
            ("done".into(), "worker from the earlier run finished".into())
        } else {
            ("failed".into(), "worker from the earlier run exited without .done".into())
        });
    }
    if let Some(ending) = exited {
        return Some(classify(ending, done, a.ended_by_us, presses));
    }
    let child = a.child.as_mut()?;
    if done && a.follow.done_seen.is_some_and(|t| t.elapsed() >= done_grace) {
        a.ended_by_us = true;
        let ending = child.terminate(Duration::from_secs(2));
        return Some((
            "done".into(),
            format!("worker still running {}s after .done; its process group was ended ({ending})", done_grace.as_secs()),
        ));
    }
    if a.started.elapsed() >= a.timeout {
        a.ended_by_us = true;
        let ending = child.terminate(Duration::from_secs(2));
        return Some(("timed_out".into(), format!("no .done within {}s; process group killed ({ending})", a.timeout.as_secs())));
    }
    None
}

fn classify(ending: Ending, done: bool, ended_by_us: bool, presses: usize) -> (String, String) {
    match ending {
        Ending::TimedOut { after } => ("timed_out".into(), format!("no .done within {}s; process group killed", after.as_secs())),
        _ if presses > 0 && !done => ("interrupted".into(), format!("stopped by Ctrl-C ({ending})")),
        Ending::Exited(0) if done => ("done".into(), "exit 0".into()),
        _ if done && ended_by_us => ("done".into(), ending.to_string()),
        Ending::Exited(0) => ("failed".into(), "worker exited 0 without writing .done".into()),
        _ if done => ("failed".into(), format!("worker wrote .done but ended with {ending}")),
        _ => ("failed".into(), format!("worker ended with {ending} without writing .done")),
    }
}

fn worker_error(e: presets::WorkerError) -> Error {
    let hint = e.hint();
    Error::usage(e.to_string(), hint)
}

/// The worker setting of a lane (`--worker`, the spec, `lanes.yaml`), or the error saying how to
/// give one.
fn lane_worker(ws: &Workspace, opts: &RunOptions, lane: &str) -> Result<String> {
    let spec = ws.specs.get(lane).and_then(|s| s.worker.as_deref());
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

/// The preflight for workers (before any lock, branch, worktree or commit exists): every lane
/// that will run has a worker, its limits are valid, and its program is installed.
pub(super) fn check_workers(root: &Path, ws: &Workspace, opts: &RunOptions, lanes: &[&str]) -> Result<()> {
    let path = presets::worker_path().or_else(|| std::env::var_os("PATH"));
    let nowhere = Path::new("");
    for lane in lanes {
        let worker = lane_worker(ws, opts, lane)?;
        let ctx = WorkerContext {
            prompt_file: nowhere,
            work_order_file: nowhere,
            state_dir: nowhere,
            model: None,
            max_turns: opts.max_turns,
            max_budget_usd: opts.max_budget_usd,
            lane,
        };
        let cmd = presets::resolve_worker(&worker, &ctx).map_err(worker_error)?;
        presets::check_worker(&cmd, lane, path.as_deref(), root).map_err(worker_error)?;
    }
    Ok(())
}

fn preset_of(worker: &str) -> Preset {
    worker.trim().parse::<Preset>().unwrap_or(Preset::Script)
}

/// The last 256 KiB of a worker's log (a result object is at its end).
fn log_tail(log: &Path, max: u64) -> Option<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(log).ok()?;
    let len = file.metadata().ok()?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(max))).ok()?;
    let mut bytes = Vec::new();
    file.take(max).read_to_end(&mut bytes).ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// How often a running worker's log is read for a known stuck shape.
const STUCK_EVERY: Duration = Duration::from_secs(1);

/// Ends a worker whose log shows it will never finish on its own (`presets::stuck`).
fn end_if_stuck(a: &mut Active, run_dir: &Path) -> Option<(String, String)> {
    if a.looked_at.elapsed() < STUCK_EVERY {
        return None;
    }
    a.looked_at = Instant::now();
    let child = a.child.as_mut()?;
    let tail = log_tail(&run_dir.join(&a.lane).join("worker.log"), 64 * 1024)?;
    let why = presets::stuck(a.preset, &tail)?;
    a.ended_by_us = true;
    a.stuck = Some(why);
    let ending = child.terminate(Duration::from_secs(2));
    Some(("failed".into(), format!("ended by git-lanes: the agent would not finish on its own ({ending})")))
}

/// A lane's end as the agent tells it: its state, detail, reason and usage.
struct Outcome {
    state: String,
    detail: String,
    reason: Option<String>,
    usage: Option<presets::WorkerUsage>,
}

impl Outcome {
    /// The detail with the agent's reason and the log's path, as the console shows it.
    fn shown(&self, preset: Preset, log: &Path) -> String {
        let mut text = self.detail.clone();
        if let Some(reason) = &self.reason {
            let who = if preset == Preset::Script { "worker" } else { preset.name() };
            text.push_str(&format!("\n  {who} said: {reason}"));
        }
        if self.state != "done" {
            text.push_str(&format!("\n  worker log: {}", log.display()));
        }
        text
    }
}

/// What the log says overrides a clean exit: a preset worker that wrote `.done` and exited 0 but
/// whose agent reported an error (aider after an authentication error, claude's `is_error`) failed.
/// A failed or timed-out lane gets the agent's reason, or the last meaningful lines of its log.
fn outcome_of(preset: Preset, log: &Path, state: String, detail: String, stuck: Option<String>) -> Outcome {
    let tail = log_tail(log, 256 * 1024).unwrap_or_default();
    let usage = presets::parse_usage(preset, &tail);
    let said_error = usage.as_ref().and_then(|u| u.is_error) == Some(true);
    let mut out = Outcome { state, detail, reason: None, usage };
    // Only a preset's own format decides: a user's script that wrote `.done` and exited 0 is done,
    // whatever JSON or error-looking lines it printed on the way.
    if out.state == "done" && said_error && preset != Preset::Script {
        out.state = "failed".into();
        out.detail = format!("{}; but the agent reported an error", out.detail);
    }
    if matches!(out.state.as_str(), "failed" | "timed_out") {
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
