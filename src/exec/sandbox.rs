//! The sandbox untrusted commands run in (docs/design.md#the-check-sandbox-and-read-only-git-folders): on Linux, Landlock.
//! Start at [`Policy`] (what a child may write, whether it may use the network) and [`status`]
//! (whether this kernel enforces it).
//!
//! # Design note
//! A [`Policy`] is turned into a Landlock ruleset here, in the parent, by the `landlock` crate
//! (`prepare`): every file-system access is handled, read and execute are granted everywhere,
//! everything else only beneath the writable paths (and `/dev/null` and friends); TCP bind and
//! connect are handled with no port allowed (no network, ABI ≥ 4); abstract UNIX sockets and
//! signals are scoped to the sandbox (ABI ≥ 6). A landlocked process also passes no ptrace
//! check on processes outside its domain, so it cannot read `/proc/<pid>/environ` of git-lanes
//! or of any other process. The child only has to call `prctl(PR_SET_NO_NEW_PRIVS)` and
//! `landlock_restrict_self(fd)` between fork and exec — two raw system calls, made by
//! `starter.rs` for `process.rs`, the one place that spawns (no allocation after fork). Choosing a pre-exec hook
//! over re-executing git-lanes as a launcher keeps library callers (tests, other binaries)
//! working without knowing where the git-lanes binary is.
//!
//! A check is also kept from git's data ([`Prepared::for_check`], [`GitShield`]): the
//! repository's git folders are mounted read-only in a mount namespace of its own
//! ([`crate::exec::mountns`]); where the kernel refuses namespaces, its Landlock rules grant
//! writes beneath each entry of the tree but `.git`; with neither, [`GitGuard`] puts back what
//! git would execute.
//!
//! Where Landlock is missing (not Linux, an old kernel, disabled, or `LANES_SANDBOX=off` to try
//! the fallback), [`status`] says why, callers say so once, and the dry run refuses to run checks
//! unless `--allow-unsandboxed`.
#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use landlock::{
    ABI, Access, AccessFs, AccessNet, PathBeneath, PathFd, Ruleset, RulesetAttr, RulesetCreatedAttr, Scope, path_beneath_rules,
};

/// What a sandboxed child may do.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Policy {
    /// Folders (or files) it may write, create and delete beneath.
    pub writable: Vec<PathBuf>,
    /// Whether TCP connect/bind stay allowed (workers need their API; checks do not).
    pub network: bool,
    /// Paths neither readable nor writable (a user's push credentials): the read and write
    /// rules are built around them (`split_around`).
    pub hidden: Vec<PathBuf>,
    /// Paths inside a writable folder that stay read-only (git's own settings in `~/.config`).
    pub read_only: Vec<PathBuf>,
}

/// Device files every program expects to write.
const DEVICES: &[&str] = &["/dev/null", "/dev/zero", "/dev/full", "/dev/tty", "/dev/random", "/dev/urandom"];

impl Policy {
    /// A check's policy: it may write inside `tree` (its worktree or export) and `tmp` (a private
    /// temporary folder), nothing else, and has no network. The repository's git folders are
    /// kept out of its reach by [`Prepared::for_check`] (a read-only mount where the kernel
    /// allows it); where nothing enforces that, [`GitGuard`] puts back what git would execute.
    pub fn for_check(tree: &Path, tmp: &Path) -> Policy {
        Policy { writable: vec![tree.to_path_buf(), tmp.to_path_buf()], network: false, ..Policy::default() }
    }
}

impl Policy {
    /// A worker's policy: it may write `own` (its worktree, the agent's state folder with its
    /// private temporary folder, its worktree's record in the git folder — see
    /// [`crate::git::confine`]) and the agent CLIs' own folders in `$HOME` ([`AGENT_HOME`]);
    /// git's settings there (`~/.config/git`) stay read-only. It cannot read the user's push
    /// credentials ([`credential_paths`]). It keeps the network (agents call their API) and
    /// pseudo-terminals (CLIs that run their shell through `forkpty`).
    ///
    /// Nothing else of the repository's git folder is writable (objects, refs, hooks, config,
    /// other worktrees' records), nor the main checkout, another lane's worktree, the run's
    /// shared signal folder, its other files, or the system's temporary folder.
    pub fn for_worker(own: &[&Path]) -> Policy {
        let mut writable: Vec<PathBuf> = own.iter().map(|p| p.to_path_buf()).collect();
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let mut read_only = Vec::new();
        if let Some(home) = &home {
            writable.extend(AGENT_HOME.iter().map(|d| home.join(d)));
            read_only.push(home.join(".config/git"));
        }
        if let Some(xdg) = std::env::var_os("XDG_CONFIG_HOME").map(PathBuf::from) {
            read_only.push(xdg.join("git"));
        }
        writable.extend(PTYS.iter().map(PathBuf::from));
        Policy { writable, network: true, hidden: credential_paths(), read_only }
    }
}

/// The agent CLIs' own folders in `$HOME` a sandboxed worker may write (sessions, settings,
/// caches, installs).
/// Not `~/.config` or `~/.local` as a whole: a worker could put a program on the user's `PATH`
/// (`~/.local/bin`) or in their session's start-up there.
pub const AGENT_HOME: &[&str] = &[
    ".claude",
    ".claude.json",
    ".config/claude",
    ".codex",
    ".gemini",
    ".qwen",
    ".aider",
    ".config/opencode",
    ".local/share/opencode",
    ".local/state/opencode",
    ".copilot",
    ".config/github-copilot",
    ".cache",
    ".npm",
];

/// The pseudo-terminal devices: a CLI that runs commands through `forkpty(3)` opens
/// `/dev/ptmx` read-write and sets the terminal up by `ioctl`, both denied on a device that is
/// only readable (qwen's shell failed with "forkpty(3) failed" without them).
const PTYS: &[&str] = &["/dev/ptmx", "/dev/pts"];

/// Where the user's push credentials live: ssh keys and agent socket folder, git's credential
/// stores (`store` and `cache` helpers), gpg keys. Only those that exist, canonical.
pub fn credential_paths() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    if let Some(home) = std::env::var_os("HOME").map(PathBuf::from) {
        for d in [".ssh", ".git-credentials", ".config/git/credentials", ".git-credential-cache", ".cache/git/credential", ".gnupg"] {
            out.push(home.join(d));
        }
    }
    if let Some(xdg) = std::env::var_os("XDG_CONFIG_HOME").map(PathBuf::from) {
        out.push(xdg.join("git/credentials"));
    }
    if let Some(xdg) = std::env::var_os("XDG_CACHE_HOME").map(PathBuf::from) {
        out.push(xdg.join("git/credential"));
    }
    // The ssh agent's socket folder (`/tmp/ssh-XXXX/agent.N`), and any other agent's there.
    if let Some(sock) = std::env::var_os("SSH_AUTH_SOCK").map(PathBuf::from)
        && let Some(dir) = sock.parent()
        && dir != Path::new("/")
        && dir != std::env::temp_dir()
        && dir != Path::new("/tmp")
    {
        out.push(dir.to_path_buf());
    }
    for tmp in [std::env::temp_dir(), PathBuf::from("/tmp")] {
        for e in std::fs::read_dir(&tmp).into_iter().flatten().flatten() {
            if e.file_name().to_string_lossy().starts_with("ssh-") {
                out.push(e.path());
            }
        }
    }
    let mut out: Vec<PathBuf> = out.into_iter().filter_map(|p| std::fs::canonicalize(p).ok()).collect();
    out.sort();
    out.dedup();
    out
}

/// Split the tree at `base` around `avoid`: `whole` gets the folders and files beneath which
/// nothing is avoided (a rule each), `walked` the folders that lead to an avoided path (they
/// get only a listing right, which Landlock grants to everything beneath them). An avoided
/// path gets nothing. Symbolic links are judged by where they lead.
fn split_around(base: &Path, avoid: &[PathBuf], whole: &mut Vec<PathBuf>, walked: &mut Vec<PathBuf>) {
    let real = std::fs::canonicalize(base).unwrap_or_else(|_| base.to_path_buf());
    if avoid.contains(&real) {
        return;
    }
    if !avoid.iter().any(|a| a.starts_with(&real)) {
        whole.push(base.to_path_buf());
        return;
    }
    // A link into an avoided path's ancestry is left out rather than followed.
    if real != base {
        return;
    }
    walked.push(base.to_path_buf());
    for e in std::fs::read_dir(base).into_iter().flatten().flatten() {
        split_around(&e.path(), avoid, whole, walked);
    }
}

/// The files of a `.git` folder that make git run programs — `config` (`core.fsmonitor`,
/// `core.hooksPath`, aliases, filters) and `hooks/` — as they were before a check ran; a check
/// that changes them has them put back ([`GitGuard::restore`]).
#[derive(Debug, Default)]
pub struct GitGuard {
    dir: Option<PathBuf>,
    /// Each file of the surface: its bytes and what its metadata said (`None`: missing).
    files: Vec<(PathBuf, Option<Vec<u8>>, Option<Stamp>)>,
    /// When the surface was read: a file modified shortly before may change again within the
    /// same timestamp tick unseen (git's racy-file rule), so its bytes are compared.
    taken: Option<std::time::SystemTime>,
    /// `dir` is a linked worktree's `.git` file, the one thing guarded.
    link: bool,
}

/// What proves a file unchanged without reading it: size, modification time and inode (a
/// rewrite, a replacement or an append each changes one of them).
type Stamp = (u64, Option<std::time::SystemTime>, u64);

fn stamp(path: &Path) -> Option<Stamp> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::symlink_metadata(path).ok()?;
    Some((m.len(), m.modified().ok(), m.ino()))
}

impl GitGuard {
    /// Remember `tree/.git`'s executable surface, or, in a linked worktree (lane worktrees),
    /// its `.git` file, whose loss would cut the worktree off its repository (nothing in an
    /// export, which has no `.git`).
    pub fn before(tree: &Path) -> GitGuard {
        let dir = tree.join(".git");
        if std::fs::symlink_metadata(&dir).is_ok_and(|m| m.is_file()) {
            let files = vec![(dir.clone(), std::fs::read(&dir).ok(), stamp(&dir))];
            return GitGuard { files, dir: Some(dir), taken: Some(std::time::SystemTime::now()), link: true };
        }
        if !dir.is_dir() {
            return GitGuard::default();
        }
        let files = Self::surface(&dir)
            .into_iter()
            .map(|p| {
                let st = stamp(&p);
                (p.clone(), std::fs::read(&p).ok(), st)
            })
            .collect();
        GitGuard { files, dir: Some(dir), taken: Some(std::time::SystemTime::now()), link: false }
    }

    fn surface_of(&self, dir: &Path) -> Vec<PathBuf> {
        if self.link {
            return vec![dir.to_path_buf()];
        }
        Self::surface(dir)
    }

    fn surface(dir: &Path) -> Vec<PathBuf> {
        let mut out = vec![dir.join("config"), dir.join("config.worktree"), dir.join("info/attributes")];
        out.extend(std::fs::read_dir(dir.join("hooks")).into_iter().flatten().flatten().map(|e| e.path()));
        out
    }

    /// Whether a file with this stamp was last modified well before the guard was taken.
    fn settled(&self, st: &Stamp) -> bool {
        match (st.1, self.taken) {
            (Some(modified), Some(taken)) => modified + std::time::Duration::from_secs(2) < taken,
            _ => false,
        }
    }

    /// Put back what changed; the paths restored (or removed, for a new hook).
    pub fn restore(&self) -> Vec<PathBuf> {
        let Some(dir) = &self.dir else { return Vec::new() };
        let mut changed = Vec::new();
        for p in self.surface_of(dir) {
            let noted = self.files.iter().find(|(q, _, _)| *q == p);
            if let Some((_, _, Some(st))) = noted
                && self.settled(st)
                && stamp(&p).as_ref() == Some(st)
            {
                continue;
            }
            let before = noted.and_then(|(_, b, _)| b.clone());
            let now = std::fs::read(&p).ok();
            if now == before {
                continue;
            }
            let ok = match &before {
                Some(bytes) => {
                    let _ = std::fs::remove_file(&p).or_else(|_| std::fs::remove_dir_all(&p));
                    std::fs::write(&p, bytes).is_ok()
                }
                None => std::fs::remove_file(&p).is_ok() || std::fs::remove_dir_all(&p).is_ok(),
            };
            if ok {
                changed.push(p);
            }
        }
        changed
    }
}

/// How a check is kept from writing the repository's git data (objects, refs, config, hooks,
/// info, worktree records, `.git/lanes`), from the strongest way to the weakest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GitShield {
    /// The git folders are mounted read-only in a mount namespace of the check's own.
    ReadOnlyMount,
    /// No mount namespace here: Landlock grants write beneath each entry of the tree but
    /// `.git` (a check cannot create a new file at the tree's top level either).
    LandlockRules,
    /// The tree has no git folder (an export outside the repository).
    NoGitFolder,
    /// Nothing enforces it: what git executes (config, hooks, info) is put back afterwards.
    PutBack,
}

impl GitShield {
    /// Its name in JSON output and evidence.
    pub fn code(self) -> &'static str {
        match self {
            GitShield::ReadOnlyMount => "read_only_mount",
            GitShield::LandlockRules => "landlock_rules",
            GitShield::NoGitFolder => "no_git_folder",
            GitShield::PutBack => "put_back",
        }
    }

    /// A few words for output and evidence.
    pub fn describe(self) -> &'static str {
        match self {
            GitShield::ReadOnlyMount => "git folders mounted read-only",
            GitShield::LandlockRules => "git folders outside the Landlock rules",
            GitShield::NoGitFolder => "export without git folder",
            GitShield::PutBack => "git folders writable; config and hooks put back",
        }
    }
}

impl serde::Serialize for GitShield {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

/// Whether this process can sandbox its children.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SandboxStatus {
    /// Landlock enforces the policy.
    Enforced,
    /// It cannot; the reason.
    Missing(String),
}

impl SandboxStatus {
    pub fn is_enforced(&self) -> bool {
        matches!(self, SandboxStatus::Enforced)
    }
}

/// Whether Landlock can be used here (checked once per process).
pub fn status() -> &'static SandboxStatus {
    static STATUS: OnceLock<SandboxStatus> = OnceLock::new();
    STATUS.get_or_init(|| {
        if std::env::var_os("LANES_SANDBOX").is_some_and(|v| v == "off") {
            return SandboxStatus::Missing("LANES_SANDBOX=off".into());
        }
        match Ruleset::default().handle_access(AccessFs::Execute).and_then(|r| r.create()) {
            Ok(created) => {
                let fd: Option<OwnedFd> = created.into();
                if fd.is_some() {
                    SandboxStatus::Enforced
                } else {
                    SandboxStatus::Missing("this kernel does not provide Landlock (Linux 5.13 or later with Landlock enabled)".into())
                }
            }
            Err(e) => SandboxStatus::Missing(format!("Landlock could not be set up: {e}")),
        }
    })
}

/// The one-line warning callers show once when there is no sandbox.
pub fn missing_warning() -> Option<String> {
    match status() {
        SandboxStatus::Enforced => None,
        SandboxStatus::Missing(why) => Some(format!(
            "no sandbox for verification commands: {why}; checks run with the scrubbed environment only and can write anywhere you can"
        )),
    }
}

/// The one-line warning callers show once when workers run without the sandbox: turned off
/// (`sandbox`: false), or none on this system.
pub fn workers_warning(sandbox: bool) -> Option<String> {
    let gives_up = "they can write anywhere you can (the repository's git folder and hooks, other lanes' worktrees, your home), \
                    read your ssh keys and git credentials to push, and leave processes running";
    if !sandbox {
        return Some(format!("workers run without the sandbox (--no-sandbox-workers or sandbox_workers: false): {gives_up}"));
    }
    match status() {
        SandboxStatus::Enforced => None,
        SandboxStatus::Missing(why) => Some(format!("no sandbox for workers: {why}; {gives_up}")),
    }
}

/// A policy with its Landlock ruleset built once, for as many children as are started in it (the
/// checks of one verify slot share one). `ruleset` is `None` where there is no sandbox.
#[derive(Debug)]
pub struct Prepared {
    policy: Policy,
    ruleset: Option<OwnedFd>,
    /// The mount namespace its children run in (checks: git folders read-only), if any.
    mounts: Option<std::sync::Arc<crate::exec::mountns::MountPlan>>,
    /// How it keeps a check from writing the repository's git data.
    shield: GitShield,
    /// The thread confined to it that starts its children, once there is a first.
    starter: OnceLock<crate::exec::starter::Starter>,
}

impl Prepared {
    /// Build `policy`'s ruleset (see `prepare`).
    ///
    /// # Errors
    /// When Landlock is there but refuses the ruleset; the reason.
    pub fn new(policy: Policy) -> Result<Prepared, String> {
        let ruleset = prepare(&policy)?;
        Ok(Prepared { policy, ruleset, mounts: None, shield: GitShield::NoGitFolder, starter: OnceLock::new() })
    }

    /// A check's sandbox in `tree` with the private temporary folder `tmp`
    /// ([`Policy::for_check`]), keeping the repository's git folders out of its reach as well
    /// as this machine allows ([`GitShield`]).
    ///
    /// # Errors
    /// When Landlock or the mount namespace is there but refuses the set-up; the reason.
    pub fn for_check(tree: &Path, tmp: &Path) -> Result<Prepared, String> {
        let mut policy = Policy::for_check(tree, tmp);
        let folders = crate::exec::mountns::git_folders(tree);
        if folders.is_empty() {
            return Prepared::new(policy);
        }
        let per_child = match crate::exec::mountns::support() {
            crate::exec::mountns::Support::Thread => Some(false),
            crate::exec::mountns::Support::Child => Some(true),
            crate::exec::mountns::Support::Missing(_) => None,
        };
        // A plan this machine refuses (a mount it does not allow) falls back to the next way.
        let plan = per_child.and_then(|per_child| {
            crate::exec::mountns::MountPlan::new(&folders, &policy.writable, per_child).ok().filter(|p| p.try_once().is_ok())
        });
        if let Some(plan) = plan {
            let ruleset = prepare(&policy)?;
            let mounts = Some(std::sync::Arc::new(plan));
            return Ok(Prepared { policy, ruleset, mounts, shield: GitShield::ReadOnlyMount, starter: OnceLock::new() });
        }
        if !status().is_enforced() {
            return Ok(Prepared { policy, ruleset: None, mounts: None, shield: GitShield::PutBack, starter: OnceLock::new() });
        }
        // No namespace: Landlock grants write beneath each entry of the tree but its `.git`.
        let entries = std::fs::read_dir(tree).map_err(|e| format!("{}: {e}", tree.display()))?;
        let mut writable: Vec<PathBuf> = entries.flatten().map(|e| e.path()).filter(|p| p.file_name() != Some(".git".as_ref())).collect();
        writable.sort();
        writable.push(tmp.to_path_buf());
        policy.writable = writable;
        let ruleset = prepare(&policy)?;
        Ok(Prepared { policy, ruleset, mounts: None, shield: GitShield::LandlockRules, starter: OnceLock::new() })
    }

    /// How this sandbox keeps a check from writing git's data.
    pub fn shield(&self) -> GitShield {
        self.shield
    }

    /// The mount namespace its children run in, if any.
    pub(crate) fn mounts(&self) -> Option<&crate::exec::mountns::MountPlan> {
        self.mounts.as_deref()
    }

    /// The descriptor a child's starter hands to `landlock_restrict_self`.
    pub fn ruleset(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        use std::os::fd::AsFd;
        self.ruleset.as_ref().map(AsFd::as_fd)
    }

    /// The thread that starts this sandbox's children (made on the first call).
    ///
    /// # Errors
    /// When there is no ruleset, or the thread cannot be made or confined.
    pub(crate) fn starter(&self) -> std::io::Result<&crate::exec::starter::Starter> {
        if let Some(s) = self.starter.get() {
            return Ok(s);
        }
        if self.ruleset.is_none() && self.mounts.is_none() {
            return Err(std::io::Error::other("no sandbox to start children in"));
        }
        let mounts = self.mounts.clone();
        let enter = move || mounts.as_deref().map_or(Ok(()), crate::exec::mountns::MountPlan::enter);
        let made = crate::exec::starter::Starter::new(self.ruleset(), enter)?;
        // Two first children at once: one starter is kept, the other ends when dropped.
        Ok(self.starter.get_or_init(|| made))
    }
}

impl PartialEq for Prepared {
    fn eq(&self, other: &Prepared) -> bool {
        self.policy == other.policy && self.shield == other.shield
    }
}

impl Eq for Prepared {}

/// Build the Landlock ruleset of `policy`; `Ok(None)` when there is no sandbox here (see
/// [`status`]). The descriptor is what the child hands to `landlock_restrict_self`.
fn prepare(policy: &Policy) -> Result<Option<OwnedFd>, String> {
    if !status().is_enforced() {
        return Ok(None);
    }
    // The crate downgrades what this kernel does not know (best effort), so one target ABI
    // serves every kernel that has Landlock at all.
    let abi = ABI::V6;
    let split = !(policy.hidden.is_empty() && policy.read_only.is_empty());
    // A worker's rules also handle connecting to named sockets where the kernel mediates it
    // (ABI 9): allowed wherever reading is, so never beneath a hidden path (an ssh agent's or
    // git's credential cache socket). Older kernels drop it (best effort).
    let fs_abi = if split { ABI::V9 } else { abi };
    let mut ruleset = Ruleset::default().handle_access(AccessFs::from_all(fs_abi)).map_err(|e| e.to_string())?;
    if !policy.network {
        ruleset = ruleset.handle_access(AccessNet::from_all(abi)).map_err(|e| e.to_string())?;
    }
    let ruleset = ruleset.scope(Scope::from_all(abi)).map_err(|e| e.to_string())?;
    let devices: Vec<&Path> = DEVICES.iter().map(Path::new).filter(|p| p.exists()).collect();
    let mut created = ruleset.create().map_err(|e| e.to_string())?;
    if !split {
        let root = PathFd::new("/").map_err(|e| e.to_string())?;
        let writable: Vec<&Path> = policy.writable.iter().map(PathBuf::as_path).filter(|p| p.exists()).collect();
        created = created
            .add_rule(PathBeneath::new(root, AccessFs::from_read(abi)))
            .and_then(|r| r.add_rules(path_beneath_rules(&writable, AccessFs::from_all(abi))))
            .map_err(|e| e.to_string())?;
    } else {
        let (mut readable, mut listed) = (Vec::new(), Vec::new());
        split_around(Path::new("/"), &policy.hidden, &mut readable, &mut listed);
        let avoid: Vec<PathBuf> = policy.hidden.iter().chain(&policy.read_only).filter_map(|p| std::fs::canonicalize(p).ok()).collect();
        let (mut writable, mut walked) = (Vec::new(), Vec::new());
        for w in policy.writable.iter().filter(|p| p.exists()) {
            split_around(w, &avoid, &mut writable, &mut walked);
        }
        created = created
            .add_rules(path_beneath_rules(&readable, AccessFs::from_read(abi) | AccessFs::ResolveUnix))
            .and_then(|r| r.add_rules(path_beneath_rules(&listed, AccessFs::ReadDir)))
            .and_then(|r| r.add_rules(path_beneath_rules(&writable, AccessFs::from_all(fs_abi))))
            // Within a writable folder, new folders may be made next to a read-only one.
            .and_then(|r| r.add_rules(path_beneath_rules(&walked, AccessFs::ReadDir | AccessFs::MakeDir)))
            .map_err(|e| e.to_string())?;
    }
    let created = created.add_rules(path_beneath_rules(&devices, AccessFs::from_file(abi))).map_err(|e| e.to_string())?;
    Ok(created.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_check_plants_in_git_is_put_back() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join(".git/hooks")).unwrap();
        std::fs::write(d.path().join(".git/config"), "[core]\n").unwrap();
        std::fs::write(d.path().join(".git/hooks/pre-push"), "mine").unwrap();
        let g = GitGuard::before(d.path());
        std::fs::write(d.path().join(".git/config"), "[core]\nfsmonitor = evil\n").unwrap();
        std::fs::write(d.path().join(".git/hooks/pre-commit"), "evil").unwrap();
        let restored = g.restore();
        assert_eq!(restored.len(), 2, "{restored:?}");
        assert_eq!(std::fs::read_to_string(d.path().join(".git/config")).unwrap(), "[core]\n");
        assert!(!d.path().join(".git/hooks/pre-commit").exists());
        assert_eq!(std::fs::read_to_string(d.path().join(".git/hooks/pre-push")).unwrap(), "mine");
        assert!(GitGuard::before(tempfile::tempdir().unwrap().path()).restore().is_empty());
    }

    #[test]
    fn an_old_hook_rewritten_to_the_same_size_is_put_back_and_an_untouched_one_is_not_read() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join(".git/hooks")).unwrap();
        let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        for (name, text) in [("pre-push", "mine"), ("post-merge", "also")] {
            let p = d.path().join(".git/hooks").join(name);
            std::fs::write(&p, text).unwrap();
            std::fs::File::options().write(true).open(&p).unwrap().set_modified(hour_ago).unwrap();
        }
        let g = GitGuard::before(d.path());
        std::fs::write(d.path().join(".git/hooks/pre-push"), "evil").unwrap();
        assert_eq!(g.restore(), [d.path().join(".git/hooks/pre-push")]);
        assert_eq!(std::fs::read_to_string(d.path().join(".git/hooks/pre-push")).unwrap(), "mine");
    }

    #[test]
    fn the_rules_go_around_a_hidden_path_and_grant_its_ancestors_only_a_listing() {
        let d = tempfile::tempdir().unwrap();
        let base = d.path().canonicalize().unwrap();
        for f in [".ssh/id", ".config/git/credentials", ".config/git/config", ".config/app/x", "notes"] {
            std::fs::create_dir_all(base.join(f).parent().unwrap()).unwrap();
            std::fs::write(base.join(f), "x").unwrap();
        }
        // A link to the hidden folder is not followed into it.
        std::os::unix::fs::symlink(base.join(".ssh"), base.join("keys")).unwrap();
        let hidden = [base.join(".ssh"), base.join(".config/git/credentials")];
        let (mut whole, mut walked) = (Vec::new(), Vec::new());
        split_around(&base, &hidden, &mut whole, &mut walked);
        whole.sort();
        walked.sort();
        assert_eq!(whole, [base.join(".config/app"), base.join(".config/git/config"), base.join("notes")]);
        assert_eq!(walked, [base.clone(), base.join(".config"), base.join(".config/git")]);
    }
}
