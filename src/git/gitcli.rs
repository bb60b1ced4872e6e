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
        Err(Error::Command {
            message: format!("`git {}` failed in {} ({}): {}", args.join(" "), cwd.display(), done.ending, last_lines(&text, 6)),
            hint: None,
        })
    }
}

/// git's reason for a failure: from its first `error:` or `fatal:` line (the reason; what follows
/// is advice), else the last `n` lines, blank lines aside, at most `n` lines either way.
fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let from = lines.iter().position(|l| l.starts_with("error:") || l.starts_with("fatal:")).unwrap_or(lines.len().saturating_sub(n));
    lines[from..].iter().take(n).copied().collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reason_is_gits_error_line_not_the_advice_after_it() {
        // What `git merge` prints when the index is locked: the reason, a blank line, advice.
        let text = "error: Unable to create '/r/.git/index.lock': File exists.\n\nAnother git process seems to be running in this repository, e.g.\nan editor opened by 'git commit'. Please make sure all processes\nare terminated then try again. If it still fails, a git process\nmay have crashed in this repository earlier:\nremove the file manually to continue.";
        let got = last_lines(text, 6);
        assert!(got.starts_with("error: Unable to create '/r/.git/index.lock': File exists."), "{got}");
        assert_eq!(last_lines("a\nb\n\nc", 2), "b\nc");
        assert_eq!(last_lines("", 6), "");
    }
}
