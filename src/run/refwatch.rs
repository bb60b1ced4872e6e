//! A worker moves no ref but its own lane branch: every other ref the run can see is noted when
//! the run starts and compared again each time a lane ends.
//!
//! What is watched: every ref of the repository (branches — the user's HEAD branch among them —,
//! tags, notes, `refs/lanes/*`, the stash, remote-tracking refs) except what the run itself
//! writes (its lane and integration branches, and `refs/lanes/<kind>/<RUN_ID>…`), and every ref
//! of each remote whose URL is a folder on this machine. A ref that moved, appeared or went is
//! put back — in the remote too, for a local remote — and the value it had is kept under
//! `refs/lanes/quarantine/<RUN_ID>/…`. The lanes that were running since the last comparison are
//! the suspects: one is named; several are named together (which one did it cannot be told) and
//! each is held — not integrated, its branch kept.
//!
//! # Design note: pushes, fetches and the stash
//! Without the sandbox a worker's `git push` cannot be prevented (the push guard's environment
//! is one `env -u` or `git -c` away); what the run can see of one is watched here. A
//! remote-tracking ref also moves on a fetch, which a worker may do: it counts as a push only
//! when it now points into the run's own work (a commit of a lane branch), and a fetch is left
//! alone. A worker's `git stash` writes `refs/stash`, shared by every worktree: it is put back
//! (the user's stash list stays the user's) and said, but holds no lane. The user may work
//! meanwhile: a move of the branch the user's checkout has checked out that leaves that
//! checkout consistent (its index holds the new commit's tree: a commit, a new branch checked
//! out) is the user's, and is left to the fast-forward's own check.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The key of a local remote's ref in a snapshot: `remote <name>: <ref>`.
const REMOTE_KEY: &str = "remote ";

/// Every watched ref now: `name → value` (a commit id, or `ref: <target>` for a symbolic ref).
/// `own_branches` is the run's branch folder (`refs/heads/lanes/<RUN_ID>/`).
pub fn snapshot(repo: &git2::Repository, run_id: &str, own_branches: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (name, value) in refs_of(repo) {
        if !is_runs_own(&name, run_id, own_branches) {
            out.insert(name, value);
        }
    }
    for (remote, path) in local_remotes(repo) {
        let Ok(other) = git2::Repository::open_bare(&path).or_else(|_| git2::Repository::open(&path)) else { continue };
        for (name, value) in refs_of(&other) {
            out.insert(format!("{REMOTE_KEY}{remote}: {name}"), value);
        }
    }
    out
}

/// Every ref of `repo` with its value.
fn refs_of(repo: &git2::Repository) -> Vec<(String, String)> {
    let Ok(refs) = repo.references() else { return Vec::new() };
    refs.flatten()
        .filter_map(|r| {
            let name = r.name()?.to_string();
            let value = match (r.target(), r.symbolic_target()) {
                (Some(t), _) => t.to_string(),
                (None, Some(s)) => format!("ref: {s}"),
                _ => return None,
            };
            Some((name, value))
        })
        .collect()
}

/// Whether the run itself writes `name`: its lane and integration branches, and its own folder
/// (or ref) of each kind under `refs/lanes/` (archive, incoming, backup, runs, quarantine).
fn is_runs_own(name: &str, run_id: &str, own_branches: &str) -> bool {
    if name.starts_with(own_branches) {
        return true;
    }
    let Some(rest) = name.strip_prefix("refs/lanes/") else { return false };
    let Some((_kind, tail)) = rest.split_once('/') else { return false };
    // `<RUN_ID>`, `<RUN_ID>/…`, and a continued run's `<RUN_ID>.2…`.
    tail == run_id || tail.strip_prefix(run_id).is_some_and(|t| t.starts_with('/') || t.starts_with('.'))
}

/// Remotes whose URL is a folder on this machine, with that folder.
fn local_remotes(repo: &git2::Repository) -> Vec<(String, std::path::PathBuf)> {
    let Ok(names) = repo.remotes() else { return Vec::new() };
    let mut out = Vec::new();
    for name in names.iter().flatten() {
        let Some(url) = repo.find_remote(name).ok().and_then(|r| r.url().map(str::to_string)) else { continue };
        let path = url.strip_prefix("file://").unwrap_or(&url);
        if path.starts_with('/') || path.starts_with('.') {
            let p = Path::new(path);
            let p = if p.is_absolute() { p.to_path_buf() } else { repo.workdir().unwrap_or(repo.path()).join(p) };
            if p.exists() {
                out.push((name.to_string(), p));
            }
        }
    }
    out
}

/// What one comparison found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Found {
    /// Lanes held (not integrated), each with what it is held for.
    pub held: BTreeMap<String, Vec<String>>,
    /// What was put back without holding a lane (the stash), and what could not be put back.
    pub notes: Vec<String>,
    /// Refs left as they are because another worktree has them checked out, with their value
    /// now (`None`: deleted): the comparisons after this one start from it.
    pub accepted: Vec<(String, Option<String>)>,
}

/// Compare the watched refs with `before`, put back every one that moved and keep its value
/// under `refs/lanes/quarantine/<RUN_ID>/…`. `suspects` are the lanes that ran since the last
/// comparison. Fetches (see the module's note) are left as they are.
pub fn check(
    repo: &git2::Repository,
    run_id: &str,
    own_branches: &str,
    base: Option<git2::Oid>,
    before: &BTreeMap<String, String>,
    suspects: &[String],
) -> Found {
    let now = snapshot(repo, run_id, own_branches);
    let mut found = Found::default();
    let keys: BTreeSet<&String> = before.keys().chain(now.keys()).collect();
    let run_tips = run_tips(repo, own_branches, run_id);
    let elsewhere = checked_out_elsewhere(repo);
    for key in keys {
        let (old, new) = (before.get(key), now.get(key));
        if old == new {
            continue;
        }
        if elsewhere.contains(key.as_str()) {
            // Left alone, and taken as the value from now on: once the worktree that has it checked
            // out is back on its lane branch, a later comparison must not take it for a new move.
            found.accepted.push((key.clone(), new.cloned()));
            continue;
        }
        if key.starts_with("refs/remotes/") && !points_into(repo, new, &run_tips) || users_own(repo, key, new) {
            continue;
        }
        let what = describe(key, old, new);
        let kept = match put_back(repo, run_id, key, old, new) {
            Ok(kept) => kept,
            Err(e) => {
                found.notes.push(format!("{what}, and could not be put back: {e}"));
                None
            }
        };
        let restored = match &kept {
            Some(q) => format!("put back; the value it was given is kept as `{q}`"),
            None => "put back".to_string(),
        };
        if key == "refs/stash" {
            found.notes.push(format!("{what} (a worker's `git stash`?): {restored}"));
            continue;
        }
        let push = key.starts_with(REMOTE_KEY) || key.starts_with("refs/remotes/");
        let kind = if push { " — a push" } else { "" };
        let traced = traced_to(repo, own_branches, base, new, suspects);
        let suspects: &[String] = match &traced {
            Some(one) => std::slice::from_ref(one),
            None => suspects,
        };
        let line = match suspects {
            [] => format!("{what}{kind} after every lane ended: {restored}"),
            [one] => format!("{what}{kind} while lane {one} ran: {restored}; the lane is not integrated"),
            many => {
                format!("{what}{kind} while lanes {} ran (which one cannot be told, so none is integrated): {restored}", many.join(", "))
            }
        };
        if suspects.is_empty() {
            found.notes.push(line.clone());
        }
        for lane in suspects {
            found.held.entry(lane.clone()).or_default().push(line.clone());
        }
    }
    found
}

/// Whether the move of `key` to `new` is the user's own work in their checkout: `key` is the
/// branch the checkout the run started from has checked out, and that checkout's index holds
/// `new`'s tree — as after `git commit`, `git checkout -b` or `git pull` there. A ref moved
/// behind the checkout's back (`git update-ref` from a lane's worktree) leaves the index at the
/// old tree, and is put back.
fn users_own(repo: &git2::Repository, key: &str, new: Option<&String>) -> bool {
    let Some(new) = new.and_then(|n| git2::Oid::from_str(n).ok()) else { return false };
    let Ok(head) = repo.find_reference("HEAD") else { return false };
    if head.symbolic_target() != Some(key) {
        return false;
    }
    let Ok(new_tree) = repo.find_commit(new).map(|c| c.tree_id()) else { return false };
    let Ok(mut index) = repo.index() else { return false };
    index.read(true).is_ok() && index.write_tree().is_ok_and(|t| t == new_tree)
}

/// `refs/heads/main moved (1234567890 → abcdef1234)`, `… was created (at …)`, `… was deleted`.
fn describe(key: &str, old: Option<&String>, new: Option<&String>) -> String {
    let short = |s: &String| s.chars().take(10).collect::<String>();
    match (old, new) {
        (Some(o), Some(n)) => format!("`{key}` moved ({} → {})", short(o), short(n)),
        (None, Some(n)) => format!("`{key}` was created (at {})", short(n)),
        (Some(o), None) => format!("`{key}` was deleted (it was at {})", short(o)),
        (None, None) => format!("`{key}`"),
    }
}

/// The one suspect whose own commits (on its lane branch, made since `base`) are in the history
/// of `new`: a ref moved to a commit built on a lane's work is that lane's doing, even when
/// other lanes ran too. `None` when no suspect's, or several suspects', work is there.
fn traced_to(
    repo: &git2::Repository,
    own_branches: &str,
    base: Option<git2::Oid>,
    new: Option<&String>,
    suspects: &[String],
) -> Option<String> {
    let (base, new) = (base?, git2::Oid::from_str(new?).ok()?);
    let mut hits = suspects.iter().filter(|lane| {
        let Some(tip) = repo.find_reference(&format!("{own_branches}{lane}")).ok().and_then(|r| r.target()) else { return false };
        repo.merge_base(new, tip).is_ok_and(|mb| mb != base && !repo.graph_descendant_of(base, mb).unwrap_or(false))
    });
    let one = hits.next()?;
    hits.next().is_none().then(|| one.clone())
}

/// Tips of the run's lane branches and archive refs: the run's own work.
fn run_tips(repo: &git2::Repository, own_branches: &str, run_id: &str) -> Vec<git2::Oid> {
    let mut tips = Vec::new();
    for glob in [format!("{own_branches}*"), format!("refs/lanes/archive/{run_id}/*")] {
        if let Ok(refs) = repo.references_glob(&glob) {
            tips.extend(refs.flatten().filter_map(|r| r.target()));
        }
    }
    tips
}

/// Whether `value` is a commit of the run's own work (a lane tip or one of its ancestors that is
/// not already an ancestor of every tip's start — approximated by reachability from the tips).
fn points_into(repo: &git2::Repository, value: Option<&String>, tips: &[git2::Oid]) -> bool {
    let Some(oid) = value.and_then(|v| git2::Oid::from_str(v).ok()) else { return false };
    tips.iter().any(|t| *t == oid || repo.graph_descendant_of(*t, oid).unwrap_or(false))
}

/// Put `key` back to `old` (deleting it when it did not exist) and keep `new` under
/// `refs/lanes/quarantine/<RUN_ID>/…`. Returns the quarantine ref when one was written.
fn put_back(
    repo: &git2::Repository,
    run_id: &str,
    key: &str,
    old: Option<&String>,
    new: Option<&String>,
) -> Result<Option<String>, String> {
    let (target, name, quarantine_name) = match key.strip_prefix(REMOTE_KEY).and_then(|k| k.split_once(": ")) {
        Some((remote, name)) => {
            let path = local_remotes(repo).into_iter().find(|(n, _)| n == remote).map(|(_, p)| p).ok_or("the remote is gone")?;
            let other =
                git2::Repository::open_bare(&path).or_else(|_| git2::Repository::open(&path)).map_err(|e| e.message().to_string())?;
            (Some(other), name, format!("remote/{remote}/{}", name.trim_start_matches("refs/")))
        }
        None => (None, key, key.trim_start_matches("refs/").to_string()),
    };
    let target = target.as_ref().unwrap_or(repo);
    let kept = match new.and_then(|n| git2::Oid::from_str(n).ok()) {
        Some(oid) if repo.find_object(oid, None).is_ok() => Some(quarantine(repo, run_id, &quarantine_name, oid)?),
        _ => None,
    };
    let msg = format!("git-lanes: run {run_id}: put back a ref a worker moved");
    match old {
        Some(o) => match o.strip_prefix("ref: ") {
            Some(sym) => target.reference_symbolic(name, sym, true, &msg).map(|_| ()),
            None => git2::Oid::from_str(o).and_then(|oid| target.reference(name, oid, true, &msg).map(|_| ())),
        },
        None => target.find_reference(name).and_then(|mut r| r.delete()),
    }
    .map_err(|e| e.message().to_string())?;
    Ok(kept)
}

/// Branches checked out in another worktree than the user's checkout (the one the run started
/// from): that worktree's own business — a lane's worktree a worker switched to another branch
/// (its lane is held for that instead, see [`switched_branch`]), or the user's other worktree.
/// Deleting or moving one would leave that worktree on a branch that is gone or elsewhere. A
/// branch the user's checkout has checked out too is watched as any other.
fn checked_out_elsewhere(repo: &git2::Repository) -> BTreeSet<String> {
    let mine = std::fs::read_to_string(repo.path().join("HEAD")).ok();
    let mine = mine.as_deref().and_then(|t| t.trim().strip_prefix("ref:")).map(str::trim);
    let common = repo.commondir();
    let mut heads = vec![common.join("HEAD")];
    if let Ok(entries) = std::fs::read_dir(common.join("worktrees")) {
        heads.extend(entries.flatten().map(|e| e.path().join("HEAD")));
    }
    heads
        .iter()
        .filter_map(|h| std::fs::read_to_string(h).ok())
        .filter_map(|t| t.trim().strip_prefix("ref:").map(|r| r.trim().to_string()))
        .filter(|r| Some(r.as_str()) != mine)
        .collect()
}

/// The branch a lane's worktree has checked out when it is not the lane's own (`branch`, short
/// name): a worker that switched its worktree elsewhere.
pub fn switched_branch(worktree: &Path, branch: &str) -> Option<String> {
    let repo = git2::Repository::open(worktree).ok()?;
    let head = repo.find_reference("HEAD").ok()?;
    let target = head.symbolic_target()?.to_string();
    (target != format!("refs/heads/{branch}")).then_some(target)
}

/// Write `refs/lanes/quarantine/<RUN_ID>/<name>` (or `<name>.2`, … when that one holds another
/// value already) at `oid`.
fn quarantine(repo: &git2::Repository, run_id: &str, name: &str, oid: git2::Oid) -> Result<String, String> {
    let base = format!("refs/lanes/quarantine/{run_id}/{name}");
    let mut full = base.clone();
    let mut n = 2;
    while let Ok(r) = repo.find_reference(&full) {
        if r.target() == Some(oid) {
            return Ok(full);
        }
        full = format!("{base}.{n}");
        n += 1;
    }
    repo.reference(&full, oid, false, &format!("git-lanes: run {run_id}: a ref a worker moved"))
        .map_err(|e| format!("could not keep its value as {full}: {}", e.message()))?;
    Ok(full)
}

#[cfg(test)]
mod tests {
    use crate::run::refwatch::*;

    #[test]
    fn the_runs_own_refs_are_not_watched() {
        let own = "refs/heads/lanes/R1/";
        assert!(is_runs_own("refs/heads/lanes/R1/E", "R1", own));
        assert!(is_runs_own("refs/lanes/archive/R1/E", "R1", own));
        assert!(is_runs_own("refs/lanes/backup/R1", "R1", own));
        assert!(is_runs_own("refs/lanes/runs/R1.2", "R1", own));
        assert!(is_runs_own("refs/lanes/quarantine/R1/heads/main", "R1", own));
        assert!(!is_runs_own("refs/lanes/archive/R10/E", "R1", own));
        assert!(!is_runs_own("refs/lanes/archive/R0/E", "R1", own));
        assert!(!is_runs_own("refs/heads/lanes/R0/E", "R1", own));
        assert!(!is_runs_own("refs/heads/main", "R1", own));
        assert!(!is_runs_own("refs/lanes/R1", "R1", own));
    }
}
