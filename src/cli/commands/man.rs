//! `git lanes man`: the man page, so `git lanes --help` (which runs `man git-lanes`) works.
//!
//! `--install` writes the pages where `man` looks without any `MANPATH`: man-db searches
//! `<dir>/../share/man` for every `<dir>` of `PATH`, so pages go next to the executable
//! (`~/.cargo/bin/git-lanes` → `~/.cargo/share/man/man1`) when it lives in a `bin` folder, else
//! into `~/.local/share/man/man1` (searched while `~/.local/bin` is on `PATH`).

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;

use crate::cli::context::Ctx;
use crate::cli::error::{CliError, CliResult, Exit};

/// Print the man page, or install git-lanes.1 and one page per subcommand where `man` finds them
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Install the pages where `man` looks (next to the executable, else ~/.local/share/man)
    #[arg(long)]
    pub install: bool,
    /// Write the pages into this folder (e.g. ~/.local/share/man/man1) instead of printing
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// `cli` is the parser's command tree (`Cli::command()`, handed down by the dispatch).
pub fn run(args: ManArgs, ctx: &Ctx, cli: clap::Command) -> CliResult {
    let cmd = cli.name("git-lanes");
    let dir = match (args.dir, args.install) {
        (Some(d), _) => d,
        (None, true) => default_dir()?,
        (None, false) => {
            let mut buf = Vec::new();
            clap_mangen::Man::new(cmd).render(&mut buf)?;
            std::io::stdout().write_all(&buf)?;
            return Ok(Exit::Success);
        }
    };
    crate::base::fsutil::create_dir_all(&dir)?;
    clap_mangen::generate_to(cmd, &dir)?;
    let ui = &ctx.ui;
    if ui.json {
        ui.json(serde_json::json!({ "dir": dir }))?;
        return Ok(Exit::Success);
    }
    ui.info(format!("wrote man pages to {}", dir.display()));
    if let Some(hint) = search_hint(&dir) {
        ui.warn(hint);
    } else {
        ui.info("`git lanes --help` (man git-lanes) now opens the page");
    }
    Ok(Exit::Success)
}

/// `<exe dir>/../share/man/man1` for an executable in a `bin` folder, else
/// `$XDG_DATA_HOME/man/man1` or `~/.local/share/man/man1`.
fn default_dir() -> Result<PathBuf, CliError> {
    if let Ok(exe) = std::env::current_exe()
        && let Some(bin) = exe.parent()
        && bin.file_name().is_some_and(|n| n == "bin")
        && let Some(prefix) = bin.parent()
    {
        return Ok(prefix.join("share/man/man1"));
    }
    let data = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".local/share")))
        .ok_or_else(|| CliError::state("no HOME to install the man pages under").hint("pass `--dir <folder>`"))?;
    Ok(data.join("man/man1"))
}

/// What to do when `man` will not search `dir` by itself (its `../../bin` is not on `PATH`, or
/// `MANPATH` replaces the default search).
fn search_hint(dir: &Path) -> Option<String> {
    let root = dir.parent()?; // …/share/man
    let bin = root.parent()?.parent()?.join("bin");
    let on_path = std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d == bin));
    let manpath = std::env::var("MANPATH").unwrap_or_default();
    let covered = manpath.is_empty() && on_path || manpath.split(':').any(|d| Path::new(d) == root) || manpath.ends_with(':') && on_path;
    (!covered).then(|| {
        format!("`man` does not search {} yet; add `export MANPATH=\"{}:$MANPATH\"` to your shell profile", root.display(), root.display())
    })
}
