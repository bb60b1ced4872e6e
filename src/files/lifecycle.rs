//! An issue's life by hand: closing it without a fix ([`wontfix`]), putting it back in its lane's
//! queue ([`reopen`]), and after every edit of issue files the catalog brought up to date
//! ([`resync_catalog`], the one way it is re-synced: by `new`, `wontfix`, `reopen`, a run's finish
//! and a hunt's landing). Filing a new issue is `scaffold::new_issue`. Nothing here prints: the
//! command line says what was done.

use std::path::PathBuf;

use crate::base::error::{Problem, Result};
use crate::files::catalog::Catalog;
use crate::files::issue::{Issue, Status};
use crate::files::rewrite::Edit;
use crate::files::scaffold;
use crate::files::workspace::Workspace;

/// What re-syncing the catalog did.
#[derive(Debug, Clone, PartialEq)]
pub enum CatalogSync {
    /// There is no catalog file: nothing to sync.
    NoCatalog,
    /// The catalog was compared with the issue files; `changed`: it differed and was written.
    Synced {
        /// Whether the catalog was rewritten.
        changed: bool,
    },
    /// An issue file does not read cleanly (its first problem, when one is a file's), so the
    /// catalog was left as it was.
    IssueProblems(Option<Problem>),
    /// The catalog itself does not parse: left as it was.
    Unparsable(Problem),
}

impl CatalogSync {
    /// Whether the catalog was rewritten.
    #[must_use]
    pub fn written(&self) -> bool {
        matches!(self, CatalogSync::Synced { changed: true })
    }
}

/// Re-syncs the catalog of `ws` (loaded at its root after the edit) with its issue files, as of
/// now, and writes it when it changed. Problem files are skipped as `Catalog::sync` skips them;
/// [`resync_after_edit`] refuses to sync over them instead.
///
/// # Errors
///
/// When the catalog cannot be read or written.
pub fn resync_catalog(ws: &Workspace) -> Result<CatalogSync> {
    let path = &ws.config.catalog;
    let Some(bytes) = crate::base::fsutil::read_optional_capped(&ws.root.join(path), crate::files::text::MAX_FILE_BYTES)? else {
        return Ok(CatalogSync::NoCatalog);
    };
    let catalog = match Catalog::parse(path, bytes) {
        Ok(c) => c,
        Err(p) => return Ok(CatalogSync::Unparsable(p)),
    };
    let synced = catalog.sync(ws, &scaffold::now_stamp());
    if synced.changed {
        crate::base::fsutil::write_under(&ws.root, path, &synced.bytes)?;
    }
    Ok(CatalogSync::Synced { changed: synced.changed })
}

/// After a hand edit of an issue file: loads the workspace afresh (it sees the edit) and re-syncs
/// the catalog when every issue file reads cleanly.
///
/// # Errors
///
/// When the workspace cannot be loaded or the catalog cannot be read or written.
pub fn resync_after_edit(ws: &Workspace) -> Result<CatalogSync> {
    let ws = Workspace::load(&ws.root, ws.config.clone())?;
    if ws.ensure_clean().is_err() {
        return Ok(CatalogSync::IssueProblems(ws.problems.first().cloned()));
    }
    resync_catalog(&ws)
}

/// What a status change by hand did.
#[derive(Debug, Clone, PartialEq)]
pub enum StatusChange {
    /// The issue already had that status: nothing was written.
    Unchanged,
    /// The issue is RESOLVED, which only `reopen` leaves: nothing was written.
    Resolved,
    /// The issue file was rewritten (only its status bytes and one Resolution line) and the
    /// catalog re-synced.
    Changed {
        /// The issue file, relative to the repository root.
        path: PathBuf,
        /// What re-syncing the catalog did.
        catalog: CatalogSync,
    },
}

/// Closes an OPEN issue as WONTFIX with `reason` (dated `today`) in its Resolution section, and
/// re-syncs the catalog. A WONTFIX issue is left alone, a RESOLVED one refused.
///
/// # Errors
///
/// When the issue file or the catalog cannot be written.
pub fn wontfix(ws: &Workspace, issue: &Issue, reason: &str, today: &str) -> Result<StatusChange> {
    match issue.status() {
        Status::Wontfix => return Ok(StatusChange::Unchanged),
        Status::Resolved => return Ok(StatusChange::Resolved),
        Status::Open => {}
    }
    let mut e = Edit::new(issue);
    e.set_status(Status::Wontfix).add_resolution_note("Won't fix", &format!("{today} — {}", reason.trim()));
    changed(ws, issue, &e)
}

/// Reopens a RESOLVED or WONTFIX issue (it joins its lane's queue again) with a dated line, and
/// the reason when one is given, in its Resolution section; re-syncs the catalog. An OPEN issue is
/// left alone.
///
/// # Errors
///
/// When the issue file or the catalog cannot be written.
pub fn reopen(ws: &Workspace, issue: &Issue, reason: Option<&str>, today: &str) -> Result<StatusChange> {
    let was = issue.status();
    if was == Status::Open {
        return Ok(StatusChange::Unchanged);
    }
    let note = match reason.map(str::trim).filter(|r| !r.is_empty()) {
        Some(r) => format!("{today} (was {was}) — {r}"),
        None => format!("{today} (was {was})"),
    };
    let mut e = Edit::new(issue);
    e.set_status(Status::Open).add_resolution_note("Reopened", &note);
    changed(ws, issue, &e)
}

fn changed(ws: &Workspace, issue: &Issue, edit: &Edit) -> Result<StatusChange> {
    edit.write(&ws.root, issue)?;
    Ok(StatusChange::Changed { path: issue.path.clone(), catalog: resync_after_edit(ws)? })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::files::config::{Config, Overrides};
    use crate::files::issue::Status;
    use crate::files::lifecycle::{CatalogSync, StatusChange, reopen, resync_after_edit, wontfix};
    use crate::files::scaffold::{self, InitOptions, NewIssue};
    use crate::files::workspace::Workspace;

    fn set_up(root: &Path) -> Workspace {
        let config = Config::load(root, &Overrides::default()).unwrap();
        let opts = InitOptions {
            lanes: vec![("E".into(), "Lane E".into())],
            catalog_title: "T".into(),
            write_config: false,
            worker_presets: String::new(),
        };
        scaffold::init(root, &config, &opts).unwrap();
        let ws = Workspace::load(root, config.clone()).unwrap();
        let n = NewIssue {
            lane: "E".into(),
            title: "a bug".into(),
            severity: 5,
            tags: vec![],
            affected_paths: vec![],
            depends_on: vec![],
            checks: vec!["true".into()],
        };
        scaffold::new_issue(&ws, &n).unwrap();
        assert!(matches!(resync_after_edit(&ws).unwrap(), CatalogSync::Synced { .. }));
        Workspace::load(root, config).unwrap()
    }

    #[test]
    fn wontfix_and_reopen_edit_the_issue_and_keep_the_catalog_in_sync() {
        let dir = tempfile::tempdir().unwrap();
        let ws = set_up(dir.path());
        // The catalog without the lines that carry its sync time (`HH:MM:SS`).
        let catalog = || {
            let text = std::fs::read_to_string(dir.path().join(&ws.config.catalog)).unwrap();
            let timed = |l: &str| {
                l.as_bytes().windows(8).any(|w| w[2] == b':' && w[5] == b':' && w.iter().all(|b| b.is_ascii_digit() || *b == b':'))
            };
            text.lines().filter(|l| !timed(l)).collect::<Vec<_>>().join("\n")
        };
        let before = catalog();
        let issue = ws.issue("E-01").unwrap();
        let StatusChange::Changed { path, catalog: sync } = wontfix(&ws, issue, " out of scope ", "2026-01-02").unwrap() else {
            panic!("an OPEN issue is closed")
        };
        assert!(sync.written(), "the catalog follows the edit");
        assert_ne!(catalog(), before);
        let text = std::fs::read_to_string(dir.path().join(&path)).unwrap();
        assert!(text.contains("2026-01-02 — out of scope"), "{text}");

        let ws = Workspace::load(dir.path(), ws.config.clone()).unwrap();
        let issue = ws.issue("E-01").unwrap();
        assert_eq!(issue.status(), Status::Wontfix);
        assert_eq!(wontfix(&ws, issue, "again", "2026-01-03").unwrap(), StatusChange::Unchanged);
        let StatusChange::Changed { catalog: sync, .. } = reopen(&ws, issue, None, "2026-01-04").unwrap() else { panic!("reopened") };
        assert!(sync.written());
        assert_eq!(catalog(), before, "back to OPEN: the catalog is as it was");

        let ws = Workspace::load(dir.path(), ws.config.clone()).unwrap();
        let issue = ws.issue("E-01").unwrap();
        assert_eq!(issue.status(), Status::Open);
        assert!(std::fs::read_to_string(dir.path().join(&issue.path)).unwrap().contains("2026-01-04 (was WONTFIX)"));
        assert_eq!(reopen(&ws, issue, Some("x"), "2026-01-05").unwrap(), StatusChange::Unchanged);
    }

    #[test]
    fn without_a_catalog_or_over_a_broken_issue_nothing_is_synced() {
        let dir = tempfile::tempdir().unwrap();
        let ws = set_up(dir.path());
        std::fs::write(dir.path().join(&ws.config.issues).join("E/E-02.md"), "not an issue\n").unwrap();
        assert!(matches!(resync_after_edit(&ws).unwrap(), CatalogSync::IssueProblems(Some(_))));
        std::fs::remove_file(dir.path().join(&ws.config.issues).join("E/E-02.md")).unwrap();
        std::fs::remove_file(dir.path().join(&ws.config.catalog)).unwrap();
        assert_eq!(resync_after_edit(&ws).unwrap(), CatalogSync::NoCatalog);
    }
}
