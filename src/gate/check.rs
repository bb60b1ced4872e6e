//! `git lanes check`: the pre-push gate (docs/design.md#the-pre-push-gate). Checks what is about to be pushed by reading
//! git objects with git2 — never checking anything out and **never running verification
//! commands** (a hook must be fast and must not execute code an agent wrote).
//!
//! Start at [`check`]; [`Target`] says what is checked:
//!
//! - `--pre-push`: the `<local ref> <local sha> <remote ref> <remote sha>` lines git feeds a
//!   pre-push hook. A deletion (local sha all zeros) and a tag (`refs/tags/…`, annotated or
//!   lightweight: it adds no resolution of its own) check nothing. For each pushed tip the
//!   *base* is the merge base with the remote sha when that commit is known locally; for a new
//!   branch (remote sha all zeros) it is the nearest merge base with the remote's tracking refs
//!   (`refs/remotes/<remote>/*`), or nothing at all (every issue is new).
//! - `--range A..B`: tip `B`, base the merge base of `A` and `B`, pushed commits `A..B`.
//! - neither: the working tree and index against the merge base of `HEAD` and its upstream (or
//!   `HEAD` when there is no upstream).
//!
//! What is verified at each tip — the rules of [`crate::gate::rules::RULES`], in its order (a test
//! compares this list with the table):
//!
//! 1. **Settings readable** (`settings`): `lanes.yaml` at the tip parses (when it does not, that is
//!    the tip's only failure).
//! 2. **Catalog in sync** (`catalog`): the catalog equals what `git lanes sync` would generate
//!    from the issue files (`Last Updated` excepted; compared only while the issue files are
//!    valid). `Last Updated` is excepted because sync only changes it when something else changed.
//! 3. **Issue files valid** (`issue-files`): every issue file parses, ids are unique, each id
//!    matches its file name and each lane its folder.
//! 4. **Resolutions earned** (`earned`): an issue becomes RESOLVED only in a change that also adds
//!    passing evidence for it written and sealed by git-lanes, matching that change's files (a run
//!    report, or evidence added before, does not count). An issue *becomes* RESOLVED when its
//!    status at the base was not RESOLVED, or its file is new; the change is the pushed commit
//!    that makes it so on the first-parent chain (see `earned.rs`).
//! 5. **No signal files committed** (`signals`): no pushed commit (for the working tree: the index)
//!    adds or changes a signal file under the fixing or hunting signals folders.
//! 6. **No stubs in a resolution** (`stubs`): no line added to an affected path of an issue that
//!    becomes RESOLVED holds a stub marker (`TODO`, `FIXME`, `todo!()`, `unimplemented!()`,
//!    `NotImplementedError`, `pass  # placeholder`). Only lines new both to the remote and since
//!    the issue's own start count (see `stubs_of_resolution`).
//! 7. **Nothing judging an issue weakened** (`weakened`): no pushed commit deletes an issue file
//!    (unless another file keeps its id) or changes the verification commands of an issue it has
//!    RESOLVED. Checked for pushed commits against their base only, when they touch the issue
//!    files.
//!
//! A push that changes no issue file, catalog, fixer spec or `lanes.yaml` skips `catalog`,
//! `issue-files` and `weakened` (and nothing can become RESOLVED in it).
//!
//! Each failure is a [`Failure`]: the rule it breaks, a path (with `:line` when known), what is
//! wrong, and the fix.
//!
//! The same check runs in CI, because a hook can be skipped with `git push --no-verify`
//! (GitHub Actions):
//!
//! ```yaml
//! name: lanes
//! on: [push, pull_request]
//! jobs:
//!   check:
//!     runs-on: ubuntu-latest
//!     steps:
//!       - uses: actions/checkout@v4
//!         with:
//!           fetch-depth: 0            # origin/main and the merge base must be present
//!       - uses: dtolnay/rust-toolchain@stable
//!       - run: cargo install --locked --git "${{ vars.GIT_LANES_REPO }}" git-lanes   # not on crates.io
//!       - run: git lanes check --range origin/main..HEAD
//! ```
//!
//! Design note on speed (docs/design.md#the-performance-model): the catalog comparison needs every issue's status, so every
//! issue blob at the tip is read and parsed; blobs are read and parsed in parallel, one
//! `git2::Repository` per worker thread (it is `Send`, not `Sync`). Everything else is limited
//! to what changed between base and tip (git2 tree diffs restricted by pathspec).
#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use git2::{Delta, DiffOptions, Oid, Repository, Tree};
use rayon::prelude::*;

use crate::base::error::{Error, Problem, Result};
use crate::files::answers::AnswerKind;
use crate::files::catalog::Catalog;
use crate::files::config::{CONFIG_FILE, Config, Overrides};
use crate::files::issue::{Issue, Status};
use crate::files::issue_cache::{IssueCache, Key, Stat};
use crate::files::signal::SignalFile;
use crate::files::workspace::Workspace;
use crate::files::workspace::duplicate_ids;
use crate::gate::earned;
use crate::gate::rules::{self, Rule};
use crate::git::repo::Repo;

/// What to check.
#[derive(Debug, Clone)]
pub enum Target {
    /// git's pre-push stdin, already parsed; `remote` is the hook's first argument when known.
    PrePush { remote: Option<String>, updates: Vec<RefUpdate> },
    /// `A..B` (or `A...B`; a single revision `A` means `A..HEAD`).
    Range(String),
    /// The working tree and index.
    WorkTree,
}

/// One line of pre-push stdin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefUpdate {
    pub local_ref: String,
    pub local: Oid,
    pub remote_ref: String,
    pub remote: Oid,
}

/// Parse git's pre-push stdin (`<local ref> <local sha> <remote ref> <remote sha>` per line).
pub fn parse_pre_push(input: &str) -> Result<Vec<RefUpdate>> {
    let mut out = Vec::new();
    for (n, line) in input.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        let bad = || {
            Error::usage(
                format!("pre-push input line {}: expected `<local ref> <local sha> <remote ref> <remote sha>`, got `{line}`", n + 1),
                Some("`check --pre-push` reads what git passes to a pre-push hook on stdin".into()),
            )
        };
        if f.len() != 4 {
            return Err(bad());
        }
        let (local, remote) = (Oid::from_str(f[1]).map_err(|_| bad())?, Oid::from_str(f[3]).map_err(|_| bad())?);
        out.push(RefUpdate { local_ref: f[0].into(), local, remote_ref: f[2].into(), remote });
    }
    Ok(out)
}

/// One thing wrong with what is pushed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct Failure {
    /// Path relative to the repository root, with `:line` when known.
    pub path: String,
    /// What is wrong, a lowercase fragment.
    pub message: String,
    /// How to fix it (`run `git lanes sync``).
    pub fix: String,
    /// The rule it breaks (its id in JSON).
    #[serde(with = "crate::gate::rules::by_id")]
    pub rule: &'static Rule,
}

impl Failure {
    fn new(rule: &'static Rule, path: impl Into<String>, message: impl Into<String>, fix: impl Into<String>) -> Failure {
        Failure { path: path.into(), message: message.into(), fix: fix.into(), rule }
    }
}

/// What one checked tip looked like.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Checked {
    /// The tip commit, or `working tree`.
    pub tip: String,
    /// The ref being pushed, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// The base the tip was compared with (`None`: everything is new).
    pub base: Option<String>,
    pub issues: usize,
    /// Issues that become RESOLVED between base and tip.
    pub resolving: Vec<String>,
}

/// What a check found: each tip checked and every rule broken; it passed when `failures` is empty.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct CheckReport {
    pub checked: Vec<Checked>,
    pub failures: Vec<Failure>,
}

impl CheckReport {
    pub fn ok(&self) -> bool {
        self.failures.is_empty()
    }
}

/// The files of a tip under check: a pushed commit's tree, or the working tree (and index).
enum TipFiles<'r> {
    Tree(Oid, Tree<'r>),
    WorkTree,
}

/// Check `target` in `repo`; `overrides` are the `--catalog`/`--issues` flags.
pub fn check(repo: &Repo, overrides: &Overrides, target: &Target) -> Result<CheckReport> {
    let git = &repo.git;
    let mut jobs: Vec<(Option<String>, TipFiles, Option<Oid>, Vec<Oid>)> = Vec::new();
    match target {
        Target::PrePush { remote, updates } => {
            let mut seen = BTreeSet::new();
            for u in updates {
                if u.local.is_zero() || is_tag(u) || !seen.insert((u.local, u.remote)) {
                    continue;
                }
                let commit = git
                    .find_object(u.local, None)
                    .and_then(|o| o.peel_to_commit())
                    .map_err(|e| Error::git(format!("could not read pushed commit {}", u.local), e))?;
                let tree = commit.tree().map_err(|e| Error::git(format!("could not read the tree of {}", u.local), e))?;
                let (base, hide) = if !u.remote.is_zero() && git.find_commit(u.remote).is_ok() {
                    (git.merge_base(u.local, u.remote).ok(), vec![u.remote])
                } else {
                    new_branch_base(git, u.local, remote.as_deref())?
                };
                let commits = new_commits(git, u.local, &hide)?;
                jobs.push((Some(u.remote_ref.clone()), TipFiles::Tree(u.local, tree), base, commits));
            }
        }
        Target::Range(spec) => {
            let (from, to) = resolve_range(git, spec)?;
            let tree = git.find_commit(to).and_then(|c| c.tree()).map_err(|e| Error::git(format!("could not read {to}"), e))?;
            let base = git.merge_base(from, to).ok();
            let commits = new_commits(git, to, &[from])?;
            jobs.push((None, TipFiles::Tree(to, tree), base, commits));
        }
        Target::WorkTree => {
            let head = repo.head_commit();
            let base = head.and_then(|h| {
                let up = git.revparse_single("@{upstream}").ok()?.peel_to_commit().ok()?.id();
                git.merge_base(h, up).ok()
            });
            jobs.push((None, TipFiles::WorkTree, base.or(head), Vec::new()));
        }
    }
    let mut out = CheckReport::default();
    for (reference, snap, base, commits) in jobs {
        let (checked, failures) = check_one(repo, overrides, reference, &snap, base, &commits)?;
        out.checked.push(checked);
        for f in failures {
            if !out.failures.contains(&f) {
                out.failures.push(f);
            }
        }
    }
    Ok(out)
}

/// Whether a pushed ref is a tag: a tag names a commit that its branch's push is checked with.
fn is_tag(u: &RefUpdate) -> bool {
    u.local_ref.starts_with("refs/tags/") || u.remote_ref.starts_with("refs/tags/")
}

/// `A..B`, `A...B` or `A` (meaning `A..HEAD`) → `(A, B)`.
fn resolve_range(git: &Repository, spec: &str) -> Result<(Oid, Oid)> {
    let bad = |e: git2::Error| {
        Error::usage(
            format!("could not resolve range `{spec}`: {}", e.message()),
            Some("pass `--range <from>..<to>`, e.g. `origin/main..HEAD`".into()),
        )
    };
    let rs = git.revparse(spec).map_err(bad)?;
    let peel = |o: Option<&git2::Object>| -> Result<Option<Oid>> {
        match o {
            None => Ok(None),
            Some(o) => Ok(Some(o.peel_to_commit().map_err(bad)?.id())),
        }
    };
    let from = peel(rs.from())?;
    let to = peel(rs.to())?;
    match (from, to, rs.mode().contains(git2::RevparseMode::SINGLE)) {
        (Some(a), _, true) => {
            let head = git.head().and_then(|h| h.peel_to_commit()).map_err(bad)?.id();
            Ok((a, head))
        }
        (Some(a), Some(b), false) => Ok((a, b)),
        _ => Err(Error::usage(format!("could not resolve range `{spec}`"), Some("pass `--range <from>..<to>`".into()))),
    }
}

/// Base and hidden commits for a branch the remote does not have yet: the nearest merge base with
/// the remote's tracking refs (all remotes' when the remote name is unknown).
fn new_branch_base(git: &Repository, tip: Oid, remote: Option<&str>) -> Result<(Option<Oid>, Vec<Oid>)> {
    let glob = match remote {
        Some(r) if git.find_remote(r).is_ok() => format!("refs/remotes/{r}/*"),
        _ => "refs/remotes/*".to_string(),
    };
    let mut hide = Vec::new();
    let mut best: Option<(i64, Oid)> = None;
    for r in git.references_glob(&glob).map_err(|e| Error::git("could not list remote-tracking refs", e))?.flatten() {
        let Ok(c) = r.peel_to_commit() else { continue };
        hide.push(c.id());
        if let Ok(mb) = git.merge_base(tip, c.id())
            && let Ok(mbc) = git.find_commit(mb)
        {
            let t = mbc.time().seconds();
            if best.is_none_or(|(bt, _)| t > bt) {
                best = Some((t, mb));
            }
        }
    }
    Ok((best.map(|b| b.1), hide))
}

/// Commits reachable from `tip` and not from `hide`.
fn new_commits(git: &Repository, tip: Oid, hide: &[Oid]) -> Result<Vec<Oid>> {
    let err = |e| Error::git("could not walk the pushed commits", e);
    let mut walk = git.revwalk().map_err(err)?;
    walk.push(tip).map_err(err)?;
    for h in hide {
        // A hidden commit we do not have is nothing to hide.
        let _ = walk.hide(*h);
    }
    walk.collect::<std::result::Result<Vec<_>, _>>().map_err(err)
}

/// Signals folders: fixing (configured) and hunting (its sibling, as `init` creates it), and the
/// default hunting one.
fn signal_dirs(config: &Config) -> Vec<String> {
    let mut v = vec![config.signals.clone(), config.hunting().signals, Config::defaults().hunting().signals];
    v.sort();
    v.dedup();
    v.iter().map(|p| p.to_string_lossy().into_owned()).collect()
}

/// One tip under check: what every check of it reads.
struct TipUnderCheck<'r> {
    repo: &'r Repo,
    snap: &'r TipFiles<'r>,
    base: Option<Oid>,
    base_tree: Option<&'r Tree<'r>>,
}

fn check_one(
    repo: &Repo,
    overrides: &Overrides,
    reference: Option<String>,
    snap: &TipFiles,
    base: Option<Oid>,
    commits: &[Oid],
) -> Result<(Checked, Vec<Failure>)> {
    let base_tree = match base {
        Some(b) => Some(repo.git.find_commit(b).and_then(|c| c.tree()).map_err(|e| Error::git(format!("could not read {b}"), e))?),
        None => None,
    };
    let tip = TipUnderCheck { repo, snap, base, base_tree: base_tree.as_ref() };
    let config = match config_at(&tip, overrides) {
        Ok(c) => c,
        Err(failure) => {
            let checked = Checked { tip: tip_name(snap), reference, base: base.map(|b| b.to_string()), issues: 0, resolving: vec![] };
            return Ok((checked, vec![failure]));
        }
    };
    // A push that changes no issue file, catalog, spec or lanes.yaml leaves their state as the
    // base had it: the catalog and issue checks are skipped (and nothing can become RESOLVED).
    let untouched = untouched(&tip, &config);
    let FromFiles { issues, mut failures, resolving, signals } = from_files(&tip, config.clone(), untouched, commits)?;
    let resolving_issues = resolving_at(&tip, &resolving);
    let resolving: Vec<&Issue> = resolving_issues.iter().collect();
    check_resolutions(&tip, &config, &resolving, commits, &mut failures);
    failures.extend(signals);
    check_stubs(&tip, &resolving, &mut failures)?;
    if !untouched {
        check_weakened(&tip, &config, &mut failures);
    }
    let checked = Checked {
        tip: tip_name(snap),
        reference,
        base: base.map(|b| b.to_string()),
        issues,
        resolving: resolving.iter().map(|i| i.id().to_string()).collect(),
    };
    Ok((checked, failures))
}

/// What a tip's files and index alone show: the rules `catalog` and `issue-files`, which issue
/// files become RESOLVED (by path, in id order), and the rule `signals`.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct FromFiles {
    issues: usize,
    failures: Vec<Failure>,
    resolving: Vec<PathBuf>,
    signals: Vec<Failure>,
}

/// [`FromFiles`] of the tip. For the working tree it is remembered (`answers.rs`) for its base
/// commit, git's ignore files and the index (git replaces it by rename, so its stat data changes
/// with every write), while no issue file, spec, catalog or setting changes: the files'
/// differences from the base and the index's signal files are then the same.
/// `untouched`: see [`untouched`] (never for the working tree).
fn from_files(tip: &TipUnderCheck<'_>, config: Config, untouched: bool, commits: &[Oid]) -> Result<FromFiles> {
    let compute = |ws: &Workspace| -> Result<FromFiles> {
        let mut failures = Vec::new();
        let issues_valid = check_issue_files(ws, &mut failures);
        if !untouched {
            check_catalog(tip, ws, issues_valid, &mut failures)?;
        }
        let resolving = resolving_issues(tip, ws)?.into_iter().map(|i| i.path.clone()).collect();
        let mut signals = Vec::new();
        check_signal_files(tip, &ws.config, commits, &mut signals)?;
        Ok(FromFiles { issues: ws.issues.len(), failures, resolving, signals })
    };
    match tip.snap {
        TipFiles::WorkTree => {
            let repo = tip.repo;
            let index = Stat::of_path(&repo.git.path().join("index"));
            let extra = format!("base {:?}; ignores {:?}; index {index:?}", tip.base, ignore_stamps(repo, &config));
            crate::files::answers::answer(&repo.root, config, &repo.cache_dir(), AnswerKind::Check, &extra, |ws, _| compute(ws))
        }
        TipFiles::Tree(..) if untouched => compute(&Workspace::from_files(&tip.repo.root, config, vec![], vec![])),
        TipFiles::Tree(..) => compute(&load_workspace(tip.repo, tip.snap, config)?),
    }
}

/// The stat data of the ignore files git consults for the issue files (whether a new issue file
/// is untracked or ignored depends on them): the `.gitignore` of the root, of each folder down to
/// the issues folder and of each lane folder, `info/exclude` and `core.excludesFile` (or its
/// default, `$XDG_CONFIG_HOME/git/ignore`).
fn ignore_stamps(repo: &Repo, config: &Config) -> Vec<(PathBuf, Option<Stat>)> {
    let issues = repo.root.join(&config.issues);
    let mut files: Vec<PathBuf> = config.issues.ancestors().map(|a| repo.root.join(a).join(".gitignore")).collect();
    if let Ok(lanes) = std::fs::read_dir(&issues) {
        files.extend(lanes.flatten().filter(|e| e.file_type().is_ok_and(|t| t.is_dir())).map(|e| e.path().join(".gitignore")));
    }
    files.push(repo.common_dir.join("info/exclude"));
    let global = repo.git.config().ok().and_then(|c| c.get_path("core.excludesFile").ok()).or_else(|| {
        let base = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".config")));
        base.map(|b| b.join("git/ignore"))
    });
    files.extend(global);
    files.sort();
    files
        .into_iter()
        .map(|f| {
            let stat = Stat::of_path(&f);
            (f, stat)
        })
        .collect()
}

/// The issues at `paths` as the tip has them (read again: a remembered answer holds paths only).
fn resolving_at(tip: &TipUnderCheck<'_>, paths: &[PathBuf]) -> Vec<Issue> {
    paths
        .iter()
        .filter_map(|rel| {
            let bytes = match tip.snap {
                TipFiles::WorkTree => crate::base::fsutil::read(&tip.repo.root.join(rel)).ok()?,
                TipFiles::Tree(_, tree) => read_blob(&tip.repo.git, tree, rel)?,
            };
            Issue::parse(rel, bytes).ok()
        })
        .collect()
}

/// Rule `settings`: the configuration at the tip (`lanes.yaml` of the working tree or of the
/// commit); a broken one is the tip's only failure.
fn config_at(tip: &TipUnderCheck<'_>, overrides: &Overrides) -> std::result::Result<Config, Failure> {
    let config = match tip.snap {
        TipFiles::WorkTree => Config::load(&tip.repo.root, overrides),
        TipFiles::Tree(_, tree) => Config::from_bytes(read_blob(&tip.repo.git, tree, Path::new(CONFIG_FILE)), overrides),
    };
    config.map_err(|e| Failure::new(&rules::SETTINGS, CONFIG_FILE, e.to_string(), "fix lanes.yaml (see `git lanes validate`)"))
}

/// Whether a pushed commit leaves the issue files, catalog, fixer specs and `lanes.yaml` as the
/// base had them (never for the working tree, nor without a base).
fn untouched(tip: &TipUnderCheck<'_>, config: &Config) -> bool {
    let (TipFiles::Tree(_, tree), Some(base)) = (tip.snap, tip.base_tree) else { return false };
    let same = |p: &Path| tree.get_path(p).ok().map(|e| e.id()) == base.get_path(p).ok().map(|e| e.id());
    [config.issues.as_path(), config.catalog.as_path(), config.fixer_specs.as_path(), Path::new(CONFIG_FILE)].into_iter().all(same)
}

/// Rule `issue-files`: every problem of an issue file, and duplicate ids. Returns whether
/// all are valid.
fn check_issue_files(ws: &Workspace, failures: &mut Vec<Failure>) -> bool {
    let mut problems = ws.problems.clone();
    problems.extend(duplicate_ids(&ws.issues));
    for p in &problems {
        failures.push(problem_failure(&rules::ISSUE_FILES, p, "fix the file, then run `git lanes validate`"));
    }
    problems.is_empty()
}

/// Rule `catalog` (compared only while the issue files are valid: it is meaningless
/// before).
fn check_catalog(tip: &TipUnderCheck<'_>, ws: &Workspace, issues_valid: bool, failures: &mut Vec<Failure>) -> Result<()> {
    let cat_path = ws.config.catalog.clone();
    let cat_bytes = match tip.snap {
        TipFiles::WorkTree => {
            crate::base::fsutil::read_optional_capped(&tip.repo.root.join(&cat_path), crate::files::text::MAX_FILE_BYTES)?
        }
        TipFiles::Tree(_, tree) => read_blob(&tip.repo.git, tree, &cat_path),
    };
    match cat_bytes {
        None if !ws.issues.is_empty() => failures.push(Failure::new(
            &rules::CATALOG,
            cat_path.display().to_string(),
            "the catalog is missing",
            "run `git lanes init` (it never overwrites), then `git lanes sync`",
        )),
        None => {}
        Some(bytes) => match Catalog::parse(&cat_path, bytes) {
            Err(p) => failures.push(problem_failure(&rules::CATALOG, &p, "restore the catalog's shape, then run `git lanes sync`")),
            Ok(cat) if issues_valid => {
                for d in cat.sync(ws, "").differences {
                    failures.push(Failure::new(
                        &rules::CATALOG,
                        format!("{}:{}", cat_path.display(), d.line),
                        format!("catalog is out of date ({}): {}", d.region, d.message),
                        "run `git lanes sync`",
                    ));
                }
            }
            Ok(_) => {}
        },
    }
    Ok(())
}

/// For the rule `earned`: the issues that become RESOLVED between base and tip (their status at the base
/// was not RESOLVED, or the file is new), in id order.
fn resolving_issues<'w>(tip: &TipUnderCheck<'_>, ws: &'w Workspace) -> Result<Vec<&'w Issue>> {
    let issues_dir = ws.config.issues.to_string_lossy().into_owned();
    let changed = changed_paths(&tip.repo.git, tip.base_tree, tip.snap, &[issues_dir])?;
    let by_path: HashMap<&Path, &Issue> = ws.issues.iter().map(|i| (i.path.as_path(), i)).collect();
    let mut resolving: Vec<&Issue> = Vec::new();
    for (new_path, old_path) in &changed {
        let Some(issue) = by_path.get(new_path.as_path()) else { continue };
        if issue.status() != Status::Resolved {
            continue;
        }
        let was_resolved = match (old_path, tip.base_tree) {
            (Some(old), Some(bt)) => read_blob(&tip.repo.git, bt, old)
                .and_then(|b| Issue::parse(old, b).ok())
                .is_some_and(|i| i.status() == Status::Resolved && i.id() == issue.id()),
            _ => false,
        };
        if !was_resolved {
            resolving.push(issue);
        }
    }
    resolving.sort_by(|a, b| crate::files::names::natural_cmp(a.id(), b.id()));
    Ok(resolving)
}

/// Rule `earned`: each issue becomes RESOLVED in a commit (or the working
/// tree's change) that adds passing, sealed evidence for it matching its files there.
fn check_resolutions(tip: &TipUnderCheck<'_>, config: &Config, resolving: &[&Issue], commits: &[Oid], failures: &mut Vec<Failure>) {
    let git = &tip.repo.git;
    let pushed: std::collections::HashSet<Oid> = commits.iter().copied().collect();
    for issue in resolving {
        let (why, at) = match tip.snap {
            TipFiles::WorkTree => {
                let before = tip.base_tree.map(|t| earned::View::Tree(git, t));
                (earned::unearned(git, config, &earned::View::Disk(&tip.repo.root), before.as_ref(), &issue.path), String::new())
            }
            TipFiles::Tree(oid, _) => {
                let Some(c) = earned::resolving_commit(git, *oid, &pushed, &issue.path).and_then(|c| git.find_commit(c).ok()) else {
                    continue;
                };
                let (Ok(tree), parent) = (c.tree(), c.parent(0).ok().and_then(|p| p.tree().ok())) else { continue };
                let before = parent.as_ref().map(|t| earned::View::Tree(git, t));
                let why = earned::unearned(git, config, &earned::View::Tree(git, &tree), before.as_ref(), &issue.path);
                (why, format!(" in commit {}", &c.id().to_string()[..10]))
            }
        };
        let Some(why) = why else { continue };
        failures.push(Failure::new(
            &rules::EARNED,
            format!("{}:{}", issue.path.display(), issue.key_line("status").unwrap_or(0)),
            format!("{} becomes RESOLVED{at} without passing evidence written by git-lanes in that same change: {why}", issue.id()),
            format!(
                "let `git lanes run` resolve it, or commit the fix, run `git lanes verify {}` and commit the evidence it writes together with the status change (a run report or older evidence does not count); else set status back to OPEN",
                issue.id()
            ),
        ));
    }
}

/// Rule `signals`: none added or changed in the index (working tree) or by a
/// pushed commit.
fn check_signal_files(tip: &TipUnderCheck<'_>, config: &Config, commits: &[Oid], failures: &mut Vec<Failure>) -> Result<()> {
    for (p, where_) in signal_hits(tip, &signal_dirs(config), commits)? {
        if SignalFile::ALL.iter().any(|k| p.ends_with(k.suffix())) {
            failures.push(Failure::new(
                &rules::SIGNALS,
                p.clone(),
                format!("signal file committed ({where_}); signals are runtime state and never committed"),
                format!("run `git rm --cached {p}`, add the signals folder to .gitignore, and amend the commit"),
            ));
        }
    }
    Ok(())
}

/// The paths under the signal folders that the index or a pushed commit adds or changes, each
/// with where it was first seen.
fn signal_hits(tip: &TipUnderCheck<'_>, dirs: &[String], commits: &[Oid]) -> Result<BTreeMap<String, String>> {
    let git = &tip.repo.git;
    let mut hits: BTreeMap<String, String> = BTreeMap::new();
    if let TipFiles::WorkTree = tip.snap {
        let mut opts = pathspec_opts(dirs);
        let index = git.index().map_err(|e| Error::git("could not read the index", e))?;
        let diff =
            git.diff_tree_to_index(tip.base_tree, Some(&index), Some(&mut opts)).map_err(|e| Error::git("could not diff the index", e))?;
        for p in added_paths(&diff) {
            hits.entry(p).or_insert_with(|| "in the index".into());
        }
        return Ok(hits);
    }
    for c in commits {
        let commit = git.find_commit(*c).map_err(|e| Error::git(format!("could not read {c}"), e))?;
        let tree = commit.tree().map_err(|e| Error::git(format!("could not read {c}"), e))?;
        let parent = commit.parent(0).ok().and_then(|p| p.tree().ok());
        let mut opts = pathspec_opts(dirs);
        let diff = git
            .diff_tree_to_tree(parent.as_ref(), Some(&tree), Some(&mut opts))
            .map_err(|e| Error::git(format!("could not diff {c}"), e))?;
        for p in added_paths(&diff) {
            let short = c.to_string()[..10].to_string();
            hits.entry(p).or_insert_with(|| format!("in commit {short}"));
        }
    }
    Ok(hits)
}

/// Rule `stubs`: no stub marker in a line the resolution added to an
/// affected path of an issue that becomes RESOLVED (see [`stubs_of_resolution`]).
fn check_stubs(tip: &TipUnderCheck<'_>, resolving: &[&Issue], failures: &mut Vec<Failure>) -> Result<()> {
    for issue in resolving {
        let paths: Vec<String> =
            issue.meta.affected_paths.iter().map(|p| p.trim_end_matches('/').to_string()).filter(|p| !p.is_empty()).collect();
        if paths.is_empty() {
            continue;
        }
        for (path, line, marker) in stubs_of_resolution(tip, issue, &paths)? {
            failures.push(Failure::new(
                &rules::STUBS,
                format!("{path}:{line}"),
                format!("stub marker `{marker}` added in a line that resolves {}", issue.id()),
                format!("finish the fix and remove the marker, or set {} back to OPEN", issue.id()),
            ));
        }
    }
    Ok(())
}

/// The stub rule: a marker is blamed on an issue only in a line that is new both relative to
/// what the remote already has (`tip.base_tree`; on a first push there is nothing) and relative
/// to the issue's own start — the newest commit on the pushed line (first parents) where the
/// issue was not yet RESOLVED, which for a run is the run's base commit (or the merge of the
/// lanes integrated before the issue's). The run's verdict judges the same lines: those its
/// lane added to the run's base. A marker that was there before never counts.
fn stubs_of_resolution(tip: &TipUnderCheck<'_>, issue: &Issue, paths: &[String]) -> Result<Vec<(String, u32, String)>> {
    let git = &tip.repo.git;
    let mut hits = added_stubs(git, tip.base_tree, tip.snap, paths)?;
    if hits.is_empty() {
        return Ok(hits);
    }
    let from = match tip.snap {
        TipFiles::Tree(oid, _) => Some(*oid),
        TipFiles::WorkTree => tip.repo.head_commit(),
    };
    if let Some(start) = from.and_then(|oid| before_resolution(git, oid, &issue.path))
        && let Ok(tree) = git.find_commit(start).and_then(|c| c.tree())
    {
        let since_start = added_stubs(git, Some(&tree), tip.snap, paths)?;
        hits.retain(|h| since_start.contains(h));
    }
    Ok(hits)
}

/// The newest commit on `from`'s first-parent line where the issue file at `path` is missing or
/// not RESOLVED (`None` when it is RESOLVED all the way back).
fn before_resolution(git: &Repository, from: Oid, path: &Path) -> Option<Oid> {
    let mut commit = git.find_commit(from).ok()?;
    // A bound on the walk: an issue resolved that long ago is not being pushed now.
    for _ in 0..100_000 {
        let tree = commit.tree().ok()?;
        let resolved = read_blob(git, &tree, path).and_then(|b| Issue::parse(path, b).ok()).is_some_and(|i| i.status() == Status::Resolved);
        if !resolved {
            return Some(commit.id());
        }
        commit = commit.parent(0).ok()?;
    }
    None
}

/// Rule `weakened`: no issue file deleted, no check changed on
/// an issue that is RESOLVED in what is pushed (pushed commits only).
fn check_weakened(tip: &TipUnderCheck<'_>, config: &Config, failures: &mut Vec<Failure>) {
    let (TipFiles::Tree(_, tree), Some(bt)) = (tip.snap, tip.base_tree) else { return };
    for (path, message) in crate::judge::guard::weakened_issue_files(&tip.repo.git, bt, tree, &config.issues) {
        failures.push(Failure::new(
            &rules::NOT_WEAKENED,
            path.display().to_string(),
            message,
            format!(
                "restore it (`git checkout {} -- {}`) in a new commit",
                tip.base.map(|b| b.to_string()[..10].to_string()).unwrap_or_default(),
                path.display()
            ),
        ));
    }
}

fn tip_name(snap: &TipFiles) -> String {
    match snap {
        TipFiles::Tree(oid, _) => oid.to_string(),
        TipFiles::WorkTree => "working tree".into(),
    }
}

fn problem_failure(rule: &'static Rule, p: &Problem, default_fix: &str) -> Failure {
    let fix = p.hint.clone().unwrap_or_else(|| default_fix.to_string());
    Failure::new(rule, p.location(), p.message.clone(), fix)
}

/// The workspace at `snap`: from disk for the working tree, from blobs for a commit.
fn load_workspace(repo: &Repo, snap: &TipFiles, config: Config) -> Result<Workspace> {
    let tree = match snap {
        TipFiles::WorkTree => return Workspace::load_cached(&repo.root, config, &repo.cache_dir(), true),
        TipFiles::Tree(_, tree) => tree,
    };
    let git = &repo.git;
    // Issue blobs: `<issues>/<LANE>/<file>`, one level deep, as on disk.
    let mut wanted: Vec<(PathBuf, Oid)> = Vec::new();
    if let Some(issues) = subtree(git, tree, &config.issues) {
        for lane in issues.iter() {
            if lane.kind() != Some(git2::ObjectType::Tree) {
                continue;
            }
            let Ok(lane_tree) = git.find_tree(lane.id()) else { continue };
            let lane_dir = config.issues.join(String::from_utf8_lossy(lane.name_bytes()).as_ref());
            for f in lane_tree.iter() {
                if f.kind() == Some(git2::ObjectType::Blob) {
                    wanted.push((lane_dir.join(String::from_utf8_lossy(f.name_bytes()).as_ref()), f.id()));
                }
            }
        }
    }
    // Summaries of blobs seen before (keyed by blob id) are not read or parsed again.
    let mut cache = IssueCache::read(IssueCache::for_blobs(&repo.cache_dir()));
    let had = cache.len();
    let ids: HashMap<PathBuf, Oid> = wanted.iter().cloned().collect();
    let mut cached = Vec::new();
    let mut missing = Vec::new();
    for (path, oid) in wanted {
        match cache.take(&path, &blob_key(oid)) {
            Some(issue) => cached.push(issue),
            None => missing.push((path, oid)),
        }
    }
    let fresh = !missing.is_empty();
    let issue_files = read_blobs(repo, missing)?;
    let mut spec_files = Vec::new();
    if let Some(specs) = subtree(git, tree, &config.fixer_specs) {
        for f in specs.iter() {
            if f.kind() == Some(git2::ObjectType::Blob)
                && let Ok(b) = git.find_blob(f.id())
            {
                spec_files.push((config.fixer_specs.join(String::from_utf8_lossy(f.name_bytes()).as_ref()), b.content().to_vec()));
            }
        }
    }
    let ws = Workspace::from_files_and_summaries(&repo.root, config, issue_files, cached, spec_files);
    let entries: Vec<_> = ws.issues.iter().filter_map(|i| ids.get(&i.path).map(|oid| (i, blob_key(*oid)))).collect();
    // Keep exactly this tree's summaries: the cache stays the size of one catalog.
    if fresh || entries.len() != had {
        cache.write(&entries);
    }
    Ok(ws)
}

fn blob_key(oid: Oid) -> Key {
    let mut id = [0u8; 20];
    let bytes = oid.as_bytes();
    let n = bytes.len().min(20);
    id[..n].copy_from_slice(&bytes[..n]);
    Key::Blob(id)
}

/// Read blobs in parallel: one repository handle per worker thread.
fn read_blobs(repo: &Repo, wanted: Vec<(PathBuf, Oid)>) -> Result<Vec<(PathBuf, Vec<u8>)>> {
    let threads = rayon::current_num_threads().max(1);
    let chunk = wanted.len().div_ceil(threads).max(256);
    let git_dir = repo.git.path().to_path_buf();
    let chunks: Vec<Result<Vec<(PathBuf, Vec<u8>)>>> = wanted
        .par_chunks(chunk)
        .map(|part| {
            let git = Repository::open(&git_dir).map_err(|e| Error::git(format!("could not open {}", git_dir.display()), e))?;
            let odb = git.odb().map_err(|e| Error::git("could not open the object database", e))?;
            part.iter()
                .map(|(p, oid)| {
                    let obj = odb.read(*oid).map_err(|e| Error::git(format!("could not read {} ({oid})", p.display()), e))?;
                    Ok((p.clone(), obj.data().to_vec()))
                })
                .collect()
        })
        .collect();
    let mut out = Vec::with_capacity(wanted.len());
    for c in chunks {
        out.extend(c?);
    }
    Ok(out)
}

fn subtree<'r>(git: &'r Repository, tree: &Tree<'r>, dir: &Path) -> Option<Tree<'r>> {
    if dir.as_os_str().is_empty() {
        return Some(tree.clone());
    }
    let e = tree.get_path(dir).ok()?;
    git.find_tree(e.id()).ok()
}

fn read_blob(git: &Repository, tree: &Tree, path: &Path) -> Option<Vec<u8>> {
    let e = tree.get_path(path).ok()?;
    git.find_blob(e.id()).ok().map(|b| b.content().to_vec())
}

fn pathspec_opts(paths: &[String]) -> DiffOptions {
    let mut opts = DiffOptions::new();
    for p in paths {
        opts.pathspec(p);
    }
    opts.include_typechange(true);
    opts
}

/// Paths added or changed by a diff (new side).
fn added_paths(diff: &git2::Diff) -> Vec<String> {
    diff.deltas()
        .filter(|d| matches!(d.status(), Delta::Added | Delta::Modified | Delta::Renamed | Delta::Copied | Delta::Typechange))
        .filter_map(|d| d.new_file().path().map(|p| p.to_string_lossy().into_owned()))
        .collect()
}

/// `(new path, old path if it existed)` of files under `dirs` that changed from `base` to `snap`.
fn changed_paths(git: &Repository, base: Option<&Tree>, snap: &TipFiles, dirs: &[String]) -> Result<Vec<(PathBuf, Option<PathBuf>)>> {
    let mut opts = pathspec_opts(dirs);
    let diff = diff_to(git, base, snap, &mut opts)?;
    Ok(diff
        .deltas()
        .filter(|d| !matches!(d.status(), Delta::Deleted | Delta::Unmodified | Delta::Ignored))
        .filter_map(|d| {
            let new = d.new_file().path()?.to_path_buf();
            let added = matches!(d.status(), Delta::Added | Delta::Untracked);
            let old = (!added).then(|| d.old_file().path().map(Path::to_path_buf)).flatten();
            Some((new, old))
        })
        .collect())
}

/// The diff from `base` to `snap`; for the working tree, untracked files count as added (a new
/// issue file need not be staged to be checked).
fn diff_to<'r>(git: &'r Repository, base: Option<&Tree<'r>>, snap: &TipFiles<'r>, opts: &mut DiffOptions) -> Result<git2::Diff<'r>> {
    match snap {
        TipFiles::Tree(_, tree) => git.diff_tree_to_tree(base, Some(tree), Some(opts)),
        TipFiles::WorkTree => {
            opts.include_untracked(true).recurse_untracked_dirs(true).show_untracked_content(true);
            git.diff_tree_to_workdir_with_index(base, Some(opts))
        }
    }
    .map_err(|e| Error::git("could not compute the pushed changes", e))
}

/// `(path, line, marker)` of stub markers in lines added from `base` to `snap` under `paths`.
fn added_stubs(git: &Repository, base: Option<&Tree>, snap: &TipFiles, paths: &[String]) -> Result<Vec<(String, u32, String)>> {
    let mut opts = pathspec_opts(paths);
    opts.context_lines(0);
    let diff = diff_to(git, base, snap, &mut opts)?;
    let mut hits = Vec::new();
    diff.foreach(
        &mut |_, _| true,
        None,
        None,
        Some(&mut |delta, _hunk, line| {
            if line.origin() == '+' {
                let text = String::from_utf8_lossy(line.content());
                if let Some(m) = crate::judge::verdict::stub_marker(&text) {
                    let path = delta.new_file().path().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
                    hits.push((path, line.new_lineno().unwrap_or(0), m.to_string()));
                }
            }
            true
        }),
    )
    .map_err(|e| Error::git("could not read the pushed changes", e))?;
    Ok(hits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pre_push_lines() {
        let z = "0".repeat(40);
        let a = "a".repeat(40);
        let u = parse_pre_push(&format!("refs/heads/x {a} refs/heads/x {z}\n\n")).unwrap();
        assert_eq!(u.len(), 1);
        assert!(u[0].remote.is_zero());
        assert!(parse_pre_push("refs/heads/x abc").is_err());
    }
}
