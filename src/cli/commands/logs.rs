//! `git lanes logs <LANE> [--run ID] [-f]`: a lane's worker output (its stdout and stderr, kept in
//! `<common git dir>/lanes/runs/<RUN_ID>/<LANE>/worker.log`), live while the worker runs.
//!
//! Secret-like strings are redacted line by line, as everywhere git-lanes prints.
//!
//! After the log, a lane that failed or timed out gets its reason (the agent's own words, as the
//! run recorded them) on a line of its own.
//!
//! JSON (`--json`, schema_version 1): `{ "run_id", "lane", "path", "status" (the lane's state
//! word), "reason" (`null` unless it failed), "log" (the whole log so far, redacted) }`; `-f`
//! does not apply.

use std::io::{Read, Seek, SeekFrom, Write};
use std::time::{Duration, Instant};

use clap::Args;

use crate::agents::presets::Preset;
use crate::cli::context::Ctx;
use crate::cli::error::{CliError, CliResult, Exit};

/// Print a lane's worker output (default: from the newest run that has the lane)
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The lane (e.g. E)
    pub lane: String,
    /// The run (default: the newest run that has this lane; `git lanes runs` lists them)
    #[arg(long = "run", value_name = "RUN_ID")]
    pub run_id: Option<String>,
    /// Keep printing what the worker writes until its lane ends
    #[arg(short, long)]
    pub follow: bool,
    /// Print only the last N lines first
    #[arg(long, short = 'n', value_name = "N")]
    pub tail: Option<usize>,
    /// Print the lane's rejected issues and the output of each failing check instead
    #[arg(long, conflicts_with_all = ["follow", "tail"])]
    pub checks: bool,
}

const POLL: Duration = Duration::from_millis(150);
/// How often `-f` re-reads the run state to learn whether the lane has ended.
const STATE_EVERY: Duration = Duration::from_millis(500);

pub fn run(args: LogsArgs, ctx: &Ctx) -> CliResult {
    let (repo, _ws) = ctx.setup_workspace()?;
    if let Some(id) = &args.run_id {
        crate::files::names::check_run_id(id).map_err(|m| CliError::usage(m).hint("`git lanes runs` lists the run ids"))?;
    }
    let lane = crate::run::runs::lane_ref(&repo, &args.lane, args.run_id.as_deref())?;
    let ui = &ctx.ui;
    if args.checks {
        return print_checks(ctx, &lane);
    }
    if ui.json {
        let text = crate::base::fsutil::read_optional(&lane.log)?.map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
        ui.json(serde_json::json!({
            "run_id": lane.run_id,
            "lane": lane.lane,
            "path": lane.log,
            "status": lane.state.lanes[&lane.lane].status,
            "reason": lane.state.lanes[&lane.lane].reason,
            "log": crate::base::redact::redact(&text),
        }))?;
        return Ok(Exit::Success);
    }
    ui.info(ui.dim(format!("run {} lane {}: {}", lane.run_id, lane.lane, lane.log.display())));
    let mut out = std::io::stdout().lock();
    let mut pos: u64 = 0;
    let mut pending: Vec<u8> = Vec::new();
    if let Some(n) = args.tail {
        let bytes = crate::base::fsutil::read_optional(&lane.log)?.unwrap_or_default();
        pos = bytes.len() as u64;
        let start = tail_start(&bytes, n);
        write_lines(&mut out, &bytes[start..], &mut pending, false)?;
    }
    let mut last_state = Instant::now();
    let mut running = args.follow && lane_running(&repo, &lane);
    loop {
        let grew = read_from(&lane.log, &mut pos, |chunk| write_lines(&mut out, chunk, &mut pending, false))?;
        if !running {
            break;
        }
        if !grew {
            if last_state.elapsed() >= STATE_EVERY {
                last_state = Instant::now();
                running = lane_running(&repo, &lane);
                if !running {
                    // One last read: what the worker wrote just before it ended.
                    continue;
                }
            }
            std::thread::sleep(POLL);
        }
    }
    write_lines(&mut out, &[], &mut pending, true)?;
    drop(out);
    if !args.follow && lane_running(&repo, &lane) {
        ui.info(ui.dim(format!("lane {} is still running; `git lanes logs {} -f` follows it", lane.lane, lane.lane)));
    } else if let Some(reason) = ended_reason(&repo, &lane) {
        let preset = lane.state.lanes.get(&lane.lane).and_then(|l| l.worker.as_deref()).and_then(|w| w.trim().parse::<Preset>().ok());
        let who = preset.filter(|p| *p != Preset::Script).map_or("worker", Preset::name);
        ui.info(format!("lane {} {}: {who} said: {reason}", lane.lane, ui.red("failed")));
    }
    Ok(Exit::Success)
}

/// `--checks`: each rejected issue of the lane, why, and each failing check with the kept tail
/// of its output (JSON: `{ "run_id", "lane", "status", "rejected": [{ "id", "reason", "checks":
/// [{ "command", "ending", "output" }] }], "attempts": [...] }`).
fn print_checks(ctx: &Ctx, lane: &crate::run::runs::LaneRef) -> CliResult {
    let ui = &ctx.ui;
    let ls = &lane.state.lanes[&lane.lane];
    if ui.json {
        ui.json(serde_json::json!({
            "run_id": lane.run_id,
            "lane": lane.lane,
            "status": ls.status,
            "rejected": ls.rejected,
            "attempts": ls.attempts,
        }))?;
        return Ok(Exit::Success);
    }
    ui.info(ui.dim(format!("run {} lane {}: the checks that failed", lane.run_id, lane.lane)));
    if ls.rejected.is_empty() {
        ui.out(if ls.resolved.is_empty() {
            "no issue of this lane was rejected (none was judged yet)"
        } else {
            "no issue of this lane was rejected"
        })?;
    }
    for rej in &ls.rejected {
        let mut text = format!("{} {} — {}", rej.id, ui.red("REJECTED"), rej.reason);
        for check in &rej.checks {
            text.push_str(&crate::cli::progress::failed_check_lines(ui, check, usize::MAX));
        }
        ui.out(text)?;
    }
    Ok(Exit::Success)
}

/// The reason the lane's run recorded for its failure, read again (the lane may have ended while
/// its log was printed).
fn ended_reason(repo: &crate::git::repo::Repo, lane: &crate::run::runs::LaneRef) -> Option<String> {
    let live = crate::run::runs::live_state(repo, &lane.run_id).ok().flatten();
    let st = live.as_ref().unwrap_or(&lane.state);
    st.lanes.get(&lane.lane).and_then(|l| l.reason.clone()).map(|r| crate::base::redact::redact(&r).into_owned())
}

/// Whether the lane's worker may still write: its state says pending or running.
fn lane_running(repo: &crate::git::repo::Repo, lane: &crate::run::runs::LaneRef) -> bool {
    match crate::run::runs::live_state(repo, &lane.run_id) {
        Ok(Some(st)) => {
            st.status == crate::run::status::RunStatus::Running && st.lanes.get(&lane.lane).is_some_and(|l| l.status.is_unended())
        }
        _ => false,
    }
}

/// Hand what was appended to `path` since `pos` to `sink`; returns whether anything was.
fn read_from(path: &std::path::Path, pos: &mut u64, mut sink: impl FnMut(&[u8]) -> std::io::Result<()>) -> Result<bool, CliError> {
    let mut f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(CliError::git(format!("could not read {}: {e}", path.display()))),
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    if len < *pos {
        // The log was replaced (a restarted lane): start again from its beginning.
        *pos = 0;
    }
    if len == *pos {
        return Ok(false);
    }
    f.seek(SeekFrom::Start(*pos))?;
    let mut buf = Vec::with_capacity((len - *pos) as usize);
    f.take(len - *pos).read_to_end(&mut buf)?;
    *pos += buf.len() as u64;
    sink(&buf)?;
    Ok(!buf.is_empty())
}

/// Write whole lines of `pending + chunk`, redacted; keep a trailing partial line for later
/// (a secret split across two reads is still found), unless `flush`.
fn write_lines(out: &mut impl Write, chunk: &[u8], pending: &mut Vec<u8>, flush: bool) -> std::io::Result<()> {
    pending.extend_from_slice(chunk);
    let cut = if flush { pending.len() } else { pending.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1) };
    if cut == 0 {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&pending[..cut]).into_owned();
    out.write_all(crate::base::redact::redact(&text).as_bytes())?;
    out.flush()?;
    pending.drain(..cut);
    Ok(())
}

/// Byte offset where the last `n` lines of `bytes` start.
fn tail_start(bytes: &[u8], n: usize) -> usize {
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let mut seen = 0;
    for (i, b) in body.iter().enumerate().rev() {
        if *b == b'\n' {
            seen += 1;
            if seen == n {
                return i + 1;
            }
        }
    }
    if n == 0 { bytes.len() } else { 0 }
}

#[cfg(test)]
mod tests {
    use crate::cli::commands::logs::*;

    #[test]
    fn tail_and_partial_lines() {
        assert_eq!(&b"a\nb\nc\n"[tail_start(b"a\nb\nc\n", 2)..], b"b\nc\n");
        assert_eq!(tail_start(b"a\nb\n", 5), 0);
        let mut out = Vec::new();
        let mut pending = Vec::new();
        write_lines(&mut out, b"one\ntw", &mut pending, false).unwrap();
        assert_eq!(out, b"one\n");
        write_lines(&mut out, b"o\n", &mut pending, false).unwrap();
        assert_eq!(out, b"one\ntwo\n");
    }
}
