//! The run state file (`LogBook/issue-fixing/orchestrator-state.yaml`): the seed's keys
//! (`run_id`, `started`, `status`, `lanes:` with `status`/`issues_fixed`/`issue_ids`,
//! `progress:`) plus what resume and the report need. Rewritten atomically at every change.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::base::error::{Problem, Result};
use crate::base::fsutil;
pub use crate::judge::verify::FailedCheck;
pub use crate::run::status::{LaneStatus, RunStatus};

/// The whole state file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunState {
    #[serde(default)]
    pub run_id: Option<String>,
    #[serde(default)]
    pub started: Option<String>,
    /// `idle`, `running`, `interrupted`, `complete`, `needs_attention`.
    #[serde(default = "idle")]
    pub status: RunStatus,
    #[serde(default)]
    pub lanes: BTreeMap<String, LaneState>,
    #[serde(default)]
    pub progress: Progress,
    /// Extensions below: absent in seed files.
    /// `hunt_issues` for a hunt; absent (`fix_issue`) for a fixing run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_commit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_branch: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orchestrator_pid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integration: Option<IntegrationState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<String>,
    /// How long creating the lane worktrees took (the part of a run bound by the file system).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worktree_setup_ms: Option<u64>,
    /// Every ref the run watches, as it was when the run (or its resume) started (see
    /// `run::refwatch`): a worker that moved one is named and its lane held.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub watched_refs: BTreeMap<String, String>,
    /// Refs put back that held no lane (the stash, a move after every lane ended, one that
    /// could not be put back), said at the end of the run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ref_notes: Vec<String>,
    /// The journal of the finishing steps once the run commit exists (see [`Finishing`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finishing: Option<Finishing>,
    /// When the run's phases began (millisecond timestamps), for the timeline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phases: Option<RunPhases>,
    /// The timeline picture next to the report (its file name, relative to the report).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeline: Option<String>,
    /// Keys git-lanes does not know (another tool's, e.g. the seed's `complexity_notes`): kept
    /// through every rewrite.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// Run-wide phase times (RFC 3339 with milliseconds).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunPhases {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// Collection and judging began (after every lane ended).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collect_at: Option<String>,
    /// Integration began.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integrate_at: Option<String>,
}

/// One lane's phase times (RFC 3339 with milliseconds): set-up done, work, judged, integrated.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LanePhases {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub work_started_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub work_ended_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judged_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integrated_at: Option<String>,
}

/// A signal the lane wrote, and when it was seen.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SignalMoment {
    pub at: String,
    pub text: String,
}

fn idle() -> RunStatus {
    RunStatus::Idle
}

/// The seed's `progress:` block.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Progress {
    #[serde(default)]
    pub total_lanes: usize,
    #[serde(default)]
    pub completed_lanes: usize,
    #[serde(default)]
    pub total_fixed: usize,
}

/// One lane's state during and after a run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LaneState {
    /// `pending`, `running`, `done`, `failed`, `timed_out`, `interrupted`, `skipped`. Written as
    /// the seed's `completed` for `done` (and read back as `done`).
    #[serde(default, with = "lane_status")]
    pub status: LaneStatus,
    #[serde(default)]
    pub issues_fixed: usize,
    #[serde(default)]
    pub issue_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worktree: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_pid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit: Option<String>,
    /// Why the lane failed or timed out, in the agent's words (or the last lines of its log).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The limit that ended the agent's run: `turns` or `budget`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
    /// The worker's log file (stdout and stderr).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_status: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resolved: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rejected: Vec<Rejection>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal_latency_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turns: Option<u32>,
    /// Input tokens the agent reported (cached ones included).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<u64>,
    /// Output tokens the agent reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<u64>,
    /// `true` when `cost_usd` was worked out from the tokens and `lanes.yaml`'s prices (the
    /// agent reports none).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cost_estimated: bool,
    /// The model the agent was given (none: the CLI's own default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Why the lane as a whole was refused (a symlink out of the repository, a secret value in
    /// its commits): a refused lane is neither judged nor integrated; its branch is kept.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<String>,
    /// Files the lane changed that belong to none of its issues.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_changes: Vec<String>,
    /// Refs moved outside the lane's branch while the lane ran (see `run::refwatch`): a held lane
    /// is not integrated; its branch is kept.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub held: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phases: Option<LanePhases>,
    /// Status lines and `.done` as they were seen (at most [`MAX_SIGNAL_MOMENTS`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signals: Vec<SignalMoment>,
    /// Each attempt of the lane's worker, in order (a rejected lane is given another one while
    /// attempts are left).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attempts: Vec<Attempt>,
    /// Keys git-lanes does not know (the seed's `committed`, `issues`, …): kept.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// The seed's lane status word for a finished lane is `completed`; git-lanes says `done`.
mod lane_status {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::run::status::LaneStatus;

    pub fn serialize<S: Serializer>(status: &LaneStatus, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(if *status == LaneStatus::Done { "completed" } else { status.as_str() })
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<LaneStatus, D::Error> {
        let s = String::deserialize(d)?;
        Ok(if s == "completed" { LaneStatus::Done } else { LaneStatus::parse(&s) })
    }
}

/// How many signal moments a lane keeps (the first ones and the last one).
pub const MAX_SIGNAL_MOMENTS: usize = 64;

/// What is left to do once the run commit exists — fast-forward, push, tidy — and what the run
/// said, journalled in the live state before each step, so `run --resume` after a crash at any
/// point finishes those steps (each idempotent) without judging, committing or reporting again.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Finishing {
    /// Steps done: `ff`, `push`, `tidy`.
    #[serde(default)]
    pub steps: Vec<String>,
    /// The run's status once finished (`complete`, `needs_attention`); the live state says
    /// `running` until then, so `run --resume` finds it.
    #[serde(default)]
    pub status: RunStatus,
    #[serde(default)]
    pub commit: Option<String>,
    #[serde(default)]
    pub ff_possible: bool,
    #[serde(default)]
    pub off_branch: bool,
    #[serde(default)]
    pub fast_forwarded: bool,
    #[serde(default)]
    pub integration_branch: String,
    #[serde(default)]
    pub integration_worktree: String,
    /// Merged lanes whose worktree and branch go: `(lane, branch, worktree)`.
    #[serde(default)]
    pub merged: Vec<MergedLane>,
    #[serde(default)]
    pub human: Vec<String>,
    #[serde(default)]
    pub resolved: Vec<String>,
    #[serde(default)]
    pub open: usize,
    /// The report, relative to the repository; and where the summary says it is.
    #[serde(default)]
    pub report: String,
    #[serde(default)]
    pub report_at: String,
    #[serde(default)]
    pub merge_command: Option<String>,
    /// The report's issue lines (to rewrite it when the fast-forward is refused).
    #[serde(default)]
    pub lines: Vec<IssueLine>,
}

/// A merged lane the tidy step removes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MergedLane {
    pub lane: String,
    pub branch: String,
    pub worktree: String,
}

impl Finishing {
    pub fn done(&self, step: &str) -> bool {
        self.steps.iter().any(|s| s == step)
    }
}

/// An issue a lane claimed and the judge refused.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Rejection {
    pub id: String,
    pub reason: String,
    /// The checks that failed, each with the tail of its output.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<FailedCheck>,
}

/// One attempt of a lane's worker: when it ran, how it was judged, what it cost.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    pub n: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<String>,
    /// `running`, `resolved` (every issue left resolved), `rejected`, `refused`, `failed`,
    /// `timed_out`, `interrupted`, `stopped` (by the budget).
    #[serde(default)]
    pub outcome: String,
    /// Why it ended so (the rejected issues and their reasons, the worker's exit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<u64>,
}

/// Where integration ended.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct IntegrationState {
    pub policy: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    #[serde(default)]
    pub merged: Vec<String>,
    #[serde(default)]
    pub backed_out: Vec<Rejection>,
    #[serde(default)]
    pub fast_forwarded: bool,
    /// A run that resolved nothing keeps its bookkeeping commit here (`refs/lanes/runs/<RUN_ID>`)
    /// instead of on the user's branch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// What `integration_checks:` found (absent when there are none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks: Option<IntegrationChecks>,
}

/// What the integration checks (`lanes.yaml` `integration_checks:`) did on a run's result.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IntegrationChecks {
    /// The commands, as configured.
    pub commands: Vec<String>,
    /// Skipped for this run (`--no-integration-checks`).
    #[serde(default)]
    pub skipped: bool,
    /// How many times the checks ran on some candidate result (the full result, the base, and
    /// each step of the bisection).
    #[serde(default)]
    pub runs: usize,
    /// Commands that already fail at the run's base: run there once, blaming no lane.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failing_before: Vec<CheckFailure>,
    /// Lanes backed out because their merge broke a command.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub broken: Vec<Breakage>,
}

/// A command that failed, and the end of its output.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CheckFailure {
    pub command: String,
    #[serde(default)]
    pub output: String,
}

/// A lane whose merge broke an integration check: backed out, with the failing output (what the
/// lane's worker needs to try again).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Breakage {
    pub lane: String,
    pub command: String,
    #[serde(default)]
    pub output: String,
    /// The lanes merged before it when it broke the command (empty: it broke it on its own).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after: Vec<String>,
}

/// A state word for people: `needs_attention` → `needs attention`, `timed_out` → `timed out`.
pub fn status_words(status: impl AsRef<str>) -> String {
    status.as_ref().replace('_', " ")
}

impl RunState {
    /// The state before any run: `status: idle`, nothing else (what `reset` writes). The derived
    /// `Default` leaves `status` empty, which no reader knows.
    pub fn fresh() -> RunState {
        RunState { status: idle(), ..RunState::default() }
    }

    /// Read the state file; `None` when it does not exist.
    pub fn load(root: &Path, rel: &Path) -> Result<Option<RunState>> {
        let Some(bytes) = fsutil::read_optional_capped(&root.join(rel), crate::files::text::MAX_FILE_BYTES)? else { return Ok(None) };
        let text = crate::files::text::decode("run state file", rel, bytes)?.text;
        if text.trim().is_empty() {
            return Ok(Some(RunState::fresh()));
        }
        let st = serde_saphyr::from_str::<RunState>(&text).map_err(|e| {
            let line = e.location().map(|l| l.line() as usize).unwrap_or(0);
            Problem::new(rel, line, format!("invalid state file: {}", e.to_string().lines().next().unwrap_or("")))
                .with_hint("`git lanes reset` writes a fresh state file")
        })?;
        Ok(Some(st))
    }

    /// Write atomically. The free texts (status lines, warnings, reasons) are written with every
    /// secret redacted: a worker's status line may quote `$GITHUB_TOKEN`.
    pub fn save(&self, root: &Path, rel: &Path) -> Result<()> {
        let mut clean = self.clone();
        let r = |s: &mut String| *s = crate::base::redact::redact(s).into_owned();
        for l in clean.lanes.values_mut() {
            l.last_status.as_mut().map(r);
            l.exit.as_mut().map(r);
            l.merge.as_mut().map(r);
            l.warnings.iter_mut().for_each(r);
            l.refused.iter_mut().for_each(r);
            l.held.iter_mut().for_each(r);
            l.rejected.iter_mut().for_each(|x| r(&mut x.reason));
        }
        if let Some(i) = clean.integration.as_mut() {
            i.backed_out.iter_mut().for_each(|x| r(&mut x.reason));
        }
        if let Some(f) = clean.finishing.as_mut() {
            f.human.iter_mut().for_each(r);
        }
        let mut yaml = String::from("# git-lanes run state (seed schema, extended). Rewritten at every state change.\n");
        let body = serde_saphyr::to_string(&clean)
            .map_err(|e| crate::base::error::Error::internal(format!("could not serialise the run state: {e}")))?;
        yaml += &crate::files::yaml::quote_timestamps(&body);
        if rel.is_absolute() { fsutil::write_atomic(rel, yaml.as_bytes()) } else { fsutil::write_under(root, rel, yaml.as_bytes()) }
    }

    /// Keep what `existing` (the state file this one replaces) holds that this run does not
    /// know or did not touch: its unknown keys, lanes this run did not run, and the unknown keys
    /// of the lanes it did. Nothing another tool wrote is lost.
    pub fn keep_foreign(&mut self, existing: &RunState) {
        for (k, v) in &existing.extra {
            self.extra.entry(k.clone()).or_insert_with(|| v.clone());
        }
        for (lane, old) in &existing.lanes {
            match self.lanes.get_mut(lane) {
                Some(l) => {
                    for (k, v) in &old.extra {
                        l.extra.entry(k.clone()).or_insert_with(|| v.clone());
                    }
                }
                None => {
                    self.lanes.insert(lane.clone(), old.clone());
                }
            }
        }
    }

    /// Recompute `progress:` from the lanes.
    pub fn update_progress(&mut self) {
        self.progress.total_lanes = self.lanes.len();
        self.progress.completed_lanes = self.lanes.values().filter(|l| l.status == LaneStatus::Done).count();
        self.progress.total_fixed = self.lanes.values().map(|l| l.issues_fixed).sum();
    }
}

/// One issue's line in the report.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct IssueLine {
    pub id: String,
    pub lane: String,
    /// RESOLVED, REJECTED, OPEN (not attempted / lane failed), BLOCKED, UNVERIFIABLE.
    pub result: String,
    pub detail: String,
}

#[cfg(test)]
mod tests {
    use crate::run::state::*;

    #[test]
    fn reads_the_seed_state_and_round_trips() {
        let d = tempfile::tempdir().unwrap();
        let seed = "run_id: \"2025-01-04-0915\"\nstarted: \"2025-01-04T09:15:00\"\nstatus: complete\nlanes:\n  E:\n    status: completed\n    issues_fixed: 12\n    issue_ids: [E-01, E-02]\nprogress:\n  total_lanes: 21\n  completed_lanes: 21\n  total_fixed: 1030\ncomplexity_notes:\n  - lane: Z\n";
        std::fs::write(d.path().join("s.yaml"), seed).unwrap();
        let st = RunState::load(d.path(), Path::new("s.yaml")).unwrap().unwrap();
        assert_eq!(st.run_id.as_deref(), Some("2025-01-04-0915"));
        assert_eq!(st.lanes["E"].issue_ids, ["E-01", "E-02"]);
        st.save(d.path(), Path::new("t.yaml")).unwrap();
        let again = RunState::load(d.path(), Path::new("t.yaml")).unwrap().unwrap();
        assert_eq!(again.lanes["E"].issues_fixed, 12);
        assert!(RunState::load(d.path(), Path::new("missing.yaml")).unwrap().is_none());
    }

    #[test]
    fn foreign_keys_seed_words_and_quoted_timestamps_survive() {
        let d = tempfile::tempdir().unwrap();
        let seed = "run_id: \"R0\"\nstarted: \"2025-01-04T09:15:00\"\nstatus: complete\nlanes:\n  E:\n    status: completed\n    issues_fixed: 1\n    committed: true\n    issues: [E-01]\n  Q:\n    status: completed\n    issues_fixed: 3\ncomplexity_notes:\n  - lane: Z\n    note: hard\n";
        std::fs::write(d.path().join("s.yaml"), seed).unwrap();
        let old = RunState::load(d.path(), Path::new("s.yaml")).unwrap().unwrap();
        assert_eq!(old.lanes["E"].status, LaneStatus::Done);
        let mut new = RunState {
            run_id: Some("R1".into()),
            started: Some("2026-01-07T10:00:00Z".into()),
            status: RunStatus::Complete,
            ..RunState::default()
        };
        new.lanes.insert("E".into(), LaneState { status: LaneStatus::Done, issues_fixed: 2, ..LaneState::default() });
        new.keep_foreign(&old);
        new.save(d.path(), Path::new("t.yaml")).unwrap();
        let text = std::fs::read_to_string(d.path().join("t.yaml")).unwrap();
        assert!(text.contains("started: \"2026-01-07T10:00:00Z\""), "{text}");
        assert!(text.contains("status: completed"), "{text}");
        assert!(!text.contains("status: done"), "{text}");
        let back = RunState::load(d.path(), Path::new("t.yaml")).unwrap().unwrap();
        assert_eq!(back.lanes["E"].issues_fixed, 2);
        assert_eq!(back.lanes["E"].extra["committed"], serde_json::json!(true));
        assert_eq!(back.lanes["E"].extra["issues"], serde_json::json!(["E-01"]));
        assert_eq!(back.lanes["Q"].issues_fixed, 3);
        assert_eq!(back.extra["complexity_notes"], serde_json::json!([{"lane": "Z", "note": "hard"}]));
    }

    /// Every status word as it is on disk: a renamed variant or a changed word fails here.
    #[test]
    fn status_words_on_disk_are_pinned() {
        let run: Vec<String> = RunStatus::KNOWN.iter().map(|s| serde_json::to_value(s).unwrap().as_str().unwrap().to_string()).collect();
        assert_eq!(run, ["idle", "running", "interrupted", "complete", "needs_attention"]);
        let lane: Vec<String> = LaneStatus::KNOWN.iter().map(|s| serde_json::to_value(s).unwrap().as_str().unwrap().to_string()).collect();
        assert_eq!(lane, ["pending", "running", "done", "failed", "timed_out", "interrupted", "skipped", "collected"]);
        // In state.yaml a done lane is the seed's `completed`; every other word is its own.
        for (status, word) in LaneStatus::KNOWN.iter().zip(&lane) {
            let mut st = RunState::fresh();
            st.lanes.insert("E".into(), LaneState { status: status.clone(), ..LaneState::default() });
            let text = serde_saphyr::to_string(&st).unwrap();
            let on_disk = if *status == LaneStatus::Done { "completed" } else { word.as_str() };
            assert!(text.contains(&format!("    status: {on_disk}\n")), "{text}");
        }
        for (status, word) in RunStatus::KNOWN.iter().zip(&run) {
            let text = serde_saphyr::to_string(&RunState { status: status.clone(), ..RunState::default() }).unwrap();
            assert!(text.starts_with(&format!("status: {word}\n")) || text.contains(&format!("\nstatus: {word}\n")), "{text}");
        }
    }

    /// A state file written by an older version, with every word (and one no version knows),
    /// reads back as the same statuses and writes the same words again.
    #[test]
    fn old_state_files_with_every_word_read_back() {
        let d = tempfile::tempdir().unwrap();
        let lanes = ["pending", "running", "completed", "done", "failed", "timed_out", "interrupted", "skipped", "collected", "paused"];
        for run in ["idle", "running", "interrupted", "complete", "needs_attention", "archived"] {
            let mut yaml = format!("run_id: R\nstatus: {run}\nlanes:\n");
            for (i, w) in lanes.iter().enumerate() {
                yaml += &format!("  L{i}:\n    status: {w}\n");
            }
            std::fs::write(d.path().join("s.yaml"), &yaml).unwrap();
            let st = RunState::load(d.path(), Path::new("s.yaml")).unwrap().unwrap();
            assert_eq!(st.status.as_str(), run);
            assert_eq!(st.status == RunStatus::Other("archived".into()), run == "archived");
            let read: Vec<&str> = (0..lanes.len()).map(|i| st.lanes[&format!("L{i}")].status.as_str()).collect();
            assert_eq!(
                read,
                ["pending", "running", "done", "done", "failed", "timed_out", "interrupted", "skipped", "collected", "paused"]
            );
            assert_eq!(st.lanes["L9"].status, LaneStatus::Other("paused".into()));
            st.save(d.path(), Path::new("t.yaml")).unwrap();
            let text = std::fs::read_to_string(d.path().join("t.yaml")).unwrap();
            assert!(text.contains(&format!("\nstatus: {run}\n")), "{text}");
            for w in lanes.iter().filter(|w| **w != "done") {
                assert!(text.contains(&format!("    status: {w}\n")), "{w}: {text}");
            }
        }
        // No status at all: the run is idle, the lane has none (an empty word, written back empty).
        std::fs::write(d.path().join("s.yaml"), "lanes:\n  E:\n    issues_fixed: 1\n").unwrap();
        let st = RunState::load(d.path(), Path::new("s.yaml")).unwrap().unwrap();
        assert_eq!(st.status, RunStatus::Idle);
        assert_eq!(st.lanes["E"].status, LaneStatus::Unset);
    }
}
