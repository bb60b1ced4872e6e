//! Signal files: `<LANE>.status` (one line, the lane's latest state) and `<LANE>.done`.
//!
//! Workers written for the seed use `echo … > file` and `touch`, so readers cope with empty,
//! half-written, CRLF and garbage content: the first non-empty line, trimmed, control characters
//! dropped, at most 200 characters, shown as-is when its keyword is unknown.

use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::{fsutil, names};

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

/// Paths of a lane's signal files in `dir`.
pub fn paths(dir: &Path, lane: &str) -> (PathBuf, PathBuf) {
    (dir.join(format!("{lane}.status")), dir.join(format!("{lane}.done")))
}

/// Clean a raw status file into one displayable line.
pub fn clean_status(raw: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(raw);
    let line = text.lines().map(|l| l.trim()).find(|l| !l.is_empty())?;
    let cleaned: String = line.chars().filter(|c| !c.is_control()).take(200).collect();
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
    let (status_path, done_path) = paths(dir, lane);
    let status = std::fs::read(&status_path).ok().and_then(|b| clean_status(&b));
    let keyword = status.as_deref().map(keyword);
    let done = done_path.exists();
    LaneSignal { lane: lane.to_string(), status, keyword, done }
}

/// Lanes that have any signal file in `dir`.
pub fn lanes_with_signals(dir: &Path) -> Vec<String> {
    let mut lanes: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let lane = name.strip_suffix(".status").or_else(|| name.strip_suffix(".done"))?.to_string();
            names::check_lane(&lane).is_ok().then_some(lane)
        })
        .collect();
    lanes.sort_by(|a, b| names::natural_cmp(a, b));
    lanes.dedup();
    lanes
}

/// Write a status line atomically.
pub fn write_status(dir: &Path, lane: &str, text: &str) -> Result<()> {
    let (p, _) = paths(dir, lane);
    let line: String = text.chars().filter(|c| *c != '\n' && *c != '\r').collect();
    fsutil::write_atomic(&p, format!("{line}\n").as_bytes())
}

/// Mark a lane done (atomically; the content is the time, for people reading the folder).
pub fn write_done(dir: &Path, lane: &str, stamp: &str) -> Result<()> {
    let (_, p) = paths(dir, lane);
    fsutil::write_atomic(&p, format!("{stamp}\n").as_bytes())
}

/// Remove every `*.status` / `*.done` file in `dir`; returns how many were removed.
pub fn clear(dir: &Path) -> Result<usize> {
    let mut n = 0;
    for lane in lanes_with_signals(dir) {
        let (s, d) = paths(dir, &lane);
        for p in [s, d] {
            if p.exists() {
                fsutil::remove_file_if_exists(&p)?;
                n += 1;
            }
        }
    }
    Ok(n)
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
}
