//! A sandboxed worker's git: it commits without writing anything shared.
//!
//! Before the worker starts ([`detach`]), its worktree's HEAD is detached at the lane branch's
//! commit and a private object folder is made in the worktree's own record
//! (`<common>/worktrees/<name>/lanes-objects`); the worker's git gets it as
//! `GIT_OBJECT_DIRECTORY`, with the repository's objects as a read-only alternate. So `git add`,
//! `git commit` and `git status` work, and all they write is the worktree's record (index,
//! `HEAD`, its reflog) and the private objects; the sandbox leaves every other part of the git
//! folder (objects, refs, config, hooks, other worktrees' records) read-only.
//!
//! When the worker has ended ([`adopt`], the first step of collecting a lane, also after a
//! crash): the worktree's `.git` file and its record's `gitdir` and `commondir` are put back as
//! git made them (a worker could point git-lanes' own git commands elsewhere), the private
//! objects are copied into the repository (each re-hashed as it is written, so a forged object
//! file cannot stand in for another), the lane branch is moved to the commit HEAD holds, and
//! HEAD is attached to the branch again.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::base::error::{Error, Result};
use crate::base::fsutil;

/// The private object folder's name in a worktree's record.
pub const OBJECTS: &str = "lanes-objects";

/// What [`detach`] prepared: the worktree's record (the sandbox makes it writable) and the
/// variables that point the worker's git at its private objects.
#[derive(Debug, Clone)]
pub struct Detached {
    pub admin: PathBuf,
    pub env: Vec<(OsString, OsString)>,
}

/// The worktree's record in `common` (`<common>/worktrees/<name>`): the one whose `gitdir`
/// names `<worktree>/.git`, else the one named like the worktree's folder.
pub fn admin_dir(common: &Path, worktree: &Path) -> Option<PathBuf> {
    let want = worktree.join(".git");
    let records = common.join("worktrees");
    for e in std::fs::read_dir(&records).into_iter().flatten().flatten() {
        let named = std::fs::read_to_string(e.path().join("gitdir")).unwrap_or_default();
        if Path::new(named.trim_end()) == want {
            return Some(e.path());
        }
    }
    let by_name = records.join(worktree.file_name()?);
    by_name.is_dir().then_some(by_name)
}

/// Detach `worktree`'s HEAD at `branch`'s commit and make its private object folder. A
/// worktree still detached from an earlier worker (a lane restarted before it was collected) is
/// adopted first, so its commits stay on the branch. Returns, with what was prepared, what
/// adopting found changed.
///
/// # Errors
/// When the worktree has no record in `common`, the branch cannot be read, or a file cannot be
/// written.
pub fn detach(common: &Path, worktree: &Path, branch: &str) -> Result<(Detached, Vec<String>)> {
    let warnings = adopt(common, worktree, branch)?;
    let admin = admin_dir(common, worktree).ok_or_else(|| Error::State {
        message: format!("{} has no worktree record in {}", worktree.display(), common.join("worktrees").display()),
        hint: Some("`git lanes doctor --fix` repairs worktree records".into()),
    })?;
    let repo = git2::Repository::open(common).map_err(|e| Error::git("could not open the repository", e))?;
    let name = format!("refs/heads/{branch}");
    let tip = repo.refname_to_id(&name).map_err(|e| Error::git(format!("could not read {name}"), e))?;
    let objects = admin.join(OBJECTS);
    for d in [objects.join("pack"), objects.join("info")] {
        fsutil::create_dir_all(&d)?;
    }
    fsutil::write_atomic(&admin.join("HEAD"), format!("{tip}\n").as_bytes())?;
    let env = vec![
        (OsString::from("GIT_OBJECT_DIRECTORY"), objects.into_os_string()),
        (OsString::from("GIT_ALTERNATE_OBJECT_DIRECTORIES"), alternate(&common.join("objects"))),
    ];
    Ok((Detached { admin, env }, warnings))
}

/// `path` as one entry of git's colon-separated alternates list: C-quoted when it holds a colon
/// or starts with a quote.
fn alternate(path: &Path) -> OsString {
    let text = path.to_string_lossy();
    if !text.contains(':') && !text.starts_with('"') {
        return path.as_os_str().to_owned();
    }
    let quoted: String = text.chars().flat_map(|c| if matches!(c, '"' | '\\') { vec!['\\', c] } else { vec![c] }).collect();
    format!("\"{quoted}\"").into()
}

/// After the worker: put its worktree's git files back, take its objects in, move `branch` to
/// its commit and attach HEAD to `branch`. Returns what was found changed, for the lane's
/// warnings. Does nothing to a worktree that was not detached.
///
/// # Errors
/// When the repository or a file cannot be read or written.
pub fn adopt(common: &Path, worktree: &Path, branch: &str) -> Result<Vec<String>> {
    let mut warnings = Vec::new();
    let Some(admin) = admin_dir(common, worktree) else { return Ok(warnings) };
    put_back(&worktree.join(".git"), "gitdir: ", &admin, &format!("gitdir: {}\n", admin.display()), &mut warnings)?;
    let dot_git = worktree.join(".git");
    put_back(&admin.join("gitdir"), "", &dot_git, &format!("{}\n", dot_git.display()), &mut warnings)?;
    put_back(&admin.join("commondir"), "", common, "../..\n", &mut warnings)?;
    let repo = git2::Repository::open(common).map_err(|e| Error::git("could not open the repository", e))?;
    let objects = admin.join(OBJECTS);
    if objects.is_dir() {
        import_objects(&repo, &objects)?;
    }
    let name = format!("refs/heads/{branch}");
    let head = std::fs::read_to_string(admin.join("HEAD")).unwrap_or_default();
    let head = head.trim();
    if head == format!("ref: {name}") || head.starts_with("ref: refs/heads/") {
        // On its lane branch, or switched to another branch the worker made or checked out: that
        // branch keeps its commits and the lane is held for the switch (see `run::refwatch`).
        remove_objects(&objects)?;
        return Ok(warnings);
    }
    if let Ok(id) = git2::Oid::from_str(head)
        && head.len() == 40
        && repo.find_commit(id).is_ok()
    {
        repo.reference(&name, id, true, "lanes: the worker's commits").map_err(|e| Error::git(format!("could not move {name}"), e))?;
    } else {
        warnings.push(format!("the worker left HEAD at `{}`; it is put back on {branch}", crate::base::redact::redact(head)));
    }
    fsutil::write_atomic(&admin.join("HEAD"), format!("ref: {name}\n").as_bytes())?;
    remove_objects(&objects)?;
    Ok(warnings)
}

fn remove_objects(objects: &Path) -> Result<()> {
    match std::fs::remove_dir_all(objects) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("remove", objects, e)),
    }
}

/// Rewrite `path` with `want` unless it is a regular file naming `target` (after `prefix`,
/// absolute or relative to its folder, as git writes either).
fn put_back(path: &Path, prefix: &str, target: &Path, want: &str, warnings: &mut Vec<String>) -> Result<()> {
    let regular = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file());
    let named = std::fs::read_to_string(path).ok().and_then(|t| t.trim_end_matches(['\n', '\r']).strip_prefix(prefix).map(PathBuf::from));
    let same = |p: &Path| {
        let p = path.parent().map_or_else(|| p.to_path_buf(), |dir| dir.join(p));
        p == target || (std::fs::canonicalize(&p).ok().is_some() && std::fs::canonicalize(&p).ok() == std::fs::canonicalize(target).ok())
    };
    if regular && named.as_deref().is_some_and(same) {
        return Ok(());
    }
    if !regular && let Ok(m) = std::fs::symlink_metadata(path) {
        let gone = if m.is_dir() { std::fs::remove_dir_all(path) } else { std::fs::remove_file(path) };
        gone.map_err(|e| Error::io("remove", path, e))?;
    }
    fsutil::write_atomic(path, want.as_bytes())?;
    warnings.push(format!("the worker changed {}; it is put back", path.display()));
    Ok(())
}

/// Copy every object of the private folder the repository lacks, re-hashed as it is written.
fn import_objects(repo: &git2::Repository, objects: &Path) -> Result<()> {
    let main = repo.odb().map_err(|e| Error::git("could not open the object database", e))?;
    let private = git2::Odb::new().map_err(|e| Error::git("could not open the worker's objects", e))?;
    let path = objects.to_str().ok_or_else(|| Error::State { message: format!("{} is not UTF-8", objects.display()), hint: None })?;
    private.add_disk_alternate(path).map_err(|e| Error::git("could not open the worker's objects", e))?;
    let mut ids = Vec::new();
    private
        .foreach(|id| {
            ids.push(*id);
            true
        })
        .map_err(|e| Error::git("could not list the worker's objects", e))?;
    for id in ids {
        if main.exists(id) {
            continue;
        }
        // An unreadable object (a worker's garbage) is left out: nothing refers to it, or the
        // lane's commit is incomplete and collecting it says so.
        let Ok(obj) = private.read(id) else { continue };
        main.write(obj.kind(), obj.data()).map_err(|e| Error::git("could not store the worker's objects", e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git(dir: &Path, args: &[&str], env: &[(OsString, OsString)]) -> String {
        #[allow(clippy::disallowed_methods)] // test set-up
        let out = std::process::Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@e")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@e")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    #[test]
    fn a_detached_workers_commits_land_on_its_branch_and_its_git_files_are_put_back() {
        let d = tempfile::tempdir().unwrap();
        let main = d.path().join("main");
        std::fs::create_dir_all(&main).unwrap();
        git(&main, &["init", "-q", "-b", "main"], &[]);
        std::fs::write(main.join("a.txt"), "a\n").unwrap();
        git(&main, &["add", "-A"], &[]);
        git(&main, &["commit", "-q", "-m", "init"], &[]);
        let wt = d.path().join("lane");
        git(&main, &["worktree", "add", "-q", "-b", "lanes/r/E", wt.to_str().unwrap()], &[]);
        let common = main.join(".git");
        let before = std::fs::read_dir(common.join("objects")).unwrap().count();
        let (det, _) = detach(&common, &wt, "lanes/r/E").unwrap();
        std::fs::write(wt.join("b.txt"), "b\n").unwrap();
        git(&wt, &["add", "-A"], &det.env);
        git(&wt, &["commit", "-q", "-m", "worker"], &det.env);
        let tip = git(&wt, &["rev-parse", "HEAD"], &det.env);
        // Nothing shared was written: not the objects, not the branch.
        assert_eq!(std::fs::read_dir(common.join("objects")).unwrap().count(), before);
        assert_ne!(git(&main, &["rev-parse", "lanes/r/E"], &[]), tip);
        // A hostile worker points its worktree at another repository.
        std::fs::write(det.admin.join("commondir"), "/elsewhere\n").unwrap();
        std::fs::write(wt.join(".git"), "gitdir: /elsewhere\n").unwrap();
        let warnings = adopt(&common, &wt, "lanes/r/E").unwrap();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert_eq!(git(&main, &["rev-parse", "lanes/r/E"], &[]), tip);
        assert_eq!(git(&wt, &["symbolic-ref", "HEAD"], &[]), "refs/heads/lanes/r/E");
        assert_eq!(git(&wt, &["status", "--porcelain"], &[]), "");
        assert!(!det.admin.join(OBJECTS).exists());
        // Adopting again changes nothing.
        assert!(adopt(&common, &wt, "lanes/r/E").unwrap().is_empty());
        // A restarted worker's earlier commits stay on the branch.
        let (det, _) = detach(&common, &wt, "lanes/r/E").unwrap();
        std::fs::write(wt.join("c.txt"), "c\n").unwrap();
        git(&wt, &["add", "-A"], &det.env);
        git(&wt, &["commit", "-q", "-m", "first attempt"], &det.env);
        let first = git(&wt, &["rev-parse", "HEAD"], &det.env);
        detach(&common, &wt, "lanes/r/E").unwrap();
        assert_eq!(git(&main, &["rev-parse", "lanes/r/E"], &[]), first);
    }

    #[test]
    fn an_alternate_with_a_colon_is_quoted() {
        assert_eq!(alternate(Path::new("/r/.git/objects")), "/r/.git/objects");
        assert_eq!(alternate(Path::new("/a:b/\"q\"/objects")), "\"/a:b/\\\"q\\\"/objects\"");
    }
}
