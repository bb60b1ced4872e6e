//! Every run this repository knows, wherever its bookkeeping lives: the live folder
//! `<common git dir>/lanes/runs/<RUN_ID>/` (state, work orders, worker logs), the report committed
//! on the branch (`LogBook/issue-fixing/runs/<RUN_ID>.md`), and `refs/lanes/runs/<RUN_ID>` — the
//! commit that keeps the report and state of a run that resolved nothing off the user's branch.
//!
//! Start at [`list`] (what `git lanes runs` shows) and [`find_report`] (what `git lanes report`
//! prints). Run ids are checked with [`crate::files::names::check_run_id`] before any path is built.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::base::error::{Error, Result};
use crate::files::config::Config;
use crate::git::repo::Repo;
use crate::run::state::RunState;
use crate::run::status::RunStatus;

/// The ref namespace holding runs kept off the user's branch.
pub const RUNS_REF_PREFIX: &str = "refs/lanes/runs/";

/// `refs/lanes/runs/<RUN_ID>`.
pub fn run_ref(label: &str) -> String {
    format!("{RUNS_REF_PREFIX}{label}")
}

/// Where a run's report was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReportSource {
    /// Committed on the branch: a file of the working tree.
    Committed { path: PathBuf },
    /// Kept under `refs/lanes/runs/<RUN_ID>` (a run that resolved nothing).
    Ref { reference: String, path: PathBuf },
    /// Only in the live folder (policy `branches`, `--no-integrate`, or a run still going).
    Live { path: PathBuf },
}

impl std::fmt::Display for ReportSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReportSource::Committed { path } | ReportSource::Live { path } => write!(f, "{}", path.display()),
            ReportSource::Ref { reference, path } => write!(f, "{reference}:{}", path.display()),
        }
    }
}

/// One run as `git lanes runs` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct RunInfo {
    /// The run id (or `<RUN_ID>.2`… for a continued run's own report).
    pub id: String,
    pub started: Option<String>,
    pub finished: Option<String>,
    /// `running`, `interrupted`, `complete`, `needs_attention`, … (the state's word).
    pub status: String,
    pub lanes: Vec<String>,
    pub resolved: Vec<String>,
    /// Issues the run was given that are not resolved by it (rejected, open, unverifiable).
    pub open: usize,
    /// `fast-forwarded`, `integration branch`, `kept under refs/lanes/runs`, `branches left`,
    /// `not yet` (running or interrupted) or `unknown`.
    pub integrated: String,
    pub report: Option<ReportSource>,
    /// Dollars the lanes' agents spent (reported, or estimated from `lanes.yaml`'s prices), when
    /// the run's state is still here and any lane said.
    pub cost_usd: Option<f64>,
    /// Tokens the lanes' agents reported, input and output together.
    pub tokens: Option<u64>,
}

/// What a rendered report says about its run (parsed back for runs with no live folder).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportFacts {
    pub status: Option<String>,
    pub generated: Option<String>,
    pub lanes: Vec<String>,
    pub resolved: Vec<String>,
    pub open: usize,
    pub fast_forwarded: Option<bool>,
}

/// Read the facts of a report written by [`crate::run::report::render`].
pub fn report_facts(text: &str) -> ReportFacts {
    let mut f = ReportFacts { resolved: crate::run::report::resolved_ids(text), ..ReportFacts::default() };
    let mut in_issues = false;
    for line in text.lines() {
        let t = line.trim();
        if let Some(v) = t.strip_prefix("> **Status:**") {
            f.status = Some(v.trim().to_string());
        } else if let Some(v) = t.strip_prefix("> **Generated:**") {
            f.generated = Some(v.trim().to_string());
        } else if let Some(v) = t.strip_prefix("### Lane ") {
            f.lanes.push(v.trim().to_string());
        } else if let Some(v) = t.strip_prefix("- **Fast-forwarded:**") {
            f.fast_forwarded = Some(v.trim() == "yes");
        } else if t.starts_with("## ") {
            in_issues = t == "## Issues";
        } else if in_issues && t.starts_with('|') {
            let cells: Vec<&str> = t.trim_matches('|').split('|').map(str::trim).collect();
            if cells.len() > 2 && matches!(cells[1], "OPEN" | "REJECTED" | "UNVERIFIABLE") {
                f.open += 1;
            }
        }
    }
    f
}

/// The live folder of a run.
pub fn live_dir(repo: &Repo, run_id: &str) -> PathBuf {
    repo.lanes_dir().join("runs").join(run_id)
}

/// The text of a run's report and where it was found: committed on the branch first, then
/// `refs/lanes/runs/<RUN_ID>`, then the live folder.
pub fn find_report(repo: &Repo, config: &Config, run_id: &str) -> Result<Option<(ReportSource, String)>> {
    crate::files::names::check_run_id(run_id).map_err(|m| Error::usage(m, None))?;
    let rel = config.runs.join(format!("{run_id}.md"));
    if let Some(b) = crate::base::fsutil::read_optional(&repo.root.join(&rel))? {
        return Ok(Some((ReportSource::Committed { path: rel }, String::from_utf8_lossy(&b).into_owned())));
    }
    // A hunt's report (`LogBook/issue-hunting/runs/`).
    let hunt_rel = config.hunting().runs.join(format!("{run_id}.md"));
    if hunt_rel != rel
        && let Some(b) = crate::base::fsutil::read_optional(&repo.root.join(&hunt_rel))?
    {
        return Ok(Some((ReportSource::Committed { path: hunt_rel }, String::from_utf8_lossy(&b).into_owned())));
    }
    let reference = run_ref(run_id);
    if let Some(text) = blob_at_ref(repo, &reference, &rel) {
        return Ok(Some((ReportSource::Ref { reference, path: rel }, text)));
    }
    let live = live_dir(repo, run_id).join("report.md");
    if let Some(b) = crate::base::fsutil::read_optional(&live)? {
        return Ok(Some((ReportSource::Live { path: live }, String::from_utf8_lossy(&b).into_owned())));
    }
    Ok(None)
}

/// The text of `path` in the tree of the commit `reference` points at.
pub fn blob_at_ref(repo: &Repo, reference: &str, path: &Path) -> Option<String> {
    let commit = repo.git.find_reference(reference).ok()?.peel_to_commit().ok()?;
    let entry = commit.tree().ok()?.get_path(path).ok()?;
    let blob = repo.git.find_blob(entry.id()).ok()?;
    Some(String::from_utf8_lossy(blob.content()).into_owned())
}

/// The live state of a run, if its folder has one.
pub fn live_state(repo: &Repo, run_id: &str) -> Result<Option<RunState>> {
    crate::files::names::check_run_id(run_id).map_err(|m| Error::usage(m, None))?;
    RunState::load(Path::new("/"), &live_dir(repo, run_id).join("state.yaml"))
}

/// Every run, oldest first (run ids sort by time).
pub fn list(repo: &Repo, config: &Config) -> Result<Vec<RunInfo>> {
    let mut ids: BTreeMap<String, ()> = BTreeMap::new();
    for e in std::fs::read_dir(repo.lanes_dir().join("runs")).into_iter().flatten().flatten() {
        if e.path().join("state.yaml").exists() || e.path().join("report.md").exists() {
            ids.insert(e.file_name().to_string_lossy().into_owned(), ());
        }
    }
    let hunts = repo.root.join(config.hunting().runs);
    let committed = std::fs::read_dir(repo.root.join(&config.runs)).into_iter().chain(std::fs::read_dir(hunts));
    for e in committed.flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(id) = name.strip_suffix(".md") {
            ids.insert(id.to_string(), ());
        }
    }
    if let Ok(refs) = repo.git.references_glob(&format!("{RUNS_REF_PREFIX}*")) {
        for r in refs.flatten() {
            if let Some(id) = r.name().and_then(|n| n.strip_prefix(RUNS_REF_PREFIX)) {
                ids.insert(id.to_string(), ());
            }
        }
    }
    let mut out = Vec::new();
    for id in ids.into_keys().filter(|id| crate::files::names::check_run_id(id).is_ok()) {
        out.push(info(repo, config, &id)?);
    }
    out.sort_by(|a, b| crate::files::names::natural_cmp(&a.id, &b.id));
    Ok(out)
}

/// One run's row: the report says what happened; the live state fills in what it does not (a
/// run still going, lanes, times).
pub fn info(repo: &Repo, config: &Config, id: &str) -> Result<RunInfo> {
    let state = live_state(repo, id).ok().flatten();
    let report = find_report(repo, config, id)?;
    let facts = report.as_ref().map(|(_, t)| report_facts(t));
    let mut i = RunInfo {
        id: id.to_string(),
        started: state.as_ref().and_then(|s| s.started.clone()),
        finished: state.as_ref().and_then(|s| s.finished.clone()),
        status: state
            .as_ref()
            .map(|s| s.status.as_str().to_string())
            .or_else(|| facts.as_ref().and_then(|f| f.status.clone()))
            .unwrap_or_else(|| "unknown".into()),
        lanes: state.as_ref().map(|s| s.lanes.keys().cloned().collect()).unwrap_or_default(),
        resolved: vec![],
        open: 0,
        integrated: "unknown".into(),
        report: report.as_ref().map(|(s, _)| s.clone()),
        cost_usd: None,
        tokens: None,
    };
    if let Some(s) = &state {
        let sum = |f: fn(&crate::run::state::LaneState) -> Option<u64>| {
            s.lanes.values().filter_map(f).fold(None, |t: Option<u64>, n| Some(t.unwrap_or(0).saturating_add(n)))
        };
        i.tokens = match (sum(|l| l.input_tokens), sum(|l| l.output_tokens)) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0).saturating_add(b.unwrap_or(0))),
        };
        i.cost_usd = s.lanes.values().filter_map(|l| l.cost_usd).fold(None, |t, c| Some(t.unwrap_or(0.0) + c));
    }
    if let Some(f) = &facts {
        if i.lanes.is_empty() {
            i.lanes = f.lanes.clone();
        }
        if i.started.is_none() {
            i.started = f.generated.clone();
        }
        i.resolved = f.resolved.clone();
        i.open = f.open;
    } else if let Some(s) = &state {
        i.resolved = s.lanes.values().flat_map(|l| l.resolved.iter().cloned()).collect();
        i.open = s.lanes.values().map(|l| l.issue_ids.len()).sum::<usize>().saturating_sub(i.resolved.len());
    }
    let in_ref = matches!(i.report, Some(ReportSource::Ref { .. }));
    i.integrated = if in_ref {
        "kept under refs/lanes/runs".into()
    } else if matches!(RunStatus::parse(&i.status), RunStatus::Running | RunStatus::Interrupted) {
        "not yet".into()
    } else if let Some(int) = state.as_ref().and_then(|s| s.integration.as_ref()) {
        if int.fast_forwarded { "fast-forwarded".into() } else { "integration branch".into() }
    } else if let Some(ff) = facts.as_ref().and_then(|f| f.fast_forwarded) {
        if ff { "fast-forwarded".into() } else { "integration branch".into() }
    } else if matches!(i.report, Some(ReportSource::Live { .. })) {
        "branches left".into()
    } else {
        "unknown".into()
    };
    Ok(i)
}

/// The newest run whose state names `lane` (for `logs` and `diff` without `--run`).
pub fn newest_with_lane(repo: &Repo, lane: &str) -> Result<Option<(String, RunState)>> {
    let mut ids: Vec<String> = std::fs::read_dir(repo.lanes_dir().join("runs"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|id| crate::files::names::check_run_id(id).is_ok())
        .collect();
    ids.sort_by(|a, b| crate::files::names::natural_cmp(a, b));
    for id in ids.into_iter().rev() {
        if let Some(st) = live_state(repo, &id)?
            && st.lanes.contains_key(lane)
        {
            return Ok(Some((id, st)));
        }
    }
    Ok(None)
}

/// What `logs` and `diff` need of one lane of one run.
#[derive(Debug, Clone)]
pub struct LaneRef {
    pub run_id: String,
    pub lane: String,
    pub state: RunState,
    /// `<common>/lanes/runs/<RUN_ID>/<LANE>/worker.log`.
    pub log: PathBuf,
}

/// Find a lane of a run (`run_id` or the newest run that has the lane).
pub fn lane_ref(repo: &Repo, lane: &str, run_id: Option<&str>) -> Result<LaneRef> {
    crate::files::names::check_lane(lane).map_err(|m| Error::usage(m, None))?;
    let (run_id, state) = match run_id {
        Some(id) => {
            let st = live_state(repo, id)?.ok_or_else(|| {
                Error::state(format!("run {id} has no state in this clone"), Some("`git lanes runs` lists the runs".into()))
            })?;
            if !st.lanes.contains_key(lane) {
                let lanes: Vec<&str> = st.lanes.keys().map(String::as_str).collect();
                return Err(Error::usage(
                    format!(
                        "lane {lane} was not part of run {id} (its lanes: {})",
                        if lanes.is_empty() { "none".into() } else { lanes.join(", ") }
                    ),
                    Some("`git lanes runs` lists each run's lanes".into()),
                ));
            }
            (id.to_string(), st)
        }
        None => newest_with_lane(repo, lane)?.ok_or_else(|| {
            Error::state(format!("no run has a lane {lane}"), Some("`git lanes runs` lists the runs and their lanes".into()))
        })?,
    };
    let log = live_dir(repo, &run_id).join(lane).join("worker.log");
    Ok(LaneRef { run_id, lane: lane.to_string(), state, log })
}

/// The two commits `diff` compares for a lane: what the lane forked from, and its tip (the
/// branch if it still exists, else the tip recorded in the state, else the archive ref).
pub fn lane_range(repo: &Repo, l: &LaneRef) -> Result<(String, String)> {
    let ls = &l.state.lanes[&l.lane];
    let base =
        l.state.base_commit.clone().ok_or_else(|| Error::state(format!("run {} has no base commit in its state", l.run_id), None))?;
    let branch_tip = ls
        .branch
        .as_deref()
        .and_then(|b| repo.git.find_branch(b, git2::BranchType::Local).ok())
        .and_then(|b| b.get().target())
        .map(|o| o.to_string());
    let archived = repo
        .git
        .find_reference(&crate::git::worktree::archive_ref(&l.run_id, &l.lane))
        .ok()
        .and_then(|r| r.target())
        .map(|o| o.to_string());
    let tip = branch_tip.or_else(|| ls.tip.clone()).or(archived).ok_or_else(|| {
        Error::state(
            format!("lane {} of run {} has no branch or recorded tip yet", l.lane, l.run_id),
            Some("its worker may not have started; `git lanes logs` shows its output".into()),
        )
    })?;
    // Collection records the tip after committing leftovers; a lane still running has only
    // its branch, which is what it has committed so far.
    Ok((base, tip))
}

#[cfg(test)]
mod tests {
    use crate::run::runs::*;

    #[test]
    fn facts_are_read_back_from_a_rendered_report() {
        let mut st = RunState { run_id: Some("20260101-000000".into()), status: RunStatus::Complete, ..RunState::default() };
        st.lanes.insert("E".into(), crate::run::state::LaneState::default());
        st.lanes.insert("M".into(), crate::run::state::LaneState::default());
        let lines = vec![
            crate::run::state::IssueLine { id: "E-01".into(), lane: "E".into(), result: "RESOLVED".into(), detail: "ok".into() },
            crate::run::state::IssueLine { id: "M-01".into(), lane: "M".into(), result: "REJECTED".into(), detail: "no".into() },
        ];
        let text = crate::run::report::render(&st, &lines, &[], "2026-01-01 00:00:00");
        let f = report_facts(&text);
        assert_eq!(f.status.as_deref(), Some("complete"));
        assert_eq!(f.lanes, ["E", "M"]);
        assert_eq!(f.resolved, ["E-01"]);
        assert_eq!(f.open, 1);
    }
}
