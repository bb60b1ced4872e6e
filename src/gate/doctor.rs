//! `doctor`: find what needs repair — duplicate ids, leftovers of dead runs — and describe each
//! repair as an [`Action`]. `doctor --fix` applies exactly the printed plan, nothing else.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use crate::base::error::Result;
use crate::files::issue::Issue;
use crate::files::names;
use crate::files::rewrite::Edit;
use crate::files::workspace::Workspace;

/// One repair step.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Give a duplicated issue a fresh id: rename the file, rewrite `issue_id` and the title's id.
    Renumber { path: PathBuf, old_id: String, new_id: String, new_path: PathBuf, kept: PathBuf },
    /// Drop git's records of worktrees whose folder is gone (`git worktree prune`): a run killed
    /// at the wrong moment leaves them, and they block `run --resume`.
    PruneWorktrees { missing: Vec<PathBuf> },
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Action::Renumber { path, old_id, new_id, new_path, kept } => {
                write!(f, "renumber {old_id} in {} to {new_id} ({}); {} keeps {old_id}", path.display(), new_path.display(), kept.display())
            }
            Action::PruneWorktrees { missing } => write!(
                f,
                "prune {} registered worktree(s) whose folder is missing: {}",
                missing.len(),
                missing.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
            ),
        }
    }
}

/// Something doctor noticed that has no automatic repair.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Note {
    pub subject: String,
    pub message: String,
}

/// The repair plan.
#[derive(Debug, Default, serde::Serialize)]
pub struct Plan {
    pub actions: Vec<Action>,
    pub notes: Vec<Note>,
}

/// Build the renumbering plan for duplicate ids. In each group the genuine file keeps the id:
/// a file in its own lane's folder before a misplaced copy (`issues/E/M-05.md`), a tracked file
/// before an untracked one (`is_tracked`), the older before the newer (modification time), then
/// natural path order. Each other file gets the next free number of its id's prefix, in the same
/// folder, with the same zero padding.
pub fn renumber_plan(ws: &Workspace, is_tracked: &dyn Fn(&std::path::Path) -> bool) -> Vec<Action> {
    let mut groups: BTreeMap<&str, Vec<&Issue>> = BTreeMap::new();
    for i in &ws.issues {
        groups.entry(i.id()).or_default().push(i);
    }
    let mut taken: HashMap<String, u64> = HashMap::new();
    for i in &ws.issues {
        if let Some((n, _)) = names::trailing_number(i.id()) {
            let prefix = prefix_of(i.id()).to_string();
            let e = taken.entry(prefix).or_insert(0);
            *e = (*e).max(n);
        }
    }
    let mut actions = Vec::new();
    for (id, mut group) in groups.into_iter().filter(|(_, g)| g.len() > 1) {
        let misplaced = |i: &Issue| {
            let folder = i.path.parent().and_then(|p| p.file_name()).map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
            let id_lane = i.id().split('-').next().unwrap_or("");
            folder != i.lane() || (i.id().contains('-') && id_lane != folder)
        };
        let mtime = |i: &Issue| std::fs::metadata(ws.root.join(&i.path)).and_then(|m| m.modified()).ok();
        group.sort_by(|a, b| {
            (misplaced(a), !is_tracked(&a.path), mtime(a))
                .cmp(&(misplaced(b), !is_tracked(&b.path), mtime(b)))
                .then_with(|| names::natural_cmp(&a.path.to_string_lossy(), &b.path.to_string_lossy()))
        });
        let prefix = prefix_of(id).to_string();
        let width = names::trailing_number(id).map(|(_, w)| w).unwrap_or(2);
        for dup in &group[1..] {
            let next = taken.entry(prefix.clone()).or_insert(0);
            *next += 1;
            let new_id =
                if names::trailing_number(id).is_some() { format!("{prefix}{:0width$}", *next) } else { format!("{id}-{}", *next) };
            let new_path = dup.path.with_file_name(format!("{new_id}.md"));
            actions.push(Action::Renumber {
                path: dup.path.clone(),
                old_id: id.to_string(),
                new_id,
                new_path,
                kept: group[0].path.clone(),
            });
        }
    }
    actions
}

fn prefix_of(id: &str) -> &str {
    id.trim_end_matches(|c: char| c.is_ascii_digit())
}

/// Apply actions exactly. Renumbering never deletes anything: the file is first renamed to its new
/// name without replacing anything there (refused if that name is taken), then its id is
/// rewritten in place.
pub fn apply(ws: &Workspace, actions: &[Action]) -> Result<()> {
    for a in actions {
        match a {
            Action::PruneWorktrees { .. } => {
                crate::git::worktree::prune(&ws.root)?;
            }
            Action::Renumber { path, old_id, new_id, new_path, .. } => {
                let issue = ws.issues.iter().find(|i| &i.path == path && i.id() == old_id);
                let Some(issue) = issue else { continue };
                let mut e = Edit::new(issue);
                e.set_key("issue_id", new_id);
                let text = retitle(e.text(), old_id, new_id, issue);
                let mut bytes = Vec::new();
                if issue.bom {
                    bytes.extend_from_slice(b"\xEF\xBB\xBF");
                }
                bytes.extend_from_slice(text.as_bytes());
                crate::base::fsutil::check_no_symlink(&ws.root, path)?;
                crate::base::fsutil::check_no_symlink(&ws.root, new_path)?;
                rename_no_clobber(&ws.root.join(path), &ws.root.join(new_path))?;
                crate::base::fsutil::write_under(&ws.root, new_path, &bytes)?;
            }
        }
    }
    Ok(())
}

/// The repair for registered worktrees whose folder is missing, if there are any.
pub fn prune_plan(repo_root: &std::path::Path) -> Vec<Action> {
    let missing = crate::git::worktree::missing(repo_root);
    if missing.is_empty() { Vec::new() } else { vec![Action::PruneWorktrees { missing }] }
}

/// Rename `from` to `to` only when `to` does not exist (a hard link, then unlink: never replaces).
fn rename_no_clobber(from: &std::path::Path, to: &std::path::Path) -> Result<()> {
    use crate::base::error::Error;
    match std::fs::hard_link(from, to) {
        Ok(()) => std::fs::remove_file(from).map_err(|e| Error::io("remove", from, e)),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(Error::State {
            message: format!("{} already exists; doctor never replaces a file", to.display()),
            hint: Some("rename one of the duplicate files yourself, then run `git lanes doctor` again".into()),
        }),
        // No hard links here: rename after checking (nothing is there).
        Err(_) if std::fs::symlink_metadata(to).is_err() => std::fs::rename(from, to).map_err(|e| Error::io("rename", from, e)),
        Err(e) => Err(Error::io("rename", from, e)),
    }
}

/// A note for each RESOLVED issue whose latest evidence is missing, failing or stale (docs/formats.md#evidence:
/// stale evidence counts as missing). Cheap: one evidence file per resolved issue.
pub fn evidence_notes(ws: &Workspace) -> Vec<Note> {
    crate::judge::verify::unbacked_resolved(&ws.root, &ws.config.evidence, &ws.issues)
        .into_iter()
        .map(|(issue, state)| Note {
            subject: issue.id().to_string(),
            message: format!("RESOLVED but {state}; run `git lanes verify {}`", issue.id()),
        })
        .collect()
}

/// The pool is not a leftover: its worktrees wait for the next run (one note says how many and
/// how to empty it). A pooled worktree that holds something, and a folder in the pool that is no
/// registered pooled worktree (a kill inside `git worktree move`, or the user's), get a note each.
fn pool_notes(repo: &crate::git::repo::Repo, config: &crate::files::config::Config, pooled: &[crate::run::clean::Action]) -> Vec<Note> {
    let dir = crate::git::pool::pool_dir(repo, config);
    let mut notes = Vec::new();
    let reusable = pooled.iter().filter(|a| a.action == "remove").count();
    if reusable > 0 {
        notes.push(Note {
            subject: "worktree pool".into(),
            message: format!(
                "{reusable} pooled worktree(s) in {} wait for the next run to reuse them (`git lanes clean` empties the pool; `worktree_pool: false` turns it off)",
                dir.display()
            ),
        });
    }
    for a in pooled.iter().filter(|a| a.action != "remove") {
        let path = a.worktree.as_ref().map(|w| w.display().to_string()).unwrap_or_default();
        notes.push(Note { subject: path, message: format!("pooled worktree: {}", a.reason) });
    }
    for stray in crate::git::pool::strays(repo, config) {
        notes.push(Note {
            subject: stray.display().to_string(),
            message: "is in the worktree pool's folder but is not one of its worktrees (unknown to git, or without the pool's marker); git-lanes never reuses or removes it — look at it, then remove it yourself".into(),
        });
    }
    notes
}

/// Replace `Issue <old>:` in the title line with the new id.
fn retitle(text: &str, old: &str, new: &str, issue: &Issue) -> String {
    let Some(h) = issue.outline().and_then(|o| o.headings.first()) else { return text.to_string() };
    // The title line's offset is unchanged by the frontmatter edit only if the id has the same
    // length; find the line again by content instead.
    let line = &issue.text()[h.offset..].lines().next().unwrap_or("");
    let replaced = line.replacen(&format!("{old}:"), &format!("{new}:"), 1);
    match text.find(line) {
        Some(at) if !line.is_empty() => format!("{}{}{}", &text[..at], replaced, &text[at + line.len()..]),
        _ => text.to_string(),
    }
}

/// Notes about what runs left behind: lane branches and worktrees of finished runs (cleaned by
/// `git lanes clean`, which archives every tip first), the pool of worktrees kept for the next
/// run, and runs that `run --resume` can continue.
pub fn run_notes(repo: &crate::git::repo::Repo, config: &crate::files::config::Config) -> crate::base::error::Result<Vec<Note>> {
    let mut notes = Vec::new();
    let (pooled, lanes): (Vec<_>, Vec<_>) = crate::run::clean::plan(repo, config, false)?.into_iter().partition(|a| a.pooled);
    notes.extend(pool_notes(repo, config, &pooled));
    for a in lanes {
        let what = if a.merged { "merged" } else { "not merged" };
        notes.push(Note {
            subject: a.branch.clone(),
            message: format!(
                "left by run {} ({what}{}); `git lanes clean{}` removes it, keeping its tip under refs/lanes/archive/",
                a.run_id,
                a.worktree.as_ref().map(|w| format!(", worktree {}", w.display())).unwrap_or_default(),
                if a.action == "keep" { " --force" } else { "" }
            ),
        });
    }
    if crate::run::lock::holder(&repo.lanes_dir()).is_none()
        && let Some((id, st)) = crate::run::latest_unfinished(repo)?
    {
        notes.push(Note {
            subject: format!("run {id}"),
            message: format!("is {} and can be continued with `git lanes run --resume`", st.status.words()),
        });
    }
    Ok(notes)
}
