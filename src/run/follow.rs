//! Following lanes through their signal files, for `run` and `watch`.
//!
//! File events are hints (watchexec's lesson): on any event — or on the coordinator's tick
//! (every 100 ms without events, every second as a safety net with them) — every followed lane's
//! files are read again, and what is there is the truth. notify watches
//! the signal folders; when it cannot (no inotify, limits reached, the folder was deleted) the
//! tick alone keeps things moving. Latency (the `.done` file's mtime → the moment we saw it) is
//! measured per lane.

use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant, SystemTime};

use notify::{RecursiveMode, Watcher};

use crate::files::signal::{self, SignalFile};

/// Watches signal folders and calls `hint` on any change.
pub struct SignalWatcher {
    watcher: Option<notify::RecommendedWatcher>,
    watched: Vec<PathBuf>,
    dirs: Vec<PathBuf>,
    /// Why events are unavailable (then only polling works).
    pub degraded: Option<String>,
}

impl std::fmt::Debug for SignalWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignalWatcher").field("watched", &self.watched).field("degraded", &self.degraded).finish()
    }
}

impl SignalWatcher {
    /// Watch `dirs` (created if missing); `tx` receives `hint()` on every event.
    pub fn new<E: Send + 'static>(dirs: Vec<PathBuf>, tx: Sender<E>, hint: fn() -> E) -> SignalWatcher {
        for d in &dirs {
            let _ = std::fs::create_dir_all(d);
        }
        let mut me = SignalWatcher { watcher: None, watched: Vec::new(), dirs, degraded: None };
        match notify::recommended_watcher(move |_res: notify::Result<notify::Event>| {
            let _ = tx.send(hint());
        }) {
            Ok(w) => me.watcher = Some(w),
            Err(e) => me.degraded = Some(advice(&e)),
        }
        me.rewatch();
        me
    }

    /// Watch `dir` too (created if missing), e.g. a lane's signal folder once its worktree exists.
    pub fn add_dir(&mut self, dir: PathBuf) {
        let _ = std::fs::create_dir_all(&dir);
        if !self.dirs.contains(&dir) {
            self.dirs.push(dir);
        }
        self.rewatch();
    }

    /// (Re-)establish watches on folders that exist and are not watched yet — a worker may have
    /// deleted and re-created the folder. Cheap; called on every tick.
    pub fn rewatch(&mut self) {
        let Some(w) = self.watcher.as_mut() else { return };
        self.watched.retain(|d| d.is_dir());
        for d in &self.dirs {
            if self.watched.contains(d) || !d.is_dir() {
                continue;
            }
            match w.watch(d, RecursiveMode::NonRecursive) {
                Ok(()) => self.watched.push(d.clone()),
                Err(e) => self.degraded = Some(advice(&e)),
            }
        }
    }
}

fn advice(e: &notify::Error) -> String {
    let s = e.to_string();
    if s.contains("inotify") || matches!(e.kind, notify::ErrorKind::MaxFilesWatch) {
        format!("{s}; falling back to polling (raise fs.inotify.max_user_watches / max_user_instances for instant updates)")
    } else {
        format!("{s}; falling back to polling")
    }
}

/// What changed for a lane since the last scan.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Status(String),
    Done {
        latency: Option<Duration>,
    },
    /// A signal file that is not a regular file, or too large (said once per problem).
    Warning(String),
}

/// The followed signals of one lane: its files may be in several folders (the run's absolute
/// `LANES_SIGNAL_DIR` and, for seed-style workers writing relative paths, the worktree's own).
#[derive(Debug, Clone)]
pub struct LaneFollow {
    pub lane: String,
    pub dirs: Vec<PathBuf>,
    pub status: Option<String>,
    pub status_since: Instant,
    pub done: bool,
    pub done_seen: Option<Instant>,
    pub latency: Option<Duration>,
    /// Signal-file problems already reported.
    pub warned: Vec<String>,
}

impl LaneFollow {
    pub fn new(lane: &str, dirs: Vec<PathBuf>) -> LaneFollow {
        LaneFollow {
            lane: lane.to_string(),
            dirs,
            status: None,
            status_since: Instant::now(),
            done: false,
            done_seen: None,
            latency: None,
            warned: Vec::new(),
        }
    }

    /// Read the lane's files again; report what changed.
    pub fn rescan(&mut self) -> Vec<Change> {
        let mut out = Vec::new();
        let mut newest: Option<(SystemTime, String)> = None;
        let mut done_mtime: Option<SystemTime> = None;
        for d in &self.dirs {
            let (status_path, done_path) = (SignalFile::Status.path(d, &self.lane), SignalFile::Done.path(d, &self.lane));
            let (bytes, problem) = signal::read_file(&status_path);
            if let Some(p) = problem.map(|p| p.to_string())
                && !self.warned.contains(&p)
            {
                self.warned.push(p.clone());
                out.push(Change::Warning(p));
            }
            if let Ok(meta) = std::fs::symlink_metadata(&status_path)
                && let Some(text) = bytes.and_then(|b| signal::clean_status(&b))
            {
                let m = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                if newest.as_ref().is_none_or(|(t, _)| m > *t) {
                    newest = Some((m, text));
                }
            }
            if let Ok(meta) = std::fs::symlink_metadata(&done_path) {
                let m = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                done_mtime = Some(done_mtime.map_or(m, |d| d.min(m)));
            }
        }
        if let Some((_, text)) = newest
            && self.status.as_deref() != Some(text.as_str())
        {
            self.status = Some(text.clone());
            self.status_since = Instant::now();
            out.push(Change::Status(text));
        }
        if let Some(m) = done_mtime
            && !self.done
        {
            self.done = true;
            self.done_seen = Some(Instant::now());
            self.latency = SystemTime::now().duration_since(m).ok();
            out.push(Change::Done { latency: self.latency });
        }
        out
    }
}

/// The signal folder of a worktree for the configured relative signal path.
pub fn worktree_signal_dir(worktree: &Path, rel: &Path) -> PathBuf {
    worktree.join(rel)
}

#[cfg(test)]
mod tests {
    use crate::run::follow::*;

    #[test]
    fn rescan_reports_each_change_once() {
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("a");
        let b = d.path().join("b");
        std::fs::create_dir_all(&a).unwrap();
        let mut f = LaneFollow::new("E", vec![a.clone(), b.clone()]);
        assert!(f.rescan().is_empty());
        std::fs::write(a.join("E.status"), "STARTING\r\n").unwrap();
        assert_eq!(f.rescan(), [Change::Status("STARTING".into())]);
        assert!(f.rescan().is_empty());
        std::fs::create_dir_all(&b).unwrap();
        std::thread::sleep(Duration::from_millis(10));
        std::fs::write(b.join("E.status"), "NORMAL: 2").unwrap();
        std::fs::write(b.join("E.done"), "").unwrap();
        let ch = f.rescan();
        assert_eq!(ch[0], Change::Status("NORMAL: 2".into()));
        assert!(matches!(ch[1], Change::Done { .. }));
        assert!(f.rescan().is_empty());
        // The folder vanishing is not an error.
        std::fs::remove_dir_all(&b).unwrap();
        assert!(f.rescan().is_empty() || f.status.is_some());
    }

    #[test]
    fn watcher_sends_hints() {
        let d = tempfile::tempdir().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let w = SignalWatcher::new(vec![d.path().join("sig")], tx, || 1u8);
        if w.degraded.is_none() {
            std::fs::write(d.path().join("sig/E.done"), "").unwrap();
            assert_eq!(rx.recv_timeout(Duration::from_secs(5)), Ok(1));
        }
    }
}
