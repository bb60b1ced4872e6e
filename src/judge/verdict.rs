//! Verdicts: whether a lane's claimed fix of one issue is accepted, in the seed's shape
//! (`demo/demo_verdict.yaml`), from five computed dimensions (docs/formats.md#verdict).
//!
//! The run engine calls [`changed_files`] once per lane (base commit → lane tip) and [`judge`]
//! once per assigned issue, then saves [`Verdict::to_yaml`] with the run.
//!
//! # Design note: what rejects
//!
//! | dimension | fails when | rejects? |
//! |---|---|---|
//! | SpecFit | a changed file is outside the issue's affected paths (path or directory prefix), the issue file itself, and the affected paths of the lane's other issues in the same run | no: a warning, the score is the share of files inside |
//! | SpecFit | the lane guard dropped edits from the lane's commit (tests, issue files, `lanes.yaml`…): the lane is judged on the rest | no: a warning naming each |
//! | SpecFit | the lane touched another lane's issue file, the catalog, or the LogBook (what the guard did not drop) | **yes**: a lane that edits shared state must not get its fix approved |
//! | Verification | any check fails, or the issue has no checks (UNVERIFIABLE) | **yes** |
//! | Dependencies | a `depends_on` issue is not RESOLVED/WONTFIX (or unknown) | no (only Verification and Security reject) |
//! | Effort | the lane took longer than its time box; no time box or no duration passes | no |
//! | Security | an added line holds a secret-like string or a stub marker | **yes** |
//!
//! `overall_score` is the mean of the five scores.
#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::sync::LazyLock;
use std::time::Duration;

use regex::Regex;
use serde::Serialize;

use crate::base::error::{Error, Result};
use crate::files::config::iso_duration;
use crate::files::issue::{Issue, Status};

/// A file a lane changed, with the lines it added (none for deletions and binary files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedFile {
    /// Repository-relative path with `/` separators (the new path of a rename).
    pub path: String,
    pub added_lines: Vec<String>,
}

/// The files changed between `base` and `tip` (two commits), with their added lines.
pub fn changed_files(repo: &git2::Repository, base: git2::Oid, tip: git2::Oid) -> Result<Vec<ChangedFile>> {
    let tree = |oid: git2::Oid| {
        repo.find_commit(oid).and_then(|c| c.tree()).map_err(|e| Error::git(format!("could not read the tree of commit {oid}"), e))
    };
    let (old, new) = (tree(base)?, tree(tip)?);
    let mut opts = git2::DiffOptions::new();
    opts.context_lines(0);
    let diff = repo.diff_tree_to_tree(Some(&old), Some(&new), Some(&mut opts)).map_err(|e| Error::git("could not diff the lane", e))?;
    let path_of = |d: &git2::DiffDelta<'_>| {
        d.new_file().path().or_else(|| d.old_file().path()).map(|p| p.to_string_lossy().into_owned()).unwrap_or_default()
    };
    // Every delta, also those without lines (deletions, binary files).
    let mut files: BTreeMap<String, Vec<String>> = diff.deltas().map(|d| (path_of(&d), Vec::new())).collect();
    diff.print(git2::DiffFormat::Patch, |delta, _hunk, line| {
        if line.origin() == '+' {
            let text = String::from_utf8_lossy(line.content());
            files.entry(path_of(&delta)).or_default().push(text.trim_end_matches(['\n', '\r']).to_string());
        }
        true
    })
    .map_err(|e| Error::git("could not read the lane's diff", e))?;
    Ok(files.into_iter().map(|(path, added_lines)| ChangedFile { path, added_lines }).collect())
}

/// The outcome of one verification command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckOutcome {
    pub command: String,
    pub passed: bool,
}

/// Everything [`judge`] looks at. Paths are relative to the repository root.
#[derive(Debug, Clone)]
pub struct JudgeInput<'a> {
    pub issue: &'a Issue,
    pub lane: &'a str,
    /// The lane's other issues in the same run: their affected paths and issue files are in scope
    /// too (a lane's diff covers all its issues).
    pub siblings: &'a [&'a Issue],
    /// From [`changed_files`] (base commit of the run → lane tip).
    pub changed: &'a [ChangedFile],
    /// The issue's checks as run in the lane worktree, in order.
    pub checks: &'a [CheckOutcome],
    /// Each `depends_on` id and its status now (`None`: no such issue).
    pub dependencies: &'a [(String, Option<Status>)],
    /// How long the lane ran; `None` when unknown.
    pub duration: Option<Duration>,
    /// The lane's time box (`workorder::lane_time_box`); `None`: no limit.
    pub time_box: Option<Duration>,
    /// Issue files of other lanes (e.g. every issue path whose lane differs).
    pub other_lane_issue_files: &'a [PathBuf],
    pub catalog: &'a Path,
    /// The LogBook folder (`LogBook`); nothing under it may be changed by a lane.
    pub logbook: &'a Path,
    /// Edits the lane guard dropped from the lane's commit (one line each): the lane is judged
    /// without them, and they are named.
    pub dropped: &'a [String],
    /// RFC 3339 timestamp for the verdict.
    pub now: &'a str,
}

/// APPROVED or REJECTED.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FinalVerdict {
    Approved,
    Rejected,
}

/// A dimension's pass or fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Pass {
    Pass,
    Fail,
}

/// The five dimensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Dimension {
    SpecFit,
    Verification,
    Dependencies,
    Effort,
    Security,
}

/// One piece of evidence (`type: file_check`, `ref: src/a.rs outside affected paths`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DimensionEvidence {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(rename = "ref")]
    pub reference: String,
}

fn ev(kind: &str, reference: impl Into<String>) -> DimensionEvidence {
    DimensionEvidence { kind: kind.into(), reference: reference.into() }
}

/// One dimension's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DimensionResult {
    pub dimension: Dimension,
    pub verdict: Pass,
    pub score: f64,
    pub feedback: String,
    pub evidence: Vec<DimensionEvidence>,
    /// Whether this failure rejects the fix (not in the seed; see the module's design note).
    #[serde(skip)]
    pub rejects: bool,
}

/// Failing dimensions by weight (the seed's `issues_summary`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IssuesSummary {
    pub critical: usize,
    pub high: usize,
    pub medium: usize,
    pub low: usize,
    pub total: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EvaluationMetadata {
    pub dimensions_evaluated: usize,
    pub changed_files: usize,
    pub checks_run: usize,
}

/// A verdict in the seed's shape, plus `issue_id` and `lane`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub final_verdict: FinalVerdict,
    /// The seed's `brick_id`: what was judged — the issue id.
    pub brick_id: String,
    pub issue_id: String,
    pub lane: String,
    pub timestamp: String,
    pub overall_score: f64,
    pub recommendation: String,
    pub dimension_results: Vec<DimensionResult>,
    pub issues_summary: IssuesSummary,
    pub evaluation_metadata: EvaluationMetadata,
}

impl Verdict {
    pub fn approved(&self) -> bool {
        self.final_verdict == FinalVerdict::Approved
    }

    pub fn dimension(&self, d: Dimension) -> &DimensionResult {
        self.dimension_results.iter().find(|r| r.dimension == d).expect("all five dimensions are computed")
    }

    pub fn to_yaml(&self) -> Result<String> {
        crate::files::yaml::to_yaml(self, "verdict")
    }
}

/// Judge one issue's fix (see the module's design note for the rules).
pub fn judge(input: &JudgeInput<'_>) -> Verdict {
    let results = vec![spec_fit(input), verification(input), dependencies(input), effort(input), security(input)];
    let overall = results.iter().map(|r| r.score).sum::<f64>() / results.len() as f64;
    let overall = (overall * 100.0).round() / 100.0;
    let rejecting: Vec<&DimensionResult> = results.iter().filter(|r| r.rejects).collect();
    let warnings: Vec<&DimensionResult> = results.iter().filter(|r| r.verdict == Pass::Fail && !r.rejects).collect();
    let names = |rs: &[&DimensionResult]| rs.iter().map(|r| format!("{:?}: {}", r.dimension, r.feedback)).collect::<Vec<_>>().join("; ");
    let (final_verdict, recommendation) = if !rejecting.is_empty() {
        (FinalVerdict::Rejected, format!("REJECT - {}", names(&rejecting)))
    } else if !warnings.is_empty() {
        (FinalVerdict::Approved, format!("APPROVE with warnings - {}", names(&warnings)))
    } else {
        (FinalVerdict::Approved, "APPROVE - All checks passed".to_string())
    };
    let mut summary = IssuesSummary::default();
    for r in results.iter().filter(|r| r.verdict == Pass::Fail) {
        match (r.dimension, r.rejects) {
            (Dimension::Security, _) => summary.critical += 1,
            (_, true) => summary.high += 1,
            (Dimension::Effort, _) => summary.low += 1,
            _ => summary.medium += 1,
        }
        summary.total += 1;
    }
    Verdict {
        final_verdict,
        brick_id: input.issue.id().to_string(),
        issue_id: input.issue.id().to_string(),
        lane: input.lane.to_string(),
        timestamp: input.now.to_string(),
        overall_score: overall,
        recommendation,
        evaluation_metadata: EvaluationMetadata {
            dimensions_evaluated: results.len(),
            changed_files: input.changed.len(),
            checks_run: input.checks.len(),
        },
        dimension_results: results,
        issues_summary: summary,
    }
}

fn result(
    dimension: Dimension,
    ok: bool,
    score: f64,
    feedback: String,
    evidence: Vec<DimensionEvidence>,
    rejects: bool,
) -> DimensionResult {
    let score = (score.clamp(0.0, 1.0) * 100.0).round() / 100.0;
    DimensionResult { dimension, verdict: if ok { Pass::Pass } else { Pass::Fail }, score, feedback, evidence, rejects: !ok && rejects }
}

/// `./src/` → `src`; a glob keeps the part before its first wildcard component.
fn normalize(p: &str) -> PathBuf {
    let p = p.trim().trim_matches('`');
    Path::new(p)
        .components()
        .take_while(|c| !c.as_os_str().to_string_lossy().contains(['*', '?', '[']))
        .filter(|c| matches!(c, Component::Normal(_)))
        .collect()
}

fn spec_fit(input: &JudgeInput<'_>) -> DimensionResult {
    let mut allowed: Vec<PathBuf> = Vec::new();
    for i in std::iter::once(&input.issue).chain(input.siblings.iter()) {
        allowed.push(i.path.clone());
        allowed.extend(i.meta.affected_paths.iter().map(|p| normalize(p)).filter(|p| !p.as_os_str().is_empty()));
    }
    let mut forbidden = Vec::new();
    let mut outside = Vec::new();
    let mut inside = 0usize;
    for f in input.changed {
        let p = Path::new(&f.path);
        if p == input.catalog {
            forbidden.push(ev("file_check", format!("{} is the catalog", f.path)));
        } else if p.starts_with(input.logbook) {
            forbidden.push(ev("file_check", format!("{} is in the LogBook", f.path)));
        } else if input.other_lane_issue_files.iter().any(|o| o == p) {
            forbidden.push(ev("file_check", format!("{} is another lane's issue file", f.path)));
        } else if allowed.iter().any(|a| p.starts_with(a)) {
            inside += 1;
        } else {
            outside.push(ev("file_check", format!("{} is outside the affected paths", f.path)));
        }
    }
    let total = input.changed.len();
    if !forbidden.is_empty() {
        let n = forbidden.len();
        forbidden.extend(outside);
        return result(
            Dimension::SpecFit,
            false,
            0.0,
            format!("the lane changed {n} file(s) no lane may touch (other lanes' issues, the catalog, the LogBook)"),
            forbidden,
            true,
        );
    }
    if !input.dropped.is_empty() {
        let n = input.dropped.len();
        let mut evidence: Vec<DimensionEvidence> = input.dropped.iter().map(|d| ev("dropped_edit", d.clone())).collect();
        evidence.extend(outside);
        return result(
            Dimension::SpecFit,
            false,
            if total == 0 { 0.0 } else { inside as f64 / total as f64 },
            format!("{n} edit(s) the lane may not make were dropped from its commit (judged without them): {}", input.dropped.join("; ")),
            evidence,
            false,
        );
    }
    if !outside.is_empty() {
        let n = outside.len();
        return result(
            Dimension::SpecFit,
            false,
            inside as f64 / total as f64,
            format!("{n} of {total} changed file(s) are outside the issue's affected paths"),
            outside,
            false,
        );
    }
    let feedback = if total == 0 {
        "the lane changed no files".to_string()
    } else {
        format!("all {total} changed file(s) are within the affected paths")
    };
    let evidence = input.changed.iter().map(|f| ev("file_check", format!("{} changed", f.path))).collect();
    result(Dimension::SpecFit, true, 1.0, feedback, evidence, false)
}

fn verification(input: &JudgeInput<'_>) -> DimensionResult {
    let n = input.checks.len();
    if n == 0 {
        return result(
            Dimension::Verification,
            false,
            0.0,
            "the issue has no verification commands (UNVERIFIABLE)".into(),
            vec![ev("command_check", "0 verification commands")],
            true,
        );
    }
    let passed = input.checks.iter().filter(|c| c.passed).count();
    let mut evidence = vec![ev("command_check", format!("{passed}/{n} verification commands successful"))];
    evidence.extend(input.checks.iter().map(|c| ev("command_check", format!("{}: {}", if c.passed { "PASS" } else { "FAIL" }, c.command))));
    let ok = passed == n;
    let feedback =
        if ok { "All verification commands passed".into() } else { format!("{} of {n} verification commands failed", n - passed) };
    result(Dimension::Verification, ok, passed as f64 / n as f64, feedback, evidence, true)
}

fn dependencies(input: &JudgeInput<'_>) -> DimensionResult {
    let deps = input.dependencies;
    if deps.is_empty() {
        return result(
            Dimension::Dependencies,
            true,
            1.0,
            "No dependencies - standalone fix".into(),
            vec![ev("dependency_check", "No blocking issues")],
            false,
        );
    }
    let open: Vec<&(String, Option<Status>)> = deps.iter().filter(|(_, s)| !s.is_some_and(Status::is_closed)).collect();
    let evidence =
        deps.iter().map(|(id, s)| ev("dependency_check", format!("{id}: {}", s.map(Status::as_str).unwrap_or("unknown issue")))).collect();
    let ok = open.is_empty();
    let feedback = if ok {
        format!("all {} dependencies are closed", deps.len())
    } else {
        format!("waiting on {}", open.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>().join(", "))
    };
    result(Dimension::Dependencies, ok, (deps.len() - open.len()) as f64 / deps.len() as f64, feedback, evidence, false)
}

fn effort(input: &JudgeInput<'_>) -> DimensionResult {
    let (Some(actual), Some(budget)) = (input.duration, input.time_box) else {
        let why = if input.time_box.is_none() { "no time box" } else { "duration unknown" };
        return result(Dimension::Effort, true, 1.0, format!("not measured ({why})"), vec![ev("time_check", why)], false);
    };
    let evidence = vec![ev("time_check", format!("Estimated: {}, Actual: {}", iso_duration(budget), iso_duration(actual)))];
    if actual <= budget {
        result(Dimension::Effort, true, 1.0, "Completed within time box".into(), evidence, false)
    } else {
        let score = budget.as_secs_f64() / actual.as_secs_f64().max(1e-9);
        result(Dimension::Effort, false, score, "took longer than the time box".into(), evidence, false)
    }
}

/// Stub markers in added lines: `TODO`, `FIXME` (whole words), `todo!()`, `unimplemented!()`,
/// `NotImplementedError`, `pass  # placeholder`.
static STUB: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\bTODO\b|\bFIXME\b|\btodo!\s*\(|\bunimplemented!\s*\(|\bNotImplementedError\b|\bpass\s+#\s*placeholder")
        .expect("valid regex")
});

/// The stub marker in `line`, if any (the verdict's Security dimension and the pre-push gate).
pub fn stub_marker(line: &str) -> Option<&str> {
    STUB.find(line).map(|m| m.as_str())
}

fn security(input: &JudgeInput<'_>) -> DimensionResult {
    let mut evidence = Vec::new();
    for f in input.changed {
        for (n, line) in f.added_lines.iter().enumerate() {
            if let Some(kind) = crate::base::redact::find_secret(line) {
                evidence.push(ev("security_scan", format!("{}: added line {} holds a {kind}", f.path, n + 1)));
            }
            if let Some(m) = stub_marker(line) {
                evidence.push(ev("security_scan", format!("{}: added line {} holds stub marker `{m}`", f.path, n + 1)));
            }
        }
    }
    if evidence.is_empty() {
        let lines: usize = input.changed.iter().map(|f| f.added_lines.len()).sum();
        return result(
            Dimension::Security,
            true,
            1.0,
            "No security issues detected".into(),
            vec![ev("security_scan", format!("No secrets, no stub markers in {lines} added line(s)"))],
            false,
        );
    }
    let feedback = format!("{} secret-like string(s) or stub marker(s) in added lines", evidence.len());
    result(Dimension::Security, false, 0.0, feedback, evidence, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::issue::testing::issue;

    struct Case {
        issue: Issue,
        changed: Vec<ChangedFile>,
        checks: Vec<CheckOutcome>,
        deps: Vec<(String, Option<Status>)>,
        duration: Option<Duration>,
        time_box: Option<Duration>,
        others: Vec<PathBuf>,
    }

    fn case() -> Case {
        Case {
            issue: issue("E-1", 2, "OPEN", &[], ""),
            changed: vec![file("src/E-1/f0.rs", &["fn fixed() {}"])],
            checks: vec![CheckOutcome { command: "test -f src/E-1/f0.rs".into(), passed: true }],
            deps: vec![],
            duration: Some(Duration::from_secs(600)),
            time_box: Some(Duration::from_secs(1800)),
            others: vec![PathBuf::from("issues/M/M-1.md")],
        }
    }

    fn file(path: &str, added: &[&str]) -> ChangedFile {
        ChangedFile { path: path.into(), added_lines: added.iter().map(|s| s.to_string()).collect() }
    }

    fn run(c: &Case) -> Verdict {
        run_dropping(c, &[])
    }

    fn run_dropping(c: &Case, dropped: &[String]) -> Verdict {
        judge(&JudgeInput {
            issue: &c.issue,
            lane: "E",
            siblings: &[],
            changed: &c.changed,
            checks: &c.checks,
            dependencies: &c.deps,
            duration: c.duration,
            time_box: c.time_box,
            other_lane_issue_files: &c.others,
            catalog: Path::new("SAF_ISSUE_CATALOG.md"),
            logbook: Path::new("LogBook"),
            dropped,
            now: "2026-01-07T10:25:00Z",
        })
    }

    #[test]
    fn a_clean_fix_is_approved() {
        let v = run(&case());
        assert!(v.approved(), "{v:?}");
        assert_eq!(v.overall_score, 1.0);
        assert_eq!(v.recommendation, "APPROVE - All checks passed");
        assert_eq!(v.dimension_results.len(), 5);
        let yaml = v.to_yaml().unwrap();
        let back: serde_json::Value = serde_saphyr::from_str(&yaml).unwrap();
        assert_eq!(back["final_verdict"], "APPROVED");
        assert_eq!(back["dimension_results"][0]["dimension"], "SpecFit");
        assert_eq!(back["dimension_results"][0]["verdict"], "pass");
        assert_eq!(back["dimension_results"][3]["evidence"][0]["ref"], "Estimated: PT30M, Actual: PT10M");
    }

    #[test]
    fn directory_prefix_and_issue_file_are_in_scope() {
        let mut c = case();
        c.issue.meta.affected_paths = vec!["./src/E-1/".into()];
        c.changed = vec![file("src/E-1/deep/x.rs", &[]), file("issues/E/E-1.md", &[])];
        assert_eq!(run(&c).dimension(Dimension::SpecFit).verdict, Pass::Pass);
        // `src/E-10` is not inside `src/E-1`.
        c.changed = vec![file("src/E-10/x.rs", &[])];
        assert_eq!(run(&c).dimension(Dimension::SpecFit).verdict, Pass::Fail);
    }

    #[test]
    fn touching_files_outside_affected_paths_warns_but_approves() {
        let mut c = case();
        c.changed.push(file("README.md", &["more docs"]));
        let v = run(&c);
        let d = v.dimension(Dimension::SpecFit);
        assert_eq!((d.verdict, d.score), (Pass::Fail, 0.5));
        assert!(v.approved());
        assert!(v.recommendation.starts_with("APPROVE with warnings"), "{}", v.recommendation);
    }

    #[test]
    fn editing_another_lanes_issue_file_rejects() {
        let mut c = case();
        c.changed.push(file("issues/M/M-1.md", &["status: RESOLVED"]));
        let v = run(&c);
        assert_eq!(v.dimension(Dimension::SpecFit).verdict, Pass::Fail);
        assert_eq!(v.final_verdict, FinalVerdict::Rejected);
        assert!(v.dimension(Dimension::SpecFit).evidence[0].reference.contains("another lane's issue file"));
    }

    #[test]
    fn editing_the_catalog_or_logbook_rejects() {
        for path in ["SAF_ISSUE_CATALOG.md", "LogBook/issue-fixing/runs/x.md"] {
            let mut c = case();
            c.changed.push(file(path, &["x"]));
            let v = run(&c);
            assert_eq!(v.dimension(Dimension::SpecFit).score, 0.0, "{path}");
            assert!(!v.approved(), "{path}");
        }
    }

    #[test]
    fn dropped_edits_are_named_and_the_rest_is_judged() {
        let c = case();
        let dropped = ["tests/test_a.py: the lane changed a protected path; restored as it was when the run started".to_string()];
        let v = run_dropping(&c, &dropped);
        assert!(v.approved(), "{v:?}");
        assert!(v.recommendation.starts_with("APPROVE with warnings - SpecFit"), "{}", v.recommendation);
        assert!(v.recommendation.contains("tests/test_a.py"), "{}", v.recommendation);
        let yaml = v.to_yaml().unwrap();
        assert!(yaml.contains("dropped_edit"), "{yaml}");
    }

    #[test]
    fn added_todo_macro_fails_security_and_rejects() {
        let mut c = case();
        c.changed = vec![file("src/E-1/f0.rs", &["fn fixed() {", "    todo!()", "}"])];
        let v = run(&c);
        let s = v.dimension(Dimension::Security);
        assert_eq!(s.verdict, Pass::Fail);
        assert!(s.evidence[0].reference.contains("src/E-1/f0.rs: added line 2 holds stub marker `todo!(`"), "{:?}", s.evidence);
        assert_eq!(v.final_verdict, FinalVerdict::Rejected);
        assert_eq!(v.issues_summary.critical, 1);
    }

    #[test]
    fn stub_markers_and_secrets() {
        for line in ["// TODO: later", "# FIXME", "unimplemented!()", "raise NotImplementedError", "    pass  # placeholder"] {
            let mut c = case();
            c.changed = vec![file("src/E-1/f0.rs", &[line])];
            assert!(!run(&c).approved(), "{line}");
        }
        let mut c = case();
        c.changed = vec![file("src/E-1/f0.rs", &["key = \"AKIAIOSFODNN7EXAMPLE\""])];
        assert!(run(&c).dimension(Dimension::Security).evidence[0].reference.contains("AWS"));
        // Lowercase words and look-alikes are not markers.
        c.changed = vec![file("src/E-1/f0.rs", &["let todos = todo_list();", "// a TODOS file"])];
        assert!(run(&c).approved());
    }

    #[test]
    fn failing_or_missing_checks_reject() {
        let mut c = case();
        c.checks.push(CheckOutcome { command: "false".into(), passed: false });
        let v = run(&c);
        assert_eq!(v.dimension(Dimension::Verification).score, 0.5);
        assert!(!v.approved());
        c.checks.clear();
        let v = run(&c);
        assert!(v.dimension(Dimension::Verification).feedback.contains("UNVERIFIABLE"));
        assert!(!v.approved());
    }

    #[test]
    fn open_dependencies_and_overtime_warn() {
        let mut c = case();
        c.deps = vec![("E-0".into(), Some(Status::Resolved)), ("E-9".into(), Some(Status::Open)), ("X".into(), None)];
        c.duration = Some(Duration::from_secs(3600));
        let v = run(&c);
        let d = v.dimension(Dimension::Dependencies);
        assert_eq!((d.verdict, d.feedback.as_str()), (Pass::Fail, "waiting on E-9, X"));
        let e = v.dimension(Dimension::Effort);
        assert_eq!((e.verdict, e.score), (Pass::Fail, 0.5));
        assert!(v.approved(), "dependencies and effort warn only");
        c.time_box = None;
        assert_eq!(run(&c).dimension(Dimension::Effort).verdict, Pass::Pass);
    }

    #[test]
    fn changed_files_from_a_real_diff() {
        let dir = tempfile::tempdir().unwrap();
        let repo = git2::Repository::init(dir.path()).unwrap();
        let sig = git2::Signature::new("t", "t@example.com", &git2::Time::new(1_700_000_000, 0)).unwrap();
        let commit = |files: &[(&str, &str)], parent: Option<git2::Oid>| {
            let mut tb = repo.treebuilder(None).unwrap();
            let mut sub = repo.treebuilder(None).unwrap();
            for (p, content) in files {
                let blob = repo.blob(content.as_bytes()).unwrap();
                match p.split_once('/') {
                    Some((_, name)) => sub.insert(name, blob, 0o100644).unwrap(),
                    None => tb.insert(p, blob, 0o100644).unwrap(),
                };
            }
            let sub = sub.write().unwrap();
            tb.insert("src", sub, 0o040000).unwrap();
            let tree = repo.find_tree(tb.write().unwrap()).unwrap();
            let parents: Vec<git2::Commit<'_>> = parent.map(|p| repo.find_commit(p).unwrap()).into_iter().collect();
            repo.commit(None, &sig, &sig, "c", &tree, &parents.iter().collect::<Vec<_>>()).unwrap()
        };
        let base = commit(&[("a.txt", "one\n"), ("gone.txt", "x\n"), ("src/k.rs", "fn a() {}\n")], None);
        let tip = commit(&[("a.txt", "one\ntwo\n"), ("src/k.rs", "fn a() {}\nfn b() { todo!() }\n")], Some(base));
        let files = changed_files(&repo, base, tip).unwrap();
        assert_eq!(files, [file("a.txt", &["two"]), file("gone.txt", &[]), file("src/k.rs", &["fn b() { todo!() }"])], "{files:?}");
    }
}
