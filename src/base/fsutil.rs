//! File helpers: reads that name the path in their errors, atomic writes (temp file + rename).

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::base::error::{Error, Result};

/// Read a whole file; the error names the path.
pub fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::io("read", path, e))
}

/// The file `name` in the folder open as `dir` (one name looked up, not every folder of a path),
/// read whole, with its stat data taken from the open file before the read (so a write racing
/// the read changes what the next stat sees); `path` gives the file's path, for the error.
///
/// Four system calls for a file read whole by its first `read` (open, fstat, read, close): the
/// buffer holds one byte more than the stat size, so a read that returns exactly that size has
/// reached the end the stat data describes. A read that finds more (a file grown since the stat,
/// or one whose stat size is not its length) goes on to the end.
///
/// At most `cap` bytes and one are read: a larger file is refused by its parser by its length
/// without ever being read whole.
pub fn read_in_with_stat(
    dir: impl std::os::fd::AsFd,
    name: &std::ffi::OsStr,
    path: impl FnOnce() -> PathBuf,
    cap: usize,
) -> Result<(Vec<u8>, rustix::fs::Stat)> {
    let mut bytes = Vec::new();
    let stat = read_in_with_stat_into(dir, name, path, &mut bytes, cap)?;
    Ok((bytes, stat))
}

/// [`read_in_with_stat`] into `bytes`, emptied first: its room is kept from one file to the next,
/// so a thread reading thousands of files allocates (and clears) no buffer for each.
pub fn read_in_with_stat_into(
    dir: impl std::os::fd::AsFd,
    name: &std::ffi::OsStr,
    path: impl FnOnce() -> PathBuf,
    bytes: &mut Vec<u8>,
    cap: usize,
) -> Result<rustix::fs::Stat> {
    use rustix::fs::{Mode, OFlags};
    let read = || -> std::io::Result<rustix::fs::Stat> {
        let fd = rustix::fs::openat(dir, name, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?;
        let stat = rustix::fs::fstat(&fd)?;
        bytes.clear();
        read_sized(&fd, usize::try_from(stat.st_size).unwrap_or(0), bytes, cap.saturating_add(1))?;
        Ok(stat)
    };
    read().map_err(|e| Error::io("read", &path(), e))
}

/// Read an open file whole into `bytes` whose size was `size` when stat'ed: one read into room
/// for that size and a byte more (to see the end), more reads until the end when it has grown;
/// never more than `limit` bytes.
fn read_sized(fd: &std::os::fd::OwnedFd, size: usize, bytes: &mut Vec<u8>, limit: usize) -> std::io::Result<()> {
    bytes.reserve_exact(size.saturating_add(1).min(limit));
    loop {
        if bytes.len() >= limit {
            bytes.truncate(limit);
            return Ok(());
        }
        if bytes.len() == bytes.capacity() {
            bytes.reserve_exact(bytes.capacity().max(4096).min(limit - bytes.len()));
        }
        match rustix::io::read(fd, rustix::buffer::spare_capacity(bytes)) {
            Ok(0) => return Ok(()),
            Ok(_) if bytes.len() == size => return Ok(()),
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// Read a file that may be missing.
pub fn read_optional(path: &Path) -> Result<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("read", path, e)),
    }
}

/// [`read_optional`] of a file parsed as text, reading no more than `cap` bytes and one: a larger
/// file (a 300 MB `lanes.yaml`) is never read whole; the parser refuses it by its length.
pub fn read_optional_capped(path: &Path, cap: usize) -> Result<Option<Vec<u8>>> {
    use std::io::Read;
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("read", path, e)),
    };
    let size = file.metadata().map_err(|e| Error::io("read", path, e))?.len();
    let limit = u64::try_from(cap).unwrap_or(u64::MAX).saturating_add(1);
    let mut bytes = Vec::with_capacity(usize::try_from(size.min(limit)).unwrap_or(0));
    file.take(limit).read_to_end(&mut bytes).map_err(|e| Error::io("read", path, e))?;
    Ok(Some(bytes))
}

/// How git-lanes' temporary files are named (`.lanes-tmp-XXXXXX`, beside their target).
pub const TEMP_PREFIX: &str = ".lanes-tmp-";

/// Write `bytes` to `path` atomically: a temp file in the same directory, fsync'd, then renamed
/// over the target, so a reader never sees half a file. Parent directories are created.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io("create directory", dir, e))?;
    let mut tmp =
        tempfile::Builder::new().prefix(TEMP_PREFIX).tempfile_in(dir).map_err(|e| Error::io("create a temporary file in", dir, e))?;
    tmp.write_all(bytes).map_err(|e| Error::io("write", tmp.path(), e))?;
    tmp.as_file().sync_all().map_err(|e| Error::io("sync", tmp.path(), e))?;
    // Keep the mode of the file we replace (scripts stay executable).
    if let Ok(meta) = std::fs::metadata(path) {
        let _ = std::fs::set_permissions(tmp.path(), meta.permissions());
    }
    tmp.persist(path).map_err(|e| Error::io("replace", path, e.error))?;
    Ok(())
}

/// Replace the cache file `path` with what `write` writes to a new file (and give what `write`
/// gives), atomically (temp file + rename) but without an fsync: a cache is checked when read
/// and rebuilt when torn by a power cut, so durability is not worth a sync (which waits for the
/// disk) on every rewrite. Errors are the caller's to ignore.
pub fn replace_cache_file<T>(path: &Path, write: impl FnOnce(&mut std::fs::File) -> std::io::Result<T>) -> std::io::Result<T> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::Builder::new().prefix(TEMP_PREFIX).tempfile_in(dir)?;
    let written = write(tmp.as_file_mut())?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(written)
}

/// Write `bytes` atomically to `root/rel`, never through a symlink: `rel` must be relative and
/// stay under `root` (no `..`), and no component of it under `root` — folders or the file itself
/// — may be a symlink (a lane that turned `issues/M` into a link to a folder outside the
/// repository must not have git-lanes write there). Parent folders are created.
pub fn write_under(root: &Path, rel: &Path, bytes: &[u8]) -> Result<()> {
    let target = root.join(rel);
    check_no_symlink(root, rel)?;
    write_atomic(&target, bytes)
}

/// Refuse `rel` when it is absolute, climbs with `..`, or has a symlink as any component under
/// `root` (checked with `symlink_metadata`, which never follows).
pub fn check_no_symlink(root: &Path, rel: &Path) -> Result<()> {
    use std::path::Component;
    let refuse = |why: &str| Error::io("write", &root.join(rel), std::io::Error::new(std::io::ErrorKind::InvalidInput, why.to_string()));
    let mut at = root.to_path_buf();
    for c in rel.components() {
        match c {
            Component::Normal(n) => at.push(n),
            Component::CurDir => continue,
            _ => return Err(refuse("the path leaves the repository")),
        }
        match std::fs::symlink_metadata(&at) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(refuse(&format!("`{}` is a symlink; git-lanes never writes through one", at.display())));
            }
            Ok(_) => {}
            Err(_) => break, // the rest does not exist yet: created as real folders
        }
    }
    Ok(())
}

/// Create a file only if it does not exist yet; returns false (and writes nothing) otherwise.
pub fn create_new(path: &Path, bytes: &[u8]) -> Result<bool> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io("create directory", dir, e))?;
    }
    match std::fs::OpenOptions::new().write(true).create_new(true).open(path) {
        Ok(mut f) => {
            f.write_all(bytes).map_err(|e| Error::io("write", path, e))?;
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(Error::io("create", path, e)),
    }
}

/// Create a directory and its parents.
pub fn create_dir_all(path: &Path) -> Result<()> {
    std::fs::create_dir_all(path).map_err(|e| Error::io("create directory", path, e))
}

/// Remove a file if it exists.
pub fn remove_file_if_exists(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("remove", path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whole files whatever their size, and a file whose stat size (0 under `/proc`) is not its
    /// length is read to its end, not cut at the stat size.
    #[test]
    fn read_in_with_stat_reads_whole_files() {
        let dir = tempfile::tempdir().unwrap();
        let fd = std::fs::File::open(dir.path()).unwrap();
        for len in [0usize, 1, 4095, 4096, 4097, 200_000] {
            let name = format!("f{len}");
            let bytes: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            std::fs::write(dir.path().join(&name), &bytes).unwrap();
            let (read, stat) = read_in_with_stat(&fd, std::ffi::OsStr::new(&name), || dir.path().join(&name), usize::MAX).unwrap();
            assert_eq!(read, bytes, "{len} bytes");
            assert_eq!(stat.st_size as usize, len);
        }
        let proc = Path::new("/proc/self");
        if proc.exists() {
            let fd = std::fs::File::open(proc).unwrap();
            let (read, stat) = read_in_with_stat(&fd, std::ffi::OsStr::new("cmdline"), || proc.join("cmdline"), usize::MAX).unwrap();
            assert_eq!(stat.st_size, 0);
            assert!(!read.is_empty());
            assert_eq!(read, std::fs::read(proc.join("cmdline")).unwrap());
        }
        // One buffer for file after file, as the cold load reads them: each read holds that file
        // only, a short one after a long one included.
        let mut buf = Vec::new();
        for len in [200_000usize, 1, 0, 4097] {
            let name = format!("f{len}");
            let stat = read_in_with_stat_into(&fd, std::ffi::OsStr::new(&name), || dir.path().join(&name), &mut buf, usize::MAX).unwrap();
            assert_eq!(buf, std::fs::read(dir.path().join(&name)).unwrap(), "{len} bytes");
            assert_eq!(stat.st_size as usize, len);
        }
        let missing = read_in_with_stat(&fd, std::ffi::OsStr::new("gone"), || dir.path().join("gone"), usize::MAX).unwrap_err();
        assert!(missing.to_string().contains("gone"), "{missing}");
        // A file larger than the cap is read to the cap and a byte, no further.
        let (read, stat) = read_in_with_stat(&fd, std::ffi::OsStr::new("f200000"), || dir.path().join("f200000"), 5000).unwrap();
        assert_eq!((read.len(), stat.st_size), (5001, 200_000));
        assert_eq!(read_optional_capped(&dir.path().join("f200000"), 10).unwrap().map(|b| b.len()), Some(11));
        assert_eq!(read_optional_capped(&dir.path().join("gone"), 10).unwrap(), None);
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a/b.txt");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(dir.path().join("a")).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn writes_never_follow_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("issues")).unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("issues/M")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("f"), dir.path().join("link")).unwrap();
        for rel in ["issues/M/M-01.md", "link", "../x", "/etc/x"] {
            let e = write_under(dir.path(), Path::new(rel), b"status: RESOLVED").unwrap_err();
            assert!(e.to_string().contains("could not write"), "{rel}: {e}");
            assert!(!e.to_string().contains("refuse to write"), "{rel}: {e}");
        }
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
        write_under(dir.path(), Path::new("issues/E/E-01.md"), b"ok").unwrap();
        assert_eq!(std::fs::read(dir.path().join("issues/E/E-01.md")).unwrap(), b"ok");
    }

    #[test]
    fn create_new_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x");
        assert!(create_new(&p, b"1").unwrap());
        assert!(!create_new(&p, b"2").unwrap());
        assert_eq!(std::fs::read(&p).unwrap(), b"1");
    }
}
