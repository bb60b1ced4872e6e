//! Step 7: bring finished lanes together.
//!
//! # Design note: the integration order
//! Policy `merge` (default): every pair of finished lanes is first merged **in memory** (no
//! checkout) to learn which lanes conflict, for the report. Lanes that change disjoint paths —
//! nearly all — are merged by [`crate::git::treemerge`], which opens only the subtrees a lane
//! changed; the rest by libgit2's full merge. Then the lanes are merged one by
//! one, in lane order, into `lanes/<RUN_ID>/integration` in its own worktree; after each merge
//! the checks of every issue resolved so far (this lane's included) run again in that worktree
//! (optimistically first: all lanes merged, all checks run once; only when something fails is the
//! lane-by-lane pass made, so the culprit is found).
//! A lane that conflicts, or whose merge makes any of those checks fail, is backed out (the
//! integration branch is reset to before its merge), its branch is kept, the reason is recorded,
//! and the others go on. Only lanes that resolved at least one issue are merged: a lane whose
//! every fix was rejected keeps its branch for a human. Policy `squash` is the same with one
//! squashed commit per lane.
//!
//! # Design note: integration checks and bisection
//! `lanes.yaml` `integration_checks:` (e.g. the whole test suite) run last, on the result. When
//! one fails, the failing ones run once at the run's base: a command that fails there already is
//! reported as failing before the run and blames no lane. Otherwise the lanes that broke it are
//! found as a merge queue finds them, by bisection over the merged lanes in merge order: the
//! shortest prefix of them whose result fails is found by halving (the empty prefix, the base,
//! passes; the whole list fails), its last lane is backed out — it broke a command on its own or
//! together with the lanes before it — and the rest is checked again; until it passes. One culprit
//! among `n` lanes costs about `log2(n)` runs besides the first run, the base run and the run that
//! confirms the result. Every run of the bisection runs every integration command that passes
//! at the base (those that failed first) and the checks of the issues the candidate resolves.

use std::path::{Path, PathBuf};

use crate::base::error::{Error, Result};
use crate::files::config::IntegrationPolicy;
use crate::files::issue::Issue;
use crate::files::workspace::Workspace;
use crate::git::gitcli::git;
use crate::git::repo::Repo;
use crate::git::treemerge;
use crate::git::worktree;
use crate::judge::verify::{self, VerifyOptions};
use crate::run::state::{Breakage, CheckFailure, IntegrationChecks};

/// A lane offered for integration.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub lane: String,
    pub branch: String,
    pub tip: String,
    /// Issues this lane resolved (on its branch).
    pub resolved: Vec<String>,
}

/// What integration did.
#[derive(Debug, Clone, Default)]
pub struct Integrated {
    pub branch: String,
    pub worktree: PathBuf,
    pub merged: Vec<String>,
    /// `(lane, reason)`.
    pub backed_out: Vec<(String, String)>,
    /// Pairs of lanes whose in-memory merge conflicts.
    pub conflicting_pairs: Vec<(String, String)>,
    /// Issues resolved by merged lanes.
    pub resolved: Vec<String>,
    /// What the integration checks did (`None`: there are none).
    pub checks: Option<IntegrationChecks>,
}

/// Which pairs of lane tips conflict when merged in memory.
pub fn conflicting_pairs(repo: &Repo, lanes: &[Candidate]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let commits: Vec<Option<git2::Commit<'_>>> =
        lanes.iter().map(|c| git2::Oid::from_str(&c.tip).ok().and_then(|o| repo.git.find_commit(o).ok())).collect();
    for i in 0..lanes.len() {
        for j in i + 1..lanes.len() {
            let (Some(a), Some(b)) = (&commits[i], &commits[j]) else { continue };
            if treemerge::disjoint(&repo.git, a, b).unwrap_or(false) {
                continue;
            }
            if let Ok(index) = repo.git.merge_commits(a, b, None)
                && index.has_conflicts()
            {
                out.push((lanes[i].lane.clone(), lanes[j].lane.clone()));
            }
        }
    }
    out
}

/// Merge `lanes` (in order) into a fresh integration branch at `base`, re-checking as it goes.
///
/// Merges are made in memory (git2 trees and commits, no worktree, no process); the integration
/// worktree is checked out once, at the optimistic result, because the checks must run on files.
/// Only when a check fails is it moved lane by lane (`git reset --hard`, which rewrites only the
/// files that differ).
#[allow(clippy::too_many_arguments)] // one call site; a struct would only rename the arguments
pub fn integrate(
    repo: &Repo,
    ws: &Workspace,
    run_id: &str,
    base: &str,
    wt_root: &Path,
    lanes: &[Candidate],
    policy: IntegrationPolicy,
    commands: &[String],
    on_step: &mut dyn FnMut(&str, Option<&str>),
) -> Result<Integrated> {
    let branch = worktree::integration_branch(&ws.config, run_id);
    let path = worktree::integration_worktree(wt_root, run_id);
    let start = oid(&resume_point(repo, &branch, &path, base)?)?;
    let pairs = conflicting_pairs(repo, lanes);
    let (author, committer) = crate::git::snapshot::signatures(&repo.git)?;
    let passes = Passes {
        repo,
        merger: Merger { repo, policy, run_id, pairs: &pairs, author: &author, committer: &committer },
        recheck: Recheck {
            ws,
            path: &path,
            opts: VerifyOptions::from_config(&ws.config, false),
            jobs: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2),
        },
        branch: &branch,
        path: &path,
        start,
        base: oid(base)?,
        offered: lanes.iter().filter(|c| !c.resolved.is_empty()).collect(),
    };
    let mut out = Integrated { branch: branch.clone(), worktree: path.clone(), ..Integrated::default() };
    if !passes.optimistic(&mut out, on_step)? {
        passes.lane_by_lane(&mut out, on_step)?;
    }
    if !commands.is_empty() {
        out.checks = Some(passes.integration_checks(commands, &mut out, on_step)?);
    }
    out.conflicting_pairs = pairs;
    Ok(out)
}

/// Where the integration starts: an integration worktree (or branch) that exists already is
/// continued (resume); otherwise `base`. A worktree whose checkout was cut short (a crash, a
/// full disk) is never continued.
fn resume_point(repo: &Repo, branch: &str, path: &Path, base: &str) -> Result<String> {
    if path.exists() && !worktree::is_ready(path) {
        worktree::discard_unready(&repo.root, path)?;
    }
    if path.exists() {
        return worktree::head(path);
    }
    Ok(match repo.git.find_branch(branch, git2::BranchType::Local).ok().and_then(|b| b.get().target()) {
        Some(oid) => oid.to_string(),
        None => base.to_string(),
    })
}

/// The checks of resolved issues, run again in the integration worktree.
struct Recheck<'a> {
    ws: &'a Workspace,
    path: &'a Path,
    opts: VerifyOptions,
    jobs: usize,
}

impl Recheck<'_> {
    /// The ids among `ids` whose checks do not pass there. What the checks write never reaches
    /// the integration commit.
    fn failing(&self, ids: &[String]) -> Result<Vec<String>> {
        let issues: Vec<&Issue> = ids.iter().filter_map(|id| self.ws.issue(id)).collect();
        let droppings = crate::git::snapshot::Droppings::before(self.path)?;
        let failing = verify::verify_many(&issues, self.path, &self.opts, self.jobs)
            .into_iter()
            .filter(|v| v.outcome != verify::VerifyOutcome::Passed)
            .map(|v| v.id)
            .collect::<Vec<String>>();
        droppings.restore(self.path, true)?;
        Ok(failing)
    }
}

impl Recheck<'_> {
    /// Run `commands` in the integration worktree, in order (stopping at the first failure when
    /// `first_failure`): the failures, each with the end of its output. What they write never
    /// reaches the integration commit.
    fn failing_commands(&self, commands: &[String], first_failure: bool) -> Result<Vec<CheckFailure>> {
        let droppings = crate::git::snapshot::Droppings::before(self.path)?;
        let opts = VerifyOptions { timeout: self.ws.config.integration_timeout, ..self.opts.clone() };
        let checker = verify::Checker::new(self.path, &opts);
        let mut failing = Vec::new();
        for command in commands {
            let r = checker.run(&crate::files::issue::Check { name: None, command: command.clone(), line: 0 });
            if !r.passed {
                let how = r.unusual_ending().or_else(|| r.ending.map(|e| e.to_string())).unwrap_or_default();
                failing.push(CheckFailure { command: command.clone(), output: format!("({how})\n{}", tail(&r.output, 40)) });
                if first_failure {
                    break;
                }
            }
        }
        droppings.restore(self.path, true)?;
        Ok(failing)
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The last `n` lines of `text`.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The two passes of an integration (see the design note at the top).
struct Passes<'a> {
    repo: &'a Repo,
    merger: Merger<'a>,
    recheck: Recheck<'a>,
    branch: &'a str,
    path: &'a Path,
    /// Where the integration branch starts (the base, or where a killed integration got to).
    start: git2::Oid,
    /// The run's base.
    base: git2::Oid,
    /// The lanes that resolved something, in lane order.
    offered: Vec<&'a Candidate>,
}

impl Passes<'_> {
    /// Pass 1, optimistic: merge every lane in memory (a conflicting one is backed out at once),
    /// check the result out once and run the checks of everything once. When they all pass,
    /// that is the result — the common case, one checkout and one round of checks. Returns
    /// whether it was (`out` is filled then, and untouched otherwise).
    fn optimistic(&self, out: &mut Integrated, on_step: &mut dyn FnMut(&str, Option<&str>)) -> Result<bool> {
        let mut merged: Vec<&Candidate> = Vec::new();
        let mut conflicts: Vec<(String, String)> = Vec::new();
        let mut head = self.start;
        for c in &self.offered {
            match self.merger.merge(head, c)? {
                Ok(next) => {
                    head = next;
                    merged.push(c);
                }
                Err(reason) => conflicts.push((c.lane.clone(), reason)),
            }
        }
        check_out(self.repo, self.path, self.branch, head)?;
        let all: Vec<String> = merged.iter().flat_map(|c| c.resolved.iter().cloned()).collect();
        if !self.recheck.failing(&all)?.is_empty() {
            return Ok(false);
        }
        for c in &self.offered {
            match conflicts.iter().find(|(l, _)| l == &c.lane) {
                Some((lane, reason)) => {
                    on_step(lane, Some(reason));
                    out.backed_out.push((lane.clone(), reason.clone()));
                }
                None => on_step(&c.lane, None),
            }
        }
        out.merged = merged.iter().map(|c| c.lane.clone()).collect();
        out.resolved = all;
        Ok(true)
    }

    /// Pass 2: some merge broke a check. Start again, lane by lane, re-checking everything
    /// resolved so far after each merge, so the lane that breaks something is the one backed out.
    fn lane_by_lane(&self, out: &mut Integrated, on_step: &mut dyn FnMut(&str, Option<&str>)) -> Result<()> {
        let mut head = self.start;
        for c in &self.offered {
            let next = match self.merger.merge(head, c)? {
                Ok(next) => next,
                Err(reason) => {
                    on_step(&c.lane, Some(&reason));
                    out.backed_out.push((c.lane.clone(), reason));
                    continue;
                }
            };
            git_reset(self.path, next)?;
            let mut ids: Vec<String> = out.resolved.clone();
            ids.extend(c.resolved.iter().cloned());
            let failing = self.recheck.failing(&ids)?;
            if !failing.is_empty() {
                let reason = breakage(c, &failing);
                on_step(&c.lane, Some(&reason));
                out.backed_out.push((c.lane.clone(), reason));
                continue;
            }
            head = next;
            on_step(&c.lane, None);
            out.merged.push(c.lane.clone());
            out.resolved.extend(c.resolved.iter().cloned());
        }
        git_reset(self.path, head)
    }
}

impl Passes<'_> {
    /// The integration checks on the result of the two passes; lanes that break one are found by
    /// bisection and backed out (see the design note at the top). `out` is updated: merged lanes,
    /// resolved issues, backed-out lanes; the worktree and branch are left at the result.
    fn integration_checks(
        &self,
        commands: &[String],
        out: &mut Integrated,
        on_step: &mut dyn FnMut(&str, Option<&str>),
    ) -> Result<IntegrationChecks> {
        let mut log = IntegrationChecks { commands: commands.to_vec(), ..IntegrationChecks::default() };
        let mut kept: Vec<&Candidate> = out.merged.iter().filter_map(|l| self.offered.iter().find(|c| &c.lane == l).copied()).collect();
        if kept.is_empty() {
            return Ok(log);
        }
        let head = worktree::head(self.path).and_then(|h| oid(&h))?;
        log.runs += 1;
        let failing = self.recheck.failing_commands(commands, false)?;
        if failing.is_empty() {
            return Ok(log);
        }
        // The failing ones at the base, once: those that fail there blame no lane.
        let failed: Vec<String> = failing.iter().map(|f| f.command.clone()).collect();
        show_files(self.path, self.base)?;
        log.runs += 1;
        log.failing_before = self.recheck.failing_commands(&failed, false)?;
        let before: Vec<&str> = log.failing_before.iter().map(|f| f.command.as_str()).collect();
        // What the bisection runs: the commands that pass at the base, those that broke first.
        let mut active: Vec<String> = failed.iter().filter(|c| !before.contains(&c.as_str())).cloned().collect();
        if active.is_empty() {
            return git_reset(self.path, head).map(|_| log);
        }
        active.extend(commands.iter().filter(|c| !failed.contains(c)).cloned());
        let mut last = failing.into_iter().find(|f| active.contains(&f.command));
        // `kept[..good]` is known to pass (the empty prefix is the base).
        let mut good = 0;
        while let Some(failure) = last.take() {
            let (mut lo, mut hi, mut at_hi) = (good, kept.len(), failure);
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                log.runs += 1;
                match self.candidate_fails(&kept[..mid], &active)? {
                    Some(f) => (hi, at_hi) = (mid, f),
                    None => lo = mid,
                }
            }
            let culprit = kept.remove(hi - 1);
            let after: Vec<String> = kept[..hi - 1].iter().map(|c| c.lane.clone()).collect();
            let what = match at_hi.command.as_str() {
                "merge" => format!("it does not merge once the lanes before it are backed out ({})", at_hi.output),
                c if c.starts_with("the checks of ") => format!("its merge breaks {c}"),
                c => format!("its merge breaks integration check `{c}`"),
            };
            let reason = if after.is_empty() {
                what
            } else {
                format!(
                    "{what} (merged after lane{} {}, which pass{})",
                    plural(after.len()),
                    after.join(", "),
                    if after.len() == 1 { "es" } else { "" }
                )
            };
            on_step(&culprit.lane, Some(&reason));
            out.backed_out.push((culprit.lane.clone(), reason));
            log.broken.push(Breakage { lane: culprit.lane.clone(), command: at_hi.command, output: at_hi.output, after });
            good = hi - 1;
            if kept.is_empty() {
                break;
            }
            log.runs += 1;
            last = self.candidate_fails(&kept, &active)?;
        }
        let result = self.candidate(&kept)?.map_err(|e| Error::state(format!("could not merge the lanes kept: {e}"), None))?;
        git_reset(self.path, result)?;
        out.merged = kept.iter().map(|c| c.lane.clone()).collect();
        out.resolved = kept.iter().flat_map(|c| c.resolved.iter().cloned()).collect();
        Ok(log)
    }

    /// The lanes merged onto the run's base, in order: the commit, or why a lane does not merge.
    /// From the base, not from where a resumed integration started: that start holds lanes merged
    /// before the kill, which could then not be backed out.
    fn candidate(&self, lanes: &[&Candidate]) -> Result<std::result::Result<git2::Oid, String>> {
        let git = &self.repo.git;
        let from_base = self.start == self.base || git.graph_descendant_of(self.start, self.base).unwrap_or(false);
        let mut head = if from_base { self.base } else { self.start };
        for c in lanes {
            match self.merger.merge(head, c)? {
                Ok(next) => head = next,
                Err(reason) => return Ok(Err(format!("lane {}: {reason}", c.lane))),
            }
        }
        Ok(Ok(head))
    }

    /// Whether the result of merging `lanes` fails: the first failing command of `active`, else
    /// the checks of the issues those lanes resolve, else `None`. A lane that no longer merges
    /// counts as a failure too.
    fn candidate_fails(&self, lanes: &[&Candidate], active: &[String]) -> Result<Option<CheckFailure>> {
        let commit = match self.candidate(lanes)? {
            Ok(c) => c,
            Err(reason) => return Ok(Some(CheckFailure { command: "merge".into(), output: reason })),
        };
        show_files(self.path, commit)?;
        crate::base::fault::point("mid-bisect");
        if let Some(f) = self.recheck.failing_commands(active, true)?.into_iter().next() {
            return Ok(Some(f));
        }
        let ids: Vec<String> = lanes.iter().flat_map(|c| c.resolved.iter().cloned()).collect();
        let failing = self.recheck.failing(&ids)?;
        Ok((!failing.is_empty()).then(|| CheckFailure { command: format!("the checks of {}", failing.join(", ")), output: String::new() }))
    }
}

/// Why lane `c` is backed out when `failing` checks fail once it is merged: it breaks others'
/// checks, or its own fail beside the others.
fn breakage(c: &Candidate, failing: &[String]) -> String {
    let (own, others): (Vec<&str>, Vec<&str>) = failing.iter().map(String::as_str).partition(|f| c.resolved.iter().any(|r| r == f));
    if !others.is_empty() {
        format!("its merge breaks the checks of {}", others.join(", "))
    } else {
        format!("its own checks fail once merged with the others ({})", own.join(", "))
    }
}

fn oid(s: &str) -> Result<git2::Oid> {
    git2::Oid::from_str(s).map_err(|e| Error::git(format!("bad commit id {s}"), e))
}

/// `git reset --hard --quiet <commit>` in the integration worktree (moves its branch; rewrites
/// only the files that differ).
fn git_reset(path: &Path, commit: git2::Oid) -> Result<()> {
    git(path, &["reset", "--hard", "--quiet", &commit.to_string()]).map(|_| ())
}

/// The files of `commit` in the integration worktree (index and files), its branch left where it
/// is: a run killed while candidates are checked leaves the branch at the full result, which
/// `run --resume` continues from.
fn show_files(path: &Path, commit: git2::Oid) -> Result<()> {
    git(path, &["read-tree", "-u", "--reset", &commit.to_string()]).map(|_| ())
}

/// Put the integration worktree at `commit` on `branch`: created (one checkout) when missing,
/// moved otherwise.
fn check_out(repo: &Repo, path: &Path, branch: &str, commit: git2::Oid) -> Result<()> {
    if path.exists() {
        return git_reset(path, commit);
    }
    let target = repo.git.find_commit(commit).map_err(|e| Error::git(format!("could not read commit {commit}"), e))?;
    repo.git.branch(branch, &target, true).map_err(|e| Error::git(format!("could not point {branch} at the integration result"), e))?;
    worktree::add_existing(&repo.root, path, branch)
}

/// Merges of lane tips made in memory.
struct Merger<'a> {
    repo: &'a Repo,
    policy: IntegrationPolicy,
    run_id: &'a str,
    pairs: &'a [(String, String)],
    author: &'a git2::Signature<'static>,
    committer: &'a git2::Signature<'static>,
}

impl Merger<'_> {
    /// Merge lane `c` onto `head`: `Ok(Ok(new commit))`, or `Ok(Err(reason))` when it cannot be
    /// merged (conflicts) — nothing is written then but unreferenced objects.
    fn merge(&self, head: git2::Oid, c: &Candidate) -> Result<std::result::Result<git2::Oid, String>> {
        let git = &self.repo.git;
        let tip = git
            .find_branch(&c.branch, git2::BranchType::Local)
            .ok()
            .and_then(|b| b.get().target())
            .map(Ok)
            .unwrap_or_else(|| oid(&c.tip))?;
        if tip == head || git.graph_descendant_of(head, tip).unwrap_or(false) {
            return Ok(Ok(head)); // already merged (resume)
        }
        let ours = git.find_commit(head).map_err(|e| Error::git(format!("could not read commit {head}"), e))?;
        let theirs = git.find_commit(tip).map_err(|e| Error::git(format!("could not read lane {}'s tip {tip}", c.lane), e))?;
        // The fast merge's answer, else (overlapping changes, or an error of its own) libgit2's,
        // which says why a lane cannot be merged.
        let tree_id = match treemerge::merge_commits(git, &ours, &theirs) {
            Ok(Some(id)) => id,
            Ok(None) | Err(_) => match self.merge_contents(&ours, &theirs, c)? {
                Ok(id) => id,
                Err(reason) => return Ok(Err(reason)),
            },
        };
        let tree = git.find_tree(tree_id).map_err(|e| Error::git("could not read the merged tree", e))?;
        let (message, parents): (String, Vec<&git2::Commit<'_>>) = match self.policy {
            IntegrationPolicy::Squash => {
                (format!("lanes: run {}: lane {} (squashed): {}", self.run_id, c.lane, c.resolved.join(", ")), vec![&ours])
            }
            _ => (format!("lanes: run {}: merge lane {}", self.run_id, c.lane), vec![&ours, &theirs]),
        };
        let commit = crate::git::snapshot::create_commit(git, None, self.author, self.committer, &message, &tree, &parents)
            .map_err(|e| crate::git::snapshot::in_context(e, format!("could not commit the merge of lane {}", c.lane)))?;
        Ok(Ok(commit))
    }

    /// libgit2's full merge, for lanes that changed the same paths: the merged tree, or why
    /// there is none.
    fn merge_contents(
        &self,
        ours: &git2::Commit<'_>,
        theirs: &git2::Commit<'_>,
        c: &Candidate,
    ) -> Result<std::result::Result<git2::Oid, String>> {
        let git = &self.repo.git;
        let mut index = match git.merge_commits(ours, theirs, None) {
            Ok(i) => i,
            Err(e) => return Ok(Err(format!("merge failed: {}", first_line(e.message())))),
        };
        if index.has_conflicts() {
            let paths: Vec<String> = index
                .conflicts()
                .map(|cs| {
                    cs.flatten()
                        .filter_map(|c| c.our.or(c.their).or(c.ancestor).map(|e| String::from_utf8_lossy(&e.path).into_owned()))
                        .collect()
                })
                .unwrap_or_default();
            return Ok(Err(self.conflict_reason(c, &paths)));
        }
        index.write_tree_to(git).map(Ok).map_err(|e| Error::git("could not write the merged tree", e))
    }

    fn conflict_reason(&self, c: &Candidate, paths: &[String]) -> String {
        let with: Vec<&str> = self
            .pairs
            .iter()
            .filter_map(|(a, b)| {
                if a == &c.lane {
                    Some(b.as_str())
                } else if b == &c.lane {
                    Some(a.as_str())
                } else {
                    None
                }
            })
            .collect();
        let mut paths: Vec<&str> = paths.iter().map(String::as_str).collect();
        paths.sort();
        paths.dedup();
        if with.is_empty() {
            format!("merge failed: conflicts in {}", paths.join(", "))
        } else {
            format!("conflicts with lane {}", with.join(", "))
        }
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or(s).to_string()
}

/// Fast-forward the user's branch to `target` — only if HEAD is still `base` on `branch`. A
/// recovery ref `refs/lanes/backup/<RUN_ID>` keeps the old tip. Returns `Ok(None)` once moved
/// (or when it already is at `target`), `Ok(Some(why))` — and moves nothing — when HEAD is
/// detached, is on another branch, moved, or git refuses (it never overwrites uncommitted changes
/// or untracked files); `why` says which.
pub fn fast_forward(repo: &Repo, run_id: &str, base: &str, branch: Option<&str>, target: &str) -> Result<Option<String>> {
    // A `git` that a killed run started on the main worktree (its own fast-forward) outlives it
    // and holds the index lock until it is done: wait for it, then look at HEAD afresh.
    wait_for_index_lock(&repo.git.path().join("index.lock"), INDEX_LOCK_WAIT);
    let fresh = repo.reopen()?;
    let head = fresh.head_commit().map(|o| o.to_string());
    if head.as_deref() == Some(target) {
        return Ok(None);
    }
    let Some(branch) = branch else {
        return Ok(Some("the run started on a detached HEAD, so there is no branch to fast-forward".into()));
    };
    match fresh.head_branch() {
        None => return Ok(Some(format!("HEAD is detached now (the run started on `{branch}`)"))),
        Some(now) if now != branch => return Ok(Some(format!("HEAD is on `{now}` now, not on `{branch}` where the run started"))),
        Some(_) => {}
    }
    if head.as_deref() != Some(base) {
        return Ok(Some(format!("your branch `{branch}` moved during the run")));
    }
    let oid = git2::Oid::from_str(base).map_err(|e| Error::git("bad base commit", e))?;
    fresh
        .git
        .reference(&format!("refs/lanes/backup/{run_id}"), oid, true, "git-lanes: the branch tip before the run moved it")
        .map_err(|e| Error::git("could not write the recovery ref", e))?;
    Ok(match git(&repo.root, &["merge", "--ff-only", "--quiet", target]) {
        Ok(_) => None,
        Err(e) => {
            let text = e.to_string();
            let files: Vec<&str> = text.lines().filter(|l| l.starts_with('\t')).map(str::trim).collect();
            if text.contains("untracked working tree files would be overwritten") {
                Some(format!("untracked files in the main worktree are in the way of files the run adds: {}", files.join(", ")))
            } else if text.contains("would be overwritten") {
                Some(format!("uncommitted changes in the main worktree are in the way: {}", files.join(", ")))
            } else {
                // git's own reason, not the command line that carried it.
                let reason = text.split_once("): ").map_or(text.as_str(), |(_, r)| r);
                Some(format!("git refused the fast-forward: {}", reason.lines().next().unwrap_or("").trim()))
            }
        }
    })
}

/// How long a fast-forward waits for a main worktree's index lock to go.
const INDEX_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Wait until `lock` is gone, at most `limit`. A lock that stays is git's to report.
fn wait_for_index_lock(lock: &Path, limit: std::time::Duration) {
    let start = std::time::Instant::now();
    while lock.symlink_metadata().is_ok() && start.elapsed() < limit {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
