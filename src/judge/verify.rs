//! Verification: run an issue's own checks (docs/formats.md#issue-file) and judge them; build the evidence that
//! records the result; tell whether a resolved issue's latest evidence still holds.
//!
//! Start with a [`Checker`] (checks run in one tree; [`Checker::verify`] runs one issue's checks
//! in order) or [`verify_many`] (many issues in parallel), configured by [`VerifyOptions`];
//! [`to_evidence`] turns an [`IssueVerdict`] into the seed's evidence schema, and
//! [`evidence_state`] reads it back for `status` and `doctor`.
//!
//! # Design note: when a check passes
//!
//! Checks are untrusted shell lines (docs/design.md#the-check-sandbox-and-read-only-git-folders).
//! Each runs as `sh -c <command>` in the worktree being verified, with a scrubbed environment,
//! stdin closed, its own process group, a timeout (the group is killed when it elapses) and at
//! most 64 KiB of output kept (`process.rs`). The verdict, in this order:
//!
//! 1. not started — flagged by [`safety::inspect`] without `allow_dangerous`, or `sh` could not
//!    be spawned — **fails** (`not run: …`);
//! 2. timed out, killed by a signal, or ended with an unknown status — **fails**, whatever it
//!    printed (a half-finished check proves nothing);
//! 3. the output contains the word `FAIL` — **fails**, even with exit 0 (seed checks are written
//!    `… && echo "PASS" || echo "FAIL"`, which always exit 0);
//! 4. the output contains the word `PASS` — **passes**, even with a non-zero exit: the spec says
//!    that where the output contains `PASS` or `FAIL`, that word decides;
//! 5. otherwise the exit code decides: 0 passes, anything else fails.
//!
//! "The word" is case-sensitive and whole: `FAIL` bounded by anything but ASCII letters, digits
//! and `_`, so `FAILED`, `FAILURE`, `Fail` or `PASSWORD` decide nothing and leave it to the exit
//! code (test runners print `FAILED` *and* exit non-zero). `FAIL` beats `PASS` when both appear.
//! The words are looked for in the kept output (first and last 32 KiB), before redaction.
//!
//! An issue with no checks is [`VerifyOutcome::Unverifiable`], never passed.
#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rayon::prelude::*;
use serde::Serialize;

use crate::exec::process::{self, Ending, EnvPolicy, ProcessSpec};
use crate::files::config::Config;
use crate::files::issue::{Check, Issue, Status};
use crate::files::rewrite::Edit;
use crate::files::safety;
use crate::git::repo::Repo;
use crate::judge::evidence::{self, CheckRecord, Evidence};

/// How checks are run; resolved once per invocation from `lanes.yaml` and flags.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// Wall-clock limit of one check.
    pub timeout: Duration,
    /// Exactly the environment a check sees (see [`process::scrubbed_env`]).
    pub env: Vec<(OsString, OsString)>,
    /// Run checks that [`safety::inspect`] flags (otherwise they fail unrun).
    pub allow_dangerous: bool,
}

impl VerifyOptions {
    /// Options from the configuration: its `verify.timeout`, the scrubbed environment plus its
    /// `verify.env` names.
    pub fn from_config(config: &Config, allow_dangerous: bool) -> VerifyOptions {
        VerifyOptions { timeout: config.verify_timeout, env: process::scrubbed_env(&config.verify_env), allow_dangerous }
    }
}

/// Why a check passed or failed (the rule of the module docs that decided).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reason {
    /// Not started: flagged as dangerous, or `sh` could not be spawned.
    NotRun { why: String },
    /// Timed out, killed by a signal, or ended with an unknown status.
    Ended,
    /// The output contains the word `FAIL`.
    SaysFail,
    /// The output contains the word `PASS`.
    SaysPass,
    /// Neither word: the exit code decided.
    ExitCode,
}

impl Reason {
    /// `not_run`, `ended`, `says_fail`, `says_pass`, `exit_code` (stable, for JSON).
    pub fn code(&self) -> &'static str {
        match self {
            Reason::NotRun { .. } => "not_run",
            Reason::Ended => "ended",
            Reason::SaysFail => "says_fail",
            Reason::SaysPass => "says_pass",
            Reason::ExitCode => "exit_code",
        }
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::NotRun { why } => write!(f, "not run: {why}"),
            Reason::Ended => f.write_str("did not finish"),
            Reason::SaysFail => f.write_str("printed FAIL"),
            Reason::SaysPass => f.write_str("printed PASS"),
            Reason::ExitCode => f.write_str("exit code"),
        }
    }
}

/// The result of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    /// The check as parsed from the issue file.
    pub check: Check,
    pub passed: bool,
    pub reason: Reason,
    /// How the command ended; `None` when it was not started.
    pub ending: Option<Ending>,
    /// Output (stdout and stderr in arrival order), capped and with secrets redacted.
    pub output: String,
    /// Bytes of output left out by the cap.
    pub dropped_bytes: u64,
    pub duration: Duration,
    /// How its sandbox kept it from writing git's data; `None` when it was not started.
    pub git_shield: Option<crate::exec::sandbox::GitShield>,
}

impl CheckResult {
    /// The exit code, when the command exited on its own.
    pub fn exit_code(&self) -> Option<i32> {
        match self.ending {
            Some(Ending::Exited(code)) => Some(code),
            _ => None,
        }
    }

    /// How it ended and what decided, for people: `exit 1`, `exit 0, printed FAIL`,
    /// `timed out after 30s`, `not run: reaches the network (curl)`.
    pub fn ending_words(&self) -> String {
        if let Some(unusual) = self.unusual_ending() {
            return unusual;
        }
        let exit = self.ending.map(|e| e.to_string()).unwrap_or_default();
        match self.reason {
            Reason::SaysFail | Reason::SaysPass => format!("{exit}, {}", self.reason),
            _ => exit,
        }
    }

    /// A short description of how it ended, when that is more than a plain exit
    /// (`timed out after 1s`, `killed by signal 9`, `not run: reaches the network (curl)`).
    pub fn unusual_ending(&self) -> Option<String> {
        match (&self.reason, self.ending) {
            (Reason::NotRun { why }, _) => Some(format!("not run: {why}")),
            (_, Some(Ending::Exited(_))) => None,
            (_, Some(e)) => Some(e.to_string()),
            (_, None) => None,
        }
    }
}

/// A check that failed: its command, how it ended and the last lines of its output (capped and
/// redacted: see [`FailedCheck::of`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct FailedCheck {
    pub command: String,
    /// How it ended and what decided: `exit 1`, `printed FAIL`, `timed out after 30s`.
    pub ending: String,
    #[serde(default)]
    pub output: String,
}

/// At most this many of a failing check's last output lines are kept (and at most
/// [`FAILED_OUTPUT_BYTES`] of them).
pub const FAILED_OUTPUT_LINES: usize = 40;
/// At most this many bytes of a failing check's output tail are kept.
pub const FAILED_OUTPUT_BYTES: usize = 4096;

impl FailedCheck {
    /// The failing check from its command, ending and whole output: the output's last
    /// [`FAILED_OUTPUT_LINES`] lines (at most [`FAILED_OUTPUT_BYTES`]), secrets redacted.
    pub fn of(command: &str, ending: String, output: &str) -> FailedCheck {
        FailedCheck { command: command.to_string(), ending, output: output_tail(&crate::base::redact::redact(output), FAILED_OUTPUT_LINES) }
    }

    /// The last `lines` lines of the kept output.
    pub fn last_lines(&self, lines: usize) -> String {
        output_tail(&self.output, lines)
    }
}

/// The last `lines` lines of `text` (at most [`FAILED_OUTPUT_BYTES`], cut at a character
/// boundary), without trailing blank lines.
pub fn output_tail(text: &str, lines: usize) -> String {
    let body = text.trim_end();
    let start = body.char_indices().rev().filter(|(_, c)| *c == '\n').nth(lines.saturating_sub(1)).map_or(0, |(i, _)| i + 1);
    let mut tail = &body[start..];
    if tail.len() > FAILED_OUTPUT_BYTES {
        let mut cut = tail.len() - FAILED_OUTPUT_BYTES;
        while !tail.is_char_boundary(cut) {
            cut += 1;
        }
        tail = &tail[cut..];
    }
    tail.to_string()
}

/// What verification concluded about an issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum VerifyOutcome {
    /// Every check passed.
    Passed,
    /// At least one check failed.
    Failed,
    /// The issue has no checks: it can never be verified.
    Unverifiable,
}

impl VerifyOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            VerifyOutcome::Passed => "PASSED",
            VerifyOutcome::Failed => "FAILED",
            VerifyOutcome::Unverifiable => "UNVERIFIABLE",
        }
    }
}

impl std::fmt::Display for VerifyOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The verification of one issue.
#[derive(Debug, Clone)]
pub struct IssueVerdict {
    pub id: String,
    pub lane: String,
    /// The issue file, relative to the repository root.
    pub path: PathBuf,
    pub outcome: VerifyOutcome,
    /// In the order of the issue file.
    pub checks: Vec<CheckResult>,
    /// sha256 of every affected path, taken just before the checks ran.
    pub path_hashes: BTreeMap<String, Option<String>>,
    pub duration: Duration,
}

impl IssueVerdict {
    pub fn passed_checks(&self) -> usize {
        self.checks.iter().filter(|c| c.passed).count()
    }

    pub fn failed_checks(&self) -> usize {
        self.checks.len() - self.passed_checks()
    }

    /// `passed * 100 / total`, 0 when there are no checks.
    pub fn confidence(&self) -> u32 {
        match self.checks.len() {
            0 => 0,
            total => u32::try_from(self.passed_checks() * 100 / total).unwrap_or(0),
        }
    }
}

/// Whether `text` contains `word` as a whole word (case-sensitive; bounded by anything but ASCII
/// letters, digits and `_`).
pub fn contains_word(text: &str, word: &str) -> bool {
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = text.as_bytes();
    text.match_indices(word).any(|(at, _)| {
        let end = at + word.len();
        (at == 0 || !is_word(bytes[at - 1])) && (end == bytes.len() || !is_word(bytes[end]))
    })
}

/// The verdict on a finished check, by the rules of the module docs.
pub fn judge(ending: Ending, output: &str) -> (bool, Reason) {
    match ending {
        Ending::TimedOut { .. } | Ending::Signaled(_) | Ending::Unknown => (false, Reason::Ended),
        Ending::Exited(_) if contains_word(output, "FAIL") => (false, Reason::SaysFail),
        Ending::Exited(_) if contains_word(output, "PASS") => (true, Reason::SaysPass),
        Ending::Exited(code) => (code == 0, Reason::ExitCode),
    }
}

/// Verify `issues` with up to `jobs` issues at a time (checks of one issue stay in order).
/// Verdicts come back in the order of `issues`.
pub fn verify_many(issues: &[&Issue], worktree: &Path, opts: &VerifyOptions, jobs: usize) -> Vec<IssueVerdict> {
    let checker = Checker::new(worktree, opts);
    let jobs = jobs.max(1).min(issues.len().max(1));
    if jobs == 1 {
        return issues.iter().map(|i| checker.verify(i)).collect();
    }
    match rayon::ThreadPoolBuilder::new().num_threads(jobs).thread_name(|n| format!("verify-{n}")).build() {
        Ok(pool) => pool.install(|| issues.par_iter().map(|i| checker.verify(i)).collect()),
        // No threads to be had: still verify, one issue at a time.
        Err(_) => issues.iter().map(|i| checker.verify(i)).collect(),
    }
}

/// Runs checks in one tree and judges them. What its checks share is set up once, not per check:
/// - the guard of the tree's `.git` (its hooks and config as they were when the checker was
///   made; after each check, whatever differs is put back and that check fails, and so does
///   every check that ran meanwhile, since which of them did it cannot be told);
/// - a few *slots*, one per check running at a time: a private temporary folder (the check's
///   `TMPDIR`, emptied after each check) and the sandbox allowing writes only there and in the
///   tree, its Landlock ruleset built once.
pub struct Checker<'a> {
    tree: &'a Path,
    opts: &'a VerifyOptions,
    /// The guard, and how many times it has put something back. One lock: two checks ending at
    /// once never restore the same file together, and each reads the count its restore left.
    git_guard: std::sync::Mutex<(crate::exec::sandbox::GitGuard, usize)>,
    slots: std::sync::Mutex<Vec<CheckSlot>>,
}

/// One check's private temporary folder and its prepared sandbox.
struct CheckSlot {
    tmp: tempfile::TempDir,
    sandbox: std::sync::Arc<crate::exec::sandbox::Prepared>,
}

impl CheckSlot {
    fn new(tree: &Path) -> std::result::Result<CheckSlot, String> {
        let tmp = tempfile::Builder::new()
            .prefix("git-lanes-check-")
            .tempdir()
            .map_err(|e| format!("could not create its temporary folder: {e}"))?;
        let sandbox = crate::exec::sandbox::Prepared::for_check(tree, tmp.path()).map_err(|e| format!("sandbox: {e}"))?;
        Ok(CheckSlot { tmp, sandbox: std::sync::Arc::new(sandbox) })
    }

    /// Empty the temporary folder for the next check; `false` if something stays (the slot is
    /// then dropped, and its folder with it).
    fn emptied(&self) -> bool {
        let Ok(entries) = std::fs::read_dir(self.tmp.path()) else { return false };
        entries.fold(true, |clean, entry| {
            let gone = entry.and_then(|e| match e.file_type()? {
                t if t.is_dir() => std::fs::remove_dir_all(e.path()),
                _ => std::fs::remove_file(e.path()),
            });
            clean & gone.is_ok()
        })
    }
}

impl<'a> Checker<'a> {
    /// A checker for `tree`; takes the `.git` guard now.
    pub fn new(tree: &'a Path, opts: &'a VerifyOptions) -> Checker<'a> {
        Checker {
            tree,
            opts,
            git_guard: std::sync::Mutex::new((crate::exec::sandbox::GitGuard::before(tree), 0)),
            slots: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// Run every check of `issue`, in order. All checks run even after one fails, so the
    /// evidence shows the whole picture.
    pub fn verify(&self, issue: &Issue) -> IssueVerdict {
        let started = Instant::now();
        let path_hashes = evidence::hash_paths(self.tree, &issue.meta.affected_paths);
        let checks: Vec<CheckResult> = issue.checks().iter().map(|c| self.run(c)).collect();
        let outcome = if checks.is_empty() {
            VerifyOutcome::Unverifiable
        } else if checks.iter().all(|c| c.passed) {
            VerifyOutcome::Passed
        } else {
            VerifyOutcome::Failed
        };
        IssueVerdict {
            id: issue.id().to_string(),
            lane: issue.lane().to_string(),
            path: issue.path.clone(),
            outcome,
            checks,
            path_hashes,
            duration: started.elapsed(),
        }
    }

    /// Run one check and judge it.
    pub fn run(&self, check: &Check) -> CheckResult {
        let not_run = |why: String| CheckResult {
            check: check.clone(),
            passed: false,
            reason: Reason::NotRun { why },
            ending: None,
            output: String::new(),
            dropped_bytes: 0,
            duration: Duration::ZERO,
            git_shield: None,
        };
        if !self.opts.allow_dangerous
            && let Some(finding) = safety::inspect(&check.command).into_iter().next()
        {
            return not_run(format!("{} (pass --allow-dangerous to run it)", finding.message));
        }
        let slot = match self.take_slot() {
            Ok(slot) => slot,
            Err(why) => return not_run(why),
        };
        let mut env = self.opts.env.clone();
        env.retain(|(k, _)| k != "TMPDIR");
        env.push(("TMPDIR".into(), slot.tmp.path().as_os_str().to_os_string()));
        let spec = ProcessSpec::shell(&check.command, self.tree)
            .with_env(EnvPolicy::Clear(env))
            .with_timeout(self.opts.timeout)
            .with_prepared_sandbox(std::sync::Arc::clone(&slot.sandbox));
        let restorations_before = self.guard().1;
        let ran = process::run(&spec);
        let (restored, restored_meanwhile) = {
            let mut guard = self.guard();
            let restored = guard.0.restore();
            if !restored.is_empty() {
                guard.1 += 1;
            }
            let meanwhile = guard.1 != restorations_before;
            (restored, meanwhile)
        };
        let shield = slot.sandbox.shield();
        self.give_back(slot);
        let done = match ran {
            Err(e) => return not_run(e.to_string()),
            Ok(done) => done,
        };
        let (passed, reason) = if !restored.is_empty() {
            let paths = restored.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ");
            let why = if restored.iter().any(|p| p.file_name() == Some(".git".as_ref())) {
                format!("it deleted or changed the worktree's link to its repository ({paths}); git-lanes put it back")
            } else {
                format!("it changed what git executes ({paths}); git-lanes put it back")
            };
            (false, Reason::NotRun { why })
        } else if restored_meanwhile {
            let why =
                "a check running at the same time changed what git executes (git-lanes put it back), so this one cannot be trusted either";
            (false, Reason::NotRun { why: why.into() })
        } else {
            judge(done.ending, &done.output.text)
        };
        CheckResult {
            check: check.clone(),
            passed,
            reason,
            ending: Some(done.ending),
            output: crate::base::redact::redact(&done.output.text).into_owned(),
            dropped_bytes: done.output.dropped_bytes,
            duration: done.duration,
            git_shield: Some(shield),
        }
    }

    fn guard(&self) -> std::sync::MutexGuard<'_, (crate::exec::sandbox::GitGuard, usize)> {
        self.git_guard.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn take_slot(&self) -> std::result::Result<CheckSlot, String> {
        let free = self.slots.lock().unwrap_or_else(std::sync::PoisonError::into_inner).pop();
        free.map_or_else(|| CheckSlot::new(self.tree), Ok)
    }

    fn give_back(&self, slot: CheckSlot) {
        if slot.emptied() {
            self.slots.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(slot);
        }
    }
}

/// The commit a worktree is on and whether its tracked files differ from it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TreeState {
    /// HEAD's commit id; `None` on an unborn branch.
    pub commit: Option<String>,
    /// Tracked files have uncommitted changes (untracked files do not count).
    pub dirty: bool,
}

impl TreeState {
    /// Read HEAD and the status of `repo`'s working tree.
    ///
    /// # Errors
    /// When git cannot read the status.
    pub fn of(repo: &Repo) -> crate::Result<TreeState> {
        Ok(TreeState { commit: repo.head_commit().map(|o| o.to_string()), dirty: !repo.dirty_tracked_files()?.is_empty() })
    }
}

/// The evidence record (seed schema plus commit, dirty and path hashes) of a verdict.
/// `timestamp` is written as is (the seed uses local ISO-8601 with microseconds).
pub fn to_evidence(verdict: &IssueVerdict, issue: &Issue, tree: &TreeState, timestamp: &str) -> Evidence {
    let checks = verdict
        .checks
        .iter()
        .enumerate()
        .map(|(n, c)| CheckRecord {
            name: c.check.name.clone().unwrap_or_else(|| format!("check_{}", n + 1)),
            // A literal secret in the issue file is not copied into the evidence either.
            command: crate::base::redact::redact(&c.check.command).into_owned(),
            expected: 0,
            actual: c.exit_code().unwrap_or(-1),
            passed: c.passed,
            output: c.output.clone(),
            duration_ms: duration_ms(c.duration),
            ending: Some(match &c.reason {
                Reason::NotRun { why } => format!("not run: {why}"),
                _ => c.ending.map(|e| e.to_string()).unwrap_or_default(),
            }),
            git_shield: c.git_shield.map(|g| g.code().to_string()),
        })
        .collect();
    Evidence {
        issue_id: verdict.id.clone(),
        lane: verdict.lane.clone(),
        timestamp: timestamp.to_string(),
        all_passed: verdict.outcome == VerifyOutcome::Passed,
        passed_checks: verdict.passed_checks(),
        failed_checks: verdict.failed_checks(),
        total_checks: verdict.checks.len(),
        confidence_score: verdict.confidence(),
        verification_pattern: issue.meta.verification_pattern.clone(),
        verification_depth: issue.meta.verification_depth.clone(),
        affected_paths: issue.meta.affected_paths.clone(),
        checks,
        metadata: Evidence::our_metadata(),
        commit: tree.commit.clone(),
        dirty: tree.dirty,
        path_hashes: verdict.path_hashes.clone(),
        run_id: None,
        seal: None,
    }
}

/// The evidence of a verdict as of `now`, of the tree `tree`; `run_id` when a run judged it.
pub fn evidence_of(
    verdict: &IssueVerdict,
    issue: &Issue,
    tree: &TreeState,
    run_id: Option<&str>,
    now: &chrono::DateTime<chrono::Local>,
) -> Evidence {
    let mut ev = to_evidence(verdict, issue, tree, &now.format("%Y-%m-%dT%H:%M:%S%.6f").to_string());
    ev.run_id = run_id.map(str::to_owned);
    ev
}

/// Records a verdict: writes its evidence ([`evidence_of`]) at `root` under `evidence_dir`, as
/// `<LANE>/<ID>_<YYYYmmdd_HHMMSS>.json` stamped with `now`, and returns that path (relative to
/// `root`). `git lanes verify` and a run's judge both record what they verified through here.
///
/// # Errors
///
/// When the lane or id cannot name a file, or the file cannot be written.
pub fn record_evidence(
    root: &Path,
    evidence_dir: &Path,
    verdict: &IssueVerdict,
    issue: &Issue,
    tree: &TreeState,
    run_id: Option<&str>,
    now: &chrono::DateTime<chrono::Local>,
) -> crate::base::error::Result<PathBuf> {
    let ev = evidence_of(verdict, issue, tree, run_id, now);
    evidence::write(root, evidence_dir, &ev, &now.format("%Y%m%d_%H%M%S").to_string())
}

/// Sets what a passing verification records in the issue's frontmatter: `date_verified` (`today`)
/// and `verification_confidence`.
pub fn stamp_verified<'e>(edit: &'e mut Edit, verdict: &IssueVerdict, today: &str) -> &'e mut Edit {
    edit.set_key("date_verified", today).set_number("verification_confidence", u64::from(verdict.confidence()))
}

/// Milliseconds, saturating.
pub fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// What the latest evidence of an issue says today.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum EvidenceState {
    /// Passing evidence whose affected paths are unchanged.
    Fresh { evidence: PathBuf },
    /// No evidence file (or none that parses).
    Missing,
    /// The latest evidence did not pass.
    Failing { evidence: PathBuf },
    /// Affected paths changed since the evidence was taken.
    Stale { evidence: PathBuf, paths: Vec<String> },
}

impl EvidenceState {
    /// Whether the issue has evidence that still holds.
    pub fn is_fresh(&self) -> bool {
        matches!(self, EvidenceState::Fresh { .. })
    }

    /// `missing`, `failing`, `stale`, `fresh`.
    pub fn label(&self) -> &'static str {
        match self {
            EvidenceState::Fresh { .. } => "fresh",
            EvidenceState::Missing => "missing",
            EvidenceState::Failing { .. } => "failing",
            EvidenceState::Stale { .. } => "stale",
        }
    }
}

impl std::fmt::Display for EvidenceState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EvidenceState::Fresh { evidence } => write!(f, "evidence {} holds", evidence.display()),
            EvidenceState::Missing => f.write_str("no verification evidence"),
            EvidenceState::Failing { evidence } => write!(f, "latest evidence {} did not pass", evidence.display()),
            EvidenceState::Stale { evidence, paths } => {
                write!(f, "evidence {} is stale: {} changed since", evidence.display(), paths.join(", "))
            }
        }
    }
}

/// The state of `issue`'s latest evidence file under `root/evidence_dir` (only that one file is
/// read, and only its affected paths are hashed).
pub fn evidence_state(root: &Path, evidence_dir: &Path, issue: &Issue) -> EvidenceState {
    let names = evidence::lane_names(root, evidence_dir, issue.lane()).unwrap_or_default();
    evidence_state_among(root, evidence_dir, (issue.lane(), issue.id()), &names, || issue.meta.affected_paths.clone())
}

/// [`evidence_state`] of the issue `(lane, id)` given its lane folder's file names;
/// `affected_paths` gives the issue's affected paths (asked only for the seed's evidence).
fn evidence_state_among(
    root: &Path,
    evidence_dir: &Path,
    (lane, id): (&str, &str),
    names: &[String],
    affected_paths: impl FnOnce() -> Vec<String>,
) -> EvidenceState {
    let Some((rel, ev)) = evidence::latest_among(root, evidence_dir, lane, names, id) else {
        return EvidenceState::Missing;
    };
    if !ev.all_passed {
        return EvidenceState::Failing { evidence: rel };
    }
    let paths = if ev.has_path_hashes() {
        evidence::stale_paths(root, &ev)
    } else {
        // The seed's evidence: fresh when the affected paths are unchanged since it was committed.
        let affected = affected_paths();
        let paths = if affected.is_empty() { ev.affected_paths.clone() } else { affected };
        match git2::Repository::open(root) {
            Ok(git) => evidence::foreign_stale_paths(&git, None, &rel, &paths),
            Err(_) => paths,
        }
    };
    if paths.is_empty() { EvidenceState::Fresh { evidence: rel } } else { EvidenceState::Stale { evidence: rel, paths } }
}

/// Of the RESOLVED issues `resolved` (`(lane, id)`), those whose latest evidence is missing,
/// failing or stale, by index, in order. Each lane's evidence folder is listed once; an issue
/// with no file there is missing without another look (see [`evidence::latest_among`]).
/// `affected_paths(at)` gives an issue's
/// affected paths, asked only for the seed's evidence (which has no path hashes).
pub fn unbacked(
    root: &Path,
    evidence_dir: &Path,
    resolved: &[(&str, &str)],
    affected_paths: impl Fn(usize) -> Vec<String> + Sync,
) -> Vec<(usize, EvidenceState)> {
    let mut lanes: Vec<&str> = resolved.iter().map(|(lane, _)| *lane).collect();
    lanes.sort_unstable();
    lanes.dedup();
    let names: HashMap<&str, Vec<String>> =
        lanes.par_iter().filter_map(|l| Some((*l, evidence::lane_names(root, evidence_dir, l)?))).collect();
    resolved
        .par_iter()
        .enumerate()
        .map(|(at, &(lane, id))| {
            let names = names.get(lane).map(Vec::as_slice).unwrap_or_default();
            (at, evidence_state_among(root, evidence_dir, (lane, id), names, || affected_paths(at)))
        })
        .filter(|(_, s)| !s.is_fresh())
        .collect()
}

/// RESOLVED issues whose latest evidence is missing, failing or stale, in workspace order.
pub fn unbacked_resolved<'a>(root: &Path, evidence_dir: &Path, issues: &'a [Issue]) -> Vec<(&'a Issue, EvidenceState)> {
    let resolved: Vec<&Issue> = issues.iter().filter(|i| i.status() == Status::Resolved).collect();
    let subjects: Vec<(&str, &str)> = resolved.iter().map(|i| (i.lane(), i.id())).collect();
    unbacked(root, evidence_dir, &subjects, |at| resolved[at].meta.affected_paths.clone())
        .into_iter()
        .map(|(at, s)| (resolved[at], s))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(command: &str) -> Check {
        Check { name: None, command: command.to_string(), line: 1 }
    }

    fn opts(timeout: Duration) -> VerifyOptions {
        VerifyOptions { timeout, env: process::scrubbed_env(&[]), allow_dangerous: false }
    }

    fn run_check(check: &Check, tree: &Path, opts: &VerifyOptions) -> CheckResult {
        Checker::new(tree, opts).run(check)
    }

    fn verify_issue(issue: &Issue, tree: &Path, opts: &VerifyOptions) -> IssueVerdict {
        Checker::new(tree, opts).verify(issue)
    }

    fn run(command: &str) -> CheckResult {
        run_check(&check(command), &std::env::temp_dir(), &opts(Duration::from_secs(10)))
    }

    fn issue(body_checks: &str, affected: &str) -> Issue {
        let text = format!(
            "---\nissue_id: E-01\nlane: E\nstatus: OPEN\nverification_pattern: \"file_check\"\naffected_paths: [{affected}]\n---\n# [LANE E] Issue E-01: T\n\n## Verification Commands\n\n```bash\n{body_checks}```\n"
        );
        Issue::parse(Path::new("issues/E/E-01.md"), text.into_bytes()).unwrap()
    }

    #[test]
    fn whole_words_only() {
        assert!(contains_word("FAIL", "FAIL"));
        assert!(contains_word("x: FAIL\n", "FAIL"));
        assert!(contains_word("[FAIL]", "FAIL"));
        assert!(contains_word("a\nPASS", "PASS"));
        assert!(!contains_word("FAILED", "FAIL"));
        assert!(!contains_word("NOFAIL", "FAIL"));
        assert!(!contains_word("FAIL_x", "FAIL"));
        assert!(!contains_word("fail", "FAIL"));
        assert!(!contains_word("PASSWORD", "PASS"));
        assert!(contains_word("PASSWORD PASS", "PASS"));
    }

    #[test]
    fn judging_rules() {
        let ok = Ending::Exited(0);
        let bad = Ending::Exited(1);
        assert_eq!(judge(ok, "PASS\n"), (true, Reason::SaysPass));
        assert_eq!(judge(ok, "FAIL\n"), (false, Reason::SaysFail));
        assert_eq!(judge(ok, "PASS\nFAIL\n"), (false, Reason::SaysFail));
        assert_eq!(judge(bad, "PASS\n"), (true, Reason::SaysPass));
        assert_eq!(judge(ok, ""), (true, Reason::ExitCode));
        assert_eq!(judge(bad, ""), (false, Reason::ExitCode));
        assert_eq!(judge(bad, "test result: FAILED"), (false, Reason::ExitCode));
        assert_eq!(judge(Ending::TimedOut { after: Duration::from_secs(1) }, "PASS"), (false, Reason::Ended));
        assert_eq!(judge(Ending::Signaled(9), "PASS"), (false, Reason::Ended));
        assert_eq!(judge(Ending::Unknown, ""), (false, Reason::Ended));
    }

    #[test]
    fn real_checks_pass_and_fail() {
        let r = run("test -d / && echo \"PASS\" || echo \"FAIL\"");
        assert!(r.passed);
        assert_eq!(r.output, "PASS\n");
        assert_eq!(r.exit_code(), Some(0));
        let r = run("test -f /no/such/file && echo \"PASS\" || echo \"FAIL\"");
        assert!(!r.passed);
        assert_eq!(r.reason, Reason::SaysFail);
        assert_eq!(r.exit_code(), Some(0));
        assert!(!run("exit 3").passed);
        assert!(run("true").passed);
        assert_eq!(run("exit 3").unusual_ending(), None);
    }

    #[test]
    fn dangerous_checks_are_not_run_unless_allowed() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("ran");
        let cmd = format!("touch '{}' && curl -s https://example.invalid; echo PASS", marker.display());
        let r = run_check(&check(&cmd), dir.path(), &opts(Duration::from_secs(5)));
        assert!(!r.passed);
        assert!(matches!(&r.reason, Reason::NotRun { why } if why.contains("network")), "{:?}", r.reason);
        assert!(r.unusual_ending().unwrap().starts_with("not run: reaches the network"));
        assert!(!marker.exists());
        let allowed = VerifyOptions { allow_dangerous: true, ..opts(Duration::from_secs(5)) };
        let r = run_check(&check(&cmd), dir.path(), &allowed);
        assert!(marker.exists());
        assert!(r.passed, "{r:?}");
    }

    #[test]
    fn timeout_fails_even_after_pass() {
        let r = run_check(&check("echo PASS; sleep 10"), &std::env::temp_dir(), &opts(Duration::from_millis(200)));
        assert!(!r.passed);
        assert_eq!(r.reason, Reason::Ended);
        assert_eq!(r.unusual_ending().as_deref(), Some("timed out after 200ms"));
    }

    #[test]
    fn secrets_in_output_are_redacted() {
        let r = run("echo token ghp_abcdefghijklmnopqrstuvwxyz0123456789; echo PASS");
        assert_eq!(r.output, "token [REDACTED]\nPASS\n");
        assert!(r.passed);
    }

    #[test]
    fn issue_outcomes_and_evidence() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.txt"), "x").unwrap();
        let o = opts(Duration::from_secs(5));
        let i = issue("# Check 1: a exists\ntest -f a.txt && echo PASS || echo FAIL\ntest -f b.txt\n", "\"a.txt\"");
        let v = verify_issue(&i, dir.path(), &o);
        assert_eq!(v.outcome, VerifyOutcome::Failed);
        assert_eq!((v.passed_checks(), v.failed_checks(), v.confidence()), (1, 1, 50));
        let tree = TreeState { commit: Some("abc".into()), dirty: true };
        let ev = to_evidence(&v, &i, &tree, "2026-01-01T00:00:00.000000");
        assert_eq!(ev.checks[0].name, "a exists");
        assert_eq!(ev.checks[1].name, "check_2");
        assert_eq!(ev.checks[1].actual, 1);
        assert_eq!(ev.checks[1].ending.as_deref(), Some("exit 1"));
        assert!(!ev.all_passed);
        assert_eq!(ev.confidence_score, 50);
        assert_eq!(ev.verification_pattern.as_deref(), Some("file_check"));
        assert_eq!(ev.commit.as_deref(), Some("abc"));
        assert!(ev.dirty);
        assert_eq!(ev.path_hashes["a.txt"], Some(evidence::sha256_hex(b"x")));

        let none = issue("# only a comment\n", "");
        assert_eq!(verify_issue(&none, dir.path(), &o).outcome, VerifyOutcome::Unverifiable);
        assert_eq!(verify_issue(&none, dir.path(), &o).confidence(), 0);
    }

    #[test]
    fn parallel_verdicts_keep_order() {
        let dir = tempfile::tempdir().unwrap();
        let issues: Vec<Issue> = (0..6).map(|n| issue(&format!("test {} -lt 3\n", n), "")).collect();
        let refs: Vec<&Issue> = issues.iter().collect();
        let o = opts(Duration::from_secs(5));
        let seq: Vec<VerifyOutcome> = verify_many(&refs, dir.path(), &o, 1).iter().map(|v| v.outcome).collect();
        let par: Vec<VerifyOutcome> = verify_many(&refs, dir.path(), &o, 4).iter().map(|v| v.outcome).collect();
        assert_eq!(seq, par);
        assert_eq!(
            &seq[..],
            [
                VerifyOutcome::Passed,
                VerifyOutcome::Passed,
                VerifyOutcome::Passed,
                VerifyOutcome::Failed,
                VerifyOutcome::Failed,
                VerifyOutcome::Failed
            ]
        );
    }

    #[test]
    fn each_check_gets_an_empty_private_tmpdir_and_the_sandbox_holds_for_every_check() {
        let tree = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let o = opts(Duration::from_secs(5));
        let checker = Checker::new(tree.path(), &o);
        let leave = checker.run(&check("mkdir \"$TMPDIR/d\" && echo x > \"$TMPDIR/d/f\" && echo x > \"$TMPDIR/g\" && echo PASS"));
        assert!(leave.passed, "{leave:?}");
        for _ in 0..3 {
            let r = checker.run(&check("test -z \"$(ls -A \"$TMPDIR\")\" && echo PASS || echo FAIL"));
            assert!(r.passed, "a check saw what an earlier one left in its TMPDIR: {r:?}");
        }
        if crate::exec::sandbox::status().is_enforced() {
            let escape = format!("echo y > '{}/escaped'", outside.path().display());
            for _ in 0..2 {
                checker.run(&check(&escape));
                assert!(!outside.path().join("escaped").exists(), "a check wrote outside its tree and TMPDIR");
            }
        }
    }

    #[test]
    fn a_check_changing_a_hook_fails_and_so_does_one_running_meanwhile() {
        let tree = tempfile::tempdir().unwrap();
        let hooks = tree.path().join(".git/hooks");
        std::fs::create_dir_all(&hooks).unwrap();
        std::fs::write(hooks.join("pre-push"), "mine").unwrap();
        // Past the danger reading, which flags the write, to the sandbox.
        let o = VerifyOptions { allow_dangerous: true, ..opts(Duration::from_secs(10)) };
        let checker = Checker::new(tree.path(), &o);
        let (tamper, bystander) = std::thread::scope(|s| {
            let bystander = s.spawn(|| checker.run(&check("sleep 1; echo PASS")));
            std::thread::sleep(Duration::from_millis(200));
            let tamper = checker.run(&check("echo evil > .git/hooks/pre-push; echo PASS"));
            (tamper, bystander.join().unwrap())
        });
        assert_eq!(std::fs::read_to_string(hooks.join("pre-push")).unwrap(), "mine");
        if tamper.git_shield != Some(crate::exec::sandbox::GitShield::PutBack) {
            // The sandbox kept `.git` out of reach: the write failed, nothing to put back.
            assert!(tamper.output.contains("Read-only file system") || tamper.output.contains("Permission denied"), "{tamper:?}");
            assert!(bystander.passed, "{bystander:?}");
            return;
        }
        assert!(!tamper.passed && matches!(&tamper.reason, Reason::NotRun { why } if why.contains("changed what git executes")));
        assert!(!bystander.passed, "a check running while another changed a hook passed: {bystander:?}");
        // Afterwards, with the hook put back, checks pass again.
        assert!(checker.run(&check("echo PASS")).passed);
    }

    #[test]
    fn evidence_states() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("a.txt"), "x").unwrap();
        let i = issue("test -f a.txt\n", "\"a.txt\"");
        let evdir = Path::new("ev");
        assert_eq!(evidence_state(root, evdir, &i), EvidenceState::Missing);
        let v = verify_issue(&i, root, &opts(Duration::from_secs(5)));
        let ev = to_evidence(&v, &i, &TreeState::default(), "t");
        let rel = evidence::write(root, evdir, &ev, "20260101_000000").unwrap();
        assert_eq!(evidence_state(root, evdir, &i), EvidenceState::Fresh { evidence: rel.clone() });
        std::fs::write(root.join("a.txt"), "y").unwrap();
        assert_eq!(evidence_state(root, evdir, &i), EvidenceState::Stale { evidence: rel, paths: vec!["a.txt".into()] });
        std::fs::remove_file(root.join("a.txt")).unwrap();
        let v = verify_issue(&i, root, &opts(Duration::from_secs(5)));
        let rel = evidence::write(root, evdir, &to_evidence(&v, &i, &TreeState::default(), "t"), "20260101_000001").unwrap();
        assert_eq!(evidence_state(root, evdir, &i), EvidenceState::Failing { evidence: rel });
    }

    #[test]
    fn a_verdict_is_recorded_as_evidence_with_its_run_and_stamped_when_it_passed() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("a.txt"), "x").unwrap();
        let i = issue("test -f a.txt\n", "\"a.txt\"");
        let v = verify_issue(&i, root, &opts(Duration::from_secs(5)));
        let now = chrono::Local::now();
        let tree = TreeState { commit: Some("abc".into()), dirty: false };
        let rel = record_evidence(root, Path::new("ev"), &v, &i, &tree, Some("R1"), &now).unwrap();
        assert_eq!(rel, Path::new("ev/E").join(format!("E-01_{}.json", now.format("%Y%m%d_%H%M%S"))));
        let mut ev: Evidence = serde_json::from_slice(&std::fs::read(root.join(&rel)).unwrap()).unwrap();
        assert!(ev.seal.take().is_some(), "written evidence is sealed");
        assert_eq!(ev, evidence_of(&v, &i, &tree, Some("R1"), &now));
        assert_eq!((ev.run_id.as_deref(), ev.all_passed, ev.commit.as_deref()), (Some("R1"), true, Some("abc")));
        assert_eq!(evidence_state(root, Path::new("ev"), &i), EvidenceState::Fresh { evidence: rel });

        std::fs::create_dir_all(root.join("issues/E")).unwrap();
        stamp_verified(&mut Edit::new(&i), &v, "2026-01-02").write(root, &i).unwrap();
        let text = std::fs::read_to_string(root.join(&i.path)).unwrap();
        assert!(text.contains("date_verified: \"2026-01-02\"") && text.contains("verification_confidence: 100"), "{text}");
    }
}
