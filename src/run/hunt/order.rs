//! The hunting work order (`task_type: hunt_issues`): the seed's `work_order:` block, plus the
//! lane's scope (description and paths), the open issues not to file again, the id to start
//! from, the issue template, and the signal paths. The same struct serialises to YAML for the
//! worker and to JSON for `hunt --dry-run --json`.

use std::collections::HashSet;

use serde::Serialize;

use crate::base::error::Result;
use crate::files::config::{Config, iso_duration};
use crate::files::issue::{Issue, Status};
use crate::files::spec::AgentSpec;
use crate::planning::workorder::{Criterion, Input, Metadata, Prohibited, Signals, extend_unique};

/// The whole document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HuntOrder {
    pub work_order: HuntBlock,
    pub metadata: Metadata,
    pub hunt: Scope,
    pub signals: Signals,
}

/// The seed's `work_order:` block for a hunt.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HuntBlock {
    /// `WO-<RUN_ID>-<LANE>`.
    pub id: String,
    pub issued_by: String,
    /// The hunter spec's name (`IH-Lane-E`).
    pub issued_to: String,
    pub lane: String,
    pub task_type: String,
    pub objective: String,
    pub inputs: Vec<Input>,
    pub expected_outputs: Vec<Output>,
    pub prohibited_actions: Vec<Prohibited>,
    pub time_box: String,
    pub dependencies: Vec<String>,
    pub priority: String,
}

/// What a hunt is to produce: new issue files in the lane folder.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Output {
    pub path: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub max_count: usize,
    pub acceptance_criteria: Vec<Criterion>,
}

/// The lane's scope and what the hunter must know to avoid duplicates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scope {
    pub lane: String,
    pub description: String,
    /// Where to look (the spec's `paths:`, else every affected path of the lane's issues).
    pub paths: Vec<String>,
    pub max_findings: usize,
    /// Where new files go.
    pub issue_dir: String,
    /// The id to give the first new file; git-lanes gives final ids at integration anyway.
    pub next_id: String,
    /// Every OPEN issue (all lanes): a finding that repeats one is rejected as a duplicate.
    pub open_issues: Vec<Known>,
    pub issue_template: String,
}

/// An existing issue, as the hunter needs to know it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Known {
    pub id: String,
    pub lane: String,
    pub title: String,
    pub path: String,
    pub affected_paths: Vec<String>,
    pub checks: Vec<String>,
}

/// Everything [`build`] needs.
pub struct Context<'a> {
    pub run_id: &'a str,
    pub created_at: &'a str,
    /// The hunting configuration (its signal folder).
    pub config: &'a Config,
    pub hunter: Option<&'a AgentSpec>,
    /// The lane's fixer spec, for its description when the hunter spec has none.
    pub fixer: Option<&'a AgentSpec>,
    pub issues: &'a [Issue],
    pub max_findings: usize,
    pub next_id: String,
    pub time_box: std::time::Duration,
}

fn slash(p: &std::path::Path) -> String {
    p.to_string_lossy().replace('\\', "/")
}

/// The work order of one hunting lane.
pub fn build(lane: &str, cx: &Context<'_>) -> HuntOrder {
    let issue_dir = slash(&cx.config.issues.join(lane));
    let description = description(lane, cx);
    HuntOrder {
        work_order: HuntBlock {
            id: format!("WO-{}-{lane}", cx.run_id),
            issued_by: "git-lanes".into(),
            issued_to: cx.hunter.map(|s| s.name.clone()).unwrap_or_else(|| format!("IH-Lane-{lane}")),
            lane: lane.to_string(),
            task_type: crate::run::context::TASK_HUNT.into(),
            objective: format!(
                "Find up to {} new, reproducible problems in lane {lane} ({description}) and file each as a new issue file in {issue_dir}/",
                cx.max_findings
            ),
            inputs: inputs(lane, &issue_dir, cx),
            expected_outputs: vec![Output {
                path: format!("{issue_dir}/"),
                kind: "new_issue_files".into(),
                max_count: cx.max_findings,
                acceptance_criteria: acceptance_criteria(lane, &issue_dir),
            }],
            prohibited_actions: prohibited(&issue_dir, cx),
            time_box: iso_duration(cx.time_box),
            dependencies: vec![],
            priority: "normal".into(),
        },
        metadata: Metadata { created_at: cx.created_at.to_string(), run_id: cx.run_id.to_string(), related_issues: vec![] },
        hunt: Scope {
            lane: lane.to_string(),
            description,
            paths: scope_paths(lane, cx),
            max_findings: cx.max_findings,
            issue_dir,
            next_id: cx.next_id.clone(),
            open_issues: open_issues(cx.issues),
            issue_template: template(lane, &cx.next_id),
        },
        signals: Signals::of_lane(cx.config, lane),
    }
}

/// The hunter spec's description, else the fixer spec's lane title, else `Lane <LANE>`.
fn description(lane: &str, cx: &Context<'_>) -> String {
    cx.hunter
        .and_then(|s| s.description.clone())
        .or_else(|| cx.fixer.and_then(AgentSpec::lane_title))
        .unwrap_or_else(|| format!("Lane {lane}"))
}

/// Where to look: the hunter spec's `paths:`, else every affected path of the lane's issues.
fn scope_paths(lane: &str, cx: &Context<'_>) -> Vec<String> {
    let mut paths: Vec<String> = cx.hunter.map(|s| s.paths.clone()).unwrap_or_default();
    if paths.is_empty() {
        for i in cx.issues.iter().filter(|i| i.lane() == lane) {
            extend_unique(&mut paths, &i.meta.affected_paths);
        }
    }
    paths
}

/// Every OPEN issue of every lane, as a hunter needs to know it to avoid duplicates.
fn open_issues(issues: &[Issue]) -> Vec<Known> {
    issues
        .iter()
        .filter(|i| i.status() == Status::Open)
        .map(|i| Known {
            id: i.id().to_string(),
            lane: i.lane().to_string(),
            title: i.title.clone(),
            path: slash(&i.path),
            affected_paths: i.meta.affected_paths.clone(),
            checks: i.checks().into_iter().map(|c| c.command).collect(),
        })
        .collect()
}

/// The hunter spec, the catalog and the lane's issue folder.
fn inputs(lane: &str, issue_dir: &str, cx: &Context<'_>) -> Vec<Input> {
    cx.hunter
        .map(|s| Input {
            path: slash(&s.path),
            kind: "agent_spec".into(),
            description: "Hunter spec (also the start of the prompt)".into(),
        })
        .into_iter()
        .chain(std::iter::once(Input {
            path: slash(&cx.config.catalog),
            kind: "catalog".into(),
            description: "The issue catalog: what is already known".into(),
        }))
        .chain(std::iter::once(Input {
            path: issue_dir.to_string(),
            kind: "issue_folder".into(),
            description: format!("Lane {lane}'s issue files; new findings go here"),
        }))
        .collect()
}

/// What makes a new issue file an accepted finding.
fn acceptance_criteria(lane: &str, issue_dir: &str) -> Vec<Criterion> {
    vec![
        Criterion {
            criterion: format!("A new file {issue_dir}/<ID>.md in the issue template's shape, lane {lane}, status OPEN"),
            testable: true,
            verification_method: "git lanes validate".into(),
        },
        Criterion {
            criterion: "At least one verification command, and every one FAILS on the code as it is now (the problem reproduces)".into(),
            testable: true,
            verification_method: "git-lanes runs each check in a clean export of the run's base commit".into(),
        },
        Criterion {
            criterion:
                "Not a duplicate: no check command shared with an existing issue, no same affected paths with a near-identical title".into(),
            testable: true,
            verification_method: "git-lanes compares every finding with `hunt.open_issues` and the other findings".into(),
        },
        Criterion {
            criterion: "Verification commands only inspect the worktree: no deleting outside it, no network, no sudo".into(),
            testable: true,
            verification_method: "git lanes validate".into(),
        },
    ]
}

/// What a hunter may not do.
fn prohibited(issue_dir: &str, cx: &Context<'_>) -> Vec<Prohibited> {
    vec![
        Prohibited {
            action: "Change code, configuration or documentation: document problems, never fix them".into(),
            reason: "Everything but new issue files of this lane is dropped from a hunt".into(),
        },
        Prohibited {
            action: format!("Edit or delete existing issue files, or write outside {issue_dir}/"),
            reason: "A hunter adds new issues only; other lanes own their folders".into(),
        },
        Prohibited {
            action: format!("Edit the catalog ({})", slash(&cx.config.catalog)),
            reason: "git-lanes regenerates it after integrating the accepted findings".into(),
        },
        Prohibited {
            action: format!(
                "Edit anything under {}/ except writing your own signal files",
                crate::planning::workorder::logbook_dir(cx.config)
            ),
            reason: "Run state and reports are written by git-lanes".into(),
        },
        Prohibited {
            action: "File a problem whose check passes today, or one without evidence".into(),
            reason: "A finding counts only when its own check fails on the code as it is".into(),
        },
        Prohibited {
            action: "Push, fetch, or move branches other than your lane branch".into(),
            reason: "Integration is done by git-lanes".into(),
        },
    ]
}

impl HuntOrder {
    /// The YAML the worker reads (`LANES_WORK_ORDER`).
    pub fn to_yaml(&self) -> Result<String> {
        crate::files::yaml::to_yaml(self, "work order")
    }
}

/// The issue template a hunter fills in (the seed hunter's, with git-lanes' check rule).
pub fn template(lane: &str, id: &str) -> String {
    format!(
        "---\nissue_id: \"{id}\"\nlane: \"{lane}\"\nseverity: 5\nseverity_level: \"MEDIUM\"\ntype_tags: [\"<Tag>\"]\nstatus: \"OPEN\"\naffected_paths:\n  - \"<path>\"\ndepends_on: []\nblocks: []\nrelated: []\n---\n\n# [LANE {lane}] Issue {id}: <Title>\n\n## Problem Description\n\n- **What is wrong:** <specific problem>\n- **Expected:** <what should be>\n- **Actual:** <what is>\n\n## Evidence\n\n- **Source:** `<file_path>:<line>`\n  > \"<quoted snippet>\"\n\n## Fix Requirements (DO NOT IMPLEMENT)\n\n- [ ] <required change>\n\n## Verification Commands\n\n```bash\n# Check 1: <what must hold once fixed>\n# Replace these comments with one command per line that fails now and passes once fixed,\n# e.g. grep -q \"x\" <path> && echo \"PASS\" || echo \"FAIL\"\n```\n\n## Dedup Verification\n\n- Search terms: \"<term>\"\n- Result: No duplicates found\n\n- **Status:** OPEN\n"
    )
}

/// The id a lane's next new issue gets: one more than the highest number among `taken` ids of
/// the lane (same zero padding, at least 2 digits), skipping any id in `taken`.
pub fn next_free_id(lane: &str, taken: &HashSet<String>, start_after: u64, width: usize) -> (String, u64) {
    let mut n = start_after + 1;
    loop {
        let id = format!("{lane}-{n:0width$}");
        if !taken.contains(&id) {
            return (id, n);
        }
        n += 1;
    }
}

/// The highest number and widest zero padding (at least 2) among the lane's ids.
pub fn numbering(lane: &str, ids: impl Iterator<Item = String>) -> (u64, usize) {
    let prefix = format!("{lane}-");
    let (mut max, mut width) = (0, 2);
    for id in ids.filter(|i| i.starts_with(&prefix)) {
        if let Some((n, w)) = crate::files::names::trailing_number(&id) {
            max = max.max(n);
            width = width.max(w);
        }
    }
    (max, width)
}
