//! `run --dry-run`: steps 1–2 of a run (plan and work orders) plus a verdict preview, writing
//! nothing (docs/design.md#the-run-algorithm). Start at [`dry_run`].
//!
//! # Design note: writing nothing
//!
//! The repository is only read: git2 reads HEAD's tree object by object (no index refresh, no
//! lock, no ref), and the working tree is read for the issue files. The checks of the assigned
//! issues run in a throwaway export of HEAD in a temporary directory **outside** the repository
//! (refused if `TMPDIR` points inside it), with a scrubbed environment and the verify timeout, and
//! the export is deleted afterwards. One export serves every lane; checks are expected to inspect,
//! not to write. A check that [`crate::files::safety::inspect`] flags (deletes outside the worktree,
//! reaches the network, uses `sudo`) is shown with its findings and never run. Every check runs
//! in the sandbox ([`crate::exec::sandbox`]: writes only in the export and a private temporary folder,
//! no network); where there is none, no check runs unless `--allow-unsandboxed`.
#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::path::Path;

use rayon::prelude::*;
use serde::Serialize;

use crate::agents::presets;
use crate::base::error::{Error, Result};
use crate::files::catalog::Catalog;
use crate::files::safety::{self, Finding};
use crate::files::workspace::Workspace;
use crate::planning::plan::{self, LanePlan, PlanOptions};
use crate::planning::workorder::{self, WorkOrder};

/// What the user asked for.
#[derive(Debug, Clone)]
pub struct DryRunOptions {
    pub plan: PlanOptions,
    /// The run id the work orders are named after.
    pub run_id: String,
    /// RFC 3339 timestamp for the work orders.
    pub created_at: String,
    /// `--worker`, `--model`, `--max-turns`, `--max-budget-usd` as a run would get them.
    pub worker: Option<String>,
    pub model: Option<String>,
    pub max_turns: Option<u32>,
    pub max_budget_usd: Option<f64>,
    /// Run the checks even where there is no sandbox (Landlock missing).
    pub allow_unsandboxed: bool,
}

/// One check as a run would see it now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckPreview {
    pub label: String,
    pub command: String,
    /// `Some(false)`: fails on HEAD (the issue reproduces); `Some(true)`: passes already
    /// (suspicious: nothing to fix); `None`: not run (see `findings` and `note`).
    pub currently_passing: Option<bool>,
    pub findings: Vec<Finding>,
    /// How it ended (`exit 0`, `timed out after 30s`) or why it was not run.
    pub note: String,
    /// How it was kept from writing git's data (`no_git_folder`: the export has none); `None`
    /// when not run.
    pub git_shield: Option<crate::exec::sandbox::GitShield>,
    /// The last lines of its output (capped, secrets redacted) when it fails now: what a worker
    /// has to make pass.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
}

/// The verdict preview of one assigned issue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IssuePreview {
    pub id: String,
    /// No checks: a run could never resolve it.
    pub unverifiable: bool,
    pub checks: Vec<CheckPreview>,
    /// What the checks run with as it is at the base, and a lane's edits to which are not merged:
    /// the `protect:` globs and the files the lane's checks name (outside its affected paths).
    pub protected: Vec<String>,
}

/// One lane's dry run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LanePreview {
    #[serde(flatten)]
    pub plan: LanePlan,
    /// `None` when nothing is ready (the lane would be skipped).
    pub work_order: Option<WorkOrder>,
    /// The shell line the lane's worker would be started with (`sh -c`), presets expanded;
    /// `None` when the lane would be skipped or has no worker.
    pub worker: Option<String>,
    /// Why that worker could not start (its CLI is not installed, no worker is set, a bad limit),
    /// with the fix.
    pub worker_problem: Option<String>,
    pub verdict_preview: Vec<IssuePreview>,
}

/// Plan every lane, build its work order and preview its checks on HEAD.
pub fn dry_run(repo: &git2::Repository, ws: &Workspace, catalog: Option<&Catalog>, opts: &DryRunOptions) -> Result<Vec<LanePreview>> {
    let plans = plan::plan(ws, catalog, &opts.plan)?;
    let by_id = ws.by_id();
    let head = repo.head().ok().and_then(|h| h.peel_to_tree().ok());
    let exists = |p: &str| head.as_ref().is_some_and(|t| t.get_path(Path::new(p)).is_ok());
    let protection = crate::judge::protect::Protection::new(&ws.config.protect, &ws.issues, exists);
    let mut lanes = Vec::with_capacity(plans.len());
    for p in plans {
        let work_order = if p.is_idle() {
            None
        } else {
            let cx = workorder::Context {
                run_id: &opts.run_id,
                created_at: &opts.created_at,
                config: &ws.config,
                spec: ws.specs.get(&p.lane),
                issues: &by_id,
            };
            Some(WorkOrder::build(&p, &cx)?)
        };
        let lane_issues: Vec<&crate::files::issue::Issue> = p.issues.iter().filter_map(|a| by_id.get(a.id.as_str()).copied()).collect();
        let verdict_preview = p
            .issues
            .iter()
            .map(|a| {
                let checks: Vec<CheckPreview> = by_id
                    .get(a.id.as_str())
                    .map(|i| i.checks())
                    .unwrap_or_default()
                    .into_iter()
                    .map(|c| {
                        let findings = safety::inspect(&c.command);
                        let note = if findings.is_empty() { String::new() } else { "not run: flagged as dangerous".into() };
                        CheckPreview {
                            label: c.label().to_string(),
                            command: c.command,
                            currently_passing: None,
                            findings,
                            note,
                            git_shield: None,
                            output: None,
                        }
                    })
                    .collect();
                let protected = by_id.get(a.id.as_str()).map(|i| protection.shown_for(i, &lane_issues)).unwrap_or_default();
                IssuePreview { id: a.id.clone(), unverifiable: checks.is_empty(), checks, protected }
            })
            .collect();
        let (worker, worker_problem) = if p.is_idle() { (None, None) } else { worker_preview(ws, &p.lane, opts) };
        lanes.push(LanePreview { plan: p, work_order, verdict_preview, worker, worker_problem });
    }
    run_checks(repo, ws, &mut lanes, opts.allow_unsandboxed)?;
    Ok(lanes)
}

/// The worker line a run would start for `lane`, and what would stop it from starting.
fn worker_preview(ws: &Workspace, lane: &str, opts: &DryRunOptions) -> (Option<String>, Option<String>) {
    let spec = ws.specs.get(lane);
    let Some(setting) = presets::lane_setting(opts.worker.as_deref(), spec.and_then(|s| s.worker.as_deref()), ws.config.worker.as_deref())
    else {
        return (None, Some(format!("no worker for lane {lane}; hint: pass `--worker claude` (or another preset, or a command line)")));
    };
    let preset = setting.trim().parse::<presets::Preset>().unwrap_or(presets::Preset::Script);
    let model = super::model::lane_model(preset, opts.model.as_deref(), spec, &ws.config);
    let nowhere = Path::new("");
    let ctx = presets::WorkerContext {
        prompt_file: nowhere,
        work_order_file: nowhere,
        state_dir: nowhere,
        model: model.as_deref(),
        max_turns: opts.max_turns,
        max_budget_usd: opts.max_budget_usd,
        lane,
        sandboxed: ws.config.sandbox_workers,
    };
    let with_hint = |e: presets::WorkerError| match e.hint() {
        Some(h) => format!("{e}; hint: {h}"),
        None => e.to_string(),
    };
    match presets::resolve_worker(setting, &ctx) {
        Ok(cmd) => {
            let path = presets::worker_path().or_else(|| std::env::var_os("PATH"));
            let problem = presets::check_worker(&cmd, lane, path.as_deref(), &ws.root).err().map(with_hint);
            (Some(cmd.shell), problem)
        }
        Err(e) => (None, Some(with_hint(e))),
    }
}

/// Run every unflagged check in one export of HEAD.
fn run_checks(repo: &git2::Repository, ws: &Workspace, lanes: &mut [LanePreview], allow_unsandboxed: bool) -> Result<()> {
    let mut todo: Vec<&mut CheckPreview> = lanes
        .iter_mut()
        .flat_map(|l| l.verdict_preview.iter_mut())
        .flat_map(|i| i.checks.iter_mut())
        .filter(|c| c.findings.is_empty())
        .collect();
    if todo.is_empty() {
        return Ok(());
    }
    // A word list cannot be complete: without a sandbox the dry run runs nothing it was not told to.
    if let crate::exec::sandbox::Status::Missing(why) = crate::exec::sandbox::status()
        && !allow_unsandboxed
    {
        for c in todo {
            c.note = format!("not run: no sandbox here ({why}); pass --allow-unsandboxed to run it anyway");
        }
        return Ok(());
    }
    let Some(tree) = repo.head().ok().and_then(|h| h.peel_to_tree().ok()) else {
        for c in todo {
            c.note = "not run: HEAD has no commit to run it on".into();
        }
        return Ok(());
    };
    let (_dir, export) = export_outside(repo, &ws.root, &tree)?;
    // Flagged checks never reach here; `allow_dangerous` only stops a second refusal.
    let opts = crate::judge::verify::VerifyOptions::from_config(&ws.config, true);
    let checker = crate::judge::verify::Checker::new(&export, &opts);
    todo.par_iter_mut().for_each(|c| {
        let (passing, note, shield, output) = run_check(&checker, &c.command);
        c.currently_passing = passing;
        c.note = note;
        c.git_shield = shield;
        c.output = output;
    });
    Ok(())
}

/// Export `tree` into a new temporary directory **outside** the repository (refused when
/// `TMPDIR` points inside it); returns the directory (deleted when dropped) and its resolved path.
/// The hunt's findings judge runs its checks in such an export of the run's base commit too.
pub(crate) fn export_outside(
    repo: &git2::Repository,
    root: &Path,
    tree: &git2::Tree<'_>,
) -> Result<(tempfile::TempDir, std::path::PathBuf)> {
    let dir = tempfile::Builder::new().prefix("git-lanes-export-").tempdir().map_err(|e| Error::io("create", &std::env::temp_dir(), e))?;
    let export = dir.path().canonicalize().map_err(|e| Error::io("resolve", dir.path(), e))?;
    let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    let git_dir = repo.commondir().canonicalize().unwrap_or_else(|_| repo.commondir().to_path_buf());
    if export.starts_with(&root) || export.starts_with(&git_dir) {
        return Err(Error::state(
            format!("the temporary directory {} is inside the repository; git-lanes must not write there", export.display()),
            Some("set TMPDIR to a directory outside the repository".into()),
        ));
    }
    export_tree(repo, tree, &export)?;
    Ok((dir, export))
}

/// Run one check in the export with the judge's own rule (`verify::Checker`): scrubbed
/// environment, the verify timeout, PASS/FAIL words. `None`: it could not be run.
/// A failing check also gives the tail of its output.
fn run_check(
    checker: &crate::judge::verify::Checker<'_>,
    command: &str,
) -> (Option<bool>, String, Option<crate::exec::sandbox::GitShield>, Option<String>) {
    let check = crate::files::issue::Check { name: None, command: command.to_string(), line: 0 };
    let r = checker.run(&check);
    match &r.reason {
        crate::judge::verify::Reason::NotRun { why } => (None, format!("not run: {why}"), r.git_shield, None),
        _ => {
            let output = (!r.passed).then(|| crate::judge::verify::FailedCheck::of(command, r.ending_words(), &r.output).output);
            (Some(r.passed), r.ending_words(), r.git_shield, output)
        }
    }
}

/// Write `tree` under `dest` (blobs as files with their mode, symlinks as symlinks, submodules as
/// empty folders). Reads objects only.
fn export_tree(repo: &git2::Repository, tree: &git2::Tree<'_>, dest: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut failure: Option<Error> = None;
    let walk = tree.walk(git2::TreeWalkMode::PreOrder, |parent, entry| {
        let Some(name) = entry.name() else { return git2::TreeWalkResult::Skip };
        let path = dest.join(parent).join(name);
        let r: Result<()> = (|| {
            match entry.kind() {
                Some(git2::ObjectType::Tree) | Some(git2::ObjectType::Commit) => {
                    std::fs::create_dir_all(&path).map_err(|e| Error::io("create", &path, e))?;
                }
                Some(git2::ObjectType::Blob) => {
                    let blob = repo.find_blob(entry.id()).map_err(|e| Error::git(format!("could not read {}", path.display()), e))?;
                    if entry.filemode() == 0o120000 {
                        let target = String::from_utf8_lossy(blob.content()).into_owned();
                        std::os::unix::fs::symlink(target, &path).map_err(|e| Error::io("create symlink", &path, e))?;
                    } else {
                        std::fs::write(&path, blob.content()).map_err(|e| Error::io("write", &path, e))?;
                        if entry.filemode() == 0o100755 {
                            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                                .map_err(|e| Error::io("set permissions of", &path, e))?;
                        }
                    }
                }
                _ => {}
            }
            Ok(())
        })();
        match r {
            Ok(()) => git2::TreeWalkResult::Ok,
            Err(e) => {
                failure = Some(e);
                git2::TreeWalkResult::Abort
            }
        }
    });
    if let Some(e) = failure {
        return Err(e);
    }
    walk.map_err(|e| Error::git("could not export HEAD", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The dry run judges with the run's own rule (the rule itself is tested in `verify`).
    #[test]
    fn previews_use_the_judges_rule() {
        let d = tempfile::tempdir().unwrap();
        let config = crate::files::config::Config::defaults();
        let opts = crate::judge::verify::VerifyOptions::from_config(&config, true);
        let checker = crate::judge::verify::Checker::new(d.path(), &opts);
        assert_eq!(run_check(&checker, "echo FAIL").0, Some(false));
        assert_eq!(run_check(&checker, "echo PASS; exit 1").0, Some(true));
        let (passing, note, _, output) = run_check(&checker, "echo 'assert 2 == 3'; exit 1");
        assert_eq!((passing, note.as_str(), output.as_deref()), (Some(false), "exit 1", Some("assert 2 == 3")));
        assert_eq!(run_check(&checker, "true").0, Some(true));
    }
}
