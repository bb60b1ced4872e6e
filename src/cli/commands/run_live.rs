//! What every command that drives a run shares (`run`, `hunt`, `integrate`, `demo`): the Ctrl-C
//! protocol, the live display, and the summary printed at the end with its exit code.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::cli::context::Ctx;
use crate::cli::error::{CliError, CliResult, Exit};
use crate::cli::live::{LiveSetup, RunDisplay};
use crate::cli::ui::Ui;
use crate::run::{LaneControls, RunEvent, RunSummary};

/// Ctrl-C protocol: each press is counted; the coordinator stops on the first and kills on the
/// second; a third press while git-lanes is busy elsewhere (e.g. running checks) exits at once.
/// SIGTERM and SIGHUP are counted the same way (a service manager's stop, a closed terminal):
/// the run saves its state, ends its workers, says how to resume and exits 130.
pub fn install_ctrl_c() -> Arc<AtomicUsize> {
    let presses = Arc::new(AtomicUsize::new(0));
    let p = presses.clone();
    let _ = ctrlc::set_handler(move || {
        if p.fetch_add(1, Ordering::SeqCst) >= 2 {
            std::process::exit(130);
        }
    });
    presses
}

/// Drive a run (`run`, `hunt`) on screen: Ctrl-C counted, every event of `go` shown live (or as
/// plain lines), the display closed once `go` returns. `go` gets the observer and the presses.
pub fn follow_live<T>(
    ui: &Ui,
    plain: bool,
    title: &str,
    lanes_dir: PathBuf,
    controls: &LaneControls,
    go: impl FnOnce(&mut dyn FnMut(&RunEvent), Arc<AtomicUsize>) -> T,
) -> T {
    let interrupts = install_ctrl_c();
    let mut display = RunDisplay::new(ui, plain, || LiveSetup {
        title: title.into(),
        lanes_dir,
        interrupts: interrupts.clone(),
        controls: Some(controls.clone()),
        lanes: vec![],
    });
    let result = go(&mut |e: &RunEvent| display.event(e), interrupts);
    display.finish();
    result
}

/// The summary of a run that left its lane branches: what they verified, what was pushed, and
/// the command that integrates them (nothing is resolved on your branch yet).
fn print_left(ui: &crate::cli::ui::Ui, s: &RunSummary, left: &crate::run::LeftBranches) -> std::io::Result<()> {
    let list = |ids: &[String]| if ids.is_empty() { String::new() } else { format!(" ({})", ids.join(", ")) };
    ui.out(format!(
        "run {}: {} issue(s) verified on the lane branches{}, {} open{} — not integrated here",
        s.run_id,
        ui.green(left.verified.len()),
        list(&left.verified),
        left.open.len(),
        list(&left.open),
    ))?;
    if let Some(r) = &s.report {
        ui.out(format!("report: {}", r.display()))?;
    }
    if !left.pushed.is_empty() {
        ui.out(format!("pushed: {}", left.pushed.join(", ")))?;
    } else if !left.branches.is_empty() {
        ui.out(format!("branches: {}", left.branches.join(", ")))?;
    }
    for h in &s.needs_human {
        ui.out(format!("{} {h}", ui.yellow("needs a human:")))?;
    }
    if !left.branches.is_empty() {
        ui.out(format!("to integrate: {}", left.integrate))?;
    }
    Ok(())
}

/// Print the run's summary; exit 0 when all went well, 3 when a human is needed, 130 when
/// interrupted.
pub fn print_summary(ctx: &Ctx, s: &RunSummary) -> CliResult {
    let ui = &ctx.ui;
    if ui.json {
        ui.json(s.to_json())?;
    } else if let Some(left) = &s.left {
        print_left(ui, s, left)?;
    } else {
        ui.out(format!(
            "run {}: {} resolved, {} open{}",
            s.run_id,
            ui.green(s.resolved.len()),
            s.open,
            s.commit.as_ref().map(|c| format!(" — committed {}", &c[..c.len().min(10)])).unwrap_or_default()
        ))?;
        if let Some(r) = &s.report {
            ui.out(format!("report: {}", r.display()))?;
        }
        if s.commit.is_some() {
            ui.out(if s.fast_forwarded {
                "your branch was fast-forwarded to the result".to_string()
            } else {
                "your branch was not moved".to_string()
            })?;
        }
        for h in &s.needs_human {
            ui.out(format!("{} {h}", ui.yellow("needs a human:")))?;
        }
        if let Some(c) = &s.merge_command {
            ui.out(format!("to take the result: {c}"))?;
        }
    }
    if s.interrupted {
        return Err(CliError::interrupted(format!("run {} was interrupted; its state is saved", s.run_id))
            .hint("`git lanes run --resume` continues it"));
    }
    Ok(if s.needs_human.is_empty() { Exit::Success } else { Exit::NeedsHuman })
}
