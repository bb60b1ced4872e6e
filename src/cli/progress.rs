//! Live lane display for `run`, `watch` and `demo`: one line per lane on a terminal (indicatif),
//! plain timestamped lines otherwise (CI, pipes, `-q` keeps only warnings).

use std::collections::BTreeMap;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::ui::Ui;
use crate::run::RunEvent;

/// Renders run events.
pub struct LaneDisplay {
    ui: Ui,
    multi: Option<MultiProgress>,
    bars: BTreeMap<String, ProgressBar>,
}

impl LaneDisplay {
    pub fn new(ui: &Ui) -> LaneDisplay {
        let live = ui.interactive && !ui.json && !ui.quiet;
        let multi = live.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10)));
        LaneDisplay { ui: ui.clone(), multi, bars: BTreeMap::new() }
    }

    fn bar(&mut self, lane: &str) -> Option<&ProgressBar> {
        let multi = self.multi.as_ref()?;
        if !self.bars.contains_key(lane) {
            let style = ProgressStyle::with_template("{spinner} {prefix:<8} {elapsed:>4} {wide_msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner());
            let pb = multi.add(ProgressBar::new_spinner().with_style(style).with_prefix(lane.to_string()));
            pb.enable_steady_tick(Duration::from_millis(120));
            self.bars.insert(lane.to_string(), pb);
        }
        self.bars.get(lane)
    }

    fn line(&self, text: String) {
        if self.ui.json {
            return;
        }
        let text = crate::base::redact::redact(&text).into_owned();
        match &self.multi {
            Some(m) => {
                let _ = m.println(text);
            }
            None if !self.ui.quiet => eprintln!("{} {}", self.ui.dim(chrono::Local::now().format("%H:%M:%S")), text),
            None => {}
        }
    }

    /// Show one event.
    pub fn event(&mut self, e: &RunEvent) {
        let ui = self.ui.clone();
        match e {
            RunEvent::LaneStarted { lane, pid, issues, attempt } => {
                let again = if *attempt > 1 { format!(", attempt {attempt}") } else { String::new() };
                // A hunting lane has no issues: no empty list after the colon.
                let msg = if issues.is_empty() {
                    format!("started (pid {pid}{again})")
                } else {
                    format!("started (pid {pid}{again}): {}", issues.join(", "))
                };
                match self.bar(lane) {
                    Some(b) => b.set_message(msg),
                    None => self.line(format!("lane {lane}: {msg}")),
                }
            }
            RunEvent::LaneStatus { lane, text } => match self.bar(lane) {
                Some(b) => b.set_message(text.clone()),
                None => self.line(format!("lane {lane}: {text}")),
            },
            RunEvent::LaneDone { lane, latency_ms } => {
                let l = latency_ms.map(|ms| format!(" (seen after {ms:.1} ms)")).unwrap_or_default();
                match self.bar(lane) {
                    Some(b) => b.set_message(format!("done{l}")),
                    None => self.line(format!("lane {lane}: .done{l}")),
                }
            }
            RunEvent::LaneEnded { lane, .. } => {
                if let Some(b) = self.bars.remove(lane) {
                    b.finish_and_clear();
                }
                if let Some(line) = describe(&ui, e) {
                    self.line(line);
                }
            }
            _ => {
                if let Some(line) = describe(&ui, e) {
                    self.line(line);
                }
            }
        }
    }

    /// Clear any live lines.
    pub fn finish(&mut self) {
        for (_, b) in std::mem::take(&mut self.bars) {
            b.finish_and_clear();
        }
    }
}

/// How many of a failing check's last output lines the console shows under its REJECTED line
/// (the report and `git lanes logs <LANE> --checks` show more).
pub const CONSOLE_OUTPUT_LINES: usize = 12;

/// A failing check under its REJECTED line: its command and how it ended, then the last `lines`
/// lines of its output, indented.
pub fn failed_check_lines(ui: &Ui, check: &crate::run::state::FailedCheck, lines: usize) -> String {
    let mut text = format!("\n    {} `{}` ({})", ui.red("failed:"), check.command, check.ending);
    let tail = check.last_lines(lines);
    if tail.trim().is_empty() {
        text.push_str(&format!("\n      {}", ui.dim("(no output)")));
    }
    for line in tail.lines() {
        text.push_str(&format!("\n      {} {line}", ui.dim("|")));
    }
    text
}

/// The line an event leaves in the record (the plain output, and the scrollback above the live
/// view); `None` for events that only update a lane's live row.
pub fn describe(ui: &Ui, e: &RunEvent) -> Option<String> {
    Some(match e {
        RunEvent::Started { run_id, lanes } => {
            format!("run {} — {}: {}", ui.bold(run_id), crate::files::text::plural(lanes.len(), "lane"), lanes.join(", "))
        }
        RunEvent::Skipped { lane, reason } => format!("lane {lane}: skipped ({reason})"),
        RunEvent::LaneStalled { lane, for_secs } => {
            format!("{} lane {lane}: no output, no signal and no change in its worktree for {for_secs}s; ending it", ui.yellow("stalled:"))
        }
        RunEvent::LaneEnded { lane, state, detail } => {
            let tag = match state.as_str() {
                "done" => ui.green("done"),
                _ => ui.red(crate::run::state::status_words(state)),
            };
            format!("lane {lane}: {tag} — {detail}")
        }
        RunEvent::Judged { lane, id, approved, reason, failing } => {
            let tag = if *approved { ui.green("RESOLVED") } else { ui.red("REJECTED") };
            let mut text = format!("lane {lane}: {id} {tag} — {reason}");
            for check in failing {
                text.push_str(&failed_check_lines(ui, check, CONSOLE_OUTPUT_LINES));
            }
            text
        }
        RunEvent::Finding { lane, path, accepted, reason } => {
            let tag = if *accepted { ui.green("KEPT") } else { ui.red("REJECTED") };
            format!("lane {lane}: finding {path} {tag} — {reason}")
        }
        RunEvent::Merged { lane } => format!("lane {lane}: merged into the integration branch"),
        RunEvent::BackedOut { lane, reason } => format!("{} lane {lane}: {reason}", ui.yellow("backed out:")),
        RunEvent::Interrupted { count } => {
            let what =
                if *count >= 2 { "killing every lane's processes" } else { "stopping: lanes get SIGINT; press Ctrl-C again to kill" };
            format!("{} {what}", ui.yellow("interrupted:"))
        }
        RunEvent::Note(n) => format!("{} {n}", ui.dim("note:")),
        RunEvent::WorktreeReady { .. }
        | RunEvent::LaneStarted { .. }
        | RunEvent::LaneStatus { .. }
        | RunEvent::LaneDone { .. }
        | RunEvent::LaneUsage { .. } => {
            return None;
        }
    })
}
