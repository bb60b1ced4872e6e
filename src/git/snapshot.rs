//! Commits built in memory with git2, and keeping checks' droppings out of every tree.
//!
//! # Design note: why not `git add -A -- . :(exclude)…`
//! A pathspec exclude of a folder the user's `.gitignore` ignores whole makes `git add` exit 1
//! ("paths are ignored by one of your .gitignore files"), and every lane's collection failed on
//! the most natural ignore file. Here the worktree's status (which already honours every
//! `.gitignore`, nested ones, `info/exclude` and `core.excludesFile`) names the changed paths,
//! [`KeepOut`] drops signal files and the worker's own droppings, and the worktree's index is
//! updated path by path, written as a tree and committed — one process fewer per lane, and no
//! ignore rule can trip it. Paths whose attributes name a filter driver with a `clean` command
//! (Git LFS) are staged by `git add` so the driver runs, as with the user's own git.
//!
//! [`Droppings`] is the other half: what the checks write (`__pycache__/`, `build/`) must never
//! reach a commit or a tracked file. Before checks run, the state of the worktree is noted; after
//! them, tracked files they changed are restored and (in a lane worktree) untracked files they
//! created are removed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::base::error::{Error, Result};

/// Paths and globs kept out of a commit: signal folders, an agent's own droppings.
///
/// A pattern without glob characters names a file or a folder (everything below it). A pattern
/// with `*`, `?` or `**` is matched against the whole slash-separated path relative to the
/// worktree; one without a `/` also matches a file or folder name at any depth (as in
/// `.gitignore`). A leading `/` or `./` anchors nothing more (paths are relative already).
#[derive(Debug, Clone, Default)]
pub struct KeepOut {
    patterns: Vec<String>,
}

impl KeepOut {
    pub fn new<I, S>(patterns: I) -> KeepOut
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut k = KeepOut::default();
        k.extend(patterns);
        k
    }

    /// Add more patterns (e.g. an agent preset's dropping files).
    pub fn extend<I, S>(&mut self, patterns: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for p in patterns {
            let p = p.as_ref().trim().trim_start_matches("./").trim_start_matches('/').trim_end_matches('/');
            if !p.is_empty() && !self.patterns.iter().any(|q| q == p) {
                self.patterns.push(p.to_string());
            }
        }
    }

    /// The patterns, normalised.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    /// Whether `path` (relative, `/`-separated) is kept out.
    pub fn matches(&self, path: &str) -> bool {
        self.patterns.iter().any(|p| pattern_matches(p, path))
    }
}

fn pattern_matches(pattern: &str, path: &str) -> bool {
    let has_glob = pattern.contains(['*', '?', '[']);
    if !has_glob {
        return path == pattern || path.starts_with(&format!("{pattern}/"));
    }
    // The path itself or any folder above it may match (a glob naming a folder keeps out what
    // is inside it).
    let parts: Vec<&str> = path.split('/').collect();
    for end in 1..=parts.len() {
        let prefix = parts[..end].join("/");
        if glob_match(pattern, &prefix) {
            return true;
        }
        if !pattern.contains('/') && glob_match(pattern, parts[end - 1]) {
            return true;
        }
    }
    false
}

/// `*` (not across `/`), `**` (across `/`), `?` and `[…]` character classes.
fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    glob_at(&p, &t)
}

fn glob_at(p: &[char], t: &[char]) -> bool {
    match p.first() {
        None => t.is_empty(),
        Some('*') if p.get(1) == Some(&'*') => match p.get(2) {
            // `**/`: zero or more whole folders.
            Some('/') => glob_at(&p[3..], t) || (0..t.len()).any(|i| t[i] == '/' && glob_at(&p[3..], &t[i + 1..])),
            _ => (0..=t.len()).any(|i| glob_at(&p[2..], &t[i..])),
        },
        Some('*') => (0..=t.len()).take_while(|&i| i == 0 || t[i - 1] != '/').any(|i| glob_at(&p[1..], &t[i..])),
        Some('?') => t.first().is_some_and(|&c| c != '/') && glob_at(&p[1..], &t[1..]),
        Some('[') => {
            let Some(close) = p.iter().skip(1).position(|&c| c == ']').map(|i| i + 1) else {
                return t.first() == Some(&'[') && glob_at(&p[1..], &t[1..]);
            };
            let Some(&c) = t.first() else { return false };
            let class = &p[1..close];
            let (negate, class) = match class.first() {
                Some('!') | Some('^') => (true, &class[1..]),
                _ => (false, class),
            };
            let mut hit = false;
            let mut i = 0;
            while i < class.len() {
                if i + 2 < class.len() && class[i + 1] == '-' {
                    hit |= class[i] <= c && c <= class[i + 2];
                    i += 3;
                } else {
                    hit |= class[i] == c;
                    i += 1;
                }
            }
            hit != negate && c != '/' && glob_at(&p[close + 1..], &t[1..])
        }
        Some(&c) => t.first() == Some(&c) && glob_at(&p[1..], &t[1..]),
    }
}

fn open(worktree: &Path) -> Result<git2::Repository> {
    git2::Repository::open(worktree).map_err(|e| Error::git(format!("could not open the repository at {}", worktree.display()), e))
}

fn git_err(what: &str, worktree: &Path) -> impl Fn(git2::Error) -> Error {
    let what = format!("{what} in {}", worktree.display());
    move |e| Error::git(what.clone(), e)
}

/// Commit everything that differs from HEAD in `worktree` (tracked changes, deletions, new
/// files that no ignore rule covers), except what `keep_out` names. Staged entries of kept-out
/// paths go back to HEAD's version. No commit hooks run (work is never lost to a failing hook).
/// Returns the new commit, or `None` when there was nothing to commit.
pub fn commit_worktree(worktree: &Path, message: &str, keep_out: &KeepOut) -> Result<Option<git2::Oid>> {
    Ok(snapshot_worktree(worktree, message, keep_out)?.commit)
}

/// What [`snapshot_worktree`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// The new commit, `None` when there was nothing to commit.
    pub commit: Option<git2::Oid>,
    /// Repositories found inside the worktree (a folder with its own `.git` that is no
    /// submodule of HEAD or `.gitmodules`), left out of the commit.
    pub embedded: Vec<String>,
}

/// [`commit_worktree`], saying which embedded repositories it left out: a folder a worker made
/// with `git init` is not the lane's work (git would record it as a gitlink to a commit no one
/// else has), whether it is untracked or staged as a gitlink; the rest is committed.
pub fn snapshot_worktree(worktree: &Path, message: &str, keep_out: &KeepOut) -> Result<Snapshot> {
    let repo = open(worktree)?;
    let changed = changed_paths(&repo, worktree)?;
    let (changed, embedded) = split_embedded(&repo, worktree, changed);
    if changed.is_empty() && embedded.is_empty() {
        return Ok(Snapshot::default());
    }
    let (keep, mut kept_out): (Vec<String>, Vec<String>) = changed.into_iter().partition(|p| !keep_out.matches(p));
    kept_out.extend(embedded.iter().cloned());
    stage(&repo, worktree, &keep, &kept_out)?;
    Ok(Snapshot { commit: commit_index(&repo, worktree, message)?, embedded })
}

/// Gitlinks HEAD has that `base`'s tree does not and that HEAD's `.gitmodules` does not name: a
/// repository a worker made inside its worktree and committed (`git add -A` records it as a
/// gitlink). They are taken out of the index and that is committed with `message`; the folders
/// stay on disk. Returns their paths.
pub fn drop_new_gitlinks(worktree: &Path, base: git2::Oid, message: &str) -> Result<Vec<String>> {
    let repo = open(worktree)?;
    let Some(head) = repo.head().ok().and_then(|h| h.peel_to_tree().ok()) else { return Ok(Vec::new()) };
    let base_tree = repo.find_commit(base).and_then(|c| c.tree()).ok();
    let modules = gitmodules_paths(&repo, &head);
    let mut found = Vec::new();
    head.walk(git2::TreeWalkMode::PreOrder, |dir, e| {
        if e.filemode() == 0o160000
            && let Some(name) = e.name()
        {
            let path = format!("{dir}{name}");
            let in_base = base_tree.as_ref().and_then(|t| t.get_path(Path::new(&path)).ok()).is_some_and(|b| b.filemode() == 0o160000);
            if !in_base && !modules.contains(&path) {
                found.push(path);
            }
        }
        git2::TreeWalkResult::Ok
    })
    .map_err(git_err("could not read HEAD's tree", worktree))?;
    if found.is_empty() {
        return Ok(found);
    }
    let mut index = repo.index().map_err(git_err("could not read the index", worktree))?;
    for p in &found {
        let _ = index.remove_path(Path::new(p));
    }
    index.write().map_err(git_err("could not write the index", worktree))?;
    commit_index(&repo, worktree, message)?;
    Ok(found)
}

/// The `path` of every `submodule.<name>` in `.gitmodules` of `tree`.
fn gitmodules_paths(repo: &git2::Repository, tree: &git2::Tree<'_>) -> Vec<String> {
    let Some(blob) = tree.get_path(Path::new(".gitmodules")).ok().and_then(|e| repo.find_blob(e.id()).ok()) else {
        return Vec::new();
    };
    String::from_utf8_lossy(blob.content())
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once('=')?;
            (k.trim() == "path").then(|| v.trim().trim_matches('"').trim_end_matches('/').to_string())
        })
        .collect()
}

/// Split changed paths into what may be committed and embedded repositories (see
/// [`Snapshot::embedded`]): changed folders holding a `.git` and gitlinks staged in the index
/// that HEAD does not have as a submodule. Paths under an embedded repository go with it.
fn split_embedded(repo: &git2::Repository, worktree: &Path, changed: Vec<String>) -> (Vec<String>, Vec<String>) {
    let head = repo.head().ok().and_then(|h| h.peel_to_tree().ok());
    let known_submodule = |p: &str| {
        head.as_ref().and_then(|t| t.get_path(Path::new(p)).ok()).is_some_and(|e| e.filemode() == 0o160000)
            || head.as_ref().is_some_and(|t| gitmodules_paths(repo, t).iter().any(|m| m == p))
    };
    let mut embedded: Vec<String> = Vec::new();
    for p in &changed {
        let p = p.trim_end_matches('/');
        let full = worktree.join(p);
        if full.is_dir() && full.join(".git").exists() && !known_submodule(p) {
            embedded.push(p.to_string());
        }
    }
    if let Ok(index) = repo.index() {
        for e in index.iter().filter(|e| e.mode == 0o160000) {
            let p = String::from_utf8_lossy(&e.path).into_owned();
            if !known_submodule(&p) && !embedded.contains(&p) {
                embedded.push(p);
            }
        }
    }
    embedded.sort();
    let rest = changed
        .into_iter()
        .filter(|p| {
            let p = p.trim_end_matches('/');
            !embedded.iter().any(|e| p == e || p.starts_with(&format!("{e}/")))
        })
        .collect();
    (rest, embedded)
}

/// Commit exactly `paths` (relative to the worktree; files git-lanes wrote itself) as they are
/// on disk — a removed file is removed. Nothing else in the worktree is looked at.
pub fn commit_paths(worktree: &Path, message: &str, paths: &[PathBuf]) -> Result<Option<git2::Oid>> {
    let repo = open(worktree)?;
    let rels: Vec<String> = paths.iter().map(|p| slash(p)).collect();
    stage(&repo, worktree, &rels, &[])?;
    commit_index(&repo, worktree, message)
}

/// Fold what changed in `worktree` (as [`commit_worktree`] would take it) into HEAD's commit,
/// keeping its message, author and parents. Returns the new commit; `None` when HEAD's tree
/// already holds it.
pub fn amend_head(worktree: &Path, keep_out: &KeepOut) -> Result<Option<git2::Oid>> {
    let repo = open(worktree)?;
    let changed = changed_paths(&repo, worktree)?;
    let (changed, embedded) = split_embedded(&repo, worktree, changed);
    let (keep, mut kept_out): (Vec<String>, Vec<String>) = changed.into_iter().partition(|p| !keep_out.matches(p));
    kept_out.extend(embedded);
    stage(&repo, worktree, &keep, &kept_out)?;
    let head = repo.head().and_then(|h| h.peel_to_commit()).map_err(git_err("could not read HEAD", worktree))?;
    let mut index = repo.index().map_err(git_err("could not read the index", worktree))?;
    let tree_id = index.write_tree().map_err(git_err("could not write a tree", worktree))?;
    if head.tree_id() == tree_id {
        return Ok(None);
    }
    let tree = repo.find_tree(tree_id).map_err(git_err("could not read the new tree", worktree))?;
    let (_, committer) = signatures(&repo)?;
    let parents: Vec<git2::Commit<'_>> = head.parents().collect();
    let parents: Vec<&git2::Commit<'_>> = parents.iter().collect();
    let message = String::from_utf8_lossy(head.message_bytes()).into_owned();
    let oid = create_commit(&repo, None, &head.author(), &committer, &message, &tree, &parents)
        .map_err(|e| crate::git::snapshot::in_context(e, format!("could not amend HEAD in {}", worktree.display())))?;
    point(&repo, "HEAD", oid, &format!("commit (amend): {}", message.lines().next().unwrap_or("")))?;
    Ok(Some(oid))
}

fn slash(p: &Path) -> String {
    p.to_string_lossy().replace('\\', "/")
}

/// Paths whose worktree or index state differs from HEAD (ignored files aside).
fn changed_paths(repo: &git2::Repository, worktree: &Path) -> Result<Vec<String>> {
    let mut opts = git2::StatusOptions::new();
    opts.include_untracked(true).recurse_untracked_dirs(true).include_ignored(false).exclude_submodules(true).renames_head_to_index(false);
    let statuses = crate::git::repo::statuses(repo, &mut opts).map_err(git_err("could not read the status", worktree))?;
    let mut out: Vec<String> = statuses.into_iter().filter(|(_, st)| !st.contains(git2::Status::IGNORED)).map(|(p, _)| p).collect();
    // A submodule whose checked-out commit moved is a change of its gitlink.
    if let Ok(subs) = repo.submodules() {
        for sm in subs {
            if sm.workdir_id().is_some()
                && sm.workdir_id() != sm.index_id()
                && let Some(p) = sm.path().to_str()
            {
                out.push(p.to_string());
            }
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Update the worktree's index: `keep` as on disk, `reset` back to HEAD's entry.
fn stage(repo: &git2::Repository, worktree: &Path, keep: &[String], reset: &[String]) -> Result<()> {
    // Paths a filter driver must clean (LFS) are staged by git itself, first.
    let filtered: Vec<&String> = keep.iter().filter(|p| worktree.join(p).is_file() && needs_filter_driver(repo, p)).collect();
    if !filtered.is_empty() {
        let mut args: Vec<&str> = vec!["add", "--"];
        args.extend(filtered.iter().map(|p| p.as_str()));
        crate::git::gitcli::git(worktree, &args)?;
    }
    let mut index = repo.index().map_err(git_err("could not read the index", worktree))?;
    index.read(true).map_err(git_err("could not read the index", worktree))?;
    let head_tree = repo.head().ok().and_then(|h| h.peel_to_tree().ok());
    // A path outside a sparse checkout's patterns is committed as the index has it: its file is
    // not on disk, and that is no deletion.
    let skipped = crate::git::repo::skip_worktree_paths(repo);
    for p in keep {
        if filtered.contains(&p) || skipped.contains(p.as_bytes()) {
            continue;
        }
        let full = worktree.join(p);
        let meta = std::fs::symlink_metadata(&full);
        match meta {
            Ok(m) if m.is_dir() && !full.join(".git").exists() => {
                // A folder that is no longer a file (type change): its files come separately.
                let _ = index.remove_path(Path::new(p));
            }
            Ok(_) => index.add_path(Path::new(p)).map_err(git_err(&format!("could not stage {p}"), worktree))?,
            Err(_) => {
                let _ = index.remove_path(Path::new(p));
            }
        }
    }
    for p in reset {
        match head_tree.as_ref().and_then(|t| t.get_path(Path::new(p)).ok()) {
            Some(entry) => {
                index
                    .add(&index_entry(p, entry.id(), entry.filemode() as u32))
                    .map_err(git_err(&format!("could not reset {p} in the index"), worktree))?;
            }
            None => {
                let _ = index.remove_path(Path::new(p));
            }
        }
    }
    index.write().map_err(git_err("could not write the index", worktree))
}

/// An index entry for `path` at object `id` with file `mode` and no stat data (so git compares
/// the file's content with it the next time it looks).
pub(crate) fn index_entry(path: &str, id: git2::Oid, mode: u32) -> git2::IndexEntry {
    git2::IndexEntry {
        ctime: git2::IndexTime::new(0, 0),
        mtime: git2::IndexTime::new(0, 0),
        dev: 0,
        ino: 0,
        mode,
        uid: 0,
        gid: 0,
        file_size: 0,
        id,
        flags: 0,
        flags_extended: 0,
        path: path.as_bytes().to_vec(),
    }
}

/// Whether `.gitattributes` gives `path` a `filter=<name>` whose `filter.<name>.clean` is set.
fn needs_filter_driver(repo: &git2::Repository, path: &str) -> bool {
    let Ok(Some(name)) = repo.get_attr(Path::new(path), "filter", git2::AttrCheckFlags::FILE_THEN_INDEX) else {
        return false;
    };
    let Ok(cfg) = repo.config() else { return false };
    cfg.get_string(&format!("filter.{name}.clean")).is_ok() || cfg.get_string(&format!("filter.{name}.process")).is_ok()
}

/// Write the index as a tree and commit it on HEAD when it differs from HEAD's tree.
fn commit_index(repo: &git2::Repository, worktree: &Path, message: &str) -> Result<Option<git2::Oid>> {
    let mut index = repo.index().map_err(git_err("could not read the index", worktree))?;
    let tree_id = index.write_tree().map_err(git_err("could not write a tree", worktree))?;
    let parent = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
    if parent.as_ref().is_some_and(|c| c.tree_id() == tree_id) {
        return Ok(None);
    }
    let tree = repo.find_tree(tree_id).map_err(git_err("could not read the new tree", worktree))?;
    let (author, committer) = signatures(repo)?;
    let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
    let oid = create_commit(repo, Some("HEAD"), &author, &committer, message, &tree, &parents)
        .map_err(|e| crate::git::snapshot::in_context(e, format!("could not commit in {}", worktree.display())))?;
    Ok(Some(oid))
}

/// A libgit2 error from [`create_commit`] said with `what` (what was being done, and where).
pub(crate) fn in_context(e: Error, what: String) -> Error {
    match e {
        Error::Git { source, .. } => Error::git(what, source),
        other => other,
    }
}

/// Whether commits must be signed: `commit.gpgSign` as git reads it. libgit2 reads the
/// configuration files; only when they or `git -c` (`GIT_CONFIG_PARAMETERS`) mention it is git
/// itself asked, so that `git -c commit.gpgSign=false lanes …` is heard.
pub fn signs_commits(repo: &git2::Repository) -> bool {
    let in_files = repo.config().ok().and_then(|c| c.get_bool("commit.gpgsign").ok()).unwrap_or(false);
    let given = std::env::var("GIT_CONFIG_PARAMETERS").is_ok_and(|p| p.to_ascii_lowercase().contains("commit.gpgsign"));
    if !in_files && !given {
        return false;
    }
    let cwd = repo.workdir().unwrap_or(repo.path()).to_path_buf();
    crate::git::gitcli::git(&cwd, &["config", "--type=bool", "commit.gpgsign"]).is_ok_and(|v| v.trim() == "true")
}

/// When commits must be signed ([`signs_commits`]), check before anything is made that git can
/// sign one: `git commit-tree` signs a commit of HEAD's tree (an object nothing refers to, which
/// `git gc` drops). A key that is missing, locked or unusable refuses the run here, not after the
/// lanes have worked.
pub fn check_signing(repo: &git2::Repository) -> Result<()> {
    if !signs_commits(repo) {
        return Ok(());
    }
    let Some(tree) = repo.head().ok().and_then(|h| h.peel_to_tree().ok()) else { return Ok(()) };
    let cwd = repo.workdir().unwrap_or(repo.path()).to_path_buf();
    let tree = tree.id().to_string();
    match crate::git::gitcli::git(&cwd, &["commit-tree", "-S", &tree, "-m", "git-lanes: can commits be signed?"]) {
        Ok(_) => Ok(()),
        Err(e) => Err(Error::State {
            message: format!("`commit.gpgSign` is set, but git cannot sign a commit here, so the run would make unsigned commits: {e}"),
            hint: Some(
                "make the signing key usable (`user.signingKey`, `gpg.format`, `gpg.program`; try `git commit --allow-empty -S -m test`), or run without signing: `git -c commit.gpgSign=false lanes run …`"
                    .into(),
            ),
        }),
    }
}

/// Make a commit as git would: built in memory by libgit2, or — when commits must be signed
/// ([`signs_commits`]) — by the user's `git commit-tree`, which signs it with the user's key and
/// settings (`gpg.format`, `user.signingKey`, `gpg.program`, …) exactly as `git commit` would.
/// `update_ref` (`HEAD` or a ref name) is then pointed at it.
pub fn create_commit(
    repo: &git2::Repository,
    update_ref: Option<&str>,
    author: &git2::Signature<'_>,
    committer: &git2::Signature<'_>,
    message: &str,
    tree: &git2::Tree<'_>,
    parents: &[&git2::Commit<'_>],
) -> Result<git2::Oid> {
    if !signs_commits(repo) {
        return repo.commit(update_ref, author, committer, message, tree, parents).map_err(|e| Error::git("could not commit", e));
    }
    let cwd = repo.workdir().unwrap_or(repo.path()).to_path_buf();
    let tree_id = tree.id().to_string();
    let parent_ids: Vec<String> = parents.iter().map(|p| p.id().to_string()).collect();
    // `commit-tree` is plumbing: it signs when told (`-S`, with `user.signingKey`), not by
    // `commit.gpgSign`.
    let mut args: Vec<&str> = vec!["commit-tree", "-S", &tree_id];
    for p in &parent_ids {
        args.extend(["-p", p.as_str()]);
    }
    args.extend(["-m", message]);
    let who = |s: &git2::Signature<'_>| {
        let t = s.when();
        let off = t.offset_minutes();
        let date = format!("@{} {}{:02}{:02}", t.seconds(), if off < 0 { '-' } else { '+' }, off.abs() / 60, off.abs() % 60);
        (String::from_utf8_lossy(s.name_bytes()).into_owned(), String::from_utf8_lossy(s.email_bytes()).into_owned(), date)
    };
    let (an, ae, ad) = who(author);
    let (cn, ce, cd) = who(committer);
    let env = [
        ("GIT_AUTHOR_NAME", an.as_str()),
        ("GIT_AUTHOR_EMAIL", ae.as_str()),
        ("GIT_AUTHOR_DATE", ad.as_str()),
        ("GIT_COMMITTER_NAME", cn.as_str()),
        ("GIT_COMMITTER_EMAIL", ce.as_str()),
        ("GIT_COMMITTER_DATE", cd.as_str()),
    ];
    let out = crate::git::gitcli::git_env(&cwd, &args, &env)?;
    let id = out.lines().last().unwrap_or("").trim();
    let oid = git2::Oid::from_str(id).map_err(|e| Error::git(format!("`git commit-tree` gave `{id}`, not a commit id"), e))?;
    if let Some(name) = update_ref {
        point(repo, name, oid, &format!("commit: {}", message.lines().next().unwrap_or("")))?;
    }
    Ok(oid)
}

/// Point `name` (`HEAD`: the branch it names, or HEAD itself when detached) at `oid`.
fn point(repo: &git2::Repository, name: &str, oid: git2::Oid, log: &str) -> Result<()> {
    let name = match repo.find_reference(name) {
        Ok(r) => r.symbolic_target().map(str::to_string).unwrap_or_else(|| name.to_string()),
        Err(_) => name.to_string(),
    };
    repo.reference(&name, oid, true, log).map_err(|e| Error::git(format!("could not point {name} at the new commit"), e))?;
    Ok(())
}

/// Author and committer as git would take them: `GIT_AUTHOR_*`/`GIT_COMMITTER_*`, then
/// `user.name`/`user.email`, then git-lanes itself.
pub fn signatures(repo: &git2::Repository) -> Result<(git2::Signature<'static>, git2::Signature<'static>)> {
    let cfg = repo.config().ok();
    let get = |key: &str| cfg.as_ref().and_then(|c| c.get_string(key).ok());
    let one = |who: &str| -> Result<git2::Signature<'static>> {
        let up = who.to_uppercase();
        let name = std::env::var(format!("GIT_{up}_NAME"))
            .ok()
            .or_else(|| get(&format!("{who}.name")))
            .or_else(|| get("user.name"))
            .unwrap_or_else(|| "git-lanes".into());
        let email = std::env::var(format!("GIT_{up}_EMAIL"))
            .ok()
            .or_else(|| get(&format!("{who}.email")))
            .or_else(|| get("user.email"))
            .unwrap_or_else(|| "git-lanes@localhost".into());
        let sig = match std::env::var(format!("GIT_{up}_DATE")).ok().and_then(|d| parse_git_date(&d)) {
            Some((secs, offset_min)) => git2::Signature::new(&name, &email, &git2::Time::new(secs, offset_min)),
            None => git2::Signature::now(&name, &email),
        };
        sig.map_err(|e| Error::git(format!("bad {who} identity `{name} <{email}>`"), e))
    };
    Ok((one("author")?, one("committer")?))
}

/// The date forms git-lanes' own callers use: RFC 3339 / ISO 8601, `@<secs> <±hhmm>` and
/// `<secs> <±hhmm>` (git's internal form).
fn parse_git_date(s: &str) -> Option<(i64, i32)> {
    let s = s.trim();
    if let Ok(d) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some((d.timestamp(), d.offset().local_minus_utc() / 60));
    }
    if let Ok(d) = chrono::DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S %z") {
        return Some((d.timestamp(), d.offset().local_minus_utc() / 60));
    }
    let s = s.strip_prefix('@').unwrap_or(s);
    let mut parts = s.split_whitespace();
    let secs: i64 = parts.next()?.parse().ok()?;
    let offset = match parts.next() {
        Some(tz) if tz.len() == 5 => {
            let sign = if tz.starts_with('-') { -1 } else { 1 };
            let h: i32 = tz[1..3].parse().ok()?;
            let m: i32 = tz[3..5].parse().ok()?;
            sign * (h * 60 + m)
        }
        Some(_) => return None,
        None => 0,
    };
    Some((secs, offset))
}

/// The state of a worktree before checks run, to undo what they write.
#[derive(Debug, Clone, Default)]
pub struct Droppings {
    /// Untracked, not ignored files present before (kept).
    untracked: BTreeSet<String>,
    /// Tracked files that already differed from the index, with their bytes then (`None`: the
    /// file was missing).
    dirty: BTreeMap<String, Option<Vec<u8>>>,
    /// Tracked files that differed before, whose bytes were not kept (a note read back from
    /// disk): left as they are.
    leave: BTreeSet<String>,
}

/// What [`Droppings::save`] writes: the paths, not the bytes.
#[derive(serde::Serialize, serde::Deserialize)]
struct DroppingsNote {
    untracked: Vec<String>,
    dirty: Vec<String>,
}

impl Droppings {
    /// Note the worktree's state now.
    pub fn before(worktree: &Path) -> Result<Droppings> {
        let repo = open(worktree)?;
        let mut d = Droppings::default();
        for (path, st) in workdir_status(&repo, worktree)? {
            if st.contains(git2::Status::WT_NEW) {
                d.untracked.insert(path);
            } else {
                let bytes = std::fs::read(worktree.join(&path)).ok();
                d.dirty.insert(path, bytes);
            }
        }
        Ok(d)
    }

    /// Keep the note on disk (atomically), so that a process killed before [`Droppings::restore`]
    /// can be undone by the next one ([`Droppings::load`]). Only paths are kept: tracked files
    /// that were already dirty are left as they are then.
    pub fn save(&self, path: &Path) -> Result<()> {
        let note = DroppingsNote {
            untracked: self.untracked.iter().cloned().collect(),
            dirty: self.dirty.keys().chain(&self.leave).cloned().collect(),
        };
        let json = serde_json::to_vec(&note).map_err(|e| Error::internal(format!("could not write {}: {e}", path.display())))?;
        crate::base::fsutil::write_atomic(path, &json)
    }

    /// A note [`Droppings::save`] wrote; `None` when there is none (or it does not parse: a
    /// half-written note is never left, so that means it is not one).
    pub fn load(path: &Path) -> Option<Droppings> {
        let note: DroppingsNote = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
        Some(Droppings { untracked: note.untracked.into_iter().collect(), dirty: BTreeMap::new(), leave: note.dirty.into_iter().collect() })
    }

    /// Undo, after a crash, what happened since a note read back with [`Droppings::load`] was
    /// saved: the index goes back to HEAD's tree (it matched HEAD when the note was taken: a
    /// commit cut short may have staged more), then [`Droppings::restore`] with `remove_new`.
    pub fn recover(&self, worktree: &Path) -> Result<Vec<String>> {
        let repo = open(worktree)?;
        let tree = repo.head().and_then(|h| h.peel_to_tree()).map_err(git_err("could not read HEAD", worktree))?;
        let mut index = repo.index().map_err(git_err("could not read the index", worktree))?;
        index.read_tree(&tree).map_err(git_err("could not reset the index", worktree))?;
        index.write().map_err(git_err("could not write the index", worktree))?;
        self.restore(worktree, true)
    }

    /// Undo what happened since [`Droppings::before`]: tracked files changed since are put back
    /// (to the index's version, or to the user's own uncommitted version noted before); with
    /// `remove_new`, untracked files that appeared are deleted (never in the user's own
    /// worktree, where the user may be writing files meanwhile). Ignored files are left alone:
    /// no commit takes them. Returns the paths restored or removed.
    pub fn restore(&self, worktree: &Path, remove_new: bool) -> Result<Vec<String>> {
        let repo = open(worktree)?;
        let mut to_checkout: Vec<String> = Vec::new();
        let mut touched = Vec::new();
        for (path, st) in workdir_status(&repo, worktree)? {
            let full = worktree.join(&path);
            if st.contains(git2::Status::WT_NEW) {
                if remove_new && !self.untracked.contains(&path) {
                    remove_path(worktree, &full)?;
                    touched.push(path);
                }
                continue;
            }
            if self.leave.contains(&path) {
                continue;
            }
            match self.dirty.get(&path) {
                Some(before) => {
                    let now = std::fs::read(&full).ok();
                    if &now != before {
                        match before {
                            Some(bytes) => crate::base::fsutil::write_atomic(&full, bytes)?,
                            None => remove_path(worktree, &full)?,
                        }
                        touched.push(path);
                    }
                }
                None => to_checkout.push(path),
            }
        }
        if !to_checkout.is_empty() {
            let mut co = git2::build::CheckoutBuilder::new();
            co.force();
            for p in &to_checkout {
                co.path(p);
            }
            repo.checkout_index(None, Some(&mut co)).map_err(git_err("could not restore files the checks changed", worktree))?;
            touched.extend(to_checkout);
        }
        Ok(touched)
    }
}

/// Worktree-side status (index against files), ignored files and submodules aside.
fn workdir_status(repo: &git2::Repository, worktree: &Path) -> Result<Vec<(String, git2::Status)>> {
    let mut opts = git2::StatusOptions::new();
    opts.show(git2::StatusShow::Workdir)
        .include_untracked(true)
        .recurse_untracked_dirs(true)
        .include_ignored(false)
        .exclude_submodules(true);
    crate::git::repo::statuses(repo, &mut opts).map_err(git_err("could not read the status", worktree))
}

/// Remove a file and the folders it leaves empty (up to the worktree).
fn remove_path(worktree: &Path, full: &Path) -> Result<()> {
    crate::base::fsutil::remove_file_if_exists(full)?;
    let mut dir = full.parent();
    while let Some(d) = dir {
        if d == worktree || !d.starts_with(worktree) || std::fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_out_names_folders_files_and_globs() {
        let k = KeepOut::new(["LogBook/issue-fixing/signals/", ".claude", "*.orig", "**/.aider*", "out/**/*.log"]);
        assert!(k.matches("LogBook/issue-fixing/signals/a.status"));
        assert!(k.matches("LogBook/issue-fixing/signals"));
        assert!(!k.matches("LogBook/issue-fixing/signalsx"));
        assert!(k.matches(".claude/settings.json"));
        assert!(!k.matches("src/.claude/x"));
        assert!(k.matches("src/a.rs.orig"));
        assert!(k.matches(".aider.chat.history.md"));
        assert!(k.matches("deep/down/.aider.tags.cache.v3/x"));
        assert!(k.matches("out/a/b/c.log"));
        assert!(k.matches("out/c.log"));
        assert!(!k.matches("src/main.rs"));
        assert!(!k.matches("out/c.txt"));
    }

    #[test]
    fn glob_classes_and_question_marks() {
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("a?c", "a/c"));
        assert!(glob_match("[ab]x", "bx"));
        assert!(!glob_match("[!ab]x", "bx"));
        assert!(glob_match("v[0-9]", "v7"));
        assert!(glob_match("*.pyc", "m.cpython-311.pyc"));
    }

    fn write(root: &Path, rel: &str, text: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    fn head_files(repo: &git2::Repository) -> Vec<String> {
        let tree = repo.head().unwrap().peel_to_tree().unwrap();
        let mut out = Vec::new();
        tree.walk(git2::TreeWalkMode::PreOrder, |dir, e| {
            if e.kind() == Some(git2::ObjectType::Blob) {
                out.push(format!("{dir}{}", e.name().unwrap()));
            }
            git2::TreeWalkResult::Ok
        })
        .unwrap();
        out
    }

    #[test]
    fn commits_what_changed_minus_ignored_and_kept_out_files() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        let repo = git2::Repository::init(root).unwrap();
        write(root, ".gitignore", "sig/\n");
        write(root, "a/.gitignore", "*.tmp\n");
        write(root, "a/old.txt", "old\n");
        write(root, "a/edit.txt", "1\n");
        let first = commit_worktree(root, "first", &KeepOut::default()).unwrap();
        assert!(first.is_some());
        assert_eq!(head_files(&repo), vec![".gitignore", "a/.gitignore", "a/edit.txt", "a/old.txt"]);
        write(root, "sig/E.status", "WORKING\n");
        write(root, "a/x.tmp", "ignored\n");
        write(root, "a/edit.txt", "2\n");
        write(root, "a/new.txt", "new\n");
        write(root, ".aider.chat.history.md", "chat\n");
        write(root, "drop/cache.bin", "cache\n");
        std::fs::remove_file(root.join("a/old.txt")).unwrap();
        // A kept-out file the worker staged goes back out of the index.
        let mut index = repo.index().unwrap();
        index.add_path(Path::new("drop/cache.bin")).unwrap();
        index.write().unwrap();
        let keep = KeepOut::new(["sig", ".aider*", "drop/"]);
        let second = commit_worktree(root, "second", &keep).unwrap().unwrap();
        assert_eq!(repo.head().unwrap().target(), Some(second));
        assert_eq!(head_files(&repo), vec![".gitignore", "a/.gitignore", "a/edit.txt", "a/new.txt"]);
        let sig = repo.find_commit(second).unwrap();
        assert_eq!(sig.message(), Some("second"));
        // Nothing left to commit: no empty commit.
        assert_eq!(commit_worktree(root, "third", &keep).unwrap(), None);
        // The index matches HEAD for every committed path: the worktree reads as clean.
        let mut opts = git2::StatusOptions::new();
        opts.include_untracked(false);
        assert_eq!(repo.statuses(Some(&mut opts)).unwrap().iter().filter(|s| !s.status().is_empty()).count(), 0);
    }

    #[test]
    fn files_outside_a_sparse_checkout_are_never_committed_as_deleted_nor_checked_out() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        let repo = git2::Repository::init(root).unwrap();
        write(root, "a.txt", "a\n");
        write(root, "docs/b.txt", "b\n");
        commit_worktree(root, "base", &KeepOut::default()).unwrap();
        // What `git sparse-checkout set` leaves: the entry marked skip-worktree, no file on disk.
        let mut index = repo.index().unwrap();
        let mut entry = index.get_path(Path::new("docs/b.txt"), 0).unwrap();
        entry.flags_extended |= git2::IndexEntryExtendedFlag::SKIP_WORKTREE.bits();
        index.add(&entry).unwrap();
        index.write().unwrap();
        std::fs::remove_dir_all(root.join("docs")).unwrap();
        let before = Droppings::before(root).unwrap();
        write(root, "a.txt", "changed by a check\n");
        assert_eq!(before.restore(root, true).unwrap(), vec!["a.txt"]);
        assert!(!root.join("docs/b.txt").exists(), "an excluded file was checked out");
        write(root, "a.txt", "fixed\n");
        commit_worktree(root, "fix", &KeepOut::default()).unwrap().unwrap();
        assert_eq!(head_files(&repo), vec!["a.txt", "docs/b.txt"]);
        assert_eq!(amend_head(root, &KeepOut::default()).unwrap(), None);
    }

    #[test]
    fn signing_follows_commit_gpgsign() {
        let d = tempfile::tempdir().unwrap();
        let repo = git2::Repository::init(d.path()).unwrap();
        assert!(!signs_commits(&repo));
        repo.config().unwrap().set_bool("commit.gpgsign", true).unwrap();
        assert!(signs_commits(&repo));
    }

    #[test]
    fn droppings_are_undone_and_the_users_own_edits_kept() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        git2::Repository::init(root).unwrap();
        write(root, "tracked.txt", "base\n");
        write(root, "mine.txt", "base\n");
        commit_worktree(root, "base", &KeepOut::default()).unwrap();
        write(root, "mine.txt", "my edit\n");
        write(root, "notes.txt", "untracked before\n");
        let before = Droppings::before(root).unwrap();
        write(root, "tracked.txt", "changed by a check\n");
        write(root, "mine.txt", "changed by a check\n");
        write(root, "build/lib/out.o", "obj\n");
        let mut touched = before.restore(root, true).unwrap();
        touched.sort();
        assert_eq!(touched, vec!["build/lib/out.o", "mine.txt", "tracked.txt"]);
        assert_eq!(std::fs::read_to_string(root.join("tracked.txt")).unwrap(), "base\n");
        assert_eq!(std::fs::read_to_string(root.join("mine.txt")).unwrap(), "my edit\n");
        assert!(root.join("notes.txt").exists());
        assert!(!root.join("build").exists(), "emptied folders go too");
    }

    #[test]
    fn git_dates_in_the_forms_git_takes() {
        assert_eq!(parse_git_date("2026-01-01T00:00:00Z"), Some((1_767_225_600, 0)));
        assert_eq!(parse_git_date("@1767225600 +0130"), Some((1_767_225_600, 90)));
        assert_eq!(parse_git_date("1767225600 -0200"), Some((1_767_225_600, -120)));
        assert_eq!(parse_git_date("yesterday"), None);
    }
}
