//! `git lanes verify`: run issues' verification commands, write evidence, print the results.
//!
//! The judging rules live in `verify.rs` (module docs). Human output: per issue a heading, one line
//! per check (`✓`/`✗`, name, duration, and how it ended when that is not a plain exit) and a
//! summary line. `--json` prints one document:
//!
//! - `schema_version` (1), `passed` (every selected issue passed), `summary` (`total`, `passed`,
//!   `failed`, `unverifiable`);
//! - `issues`: per issue, in selection order, `id`, `lane`, `path` (issue file), `outcome`
//!   (`PASSED` / `FAILED` / `UNVERIFIABLE`), `passed_checks`, `total_checks`, `confidence`
//!   (0–100), `duration_ms`, `evidence` (path of the evidence file written, or null), `updated`
//!   (whether `--update` rewrote the issue file), and `checks`: per check `name` (null when the
//!   issue file names none), `command`, `line` (in the issue file), `passed`, `reason` (the rule
//!   that decided: `not_run`, `ended`, `says_fail`, `says_pass` or `exit_code`), `not_run` (why
//!   it was not started, else null), `ending` (`exit 0`, `timed out after 30s`, `killed by signal 9`; null when not run),
//!   `exit_code` (null unless it exited), `duration_ms`, `output` (capped, redacted),
//!   `dropped_bytes` and `git_shield` (how the check was kept from writing git's data:
//!   `read_only_mount`, `landlock_rules`, `no_git_folder`, `put_back`; null when not run). Secret-like strings are redacted in commands and output alike.

use clap::Args;
use serde_json::{Value, json};

use crate::base::redact::redact;
use crate::cli::context::Ctx;
use crate::cli::error::{CliError, CliResult, Exit};
use crate::cli::ui::Ui;
use crate::files::issue::{Issue, Status};
use crate::files::rewrite::Edit;
use crate::judge::verify::{self, CheckResult, IssueVerdict, TreeState, VerifyOptions, VerifyOutcome};

/// Run issues' verification commands, write evidence and print the results
///
/// Each check runs with `sh -c` in the root of the current worktree, with a scrubbed environment
/// and the `verify.timeout` of lanes.yaml (30s by default). A check passes when its output says
/// PASS, or says neither PASS nor FAIL and it exits 0; it fails when it prints FAIL, exits
/// non-zero without printing PASS, times out or is killed. An issue without checks is
/// UNVERIFIABLE. Checks that delete outside the worktree, reach the network or use sudo fail
/// without running unless --allow-dangerous is given. `--lane` and `--all` skip WONTFIX issues.
///
/// Exits 0 when every selected issue passed, 4 otherwise.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Issue ids to verify
    #[arg(value_name = "ID", required_unless_present_any = ["lane", "all"], conflicts_with_all = ["lane", "all"])]
    pub ids: Vec<String>,
    /// Verify every issue of this lane
    #[arg(long, value_name = "LANE", conflicts_with = "all")]
    pub lane: Option<String>,
    /// Verify every issue
    #[arg(long)]
    pub all: bool,
    /// Record date_verified and verification_confidence in each passing issue's frontmatter
    #[arg(long)]
    pub update: bool,
    /// Verify this many issues at a time [default: number of CPUs]
    #[arg(short = 'j', long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
    /// Also run checks flagged as dangerous (deleting outside the worktree, network, sudo)
    #[arg(long)]
    pub allow_dangerous: bool,
    /// Do not write evidence files
    #[arg(long)]
    pub no_evidence: bool,
}

/// What happened to one issue besides its verdict.
struct Recorded<'a> {
    issue: &'a Issue,
    verdict: IssueVerdict,
    evidence: Option<std::path::PathBuf>,
    updated: bool,
}

pub fn run(args: VerifyArgs, ctx: &Ctx) -> CliResult {
    let (repo, ws) = ctx.setup_workspace()?;
    let ui = &ctx.ui;
    let selected = select(&args, &ws)?;
    if !ws.problems.is_empty() {
        ui.warn(format!("{} file(s) have problems and were skipped; run `git lanes validate`", ws.problems.len()));
    }
    if selected.is_empty() {
        ui.info("no issues to verify");
        if ui.json {
            ui.json(json!({ "passed": true, "summary": summary(&[]), "issues": [] }))?;
        }
        return Ok(Exit::Success);
    }

    let jobs = args.jobs.map(usize::from).unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let opts = VerifyOptions::from_config(&ws.config, args.allow_dangerous);
    if let Some(w) = crate::exec::sandbox::missing_warning() {
        ui.warn(w);
    }
    // What the evidence records of the tree; taken before the checks run, as they see it.
    let tree = if args.no_evidence { TreeState::default() } else { TreeState::of(&repo)? };
    ui.info(format!("verifying {} issue(s), up to {} at a time", selected.len(), jobs.min(selected.len())));
    // Checks must not leave tracked files changed (a build step rewriting a tracked file, a
    // check that edits): what they changed is put back; the user's own edits stay as they were.
    let droppings = crate::git::snapshot::Droppings::before(&ws.root).ok();
    let verdicts = verify::verify_many(&selected, &ws.root, &opts, jobs);
    if let Some(d) = droppings {
        let restored = d.restore(&ws.root, false)?;
        if !restored.is_empty() {
            ui.warn(format!("checks changed tracked files; restored: {}", restored.join(", ")));
        }
    }

    let now = chrono::Local::now();
    let today = now.format("%Y-%m-%d").to_string();
    let mut recorded = Vec::with_capacity(verdicts.len());
    for (issue, verdict) in selected.iter().zip(verdicts) {
        let evidence = if args.no_evidence {
            None
        } else {
            Some(verify::record_evidence(&ws.root, &ws.config.evidence, &verdict, issue, &tree, None, &now)?)
        };
        let updated = args.update && verdict.outcome == VerifyOutcome::Passed;
        if updated {
            verify::stamp_verified(&mut Edit::new(issue), &verdict, &today).write(&ws.root, issue)?;
        }
        recorded.push(Recorded { issue, verdict, evidence, updated });
    }

    let all_passed = recorded.iter().all(|r| r.verdict.outcome == VerifyOutcome::Passed);
    let verdicts: Vec<&IssueVerdict> = recorded.iter().map(|r| &r.verdict).collect();
    if ui.json {
        let issues: Vec<Value> = recorded.iter().map(issue_json).collect();
        ui.json(json!({ "passed": all_passed, "summary": summary(&verdicts), "issues": issues }))?;
    } else {
        for r in &recorded {
            print_issue(ui, r)?;
        }
        let s = summary(&verdicts);
        let line = format!("{} issue(s): {} passed, {} failed, {} unverifiable", s["total"], s["passed"], s["failed"], s["unverifiable"]);
        ui.info(if all_passed { ui.green(line) } else { ui.red(line) });
    }
    Ok(if all_passed { Exit::Success } else { Exit::CheckFailed })
}

/// The issues named by the arguments, in workspace order for `--lane`/`--all`, as typed for ids.
fn select<'a>(args: &VerifyArgs, ws: &'a crate::files::workspace::Workspace) -> Result<Vec<&'a Issue>, CliError> {
    if args.all {
        return Ok(ws.issues.iter().filter(|i| i.status() != Status::Wontfix).collect());
    }
    if let Some(lane) = &args.lane {
        crate::files::names::check_lane(lane).map_err(CliError::usage)?;
        let issues: Vec<&Issue> = ws.issues.iter().filter(|i| i.lane() == lane && i.status() != Status::Wontfix).collect();
        if issues.is_empty() && !ws.lanes(&[]).contains(lane) {
            return Err(CliError::usage(format!("unknown lane `{lane}`"))
                .hint(format!("lanes here: {}", ws.lanes(&[]).join(", ")))
                .hint("`git lanes status` lists lanes and their issues"));
        }
        return Ok(issues);
    }
    let mut out: Vec<&Issue> = Vec::with_capacity(args.ids.len());
    let mut unknown = Vec::new();
    for id in &args.ids {
        let matches: Vec<&Issue> = ws.issues.iter().filter(|i| i.id() == id).collect();
        match matches.as_slice() {
            [] => unknown.push(id.as_str()),
            [one] => {
                if !out.iter().any(|i| std::ptr::eq(*i, *one)) {
                    out.push(one);
                }
            }
            many => {
                let paths: Vec<String> = many.iter().map(|i| i.path.display().to_string()).collect();
                return Err(CliError::new(
                    crate::cli::error::ExitKind::Input,
                    format!("issue id `{id}` is used by {} files: {}", many.len(), paths.join(", ")),
                )
                .hint("run `git lanes doctor` to see the renumbering plan"));
            }
        }
    }
    if !unknown.is_empty() {
        let mut e = CliError::usage(format!("unknown issue id(s): {}", unknown.join(", ")));
        if let Some(close) = unknown.iter().find_map(|u| ws.issues.iter().find(|i| i.id().eq_ignore_ascii_case(u))) {
            e = e.hint(format!("did you mean `{}`?", close.id()));
        }
        return Err(e.hint("`git lanes status --json` lists lanes; issue files live under `issues/<LANE>/<ID>.md`"));
    }
    Ok(out)
}

fn summary(verdicts: &[&IssueVerdict]) -> Value {
    let count = |o: VerifyOutcome| verdicts.iter().filter(|v| v.outcome == o).count();
    json!({
        "total": verdicts.len(),
        "passed": count(VerifyOutcome::Passed),
        "failed": count(VerifyOutcome::Failed),
        "unverifiable": count(VerifyOutcome::Unverifiable),
    })
}

fn issue_json(r: &Recorded<'_>) -> Value {
    let v = &r.verdict;
    json!({
        "id": v.id,
        "lane": v.lane,
        "path": v.path,
        "outcome": v.outcome,
        "passed_checks": v.passed_checks(),
        "total_checks": v.checks.len(),
        "confidence": v.confidence(),
        "duration_ms": verify::duration_ms(v.duration),
        "evidence": r.evidence,
        "updated": r.updated,
        "checks": v.checks.iter().map(check_json).collect::<Vec<_>>(),
    })
}

fn check_json(c: &CheckResult) -> Value {
    json!({
        "name": c.check.name,
        "command": redact(&c.check.command),
        "line": c.check.line,
        "passed": c.passed,
        "reason": c.reason.code(),
        "not_run": match &c.reason { verify::Reason::NotRun { why } => Some(why.as_str()), _ => None },
        "ending": c.ending.map(|e| e.to_string()),
        "exit_code": c.exit_code(),
        "duration_ms": verify::duration_ms(c.duration),
        "output": c.output,
        "dropped_bytes": c.dropped_bytes,
        "git_shield": c.git_shield.map(crate::exec::sandbox::GitShield::code),
    })
}

fn print_issue(ui: &Ui, r: &Recorded<'_>) -> std::io::Result<()> {
    let v = &r.verdict;
    ui.out(format!("{} {}", ui.bold(&v.id), r.issue.title))?;
    for c in &v.checks {
        let mark = if c.passed { ui.green("✓") } else { ui.red("✗") };
        let mut detail = human_duration(c.duration);
        match c.unusual_ending() {
            Some(e) => detail = if c.ending.is_some() { format!("{detail}, {e}") } else { e },
            None if !c.passed => detail = format!("{detail}, {}", failure_note(c)),
            None => {}
        }
        ui.out(format!("  {mark} {} {}", shorten(&redact(c.check.label()), 72), ui.dim(format!("({detail})"))))?;
        if !c.passed && c.ending.is_some() {
            for line in tail_lines(&c.output, 3) {
                ui.out(format!("    {} {}", ui.dim("│"), shorten(line, 100)))?;
            }
        }
    }
    let outcome = match v.outcome {
        VerifyOutcome::Passed => ui.green(v.outcome),
        VerifyOutcome::Failed => ui.red(v.outcome),
        VerifyOutcome::Unverifiable => ui.yellow(v.outcome),
    };
    let mut line = match v.outcome {
        VerifyOutcome::Unverifiable => format!("  → {outcome}: no verification commands"),
        _ => format!("  → {outcome}: {}/{} checks passed ({}%)", v.passed_checks(), v.checks.len(), v.confidence()),
    };
    if let Some(shield) = v.checks.iter().find_map(|c| c.git_shield) {
        line += &format!("; {}", shield.describe());
    }
    if let Some(e) = &r.evidence {
        line += &format!("; evidence {}", e.display());
    }
    if r.updated {
        line += "; date_verified updated";
    }
    ui.out(line)
}

/// Why a check that ran to an exit failed: it printed FAIL, or its exit code.
fn failure_note(c: &CheckResult) -> String {
    match (&c.reason, c.exit_code()) {
        (verify::Reason::SaysFail, Some(0)) => "printed FAIL".into(),
        (verify::Reason::SaysFail, Some(code)) => format!("printed FAIL, exit {code}"),
        (_, Some(code)) => format!("exit {code}"),
        (reason, None) => reason.to_string(),
    }
}

fn tail_lines(text: &str, n: usize) -> Vec<&str> {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].to_vec()
}

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max { s.to_string() } else { format!("{}…", s.chars().take(max - 1).collect::<String>()) }
}

fn human_duration(d: std::time::Duration) -> String {
    if d.as_millis() < 1000 { format!("{}ms", d.as_millis()) } else { format!("{:.1}s", d.as_secs_f64()) }
}
