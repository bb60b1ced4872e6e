//! `git lanes completions <shell>`: completion scripts for `git-lanes` and for `git lanes`.
//!
//! Each script completes the command `git-lanes`; how `git lanes` reaches it differs per shell:
//! - bash: git's completion calls `_git_<subcommand>` (dashes as underscores) for
//!   `git lanes …`; the script adds `_git_lanes`, which hands the words after `lanes` to the
//!   generated `_git__lanes` (clap names it so).
//! - zsh: git's `_git` calls `_git-<subcommand>` for a command it does not know, which is the
//!   generated function's own name (`#compdef git-lanes`).
//! - fish: git's completion asks `complete -C "git-lanes …"` for third-party subcommands.

use std::io::Write;

use clap::Args;

use crate::cli::context::Ctx;
use crate::cli::error::{CliResult, Exit};

/// Print shell completions for `git lanes` and `git-lanes` (bash, zsh, fish, elvish, powershell)
///
/// bash: `git lanes completions bash > ~/.local/share/bash-completion/completions/git-lanes`
/// (loaded with git's own completion); zsh: write `_git-lanes` into a folder of `$fpath`;
/// fish: `git lanes completions fish > ~/.config/fish/completions/git-lanes.fish`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell
    pub shell: clap_complete::Shell,
}

/// The bridge from git's bash completion (`git lanes <TAB>`) to the generated function.
const BASH_GIT_BRIDGE: &str = r#"
# `git lanes <TAB>`: git's completion calls _git_lanes; complete the words after `lanes` as if
# `git-lanes …` had been typed.
_git_lanes() {
    local i start=0
    for ((i = 1; i < COMP_CWORD; i++)); do
        if [[ "${COMP_WORDS[i]}" == lanes ]]; then
            start=$i
            break
        fi
    done
    [[ $start -eq 0 ]] && return 0
    local COMP_WORDS=("git-lanes" "${COMP_WORDS[@]:start+1}")
    local COMP_CWORD=$((COMP_CWORD - start))
    _git__lanes git-lanes "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
}
"#;

/// The completion script for `shell`, from the parser's command tree `cli`.
pub fn script(shell: clap_complete::Shell, cli: clap::Command) -> Vec<u8> {
    let mut cmd = cli.name("git-lanes");
    // Render into memory first: clap_complete panics when its writer fails (a closed pipe).
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "git-lanes", &mut buf);
    if shell == clap_complete::Shell::Bash {
        // clap_complete names a subcommand's case label from its bin name with every `-` made
        // `__subcmd__` (`git__subcmd__lanes__subcmd__run`) but sets `cmd` from the function name
        // (`git__lanes__subcmd__run`): without this, no subcommand's options complete.
        let text = String::from_utf8_lossy(&buf).replace("git__subcmd__lanes__subcmd__", "git__lanes__subcmd__");
        buf = text.into_bytes();
        buf.extend_from_slice(BASH_GIT_BRIDGE.as_bytes());
    }
    buf
}

/// `cli` is the parser's command tree (`Cli::command()`, handed down by the dispatch).
pub fn run(args: CompletionsArgs, _ctx: &Ctx, cli: clap::Command) -> CliResult {
    std::io::stdout().write_all(&script(args.shell, cli))?;
    Ok(Exit::Success)
}
