//! `doctor`: find what needs repair — duplicate ids, leftovers of dead runs — and describe each
//! repair as an [`Action`]. `doctor --fix` applies exactly the printed plan, nothing else.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use crate::error::Result;
use crate::issue::Issue;
use crate::names;
use crate::rewrite::Edit;
use crate::workspace::Workspace;

/// One repair step.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Give a duplicated issue a fresh id: rename the file, rewrite `issue_id` and the title's id.
    Renumber { path: PathBuf, old_id: String, new_id: String, new_path: PathBuf, kept: PathBuf },
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Action::Renumber { path, old_id, new_id, new_path, kept } => {
                write!(f, "renumber {old_id} in {} to {new_id} ({}); {} keeps {old_id}", path.display(), new_path.display(), kept.display())
            }
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

/// Build the renumbering plan for duplicate ids: in each group the first file (natural path
/// order) keeps the id; each other gets the next free number of its id's prefix, in the same
/// folder, with the same zero padding.
pub fn renumber_plan(ws: &Workspace) -> Vec<Action> {
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
        group.sort_by(|a, b| names::natural_cmp(&a.path.to_string_lossy(), &b.path.to_string_lossy()));
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

/// Apply actions exactly. Renumbering writes the new file atomically, then removes the old one.
pub fn apply(ws: &Workspace, actions: &[Action]) -> Result<()> {
    for a in actions {
        match a {
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
                crate::fsutil::write_under(&ws.root, new_path, &bytes)?;
                crate::fsutil::remove_file_if_exists(&ws.root.join(path))?;
            }
        }
    }
    Ok(())
}

/// A note for each RESOLVED issue whose latest evidence is missing, failing or stale (SPEC §2.1:
/// stale evidence counts as missing). Cheap: one evidence file per resolved issue.
pub fn evidence_notes(ws: &Workspace) -> Vec<Note> {
    crate::verify::unbacked_resolved(&ws.root, &ws.config.evidence, &ws.issues)
        .into_iter()
        .map(|(issue, state)| Note {
            subject: issue.id().to_string(),
            message: format!("RESOLVED but {state}; run `git lanes verify {}`", issue.id()),
        })
        .collect()
}

/// Replace `Issue <old>:` in the title line with the new id.
fn retitle(text: &str, old: &str, new: &str, issue: &Issue) -> String {
    let Some(h) = issue.outline.headings.first() else { return text.to_string() };
    // The title line's offset is unchanged by the frontmatter edit only if the id has the same
    // length; find the line again by content instead.
    let line = &issue.text[h.offset..].lines().next().unwrap_or("");
    let replaced = line.replacen(&format!("{old}:"), &format!("{new}:"), 1);
    match text.find(line) {
        Some(at) if !line.is_empty() => format!("{}{}{}", &text[..at], replaced, &text[at + line.len()..]),
        _ => text.to_string(),
    }
}

/// Notes about what runs left behind: lane branches and worktrees of finished runs (cleaned by
/// `git lanes clean`, which archives every tip first) and runs that `run --resume` can continue.
pub fn run_notes(repo: &crate::repo::Repo, config: &crate::config::Config) -> crate::error::Result<Vec<Note>> {
    let mut notes = Vec::new();
    for a in crate::clean::plan(repo, config, false)? {
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
    if crate::lock::holder(&repo.lanes_dir()).is_none()
        && let Some((id, st)) = crate::run::latest_unfinished(repo)?
    {
        notes.push(Note {
            subject: format!("run {id}"),
            message: format!("is {} and can be continued with `git lanes run --resume`", st.status.replace('_', " ")),
        });
    }
    Ok(notes)
}
