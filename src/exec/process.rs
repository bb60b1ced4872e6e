//! Child processes: the one place in git-lanes that spawns anything (workers, checks, git porcelain).
//!
//! Start with [`ProcessSpec`] (what to run, where, with which environment, where output goes,
//! how long it may take), then call [`run`] (blocking, for checks) or [`spawn`] (a [`Running`]
//! handle, for long-lived workers that a coordinator thread owns).
//!
//! Every child gets its own process group (pgid = its pid) and a null stdin (or a file, when the
//! spec names one: [`ProcessSpec::with_stdin_file`]). Output is either captured — stdout and
//! stderr through one pipe, so the text is in arrival order, keeping the first and last
//! [`DEFAULT_CAP_EACH_END`] bytes — or appended to a log file.
//!
//! # Design note: waiting, killing, and pid reuse
//!
//! A blocking [`run`] (checks, git porcelain) starts no thread at all on Linux: the calling
//! thread waits in one `poll(2)` on the capture pipe and a pidfd of the child (see `inline`).
//! Bare program names (`sh`, `git`) are looked up in `PATH` once per process, not per child.
//!
//! A [`spawn`]ed child has a dedicated *waiter thread* blocked in `waitid(WEXITED | WNOWAIT)`;
//! waiting therefore costs no CPU, and callers wait on a channel (`recv_timeout`). When the group leader
//! exits it stays a zombie (WNOWAIT) while the waiter, holding the `reaped` lock, SIGKILLs whatever
//! is left in its group (background jobs a check forgot) and only then reaps it. Every other group
//! signal ([`Running::signal_group`], timeouts, [`Running::terminate`]) takes the same lock and is
//! skipped once the leader is reaped. So a signal is only ever sent to `-pgid` while that pgid is
//! pinned by our own (possibly zombie) leader and can never hit a recycled group.
//!
//! Timeout: SIGTERM to the group, wait `grace`, SIGKILL to the group. A process that escaped the
//! group (`setsid`) and still holds the capture pipe cannot hold the caller: once the leader is
//! reaped, the reader gets at most [`READER_GRACE`] to reach end of file and is then abandoned.
//!
//! Nothing else in the program may reap children (no `waitpid(-1)`, no `SIGCHLD = SIG_IGN`):
//! the waiter would then report [`Ending::Unknown`].
#![deny(clippy::print_stdout, clippy::print_stderr)]
#![allow(unsafe_code)] // process groups and waitid need libc calls; each block has a SAFETY note

use std::ffi::OsString;
use std::fmt::{self, Write as _};
use std::fs::OpenOptions;
use std::io::{self, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

/// Bytes kept from the start, and again from the end, of captured output (64 KiB in all).
pub const DEFAULT_CAP_EACH_END: usize = 32 * 1024;
/// Time between SIGTERM and SIGKILL when a spec does not say otherwise.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(2);
/// How long the output reader may lag behind the reaped child before its output is taken as is
/// (only a process that escaped the group can hold the pipe that long; a busy machine can delay
/// the reader by much more than a few hundred milliseconds, and losing `git rev-parse`'s answer
/// to that was seen with 100 lanes).
pub const READER_GRACE: Duration = Duration::from_secs(3);

/// Environment variables a scrubbed environment keeps (besides `LANES_*` and the allow list).
const SCRUB_KEEP: &[&str] = &["PATH", "HOME", "LANG", "LC_ALL", "TERM", "TMPDIR", "USER"];

/// Which environment a child sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvPolicy {
    /// The parent's environment plus (overriding) these variables. For trusted workers.
    Inherit(Vec<(OsString, OsString)>),
    /// Exactly these variables and nothing else. Use with [`scrubbed_env`] for untrusted checks.
    Clear(Vec<(OsString, OsString)>),
}

/// Where a child's stdout and stderr go. Both always go to the same place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputTarget {
    /// One combined stream in memory; only the first and last `cap_each_end` bytes are kept.
    Capture {
        /// Bytes kept at each end of the stream.
        cap_each_end: usize,
    },
    /// Appended to this file (created if missing); for long-running workers.
    File(PathBuf),
    /// Discarded.
    Null,
}

impl OutputTarget {
    /// Capture with the default cap ([`DEFAULT_CAP_EACH_END`] at each end).
    #[must_use]
    pub fn capture() -> Self {
        OutputTarget::Capture { cap_each_end: DEFAULT_CAP_EACH_END }
    }
}

/// Everything needed to start one child process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessSpec {
    /// Program to run, looked up in `PATH` when it has no slash.
    pub program: OsString,
    /// Arguments, without the program name.
    pub args: Vec<OsString>,
    /// Working directory; must exist.
    pub cwd: PathBuf,
    /// Environment the child sees.
    pub env: EnvPolicy,
    /// Where stdout and stderr go.
    pub output: OutputTarget,
    /// Wall-clock limit from spawn; `None` means no limit.
    pub timeout: Option<Duration>,
    /// Time between SIGTERM and SIGKILL when the group is stopped.
    pub grace: Duration,
    /// Run the child in this sandbox (Landlock, see [`crate::exec::sandbox`]); ignored where the
    /// kernel has none (callers check [`crate::exec::sandbox::status`] and say so).
    pub sandbox: Option<Sandbox>,
    /// A file the child reads as its standard input; `None`: a null stdin.
    pub stdin: Option<PathBuf>,
}

/// A child's sandbox: a policy whose ruleset is built when the child starts, or one built
/// already and shared by many children.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sandbox {
    Policy(crate::exec::sandbox::Policy),
    Prepared(Arc<crate::exec::sandbox::Prepared>),
}

impl ProcessSpec {
    /// A spec for `program args…` in `cwd`: inherited environment, captured output, no timeout.
    #[must_use]
    pub fn new<I, S>(program: impl Into<OsString>, args: I, cwd: impl Into<PathBuf>) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        ProcessSpec {
            program: program.into(),
            args: args.into_iter().map(Into::into).collect(),
            cwd: cwd.into(),
            env: EnvPolicy::Inherit(Vec::new()),
            output: OutputTarget::capture(),
            timeout: None,
            grace: DEFAULT_GRACE,
            sandbox: None,
            stdin: None,
        }
    }

    /// A spec for `sh -c command` in `cwd` (how checks and worker command lines run).
    #[must_use]
    pub fn shell(command: &str, cwd: &Path) -> Self {
        ProcessSpec::new("sh", ["-c", command], cwd)
    }

    /// Sets the environment policy.
    #[must_use]
    pub fn with_env(mut self, env: EnvPolicy) -> Self {
        self.env = env;
        self
    }

    /// Sets where output goes.
    #[must_use]
    pub fn with_output(mut self, output: OutputTarget) -> Self {
        self.output = output;
        self
    }

    /// Sets the wall-clock limit.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Runs the child in a sandbox.
    #[must_use]
    pub fn with_sandbox(mut self, policy: crate::exec::sandbox::Policy) -> Self {
        self.sandbox = Some(Sandbox::Policy(policy));
        self
    }

    /// Runs the child in a sandbox whose ruleset is built already.
    #[must_use]
    pub fn with_prepared_sandbox(mut self, prepared: Arc<crate::exec::sandbox::Prepared>) -> Self {
        self.sandbox = Some(Sandbox::Prepared(prepared));
        self
    }

    /// Gives the child `path` as its standard input instead of a null one.
    #[must_use]
    pub fn with_stdin_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.stdin = Some(path.into());
        self
    }

    /// Sets the time between SIGTERM and SIGKILL.
    #[must_use]
    pub fn with_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    fn program_name(&self) -> String {
        self.program.to_string_lossy().into_owned()
    }
}

/// Make this process non-dumpable (`prctl(PR_SET_DUMPABLE, 0)`): same-user processes can then no
/// longer read its `/proc/<pid>/environ` or memory, nor ptrace it. Children are not affected (the
/// flag is reset on `exec`). Best effort: a failure leaves the process as it was.
pub fn harden_self() {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl with PR_SET_DUMPABLE takes plain integers and touches no memory of ours.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
}

/// The parent's environment reduced to what an untrusted command may see.
///
/// Keeps `PATH`, `HOME`, `LANG`, `LC_ALL`, `TERM`, `TMPDIR`, `USER`, every `LANES_*`, and the
/// names in `allow` (exact match, e.g. from `lanes.yaml` `verify.env`). Tokens, API keys and
/// everything else are dropped.
pub fn scrubbed_env(allow: &[String]) -> Vec<(OsString, OsString)> {
    scrub(std::env::vars_os(), allow)
}

fn scrub(vars: impl Iterator<Item = (OsString, OsString)>, allow: &[String]) -> Vec<(OsString, OsString)> {
    vars.filter(|(name, _)| {
        let Some(name) = name.to_str() else {
            return false;
        };
        SCRUB_KEEP.contains(&name) || name.starts_with("LANES_") || allow.iter().any(|a| a == name)
    })
    .collect()
}

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Exited on its own with this code.
    Exited(i32),
    /// Killed by this signal (not because of its timeout).
    Signaled(i32),
    /// Its timeout elapsed and its process group was stopped.
    TimedOut {
        /// The timeout that elapsed.
        after: Duration,
    },
    /// The status could not be collected (something else reaped the child).
    Unknown,
}

impl Ending {
    /// Whether the child exited with code 0.
    pub fn success(&self) -> bool {
        *self == Ending::Exited(0)
    }

    fn from_status(status: ExitStatus) -> Self {
        match (status.code(), status.signal()) {
            (Some(code), _) => Ending::Exited(code),
            (None, Some(sig)) => Ending::Signaled(sig),
            (None, None) => Ending::Unknown,
        }
    }
}

impl fmt::Display for Ending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ending::Exited(code) => write!(f, "exit {code}"),
            Ending::Signaled(sig) => write!(f, "killed by signal {sig}"),
            Ending::TimedOut { after } => write!(f, "timed out after {}", human_duration(*after)),
            Ending::Unknown => f.write_str("ended with unknown status"),
        }
    }
}

/// `30s`, `300ms`, `1.5s`.
fn human_duration(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

/// Captured output: head and tail of the combined stdout+stderr stream, decoded lossily.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captured {
    /// The kept text; when bytes were dropped, a `… [N bytes dropped] …` line separates head
    /// and tail.
    pub text: String,
    /// Bytes left out between head and tail.
    pub dropped_bytes: u64,
}

/// A finished child: how it ended, what it printed (empty unless captured), how long it took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    /// How it ended.
    pub ending: Ending,
    /// Captured output (empty for [`OutputTarget::File`] and [`OutputTarget::Null`]).
    pub output: Captured,
    /// From spawn until the group leader ended.
    pub duration: Duration,
}

/// A child that could not be started or watched.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// The working directory is missing or not a directory.
    #[error("could not start `{program}`: working directory {} does not exist", cwd.display())]
    MissingCwd {
        /// Program that was to run.
        program: String,
        /// The missing directory.
        cwd: PathBuf,
    },
    /// The OS refused to start the program (not found, not executable, …).
    #[error("could not start `{program}` in {}: {source}", cwd.display())]
    Spawn {
        /// Program that was to run.
        program: String,
        /// Its working directory.
        cwd: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The log file could not be opened for appending.
    #[error("could not open log file {} for `{program}`: {source}", path.display())]
    LogFile {
        /// Program that was to run.
        program: String,
        /// The log file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// A pipe or a helper thread could not be created.
    #[error("could not set up `{program}` in {}: {source}", cwd.display())]
    Setup {
        /// Program that was to run.
        program: String,
        /// Its working directory.
        cwd: PathBuf,
        /// The OS error.
        source: io::Error,
    },
}

/// Runs `spec` to completion (honouring its timeout) and returns how it ended and its output.
///
/// # Errors
/// When the child cannot be started; see [`ProcessError`]. A non-zero exit, a signal or a
/// timeout is a [`Finished::ending`], not an error.
pub fn run(spec: &ProcessSpec) -> Result<Finished, ProcessError> {
    #[cfg(target_os = "linux")]
    {
        inline::run(spec)
    }
    #[cfg(not(target_os = "linux"))]
    {
        Ok(spawn(spec)?.finish())
    }
}

/// Starts `spec` and returns at once; see [`Running`].
///
/// # Errors
/// When the working directory is missing, the log file cannot be opened, the program cannot be
/// started, or a pipe or helper thread cannot be created.
pub fn spawn(spec: &ProcessSpec) -> Result<Running, ProcessError> {
    spawn_inner(spec, None)
}

/// Like [`spawn`], and calls `on_exit` (on the waiter thread) once the child has ended, when
/// [`Running::try_wait`] already returns its ending: a caller waiting on a channel hears of the
/// exit at once instead of polling for it.
///
/// # Errors
/// As [`spawn`].
pub fn spawn_notifying(spec: &ProcessSpec, on_exit: impl FnOnce() + Send + 'static) -> Result<Running, ProcessError> {
    spawn_inner(spec, Some(Box::new(on_exit)))
}

/// What the waiter thread calls once the child's ending has been reported.
type ExitHook = Box<dyn FnOnce() + Send>;

fn spawn_inner(spec: &ProcessSpec, on_exit: Option<ExitHook>) -> Result<Running, ProcessError> {
    let (cmd, pipe_reader, ruleset) = command(spec)?;
    let child = spawn_confined(cmd, ruleset).map_err(|source| ProcessError::Spawn {
        program: spec.program_name(),
        cwd: spec.cwd.clone(),
        source,
    })?;
    let started = Instant::now();
    Running::watch(child, started, spec, pipe_reader, on_exit)
}

/// The one place a [`Command`] is built from a spec: own process group, a null stdin (or the
/// spec's file), the environment policy, and output routed as asked (both streams into one pipe
/// when captured; the pipe's read end is returned), with the Landlock ruleset of its sandbox, if
/// any, for [`spawn_confined`].
fn command(spec: &ProcessSpec) -> Result<(Command, Option<io::PipeReader>, Option<Arc<crate::exec::sandbox::Prepared>>), ProcessError> {
    let program = spec.program_name();
    let setup_err = |source| ProcessError::Setup { program: program.clone(), cwd: spec.cwd.clone(), source };
    if !spec.cwd.is_dir() {
        return Err(ProcessError::MissingCwd { program, cwd: spec.cwd.clone() });
    }

    #[allow(clippy::disallowed_methods)] // this module is the one place that spawns
    let mut cmd = Command::new(resolved_program(spec));
    // argv[0] stays what the spec says, so `ps` and the child's `$0` look as before.
    cmd.arg0(&spec.program);
    let stdin = match &spec.stdin {
        Some(path) => Stdio::from(std::fs::File::open(path).map_err(setup_err)?),
        None => Stdio::null(),
    };
    cmd.args(&spec.args).current_dir(&spec.cwd).stdin(stdin).process_group(0);
    match &spec.env {
        EnvPolicy::Inherit(extra) => {
            cmd.envs(extra.iter().map(|(k, v)| (k, v)));
        }
        EnvPolicy::Clear(vars) => {
            cmd.env_clear().envs(vars.iter().map(|(k, v)| (k, v)));
        }
    }

    let ruleset = match &spec.sandbox {
        Some(Sandbox::Policy(policy)) => Some(Arc::new(
            crate::exec::sandbox::Prepared::new(policy.clone()).map_err(|e| setup_err(io::Error::other(format!("sandbox: {e}"))))?,
        )),
        Some(Sandbox::Prepared(prepared)) => Some(Arc::clone(prepared)),
        None => None,
    };
    let pipe_reader = route_output(&mut cmd, spec)?;
    Ok((cmd, pipe_reader, ruleset))
}

/// Spawn `cmd`, confined by the Landlock ruleset of its sandbox when there is one, and drop it
/// (it holds our copies of a capture pipe's write end, which must go for the reader to see end
/// of file).
///
/// Landlock confines a thread and what it starts, so the child is started from a thread that
/// has confined itself (`PR_SET_NO_NEW_PRIVS`, which Landlock requires, then
/// `landlock_restrict_self`): the sandbox's `Starter` (`starter.rs`), made on its first child and kept as long
/// as the sandbox is. A pre-exec hook in the child would do the same, but a hook makes the
/// standard library `fork` the whole process instead of `posix_spawn`ing (copying this process's
/// page tables on every check: about a millisecond each).
fn spawn_confined(mut cmd: Command, sandbox: Option<Arc<crate::exec::sandbox::Prepared>>) -> io::Result<Child> {
    match sandbox {
        Some(prepared) if prepared.mounts().is_some_and(crate::exec::mountns::MountPlan::per_child) => {
            // SAFETY: the hook only makes system calls on what the plan and the ruleset hold,
            // prepared before the fork; it allocates nothing.
            unsafe {
                cmd.pre_exec(move || {
                    if let Some(plan) = prepared.mounts() {
                        plan.enter()?;
                    }
                    match prepared.ruleset() {
                        Some(fd) => crate::exec::starter::confine_this_thread(fd),
                        None => Ok(()),
                    }
                });
            }
            cmd.spawn()
        }
        Some(prepared) if prepared.ruleset().is_some() || prepared.mounts().is_some() => prepared.starter()?.spawn(cmd),
        _ => cmd.spawn(),
    }
}

/// Route the child's stdout and stderr as the spec asks; when captured, the pipe's read end.
fn route_output(cmd: &mut Command, spec: &ProcessSpec) -> Result<Option<io::PipeReader>, ProcessError> {
    let program = spec.program_name();
    let setup_err = |source| ProcessError::Setup { program: program.clone(), cwd: spec.cwd.clone(), source };
    match &spec.output {
        OutputTarget::Capture { .. } => {
            // One pipe for both streams keeps stdout and stderr in arrival order.
            let (reader, writer) = io::pipe().map_err(setup_err)?;
            let writer2 = writer.try_clone().map_err(setup_err)?;
            cmd.stdout(writer).stderr(writer2);
            Ok(Some(reader))
        }
        OutputTarget::File(path) => {
            let log_err = |source| ProcessError::LogFile { program: program.clone(), path: path.clone(), source };
            let file = OpenOptions::new().create(true).append(true).open(path).map_err(log_err)?;
            let file2 = file.try_clone().map_err(log_err)?;
            cmd.stdout(file).stderr(file2);
            Ok(None)
        }
        OutputTarget::Null => {
            cmd.stdout(Stdio::null()).stderr(Stdio::null());
            Ok(None)
        }
    }
}

/// The program to exec: a bare name (`sh`, `git`) is looked up in `PATH` once per process and the
/// absolute path reused, so a check costs no `PATH` search. Only when the child would search the
/// same `PATH` as this process (its environment does not set another one); otherwise the name is
/// left to the OS.
fn resolved_program(spec: &ProcessSpec) -> OsString {
    let name = &spec.program;
    if name.as_encoded_bytes().contains(&b'/') || name.is_empty() {
        return name.clone();
    }
    let parent_path = std::env::var_os("PATH");
    let child_path = match &spec.env {
        EnvPolicy::Inherit(extra) => {
            extra.iter().rev().find(|(k, _)| k == "PATH").map(|(_, v)| Some(v.clone())).unwrap_or(parent_path.clone())
        }
        EnvPolicy::Clear(vars) => vars.iter().rev().find(|(k, _)| k == "PATH").map(|(_, v)| v.clone()),
    };
    if child_path.is_none() || child_path != parent_path {
        return name.clone();
    }
    static FOUND: Mutex<Vec<(OsString, OsString, PathBuf)>> = Mutex::new(Vec::new());
    let path = parent_path.unwrap_or_default();
    let mut found = lock(&FOUND);
    if let Some((_, _, p)) = found.iter().find(|(n, pa, _)| n == name && *pa == path) {
        return p.clone().into_os_string();
    }
    match search_path(name, &path) {
        Some(p) => {
            found.push((name.clone(), path, p.clone()));
            p.into_os_string()
        }
        None => name.clone(),
    }
}

/// What `execvp` would run for `name`: the first executable regular file in `path`'s entries.
/// `None` when an empty (current directory) entry or a relative entry comes first, or nothing is
/// found; the OS then does its own search and reports its own error.
fn search_path(name: &OsString, path: &OsString) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    for dir in std::env::split_paths(path) {
        if !dir.is_absolute() {
            return None;
        }
        let candidate = dir.join(name);
        if let Ok(meta) = std::fs::metadata(&candidate)
            && meta.is_file()
            && meta.permissions().mode() & 0o111 != 0
        {
            return Some(candidate);
        }
    }
    None
}

/// Runs `program args…` in the foreground and waits for it: the terminal's stdin, stdout and
/// stderr, git-lanes' own process group (so a pager or an editor can use the terminal and Ctrl-C
/// reaches it), the inherited environment plus `env`. For what the person at the terminal
/// drives — `git diff` through their pager, `$EDITOR` — never for workers or checks. Returns the
/// exit code (`None` when a signal ended it).
///
/// # Errors
/// When the working directory is missing or the program cannot be started.
pub fn run_foreground(program: &str, args: &[&str], cwd: &Path, env: &[(&str, &str)]) -> Result<Option<i32>, ProcessError> {
    if !cwd.is_dir() {
        return Err(ProcessError::MissingCwd { program: program.to_string(), cwd: cwd.to_path_buf() });
    }
    #[allow(clippy::disallowed_methods)] // this module is the one place that spawns
    let mut cmd = Command::new(program);
    cmd.args(args).current_dir(cwd).envs(env.iter().map(|(k, v)| (k, v)));
    let status = cmd.status().map_err(|source| ProcessError::Spawn { program: program.to_string(), cwd: cwd.to_path_buf(), source })?;
    Ok(status.code())
}

/// A started child and its process group.
///
/// Owned by one thread (it is `Send`). Only [`Running::wait`], [`Running::wait_timeout`] and
/// [`Running::finish`] enforce the spec's timeout, so a coordinator must call one of them
/// (or check [`Running::deadline`] itself). [`Running::try_wait`] never blocks and never kills.
///
/// Dropping a `Running` whose child has not ended SIGKILLs its group: a forgotten handle never
/// leaves an orphan worker behind.
#[derive(Debug)]
pub struct Running {
    pid: u32,
    started: Instant,
    timeout: Option<Duration>,
    grace: Duration,
    exit_rx: Receiver<EndedAt>,
    /// True once the leader is reaped; held while signalling the group (see module docs).
    reaped: Arc<Mutex<bool>>,
    ending: Option<Ending>,
    ended_at: Option<Instant>,
    capture: Option<CaptureHandle>,
}

#[derive(Debug)]
struct CaptureHandle {
    buf: Arc<Mutex<CaptureBuf>>,
    done_rx: Receiver<()>,
}

/// What the waiter thread reports: the ending and when the leader ended.
type EndedAt = (Ending, Instant);

impl Running {
    /// Hands a started child to a waiter thread (and its capture pipe, if any, to a reader
    /// thread).
    fn watch(
        child: Child,
        started: Instant,
        spec: &ProcessSpec,
        pipe_reader: Option<io::PipeReader>,
        on_exit: Option<ExitHook>,
    ) -> Result<Running, ProcessError> {
        let setup_err = |source| ProcessError::Setup { program: spec.program_name(), cwd: spec.cwd.clone(), source };
        let pid = child.id();
        let reaped = Arc::new(Mutex::new(false));
        let (exit_tx, exit_rx) = mpsc::channel();
        let waiter = {
            let reaped = Arc::clone(&reaped);
            move || {
                let msg = watch_child(child, &reaped);
                let _ = exit_tx.send(msg);
                if let Some(hook) = on_exit {
                    hook();
                }
            }
        };
        if let Err(source) = thread::Builder::new().name(format!("wait-{pid}")).spawn(waiter) {
            // The closure (and the Child in it) is gone; stop and reap the child by hand.
            kill_group(pid, libc::SIGKILL);
            reap_blocking(pid);
            return Err(setup_err(source));
        }

        let mut running = Running {
            pid,
            started,
            timeout: spec.timeout,
            grace: spec.grace,
            exit_rx,
            reaped,
            ending: None,
            ended_at: None,
            capture: None,
        };
        if let (Some(reader), OutputTarget::Capture { cap_each_end }) = (pipe_reader, &spec.output) {
            let buf = Arc::new(Mutex::new(CaptureBuf::new(*cap_each_end)));
            let (done_tx, done_rx) = mpsc::channel();
            let thread_buf = Arc::clone(&buf);
            let spawned = thread::Builder::new().name(format!("output-{pid}")).spawn(move || {
                read_into(reader, &thread_buf);
                let _ = done_tx.send(());
            });
            if let Err(source) = spawned {
                // Dropping `running` kills the group; its waiter thread reaps it.
                drop(running);
                return Err(setup_err(source));
            }
            running.capture = Some(CaptureHandle { buf, done_rx });
        }
        Ok(running)
    }

    /// The child's pid, which is also its process group id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// When the child was started.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// When the spec's timeout elapses, if it has one.
    pub fn deadline(&self) -> Option<Instant> {
        self.timeout.map(|t| self.started + t)
    }

    /// How the child ended, if it has; never blocks and never enforces the timeout.
    pub fn try_wait(&mut self) -> Option<Ending> {
        self.poll_exit(None)
    }

    /// Waits up to `limit` for the child to end.
    ///
    /// When the spec's timeout elapses within `limit`, the group is stopped (this may block a
    /// further `grace`) and [`Ending::TimedOut`] is returned. `None`: still running.
    pub fn wait_timeout(&mut self, limit: Duration) -> Option<Ending> {
        let until = Instant::now() + limit;
        match self.deadline() {
            Some(deadline) if deadline <= until => {
                if let Some(ending) = self.poll_until(deadline) {
                    return Some(ending);
                }
                Some(self.stop_for_timeout())
            }
            _ => self.poll_until(until),
        }
    }

    /// Waits until the child ends, stopping its group when the spec's timeout elapses.
    pub fn wait(&mut self) -> Ending {
        loop {
            if let Some(ending) = self.wait_timeout(Duration::from_secs(3600)) {
                return ending;
            }
        }
    }

    /// Stops the group now: SIGTERM, up to `grace` to exit, then SIGKILL; waits until reaped.
    ///
    /// Returns the ending (typically `Signaled(15)`, or `Exited` if the child handled SIGTERM).
    /// Does nothing but return the ending if the child has already ended.
    pub fn terminate(&mut self, grace: Duration) -> Ending {
        if let Some(ending) = self.try_wait() {
            return ending;
        }
        let _ = self.signal_group(libc::SIGTERM);
        if let Some(ending) = self.poll_exit(Some(grace)) {
            return ending;
        }
        let _ = self.signal_group(libc::SIGKILL);
        loop {
            if let Some(ending) = self.poll_exit(Some(Duration::from_secs(3600))) {
                return ending;
            }
        }
    }

    /// Sends `signal` (e.g. `libc::SIGINT`) to every process in the child's group.
    ///
    /// # Errors
    /// `ESRCH` once the group leader has been reaped (the group id may then be reused), or
    /// whatever kill(2) reports.
    pub fn signal_group(&self, signal: i32) -> io::Result<()> {
        let reaped = lock(&self.reaped);
        if *reaped {
            return Err(io::Error::from_raw_os_error(libc::ESRCH));
        }
        if kill_group(self.pid, signal) { Ok(()) } else { Err(io::Error::last_os_error()) }
    }

    /// Waits for the child (enforcing the timeout) and returns its ending, output and duration.
    ///
    /// Output is only non-empty for [`OutputTarget::Capture`].
    pub fn finish(mut self) -> Finished {
        let ending = self.wait();
        let duration = self.ended_at.map_or_else(|| self.started.elapsed(), |t| t - self.started);
        let output = self
            .capture
            .take()
            .map(|capture| {
                // Usually instant; bounded in case an escaped process still holds the pipe.
                let _ = capture.done_rx.recv_timeout(READER_GRACE);
                let mut buf = lock(&capture.buf);
                buf.abandoned = true;
                buf.to_captured()
            })
            .unwrap_or_default();
        Finished { ending, output, duration }
    }

    fn stop_for_timeout(&mut self) -> Ending {
        let grace = self.grace;
        self.terminate(grace);
        let ending = Ending::TimedOut { after: self.timeout.unwrap_or_default() };
        self.ending = Some(ending);
        ending
    }

    fn poll_until(&mut self, until: Instant) -> Option<Ending> {
        self.poll_exit(Some(until.saturating_duration_since(Instant::now())))
    }

    /// Takes the waiter's report if there is one, blocking up to `block`.
    fn poll_exit(&mut self, block: Option<Duration>) -> Option<Ending> {
        if self.ending.is_some() {
            return self.ending;
        }
        let received = match block {
            None => self.exit_rx.try_recv().map_err(|e| match e {
                mpsc::TryRecvError::Empty => RecvTimeoutError::Timeout,
                mpsc::TryRecvError::Disconnected => RecvTimeoutError::Disconnected,
            }),
            Some(d) => self.exit_rx.recv_timeout(d),
        };
        let (ending, at) = match received {
            Ok(exit) => exit,
            Err(RecvTimeoutError::Timeout) => return None,
            Err(RecvTimeoutError::Disconnected) => (Ending::Unknown, Instant::now()),
        };
        self.ending = Some(ending);
        self.ended_at = Some(at);
        self.ending
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.try_wait().is_none() {
            let _ = self.signal_group(libc::SIGKILL);
        }
        if let Some(capture) = &self.capture {
            lock(&capture.buf).abandoned = true;
        }
    }
}

/// The waiter thread: block until the leader exits, clean up its group, reap it.
fn watch_child(mut child: Child, reaped: &Mutex<bool>) -> EndedAt {
    let pid = child.id();
    let is_zombie = wait_exited_nowait(pid);
    let ended_at = Instant::now();
    let mut reaped = lock(reaped);
    if is_zombie {
        // The leader is a zombie, so its pgid cannot be reused: safe to kill what it left behind.
        kill_group(pid, libc::SIGKILL);
    }
    let ending = child.wait().map_or(Ending::Unknown, Ending::from_status);
    *reaped = true;
    (ending, ended_at)
}

/// Sends `signal` to process group `pgid`; false on error (ESRCH when the group is empty).
fn kill_group(pgid: u32, signal: i32) -> bool {
    let Ok(pgid) = libc::pid_t::try_from(pgid) else {
        return false;
    };
    // SAFETY: kill(2) has no memory-safety preconditions; a negative pid addresses a group.
    unsafe { libc::kill(-pgid, signal) == 0 }
}

/// Blocks until `pid` has exited, leaving it a zombie (not reaped); false if waitid failed.
fn wait_exited_nowait(pid: u32) -> bool {
    loop {
        // SAFETY: `info` is a valid, writable siginfo_t that waitid fills in; all-zero is a
        // valid bit pattern for this plain C struct.
        let rc = unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            libc::waitid(libc::P_PID, pid as libc::id_t, &mut info, libc::WEXITED | libc::WNOWAIT)
        };
        if rc == 0 {
            return true;
        }
        if io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            return false;
        }
    }
}

/// Reaps `pid` (only used when its `Child` handle was lost).
fn reap_blocking(pid: u32) {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    loop {
        let mut status = 0;
        // SAFETY: `status` is a valid, writable int.
        let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
        if rc != -1 || io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            return;
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Head and tail of a byte stream; memory stays within about `2 * cap` whatever arrives.
#[derive(Debug)]
struct CaptureBuf {
    cap: usize,
    head: Vec<u8>,
    tail: Vec<u8>,
    total: u64,
    /// Set when the owner stopped waiting; the reader thread then stops reading.
    abandoned: bool,
}

impl CaptureBuf {
    fn new(cap: usize) -> Self {
        CaptureBuf { cap, head: Vec::new(), tail: Vec::new(), total: 0, abandoned: false }
    }

    fn push(&mut self, mut data: &[u8]) {
        self.total += data.len() as u64;
        let room = self.cap - self.head.len();
        if room > 0 {
            let n = room.min(data.len());
            self.head.extend_from_slice(&data[..n]);
            data = &data[n..];
        }
        if data.len() >= self.cap {
            self.tail.clear();
            self.tail.extend_from_slice(&data[data.len() - self.cap..]);
        } else {
            self.tail.extend_from_slice(data);
            if self.tail.len() > self.cap {
                let excess = self.tail.len() - self.cap;
                self.tail.drain(..excess);
            }
        }
    }

    fn to_captured(&self) -> Captured {
        let dropped_bytes = self.total - (self.head.len() + self.tail.len()) as u64;
        let mut text = String::from_utf8_lossy(&self.head).into_owned();
        if dropped_bytes > 0 {
            let _ = write!(text, "\n… [{dropped_bytes} bytes dropped] …\n");
        }
        text.push_str(&String::from_utf8_lossy(&self.tail));
        Captured { text, dropped_bytes }
    }
}

/// The reader thread: drain the pipe into `buf` until end of file or until abandoned.
fn read_into(mut reader: impl Read, buf: &Mutex<CaptureBuf>) {
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        match reader.read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => {
                let mut buf = lock(buf);
                if buf.abandoned {
                    return;
                }
                buf.push(&chunk[..n]);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

/// Blocking runs without helper threads (Linux): the calling thread waits in one `poll(2)` on
/// the capture pipe and a pidfd of the child, so a check costs no reader or waiter thread.
///
/// The same rules as the threaded path hold: the group is signalled only while its leader is
/// unreaped (here trivially, since this thread alone reaps it), leftovers in the group are
/// SIGKILLed when the leader exits, and an escaped process holding the pipe is given
/// [`READER_GRACE`] after the leader is reaped, then abandoned.
#[cfg(target_os = "linux")]
mod inline {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

    use super::*;

    pub(super) fn run(spec: &ProcessSpec) -> Result<Finished, ProcessError> {
        let program = spec.program_name();
        let (cmd, pipe, ruleset) = command(spec)?;
        let child = spawn_confined(cmd, ruleset).map_err(|source| ProcessError::Spawn {
            program: program.clone(),
            cwd: spec.cwd.clone(),
            source,
        })?;
        let started = Instant::now();
        let Some(pidfd) = pidfd_open(child.id()) else {
            // Kernel without pidfds (before 5.3): the threaded path, for this child.
            return Ok(Running::watch(child, started, spec, pipe, None)?.finish());
        };
        let mut run = Inline::new(spec, child, started, pipe);
        while run.leader.is_none() || run.pipe.is_some() {
            let now = Instant::now();
            let wake = run.next_wake();
            if let Some(w) = wake
                && w <= now
            {
                run.on_wake(now);
                continue;
            }
            run.poll_once(&pidfd, wake, now);
        }
        Ok(run.finished())
    }

    /// One inline run between two polls: the child, its capture, and how far its ending went.
    struct Inline<'s> {
        spec: &'s ProcessSpec,
        child: Child,
        pid: u32,
        started: Instant,
        pipe: Option<io::PipeReader>,
        buf: CaptureBuf,
        chunk: Vec<u8>,
        deadline: Option<Instant>,
        timed_out: bool,
        /// When the group gets SIGKILL after SIGTERM (timeout).
        kill_at: Option<Instant>,
        /// How the leader ended and when, once it is reaped.
        leader: Option<(Ending, Instant)>,
    }

    impl<'s> Inline<'s> {
        fn new(spec: &'s ProcessSpec, child: Child, started: Instant, pipe: Option<io::PipeReader>) -> Inline<'s> {
            let cap = match spec.output {
                OutputTarget::Capture { cap_each_end } => cap_each_end,
                _ => 0,
            };
            Inline {
                spec,
                pid: child.id(),
                child,
                started,
                chunk: vec![0u8; if pipe.is_some() { 64 * 1024 } else { 0 }],
                pipe,
                buf: CaptureBuf::new(cap),
                deadline: spec.timeout.map(|t| started + t),
                timed_out: false,
                kill_at: None,
                leader: None,
            }
        }

        /// When the next timer is due: the reader's grace once the leader is reaped, else the
        /// SIGKILL after a timeout's SIGTERM, else the timeout.
        fn next_wake(&self) -> Option<Instant> {
            match self.leader {
                Some((_, ended)) => Some(ended + READER_GRACE),
                None => self.kill_at.or(if self.timed_out { None } else { self.deadline }),
            }
        }

        /// A timer came due: stop waiting for an escaped process holding the pipe, or end the
        /// group (SIGTERM at the timeout, SIGKILL after the grace).
        fn on_wake(&mut self, now: Instant) {
            if self.leader.is_some() {
                // Only an escaped process can hold the pipe this long: take what we have.
                self.pipe = None;
            } else if self.timed_out {
                kill_group(self.pid, libc::SIGKILL);
                self.kill_at = None;
            } else {
                self.timed_out = true;
                kill_group(self.pid, libc::SIGTERM);
                self.kill_at = Some(now + self.spec.grace);
            }
        }

        /// Wait in one poll(2) on the pipe and the pidfd until `wake`, then read what arrived and
        /// reap a leader that exited.
        fn poll_once(&mut self, pidfd: &OwnedFd, wake: Option<Instant>, now: Instant) {
            let mut fds = Vec::with_capacity(2);
            if let Some(p) = &self.pipe {
                fds.push(libc::pollfd { fd: p.as_raw_fd(), events: libc::POLLIN, revents: 0 });
            }
            if self.leader.is_none() {
                fds.push(libc::pollfd { fd: pidfd.as_raw_fd(), events: libc::POLLIN, revents: 0 });
            }
            let timeout_ms = wake.map_or(-1, |w| {
                let d = w.saturating_duration_since(now);
                // Round up so a wake-up never comes early and spins.
                i32::try_from(d.as_millis() + 1).unwrap_or(i32::MAX)
            });
            // SAFETY: `fds` is a valid, writable array of `fds.len()` pollfd structs.
            let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
            if rc < 0 {
                if io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                    // poll itself failed (should not happen): fall back to blocking steps.
                    drain_blocking(self.pipe.take(), &mut self.buf, &mut self.chunk);
                    self.leader = Some(reap(&mut self.child, self.pid));
                }
                return;
            }
            for fd in fds.iter().filter(|fd| fd.revents != 0) {
                if fd.fd == pidfd.as_raw_fd() {
                    self.leader = Some(reap(&mut self.child, self.pid));
                } else {
                    self.read_pipe();
                }
            }
        }

        /// Read one chunk of the capture pipe; end of file (or an error) closes it.
        fn read_pipe(&mut self) {
            let Some(p) = self.pipe.as_mut() else { return };
            match p.read(&mut self.chunk) {
                Ok(0) => self.pipe = None,
                Ok(n) => self.buf.push(&self.chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => self.pipe = None,
            }
        }

        /// How the run ended, with what was captured.
        fn finished(self) -> Finished {
            let (mut ending, ended_at) = self.leader.unwrap_or((Ending::Unknown, Instant::now()));
            if self.timed_out {
                ending = Ending::TimedOut { after: self.spec.timeout.unwrap_or_default() };
            }
            let output =
                if matches!(self.spec.output, OutputTarget::Capture { .. }) { self.buf.to_captured() } else { Captured::default() };
            Finished { ending, output, duration: ended_at - self.started }
        }
    }

    /// The leader has exited: kill what it left in its group while its zombie pins the pgid,
    /// then reap it.
    fn reap(child: &mut Child, pid: u32) -> (Ending, Instant) {
        let is_zombie = wait_exited_nowait(pid);
        let ended_at = Instant::now();
        if is_zombie {
            kill_group(pid, libc::SIGKILL);
        }
        (child.wait().map_or(Ending::Unknown, Ending::from_status), ended_at)
    }

    fn drain_blocking(pipe: Option<io::PipeReader>, buf: &mut CaptureBuf, chunk: &mut [u8]) {
        let Some(mut p) = pipe else { return };
        loop {
            match p.read(chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.push(&chunk[..n]),
            }
        }
    }

    fn pidfd_open(pid: u32) -> Option<OwnedFd> {
        let pid = libc::pid_t::try_from(pid).ok()?;
        // SAFETY: pidfd_open(2) takes a pid and flags and returns a new descriptor or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        let fd = i32::try_from(fd).ok().filter(|fd| *fd >= 0)?;
        // SAFETY: `fd` was just returned by the kernel and is owned by nobody else.
        Some(unsafe { OwnedFd::from_raw_fd(fd) })
    }
}

/// Whether a process (a worker of an earlier orchestrator) still runs. A zombie does not: once its parent
/// (the killed orchestrator) is gone it waits only for init to reap it, which may take a while.
#[allow(unsafe_code)]
pub fn pid_alive(pid: u32) -> bool {
    // SAFETY: kill with signal 0 only checks that the process exists.
    if unsafe { libc::kill(pid as i32, 0) } != 0 {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // `pid (comm) STATE …`: comm may hold spaces and parentheses, so read after the last ')'.
        Ok(stat) => !matches!(stat.rsplit(')').next().and_then(|s| s.split_whitespace().next()), Some("Z" | "X")),
        Err(_) => true,
    }
}

/// The live process-group leaders whose environment holds every `NAME=value` of `vars` (Linux
/// `/proc`; elsewhere none). A worker started by an orchestrator killed before it recorded the
/// worker's pid is found this way (workers lead their own group and carry `LANES_RUN_ID` and
/// `LANES_LANE`); the worker's own children share its environment but not its group.
pub fn group_leaders_with_env(vars: &[(&str, &str)]) -> Vec<u32> {
    let wanted: Vec<Vec<u8>> = vars.iter().map(|(k, v)| format!("{k}={v}").into_bytes()).collect();
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        // `pid (comm) STATE PPID PGRP …`, read after the last ')'.
        let mut fields = stat.rsplit(')').next().unwrap_or("").split_whitespace();
        let (state, pgrp) = (fields.next(), fields.nth(1).and_then(|g| g.parse::<u32>().ok()));
        if pgrp != Some(pid) || matches!(state, Some("Z" | "X")) {
            continue;
        }
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else { continue };
        if wanted.iter().all(|w| environ.split(|b| *b == 0).any(|kv| kv == w.as_slice())) {
            out.push(pid);
        }
    }
    out
}

/// A process found by [`processes_with_env`] or [`adopted_orphans`]: its pid and command name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundProcess {
    pub pid: u32,
    pub name: String,
}

impl std::fmt::Display for FoundProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.pid, self.name)
    }
}

/// `/proc/<pid>/stat` read: command name, state, parent pid.
fn stat_of(pid: u32) -> Option<(String, String, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat.get(open + 1..close)?.to_string();
    let mut rest = stat.get(close + 1..)?.split_whitespace();
    let state = rest.next()?.to_string();
    let ppid = rest.next()?.parse().ok()?;
    Some((name, state, ppid))
}

fn live_pids() -> impl Iterator<Item = (u32, String, u32)> {
    std::fs::read_dir("/proc").into_iter().flatten().flatten().filter_map(|e| {
        let pid = e.file_name().to_str()?.parse::<u32>().ok()?;
        let (name, state, ppid) = stat_of(pid)?;
        (!matches!(state.as_str(), "Z" | "X")).then_some((pid, name, ppid))
    })
}

/// Every live process (not only group leaders) whose environment holds every `NAME=value` of
/// `vars`: what a worker started keeps its `LANES_RUN_ID` and `LANES_LANE`, also after `setsid`,
/// a double fork or `nohup`. Linux `/proc`; elsewhere none.
pub fn processes_with_env(vars: &[(&str, &str)]) -> Vec<FoundProcess> {
    let wanted: Vec<Vec<u8>> = vars.iter().map(|(k, v)| format!("{k}={v}").into_bytes()).collect();
    let me = std::process::id();
    live_pids()
        .filter(|(pid, _, _)| *pid != me)
        .filter(|(pid, _, _)| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| wanted.iter().all(|w| env.split(|b| *b == 0).any(|kv| kv == w.as_slice())))
        })
        .map(|(pid, name, _)| FoundProcess { pid, name })
        .collect()
}

/// Make this process the reaper of its orphaned descendants (Linux `PR_SET_CHILD_SUBREAPER`): a
/// process a worker detached from (a double fork, `setsid`, even with its environment cleared)
/// is re-parented to git-lanes instead of init, so [`adopted_orphans`] finds it. Whether it
/// took.
#[allow(unsafe_code)]
pub fn become_subreaper() -> bool {
    // SAFETY: prctl with an integer option and flag; no memory is passed.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0 }
}

/// This process's live children that are not in `known`: after every worker and check has
/// ended, what is left is what they left behind (see [`become_subreaper`]).
pub fn adopted_orphans(known: &[u32]) -> Vec<FoundProcess> {
    let me = std::process::id();
    live_pids().filter(|(pid, _, ppid)| *ppid == me && !known.contains(pid)).map(|(pid, name, _)| FoundProcess { pid, name }).collect()
}

/// End `found`: SIGTERM, then SIGKILL to those still there after `grace`; an adopted orphan
/// (our child now) is reaped, by its own pid only.
#[allow(unsafe_code)]
pub fn end_processes(found: &[FoundProcess], grace: Duration) {
    let me = std::process::id();
    for f in found {
        // SAFETY: signals a process found by pid; a pid that is gone is an ESRCH.
        unsafe { libc::kill(f.pid as i32, libc::SIGTERM) };
    }
    let until = Instant::now() + grace;
    while Instant::now() < until && found.iter().any(|f| stat_of(f.pid).is_some_and(|(_, st, _)| st != "Z" && st != "X")) {
        thread::sleep(Duration::from_millis(20));
    }
    for f in found {
        let Some((_, state, ppid)) = stat_of(f.pid) else { continue };
        if state != "Z" {
            // SAFETY: as above.
            unsafe { libc::kill(f.pid as i32, libc::SIGKILL) };
        }
        if ppid == me {
            let mut status = 0;
            // SAFETY: reaps one adopted orphan by its pid (never a child a `Running` owns: those
            // are never in `found`); blocks at most until the SIGKILL lands.
            unsafe { libc::waitpid(f.pid as i32, &mut status, 0) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::disallowed_methods)] // the test starts its own process group
    fn a_group_leader_is_found_by_its_environment_and_its_children_are_not() {
        let mut cmd = std::process::Command::new("sh");
        let cmd = cmd.args(["-c", "sleep 30 & wait"]).env("LANES_TEST_FIND", "leader-7").process_group(0);
        let mut child = cmd.spawn().unwrap();
        let pid = child.id();
        let mut found = Vec::new();
        for _ in 0..100 {
            found = group_leaders_with_env(&[("LANES_TEST_FIND", "leader-7")]);
            if !found.is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // SAFETY: ends the test's own process group.
        #[allow(unsafe_code)]
        unsafe {
            libc::kill(-(pid as i32), libc::SIGKILL);
        }
        let _ = child.wait();
        assert_eq!(found, [pid]);
        assert!(group_leaders_with_env(&[("LANES_TEST_FIND", "someone-else")]).is_empty());
    }
    use std::fs;

    fn tmpdir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("lanes-process-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn sh(cmd: &str) -> ProcessSpec {
        ProcessSpec::shell(cmd, &std::env::temp_dir())
    }

    /// Whether `pid` is gone (no such process, or a zombie awaiting its new parent's reap).
    fn gone(pid: i32) -> bool {
        match fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => true,
            Ok(stat) => {
                let state = stat.rsplit(')').next().unwrap_or("").trim_start();
                state.starts_with('Z') || state.starts_with('X')
            }
        }
    }

    fn wait_gone(pid: i32, within: Duration) -> bool {
        let until = Instant::now() + within;
        while Instant::now() < until {
            if gone(pid) {
                return true;
            }
            thread::sleep(Duration::from_millis(20));
        }
        gone(pid)
    }

    fn read_pid(path: &Path) -> i32 {
        let until = Instant::now() + Duration::from_secs(5);
        loop {
            if let Ok(s) = fs::read_to_string(path)
                && let Ok(pid) = s.trim().parse()
            {
                return pid;
            }
            assert!(Instant::now() < until, "no pid written to {}", path.display());
            thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn spawn_notifying_says_when_the_child_exits_and_its_ending_is_there() {
        let (tx, rx) = mpsc::channel();
        let mut child = spawn_notifying(&sh("sleep 0.2; exit 4"), move || {
            let _ = tx.send(());
        })
        .unwrap();
        assert!(rx.try_recv().is_err(), "no word before the child ends");
        rx.recv_timeout(Duration::from_secs(10)).unwrap();
        // The hook runs once the ending is reported: no wait, no poll.
        assert_eq!(child.try_wait(), Some(Ending::Exited(4)));
    }

    #[test]
    fn exit_code_and_interleaved_output_are_captured() {
        let done = run(&sh("echo out; echo err >&2; echo out2; exit 3")).unwrap();
        assert_eq!(done.ending, Ending::Exited(3));
        assert_eq!(done.output.text, "out\nerr\nout2\n");
        assert_eq!(done.output.dropped_bytes, 0);
        assert_eq!(done.ending.to_string(), "exit 3");
        let ok = run(&sh("true")).unwrap();
        assert!(ok.ending.success());
    }

    #[test]
    fn signal_ending_is_recorded() {
        let done = run(&sh("kill -9 $$")).unwrap();
        assert_eq!(done.ending, Ending::Signaled(9));
        assert_eq!(done.ending.to_string(), "killed by signal 9");
    }

    #[test]
    fn stdin_is_null() {
        let done = run(&sh("cat; echo end")).unwrap();
        assert_eq!(done.output.text, "end\n");
    }

    #[test]
    fn stdin_can_be_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.json");
        fs::write(&input, "{\"a\":1}\n").unwrap();
        let done = run(&sh("cat; echo end").with_stdin_file(&input)).unwrap();
        assert_eq!(done.output.text, "{\"a\":1}\nend\n");
    }

    #[test]
    fn huge_output_keeps_head_and_tail_only() {
        let spec = sh("printf 'START'; head -c 400000000 /dev/zero | tr '\\0' a; printf 'END'");
        let done = run(&spec).unwrap();
        assert!(done.ending.success());
        let total: u64 = 400_000_000 + 8;
        let kept = 2 * DEFAULT_CAP_EACH_END as u64;
        assert_eq!(done.output.dropped_bytes, total - kept);
        let marker = format!("\n… [{} bytes dropped] …\n", total - kept);
        assert_eq!(done.output.text.len(), kept as usize + marker.len());
        assert!(done.output.text.starts_with("STARTaaa"));
        assert!(done.output.text.ends_with("aaaEND"));
        assert!(done.output.text.contains(&marker));
        // Memory stayed bounded: the whole test binary (other tests run beside this one in it)
        // never came near the 400 MB printed.
        let status = fs::read_to_string("/proc/self/status").unwrap();
        let hwm_kb: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap();
        assert!(hwm_kb < 250 * 1024, "peak RSS {hwm_kb} kB");
    }

    #[test]
    fn small_cap_truncates_exactly() {
        let spec = sh("printf 0123456789").with_output(OutputTarget::Capture { cap_each_end: 3 });
        let done = run(&spec).unwrap();
        assert_eq!(done.output.dropped_bytes, 4);
        assert_eq!(done.output.text, "012\n… [4 bytes dropped] …\n789");
    }

    #[test]
    fn timeout_kills_the_whole_group() {
        let dir = tmpdir("timeout");
        let pidfile = dir.join("bg.pid");
        let script = format!("sleep 100 & echo $! > '{}'; sleep 100", pidfile.display());
        let spec = ProcessSpec::shell(&script, &dir).with_timeout(Duration::from_millis(300)).with_grace(Duration::from_millis(200));
        let t0 = Instant::now();
        let done = run(&spec).unwrap();
        let took = t0.elapsed();
        assert_eq!(done.ending, Ending::TimedOut { after: Duration::from_millis(300) });
        assert_eq!(done.ending.to_string(), "timed out after 300ms");
        assert!(took >= Duration::from_millis(300), "{took:?}");
        assert!(took < Duration::from_millis(1500), "{took:?}");
        let bg = read_pid(&pidfile);
        assert!(wait_gone(bg, Duration::from_millis(500)), "grandchild {bg} survived");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn sigterm_ignored_means_sigkill_after_grace() {
        let spec = sh("trap '' TERM; sleep 100").with_timeout(Duration::from_millis(200)).with_grace(Duration::from_millis(300));
        let t0 = Instant::now();
        let done = run(&spec).unwrap();
        let took = t0.elapsed();
        assert!(matches!(done.ending, Ending::TimedOut { .. }));
        assert!(took >= Duration::from_millis(500), "{took:?}");
        assert!(took < Duration::from_millis(2000), "{took:?}");
    }

    #[test]
    fn leftover_background_jobs_are_killed_when_leader_exits() {
        let dir = tmpdir("leftover");
        let pidfile = dir.join("bg.pid");
        let script = format!("sleep 100 & echo $! > '{}'; echo done", pidfile.display());
        let t0 = Instant::now();
        let done = run(&ProcessSpec::shell(&script, &dir)).unwrap();
        assert!(done.ending.success());
        assert_eq!(done.output.text, "done\n");
        assert!(t0.elapsed() < Duration::from_secs(1));
        let bg = read_pid(&pidfile);
        assert!(wait_gone(bg, Duration::from_millis(500)), "background job {bg} survived");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn escaped_grandchild_holding_the_pipe_does_not_hang_run() {
        let spec = sh("setsid sleep 10 & echo $!");
        let t0 = Instant::now();
        let done = run(&spec).unwrap();
        // Bounded by the reader grace, not by the escaped process's 10 s.
        assert!(t0.elapsed() < READER_GRACE + Duration::from_secs(2), "{:?}", t0.elapsed());
        assert!(done.ending.success());
        let pid: i32 = done.output.text.trim().parse().unwrap();
        // SAFETY: plain kill(2) of the process this test started.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }

    #[test]
    fn clear_env_hides_parent_secrets() {
        let parent = vec![
            (OsString::from("PATH"), OsString::from("/usr/bin:/bin")),
            (OsString::from("GITHUB_TOKEN"), OsString::from("x")),
            (OsString::from("AWS_SECRET_ACCESS_KEY"), OsString::from("y")),
            (OsString::from("LANES_LANE"), OsString::from("E")),
            (OsString::from("EXTRA_OK"), OsString::from("z")),
        ];
        let vars = scrub(parent.into_iter(), &["EXTRA_OK".to_string()]);
        let names: Vec<_> = vars.iter().map(|(k, _)| k.to_str().unwrap()).collect();
        assert_eq!(names, ["PATH", "LANES_LANE", "EXTRA_OK"]);

        let spec = sh("echo \"[${GITHUB_TOKEN-unset}] [$LANES_LANE] [$EXTRA_OK]\"").with_env(EnvPolicy::Clear(vars));
        let done = run(&spec).unwrap();
        assert_eq!(done.output.text, "[unset] [E] [z]\n");
    }

    #[test]
    fn scrubbed_env_of_this_process_keeps_only_allowed_names() {
        for (name, _) in scrubbed_env(&[]) {
            let name = name.to_str().unwrap().to_string();
            assert!(SCRUB_KEEP.contains(&name.as_str()) || name.starts_with("LANES_"), "{name}");
        }
    }

    #[test]
    fn inherit_env_adds_vars() {
        let spec = sh("echo $LANES_RUN_ID").with_env(EnvPolicy::Inherit(vec![("LANES_RUN_ID".into(), "r1".into())]));
        assert_eq!(run(&spec).unwrap().output.text, "r1\n");
    }

    #[test]
    fn non_utf8_output_is_kept_lossily() {
        let done = run(&sh("printf 'a\\377\\376b'")).unwrap();
        assert_eq!(done.output.text, "a\u{FFFD}\u{FFFD}b");
    }

    #[test]
    fn spawned_worker_can_be_terminated() {
        let dir = tmpdir("worker");
        let log = dir.join("worker.log");
        let spec = ProcessSpec::shell("echo started; exec sleep 100", &dir).with_output(OutputTarget::File(log.clone()));
        let mut worker = spawn(&spec).unwrap();
        assert!(worker.pid() > 0);
        assert_eq!(worker.try_wait(), None);
        assert_eq!(worker.wait_timeout(Duration::from_millis(100)), None);
        let ending = worker.terminate(Duration::from_secs(2));
        assert_eq!(ending, Ending::Signaled(libc::SIGTERM));
        assert_eq!(worker.try_wait(), Some(ending));
        assert!(worker.signal_group(libc::SIGTERM).is_err());
        assert!(gone(worker.pid() as i32));
        assert_eq!(fs::read_to_string(&log).unwrap(), "started\n");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn log_file_is_appended_with_both_streams() {
        let dir = tmpdir("log");
        let log = dir.join("lane.log");
        fs::write(&log, "before\n").unwrap();
        let spec = ProcessSpec::shell("echo out; echo err >&2", &dir).with_output(OutputTarget::File(log.clone()));
        let done = run(&spec).unwrap();
        assert!(done.ending.success());
        assert_eq!(done.output, Captured::default());
        assert_eq!(fs::read_to_string(&log).unwrap(), "before\nout\nerr\n");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn spawned_worker_times_out_in_wait() {
        let spec = sh("sleep 100").with_timeout(Duration::from_millis(100));
        let mut worker = spawn(&spec).unwrap();
        assert!(worker.deadline().is_some());
        let ending = worker.wait();
        assert!(matches!(ending, Ending::TimedOut { .. }));
        assert_eq!(worker.try_wait(), Some(ending));
    }

    #[test]
    fn dropping_a_running_child_kills_its_group() {
        let worker = spawn(&sh("sleep 100")).unwrap();
        let pid = worker.pid() as i32;
        drop(worker);
        assert!(wait_gone(pid, Duration::from_secs(1)));
    }

    #[test]
    fn running_is_send() {
        fn assert_send<T: Send>() {}
        assert_send::<Running>();
    }

    #[test]
    fn missing_program_is_an_error() {
        let spec = ProcessSpec::new("no-such-program-lanes", Vec::<OsString>::new(), "/");
        let err = spawn(&spec).unwrap_err();
        assert!(matches!(err, ProcessError::Spawn { .. }));
        let msg = err.to_string();
        assert!(msg.starts_with("could not start `no-such-program-lanes` in /: No such file"), "{msg}");
    }

    #[test]
    fn missing_cwd_is_an_error() {
        let err = run(&ProcessSpec::shell("true", Path::new("/no/such/dir"))).unwrap_err();
        assert_eq!(err.to_string(), "could not start `sh`: working directory /no/such/dir does not exist");
    }

    #[test]
    fn bare_program_names_are_resolved_once_against_the_same_path() {
        let spec = sh("true");
        let resolved = PathBuf::from(resolved_program(&spec));
        assert!(resolved.is_absolute() && resolved.ends_with("sh"), "{}", resolved.display());
        assert_eq!(PathBuf::from(resolved_program(&spec)), resolved, "second lookup answers the same");
        // A child with its own PATH searches it itself.
        let own = sh("true").with_env(EnvPolicy::Inherit(vec![("PATH".into(), "/nowhere".into())]));
        assert_eq!(resolved_program(&own), "sh");
        let none = sh("true").with_env(EnvPolicy::Clear(vec![]));
        assert_eq!(resolved_program(&none), "sh");
        let same = sh("true").with_env(EnvPolicy::Clear(scrubbed_env(&[])));
        assert_eq!(PathBuf::from(resolved_program(&same)), resolved);
        assert_eq!(resolved_program(&ProcessSpec::new("/bin/echo", ["x"], std::env::temp_dir())), "/bin/echo");
        // A relative or empty PATH entry first: left to the OS, which searches the current dir.
        assert_eq!(search_path(&"sh".into(), &"rel:/bin:/usr/bin".into()), None);
        assert_eq!(search_path(&"sh".into(), &":/bin:/usr/bin".into()), None);
        assert_eq!(search_path(&"no-such-program-here".into(), &"/bin:/usr/bin".into()), None);
    }

    #[test]
    fn resolved_programs_keep_their_typed_name_as_argv0() {
        let done = run(&sh("echo $0")).unwrap();
        assert_eq!(done.output.text, "sh\n");
        let done =
            run(&ProcessSpec::new("sh", ["-c", "echo $0"], std::env::temp_dir()).with_env(EnvPolicy::Clear(scrubbed_env(&[])))).unwrap();
        assert_eq!(done.output.text, "sh\n");
    }

    #[test]
    fn blocking_run_times_out_with_output_and_file_targets() {
        let dir = tmpdir("inline-timeout");
        let log = dir.join("log");
        let spec = sh("echo before; sleep 30").with_timeout(Duration::from_millis(200)).with_output(OutputTarget::File(log.clone()));
        let done = run(&spec).unwrap();
        assert_eq!(done.ending, Ending::TimedOut { after: Duration::from_millis(200) });
        assert_eq!(fs::read_to_string(&log).unwrap(), "before\n");
        let done = run(&sh("echo kept; sleep 30").with_timeout(Duration::from_millis(200))).unwrap();
        assert!(matches!(done.ending, Ending::TimedOut { .. }));
        assert_eq!(done.output.text, "kept\n");
        let done = run(&sh("echo gone").with_output(OutputTarget::Null)).unwrap();
        assert!(done.ending.success());
        assert_eq!(done.output, Captured::default());
    }

    #[test]
    fn durations_display_humanly() {
        assert_eq!(human_duration(Duration::from_secs(30)), "30s");
        assert_eq!(human_duration(Duration::from_millis(1500)), "1.5s");
    }

    #[test]
    fn a_sandboxed_child_writes_only_where_allowed() {
        if !crate::exec::sandbox::status().is_enforced() {
            return;
        }
        let tree = tempfile::tempdir().unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let cmd = format!(
            "echo x > {0}/inside; echo y > {1}/escaped; echo z > {2}/t; true",
            tree.path().display(),
            outside.path().display(),
            tmp.path().display()
        );
        let spec = ProcessSpec::shell(&cmd, tree.path());
        run(&spec.clone().with_sandbox(crate::exec::sandbox::Policy::for_check(tree.path(), tmp.path()))).unwrap();
        assert!(tree.path().join("inside").exists());
        assert!(tmp.path().join("t").exists());
        assert!(!outside.path().join("escaped").exists(), "the sandbox let a write out");
        run(&spec).unwrap();
        assert!(outside.path().join("escaped").exists(), "without a sandbox the same write works");
    }
}
