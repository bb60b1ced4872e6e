//! `git lanes completions <shell>`.

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
    clap_complete::generate(args.shell, &mut cmd, "git-lanes", &mut std::io::stdout());
    Ok(Exit::Success)
}
