//! `git lanes check [--pre-push | --range A..B]`: the pre-push gate (docs/design.md#the-pre-push-gate).
//!
//! `--json` document (schema_version 1): `ok` (bool), `failures` (list of `{path, message, fix,
//! rule}`: `path` relative to the repository root with `:line` when known, `rule` the id of the
//! rule broken, from `gate::rules::RULES`), `checked` (list of `{tip,
//! reference?, base, issues, resolving}`: each tip checked, the base it was compared with, how
//! many issue files it holds, and the ids that become RESOLVED).

use std::io::Read;

use clap::Args;

use crate::cli::context::Ctx;
use crate::cli::error::{CliError, CliResult, Exit};
use crate::gate::check::{self, Target};
use crate::gate::rules;

/// Check what is about to be pushed against the gate's rules: catalog in sync, issue files valid,
/// resolutions earned, …
// The long help lists every rule, rendered from `gate::rules::RULES` by `long_about`.
#[derive(Debug, Args)]
#[command(long_about = long_about())]
pub struct CheckArgs {
    /// Read git's pre-push hook input on stdin and check the commits being pushed
    #[arg(long, conflicts_with = "range")]
    pub pre_push: bool,
    /// Check the commits in a range, e.g. origin/main..HEAD (for CI)
    #[arg(long, value_name = "A..B")]
    pub range: Option<String>,
    /// The remote's name and URL, as git passes them to a pre-push hook
    #[arg(hide = true, requires = "pre_push", num_args = 0..=2)]
    pub remote: Vec<String>,
}

/// `check --help`'s text: what the check reads, the rules (rendered from the table) and the exit code.
fn long_about() -> String {
    format!(
        "Check what is about to be pushed against the gate's rules\n\n\
         Reads git objects only: nothing is checked out and no verification command is ever run. \
         Without flags, checks the working tree and index against the upstream. \
         Exits 4 when a rule fails; each failure ends with the id of the rule it breaks.\n\n\
         Rules:\n{}",
        rules::help()
    )
}

pub fn run(args: CheckArgs, ctx: &Ctx) -> CliResult {
    let repo = ctx.repo()?;
    let target = if args.pre_push {
        let mut input = String::new();
        std::io::stdin().read_to_string(&mut input).map_err(|e| CliError::git(format!("could not read the pre-push input: {e}")))?;
        Target::PrePush { remote: args.remote.first().cloned(), updates: check::parse_pre_push(&input)? }
    } else if let Some(r) = args.range {
        Target::Range(r)
    } else {
        Target::WorkTree
    };
    let outcome = check::check(&repo, &ctx.overrides(), &target)?;
    let ui = &ctx.ui;
    if ui.json {
        ui.json(serde_json::json!({ "ok": outcome.ok(), "failures": outcome.failures, "checked": outcome.checked }))?;
    } else {
        for f in &outcome.failures {
            ui.out(format!("{}: {} ({}) [{}]", ui.bold(&f.path), f.message, f.fix, f.rule.id))?;
        }
        let issues: usize = outcome.checked.iter().map(|c| c.issues).max().unwrap_or(0);
        let resolving: Vec<&str> = outcome.checked.iter().flat_map(|c| c.resolving.iter().map(String::as_str)).collect();
        let what = match &target {
            Target::PrePush { .. } if outcome.checked.is_empty() => "nothing to check (only deletions)".to_string(),
            Target::PrePush { .. } => format!("{} pushed ref(s)", outcome.checked.len()),
            Target::Range(r) => format!("range {r}"),
            Target::WorkTree => "working tree".to_string(),
        };
        let resolving = if resolving.is_empty() { String::new() } else { format!(", resolving {}", resolving.join(", ")) };
        if outcome.ok() {
            ui.info(ui.green(format!("git lanes check: {what}: ok ({issues} issue files{resolving})")));
        } else {
            eprintln!(
                "{}",
                ui.red(format!("git lanes check: {what}: {} failure(s) ({issues} issue files{resolving})", outcome.failures.len()))
            );
            eprintln!(
                "  {} fix the lines above, commit, and push again (`git push --no-verify` skips this check, CI runs it anyway)",
                ui.dim("hint:")
            );
        }
    }
    Ok(if outcome.ok() { Exit::Success } else { Exit::CheckFailed })
}
