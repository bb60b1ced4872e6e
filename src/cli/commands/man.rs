//! `git lanes man`: the man page, so `git lanes --help` (which runs `man git-lanes`) works.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, CommandFactory};

use crate::cli::Cli;
use crate::cli::context::Ctx;
use crate::cli::error::{CliResult, Exit};

/// Print the man page (roff), or write git-lanes.1 and one page per subcommand into a folder
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write the pages into this folder (e.g. ~/.local/share/man/man1) instead of printing
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

pub fn run(args: ManArgs, ctx: &Ctx) -> CliResult {
    let cmd = Cli::command().name("git-lanes");
    match args.dir {
        None => {
            let mut buf = Vec::new();
            clap_mangen::Man::new(cmd).render(&mut buf)?;
            std::io::stdout().write_all(&buf)?;
        }
        Some(dir) => {
            crate::fsutil::create_dir_all(&dir)?;
            clap_mangen::generate_to(cmd, &dir)?;
            ctx.ui.info(format!("wrote man pages to {}", dir.display()));
        }
    }
    Ok(Exit::Success)
}
