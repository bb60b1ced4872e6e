//! `git lanes completions <shell>`.

use std::io::Write;

use clap::{Args, CommandFactory};

use crate::cli::Cli;
use crate::cli::context::Ctx;
use crate::cli::error::{CliResult, Exit};

/// Print shell completions (bash, zsh, fish, elvish, powershell)
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell
    pub shell: clap_complete::Shell,
}

pub fn run(args: CompletionsArgs, _ctx: &Ctx) -> CliResult {
    let mut cmd = Cli::command();
    // Render into memory first: clap_complete panics when its writer fails (a closed pipe).
    let mut buf = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "git-lanes", &mut buf);
    std::io::stdout().write_all(&buf)?;
    Ok(Exit::Success)
}
