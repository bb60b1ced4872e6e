//! What is refused before a run or hunt makes anything: a dirty main worktree, a set-up that is
//! not committed, files written through a symlink, input that does not validate.

use std::path::{Path, PathBuf};

use crate::base::error::{Error, Result};
use crate::files::catalog::Catalog;
use crate::files::config::IntegrationPolicy;
use crate::files::workspace::Workspace;
use crate::git::repo::Repo;
use crate::run::options::RunOptions;

/// The set-up files (`lanes.yaml`, catalog, issue files, fixer and hunter specs) that are
/// untracked, or differ from HEAD (staged or not), ignored files aside.
pub fn uncommitted_setup(repo: &Repo, ws: &Workspace) -> Result<Vec<String>> {
    let c = &ws.config;
    let rel = |p: &Path| -> String {
        let abs = ws.root.join(p);
        abs.strip_prefix(&repo.root).unwrap_or(p).to_string_lossy().replace('\\', "/")
    };
    let files = [Path::new(crate::files::config::CONFIG_FILE), c.catalog.as_path()].map(rel);
    let dirs = [c.issues.as_path(), c.fixer_specs.as_path(), c.hunter_specs.as_path()].map(rel);
    let mut opts = git2::StatusOptions::new();
    opts.include_untracked(true).recurse_untracked_dirs(true).include_ignored(false).exclude_submodules(true);
    for f in &files {
        opts.pathspec(f);
    }
    for d in &dirs {
        opts.pathspec(format!("{}/", d.trim_end_matches('/')));
    }
    opts.disable_pathspec_match(false);
    let statuses =
        crate::git::repo::statuses(&repo.git, &mut opts).map_err(|e| Error::git("could not read the status of the set-up files", e))?;
    let mut out: Vec<String> = statuses
        .into_iter()
        .filter(|(_, st)| !st.contains(git2::Status::IGNORED))
        .map(|(p, _)| p)
        .filter(|p| files.contains(p) || dirs.iter().any(|d| p.starts_with(&format!("{}/", d.trim_end_matches('/')))))
        .collect();
    out.sort();
    Ok(out)
}

pub(crate) fn refuse_uncommitted_setup(repo: &Repo, ws: &Workspace) -> Result<()> {
    let files = uncommitted_setup(repo, ws)?;
    if files.is_empty() {
        return Ok(());
    }
    let quoted: Vec<String> = files.iter().map(|f| if f.contains([' ', '\'', '"']) { format!("'{f}'") } else { f.clone() }).collect();
    Err(Error::State {
        message: format!(
            "the set-up is not committed: {} (lanes start from HEAD, where {} missing or different)",
            files.join(", "),
            if files.len() == 1 { "it is" } else { "they are" }
        ),
        hint: Some(format!("git add {} && git commit -m \"lanes set-up\"", quoted.join(" "))),
    })
}

/// Refuse a run whose files would be written through a symlink (the catalog, the state file,
/// the runs, signals and evidence folders and the folders above them, `.git/lanes`): before
/// any lane starts, not at the finish after every lane has worked.
pub(crate) fn refuse_symlinked_files(repo: &Repo, ws: &Workspace) -> Result<()> {
    let c = &ws.config;
    let link = |at: &Path| std::fs::symlink_metadata(at).is_ok_and(|m| m.file_type().is_symlink());
    let mut found: Option<PathBuf> = None;
    for rel in [&c.catalog, &c.state, &c.runs, &c.signals, &c.evidence] {
        let mut at = ws.root.clone();
        for part in rel.components() {
            at.push(part);
            if link(&at) {
                found = Some(at);
                break;
            }
        }
        if found.is_some() {
            break;
        }
    }
    let lanes = repo.lanes_dir();
    if found.is_none() {
        found = [lanes.clone(), lanes.join("runs"), lanes.join("worktrees"), lanes.join("cache")].into_iter().find(|p| link(p));
    }
    let Some(at) = found else { return Ok(()) };
    let shown = at.strip_prefix(&ws.root).unwrap_or(&at).display().to_string();
    let target = std::fs::read_link(&at).map(|t| format!(" (to {})", t.display())).unwrap_or_default();
    Err(Error::State {
        message: format!("`{shown}` is a symlink{target}; git-lanes writes its files there and never through a symlink"),
        hint: Some(format!("make `{shown}` a real folder or file inside the repository, then run again")),
    })
}

/// Step 1: refuse a dirty main worktree when the run will commit or merge; validate input.
pub(crate) fn preflight(repo: &Repo, ws: &Workspace, opts: &RunOptions) -> Result<Option<Catalog>> {
    let will_touch_main = !opts.no_commit
        && !opts.no_integrate
        && crate::run::settings::Settings::resolve(opts, &ws.config).policy != IntegrationPolicy::Branches;
    if will_touch_main {
        let dirty = repo.dirty_tracked_files()?;
        if !dirty.is_empty() {
            return Err(Error::State {
                message: format!("the main worktree has uncommitted changes to tracked files: {}", dirty.join(", ")),
                hint: Some("commit or stash them yourself (git-lanes never does), or run with `--no-commit` or `--policy branches`".into()),
            });
        }
    }
    ws.ensure_clean()?;
    refuse_symlinked_files(repo, ws)?;
    let catalog = match crate::base::fsutil::read_optional_capped(&ws.root.join(&ws.config.catalog), crate::files::text::MAX_FILE_BYTES)? {
        Some(b) => Some(Catalog::parse(&ws.config.catalog, b)?),
        None => None,
    };
    let report = crate::files::validate::validate(ws, None);
    if !report.errors.is_empty() {
        return Err(Error::from(report.errors));
    }
    // The run's commits are signed as git would sign them, or the run does not start.
    crate::git::snapshot::check_signing(&repo.git)?;
    Ok(catalog)
}
