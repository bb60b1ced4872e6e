//! The gateway to the user's `git` for porcelain that must behave exactly like git does
//! (`worktree add/remove`, `push`, `fetch`, `commit` with hooks): one function, an explicit
//! environment, captured output, errors that name the command.

use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use crate::base::error::{Error, Result};
use crate::exec::process::{self, EnvPolicy, OutputTarget, ProcessSpec};

/// Run `git <args>` in `cwd`; returns trimmed combined output on success.
pub fn git(cwd: &Path, args: &[&str]) -> Result<String> {
    git_env(cwd, args, &[])
}

/// Like [`git`] with extra environment variables.
pub fn git_env(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<String> {
    let mut vars: Vec<(OsString, OsString)> = vec![
        // Never prompt: git-lanes runs unattended.
        ("GIT_TERMINAL_PROMPT".into(), "0".into()),
    ];
    vars.extend(env.iter().map(|(k, v)| (OsString::from(k), OsString::from(v))));
    let spec = ProcessSpec::new("git", args.iter().copied(), cwd)
        .with_env(EnvPolicy::Inherit(vars))
        .with_output(OutputTarget::Capture { cap_each_end: 256 * 1024 })
        .with_timeout(Duration::from_secs(600));
    let done = process::run(&spec)?;
    let text = done.output.text.trim_end().to_string();
    if done.ending.success() {
        Ok(text)
    } else {
        Err(Error::Conflict {
            message: format!("`git {}` failed in {} ({}): {}", args.join(" "), cwd.display(), done.ending, last_lines(&text, 6)),
            hint: None,
        })
    }
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
