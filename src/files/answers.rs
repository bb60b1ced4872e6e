//! Remembered answers: what `sync --check` found when none of its inputs has changed since, so a
//! warm call neither decodes ten thousand summaries nor renders the catalog again (issue 14).
//!
//! Start at [`Answers::in_sync`] and [`Answers::remember_in_sync`].
//!
//! # Design note: what an answer is keyed by
//! An answer is kept under a fingerprint of everything it was computed from:
//! - the summary cache's checksum (`issue_cache.rs`), taken only when every issue file proved
//!   unchanged by its stat data (git's racy rule included) and no file is new, gone or unparsed,
//!   so the summaries the answer saw are exactly the files on disk;
//! - the lane folders (an empty one is a lane too), the resolved configuration (`lanes.yaml` and
//!   the overrides) and the agent specs as loaded (a spec with a problem, like an issue file
//!   with one, means no answer is used or kept);
//! - the catalog's bytes (read and hashed: no stat rule is needed for one file).
//!
//! Only a clean, in-sync outcome is remembered: anything else is computed in full each time. The
//! file carries the summary cache's stamp (format and build), so another git-lanes build's answer
//! is not used; a missing, damaged or foreign file only costs the full computation.
#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::files::config::Config;
use crate::files::issue_cache::{self, IssueCache};
use crate::files::spec::AgentSpec;

const MAGIC: &[u8; 8] = b"GLANSWER";

/// Everything an answer depends on besides the summaries, as loaded.
#[derive(Debug)]
pub struct Inputs<'a> {
    pub lane_dirs: &'a BTreeSet<String>,
    pub config: &'a Config,
    pub specs: &'a BTreeMap<String, AgentSpec>,
    /// The catalog's bytes; `None` when there is no catalog.
    pub catalog: Option<&'a [u8]>,
}

impl Inputs<'_> {
    /// One number for the summaries' checksum and every other input.
    fn fingerprint(&self, summaries: u64) -> u64 {
        let mut text = format!("{summaries:016x}\n{:?}\n{:?}\n{:?}\n", self.lane_dirs, self.config, self.specs);
        match self.catalog {
            None => text.push_str("no catalog"),
            Some(bytes) => text.push_str(&format!("catalog {:016x} {}", issue_cache::hash(bytes), bytes.len())),
        }
        issue_cache::hash(text.as_bytes())
    }
}

/// The answers file of the worktree at `root`.
#[derive(Debug)]
pub struct Answers {
    file: PathBuf,
}

impl Answers {
    pub fn for_worktree(cache_dir: &Path, root: &Path) -> Answers {
        let summaries = IssueCache::for_worktree(cache_dir, root);
        Answers { file: summaries.with_extension("answers") }
    }

    /// The number of issues of a catalog found in sync with exactly these inputs, if it was.
    pub fn in_sync(&self, summaries: u64, inputs: &Inputs) -> Option<usize> {
        let bytes = std::fs::read(&self.file).ok()?;
        let rest = bytes.strip_prefix(MAGIC.as_slice())?;
        let stamp = issue_cache::stamp();
        let rest = rest.strip_prefix(stamp.as_slice())?;
        let (fingerprint, rest) = rest.split_first_chunk::<8>()?;
        let (count, rest) = rest.split_first_chunk::<8>()?;
        if !rest.is_empty() || u64::from_le_bytes(*fingerprint) != inputs.fingerprint(summaries) {
            return None;
        }
        usize::try_from(u64::from_le_bytes(*count)).ok()
    }

    /// Remember that the catalog is in sync with `issues` issues under these inputs (atomically;
    /// errors are ignored, as for the summary cache).
    pub fn remember_in_sync(&self, summaries: u64, inputs: &Inputs, issues: usize) {
        let mut bytes = Vec::with_capacity(128);
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&issue_cache::stamp());
        bytes.extend_from_slice(&inputs.fingerprint(summaries).to_le_bytes());
        bytes.extend_from_slice(&(issues as u64).to_le_bytes());
        let Some(dir) = self.file.parent() else { return };
        let write = || -> std::io::Result<()> {
            use std::io::Write;
            let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
            tmp.write_all(&bytes)?;
            tmp.persist(&self.file).map_err(|e| e.error)?;
            Ok(())
        };
        let _ = write();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_holds_for_exactly_its_inputs() {
        let dir = tempfile::tempdir().unwrap();
        let answers = Answers::for_worktree(dir.path(), Path::new("/repo"));
        let config = Config::defaults();
        let lanes: BTreeSet<String> = ["A".to_string()].into();
        let specs = BTreeMap::new();
        let inputs = |catalog: &'static [u8]| Inputs { lane_dirs: &lanes, config: &config, specs: &specs, catalog: Some(catalog) };
        assert_eq!(answers.in_sync(7, &inputs(b"cat")), None, "nothing remembered yet");
        answers.remember_in_sync(7, &inputs(b"cat"), 12);
        assert_eq!(answers.in_sync(7, &inputs(b"cat")), Some(12));
        assert_eq!(answers.in_sync(8, &inputs(b"cat")), None, "other summaries");
        assert_eq!(answers.in_sync(7, &inputs(b"cat!")), None, "another catalog");
        let more: BTreeSet<String> = ["A".to_string(), "B".to_string()].into();
        let other = Inputs { lane_dirs: &more, ..inputs(b"cat") };
        assert_eq!(answers.in_sync(7, &other), None, "another lane folder");
        let mut bytes = std::fs::read(&answers.file).unwrap();
        let last = bytes.len() - 12; // inside the fingerprint
        bytes[last] ^= 1;
        std::fs::write(&answers.file, &bytes).unwrap();
        assert_eq!(answers.in_sync(7, &inputs(b"cat")), None, "a damaged file");
    }
}
