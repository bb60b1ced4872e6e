//! Loading a repository's issues, agent specs and lanes in one pass (issue files are read and
//! parsed in parallel). Problems in individual files are collected, not fatal, so `validate` can
//! list them all; commands that write refuse to go on while any exist.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use rustix::fs::{Mode, OFlags};

use crate::base::error::{Error, Problem, Result};
use crate::files::config::Config;
use crate::files::issue::Issue;
use crate::files::issue_cache::{IssueCache, Key, Stat};
use crate::files::names;
use crate::files::spec::{self, AgentSpec};

/// What [`Workspace::proves_unchanged`] found: the summary cache's checksum and the inputs
/// loaded besides the issue files.
#[derive(Debug)]
pub struct Unchanged {
    pub checksum: u64,
    pub lane_dirs: BTreeSet<String>,
    pub specs: BTreeMap<String, AgentSpec>,
}

/// Everything git-lanes knows about the repository's issues.
#[derive(Debug)]
pub struct Workspace {
    pub root: PathBuf,
    pub config: Config,
    /// Parsed issues, ordered by lane then natural id.
    pub issues: Vec<Issue>,
    /// Fixer specs by lane.
    pub specs: BTreeMap<String, AgentSpec>,
    /// Problems found while loading (unparseable files, misplaced issues, bad names).
    pub problems: Vec<Problem>,
    /// Lane folders under the issues directory (even empty ones).
    pub lane_dirs: BTreeSet<String>,
}

impl Workspace {
    /// Load issues and specs under `root` with `config`, reading and parsing every issue file.
    pub fn load(root: &Path, config: Config) -> Result<Workspace> {
        let mut problems = Vec::new();
        let (listings, lane_dirs) = issue_files(root, &config.issues, false, &mut problems)?;
        let files = flatten(listings, &mut problems);
        let parsed: Vec<_> = files
            .par_iter()
            .map(|f| {
                let (bytes, _) = f.lane.read(root, &f.rel)?;
                Ok((f.lane.name.as_str(), Issue::parse(&f.rel, bytes).map(Box::new)))
            })
            .collect::<Result<Vec<_>>>()?;
        let issues = collect_issues(parsed, &mut problems);
        let specs = load_specs(root, &config.fixer_specs, &mut problems)?;
        Ok(Workspace { root: root.to_path_buf(), config, issues, specs, problems, lane_dirs })
    }

    /// [`Workspace::load`] through the summary cache in `cache_dir` (see `issue_cache.rs`): a file
    /// whose stat data is unchanged is not read; the cache is rewritten when anything changed.
    ///
    /// Issues from the cache carry no text ([`Issue::from_cache`]): for commands that only read
    /// issue files (status, sync, validate, plan, check), never for commands that edit them.
    /// With `write_back` false the cache is only read (`plan`, like `run --dry-run`, writes
    /// nothing at all).
    pub fn load_cached(root: &Path, config: Config, cache_dir: &Path, write_back: bool) -> Result<Workspace> {
        Ok(Workspace::load_cached_proved(root, config, cache_dir, write_back)?.0)
    }

    /// [`Workspace::load_cached`], and the summary cache's checksum when the cache now holds
    /// exactly the loaded issues (every issue file parsed, none misplaced by name or folder):
    /// what [`Workspace::proves_unchanged`] gives while nothing changes.
    pub fn load_cached_proved(root: &Path, config: Config, cache_dir: &Path, write_back: bool) -> Result<(Workspace, Option<u64>)> {
        let (ws, checksum, ()) = Workspace::load_cached_while(root, config, cache_dir, write_back, |_| ())?;
        Ok((ws, checksum))
    }

    /// [`Workspace::load_cached_proved`], running `work` on the loaded workspace while the
    /// summary cache is rewritten (on a thread of its own: after a cold load of ten thousand
    /// files, writing the cache takes about as long as a command's answer).
    pub fn load_cached_while<R>(
        root: &Path,
        config: Config,
        cache_dir: &Path,
        write_back: bool,
        work: impl FnOnce(&Workspace) -> R,
    ) -> Result<(Workspace, Option<u64>, R)> {
        let mut problems = Vec::new();
        let (listings, lane_dirs, cache) = list_and_read_cache(root, &config.issues, cache_dir, true, &mut problems)?;
        let in_order = listed_in_issue_order(&listings);
        let files = flatten(listings, &mut problems);
        // Look up and (when changed) read and parse in parallel. A parsed issue keeps only its
        // summary, like one from the cache: the texts of ten thousand files are never all in
        // memory at once. The issues are collected apart from what else is known of each file,
        // so that in the usual case (every file parsed, listed in issue order) they become the
        // workspace's issues where they lie. A read error fails the load (`failed`).
        let failed: std::sync::Mutex<Option<Error>> = std::sync::Mutex::new(None);
        let (results, sides): (Vec<std::result::Result<Issue, Problem>>, Vec<Side>) = files
            .into_par_iter()
            .enumerate()
            // Each piece of the work reads its files into one buffer (parsing keeps no text).
            .map_init(Vec::new, |bytes, (at, Listed { lane, rel, key })| {
                // The listed path becomes the issue's (no copy).
                let rel = match &key {
                    Some(k) => match cache.summary(rel, k, at) {
                        Ok(issue) => {
                            let layout = layout_problem(&issue, &lane.name).map(Box::new);
                            return (Ok(issue), Side { key, hit: true, layout });
                        }
                        Err(rel) => rel,
                    },
                    None => rel,
                };
                // The stat data is taken before the read (when listed, or from the open file when
                // the listing took none): a write racing the read changes the stat data, and the
                // next call reads the file again.
                match lane.read_into(root, &rel, bytes) {
                    Ok(stat) => {
                        let key = key.or(Some(Key::Stat(stat)));
                        let parsed = Issue::parse_summary_at(rel, bytes);
                        let layout = parsed.as_ref().ok().and_then(|issue| layout_problem(issue, &lane.name)).map(Box::new);
                        (parsed, Side { key, hit: false, layout })
                    }
                    Err(e) => {
                        failed.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get_or_insert(e);
                        (Err(Problem::new(&rel, 0, "not read")), Side { key: None, hit: false, layout: None })
                    }
                }
            })
            .unzip();
        if let Some(e) = failed.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner) {
            return Err(e);
        }
        // Rewrite when a summary was taken afresh or an entry is gone; a file that does not parse
        // is never cached (it is read again each time, and does not force a rewrite).
        let cacheable = results.iter().zip(&sides).filter(|(r, side)| r.is_ok() && side.key.is_some());
        let stale = cacheable.clone().any(|(_, side)| !side.hit) || cacheable.clone().count() != cache.len();
        let all_cacheable = cacheable.count() == results.len();
        // The problems in file order: parse errors, and ids or lanes that are not their file's
        // name or folder (found on the pool, beside each parse).
        problems.extend(results.iter().zip(&sides).filter_map(|(r, side)| match r {
            Err(p) => Some(p.clone()),
            Ok(_) => side.layout.as_deref().cloned(),
        }));
        // Every issue named after its id, in its lane's folder, listed in issue order: they are
        // in order as parsed.
        let order = if in_order && sides.iter().all(|side| side.layout.is_none()) {
            (0..results.len()).filter(|&i| results[i].is_ok()).collect()
        } else {
            issue_order(&results.iter().map(std::result::Result::as_ref).collect::<Vec<_>>())
        };
        // Every parsed issue has a key (from the listing or the open file), so the issues and
        // their keys, in order, are exactly the cache's entries.
        let keys: Vec<Option<Key>> = take_in_order(sides, &order, |side| Some(side.key));
        let issues = take_in_order(results, &order, std::result::Result::ok);
        let specs = load_specs(root, &config.fixer_specs, &mut problems)?;
        let ws = Workspace { root: root.to_path_buf(), config, issues, specs, problems, lane_dirs };
        let (written, out) = if !stale {
            (cache.checksum(), work(&ws))
        } else if !write_back {
            (None, work(&ws))
        } else {
            std::thread::scope(|scope| {
                let writer = scope.spawn(|| {
                    let entries: Vec<(&Issue, Key)> = ws.issues.iter().zip(&keys).filter_map(|(i, k)| Some((i, (*k)?))).collect();
                    cache.write(&entries)
                });
                let out = work(&ws);
                (writer.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)), out)
            })
        };
        let checksum = written.filter(|_| all_cacheable && ws.problems.is_empty());
        Ok((ws, checksum, out))
    }

    /// Whether every issue file under `root` is unchanged since the summary cache was written
    /// (stat data, git's racy rule) and none is new, gone or misplaced, without decoding a
    /// summary: the cache's checksum then, with the lane folders and the agent specs (which must
    /// all load without a problem). Commands answer from remembered results with it
    /// (`answers.rs`).
    pub fn proves_unchanged(root: &Path, config: &Config, cache_dir: &Path) -> Result<Option<Unchanged>> {
        // Without a cache file nothing can be proved: no listing (and no stat of every file).
        if !IssueCache::for_worktree(cache_dir, root).exists() {
            return Ok(None);
        }
        let mut problems = Vec::new();
        let (listings, lane_dirs, cache) = list_and_read_cache(root, &config.issues, cache_dir, false, &mut problems)?;
        let Some(checksum) = cache.checksum() else { return Ok(None) };
        let listed: usize = listings.iter().map(|l| l.entries.len()).sum();
        if !problems.is_empty() || listings.iter().any(|l| !l.problems.is_empty()) || listed != cache.len() {
            return Ok(None);
        }
        // Each file is compared with the cache's entry where it should be (the lanes' files lie
        // in the cache in listing order), by its folder and name: no path is built.
        let same = listings.iter().flat_map(|l| l.entries.iter().map(move |e| (l, e))).enumerate().all(|(at, (l, e))| {
            e.stat.is_some_and(|st| cache.proves_in(l.rel_dir.as_os_str().as_encoded_bytes(), l.name(e), &Key::Stat(st), at))
        });
        let specs = load_specs(root, &config.fixer_specs, &mut problems)?;
        Ok((same && problems.is_empty()).then_some(Unchanged { checksum, lane_dirs, specs }))
    }

    /// Build a workspace from files already in memory (e.g. read from a commit's tree by
    /// `check`): `issue_files` are `(path relative to the root, bytes)` of the files under
    /// `config.issues`, `spec_files` those under `config.fixer_specs`. Files that are not issue or
    /// spec files by name are ignored, exactly as when loading from disk.
    pub fn from_files(root: &Path, config: Config, issue_files: Vec<(PathBuf, Vec<u8>)>, spec_files: Vec<(PathBuf, Vec<u8>)>) -> Workspace {
        Workspace::from_files_and_summaries(root, config, issue_files, Vec::new(), spec_files)
    }

    /// [`Workspace::from_files`] where some issue files are already parsed (`summaries`, e.g.
    /// from the summary cache by blob id); they go through the same layout checks by path.
    pub fn from_files_and_summaries(
        root: &Path,
        config: Config,
        issue_files: Vec<(PathBuf, Vec<u8>)>,
        summaries: Vec<Issue>,
        spec_files: Vec<(PathBuf, Vec<u8>)>,
    ) -> Workspace {
        let mut problems = Vec::new();
        let mut lane_dirs = BTreeSet::new();
        let mut bad_dirs = BTreeSet::new();
        let mut files = Vec::with_capacity(issue_files.len() + summaries.len());
        let entries =
            issue_files.into_iter().map(|(rel, bytes)| (rel, Err(bytes))).chain(summaries.into_iter().map(|i| (i.path.clone(), Ok(i))));
        for (rel, bytes) in entries {
            let Ok(inner) = rel.strip_prefix(&config.issues) else { continue };
            let mut parts = inner.iter();
            let (Some(dir), Some(fname), None) = (parts.next(), parts.next(), parts.next()) else { continue };
            let (dir, fname) = (dir.to_string_lossy().into_owned(), fname.to_string_lossy().into_owned());
            if dir.starts_with('.') {
                continue;
            }
            if !lane_dirs.contains(&dir) {
                if bad_dirs.contains(&dir) {
                    continue;
                }
                if let Err(p) = check_lane_dir(&config.issues.join(&dir), &dir) {
                    problems.push(p);
                    bad_dirs.insert(dir);
                    continue;
                }
                lane_dirs.insert(dir.clone());
            }
            match issue_file_stem(&fname).map(|stem| check_issue_name(&rel, stem)) {
                None => {}
                Some(Err(p)) => problems.push(p),
                Some(Ok(())) => files.push((dir, rel, bytes)),
            }
        }
        let parsed: Vec<_> = files
            .into_par_iter()
            .map(|(dir, rel, loaded): (String, PathBuf, std::result::Result<Issue, Vec<u8>>)| match loaded {
                Ok(issue) => (dir, Ok(Box::new(issue))),
                Err(bytes) => (dir, Issue::parse(&rel, bytes).map(Box::new)),
            })
            .collect();
        let issues = collect_issues(parsed, &mut problems);
        let mut specs = BTreeMap::new();
        for (rel, bytes) in spec_files {
            let Some(fname) = rel.file_name().map(|f| f.to_string_lossy().into_owned()) else { continue };
            if rel.parent() != Some(config.fixer_specs.as_path()) {
                continue;
            }
            if let Some((lane, spec)) = parse_spec(&rel, &fname, bytes, &mut problems) {
                specs.insert(lane, spec);
            }
        }
        Workspace { root: root.to_path_buf(), config, issues, specs, problems, lane_dirs }
    }

    /// The lanes: `lanes.yaml`'s list if pinned, else the union of spec files, issue folders,
    /// lanes named by issues, and `extra` (e.g. the catalog's lane sections), in natural order.
    pub fn lanes(&self, extra: &[String]) -> Vec<String> {
        if let Some(pinned) = &self.config.lanes {
            return pinned.clone();
        }
        let mut set: BTreeSet<&str> = self.specs.keys().map(String::as_str).collect();
        set.extend(self.lane_dirs.iter().map(String::as_str));
        // One insert per run of a lane's issues (they are in lane order).
        set.extend(self.issues.chunk_by(|a, b| a.lane() == b.lane()).map(|run| run[0].lane()));
        set.extend(extra.iter().map(String::as_str));
        let mut v: Vec<String> = set.into_iter().filter(|l| names::check_lane(l).is_ok()).map(str::to_string).collect();
        v.sort_by(|a, b| names::natural_cmp(a, b));
        v
    }

    /// Issues of one lane, in natural id order.
    pub fn lane_issues<'a>(&'a self, lane: &'a str) -> impl Iterator<Item = &'a Issue> + 'a {
        self.issues.iter().filter(move |i| i.lane() == lane)
    }

    /// Look an issue up by id.
    pub fn issue(&self, id: &str) -> Option<&Issue> {
        self.issues.iter().find(|i| i.id() == id)
    }

    /// Map from id to issue (the first one when ids are duplicated).
    pub fn by_id(&self) -> HashMap<&str, &Issue> {
        let mut m = HashMap::with_capacity(self.issues.len());
        for i in &self.issues {
            m.entry(i.id()).or_insert(i);
        }
        m
    }

    /// Fail with every loading problem and every duplicate id (an error everywhere),
    /// for commands that must not write on bad input.
    pub fn ensure_clean(&self) -> Result<()> {
        let mut problems = self.problems.clone();
        problems.extend(duplicate_ids(&self.issues));
        if problems.is_empty() { Ok(()) } else { Err(Error::from(problems)) }
    }

    /// End the workspace without freeing it piece by piece, for a command about to exit:
    /// freeing ten thousand issues costs about as much as reading them from the summary cache,
    /// and the process's memory goes back to the system at exit anyway.
    pub fn release_at_exit(self) {
        std::mem::forget(self);
    }

    /// The description of a lane from its spec (for catalog headings).
    pub fn lane_title(&self, lane: &str) -> Option<String> {
        self.specs.get(lane).and_then(AgentSpec::lane_title)
    }
}

/// [`issue_files`] and the worktree's summary cache, read at the same time (the cache on this
/// thread while the pool lists and stats the lane folders).
/// With `summaries` false only the cache's keys are read ([`IssueCache::read_keys`]).
fn list_and_read_cache(
    root: &Path,
    issues: &Path,
    cache_dir: &Path,
    summaries: bool,
    problems: &mut Vec<Problem>,
) -> Result<(Vec<LaneListing>, BTreeSet<String>, IssueCache)> {
    let file = IssueCache::for_worktree(cache_dir, root);
    // Without a cache file every issue file is read, and its stat data taken from the open file:
    // no stat when listing.
    let stat = !summaries || file.exists();
    let (listed, cache) = rayon::join(
        || issue_files(root, issues, stat, problems),
        || if summaries { IssueCache::read(file) } else { IssueCache::read_keys(file) },
    );
    let (files, lanes) = listed?;
    Ok((files, lanes, cache))
}

/// One issue file found under `issues/<LANE>/`: its lane folder, path relative to the root, and
/// stat data (taken when listed, before any read, relative to the lane folder's descriptor).
#[derive(Debug)]
struct Listed {
    lane: std::sync::Arc<LaneDir>,
    rel: PathBuf,
    key: Option<Key>,
}

/// What is known of a listed file besides its issue: the key that proves it unchanged, whether
/// its summary came from the cache, and its layout problem.
struct Side {
    key: Option<Key>,
    hit: bool,
    /// The issue's id is not its file's name, or its lane not its folder.
    layout: Option<Box<Problem>>,
}

/// A lane folder as listed: its name, and the folder held open, so its files are opened by name
/// (one lookup each, not one per folder of their paths).
#[derive(Debug)]
struct LaneDir {
    name: String,
    fd: std::os::fd::OwnedFd,
}

impl LaneDir {
    /// Read the issue file at `rel` (in this folder) and take its stat data from the open file.
    fn read(&self, root: &Path, rel: &Path) -> Result<(Vec<u8>, Stat)> {
        let (bytes, stat) =
            crate::base::fsutil::read_in_with_stat(&self.fd, file_name(rel), || root.join(rel), crate::files::text::MAX_FILE_BYTES)?;
        Ok((bytes, Stat::of_raw(&stat)))
    }

    /// [`LaneDir::read`] into `bytes` (emptied first).
    fn read_into(&self, root: &Path, rel: &Path, bytes: &mut Vec<u8>) -> Result<Stat> {
        let stat = crate::base::fsutil::read_in_with_stat_into(
            &self.fd,
            file_name(rel),
            || root.join(rel),
            bytes,
            crate::files::text::MAX_FILE_BYTES,
        )?;
        Ok(Stat::of_raw(&stat))
    }
}

/// One lane folder's issue files as listed: their names in one buffer, sorted by name bytes, each
/// with its stat data when asked for, and the problems of names that are no ids.
struct LaneListing {
    lane: std::sync::Arc<LaneDir>,
    /// `issues/<LANE>`, relative to the root.
    rel_dir: PathBuf,
    names: Vec<u8>,
    entries: Vec<ListedFile>,
    /// Whether the entries (in name-byte order) are in natural id order too.
    in_natural_order: bool,
    problems: Vec<Problem>,
}

/// One listed file: where its name lies in [`LaneListing::names`], its first eight bytes as a
/// number (for sorting), and its stat data.
struct ListedFile {
    prefix: u64,
    start: u32,
    len: u32,
    stat: Option<Stat>,
}

impl LaneListing {
    fn name(&self, e: &ListedFile) -> &[u8] {
        &self.names[e.start as usize..][..e.len as usize]
    }

    /// The name without `.md` (listed names are ids, so UTF-8).
    fn stem(&self, e: &ListedFile) -> Option<&str> {
        std::str::from_utf8(self.name(e)).ok()?.strip_suffix(".md")
    }

    /// The listed files' paths relative to the root, in order.
    fn into_listed(self, out: &mut Vec<Listed>, problems: &mut Vec<Problem>) {
        let dir = self.rel_dir.as_os_str().as_encoded_bytes();
        for e in &self.entries {
            let name = self.name(e);
            let mut rel = Vec::with_capacity(dir.len() + 1 + name.len());
            rel.extend_from_slice(dir);
            rel.push(b'/');
            rel.extend_from_slice(name);
            let rel = PathBuf::from(std::ffi::OsString::from_vec(rel));
            out.push(Listed { lane: self.lane.clone(), rel, key: e.stat.map(Key::Stat) });
        }
        problems.extend(self.problems);
    }
}

/// Every `*.md` under `issues/<LANE>/` and the lane folders; each lane folder is listed (and its
/// files stat'ed) on its own thread, its files sorted by name bytes, as the summary cache is.
/// With `stat` false no stat data is taken.
fn issue_files(root: &Path, issues: &Path, stat: bool, problems: &mut Vec<Problem>) -> Result<(Vec<LaneListing>, BTreeSet<String>)> {
    let dir = root.join(issues);
    let mut lanes = BTreeSet::new();
    let rd = match std::fs::read_dir(&dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), lanes)),
        Err(e) => return Err(Error::io("read directory", &dir, e)),
    };
    for entry in rd {
        let entry = entry.map_err(|e| Error::io("read directory", &dir, e))?;
        if !entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        match check_lane_dir(&issues.join(&name), &name) {
            Err(p) => problems.push(p),
            Ok(()) => {
                lanes.insert(name);
            }
        }
    }
    let listed = lanes.par_iter().map(|lane| list_lane(root, issues, lane, stat)).collect::<Result<Vec<_>>>()?;
    Ok((listed, lanes))
}

/// The listed files of every lane, in order, as one list (their problems into `problems`).
fn flatten(listings: Vec<LaneListing>, problems: &mut Vec<Problem>) -> Vec<Listed> {
    let mut files = Vec::with_capacity(listings.iter().map(|l| l.entries.len()).sum());
    for l in listings {
        l.into_listed(&mut files, problems);
    }
    files
}

/// Whether the listing is already in issue order (by lane, then natural id) for issues whose id
/// is their file's name and whose lane is their folder: then ordering the parsed issues is
/// proved from the names, which lie together, not by visiting ten thousand parsed issues. Each
/// lane's own names were compared as it was listed (on the pool); here only where one lane's
/// files end and the next one's begin.
fn listed_in_issue_order(listings: &[LaneListing]) -> bool {
    let mut previous: Option<(&str, &str)> = None;
    for l in listings {
        if !l.in_natural_order {
            return false;
        }
        let (Some(first), Some(last)) = (l.entries.first(), l.entries.last()) else { continue };
        let (Some(first), Some(last)) = (l.stem(first), l.stem(last)) else { return false };
        let lane = l.lane.name.as_str();
        if previous.is_some_and(|p| by_lane_and_id(p, (lane, first)).is_gt()) {
            return false;
        }
        previous = Some((lane, last));
    }
    true
}

/// Issue order: by lane, then natural id.
fn by_lane_and_id((lane_a, a): (&str, &str), (lane_b, b): (&str, &str)) -> std::cmp::Ordering {
    names::natural_cmp(lane_a, lane_b).then_with(|| names::natural_cmp(a, b))
}

/// The issue files of one lane folder, sorted by name bytes, with their stat data when `stat`
/// (taken relative to the folder's descriptor, never following a link). The folder is read
/// with `getdents` into one buffer: no allocation per entry.
fn list_lane(root: &Path, issues: &Path, lane: &str, stat: bool) -> Result<LaneListing> {
    use rustix::fs::{AtFlags, FileType};
    let rel_dir = issues.join(lane);
    let sub = root.join(&rel_dir);
    let failed = |e: rustix::io::Errno| Error::io("read directory", &sub, e.into());
    let fd = rustix::fs::open(&sub, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()).map_err(failed)?;
    let (mut names, mut entries, mut problems) = (Vec::new(), Vec::new(), Vec::new());
    let mut buf = Vec::with_capacity(32 * 1024);
    let mut dir = rustix::fs::RawDir::new(&fd, buf.spare_capacity_mut());
    while let Some(entry) = dir.next() {
        let entry = entry.map_err(failed)?;
        let fname = entry.file_name().to_bytes();
        // Hidden files (and `.`, `..`) and files not named `*.md` are not issue files.
        if fname.first() == Some(&b'.') || !fname.ends_with(b".md") {
            continue;
        }
        let kind = entry.file_type();
        let st = if stat || kind == FileType::Unknown {
            rustix::fs::statat(&fd, entry.file_name(), AtFlags::SYMLINK_NOFOLLOW).ok()
        } else {
            None
        };
        let is_file = match kind {
            FileType::RegularFile => true,
            FileType::Unknown => st.as_ref().is_some_and(|s| FileType::from_raw_mode(s.st_mode) == FileType::RegularFile),
            _ => false,
        };
        if !is_file {
            continue;
        }
        let stem = &fname[..fname.len() - 3];
        if !std::str::from_utf8(stem).is_ok_and(|stem| names::check_id(stem).is_ok()) {
            // Not UTF-8 (then it is no id either) or not an id: say so, by the name as it reads.
            let rel = rel_dir.join(std::ffi::OsStr::from_bytes(fname));
            let stem = String::from_utf8_lossy(stem);
            if let Err(p) = check_issue_name(&rel, &stem) {
                problems.push(p);
            }
            continue;
        }
        let (Ok(start), Ok(len)) = (u32::try_from(names.len()), u32::try_from(fname.len())) else {
            return Err(Error::io("read directory", &sub, std::io::ErrorKind::OutOfMemory.into()));
        };
        names.extend_from_slice(fname);
        entries.push(ListedFile { prefix: name_prefix(fname), start, len, stat: st.filter(|_| stat).map(|s| Stat::of_raw(&s)) });
    }
    // By name bytes (the folder is the same): most names differ in their first eight bytes, so
    // most comparisons are of one number.
    let name = |e: &ListedFile| &names[e.start as usize..][..e.len as usize];
    entries.sort_unstable_by(|a, b| a.prefix.cmp(&b.prefix).then_with(|| name(a).cmp(name(b))));
    // Listed names are ids (checked above), so UTF-8. Two names of one length with digits in the
    // same places (zero-padded ids) compare naturally as they compare by bytes: only the others
    // are compared digit run by digit run.
    let stem = |e: &ListedFile| std::str::from_utf8(&name(e)[..e.len as usize - 3]).unwrap_or("");
    let same_shape = |a: &[u8], b: &[u8]| a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.is_ascii_digit() == y.is_ascii_digit());
    let in_natural_order =
        entries.windows(2).all(|w| same_shape(name(&w[0]), name(&w[1])) || names::natural_cmp(stem(&w[0]), stem(&w[1])).is_le());
    let lane = std::sync::Arc::new(LaneDir { name: lane.to_string(), fd });
    Ok(LaneListing { lane, rel_dir, names, entries, in_natural_order, problems })
}

/// The first eight bytes of `name` as a number that sorts as they do (names hold no NUL, so a
/// shorter name, padded with zeros, sorts first, as it does byte by byte).
fn name_prefix(name: &[u8]) -> u64 {
    let mut first = [0u8; 8];
    let n = name.len().min(8);
    first[..n].copy_from_slice(&name[..n]);
    u64::from_be_bytes(first)
}

/// Keep the parsed issues, collecting parse and layout problems; sort by lane then natural id.
fn collect_issues<D: AsRef<str> + Sync>(
    parsed: Vec<(D, std::result::Result<Box<Issue>, Problem>)>,
    problems: &mut Vec<Problem>,
) -> Vec<Issue> {
    let view: Vec<(&str, std::result::Result<&Issue, &Problem>)> = parsed.iter().map(|(d, r)| (d.as_ref(), r.as_deref())).collect();
    let (order, found) = order_and_problems(&view);
    drop(view);
    problems.extend(found);
    take_in_order(parsed, &order, |(_, r)| r.ok().map(|b| *b))
}

/// Where each parsed issue goes (by lane, then natural id) and the problems in file order: parse
/// errors and files whose id or lane does not match their name or folder. `parsed` holds each
/// file's lane folder and parse result.
fn order_and_problems(parsed: &[(&str, std::result::Result<&Issue, &Problem>)]) -> (Vec<usize>, Vec<Problem>) {
    let problems = parsed
        .par_iter()
        .filter_map(|&(lane_dir, r)| match r {
            Ok(issue) => layout_problem(issue, lane_dir),
            Err(p) => Some(p.clone()),
        })
        .collect();
    let results: Vec<std::result::Result<&Issue, &Problem>> = parsed.iter().map(|(_, r)| *r).collect();
    (issue_order(&results), problems)
}

/// Where each parsed issue goes: by lane, then natural id (parse errors have no place).
fn issue_order(parsed: &[std::result::Result<&Issue, &Problem>]) -> Vec<usize> {
    let mut order: Vec<(usize, &Issue)> = parsed.iter().enumerate().filter_map(|(i, r)| Some((i, *r.as_ref().ok()?))).collect();
    let by_lane_and_id = |(_, a): &(usize, &Issue), (_, b): &(usize, &Issue)| by_lane_and_id((a.lane(), a.id()), (b.lane(), b.id()));
    // Files are listed by name, which is already this order when ids are zero-padded: one pass
    // proves it, instead of a sort's many comparisons.
    if !order.is_sorted_by(|a, b| by_lane_and_id(a, b).is_le()) {
        order.sort_by(by_lane_and_id);
    }
    order.into_iter().map(|(i, _)| i).collect()
}

/// The parsed elements in `order` (from [`order_and_problems`]); `take` keeps what is wanted of
/// each (its issue, say). When `order` keeps every element where it is (the usual case), they
/// stay in place: no element is moved to a new vector.
fn take_in_order<T, U>(parsed: Vec<T>, order: &[usize], take: impl Fn(T) -> Option<U>) -> Vec<U> {
    if order.len() == parsed.len() && order.iter().enumerate().all(|(at, &i)| at == i) {
        return parsed.into_iter().filter_map(take).collect();
    }
    let mut slots: Vec<Option<U>> = parsed.into_iter().map(take).collect();
    order.iter().filter_map(|&i| slots[i].take()).collect()
}

/// A lane folder's name must be a lane name.
fn check_lane_dir(rel_dir: &Path, name: &str) -> std::result::Result<(), Problem> {
    names::check_lane(name).map_err(|m| Problem::new(rel_dir, 0, m).with_hint("rename the folder to a lane name such as `E` or `Data_2`"))
}

/// `E-01.md` → `E-01`; hidden and non-markdown files are not issue files.
fn issue_file_stem(fname: &str) -> Option<&str> {
    if fname.starts_with('.') { None } else { fname.strip_suffix(".md") }
}

/// An issue file's name must be an id.
fn check_issue_name(rel: &Path, stem: &str) -> std::result::Result<(), Problem> {
    names::check_id(stem)
        .map_err(|m| Problem::new(rel, 0, format!("file name: {m}")).with_hint("name issue files after their id, e.g. `E-01.md`"))
}

/// Parse one spec file named `fname` (`IF-Lane-E.md`); `None` when it is not a spec file or is
/// broken (the problem is collected).
fn parse_spec(rel: &Path, fname: &str, bytes: Vec<u8>, problems: &mut Vec<Problem>) -> Option<(String, AgentSpec)> {
    let lane = spec::lane_of_file(fname)?;
    if let Err(m) = names::check_lane(lane) {
        problems.push(Problem::new(rel, 0, m));
        return None;
    }
    match AgentSpec::parse(rel, lane, bytes) {
        Ok(s) => Some((lane.to_string(), s)),
        Err(p) => {
            problems.push(p);
            None
        }
    }
}

/// The last component of a path that is a folder's and a name's, joined by `/` (as listed):
/// found by one search from its end, not by parsing every component.
fn file_name(rel: &Path) -> &std::ffi::OsStr {
    let bytes = rel.as_os_str().as_bytes();
    let start = memchr::memrchr(b'/', bytes).map_or(0, |i| i + 1);
    std::ffi::OsStr::from_bytes(&bytes[start..])
}

/// The id must equal the file name and the lane the folder (docs/formats.md#issue-file).
fn layout_problem(issue: &Issue, lane_dir: &str) -> Option<Problem> {
    let name = file_name(&issue.path).as_bytes();
    // The usual case, proved without building the stem: `<id>.md` in the lane's own folder (the
    // name was checked to be an id when listed).
    if issue.lane() == lane_dir && name.strip_suffix(b".md") == Some(issue.id().as_bytes()) {
        return None;
    }
    let stem = issue.path.file_stem().map(|s| s.to_string_lossy()).unwrap_or_default();
    if let Err(m) = names::check_id(issue.id()) {
        return Some(Problem::new(&issue.path, issue.key_line("issue_id").unwrap_or(0), m));
    }
    if issue.id() != stem {
        return Some(
            Problem::new(
                &issue.path,
                issue.key_line("issue_id").unwrap_or(0),
                format!("issue_id `{}` does not match the file name `{stem}.md`", issue.id()),
            )
            .with_hint(format!("rename the file to `{}.md` or fix `issue_id`", issue.id())),
        );
    }
    if issue.lane() != lane_dir {
        return Some(
            Problem::new(
                &issue.path,
                issue.key_line("lane").unwrap_or(0),
                format!("lane `{}` does not match the folder `{lane_dir}`", issue.lane()),
            )
            .with_hint(format!("move the file to the `{}` folder or fix `lane`", issue.lane())),
        );
    }
    None
}

/// The agent specs in `dir` (fixer or hunter specs) by lane; broken ones become problems.
pub(crate) fn load_specs(root: &Path, dir: &Path, problems: &mut Vec<Problem>) -> Result<BTreeMap<String, AgentSpec>> {
    let mut specs = BTreeMap::new();
    let abs = root.join(dir);
    let rd = match std::fs::read_dir(&abs) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(specs),
        Err(e) => return Err(Error::io("read directory", &abs, e)),
    };
    for entry in rd {
        let entry = entry.map_err(|e| Error::io("read directory", &abs, e))?;
        let fname = entry.file_name().to_string_lossy().into_owned();
        if spec::lane_of_file(&fname).is_none() {
            continue;
        }
        let rel = dir.join(&fname);
        let path = entry.path();
        let bytes = crate::base::fsutil::read_optional_capped(&path, crate::files::text::MAX_FILE_BYTES)?
            .ok_or_else(|| Error::io("read", &path, std::io::ErrorKind::NotFound.into()))?;
        if let Some((lane, s)) = parse_spec(&rel, &fname, bytes, problems) {
            specs.insert(lane, s);
        }
    }
    Ok(specs)
}

/// Two files with the same id: one error per extra file, naming the others.
pub fn duplicate_ids(issues: &[Issue]) -> Vec<Problem> {
    // One map entry per id, and a group only for ids seen twice (no list per issue); hashed with
    // foldhash, not SipHash (ids are no attacker's keys, and ten thousand are hashed per call).
    let mut first: HashMap<&str, &Issue, foldhash::fast::RandomState> = HashMap::with_capacity_and_hasher(issues.len(), Default::default());
    let mut extra: BTreeMap<&str, Vec<&Issue>> = BTreeMap::new();
    for i in issues {
        match first.entry(i.id()) {
            std::collections::hash_map::Entry::Occupied(_) => extra.entry(i.id()).or_default().push(i),
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(i);
            }
        }
    }
    let mut out = Vec::new();
    for (id, others) in extra {
        let Some(original) = first.get(id) else { continue };
        for i in others {
            out.push(
                Problem::new(
                    &i.path,
                    i.key_line("issue_id").unwrap_or(0),
                    format!("duplicate issue id {id} (also in {})", original.path.display()),
                )
                .with_hint("run `git lanes doctor` to see a renumbering plan, `git lanes doctor --fix` to apply it"),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sorting by the eight-byte prefix first, then the whole name, is sorting by name bytes
    /// (the order of the summary cache), whatever the names' lengths and shared prefixes.
    #[test]
    fn the_name_prefix_sorts_as_the_names_do() {
        let pieces = ["", "A", "A-", "A-0", "A-01", "A-001", "A-0001", "AB", "E-9", "E-10", "Z", "é", "a-1.md", "A-001.md", "A-001.mdx"];
        let mut names: Vec<String> = Vec::new();
        for a in pieces {
            for b in pieces {
                names.push(format!("{a}{b}"));
            }
        }
        let mut by_prefix = names.clone();
        by_prefix.sort_unstable_by(|a, b| {
            name_prefix(a.as_bytes()).cmp(&name_prefix(b.as_bytes())).then_with(|| a.as_bytes().cmp(b.as_bytes()))
        });
        let mut by_bytes = names;
        by_bytes.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        assert_eq!(by_prefix, by_bytes);
    }

    /// Lane folders with the given files, listed as a load lists them.
    fn listings(lanes: &[(&str, &[&str])]) -> (tempfile::TempDir, Vec<LaneListing>) {
        let dir = tempfile::tempdir().unwrap();
        for (lane, files) in lanes {
            std::fs::create_dir_all(dir.path().join("issues").join(lane)).unwrap();
            for f in *files {
                std::fs::write(dir.path().join("issues").join(lane).join(f), "x").unwrap();
            }
        }
        let mut problems = Vec::new();
        let (listed, _) = issue_files(dir.path(), Path::new("issues"), true, &mut problems).unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        (dir, listed)
    }

    /// The order of the issues is proved from the listing only when name-byte order is issue
    /// order: zero-padded ids, lanes whose names sort alike both ways.
    #[test]
    fn the_listing_proves_issue_order_only_when_names_sort_naturally() {
        let in_order = |lanes: &[(&str, &[&str])]| listed_in_issue_order(&listings(lanes).1);
        assert!(in_order(&[("A", &["A-01.md", "A-02.md", "A-10.md"]), ("B", &["B-1.md"])]));
        assert!(in_order(&[("A", &[]), ("B", &["B-1.md"]), ("C", &[])]));
        // By bytes A-10 comes before A-9, by id after it.
        assert!(!in_order(&[("A", &["A-9.md", "A-10.md"])]));
        // By bytes lane A10 comes before lane A2, by name after it.
        assert!(!in_order(&[("A2", &["A2-1.md"]), ("A10", &["A10-1.md"])]));
    }

    /// A lane folder lists its `*.md` files by name bytes, with their stat data; hidden files,
    /// other files, folders and links are passed over, and a name that is no id is a problem.
    #[test]
    fn a_lane_folder_lists_its_issue_files_only() {
        let dir = tempfile::tempdir().unwrap();
        let lane = dir.path().join("issues/E");
        std::fs::create_dir_all(lane.join("E-05.md")).unwrap();
        for f in ["E-02.md", "E-01.md", ".E-03.md", "notes.txt", "not an id.md"] {
            std::fs::write(lane.join(f), "x").unwrap();
        }
        std::os::unix::fs::symlink(lane.join("E-01.md"), lane.join("E-04.md")).unwrap();
        let listing = list_lane(dir.path(), Path::new("issues"), "E", true).unwrap();
        let names: Vec<&[u8]> = listing.entries.iter().map(|e| listing.name(e)).collect();
        assert_eq!(names, [b"E-01.md".as_slice(), b"E-02.md"]);
        let stat = Stat::of(&std::fs::symlink_metadata(lane.join("E-01.md")).unwrap());
        assert_eq!(listing.entries[0].stat, Some(stat));
        assert_eq!(listing.problems.len(), 1, "{:?}", listing.problems);
        assert!(listing.problems[0].path.ends_with("issues/E/not an id.md"), "{:?}", listing.problems);
        let unstated = list_lane(dir.path(), Path::new("issues"), "E", false).unwrap();
        assert!(unstated.entries.iter().all(|e| e.stat.is_none()));
    }

    /// Issues listed in their order are kept where they are; out of order, they are moved into it.
    #[test]
    fn take_in_order_keeps_or_reorders() {
        assert_eq!(take_in_order(vec!['a', 'b', 'c'], &[0, 1, 2], Some), vec!['a', 'b', 'c']);
        assert_eq!(take_in_order(vec!['a', 'b', 'c'], &[2, 0], Some), vec!['c', 'a']);
        assert_eq!(take_in_order(vec![Some('a'), None, Some('c')], &[0, 2], |x| x), vec!['a', 'c']);
    }
}
