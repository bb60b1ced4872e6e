//! `git lanes watch`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use clap::Args;

use crate::cli::context::Ctx;
use crate::cli::error::{CliError, CliResult, Exit};
use crate::cli::live::LiveSetup;
use crate::cli::live::RunDisplay;
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
    let mut lanes = args.lanes;
    if lanes.is_empty()
        && crate::run::lock::holder(&repo.lanes_dir()).is_some()
        && let Ok(Some((_, st))) = crate::run::live_state(&repo, None)
    {
        lanes = st.lanes.keys().cloned().collect();
    }
    if lanes.is_empty() {
        lanes = ws.config.lanes.clone().unwrap_or_else(|| ws.specs.keys().cloned().collect());
    }
    if lanes.is_empty() {
        lanes = crate::run::signal::lanes_with_signals(&dir);
    }
    if lanes.is_empty() {
        return Err(CliError::usage("no lanes to watch").hint("pass `--lane <LANE>` (repeatable)"));
    }
    for l in &lanes {
        crate::files::names::check_lane(l).map_err(CliError::usage)?;
    }
    let (tx, rx) = mpsc::channel::<()>();
    let mut watcher = SignalWatcher::new(vec![dir.clone()], tx, || ());
    let mut follows: BTreeMap<String, LaneFollow> = lanes.iter().map(|l| (l.clone(), LaneFollow::new(l, vec![dir.clone()]))).collect();
    // The live view reads Ctrl-C as a key (raw mode) and counts it here.
    let quit = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
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
    let start = Instant::now();
    let mut timed_out = false;
    loop {
        for f in follows.values_mut() {
            for ch in f.rescan() {
                match ch {
                    Change::Status(text) => display.event(&RunEvent::LaneStatus { lane: f.lane.clone(), text }),
                    Change::Done { latency } => display.event(&RunEvent::LaneEnded {
                        lane: f.lane.clone(),
                        state: "done".into(),
                        detail: latency
                            .map(|d| format!("seen {:.1} ms after it was written", d.as_secs_f64() * 1000.0))
                            .unwrap_or_default(),
                    }),
                    Change::Warning(text) => display.event(&RunEvent::Note(format!("lane {}: {text}", f.lane))),
                }
            }
        }
        if follows.values().all(|f| f.done) {
            break;
        }
        if quit.load(std::sync::atomic::Ordering::SeqCst) > 0 {
            display.finish();
            return Err(CliError::new(130, "watch stopped by Ctrl-C"));
        }
        if args.timeout.is_some_and(|t| start.elapsed() >= t) {
            timed_out = true;
            break;
        }
        let _ = rx.recv_timeout(Duration::from_millis(100));
        while rx.try_recv().is_ok() {}
        watcher.rewatch();
    }
    display.finish();
    let pending: Vec<&str> = follows.values().filter(|f| !f.done).map(|f| f.lane.as_str()).collect();
    let ui = &ctx.ui;
    if ui.json {
        let lanes: Vec<_> = follows
            .values()
            .map(|f| serde_json::json!({ "lane": f.lane, "status": f.status, "done": f.done, "latency_ms": f.latency.map(|d| d.as_secs_f64() * 1000.0) }))
            .collect();
        ui.json(serde_json::json!({ "lanes": lanes, "timed_out": timed_out }))?;
    } else if timed_out {
        ui.out(format!("timed out; not done: {}", pending.join(", ")))?;
    } else {
        ui.out(if follows.len() == 1 { "the lane is done".to_string() } else { format!("all {} lanes done", follows.len()) })?;
    }
    Ok(if timed_out { Exit::NeedsHuman } else { Exit::Success })
}
