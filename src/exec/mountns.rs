//! Read-only git folders for checks: a mount namespace of the check's own in which the
//! repository's git folders are bind-mounted read-only. Start at [`support`] (whether and how
//! this process can make one) and [`MountPlan`] (what to mount, prepared in the parent).
//!
//! # Design note
//! Everything is prepared in the parent ([`MountPlan::new`]: paths as C strings, each mount's
//! flags, the id maps); [`MountPlan::enter`] only makes system calls and allocates nothing, so
//! it can run between fork and exec. Two ways to enter it:
//! - **a thread** ([`Support::Thread`], with `CAP_SYS_ADMIN`, e.g. as root): the sandbox's
//!   starter thread calls `unshare(CLONE_NEWNS)` once, mounts, then confines itself with
//!   Landlock; every check it starts inherits the namespace (no cost per check).
//! - **each child** ([`Support::Child`], an ordinary user): `unshare(CLONE_NEWUSER |
//!   CLONE_NEWNS)` is refused to a thread of a multithreaded process, so each check's child
//!   enters a user namespace mapping its own uid and gid to themselves before exec. Its
//!   capabilities there end at exec (its uid is not 0 in it), so the check cannot unmount.
//!
//! Mount propagation is made private first (nothing leaks back to the host). The flags the
//! kernel locks on a mount seen from a user namespace (`nosuid`, `nodev`, `noexec`, atime) are
//! kept on every remount, or it would be refused. Mounts are made outermost first, so a tree
//! inside the git folder (lane worktrees live in `.git/lanes/worktrees`) is bound writable
//! again above the read-only folder, and the tree's own `.git` file read-only above that.
//! Landlock, applied after (it forbids mounting), still confines writes to the tree.
#![deny(clippy::print_stdout, clippy::print_stderr)]
#![allow(unsafe_code)] // unshare, mount and statvfs are libc calls; each block has a SAFETY note

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// How this process can give a check a mount namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Support {
    /// A thread may unshare its mount namespace (it has `CAP_SYS_ADMIN`).
    Thread,
    /// A child, before exec, may enter a user namespace of its own and a mount namespace in it.
    Child,
    /// Neither; the reason.
    Missing(String),
}

/// Whether and how mount namespaces can be used here (tried once per process, on a throwaway
/// thread and a throwaway child). `LANES_SANDBOX=off` or `=landlock` turns them off;
/// `=userns` skips the thread way (both are for trying the other ways).
pub fn support() -> &'static Support {
    static SUPPORT: OnceLock<Support> = OnceLock::new();
    SUPPORT.get_or_init(|| {
        let asked = std::env::var("LANES_SANDBOX").unwrap_or_default();
        if asked == "off" || asked == "landlock" {
            return Support::Missing(format!("LANES_SANDBOX={asked}"));
        }
        if asked != "userns" && std::thread::spawn(|| thread_can_unshare().is_ok()).join().unwrap_or(false) {
            return Support::Thread;
        }
        let maps = IdMaps::own();
        match crate::exec::starter::probe_in_child(&|| child_can_unshare(&maps)) {
            Ok(()) => Support::Child,
            Err(e) => Support::Missing(format!("no mount namespace for checks: {e}")),
        }
    })
}

/// Tried on a throwaway thread: its namespace goes with it.
fn thread_can_unshare() -> io::Result<()> {
    // SAFETY: plain system calls on integers and static C strings.
    unsafe {
        check(libc::unshare(libc::CLONE_NEWNS))?;
        check(libc::mount(std::ptr::null(), c"/".as_ptr(), std::ptr::null(), libc::MS_REC | libc::MS_PRIVATE, std::ptr::null()))
    }
}

/// Tried in a throwaway child (async-signal-safe: system calls only, maps prepared before).
fn child_can_unshare(maps: &IdMaps) -> io::Result<()> {
    maps.enter()?;
    // SAFETY: as above.
    unsafe { check(libc::mount(std::ptr::null(), c"/".as_ptr(), std::ptr::null(), libc::MS_REC | libc::MS_PRIVATE, std::ptr::null())) }
}

fn check(rc: libc::c_int) -> io::Result<()> {
    if rc == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}

/// The uid and gid maps of a user namespace mapping this process's ids to themselves.
#[derive(Debug, Clone)]
pub struct IdMaps {
    uid_map: Vec<u8>,
    gid_map: Vec<u8>,
}

impl IdMaps {
    /// This process's ids, mapped to themselves.
    pub fn own() -> IdMaps {
        // SAFETY: getuid and getgid cannot fail and touch no memory.
        let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
        IdMaps { uid_map: format!("{uid} {uid} 1\n").into_bytes(), gid_map: format!("{gid} {gid} 1\n").into_bytes() }
    }

    /// Enter a new user and mount namespace and write the maps (no allocation).
    fn enter(&self) -> io::Result<()> {
        // SAFETY: plain system calls on integers, static C strings and buffers we own.
        unsafe {
            check(libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNS))?;
            write_proc(c"/proc/self/setgroups", b"deny")?;
            write_proc(c"/proc/self/uid_map", &self.uid_map)?;
            write_proc(c"/proc/self/gid_map", &self.gid_map)
        }
    }
}

/// Write `bytes` into a file of `/proc/self` (no allocation).
///
/// # Safety
/// Plain system calls; `path` is a valid C string.
unsafe fn write_proc(path: &std::ffi::CStr, bytes: &[u8]) -> io::Result<()> {
    // SAFETY: see the function's contract; the buffer outlives the call.
    unsafe {
        let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = libc::write(fd, bytes.as_ptr().cast(), bytes.len());
        let err = io::Error::last_os_error();
        libc::close(fd);
        if n < 0 || n as usize != bytes.len() { Err(err) } else { Ok(()) }
    }
}

/// One bind mount: `path` onto itself, then remounted with `flags` (read-only or not, and the
/// flags its mount had, which a user namespace may not drop).
#[derive(Debug, Clone)]
struct BindMount {
    path: CString,
    flags: libc::c_ulong,
}

/// What a check's mount namespace looks like, prepared in the parent.
#[derive(Debug, Clone)]
pub struct MountPlan {
    /// `Some` when each child enters a user namespace of its own first ([`Support::Child`]).
    user: Option<IdMaps>,
    steps: Vec<BindMount>,
    /// The folders kept read-only (for messages).
    read_only: Vec<PathBuf>,
}

impl MountPlan {
    /// Bind `read_only` read-only, and `writable` paths that lie beneath one of them writable
    /// again (missing paths are left out); `per_child` when each child enters it itself.
    ///
    /// # Errors
    /// When a path cannot be resolved or its mount cannot be read.
    pub fn new(read_only: &[PathBuf], writable: &[PathBuf], per_child: bool) -> io::Result<MountPlan> {
        let ro: Vec<PathBuf> = read_only.iter().filter_map(|p| std::fs::canonicalize(p).ok()).collect();
        let mut steps: Vec<(PathBuf, bool)> = ro.iter().map(|p| (p.clone(), true)).collect();
        for w in writable.iter().filter_map(|p| std::fs::canonicalize(p).ok()) {
            if ro.iter().any(|r| w.starts_with(r) && w != *r) {
                steps.push((w, false));
            }
        }
        // Outermost first: an inner mount must sit above the outer one.
        steps.sort_by_key(|(p, _)| p.components().count());
        let steps = steps
            .into_iter()
            .map(|(p, readonly)| {
                let kept = mount_flags(&p)?;
                let flags = libc::MS_BIND | libc::MS_REMOUNT | kept | if readonly { libc::MS_RDONLY } else { 0 };
                Ok(BindMount { path: CString::new(p.as_os_str().as_bytes()).map_err(io::Error::other)?, flags })
            })
            .collect::<io::Result<Vec<_>>>()?;
        Ok(MountPlan { user: per_child.then(IdMaps::own), steps, read_only: ro })
    }

    /// Try the plan once: on a throwaway thread (thread way) or in a throwaway child (per
    /// child), so a mount this machine refuses is known before any check depends on it.
    ///
    /// # Errors
    /// What refused it.
    pub fn try_once(&self) -> io::Result<()> {
        if self.per_child() {
            crate::exec::starter::probe_in_child(&|| self.enter())
        } else {
            std::thread::scope(|s| s.spawn(|| self.enter()).join().unwrap_or_else(|_| Err(io::Error::other("the trial thread panicked"))))
        }
    }

    /// Whether each child enters the namespace itself (before exec).
    pub fn per_child(&self) -> bool {
        self.user.is_some()
    }

    /// The folders (and files) kept read-only.
    pub fn read_only(&self) -> &[PathBuf] {
        &self.read_only
    }

    /// Enter a new mount namespace (in a user namespace of its own when per child) and make the
    /// mounts. Only system calls, no allocation: safe between fork and exec.
    ///
    /// # Errors
    /// The first system call that failed.
    pub fn enter(&self) -> io::Result<()> {
        match &self.user {
            Some(maps) => maps.enter()?,
            // SAFETY: a plain system call on an integer.
            None => check(unsafe { libc::unshare(libc::CLONE_NEWNS) })?,
        }
        // SAFETY: plain system calls on C strings owned by the plan, which outlives them.
        unsafe {
            check(libc::mount(std::ptr::null(), c"/".as_ptr(), std::ptr::null(), libc::MS_REC | libc::MS_PRIVATE, std::ptr::null()))?;
            for s in &self.steps {
                check(libc::mount(s.path.as_ptr(), s.path.as_ptr(), std::ptr::null(), libc::MS_BIND | libc::MS_REC, std::ptr::null()))?;
                check(libc::mount(std::ptr::null(), s.path.as_ptr(), std::ptr::null(), s.flags, std::ptr::null()))?;
            }
        }
        Ok(())
    }
}

/// The flags of the mount `path` is on that a remount must keep (read-only included: a tree
/// on a read-only mount stays read-only).
fn mount_flags(path: &Path) -> io::Result<libc::c_ulong> {
    let c = CString::new(path.as_os_str().as_bytes()).map_err(io::Error::other)?;
    // SAFETY: statvfs writes into the zeroed struct we pass; the path is a valid C string.
    let st = unsafe {
        let mut st: libc::statvfs = std::mem::zeroed();
        check(libc::statvfs(c.as_ptr(), &mut st))?;
        st
    };
    let pairs = [
        (libc::ST_RDONLY, libc::MS_RDONLY),
        (libc::ST_NOSUID, libc::MS_NOSUID),
        (libc::ST_NODEV, libc::MS_NODEV),
        (libc::ST_NOEXEC, libc::MS_NOEXEC),
        (libc::ST_NOATIME, libc::MS_NOATIME),
        (libc::ST_NODIRATIME, libc::MS_NODIRATIME),
        (libc::ST_RELATIME, libc::MS_RELATIME),
    ];
    Ok(pairs.iter().filter(|(st_flag, _)| st.f_flag & *st_flag != 0).fold(0, |acc, (_, ms)| acc | ms))
}

/// The repository folders a check in `tree` must not write: the git folder of the tree and
/// the common one of a linked worktree, and the tree's `.git` file (whose loss or rewrite
/// would cut the worktree off). Empty for a tree without `.git` (an export).
pub fn git_folders(tree: &Path) -> Vec<PathBuf> {
    let dot = tree.join(".git");
    let Ok(meta) = std::fs::symlink_metadata(&dot) else { return Vec::new() };
    let mut out = Vec::new();
    let git_dir = if meta.is_dir() {
        dot.clone()
    } else {
        out.push(dot.clone());
        let Some(gd) = std::fs::read_to_string(&dot).ok().and_then(|t| t.strip_prefix("gitdir:").map(|s| s.trim().to_string())) else {
            return out;
        };
        tree.join(gd)
    };
    let git_dir = std::fs::canonicalize(&git_dir).unwrap_or(git_dir);
    let common = std::fs::read_to_string(git_dir.join("commondir")).ok().and_then(|c| std::fs::canonicalize(git_dir.join(c.trim())).ok());
    match common {
        Some(c) if c.is_dir() => {
            if !git_dir.starts_with(&c) {
                out.push(git_dir);
            }
            out.push(c);
        }
        _ => out.push(git_dir),
    }
    out
}
