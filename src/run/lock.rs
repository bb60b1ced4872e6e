//! The run lock (`<common git dir>/lanes/lock`): one run per repository at a time.
//!
//! An OS file lock (`flock`) on the file is the lock itself, so a holder that dies — even by
//! SIGKILL — releases it and the next run takes over; the file's content (pid, run id) only
//! names the holder in messages. The file is never deleted (deleting a lock file races with a
//! process that has just opened it).

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use crate::base::error::{Error, Result};

/// Holding this keeps the lock; dropping it releases it.
#[derive(Debug)]
pub struct RunLock {
    file: File,
    pub path: PathBuf,
}

fn lock_path(lanes_dir: &Path) -> PathBuf {
    lanes_dir.join("lock")
}

/// Take the lock for `run_id`, or fail naming the holder.
pub fn acquire(lanes_dir: &Path, run_id: &str) -> Result<RunLock> {
    crate::base::fsutil::create_dir_all(lanes_dir)?;
    let path = lock_path(lanes_dir);
    let mut file =
        OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(|e| Error::io("open", &path, e))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut who = String::new();
            let _ = file.read_to_string(&mut who);
            return Err(Error::State {
                message: format!("another git-lanes run holds the lock ({})", describe(&who)),
                hint: Some("wait for it to finish, or stop it with Ctrl-C; `git lanes status` shows it".into()),
            });
        }
        Err(TryLockError::Error(e)) => return Err(Error::io("lock", &path, e)),
    }
    file.set_len(0).map_err(|e| Error::io("write", &path, e))?;
    file.rewind().map_err(|e| Error::io("write", &path, e))?;
    writeln!(file, "pid: {}\nrun_id: {run_id}", std::process::id()).map_err(|e| Error::io("write", &path, e))?;
    Ok(RunLock { file, path })
}

fn describe(content: &str) -> String {
    let get = |k: &str| content.lines().find_map(|l| l.strip_prefix(k)).map(str::trim).unwrap_or("?");
    format!("pid {}, run {}", get("pid:"), get("run_id:"))
}

/// The pid of a live holder, if the lock is held.
pub fn holder(lanes_dir: &Path) -> Option<String> {
    let path = lock_path(lanes_dir);
    let mut file = File::open(&path).ok()?;
    match file.try_lock_shared() {
        Ok(()) => None,
        Err(_) => {
            let mut who = String::new();
            let _ = file.read_to_string(&mut who);
            Some(who.lines().find_map(|l| l.strip_prefix("pid:")).map(|s| s.trim().to_string()).unwrap_or_else(|| "?".into()))
        }
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

#[cfg(test)]
mod tests {
    use crate::run::lock::*;

    #[test]
    fn second_acquire_refused_then_released() {
        let d = tempfile::tempdir().unwrap();
        let l = acquire(d.path(), "R1").unwrap();
        let e = acquire(d.path(), "R2").unwrap_err().to_string();
        assert!(e.contains("R1"), "{e}");
        assert!(holder(d.path()).is_some());
        drop(l);
        assert!(holder(d.path()).is_none());
        let _l2 = acquire(d.path(), "R2").unwrap();
    }
}
