//! Work orders: what a lane's worker is asked to do in one run, as YAML in the seed's shape
//! (`demo/demo_work_order.yaml`) plus the assigned issues and the signal paths (docs/formats.md#work-order).
//!
//! Start at [`WorkOrder::build`] (from a [`LanePlan`]), then [`WorkOrder::to_yaml`] and
//! [`prompt`]. The same struct serialises to JSON for `plan --json` / `run --dry-run --json`, so
//! the YAML and the JSON cannot disagree.
//!
//! Time box: the lane's time box is the **sum** of its issues' `time_box` values, an issue without
//! one counting `PT30M` ([`DEFAULT_ISSUE_TIME_BOX`]) — a worker fixes its issues one after another.
#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::base::error::{Error, Result};
use crate::files::config::{Config, iso_duration, parse_duration};
use crate::files::issue::Issue;
use crate::files::signal::SignalFile;
use crate::files::spec::AgentSpec;
use crate::planning::plan::{Complexity, LanePlan};

/// What an issue without a `time_box` counts for.
pub const DEFAULT_ISSUE_TIME_BOX: Duration = Duration::from_secs(30 * 60);

/// The whole document: `work_order:`, `metadata:`, `issues:`, `signals:`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkOrder {
    pub work_order: Order,
    pub metadata: Metadata,
    /// The assigned issues, in the order they are to be worked on.
    pub issues: Vec<OrderIssue>,
    pub signals: Signals,
}

/// The seed's `work_order:` block.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Order {
    /// `WO-<RUN_ID>-<LANE>`.
    pub id: String,
    pub issued_by: String,
    /// The agent spec's name (`IF-Lane-E`).
    pub issued_to: String,
    /// The seed's `brick_id`: what the order is about — the lane.
    pub brick_id: String,
    pub lane: String,
    pub task_type: String,
    pub objective: String,
    pub inputs: Vec<Input>,
    pub expected_outputs: Vec<ExpectedOutput>,
    pub prohibited_actions: Vec<Prohibited>,
    /// ISO-8601, e.g. `PT1H`.
    pub time_box: String,
    /// Ids the assigned issues depend on (all closed, or the issue would be blocked).
    pub dependencies: Vec<String>,
    /// `low`, `normal`, `high`, `critical`, from the highest severity.
    pub priority: String,
    /// Who commits and who marks RESOLVED ([`HAND_OFF`]); the agent-spec template says the same.
    pub hand_off: String,
}

/// What the worker leaves and what git-lanes does with it. Some agents cannot commit at all
/// (codex's sandbox cannot take a linked worktree's index lock), so nobody is asked to.
pub const HAND_OFF: &str = "Leave your changes in this worktree: git-lanes commits whatever you leave on the lane branch \
when you finish (you need not commit; commits of your own are kept too). Write your signals, then stop. git-lanes runs \
each issue's verification commands itself and marks an issue RESOLVED only when they pass; never mark one yourself.";

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Input {
    pub path: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub description: String,
}

/// One per issue: where the fix goes and how it is accepted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExpectedOutput {
    /// The first affected path (the issue file when it lists none).
    pub path: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub issue: String,
    pub affected_paths: Vec<String>,
    pub acceptance_criteria: Vec<Criterion>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Criterion {
    pub criterion: String,
    pub testable: bool,
    pub verification_method: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prohibited {
    pub action: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metadata {
    pub created_at: String,
    pub run_id: String,
    pub related_issues: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrderIssue {
    pub id: String,
    pub title: String,
    pub path: String,
    pub complexity: Complexity,
    pub complexity_reason: String,
    pub time_box: String,
}

/// Where the worker signals (relative to the repository root; the runner also passes the absolute
/// directory as `LANES_SIGNAL_DIR`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Signals {
    pub status: String,
    pub done: String,
}

impl Signals {
    /// A lane's signal files in the configured signal folder.
    pub fn of_lane(config: &Config, lane: &str) -> Signals {
        let dir = path_str(&config.signals);
        let mut signals = Signals { status: String::new(), done: String::new() };
        for kind in SignalFile::ALL {
            let path = format!("{dir}/{}", kind.file_name(lane));
            match kind {
                SignalFile::Status => signals.status = path,
                SignalFile::Done => signals.done = path,
            }
        }
        signals
    }
}

/// Everything [`WorkOrder::build`] needs besides the plan.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub run_id: &'a str,
    /// RFC 3339 timestamp.
    pub created_at: &'a str,
    pub config: &'a Config,
    pub spec: Option<&'a AgentSpec>,
    /// Every issue in the repository, by id.
    pub issues: &'a HashMap<&'a str, &'a Issue>,
}

fn path_str(p: &Path) -> String {
    p.to_string_lossy().replace('\\', "/")
}

/// An issue's time box, or [`DEFAULT_ISSUE_TIME_BOX`] when it has none (or an unreadable one).
pub fn issue_time_box(issue: &Issue) -> Duration {
    issue.meta.time_box.as_deref().and_then(parse_duration).unwrap_or(DEFAULT_ISSUE_TIME_BOX)
}

/// The lane's time box: the sum over its issues (see the module doc).
pub fn lane_time_box(issues: &[&Issue]) -> Duration {
    issues.iter().map(|i| issue_time_box(i)).sum()
}

impl WorkOrder {
    /// The work order for a lane that has issues assigned.
    pub fn build(plan: &LanePlan, cx: &Context<'_>) -> Result<WorkOrder> {
        let lane = plan.lane.as_str();
        let issues = assigned_issues(plan, cx)?;
        let ids: Vec<String> = issues.iter().map(|i| i.id().to_string()).collect();
        let mut dependencies: Vec<String> = Vec::new();
        let mut related: Vec<String> = ids.clone();
        for i in &issues {
            extend_unique(&mut dependencies, &i.meta.depends_on);
            extend_unique(&mut related, &i.meta.related);
        }
        Ok(WorkOrder {
            work_order: Order {
                id: format!("WO-{}-{lane}", cx.run_id),
                issued_by: "git-lanes".into(),
                issued_to: cx.spec.map(|s| s.name.clone()).unwrap_or_else(|| format!("IF-Lane-{lane}")),
                brick_id: lane.to_string(),
                lane: lane.to_string(),
                task_type: "fix_issue".into(),
                objective: objective(lane, &ids),
                inputs: inputs(&issues, cx.spec),
                expected_outputs: issues.iter().map(|i| expected_output(i)).collect(),
                prohibited_actions: prohibited(cx.config, lane),
                time_box: iso_duration(lane_time_box(&issues)),
                dependencies,
                priority: priority(&issues).into(),
                hand_off: HAND_OFF.into(),
            },
            metadata: Metadata { created_at: cx.created_at.to_string(), run_id: cx.run_id.to_string(), related_issues: related },
            issues: plan
                .issues
                .iter()
                .zip(&issues)
                .map(|(a, i)| OrderIssue {
                    id: a.id.clone(),
                    title: a.title.clone(),
                    path: path_str(&i.path),
                    complexity: a.complexity,
                    complexity_reason: a.reason.clone(),
                    time_box: iso_duration(issue_time_box(i)),
                })
                .collect(),
            signals: Signals::of_lane(cx.config, lane),
        })
    }

    /// The YAML the worker reads (`LANES_WORK_ORDER`).
    pub fn to_yaml(&self) -> Result<String> {
        crate::files::yaml::to_yaml(self, "work order")
    }

    /// The assigned issue ids, in order (`LANES_ISSUES`).
    pub fn issue_ids(&self) -> Vec<&str> {
        self.issues.iter().map(|i| i.id.as_str()).collect()
    }
}

/// The plan's issues, looked up by id (an id the repository no longer has is an error).
fn assigned_issues<'a>(plan: &LanePlan, cx: &Context<'a>) -> Result<Vec<&'a Issue>> {
    plan.issues
        .iter()
        .map(|a| cx.issues.get(a.id.as_str()).copied().ok_or_else(|| Error::state(format!("issue {} vanished", a.id), None)))
        .collect()
}

fn objective(lane: &str, ids: &[String]) -> String {
    match ids {
        [] => format!("Nothing is ready in lane {lane}"),
        [one] => format!("Fix issue {one} in lane {lane} so that its verification commands pass"),
        many => format!("Fix issues {} in lane {lane}, in this order, so that their verification commands pass", many.join(", ")),
    }
}

/// The issue files, then the agent spec.
fn inputs(issues: &[&Issue], spec: Option<&AgentSpec>) -> Vec<Input> {
    issues
        .iter()
        .map(|i| Input { path: path_str(&i.path), kind: "issue".into(), description: format!("Issue {}: {}", i.id(), i.title) })
        .chain(spec.map(|s| Input {
            path: path_str(&s.path),
            kind: "agent_spec".into(),
            description: "Agent spec (also the start of the prompt)".into(),
        }))
        .collect()
}

/// An issue's fix, accepted when each of its checks passes.
fn expected_output(i: &Issue) -> ExpectedOutput {
    ExpectedOutput {
        path: i.meta.affected_paths.first().cloned().unwrap_or_else(|| path_str(&i.path)),
        kind: "fix".into(),
        issue: i.id().to_string(),
        affected_paths: i.meta.affected_paths.clone(),
        acceptance_criteria: i
            .checks()
            .iter()
            .map(|c| Criterion { criterion: c.label().to_string(), testable: true, verification_method: c.command.clone() })
            .collect(),
    }
}

/// `low`, `normal`, `high` or `critical`, from the highest severity among the issues.
fn priority(issues: &[&Issue]) -> &'static str {
    match issues.iter().filter_map(|i| i.meta.severity).max() {
        Some(9..) => "critical",
        Some(7..=8) => "high",
        Some(1..=3) => "low",
        _ => "normal",
    }
}

/// Append the items `into` does not hold yet, in order.
pub(crate) fn extend_unique<'a>(into: &mut Vec<String>, items: impl IntoIterator<Item = &'a String>) {
    for item in items {
        if !into.contains(item) {
            into.push(item.clone());
        }
    }
}

/// What no lane may do. git-lanes itself marks issues RESOLVED after verifying them.
fn prohibited(config: &Config, lane: &str) -> Vec<Prohibited> {
    let issues = path_str(&config.issues);
    let logbook = logbook_dir(config);
    vec![
        Prohibited {
            action: format!("Edit issue files of other lanes (anything under {issues}/ outside {issues}/{lane}/)"),
            reason: "Each lane owns only its own issues; parallel lanes would conflict".into(),
        },
        Prohibited {
            action: format!("Edit the catalog ({})", path_str(&config.catalog)),
            reason: "git-lanes regenerates it from the issue files after integration".into(),
        },
        Prohibited {
            action: format!("Edit anything under {logbook}/ except writing your own signal files"),
            reason: "Run state, reports and evidence are written by git-lanes".into(),
        },
        Prohibited {
            action: format!(
                "Change existing tests ({}) or files a verification command names, unless the issue lists them under may_change; or edit {} or agent specs",
                config.protect.join(", "),
                crate::files::config::CONFIG_FILE
            ),
            reason: "Checks run with them as they are at the run's base; such edits are dropped from the lane's commit".into(),
        },
        Prohibited {
            action: "Mark an issue RESOLVED yourself".into(),
            reason: "git-lanes resolves an issue only after its verification commands pass".into(),
        },
        Prohibited {
            action: "Push, fetch, or move branches other than your lane branch".into(),
            reason: "Integration is done by git-lanes".into(),
        },
    ]
}

/// The LogBook folder: the first component of the signal directory (`LogBook`).
pub fn logbook_dir(config: &Config) -> String {
    config.signals.components().next().map(|c| c.as_os_str().to_string_lossy().into_owned()).unwrap_or_else(|| "LogBook".into())
}

/// The prompt a worker gets (`LANES_PROMPT_FILE`): the agent spec's body, then the work order.
pub fn prompt(spec_body: &str, work_order_yaml: &str) -> String {
    let body = spec_body.trim_end();
    let mut out = String::with_capacity(body.len() + work_order_yaml.len() + 64);
    if !body.is_empty() {
        out.push_str(body);
        out.push_str("\n\n");
    }
    out.push_str("## Work Order\n\n```yaml\n");
    out.push_str(work_order_yaml);
    if !work_order_yaml.ends_with('\n') {
        out.push('\n');
    }
    out.push_str("```\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::files::issue::testing::issue;
    use crate::planning::plan::tests::ws;
    use crate::planning::plan::{PlanOptions, plan};

    #[test]
    fn work_order_in_the_seed_shape() {
        let mut a = issue("E-1", 2, "OPEN", &["E-9"], "");
        a.meta.time_box = Some("PT10M".into());
        let w = ws(vec![a, issue("E-2", 1, "OPEN", &[], ""), issue("E-9", 1, "RESOLVED", &[], "")]);
        let p = plan(&w, None, &PlanOptions::default()).unwrap().remove(0);
        let by_id = w.by_id();
        let cx = Context { run_id: "20260107-1000", created_at: "2026-01-07T10:00:00Z", config: &w.config, spec: None, issues: &by_id };
        let wo = WorkOrder::build(&p, &cx).unwrap();
        assert_eq!(wo.work_order.id, "WO-20260107-1000-E");
        assert_eq!(wo.work_order.issued_to, "IF-Lane-E");
        assert_eq!(wo.work_order.time_box, "PT40M");
        assert_eq!(wo.work_order.dependencies, ["E-9"]);
        assert_eq!(wo.issue_ids(), ["E-1", "E-2"]);
        assert_eq!(wo.signals.done, "LogBook/issue-fixing/signals/E.done");
        let yaml = wo.to_yaml().unwrap();
        // Read back as plain YAML: the seed's keys are where the seed has them.
        let v: serde_json::Value = serde_saphyr::from_str(&yaml).unwrap();
        assert_eq!(v["work_order"]["task_type"], "fix_issue");
        assert_eq!(v["work_order"]["issued_by"], "git-lanes");
        // One story with the agent-spec template: git-lanes commits and resolves; nobody is asked
        // to commit (codex cannot).
        let hand_off = v["work_order"]["hand_off"].as_str().unwrap();
        assert!(hand_off.contains("you need not commit") && hand_off.contains("never mark one yourself"), "{hand_off}");
        assert!(!yaml.contains("git commit") && !yaml.contains("git add"), "{yaml}");
        assert!(crate::files::scaffold::fixer_spec("E", "x").contains("you need not commit"));
        let crit = &v["work_order"]["expected_outputs"][0]["acceptance_criteria"][0];
        assert_eq!(crit["testable"], true);
        assert_eq!(crit["verification_method"], "test -f src/E-1/f0.rs && echo PASS || echo FAIL");
        assert_eq!(v["metadata"]["created_at"], "2026-01-07T10:00:00Z");
        assert_eq!(v["issues"][0]["complexity"], "LOW");
        assert!(
            v["work_order"]["prohibited_actions"].as_array().unwrap().iter().any(|a| a["action"].as_str().unwrap().contains("RESOLVED"))
        );
        let pr = prompt("# Spec\n\nDo things.\n", &yaml);
        assert!(pr.starts_with("# Spec\n\nDo things.\n\n## Work Order\n\n```yaml\nwork_order:"), "{pr}");
        assert!(pr.ends_with("```\n"));
    }
}
