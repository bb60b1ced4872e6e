//! Signal files: the tiny files a worker writes to say how it is doing, one per lane and
//! [`SignalFile`] kind — `<LANE>.status` (one line, the lane's latest state) and `<LANE>.done`
//! (finished) — in the signals folder (docs/formats.md#signals).
//!
//! Every place that names, reads, writes, clears, ignores or refuses signal files (the work
//! order, `init`'s `.gitignore`, the pre-push gate, the worktree pool, the run) spells them through
//! [`SignalFile`]. To add a kind, add a variant there and to [`SignalFile::ALL`]; the compiler then
//! points at each exhaustive `match` that must handle it ([`SignalFile::suffix`], [`read`], the
//! work order's `Signals`), and everything that walks [`SignalFile::ALL`] (clearing, `.gitignore`,
//! the gate, the pool) takes it up by itself.
//!
//! Workers written for the seed use `echo … > file` and `touch`, so readers cope with empty,
//! half-written, CRLF and garbage content: the first non-empty line, trimmed, control characters
//! dropped, at most 200 characters, shown as-is when its keyword is unknown.
//!
//! Signal files are untrusted input: [`read_file`] reads one only when it is a regular file (not a
//! FIFO, device, socket or symlink — it never blocks and never follows a link out of the folder),
//! and reads at most [`MAX_SIGNAL_BYTES`]; anything else is a [`SignalProblem`] the lane is
//! warned about.

use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::base::error::Result;
use crate::files::config::Config;
use crate::{base::fsutil, files::names};

/// A kind of signal file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignalFile {
    /// `<LANE>.status`: one line, the lane's latest state (`WORKING: …`).
    Status,
    /// `<LANE>.done`: the worker has finished (its content is never read).
    Done,
}

impl SignalFile {
    /// Every kind.
    pub const ALL: [SignalFile; 2] = [SignalFile::Status, SignalFile::Done];

    /// What a lane's file of this kind ends with (`.status`).
    pub fn suffix(self) -> &'static str {
        match self {
            SignalFile::Status => ".status",
            SignalFile::Done => ".done",
        }
    }

    /// A lane's file of this kind (`E.status`).
    pub fn file_name(self, lane: &str) -> String {
        format!("{lane}{}", self.suffix())
    }

    /// A lane's file of this kind in the signals folder `dir`.
    pub fn path(self, dir: &Path, lane: &str) -> PathBuf {
        dir.join(self.file_name(lane))
    }

    /// The kind and the lane of a signal file's name (`E.done` → `(Done, "E")`); `None` for any
    /// other name. The lane is not checked.
    pub fn of_file_name(name: &str) -> Option<(SignalFile, &str)> {
        SignalFile::ALL.into_iter().find_map(|k| name.strip_suffix(k.suffix()).map(|lane| (k, lane)))
    }
}

/// The comment `init` writes above [`ignore_lines`] in `.gitignore`.
pub const IGNORE_HEADER: &str = "# git-lanes: signal files are never committed\n";

/// The lines `init` makes sure `.gitignore` has: every kind of signal file, in the fixing signals
/// folder and its hunting sibling, is never committed.
pub fn ignore_lines(config: &Config) -> Vec<String> {
    let mut folders = vec![config.signals.clone()];
    let hunt = config.hunting().signals;
    if hunt != folders[0] {
        folders.push(hunt);
    }
    folders.iter().map(|f| f.to_string_lossy()).flat_map(|dir| SignalFile::ALL.map(|k| format!("/{dir}/*{}", k.suffix()))).collect()
}

/// The most bytes read from a status file (a status is one line; the rest is ignored).
pub const MAX_SIGNAL_BYTES: u64 = 4096;

/// Why a signal file was not (fully) read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignalProblem {
    /// Not a regular file (`a FIFO`, `a symlink`, `a device`...): never opened for reading.
    NotRegular { path: PathBuf, kind: &'static str },
    /// Larger than [`MAX_SIGNAL_BYTES`]: only its start was read.
    TooLarge { path: PathBuf, len: u64 },
}

impl std::fmt::Display for SignalProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SignalProblem::NotRegular { path, kind } => {
                write!(f, "signal file {} is {kind}, not a regular file; it is ignored", path.display())
            }
            SignalProblem::TooLarge { path, len } => write!(
                f,
                "signal file {} holds {len} bytes; only its first {MAX_SIGNAL_BYTES} are read (a status is one line)",
                path.display()
            ),
        }
    }
}

fn kind_of(ft: std::fs::FileType) -> &'static str {
    if ft.is_symlink() {
        "a symlink"
    } else if ft.is_fifo() {
        "a FIFO"
    } else if ft.is_char_device() || ft.is_block_device() {
        "a device"
    } else if ft.is_socket() {
        "a socket"
    } else if ft.is_dir() {
        "a folder"
    } else {
        "not a file"
    }
}

/// Read a signal file safely: `Ok(None)` when it is missing; its first [`MAX_SIGNAL_BYTES`] bytes
/// when it is a regular file; a problem for anything else. Never follows a symlink and never
/// blocks (the file is opened non-blocking and checked again after opening, so a FIFO swapped in
/// between is still refused).
pub fn read_file(path: &Path) -> (Option<Vec<u8>>, Option<SignalProblem>) {
    let Ok(meta) = std::fs::symlink_metadata(path) else { return (None, None) };
    if !meta.file_type().is_file() {
        return (None, Some(SignalProblem::NotRegular { path: path.to_path_buf(), kind: kind_of(meta.file_type()) }));
    }
    let file = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW | libc::O_NOCTTY).open(path);
    let Ok(file) = file else { return (None, None) };
    let Ok(meta) = file.metadata() else { return (None, None) };
    if !meta.file_type().is_file() {
        return (None, Some(SignalProblem::NotRegular { path: path.to_path_buf(), kind: kind_of(meta.file_type()) }));
    }
    let mut buf = Vec::new();
    if file.take(MAX_SIGNAL_BYTES).read_to_end(&mut buf).is_err() {
        return (None, None);
    }
    let problem = (meta.len() > MAX_SIGNAL_BYTES).then(|| SignalProblem::TooLarge { path: path.to_path_buf(), len: meta.len() });
    (Some(buf), problem)
}

/// Whether a `.done` marker is there (any kind of entry counts; it is never read).
pub fn done_exists(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

/// The keyword at the start of a status line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Keyword {
    Starting,
    Normal,
    Complex,
    Working,
    Complete,
    Unknown,
}

/// A lane's signals as read from disk.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LaneSignal {
    pub lane: String,
    /// The cleaned status line, if the file exists and has text.
    pub status: Option<String>,
    pub keyword: Option<Keyword>,
    pub done: bool,
}

/// Clean a raw status file into one displayable line.
pub fn clean_status(raw: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(raw);
    let line = text.lines().map(|l| l.trim()).find(|l| !l.is_empty())?;
    // A status line may quote a secret (`WORKING: using $GITHUB_TOKEN`): it is shown, saved and
    // reported redacted (before it is cut, so half a secret is never kept).
    let line: String = line.chars().filter(|c| !c.is_control()).collect();
    let cleaned: String = crate::base::redact::redact(&line).chars().take(200).collect();
    (!cleaned.is_empty()).then_some(cleaned)
}

/// The keyword of a status line.
pub fn keyword(status: &str) -> Keyword {
    let word: String = status.chars().take_while(|c| c.is_ascii_alphabetic()).collect();
    match word.to_ascii_uppercase().as_str() {
        "STARTING" => Keyword::Starting,
        "NORMAL" => Keyword::Normal,
        "COMPLEX" => Keyword::Complex,
        "WORKING" => Keyword::Working,
        "COMPLETE" | "COMPLETED" | "DONE" => Keyword::Complete,
        _ => Keyword::Unknown,
    }
}

/// Read one lane's signals (missing files and a missing directory are simply "no signal").
pub fn read(dir: &Path, lane: &str) -> LaneSignal {
    let mut signal = LaneSignal { lane: lane.to_string(), status: None, keyword: None, done: false };
    for kind in SignalFile::ALL {
        let path = kind.path(dir, lane);
        match kind {
            SignalFile::Status => {
                signal.status = read_file(&path).0.and_then(|b| clean_status(&b));
                signal.keyword = signal.status.as_deref().map(keyword);
            }
            SignalFile::Done => signal.done = done_exists(&path),
        }
    }
    signal
}

/// Lanes that have any signal file in `dir`.
pub fn lanes_with_signals(dir: &Path) -> Vec<String> {
    let mut lanes: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let lane = SignalFile::of_file_name(&name)?.1.to_string();
            names::check_lane(&lane).is_ok().then_some(lane)
        })
        .collect();
    lanes.sort_by(|a, b| names::natural_cmp(a, b));
    lanes.dedup();
    lanes
}

/// Write a status line atomically.
pub fn write_status(dir: &Path, lane: &str, text: &str) -> Result<()> {
    let p = SignalFile::Status.path(dir, lane);
    let line: String = text.chars().filter(|c| *c != '\n' && *c != '\r').collect();
    fsutil::write_atomic(&p, format!("{line}\n").as_bytes())
}

/// Mark a lane done (atomically; the content is the time, for people reading the folder).
pub fn write_done(dir: &Path, lane: &str, stamp: &str) -> Result<()> {
    let p = SignalFile::Done.path(dir, lane);
    fsutil::write_atomic(&p, format!("{stamp}\n").as_bytes())
}

/// Remove every signal file of every lane in `dir`; returns how many were removed.
pub fn clear(dir: &Path) -> Result<usize> {
    let mut n = 0;
    for lane in lanes_with_signals(dir) {
        for p in SignalFile::ALL.map(|k| k.path(dir, &lane)) {
            if done_exists(&p) {
                fsutil::remove_file_if_exists(&p)?;
                n += 1;
            }
        }
    }
    Ok(n)
}

/// Remove a lane's signal files from `dir`, ignoring any failure (the run no longer follows them).
pub fn remove_lane(dir: &Path, lane: &str) {
    for p in SignalFile::ALL.map(|k| k.path(dir, lane)) {
        let _ = fsutil::remove_file_if_exists(&p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copes_with_garbage() {
        assert_eq!(clean_status(b""), None);
        assert_eq!(clean_status(b"\r\n  \r\nNORMAL: fixing 3\r\n"), Some("NORMAL: fixing 3".into()));
        assert_eq!(clean_status(b"\xff\xfeWORK\x07ING"), Some("\u{fffd}\u{fffd}WORKING".into()));
        assert_eq!(keyword("COMPLEX: E-45 (EXTREME - 15 files)"), Keyword::Complex);
        assert_eq!(keyword("whatever"), Keyword::Unknown);
        assert_eq!(clean_status(&[b'a'; 1000]).unwrap().len(), 200);
    }

    #[test]
    fn kinds_name_their_files() {
        assert_eq!(SignalFile::Status.file_name("E"), "E.status");
        assert_eq!(SignalFile::Done.path(Path::new("s"), "E"), Path::new("s/E.done"));
        for k in SignalFile::ALL {
            assert_eq!(SignalFile::of_file_name(&k.file_name("Lane_2")), Some((k, "Lane_2")));
        }
        assert_eq!(SignalFile::of_file_name("E.md"), None);
    }

    #[test]
    fn write_read_clear() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("signals");
        write_status(&dir, "E", "NORMAL: x\ny").unwrap();
        write_done(&dir, "E", "now").unwrap();
        std::fs::write(dir.join("M.status"), "").unwrap();
        let s = read(&dir, "E");
        assert_eq!(s.status.as_deref(), Some("NORMAL: xy"));
        assert!(s.done);
        assert_eq!(lanes_with_signals(&dir), ["E", "M"]);
        assert_eq!(clear(&dir).unwrap(), 3);
        assert!(lanes_with_signals(&dir).is_empty());
        assert_eq!(read(&d.path().join("missing"), "E").status, None);
    }

    #[test]
    fn fifo_symlink_and_huge_status_files_are_bounded() {
        let d = tempfile::tempdir().unwrap();
        let fifo = d.path().join("E.status");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        #[allow(unsafe_code)]
        // SAFETY: `c` is a valid NUL-terminated path that outlives the call.
        let rc = unsafe { libc::mkfifo(c.as_ptr(), 0o600) };
        assert_eq!(rc, 0);
        let (bytes, problem) = read_file(&fifo);
        assert!(bytes.is_none());
        assert!(problem.unwrap().to_string().contains("a FIFO"));
        assert_eq!(read(d.path(), "E").status, None);
        std::os::unix::fs::symlink("/etc/hostname", d.path().join("M.status")).unwrap();
        assert!(matches!(read_file(&d.path().join("M.status")).1, Some(SignalProblem::NotRegular { kind: "a symlink", .. })));
        let mut big = b"WORKING: big\n".to_vec();
        big.resize(1 << 20, b'x');
        std::fs::write(d.path().join("X.status"), &big).unwrap();
        let (bytes, problem) = read_file(&d.path().join("X.status"));
        assert_eq!(bytes.unwrap().len() as u64, MAX_SIGNAL_BYTES);
        assert!(matches!(problem, Some(SignalProblem::TooLarge { len, .. }) if len == 1 << 20));
        assert_eq!(read(d.path(), "X").status.as_deref(), Some("WORKING: big"));
    }
}
