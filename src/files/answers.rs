//! Remembered answers: what `sync --check`, `validate`, `status`, `plan` and `check` found, given
//! again while none of their inputs has changed, so a warm call neither decodes ten thousand
//! summaries nor renders the catalog again (docs/design.md#the-summary-cache-and-remembered-answers).
//!
//! Start at [`recall`] and [`remember`].
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
//! Only answers computed from a workspace that loaded without a problem are remembered (and of
//! `sync`, only an in-sync outcome): anything else is computed in full each time. The file carries the summary cache's stamp (format and build), so another git-lanes build's answer
//! is not used; a missing, damaged or foreign file only costs the full computation.
#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::base::error::Problem;
use crate::files::config::Config;
use crate::files::issue_cache::{self, IssueCache};
use crate::files::spec::AgentSpec;
use crate::files::validate::Report;
use crate::files::workspace::Workspace;

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

    /// [`Inputs::fingerprint`] of the inputs and `extra`.
    fn fingerprint_with(&self, summaries: u64, extra: &str) -> u64 {
        let mut text = self.fingerprint(summaries).to_le_bytes().to_vec();
        text.extend_from_slice(extra.as_bytes());
        issue_cache::hash(&text)
    }
}

/// The answers file of the worktree at `root`.
#[derive(Debug)]
pub struct Answers {
    file: PathBuf,
}

/// What is remembered (one answer of each kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerKind {
    /// `sync`: the catalog is in sync; the number of issues.
    InSync = 1,
    /// `validate`: its report.
    Validated = 2,
    /// `status`: what it shows of the issue files (`overview.rs`).
    Overview = 3,
    /// `plan`: the lanes' plans, for one set of options.
    Plan = 4,
    /// `check` of the working tree: what it found in the issue files and catalog, for one base.
    Check = 5,
}

impl Answers {
    pub fn for_worktree(cache_dir: &Path, root: &Path) -> Answers {
        let summaries = IssueCache::for_worktree(cache_dir, root);
        Answers { file: summaries.with_extension("answers") }
    }

    /// The number of issues of a catalog found in sync with exactly these inputs, if it was.
    pub fn in_sync(&self, summaries: u64, inputs: &Inputs) -> Option<usize> {
        let payload = self.recall(AnswerKind::InSync, inputs.fingerprint(summaries))?;
        usize::try_from(u64::from_le_bytes(payload.as_slice().try_into().ok()?)).ok()
    }

    /// Remember that the catalog is in sync with `issues` issues under these inputs.
    pub fn remember_in_sync(&self, summaries: u64, inputs: &Inputs, issues: usize) {
        self.remember(AnswerKind::InSync, inputs.fingerprint(summaries), &(issues as u64).to_le_bytes());
    }

    /// The `validate` report computed from exactly these inputs, if there is one.
    pub fn validated(&self, summaries: u64, inputs: &Inputs) -> Option<Report> {
        let payload = self.recall(AnswerKind::Validated, inputs.fingerprint(summaries))?;
        decode_report(&payload)
    }

    /// Remember the `validate` report of these inputs.
    pub fn remember_validated(&self, summaries: u64, inputs: &Inputs, report: &Report) {
        self.remember(AnswerKind::Validated, inputs.fingerprint(summaries), &encode_report(report));
    }

    /// A value remembered as JSON under `kind` for exactly these inputs and `extra` (what else
    /// the answer depends on: options, a base commit).
    pub fn recalled<T: serde::de::DeserializeOwned>(&self, kind: AnswerKind, summaries: u64, inputs: &Inputs, extra: &str) -> Option<T> {
        let payload = self.recall(kind, inputs.fingerprint_with(summaries, extra))?;
        serde_json::from_slice(&payload).ok()
    }

    /// Remember `value` as JSON under `kind` (see [`Answers::recalled`]).
    pub fn keep<T: serde::Serialize>(&self, kind: AnswerKind, summaries: u64, inputs: &Inputs, extra: &str, value: &T) {
        if let Ok(payload) = serde_json::to_vec(value) {
            self.remember(kind, inputs.fingerprint_with(summaries, extra), &payload);
        }
    }

    /// Every record of the file as (kind, fingerprint, payload, payload checksum), payloads
    /// borrowed from `bytes` and not yet checked; `None` when the file is unusable.
    fn parse(bytes: &[u8]) -> Option<Vec<(u8, u64, &[u8], u64)>> {
        let mut rest = bytes.strip_prefix(MAGIC.as_slice())?.strip_prefix(issue_cache::stamp().as_slice())?;
        let mut out = Vec::new();
        while let Some((&kind, tail)) = rest.split_first() {
            let (fingerprint, tail) = tail.split_first_chunk::<8>()?;
            let (len, tail) = tail.split_first_chunk::<4>()?;
            let len = u32::from_le_bytes(*len) as usize;
            let payload = tail.get(..len)?;
            let (sum, tail) = tail.get(len..)?.split_first_chunk::<8>()?;
            out.push((kind, u64::from_le_bytes(*fingerprint), payload, u64::from_le_bytes(*sum)));
            rest = tail;
        }
        Some(out)
    }

    /// Every record of the file, each checked: (kind, fingerprint, payload).
    fn records(&self) -> Option<Vec<(u8, u64, Vec<u8>)>> {
        let bytes = std::fs::read(&self.file).ok()?;
        let records = Answers::parse(&bytes)?;
        records.into_iter().map(|(k, f, p, sum)| (issue_cache::hash(p) == sum).then(|| (k, f, p.to_vec()))).collect()
    }

    /// The payload of the answer of `kind` under `fingerprint` (only its checksum is checked).
    fn recall(&self, kind: AnswerKind, fingerprint: u64) -> Option<Vec<u8>> {
        let bytes = std::fs::read(&self.file).ok()?;
        let (_, _, payload, sum) = Answers::parse(&bytes)?.into_iter().find(|(k, f, _, _)| *k == kind as u8 && *f == fingerprint)?;
        (issue_cache::hash(payload) == sum).then(|| payload.to_vec())
    }

    /// Replace the answer of `kind` (atomically; errors are ignored, as for the summary cache).
    fn remember(&self, kind: AnswerKind, fingerprint: u64, payload: &[u8]) {
        let mut records = self.records().unwrap_or_default();
        records.retain(|(k, _, _)| *k != kind as u8);
        records.push((kind as u8, fingerprint, payload.to_vec()));
        let mut bytes = Vec::with_capacity(256);
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&issue_cache::stamp());
        for (k, f, p) in &records {
            bytes.push(*k);
            bytes.extend_from_slice(&f.to_le_bytes());
            bytes.extend_from_slice(&u32::try_from(p.len()).unwrap_or(u32::MAX).to_le_bytes());
            bytes.extend_from_slice(p);
            bytes.extend_from_slice(&issue_cache::hash(p).to_le_bytes());
        }
        let _ = crate::base::fsutil::replace_cache_file(&self.file, |f| std::io::Write::write_all(f, &bytes));
    }
}

fn encode_report(report: &Report) -> Vec<u8> {
    let mut out = Vec::with_capacity(4096);
    out.extend_from_slice(&(report.issues_checked as u64).to_le_bytes());
    for list in [&report.errors, &report.warnings] {
        out.extend_from_slice(&u32::try_from(list.len()).unwrap_or(u32::MAX).to_le_bytes());
        for p in list {
            put_str(&mut out, &p.path.to_string_lossy());
            out.extend_from_slice(&(p.line as u64).to_le_bytes());
            put_str(&mut out, &p.message);
            match &p.hint {
                None => out.push(0),
                Some(h) => {
                    out.push(1);
                    put_str(&mut out, h);
                }
            }
        }
    }
    out
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&u32::try_from(s.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn decode_report(mut b: &[u8]) -> Option<Report> {
    fn u64_of(b: &mut &[u8]) -> Option<u64> {
        let (v, rest) = b.split_first_chunk::<8>()?;
        *b = rest;
        Some(u64::from_le_bytes(*v))
    }
    fn u32_of(b: &mut &[u8]) -> Option<usize> {
        let (v, rest) = b.split_first_chunk::<4>()?;
        *b = rest;
        Some(u32::from_le_bytes(*v) as usize)
    }
    fn str_of(b: &mut &[u8]) -> Option<String> {
        let n = u32_of(b)?;
        let s = std::str::from_utf8(b.get(..n)?).ok()?.to_string();
        *b = &b[n..];
        Some(s)
    }
    let issues_checked = usize::try_from(u64_of(&mut b)?).ok()?;
    let mut lists = [Vec::new(), Vec::new()];
    for list in &mut lists {
        for _ in 0..u32_of(&mut b)? {
            let path = PathBuf::from(str_of(&mut b)?);
            let line = usize::try_from(u64_of(&mut b)?).ok()?;
            let message = str_of(&mut b)?;
            let (&flag, rest) = b.split_first()?;
            b = rest;
            let hint = match flag {
                0 => None,
                1 => Some(str_of(&mut b)?),
                _ => return None,
            };
            list.push(Problem { path, line, message, hint });
        }
    }
    let [errors, warnings] = lists;
    b.is_empty().then_some(Report { errors, warnings, issues_checked })
}

/// The answer `recall` finds for the worktree at `root` when every input is proved unchanged
/// ([`Workspace::proves_unchanged`]); `catalog` is the catalog's bytes as read by the caller.
pub fn recall<T>(
    root: &Path,
    config: &Config,
    cache_dir: &Path,
    catalog: Option<&[u8]>,
    recall: impl FnOnce(&Answers, u64, &Inputs) -> Option<T>,
) -> crate::base::error::Result<Option<T>> {
    let Some(unchanged) = Workspace::proves_unchanged(root, config, cache_dir)? else { return Ok(None) };
    let inputs = Inputs { lane_dirs: &unchanged.lane_dirs, config, specs: &unchanged.specs, catalog };
    Ok(recall(&Answers::for_worktree(cache_dir, root), unchanged.checksum, &inputs))
}

/// The answer of `compute` for the worktree at `root`, remembered as JSON under `kind` and `extra`
/// (see [`Answers::recalled`]): given again without loading the workspace while every input is
/// proved unchanged, otherwise computed from the workspace (loaded through the summary cache,
/// which is brought up to date) and remembered when it loaded without a problem. `compute` also
/// gets the catalog's bytes, read once.
pub fn answer<T, E>(
    root: &Path,
    config: Config,
    cache_dir: &Path,
    kind: AnswerKind,
    extra: &str,
    compute: impl FnOnce(&Workspace, Option<&[u8]>) -> std::result::Result<T, E>,
) -> std::result::Result<T, E>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
    E: From<crate::base::error::Error>,
{
    let catalog = crate::base::fsutil::read_optional_capped(&root.join(&config.catalog), crate::files::text::MAX_FILE_BYTES)?;
    if let Some(value) = recall(root, &config, cache_dir, catalog.as_deref(), |a, sum, inputs| a.recalled(kind, sum, inputs, extra))? {
        return Ok(value);
    }
    // Computed while the summary cache is written.
    let (ws, summaries, value) = Workspace::load_cached_while(root, config, cache_dir, true, |ws| compute(ws, catalog.as_deref()))?;
    let value = value?;
    if let Some(sum) = summaries {
        remember(&ws, cache_dir, sum, catalog.as_deref(), |a, sum, inputs| a.keep(kind, sum, inputs, extra, &value));
    }
    ws.release_at_exit();
    Ok(value)
}

/// Remember an answer computed from `ws` (loaded with summary checksum `summaries`, see
/// [`Workspace::load_cached_proved`]) and `catalog`, the catalog's bytes it saw.
pub fn remember(ws: &Workspace, cache_dir: &Path, summaries: u64, catalog: Option<&[u8]>, remember: impl FnOnce(&Answers, u64, &Inputs)) {
    let inputs = Inputs { lane_dirs: &ws.lane_dirs, config: &ws.config, specs: &ws.specs, catalog };
    remember(&Answers::for_worktree(cache_dir, &ws.root), summaries, &inputs);
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
        let report = Report {
            errors: vec![Problem::new("issues/A/A-01.md", 3, "bad").with_hint("fix it")],
            warnings: vec![Problem::new("issues/A/A-02.md", 0, "odd")],
            issues_checked: 2,
        };
        answers.remember_validated(7, &inputs(b"cat"), &report);
        assert_eq!(answers.in_sync(7, &inputs(b"cat")), Some(12), "one answer of each kind");
        let back = answers.validated(7, &inputs(b"cat")).expect("remembered");
        assert_eq!(format!("{back:?}"), format!("{report:?}"));
        assert!(answers.validated(7, &inputs(b"other")).is_none());
        let mut bytes = std::fs::read(&answers.file).unwrap();
        let last = bytes.len() - 12; // inside the last payload
        bytes[last] ^= 1;
        std::fs::write(&answers.file, &bytes).unwrap();
        assert!(answers.validated(7, &inputs(b"cat")).is_none(), "a damaged record");
        assert_eq!(answers.in_sync(7, &inputs(b"cat")), Some(12), "each record has its own checksum");
        std::fs::write(&answers.file, &bytes[..bytes.len() - 3]).unwrap();
        assert_eq!(answers.in_sync(7, &inputs(b"cat")), None, "a truncated file");
    }

    #[test]
    fn an_answer_is_computed_once_while_nothing_changes() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("repo");
        let cache = dir.path().join("cache");
        let write = |id: &str| {
            let seed = include_str!("../../tests/fixtures/seed/minimal_demo/issues/E/E-01.md");
            let path = root.join(format!("issues/E/{id}.md"));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, seed.replace("E-01", id)).unwrap();
            // Older than the cache about to be written: not racy.
            let past = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
            std::fs::File::options().write(true).open(&path).unwrap().set_modified(past).unwrap();
        };
        write("E-01");
        let calls = std::cell::Cell::new(0);
        let get = |extra: &str| {
            answer(&root, Config::defaults(), &cache, AnswerKind::Plan, extra, |ws, _| {
                calls.set(calls.get() + 1);
                Ok::<_, crate::base::error::Error>(ws.issues.len())
            })
            .unwrap()
        };
        assert_eq!((get("a"), calls.get()), (1, 1));
        assert_eq!((get("a"), calls.get()), (1, 1), "remembered: not computed again");
        assert_eq!((get("b"), calls.get()), (1, 2), "another `extra`, another answer");
        write("E-02");
        assert_eq!((get("b"), calls.get()), (2, 3), "a new issue file");
        assert_eq!((get("b"), calls.get()), (2, 3));
    }
}
