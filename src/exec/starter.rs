//! The low-level ways `process.rs` starts a child in a sandbox, kept below the sandbox
//! (`sandbox.rs`) and the mount namespace (`mountns.rs`) that need them, so neither has to use
//! `process.rs`, which uses both: the [`Starter`] thread confined to one sandbox that starts its
//! children, [`confine_this_thread`] (the Landlock call, also made between fork and exec), and
//! [`probe_in_child`] (a forked, never exec'd probe of what a child may do).
//!
//! Children are still started only through `process.rs` (`spawn_confined` hands them to a
//! [`Starter`]); a probe runs no program.
#![deny(clippy::print_stdout, clippy::print_stderr)]
#![allow(unsafe_code)] // fork, waitpid, prctl and landlock_restrict_self; each block has a SAFETY note

use std::io;
use std::process::{Child, Command};
use std::sync::mpsc;
use std::thread;

/// Run `f` in a throwaway child (forked, never exec'd) and say how it went: how the mount
/// namespace helper learns once whether a child may enter a user namespace. `f` must only make
/// system calls (it runs after fork).
pub(crate) fn probe_in_child(f: &dyn Fn() -> io::Result<()>) -> io::Result<()> {
    // SAFETY: the child only makes system calls through `f` and leaves with `_exit`; the parent
    // waits for exactly that pid (nothing else is reaped).
    unsafe {
        let pid = libc::fork();
        if pid < 0 {
            return Err(io::Error::last_os_error());
        }
        if pid == 0 {
            let code = match f() {
                Ok(()) => 0,
                Err(e) => e.raw_os_error().unwrap_or(libc::EINVAL).clamp(1, 255),
            };
            libc::_exit(code);
        }
        let mut status = 0;
        while libc::waitpid(pid, &mut status, 0) < 0 {
            if io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                return Err(io::Error::last_os_error());
            }
        }
        match libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)) {
            Some(0) => Ok(()),
            Some(code) => Err(io::Error::from_raw_os_error(code)),
            None => Err(io::Error::other("the probe did not exit")),
        }
    }
}

/// A thread confined for good to one sandbox, which starts that sandbox's children: a sandboxed
/// child then costs a message to it, not a thread of its own. It ends when the starter is
/// dropped (with its sandbox). When the sandbox has a mount plan the thread enters that mount
/// namespace first (children inherit it).
#[derive(Debug)]
pub(crate) struct Starter {
    jobs: mpsc::Sender<StartJob>,
}

/// A command for the starter, and where the child (or why it could not start) goes.
type StartJob = (Command, mpsc::Sender<io::Result<Child>>);

impl Starter {
    /// Start the thread, let it `enter` its sandbox's mount namespace (a no-op without one) and
    /// confine it with `ruleset`.
    ///
    /// # Errors
    /// When the thread cannot be made, cannot enter the namespace or cannot confine itself.
    pub(crate) fn new(
        ruleset: Option<std::os::fd::BorrowedFd<'_>>,
        enter: impl FnOnce() -> io::Result<()> + Send + 'static,
    ) -> io::Result<Starter> {
        let fd = ruleset.map(|r| r.try_clone_to_owned()).transpose()?;
        let (jobs, queue) = mpsc::channel::<StartJob>();
        let (ready_tx, ready) = mpsc::channel();
        thread::Builder::new().name("sandboxed-starter".into()).spawn(move || {
            let entered = enter();
            let confined = entered.and_then(|()| {
                use std::os::fd::AsFd;
                fd.as_ref().map_or(Ok(()), |fd| confine_this_thread(fd.as_fd()))
            });
            drop(fd);
            let ok = confined.is_ok();
            let _ = ready_tx.send(confined);
            if ok {
                for (mut cmd, reply) in queue {
                    let child = cmd.spawn();
                    drop(cmd);
                    let _ = reply.send(child);
                }
            }
        })?;
        ready.recv().map_err(|_| io::Error::other("the sandboxed starter ended"))??;
        Ok(Starter { jobs })
    }

    /// Start `cmd` from the confined thread.
    pub(crate) fn spawn(&self, cmd: Command) -> io::Result<Child> {
        let gone = || io::Error::other("the sandboxed starter ended");
        let (reply, child) = mpsc::channel();
        self.jobs.send((cmd, reply)).map_err(|_| gone())?;
        child.recv().map_err(|_| gone())?
    }
}

/// Confine the calling thread (or the child between fork and exec: system calls only), and
/// what it starts from now on, with a Landlock ruleset.
pub(crate) fn confine_this_thread(ruleset: std::os::fd::BorrowedFd<'_>) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: two system calls on integers and a descriptor this thread owns; they change only
    // this thread's credentials.
    unsafe {
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
            return Err(io::Error::last_os_error());
        }
        if libc::syscall(libc::SYS_landlock_restrict_self, ruleset.as_raw_fd(), 0) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}
