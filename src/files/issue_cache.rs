//! The summary cache: each issue file's parsed summary, kept under `<git common dir>/lanes/cache/`
//! so catalog commands re-read only the files that changed (docs/design.md#the-summary-cache-and-remembered-answers).
//!
//! Start at [`IssueCache::read`] and [`IssueCache::take`]; `workspace.rs` uses them for files on
//! disk and `check.rs` for blobs read from a commit.
//!
//! # Design note: when a cached summary is trusted
//! Like git's index, an entry is keyed by what proves the file unchanged:
//! - for a file in a worktree, its stat data (mtime and ctime to the nanosecond, size, inode,
//!   device), taken *before* the file is read, so a write racing the read changes the stat data
//!   and the next call reads the file again;
//! - for a blob read from a commit, the blob id (content-addressed, so always trusted).
//!
//! git's racy-file rule applies to stat entries: a file modified in the same clock tick as the
//! cache was written can change again without changing its mtime, so an entry whose mtime is not
//! strictly older than the cache file's own mtime is not trusted; the file is read again and the
//! cache rewritten (with a newer mtime, after which the entry is trusted).
//!
//! A file holds a head (magic, stamp, both parts' checksums, the entry count, the key table's
//! length), the key table (each path, its key and where its summary lies) and the summaries.
//! Proving files unchanged ([`IssueCache::read_keys`]) reads the head and the key table only: a
//! sixth of the file.
//!
//! The cache is only an optimisation. A missing, truncated or corrupt file (checksum), another
//! format version or another git-lanes build (the executable's size and mtime are part of the
//! stamp) is ignored and rewritten; a cache that cannot be written is skipped silently. Writes are
//! atomic (temp file + rename), so two commands writing at once leave one valid cache.
#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::fs::Metadata;
use std::io::Read;
use std::ops::Range;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::files::issue::{Check, Facts, Issue, Meta, Status};

const MAGIC: &[u8; 8] = b"GLSUMCCH";
/// Bumped whenever the encoding or the meaning of a summary changes (2: entries sorted by path,
/// each summary length-prefixed so it is decoded only when its file is unchanged; 3: the paths and
/// keys in a table of their own before the summaries, so proving files unchanged reads only it;
/// 4: the summaries' checksum seeded without their length, as they are streamed to the file;
/// 5: `may_change`).
const FORMAT: u32 = 5;

/// What proves a file unchanged since its summary was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// Stat data of a file on disk.
    Stat(Stat),
    /// The blob id of a file in a commit.
    Blob([u8; 20]),
}

/// The stat data git's index keeps, to the nanosecond.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    pub mtime: (i64, i64),
    pub ctime: (i64, i64),
    pub size: u64,
    pub ino: u64,
    pub dev: u64,
}

impl Stat {
    pub fn of(m: &Metadata) -> Stat {
        Stat { mtime: (m.mtime(), m.mtime_nsec()), ctime: (m.ctime(), m.ctime_nsec()), size: m.size(), ino: m.ino(), dev: m.dev() }
    }

    /// [`Stat::of`] from a raw `stat` (as `rustix` gives it): the same numbers for the same file.
    pub fn of_raw(st: &rustix::fs::Stat) -> Stat {
        // The field types differ between targets; the casts are those std's `MetadataExt` makes
        // (times signed, sizes and ids unsigned).
        #[allow(clippy::cast_sign_loss, clippy::cast_possible_wrap, clippy::unnecessary_cast)]
        Stat {
            mtime: (st.st_mtime as i64, st.st_mtime_nsec as i64),
            ctime: (st.st_ctime as i64, st.st_ctime_nsec as i64),
            size: st.st_size as u64,
            ino: st.st_ino as u64,
            dev: st.st_dev as u64,
        }
    }

    /// The stat data of `path` itself (never followed), if it exists.
    pub fn of_path(path: &Path) -> Option<Stat> {
        std::fs::symlink_metadata(path).ok().map(|m| Stat::of(&m))
    }
}

/// One entry of a cache file: where its path and encoded summary lie in the file's bytes.
#[derive(Debug)]
struct CacheSlot {
    path: Range<usize>,
    key: Key,
    summary: Range<usize>,
}

/// The summaries of one cache file, by path relative to the repository root.
///
/// The file is read whole with one `read`; only the paths and keys are indexed (no allocation
/// per entry), and a summary is decoded when its file proves unchanged ([`IssueCache::summary`]),
/// so lookups take `&self` and run from many threads at once.
#[derive(Debug, Default)]
pub struct IssueCache {
    file: PathBuf,
    /// The cache file's mtime when read: stat entries must be strictly older (racy-file rule).
    written: Option<(i64, i64)>,
    bytes: Vec<u8>,
    /// The body's checksum as read: one number for every key and summary in the file.
    checksum: Option<u64>,
    /// Sorted by path bytes (the writer sorts; a file out of order is corrupt).
    slots: Vec<CacheSlot>,
}

impl IssueCache {
    /// The cache of the worktree at `root` (one file per worktree, named after its path).
    pub fn for_worktree(cache_dir: &Path, root: &Path) -> PathBuf {
        cache_dir.join(format!("worktree-{:016x}.bin", hash(root.as_os_str().as_encoded_bytes())))
    }

    /// The cache of blobs read from commits (shared by every worktree).
    pub fn for_blobs(cache_dir: &Path) -> PathBuf {
        cache_dir.join("blobs.bin")
    }

    /// Read the cache at `file`; anything unusable gives an empty cache.
    pub fn read(file: PathBuf) -> IssueCache {
        IssueCache::read_parts(file, true)
    }

    /// Read only the paths and keys of the cache at `file` (its first part): enough for
    /// [`IssueCache::proves`] and [`IssueCache::checksum`]; no summary can be decoded.
    pub fn read_keys(file: PathBuf) -> IssueCache {
        IssueCache::read_parts(file, false)
    }

    fn read_parts(file: PathBuf, summaries: bool) -> IssueCache {
        let mut cache = IssueCache { file, ..IssueCache::default() };
        let read = || -> std::io::Result<(Vec<u8>, Metadata)> {
            let mut f = std::fs::File::open(&cache.file)?;
            let meta = f.metadata()?;
            let len = usize::try_from(meta.len()).unwrap_or(0);
            let mut bytes = Vec::with_capacity(if summaries { len.saturating_add(1) } else { len.min(HEAD_GUESS) });
            if summaries {
                f.read_to_end(&mut bytes)?;
            } else {
                // The head tells how long the key table is; then read exactly that much more.
                (&mut f).take(HEAD_GUESS as u64).read_to_end(&mut bytes)?;
                if let Some(end) = keys_end(&bytes)
                    && end > bytes.len()
                {
                    // Room for exactly the rest: no regrowth (and copy) of a megabyte buffer.
                    bytes.reserve_exact(end - bytes.len());
                    (&mut f).take((end - bytes.len()) as u64).read_to_end(&mut bytes)?;
                }
            }
            Ok((bytes, meta))
        };
        let Ok((bytes, meta)) = read() else { return cache };
        if let Some((slots, checksum)) = index(&bytes, summaries) {
            cache.slots = slots;
            cache.checksum = Some(checksum);
            cache.bytes = bytes;
            cache.written = Some((meta.mtime(), meta.mtime_nsec()));
        }
        cache
    }

    /// How many entries were read.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The summary of `rel` if `key` proves it current (stat entries: equal stat data and not
    /// racy); `None` also when the entry does not decode. `hint` is where the entry is expected
    /// (the file's place in a listing sorted as the cache is); any other place is searched.
    ///
    /// The issue keeps `rel` as its path; a miss hands it back.
    pub fn summary(&self, rel: PathBuf, key: &Key, hint: usize) -> Result<Issue, PathBuf> {
        let Some(bytes) = self
            .find(&rel, hint)
            .map(|at| &self.slots[at])
            .filter(|s| self.trusts(&s.key, key))
            .and_then(|s| self.bytes.get(s.summary.clone()))
        else {
            return Err(rel);
        };
        let mut r = Reader { b: bytes, at: 0 };
        match r.summary() {
            Some((meta, title, title_line, bom, facts)) if r.at == r.b.len() => {
                Ok(Issue::from_summary(rel, meta, title, title_line, bom, facts))
            }
            _ => Err(rel),
        }
    }

    /// Whether `rel` has an entry that `key` proves current, without decoding it (`hint` as
    /// for [`IssueCache::summary`]).
    pub fn proves(&self, rel: &Path, key: &Key, hint: usize) -> bool {
        self.find(rel, hint).is_some_and(|at| self.trusts(&self.slots[at].key, key))
    }

    /// [`IssueCache::proves`] for the file `name` in the folder `dir` (paths relative to the
    /// root, as bytes), without joining them.
    pub fn proves_in(&self, dir: &[u8], name: &[u8], key: &Key, hint: usize) -> bool {
        let is_at = |s: &CacheSlot| {
            let path = &self.bytes[s.path.clone()];
            path.len() == dir.len() + 1 + name.len() && path.starts_with(dir) && path[dir.len()] == b'/' && path.ends_with(name)
        };
        match self.slots.get(hint) {
            Some(s) if is_at(s) => self.trusts(&s.key, key),
            _ => {
                let rel = [dir, b"/", name].concat();
                self.proves(Path::new(std::ffi::OsStr::from_bytes(&rel)), key, usize::MAX)
            }
        }
    }

    /// The slot of `rel`: at `hint` when it is there, else by binary search.
    fn find(&self, rel: &Path, hint: usize) -> Option<usize> {
        let want = rel.as_os_str().as_encoded_bytes();
        if self.slots.get(hint).is_some_and(|s| &self.bytes[s.path.clone()] == want) {
            return Some(hint);
        }
        self.slots.binary_search_by(|s| self.bytes[s.path.clone()].cmp(want)).ok()
    }

    /// The checksum of the file as read (`None`: nothing usable was read). Two caches with the
    /// same checksum hold the same keys and summaries.
    pub fn checksum(&self) -> Option<u64> {
        self.checksum
    }

    /// [`IssueCache::summary`], for callers that hold the cache mutably.
    pub fn take(&mut self, rel: &Path, key: &Key) -> Option<Issue> {
        self.summary(rel.to_path_buf(), key, usize::MAX).ok()
    }

    /// Whether an entry's `key` proves the file with `current` key unchanged.
    fn trusts(&self, key: &Key, current: &Key) -> bool {
        key == current
            && match key {
                Key::Blob(_) => true,
                Key::Stat(s) => self.written.is_some_and(|w| s.mtime < w),
            }
    }

    /// Write `entries` as the new cache (atomically) and give its checksum; errors are ignored
    /// (`None`: the cache is only an optimisation, e.g. on a read-only repository).
    pub fn write(&self, entries: &[(&Issue, Key)]) -> Option<u64> {
        use std::io::{Seek, SeekFrom, Write};
        // By path bytes, as the key table is searched (`Path`'s own comparison goes component by
        // component, several times slower on ten thousand paths).
        fn bytes<'a>(e: &(&'a Issue, Key)) -> &'a [u8] {
            e.0.path.as_os_str().as_encoded_bytes()
        }
        let mut sorted: Vec<&(&Issue, Key)> = entries.iter().collect();
        sorted.sort_by(|a, b| bytes(a).cmp(bytes(b)));
        sorted.dedup_by(|a, b| bytes(a) == bytes(b));
        // The key table (path, key, where the summary lies in the summaries part) is built first
        // with each summary's place left blank: its length is then known, so the summaries are
        // encoded straight to the file after it (never all in memory) and their places filled in.
        let mut keys = Vec::with_capacity(sorted.len() * 96);
        let mut places = Vec::with_capacity(sorted.len());
        for (issue, key) in &sorted {
            put_bytes(&mut keys, issue.path.as_os_str().as_encoded_bytes());
            put_key(&mut keys, key);
            places.push(keys.len());
            put_u64(&mut keys, 0);
            put_u64(&mut keys, 0);
        }
        let stamp = stamp();
        let head_len = MAGIC.len() + 4 + stamp.len() + 8 + 8 + 4 + 8;
        let write = |file: &mut std::fs::File| -> std::io::Result<u64> {
            file.seek(SeekFrom::Start((head_len + keys.len()) as u64))?;
            let mut summaries_hash = Hash::new(0);
            let mut buf: Vec<u8> = Vec::with_capacity(STREAM_BUFFER + 4096);
            let mut flushed = 0;
            for (&place, (issue, _)) in places.iter().zip(&sorted) {
                let start = buf.len();
                put_issue(&mut buf, issue);
                keys[place..place + 8].copy_from_slice(&((flushed + start) as u64).to_le_bytes());
                keys[place + 8..place + 16].copy_from_slice(&((buf.len() - start) as u64).to_le_bytes());
                if buf.len() >= STREAM_BUFFER {
                    summaries_hash.update(&buf);
                    file.write_all(&buf)?;
                    flushed += buf.len();
                    buf.clear();
                }
            }
            summaries_hash.update(&buf);
            file.write_all(&buf)?;
            let (keys_sum, summaries_sum) = (hash(&keys), summaries_hash.finish());
            let mut head = Vec::with_capacity(head_len);
            head.extend_from_slice(MAGIC);
            put_bytes(&mut head, &stamp);
            put_u64(&mut head, keys_sum);
            put_u64(&mut head, summaries_sum);
            put_u32(&mut head, u32::try_from(sorted.len()).unwrap_or(u32::MAX));
            put_u64(&mut head, keys.len() as u64);
            file.seek(SeekFrom::Start(0))?;
            file.write_all(&head)?;
            file.write_all(&keys)?;
            Ok(combined(keys_sum, summaries_sum))
        };
        crate::base::fsutil::replace_cache_file(&self.file, write).ok()
    }
}

/// How many encoded summaries are gathered before they are written out.
const STREAM_BUFFER: usize = 64 * 1024;

/// The format version and this build of git-lanes: another build's cache is not trusted.
pub(crate) fn stamp() -> Vec<u8> {
    let mut s = Vec::with_capacity(64);
    put_u32(&mut s, FORMAT);
    put_str(&mut s, env!("CARGO_PKG_VERSION"));
    let exe = std::env::current_exe().ok().and_then(|p| std::fs::metadata(p).ok());
    let (size, mtime) = exe.map_or((0, (0, 0)), |m| (m.size(), (m.mtime(), m.mtime_nsec())));
    put_u64(&mut s, size);
    put_u64(&mut s, mtime.0 as u64);
    put_u64(&mut s, mtime.1 as u64);
    s
}

/// A fast 64-bit hash (word-wise multiply-xorshift), for the checksum and file names; not
/// cryptographic: it detects damage, not tampering (the cache lives in `.git`).
pub(crate) fn hash(bytes: &[u8]) -> u64 {
    let mut h = Hash::new(bytes.len());
    h.update(bytes);
    h.finish()
}

/// [`hash`] of bytes that come in pieces (their total length known first): the same value as
/// for the pieces joined, without joining them.
struct Hash {
    h: u64,
    carry: [u8; 8],
    carried: usize,
}

impl Hash {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;

    fn new(total_len: usize) -> Hash {
        Hash { h: 0xCBF2_9CE4_8422_2325 ^ (total_len as u64).wrapping_mul(Hash::K), carry: [0; 8], carried: 0 }
    }

    fn mix(&mut self, w: u64) {
        self.h = (self.h ^ w).wrapping_mul(Hash::K);
        self.h ^= self.h >> 29;
    }

    fn update(&mut self, mut bytes: &[u8]) {
        if self.carried > 0 {
            let take = (8 - self.carried).min(bytes.len());
            self.carry[self.carried..self.carried + take].copy_from_slice(&bytes[..take]);
            self.carried += take;
            bytes = &bytes[take..];
            if self.carried < 8 {
                return;
            }
            self.mix(u64::from_le_bytes(self.carry));
            self.carried = 0;
        }
        let mut words = bytes.chunks_exact(8);
        for c in &mut words {
            self.mix(u64::from_le_bytes(c.try_into().unwrap_or([0; 8])));
        }
        let rest = words.remainder();
        self.carry[..rest.len()].copy_from_slice(rest);
        self.carried = rest.len();
    }

    fn finish(mut self) -> u64 {
        for i in 0..self.carried {
            let b = self.carry[i];
            self.mix(u64::from(b));
        }
        self.h
    }
}

/// How much of a cache file is read first when only its keys are wanted: the head and, for a
/// small cache, everything.
const HEAD_GUESS: usize = 64 * 1024;

/// The fields of a cache file's head, and where the key table starts.
struct Head {
    keys_sum: u64,
    summaries_sum: u64,
    entries: usize,
    keys: Range<usize>,
}

fn head(bytes: &[u8]) -> Option<Head> {
    let mut r = Reader { b: bytes, at: 0 };
    if r.take(MAGIC.len())? != MAGIC || r.bytes()? != stamp().as_slice() {
        return None;
    }
    let (keys_sum, summaries_sum, entries) = (r.u64()?, r.u64()?, r.u32()? as usize);
    let len = r.usize()?;
    Some(Head { keys_sum, summaries_sum, entries, keys: r.at..r.at.checked_add(len)? })
}

/// Where the key table of a cache file ends, from its head.
fn keys_end(bytes: &[u8]) -> Option<usize> {
    Some(head(bytes)?.keys.end)
}

/// The summaries part's checksum: [`Hash`] seeded without the length, which the writer does
/// not know until it has streamed the last summary (the key table fixes every summary's place).
fn summaries_hash(bytes: &[u8]) -> u64 {
    let mut h = Hash::new(0);
    h.update(bytes);
    h.finish()
}

/// One number for both parts' checksums: the cache's identity.
fn combined(keys_sum: u64, summaries_sum: u64) -> u64 {
    hash(&[keys_sum.to_le_bytes(), summaries_sum.to_le_bytes()].concat())
}

/// Check a cache file's stamp and checksums and index its entries (paths and keys only). With
/// `summaries` false, `bytes` may end after the key table: the summaries are not checked (they
/// cannot be decoded then), and the checksum stands for them as written.
fn index(bytes: &[u8], summaries: bool) -> Option<(Vec<CacheSlot>, u64)> {
    let h = head(bytes)?;
    let table = bytes.get(h.keys.clone())?;
    if hash(table) != h.keys_sum {
        return None;
    }
    let rest = &bytes[h.keys.end..];
    if summaries && summaries_hash(rest) != h.summaries_sum {
        return None;
    }
    // A corrupt count cannot ask for more entries than there are bytes.
    if h.entries > table.len() {
        return None;
    }
    let mut r = Reader { b: bytes, at: h.keys.start };
    let mut slots: Vec<CacheSlot> = Vec::with_capacity(h.entries);
    for _ in 0..h.entries {
        let path = r.range()?;
        let key = r.key()?;
        let (start, len) = (r.usize()?, r.usize()?);
        let from = h.keys.end.checked_add(start)?;
        let summary = from..from.checked_add(len)?;
        if slots.last().is_some_and(|prev| bytes[prev.path.clone()] >= bytes[path.clone()]) || (summaries && summary.end > bytes.len()) {
            return None;
        }
        slots.push(CacheSlot { path, key, summary });
    }
    (r.at == h.keys.end).then_some((slots, combined(h.keys_sum, h.summaries_sum)))
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_u32(out, u32::try_from(b.len()).unwrap_or(u32::MAX));
    out.extend_from_slice(b);
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_bytes(out, s.as_bytes());
}

fn put_opt(out: &mut Vec<u8>, s: &Option<String>) {
    match s {
        None => out.push(0),
        Some(s) => {
            out.push(1);
            put_str(out, s);
        }
    }
}

fn put_list(out: &mut Vec<u8>, v: &[String]) {
    put_u32(out, u32::try_from(v.len()).unwrap_or(u32::MAX));
    for s in v {
        put_str(out, s);
    }
}

fn put_key(out: &mut Vec<u8>, key: &Key) {
    match key {
        Key::Stat(s) => {
            out.push(1);
            for v in [s.mtime.0 as u64, s.mtime.1 as u64, s.ctime.0 as u64, s.ctime.1 as u64, s.size, s.ino, s.dev] {
                put_u64(out, v);
            }
        }
        Key::Blob(id) => {
            out.push(2);
            out.extend_from_slice(id);
        }
    }
}

fn put_issue(out: &mut Vec<u8>, issue: &Issue) {
    // Destructured in full so a new field cannot be forgotten here (it would not compile).
    let Meta {
        issue_id,
        lane,
        severity,
        severity_level,
        type_tags,
        status,
        category,
        affected_paths,
        depends_on,
        blocks,
        related,
        time_box,
        date_verified,
        verification_confidence,
        verification_pattern,
        verification_depth,
        may_change,
    } = &issue.meta;
    let Facts { checks, key_lines, has_resolution, prose_extreme } = &issue.facts;
    put_str(out, issue_id);
    put_str(out, lane);
    out.push(severity.unwrap_or(0));
    put_opt(out, severity_level);
    put_list(out, type_tags);
    out.push(match status {
        Status::Open => 0,
        Status::Resolved => 1,
        Status::Wontfix => 2,
    });
    put_opt(out, category);
    put_list(out, affected_paths);
    put_list(out, depends_on);
    put_list(out, blocks);
    put_list(out, related);
    for o in [time_box, date_verified, verification_confidence, verification_pattern, verification_depth] {
        put_opt(out, o);
    }
    put_list(out, may_change);
    put_str(out, &issue.title);
    put_u64(out, issue.title_line as u64);
    out.push(u8::from(issue.bom));
    put_u32(out, u32::try_from(checks.len()).unwrap_or(u32::MAX));
    for c in checks {
        put_opt(out, &c.name);
        put_str(out, &c.command);
        put_u64(out, c.line as u64);
    }
    for line in key_lines {
        put_u32(out, *line);
    }
    out.push(u8::from(*has_resolution));
    put_opt(out, prose_extreme);
}

/// A bounds-checked reader; every read that runs off the end gives `None` (corrupt cache).
struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let s = self.b.get(self.at..end)?;
        self.at = end;
        Some(s)
    }

    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn usize(&mut self) -> Option<usize> {
        usize::try_from(self.u64()?).ok()
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }

    /// A length-prefixed run of bytes, as its place in the whole buffer.
    fn range(&mut self) -> Option<Range<usize>> {
        let n = self.u32()? as usize;
        let start = self.at;
        self.take(n)?;
        Some(start..self.at)
    }

    fn string(&mut self) -> Option<String> {
        std::str::from_utf8(self.bytes()?).ok().map(str::to_string)
    }

    fn opt(&mut self) -> Option<Option<String>> {
        match self.u8()? {
            0 => Some(None),
            1 => Some(Some(self.string()?)),
            _ => None,
        }
    }

    fn list(&mut self) -> Option<Vec<String>> {
        let n = self.u32()? as usize;
        // A corrupt length cannot ask for more entries than there are bytes left.
        if n > self.b.len() - self.at {
            return None;
        }
        (0..n).map(|_| self.string()).collect()
    }

    fn bool(&mut self) -> Option<bool> {
        match self.u8()? {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }

    fn key(&mut self) -> Option<Key> {
        match self.u8()? {
            1 => {
                let mut v = [0u64; 7];
                for x in &mut v {
                    *x = self.u64()?;
                }
                Some(Key::Stat(Stat {
                    mtime: (v[0] as i64, v[1] as i64),
                    ctime: (v[2] as i64, v[3] as i64),
                    size: v[4],
                    ino: v[5],
                    dev: v[6],
                }))
            }
            2 => Some(Key::Blob(self.take(20)?.try_into().ok()?)),
            _ => None,
        }
    }

    /// An issue's summary: its frontmatter, title and title line, BOM, and facts.
    fn summary(&mut self) -> Option<(Meta, String, usize, bool, Facts)> {
        let issue_id = self.string()?;
        let lane = self.string()?;
        let severity = match self.u8()? {
            0 => None,
            n => Some(n),
        };
        let severity_level = self.opt()?;
        let type_tags = self.list()?;
        let status = match self.u8()? {
            0 => Status::Open,
            1 => Status::Resolved,
            2 => Status::Wontfix,
            _ => return None,
        };
        let category = self.opt()?;
        let affected_paths = self.list()?;
        let depends_on = self.list()?;
        let blocks = self.list()?;
        let related = self.list()?;
        let time_box = self.opt()?;
        let date_verified = self.opt()?;
        let verification_confidence = self.opt()?;
        let verification_pattern = self.opt()?;
        let verification_depth = self.opt()?;
        let may_change = self.list()?;
        let meta = Meta {
            issue_id,
            lane,
            severity,
            severity_level,
            type_tags,
            status,
            category,
            affected_paths,
            depends_on,
            blocks,
            related,
            time_box,
            date_verified,
            verification_confidence,
            verification_pattern,
            verification_depth,
            may_change,
        };
        let title = self.string()?;
        let title_line = self.usize()?;
        let bom = self.bool()?;
        let n = self.u32()? as usize;
        if n > self.b.len() - self.at {
            return None;
        }
        let mut checks = Vec::with_capacity(n);
        for _ in 0..n {
            checks.push(Check { name: self.opt()?, command: self.string()?, line: self.usize()? });
        }
        let mut key_lines = [0u32; crate::files::issue::KEYS.len()];
        for line in &mut key_lines {
            *line = self.u32()?;
        }
        let has_resolution = self.bool()?;
        let prose_extreme = self.opt()?;
        let facts = Facts { checks, key_lines, has_resolution, prose_extreme };
        Some((meta, title, title_line, bom, facts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = include_str!("../../tests/fixtures/seed/minimal_demo/issues/E/E-01.md");

    fn same(a: &Issue, b: &Issue) {
        assert_eq!(a.path, b.path);
        assert_eq!(format!("{:?}", a.meta), format!("{:?}", b.meta));
        assert_eq!((&a.title, a.title_line, a.bom), (&b.title, b.title_line, b.bom));
        assert_eq!(a.facts, b.facts);
    }

    /// The stat data of a listing (`newfstatat` through rustix) and of an open file (std's
    /// `statx`) are the same numbers: a summary cached from one is proved by the other.
    #[test]
    fn raw_stat_data_is_std_stat_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("E-01.md");
        std::fs::write(&path, SEED).unwrap();
        let raw = rustix::fs::stat(&path).unwrap();
        assert_eq!(Stat::of_raw(&raw), Stat::of(&std::fs::metadata(&path).unwrap()));
        assert_eq!(Stat::of_raw(&raw), Stat::of_path(&path).unwrap());
    }

    /// The summaries' checksum is taken chunk by chunk: any split of the bytes hashes as the
    /// bytes whole, and as the word-wise formula the cache format was written with.
    #[test]
    fn a_hash_taken_in_pieces_is_the_hash_of_the_whole() {
        fn formula(bytes: &[u8]) -> u64 {
            const K: u64 = 0x9E37_79B9_7F4A_7C15;
            let mut h: u64 = 0xCBF2_9CE4_8422_2325 ^ (bytes.len() as u64).wrapping_mul(K);
            let mut words = bytes.chunks_exact(8);
            for w in &mut words {
                h = (h ^ u64::from_le_bytes(w.try_into().unwrap())).wrapping_mul(K);
                h ^= h >> 29;
            }
            for &b in words.remainder() {
                h = (h ^ u64::from(b)).wrapping_mul(K);
                h ^= h >> 29;
            }
            h
        }
        let bytes: Vec<u8> = (0..61u32).map(|i| (i * 37 % 251) as u8).collect();
        for len in [0, 1, 7, 8, 9, 16, 23, 61] {
            let whole = hash(&bytes[..len]);
            assert_eq!(whole, formula(&bytes[..len]), "len {len}");
            for a in 0..=len {
                for b in a..=len {
                    let mut h = Hash::new(len);
                    for piece in [&bytes[..a], &bytes[a..b], &bytes[b..len]] {
                        h.update(piece);
                    }
                    assert_eq!(h.finish(), whole, "len {len}, split at {a} and {b}");
                }
            }
        }
    }

    #[test]
    fn summaries_round_trip_and_damage_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.bin");
        let issue = Issue::parse(Path::new("issues/E/E-01.md"), SEED.as_bytes().to_vec()).unwrap();
        let key = Key::Blob([7; 20]);
        IssueCache::read(file.clone()).write(&[(&issue, key)]);
        let mut c = IssueCache::read(file.clone());
        assert_eq!(c.len(), 1);
        assert!(c.take(&issue.path, &Key::Blob([8; 20])).is_none(), "another blob id is another file");
        let back = c.take(&issue.path, &key).expect("cached");
        same(&back, &issue);
        assert!(back.from_cache() && back.text().is_empty());
        assert_eq!(back.checks(), issue.checks());
        assert_eq!(back.key_line("status"), issue.key_line("status"));

        let good = std::fs::read(&file).unwrap();
        for cut in [0, 5, good.len() / 2, good.len() - 1] {
            std::fs::write(&file, &good[..cut]).unwrap();
            assert!(IssueCache::read(file.clone()).is_empty(), "truncated at {cut}");
        }
        let mut flipped = good.clone();
        let last = flipped.len() - 3;
        flipped[last] ^= 0x55;
        std::fs::write(&file, &flipped).unwrap();
        assert!(IssueCache::read(file.clone()).is_empty(), "checksum catches a flipped byte");
        let mut other = good.clone();
        other[MAGIC.len() + 4] ^= 1; // the format version inside the stamp
        std::fs::write(&file, &other).unwrap();
        assert!(IssueCache::read(file.clone()).is_empty(), "another stamp is not trusted");
    }

    #[test]
    fn racy_stat_entries_are_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.bin");
        let issue = Issue::parse(Path::new("issues/E/E-01.md"), SEED.as_bytes().to_vec()).unwrap();
        let meta = std::fs::metadata(dir.path()).unwrap();
        let mut stat = Stat::of(&meta);
        // An mtime far in the future: not older than the cache file, so racy.
        stat.mtime.0 += 3600;
        IssueCache::read(file.clone()).write(&[(&issue, Key::Stat(stat))]);
        let mut c = IssueCache::read(file.clone());
        assert_eq!(c.len(), 1);
        assert!(c.take(&issue.path, &Key::Stat(stat)).is_none());
        stat.mtime.0 -= 7200;
        IssueCache::read(file.clone()).write(&[(&issue, Key::Stat(stat))]);
        assert!(IssueCache::read(file).take(&issue.path, &Key::Stat(stat)).is_some());
    }
}
