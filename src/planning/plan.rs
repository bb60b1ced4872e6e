//! Issue selection: which issues each lane works on in a run, in which order, and why the others
//! wait (docs/design.md#plan). Start at [`plan`]; [`complexity`] rates one issue.
//!
//! # Design note: the selection rules
//!
//! A lane's queue is its OPEN issues in catalog order (the catalog is the queue, first row oldest),
//! then OPEN issues the catalog does not list yet, in natural id order. Walking the queue:
//!
//! - an issue whose `depends_on` are not all closed (RESOLVED or WONTFIX) is **blocked**, listing
//!   the ids it waits on (an unknown id counts as not closed). An issue on a dependency cycle is
//!   blocked with the reason "dependency cycle" and is never followed round the loop. Blocked
//!   issues use no budget;
//! - the budget is `max_issues`: `--max-issues`, else the lane spec's `max_issues`, else
//!   `lanes.yaml` `max_issues`, else 5;
//! - an EXTREME issue first in line is assigned alone and ends the batch; one that comes later
//!   ends the batch before it (it waits for a run of its own);
//! - after the first HIGH issue at most 2 more are assigned (a second HIGH does not extend that);
//! - everything after the batch ended is **deferred** with the reason.
#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::collections::{HashMap, HashSet};
use std::fmt;

use serde::Serialize;

use crate::base::error::{Error, Result};
use crate::files::catalog::Catalog;
use crate::files::issue::Issue;
use crate::files::workspace::Workspace;

/// Default issue budget per lane (docs/design.md#plan).
pub const DEFAULT_MAX_ISSUES: usize = 5;

/// How much work an issue is, from its affected paths and wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Complexity {
    /// 0–2 affected paths.
    Low,
    /// 3–5 affected paths.
    Medium,
    /// 6–10 affected paths.
    High,
    /// More than 10 affected paths, or architectural wording.
    Extreme,
}

impl Complexity {
    pub fn as_str(self) -> &'static str {
        match self {
            Complexity::Low => "LOW",
            Complexity::Medium => "MEDIUM",
            Complexity::High => "HIGH",
            Complexity::Extreme => "EXTREME",
        }
    }
}

impl fmt::Display for Complexity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The complexity of `issue` and why (`"3 affected paths"`, `"mentions \"refactoring\""`).
pub fn complexity(issue: &Issue) -> (Complexity, String) {
    let n = issue.meta.affected_paths.len();
    let by_size = match n {
        0..=2 => Complexity::Low,
        3..=5 => Complexity::Medium,
        6..=10 => Complexity::High,
        _ => Complexity::Extreme,
    };
    let paths = format!("{n} affected path{}", if n == 1 { "" } else { "s" });
    if by_size == Complexity::Extreme {
        return (by_size, paths);
    }
    if let Some(word) = extreme_word(issue) {
        return (Complexity::Extreme, format!("mentions \"{word}\""));
    }
    (by_size, paths)
}

/// The first EXTREME word in the title or the body's prose.
fn extreme_word(issue: &Issue) -> Option<String> {
    if let Some(m) = crate::files::issue::EXTREME_WORDS.find(&issue.title) {
        return Some(m.as_str().to_string());
    }
    issue.prose_extreme().map(str::to_string)
}

/// An issue a lane is assigned, in work order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Assigned {
    pub id: String,
    pub title: String,
    pub complexity: Complexity,
    /// Why it has that complexity.
    pub reason: String,
}

/// An OPEN issue that cannot be worked on yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Blocked {
    pub id: String,
    /// Dependencies not yet closed (unknown ids included).
    pub waiting_on: Vec<String>,
    /// `"dependency cycle"` when the issue is on one, else `"waiting on dependencies"`.
    pub reason: String,
}

/// A ready issue left for a later run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Deferred {
    pub id: String,
    /// `"over budget (max 5)"`, `"batch ended by HIGH issue E-03"`, ….
    pub reason: String,
}

/// One lane's share of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct LanePlan {
    pub lane: String,
    /// The budget that applied.
    pub max_issues: usize,
    pub issues: Vec<Assigned>,
    pub blocked: Vec<Blocked>,
    pub deferred: Vec<Deferred>,
}

impl LanePlan {
    /// Nothing to do: the run reports the lane and skips it.
    pub fn is_idle(&self) -> bool {
        self.issues.is_empty()
    }
}

/// What the user asked for (flags), merged with specs and `lanes.yaml` by [`plan`].
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// Lanes to plan; empty means every lane.
    pub lanes: Vec<String>,
    /// `--max-issues`.
    pub max_issues: Option<usize>,
}

/// Plan every lane (or those in `opts.lanes`, in the order given). `catalog` supplies the queue
/// order; without one, queues are in natural id order.
pub fn plan(ws: &Workspace, catalog: Option<&Catalog>, opts: &PlanOptions) -> Result<Vec<LanePlan>> {
    let all = ws.lanes(&catalog.map(Catalog::lanes).unwrap_or_default());
    let lanes = if opts.lanes.is_empty() {
        all
    } else {
        for l in &opts.lanes {
            if !all.contains(l) {
                return Err(Error::usage(
                    format!("unknown lane `{l}`"),
                    Some(format!("known lanes: {}", if all.is_empty() { "none".into() } else { all.join(", ") })),
                ));
            }
        }
        opts.lanes.clone()
    };
    let by_id = ws.by_id();
    let on_cycle: HashSet<String> = crate::files::validate::dependency_cycles(&ws.issues).into_iter().flatten().collect();
    Ok(lanes
        .into_iter()
        .map(|lane| {
            let max = opts.max_issues.or_else(|| ws.specs.get(&lane).and_then(|s| s.max_issues)).unwrap_or(ws.config.max_issues);
            let queue = queue(ws, catalog, &lane, &by_id);
            select(lane, max, &queue, &by_id, &on_cycle)
        })
        .collect())
}

/// A lane's OPEN issues in queue order: catalog rows first, then the rest in natural id order.
pub fn queue<'a>(ws: &'a Workspace, catalog: Option<&Catalog>, lane: &str, by_id: &HashMap<&str, &'a Issue>) -> Vec<&'a Issue> {
    let ready = |i: &&Issue| i.lane() == lane && !i.status().is_closed();
    let mut seen = HashSet::new();
    let mut out: Vec<&Issue> = Vec::new();
    for id in catalog.map(|c| c.queue(lane)).unwrap_or(&[]) {
        if let Some(i) = by_id.get(id.as_str()).copied().filter(ready)
            && seen.insert(i.id())
        {
            out.push(i);
        }
    }
    // `ws.issues` is in lane, then natural id order already.
    out.extend(ws.issues.iter().filter(ready).filter(|i| !seen.contains(i.id())));
    out
}

/// Walk one lane's queue (see the module's design note).
fn select(lane: String, max: usize, queue: &[&Issue], by_id: &HashMap<&str, &Issue>, on_cycle: &HashSet<String>) -> LanePlan {
    let mut p = LanePlan { lane, max_issues: max, issues: vec![], blocked: vec![], deferred: vec![] };
    // Why the batch is closed, once it is.
    let mut ended: Option<String> = None;
    // After a HIGH issue: the batch size at which it ends.
    let mut high_limit: Option<(usize, String)> = None;
    for issue in queue {
        let waiting_on: Vec<String> =
            issue.meta.depends_on.iter().filter(|d| by_id.get(d.as_str()).is_none_or(|dep| !dep.status().is_closed())).cloned().collect();
        if !waiting_on.is_empty() {
            let reason = if on_cycle.contains(issue.id()) { "dependency cycle" } else { "waiting on dependencies" };
            p.blocked.push(Blocked { id: issue.id().to_string(), waiting_on, reason: reason.into() });
            continue;
        }
        if ended.is_none() && p.issues.len() >= max {
            ended = Some(format!("over budget (max {max})"));
        }
        if let Some(why) = &ended {
            p.deferred.push(Deferred { id: issue.id().to_string(), reason: why.clone() });
            continue;
        }
        let (c, reason) = complexity(issue);
        if c == Complexity::Extreme && !p.issues.is_empty() {
            let why = format!("batch ended before EXTREME issue {} (it needs a run of its own)", issue.id());
            p.deferred.push(Deferred { id: issue.id().to_string(), reason: why.clone() });
            ended = Some(why);
            continue;
        }
        p.issues.push(Assigned { id: issue.id().to_string(), title: issue.title.clone(), complexity: c, reason });
        if c == Complexity::Extreme {
            ended = Some(format!("EXTREME issue {} is assigned alone", issue.id()));
        } else if c == Complexity::High && high_limit.is_none() {
            high_limit = Some((p.issues.len() + 2, format!("at most 2 more after HIGH issue {}", issue.id())));
        }
        if let Some((limit, why)) = &high_limit
            && p.issues.len() >= *limit
            && ended.is_none()
        {
            ended = Some(why.clone());
        }
    }
    p
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::files::config::Config;
    pub(crate) use crate::files::issue::testing::issue;

    pub(crate) fn ws(issues: Vec<Issue>) -> Workspace {
        let mut issues = issues;
        issues.sort_by(|a, b| crate::files::names::natural_cmp(a.id(), b.id()));
        Workspace {
            root: PathBuf::from("/nonexistent"),
            config: Config::defaults(),
            lane_dirs: issues.iter().map(|i| i.lane().to_string()).collect::<BTreeSet<_>>(),
            issues,
            specs: BTreeMap::new(),
            problems: vec![],
        }
    }

    fn plan_of(issues: Vec<Issue>, max: Option<usize>) -> LanePlan {
        plan(&ws(issues), None, &PlanOptions { lanes: vec![], max_issues: max }).unwrap().remove(0)
    }

    fn ids(p: &LanePlan) -> Vec<&str> {
        p.issues.iter().map(|a| a.id.as_str()).collect()
    }

    #[test]
    fn complexity_from_paths() {
        let c = |n| complexity(&issue("E-1", n, "OPEN", &[], "")).0;
        assert_eq!(c(0), Complexity::Low);
        assert_eq!(c(2), Complexity::Low);
        assert_eq!(c(3), Complexity::Medium);
        assert_eq!(c(5), Complexity::Medium);
        assert_eq!(c(6), Complexity::High);
        assert_eq!(c(10), Complexity::High);
        assert_eq!(c(11), Complexity::Extreme);
    }

    #[test]
    fn complexity_from_words() {
        let c = |body: &str| complexity(&issue("E-1", 1, "OPEN", &[], body));
        assert_eq!(c("This needs an Architectural change.").0, Complexity::Extreme);
        assert_eq!(c("We are REFACTORING the module").1, "mentions \"REFACTORING\"");
        assert_eq!(c("migrate the table").0, Complexity::Extreme);
        assert_eq!(c("redesigned flow").0, Complexity::Extreme);
        // Not whole words, the noun `migration`, and words inside code blocks do not count.
        assert_eq!(c("prerefactor antimigrate").0, Complexity::Low);
        assert_eq!(c("a schema migration is missing").0, Complexity::Low);
        assert_eq!(c("```bash\ndb/migrate.sh --check\n```").0, Complexity::Low);
        let mut i = issue("E-1", 1, "OPEN", &[], "");
        i.title = "Refactor the parser".into();
        assert_eq!(complexity(&i).0, Complexity::Extreme);
    }

    #[test]
    fn budget_and_precedence() {
        let five: Vec<Issue> = (1..=7).map(|n| issue(&format!("E-{n}"), 1, "OPEN", &[], "")).collect();
        let p = plan_of(five.clone(), None);
        assert_eq!(ids(&p), ["E-1", "E-2", "E-3", "E-4", "E-5"]);
        assert_eq!(p.deferred.len(), 2);
        assert_eq!(p.deferred[0].reason, "over budget (max 5)");
        assert_eq!(ids(&plan_of(five.clone(), Some(2))), ["E-1", "E-2"]);
        // Spec beats lanes.yaml, the flag beats the spec.
        let mut w = ws(five);
        w.config.max_issues = 4;
        let spec = crate::files::spec::AgentSpec::parse(
            Path::new("IF-Lane-E.md"),
            "E",
            b"---\nname: IF-Lane-E\nmax_issues: 3\n---\nbody\n".to_vec(),
        )
        .unwrap();
        let opts = |m| PlanOptions { lanes: vec![], max_issues: m };
        assert_eq!(plan(&w, None, &opts(None)).unwrap()[0].issues.len(), 4);
        w.specs.insert("E".into(), spec);
        assert_eq!(plan(&w, None, &opts(None)).unwrap()[0].issues.len(), 3);
        assert_eq!(plan(&w, None, &opts(Some(6))).unwrap()[0].issues.len(), 6);
    }

    #[test]
    fn closed_issues_are_skipped_and_natural_order_applies() {
        let p =
            plan_of(vec![issue("E-10", 1, "OPEN", &[], ""), issue("E-2", 1, "OPEN", &[], ""), issue("E-1", 1, "RESOLVED", &[], "")], None);
        assert_eq!(ids(&p), ["E-2", "E-10"]);
    }

    #[test]
    fn catalog_order_is_the_queue() {
        let w = ws(vec![issue("E-1", 1, "OPEN", &[], ""), issue("E-2", 1, "OPEN", &[], ""), issue("E-3", 1, "OPEN", &[], "")]);
        let cat = Catalog::parse(
            Path::new("SAF_ISSUE_CATALOG.md"),
            b"## Open Issues by Lane\n\n### Lane E - x\n\n| ID | Title | Severity | Type Tags | Status |\n|----|-------|----------|-----------|--------|\n| E-3 | t | 5/10 MEDIUM | | OPEN |\n| E-1 | t | 5/10 MEDIUM | | OPEN |\n<!-- LANE_E_ISSUES -->\n"
                .to_vec(),
        )
        .unwrap();
        let p = plan(&w, Some(&cat), &PlanOptions::default()).unwrap().remove(0);
        assert_eq!(ids(&p), ["E-3", "E-1", "E-2"]);
    }

    #[test]
    fn blocked_until_dependencies_close() {
        let p = plan_of(
            vec![
                issue("E-1", 1, "OPEN", &[], ""),
                issue("E-2", 1, "OPEN", &["E-1", "E-3"], ""),
                issue("E-3", 1, "WONTFIX", &[], ""),
                issue("E-4", 1, "OPEN", &["E-3"], ""),
                issue("E-5", 1, "OPEN", &["X-9"], ""),
            ],
            None,
        );
        assert_eq!(ids(&p), ["E-1", "E-4"]);
        assert_eq!(
            p.blocked,
            [
                Blocked { id: "E-2".into(), waiting_on: vec!["E-1".into()], reason: "waiting on dependencies".into() },
                Blocked { id: "E-5".into(), waiting_on: vec!["X-9".into()], reason: "waiting on dependencies".into() },
            ]
        );
    }

    #[test]
    fn dependency_cycle_is_blocked_not_looped_on() {
        let p = plan_of(
            vec![
                issue("E-1", 1, "OPEN", &["E-2"], ""),
                issue("E-2", 1, "OPEN", &["E-1"], ""),
                issue("E-3", 1, "OPEN", &["E-3"], ""),
                issue("E-4", 1, "OPEN", &[], ""),
            ],
            None,
        );
        assert_eq!(ids(&p), ["E-4"]);
        assert_eq!(p.blocked.len(), 3);
        assert!(p.blocked.iter().all(|b| b.reason == "dependency cycle"), "{:?}", p.blocked);
    }

    #[test]
    fn extreme_first_is_assigned_alone() {
        let p = plan_of(vec![issue("E-1", 11, "OPEN", &[], ""), issue("E-2", 1, "OPEN", &[], "")], None);
        assert_eq!(ids(&p), ["E-1"]);
        assert_eq!(p.deferred[0].reason, "EXTREME issue E-1 is assigned alone");
    }

    #[test]
    fn extreme_later_ends_the_batch_before_it() {
        let p = plan_of(
            vec![issue("E-1", 1, "OPEN", &[], ""), issue("E-2", 1, "OPEN", &[], "refactor it"), issue("E-3", 1, "OPEN", &[], "")],
            None,
        );
        assert_eq!(ids(&p), ["E-1"]);
        assert_eq!(p.deferred.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(), ["E-2", "E-3"]);
        assert!(p.deferred[0].reason.contains("before EXTREME issue E-2"));
    }

    #[test]
    fn at_most_two_more_after_high() {
        let p = plan_of((1..=6).map(|n| issue(&format!("E-{n}"), if n == 2 || n == 3 { 7 } else { 1 }, "OPEN", &[], "")).collect(), None);
        assert_eq!(ids(&p), ["E-1", "E-2", "E-3", "E-4"]);
        assert_eq!(p.deferred[0].reason, "at most 2 more after HIGH issue E-2");
        let p = plan_of((1..=6).map(|n| issue(&format!("E-{n}"), if n == 1 { 8 } else { 1 }, "OPEN", &[], "")).collect(), None);
        assert_eq!(ids(&p), ["E-1", "E-2", "E-3"]);
    }

    #[test]
    fn blocked_issues_use_no_budget_and_idle_lanes_are_reported() {
        let p = plan_of(vec![issue("E-1", 1, "OPEN", &["E-2"], ""), issue("E-2", 1, "OPEN", &["E-1"], "")], None);
        assert!(p.is_idle());
        assert_eq!(p.blocked.len(), 2);
        let w = ws(vec![issue("E-1", 1, "OPEN", &[], ""), issue("M-1", 1, "RESOLVED", &[], "")]);
        let all = plan(&w, None, &PlanOptions::default()).unwrap();
        assert_eq!(all.iter().map(|p| (p.lane.as_str(), p.is_idle())).collect::<Vec<_>>(), [("E", false), ("M", true)]);
        assert!(plan(&w, None, &PlanOptions { lanes: vec!["Q".into()], max_issues: None }).is_err());
    }
}
