//! `git lanes signal status <text> | done`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::cli::context::Ctx;
use crate::cli::error::{CliError, CliResult, Exit};
use crate::files::config::Config;

/// Write a lane's signal file atomically (for workers)
///
/// The lane and folder come from LANES_LANE and LANES_SIGNAL_DIR, which `git lanes run` sets;
/// --lane and the repository's configured signal folder are the fallback.
#[derive(Debug, Args)]
pub struct SignalArgs {
    /// The lane (default: $LANES_LANE)
    #[arg(long, env = "LANES_LANE")]
    pub lane: Option<String>,
    /// The signal folder (default: $LANES_SIGNAL_DIR, else the repository's configured folder)
    #[arg(long, env = "LANES_SIGNAL_DIR", value_name = "DIR")]
    pub dir: Option<PathBuf>,
    #[command(subcommand)]
    pub what: SignalKind,
}

/// Which signal to write.
#[derive(Debug, Subcommand)]
pub enum SignalKind {
    /// Set the lane's status line (`STARTING`, `NORMAL: …`, `COMPLEX: …`, `WORKING: …`, `COMPLETE: …`)
    Status {
        /// The status text
        #[arg(required = true, num_args = 1..)]
        text: Vec<String>,
    },
    /// Mark the lane done
    Done,
}

pub fn run(args: SignalArgs, ctx: &Ctx) -> CliResult {
    let lane = args.lane.ok_or_else(|| CliError::usage("no lane: LANES_LANE is not set").hint("pass `--lane <LANE>`"))?;
    crate::files::names::check_lane(&lane).map_err(CliError::usage)?;
    let dir = match args.dir {
        Some(d) => d,
        None => {
            let repo = ctx.repo()?;
            let config = Config::load(&repo.root, &ctx.overrides())?;
            repo.root.join(config.signals)
        }
    };
    match args.what {
        SignalKind::Status { text } => crate::files::signal::write_status(&dir, &lane, &text.join(" "))?,
        SignalKind::Done => crate::files::signal::write_done(&dir, &lane, &chrono::Local::now().to_rfc3339())?,
    }
    Ok(Exit::Success)
}
