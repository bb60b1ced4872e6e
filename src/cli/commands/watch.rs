//! `git lanes watch`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use clap::Args;

use crate::cli::context::Ctx;
use crate::cli::error::{CliError, CliResult, Exit};
use crate::cli::live::LiveSetup;
use crate::cli::live::RunDisplay;
use crate::files::workspace::Workspace;
use crate::git::repo::Repo;
use crate::run::RunEvent;
use crate::run::follow::{Change, LaneFollow, SignalWatcher};

/// Follow lanes' signal files live, whoever started the workers
///
/// For workers started by something else (an AI orchestrator's subagents, CI jobs writing to a
/// shared folder): shows each lane's status and exits 0 once every expected lane has its .done
/// file, or 3 when --timeout passes first.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Lanes to wait for (default: a running run's lanes, else lanes.yaml's, else every lane with a spec)
    #[arg(long = "lane", value_name = "LANE")]
    pub lanes: Vec<String>,
    /// Give up after this long (e.g. 30m); exit 3
    #[arg(long, value_name = "DURATION", value_parser = super::run::duration)]
    pub timeout: Option<Duration>,
    /// The signal folder (default: the configured one, e.g. LogBook/issue-fixing/signals)
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Plain lines instead of the live view on a terminal
    #[arg(long)]
    pub plain: bool,
}

pub fn run(args: WatchArgs, ctx: &Ctx) -> CliResult {
    let (repo, ws) = ctx.workspace()?;
    let dir = args.dir.map(|d| if d.is_absolute() { d } else { repo.root.join(d) }).unwrap_or_else(|| repo.root.join(&ws.config.signals));
    let lanes = lanes_to_watch(args.lanes, &repo, &ws, &dir)?;
    let (tx, rx) = mpsc::channel::<()>();
    // A running run's sandboxed workers signal in their own worktrees: those are followed too.
    let own = lane_signal_dirs(&repo, &ws);
    let mut dirs = vec![dir.clone()];
    dirs.extend(own.values().cloned());
    let mut watcher = SignalWatcher::new(dirs, tx, || ());
    let mut follows: BTreeMap<String, LaneFollow> = lanes
        .iter()
        .map(|l| {
            let mut dirs = vec![dir.clone()];
            dirs.extend(own.get(l).cloned());
            (l.clone(), LaneFollow::new(l, dirs))
        })
        .collect();
    // The live view reads Ctrl-C as a key (raw mode) and counts it here.
    let quit = Arc::new(AtomicUsize::new(0));
    let mut display = RunDisplay::new(&ctx.ui, args.plain, || LiveSetup {
        title: "git lanes watch".into(),
        lanes_dir: repo.lanes_dir(),
        interrupts: quit.clone(),
        controls: None,
        lanes: lanes.clone(),
    });
    display.event(&RunEvent::Note(format!(
        "watching {} for {} {}",
        dir.display(),
        if lanes.len() == 1 { "lane" } else { "lanes" },
        lanes.join(", ")
    )));
    if let Some(why) = &watcher.degraded {
        display.event(&RunEvent::Note(format!("signal events unavailable: {why}")));
    }
    let end = follow_until_done(&mut follows, &mut display, &mut watcher, &rx, &quit, args.timeout);
    display.finish();
    match end {
        WatchEnd::Interrupted => Err(CliError::interrupted("watch stopped by Ctrl-C")),
        WatchEnd::AllDone => {
            print_outcome(&ctx.ui, &follows, false)?;
            Ok(Exit::Success)
        }
        WatchEnd::TimedOut => {
            print_outcome(&ctx.ui, &follows, true)?;
            Ok(Exit::NeedsHuman)
        }
    }
}

/// The lanes to wait for: `--lane`, else a running run's lanes, else `lanes.yaml`'s, else every
/// lane with a spec, else every lane with a signal file in `dir`.
fn lanes_to_watch(asked: Vec<String>, repo: &Repo, ws: &Workspace, dir: &Path) -> Result<Vec<String>, CliError> {
    let mut lanes = asked;
    if lanes.is_empty()
        && crate::run::lock::holder(&repo.lanes_dir()).is_some()
        && let Ok(Some((_, st))) = crate::run::live_state(repo, None)
    {
        lanes = st.lanes.keys().cloned().collect();
    }
    if lanes.is_empty() {
        lanes = ws.config.lanes.clone().unwrap_or_else(|| ws.specs.keys().cloned().collect());
    }
    if lanes.is_empty() {
        lanes = crate::files::signal::lanes_with_signals(dir);
    }
    if lanes.is_empty() {
        return Err(CliError::usage("no lanes to watch").hint("pass `--lane <LANE>` (repeatable)"));
    }
    for l in &lanes {
        crate::files::names::check_lane(l).map_err(CliError::usage)?;
    }
    Ok(lanes)
}

/// Each lane's own signal folder in its worktree, while a run is going on.
fn lane_signal_dirs(repo: &Repo, ws: &Workspace) -> BTreeMap<String, PathBuf> {
    if crate::run::lock::holder(&repo.lanes_dir()).is_none() {
        return BTreeMap::new();
    }
    let Ok(Some((_, st))) = crate::run::live_state(repo, None) else { return BTreeMap::new() };
    st.lanes.iter().filter_map(|(l, ls)| Some((l.clone(), PathBuf::from(ls.worktree.as_ref()?).join(&ws.config.signals)))).collect()
}

/// How following the lanes ended.
enum WatchEnd {
    AllDone,
    TimedOut,
    Interrupted,
}

/// Rescan every lane's signals on each file event (or every 100 ms) until all are done, Ctrl-C
/// is pressed or `timeout` passes.
fn follow_until_done(
    follows: &mut BTreeMap<String, LaneFollow>,
    display: &mut RunDisplay,
    watcher: &mut SignalWatcher,
    events: &mpsc::Receiver<()>,
    quit: &AtomicUsize,
    timeout: Option<Duration>,
) -> WatchEnd {
    let start = Instant::now();
    loop {
        for f in follows.values_mut() {
            for ch in f.rescan() {
                display.event(&change_event(&f.lane, ch));
            }
        }
        if follows.values().all(|f| f.done) {
            return WatchEnd::AllDone;
        }
        if quit.load(Ordering::SeqCst) > 0 {
            return WatchEnd::Interrupted;
        }
        if timeout.is_some_and(|t| start.elapsed() >= t) {
            return WatchEnd::TimedOut;
        }
        let _ = events.recv_timeout(Duration::from_millis(100));
        while events.try_recv().is_ok() {}
        watcher.rewatch();
    }
}

/// The display event of one change seen in a lane's signal files.
fn change_event(lane: &str, change: Change) -> RunEvent {
    match change {
        Change::Status(text) => RunEvent::LaneStatus { lane: lane.to_string(), text },
        Change::Done { latency } => RunEvent::LaneEnded {
            lane: lane.to_string(),
            state: "done".into(),
            detail: latency.map(|d| format!("seen {:.1} ms after it was written", d.as_secs_f64() * 1000.0)).unwrap_or_default(),
        },
        Change::Warning(text) => RunEvent::Note(format!("lane {lane}: {text}")),
    }
}

/// The closing line (or `--json` document): every lane done, or which ones are not.
fn print_outcome(ui: &crate::cli::ui::Ui, follows: &BTreeMap<String, LaneFollow>, timed_out: bool) -> std::io::Result<()> {
    if ui.json {
        let lanes: Vec<_> = follows
            .values()
            .map(|f| serde_json::json!({ "lane": f.lane, "status": f.status, "done": f.done, "latency_ms": f.latency.map(|d| d.as_secs_f64() * 1000.0) }))
            .collect();
        ui.json(serde_json::json!({ "lanes": lanes, "timed_out": timed_out }))
    } else if timed_out {
        let pending: Vec<&str> = follows.values().filter(|f| !f.done).map(|f| f.lane.as_str()).collect();
        ui.out(format!("timed out; not done: {}", pending.join(", ")))
    } else {
        ui.out(if follows.len() == 1 { "the lane is done".to_string() } else { format!("all {} lanes done", follows.len()) })
    }
}
