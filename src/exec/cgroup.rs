//! A cgroup per lane, where the kernel lets git-lanes make one (cgroup v2, the unified hierarchy
//! mounted and git-lanes' own cgroup writable, as for root or a delegated service): every
//! process a worker starts stays in its lane's cgroup whatever it detaches from (`setsid`, a
//! double fork, a cleared environment), and is ended with it ([`LaneGroup::end`]). Elsewhere
//! (cgroup v1 only, no delegation) callers fall back on the lane's environment mark and the
//! subreaper (see `process::processes_with_env`).
//!
//! The worker is moved in by itself: it is started as `sh -c 'echo $$ > <cgroup.procs>; exec
//! <worker>'`, so it is in the cgroup before it runs a single instruction of its own (moving it
//! from the parent after the spawn would race its first fork). A sandboxed worker may write that
//! one file, which can only move a process into the lane's cgroup, never out of it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::exec::process::FoundProcess;

/// A lane's cgroup.
#[derive(Debug)]
pub struct LaneGroup {
    dir: PathBuf,
}

/// Where the cgroup v2 hierarchy is mounted (`/sys/fs/cgroup` or, in a hybrid set-up,
/// `/sys/fs/cgroup/unified`), from `/proc/self/mountinfo`.
fn cgroup2_mount() -> Option<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    info.lines().find_map(|l| {
        // `… mount-point options - fstype source super-options`
        let (left, right) = l.split_once(" - ")?;
        if right.split_whitespace().next()? != "cgroup2" {
            return None;
        }
        left.split_whitespace().nth(4).map(PathBuf::from)
    })
}

/// This process's cgroup v2 path (`0::/path` in `/proc/self/cgroup`).
fn own_cgroup() -> Option<String> {
    let text = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    text.lines().find_map(|l| l.strip_prefix("0::").map(str::to_string))
}

/// Remove the empty lane cgroups (`git-lanes-<pid>-…`) of git-lanes processes that are gone
/// (killed before they could remove their own).
pub fn remove_stale() {
    let (Some(mount), Some(own)) = (cgroup2_mount(), own_cgroup()) else { return };
    let parent = mount.join(own.trim_start_matches('/'));
    for e in std::fs::read_dir(&parent).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix("git-lanes-").and_then(|r| r.split('-').next()).and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if !crate::exec::process::pid_alive(pid) {
            // Fails, and so keeps it, while processes are still in it.
            let _ = std::fs::remove_dir(e.path());
        }
    }
}

impl LaneGroup {
    /// Make the cgroup `name` beneath git-lanes' own; `None` where the kernel or the
    /// permissions do not allow it, or `LANES_CGROUP=off` (to try the fallback).
    pub fn create(name: &str) -> Option<LaneGroup> {
        if std::env::var_os("LANES_CGROUP").is_some_and(|v| v == "off") {
            return None;
        }
        let mount = cgroup2_mount()?;
        let own = own_cgroup()?;
        let dir = mount.join(own.trim_start_matches('/')).join(name);
        match std::fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(_) => return None,
        }
        let group = LaneGroup { dir };
        // Usable only if a process can be put in it (not every cgroup2 folder that can be made
        // can take processes).
        if !group.procs().exists() {
            group.remove();
            return None;
        }
        Some(group)
    }

    /// The file a process writes its pid to to join the cgroup.
    pub fn procs(&self) -> PathBuf {
        self.dir.join("cgroup.procs")
    }

    /// The command line that starts `argv` inside the cgroup (see the module note): the worker
    /// keeps its pid, and starts even if joining failed.
    pub fn wrap(&self, argv: &[&str]) -> Vec<String> {
        let mut out = vec![
            "/bin/sh".to_string(),
            "-c".to_string(),
            r#"echo $$ > "$0" 2>/dev/null; exec "$@""#.to_string(),
            self.procs().display().to_string(),
        ];
        out.extend(argv.iter().map(|a| a.to_string()));
        out
    }

    fn members(&self) -> Vec<u32> {
        std::fs::read_to_string(self.procs()).unwrap_or_default().lines().filter_map(|l| l.trim().parse().ok()).collect()
    }

    /// End every process still in the cgroup and remove it; the processes found, named.
    pub fn end(&self) -> Vec<FoundProcess> {
        let found: Vec<FoundProcess> =
            self.members().into_iter().map(|pid| FoundProcess { pid, name: comm(pid).unwrap_or_else(|| "?".into()) }).collect();
        if !found.is_empty() {
            let killed = std::fs::write(self.dir.join("cgroup.kill"), "1").is_ok();
            if !killed {
                crate::exec::process::end_processes(&found, Duration::ZERO);
            }
            let until = Instant::now() + Duration::from_secs(2);
            while !self.members().is_empty() && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(10));
            }
            // Orphans adopted by git-lanes (its subreaper) are reaped, by pid.
            crate::exec::process::end_processes(&found, Duration::ZERO);
        }
        self.remove();
        found
    }

    fn remove(&self) {
        let _ = std::fs::remove_dir(&self.dir);
    }

    /// The cgroup's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for LaneGroup {
    /// An empty cgroup is removed; one with processes in it (a run that stopped on an error
    /// while workers ran, for `run --resume` to follow) is left as it is.
    fn drop(&mut self) {
        self.remove();
    }
}

fn comm(pid: u32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).ok().map(|s| s.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::print_stderr)] // a skipped case says why
    fn a_detached_process_is_ended_with_its_lanes_cgroup() {
        let Some(g) = LaneGroup::create(&format!("git-lanes-test-{}", std::process::id())) else {
            eprintln!("skipped: no writable cgroup v2 here");
            return;
        };
        let marker = tempfile::tempdir().unwrap();
        let pidfile = marker.path().join("pid");
        // The starter waits for the daemon to be on its own (its group is ended when it exits).
        let script = format!(
            "setsid sh -c 'echo $$ > {p}.tmp && mv {p}.tmp {p}; sleep 30' > /dev/null 2>&1 < /dev/null & while [ ! -s {p} ]; do sleep 0.01; done",
            p = pidfile.display()
        );
        let argv = g.wrap(&["sh", "-c", &script]);
        let args: Vec<&str> = argv[1..].iter().map(String::as_str).collect();
        let spec = crate::exec::process::ProcessSpec::new(&argv[0], &args, marker.path());
        crate::exec::process::run(&spec).unwrap();
        let mut pid = None;
        for _ in 0..500 {
            pid = std::fs::read_to_string(&pidfile).ok().and_then(|s| s.trim().parse::<u32>().ok());
            if pid.is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let pid = pid.expect("the daemon started");
        let found = g.end();
        assert!(found.iter().any(|f| f.pid == pid), "{found:?}");
        assert!(!crate::exec::process::pid_alive(pid), "the detached process survived its cgroup");
        assert!(!g.dir().exists());
    }
}
