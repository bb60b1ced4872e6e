//! The findings judge: which of a hunter's new issue files count (docs/design.md#hunting).
//!
//! A hunter's claimed finding deserves the same distrust as a fixer's claimed fix. From the diff
//! of a hunter's lane branch against the run's base ([`lane_changes`]) only issue files the hunter
//! wrote in its own lane folder are candidates (a rewritten existing file counts as a new text
//! filed under a taken id: the original is kept); everything else it changed (code, other lanes'
//! files, deletions, the catalog, the LogBook) is dropped and listed. [`judge`] then
//! accepts a candidate only when, in this order:
//! 1. it parses as an issue file of the hunter's lane, with an id, status OPEN and ≥ 1 check;
//! 2. no check is flagged dangerous by [`crate::files::safety::inspect`] (such a check is never run);
//! 3. it is not a duplicate of an existing issue ([`same_problem`]: a shared normalised check
//!    command, or the same affected paths with a near-identical title);
//! 4. every check **fails** on the base commit, run in a clean export of it outside the
//!    repository (as the dry run does) with the verify rule — a check that passes means the
//!    problem does not reproduce; one that does not finish proves nothing;
//! 5. it is not a duplicate of a finding accepted before it in this hunt (lanes in order, files
//!    in natural order), and its lane's `--max-findings` quota is not used up;
//! 6. its `depends_on`/`blocks`/`related` name existing issues or accepted findings of its own
//!    hunter (repeated until nothing changes, since rejecting one can strand another).
//!
//! Every rejection carries its reason.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use crate::base::error::{Error, Result};
use crate::files::config::Config;
use crate::files::issue::{Issue, Status};
use crate::judge::verify::{self, Reason, VerifyOptions};

/// A new issue file a hunter added in its lane folder, as committed on its branch.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub lane: String,
    /// Repository-relative path the hunter wrote (`issues/E/E-04.md`).
    pub path: String,
    pub bytes: Vec<u8>,
}

/// Something a hunter changed that is never integrated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dropped {
    pub lane: String,
    pub path: String,
    /// `added`, `modified`, `deleted`, `changed`.
    pub change: String,
    pub why: String,
}

/// A candidate the judge refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejected {
    pub lane: String,
    /// The file the hunter wrote.
    pub path: String,
    /// The id and title it gave, when the file parsed.
    pub filed_as: Option<String>,
    pub title: Option<String>,
    /// `malformed`, `invalid`, `no_checks`, `dangerous`, `duplicate`, `does_not_reproduce`,
    /// `over_quota`, `dependency` (stable, for JSON).
    pub kind: String,
    pub reason: String,
}

/// How one check of an accepted finding failed on the base commit (its evidence).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reproduction {
    pub command: String,
    /// How it ended and why it counts as failing (`exit 0, printed FAIL`).
    pub result: String,
    /// The first lines of its output.
    pub output: String,
}

/// A candidate the judge accepted.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub lane: String,
    pub path: String,
    pub issue: Issue,
    pub reproduced: Vec<Reproduction>,
}

/// The judge's result for a whole hunt, in deterministic order.
#[derive(Debug, Clone, Default)]
pub struct Judged {
    pub accepted: Vec<Accepted>,
    pub rejected: Vec<Rejected>,
    pub dropped: Vec<Dropped>,
}

/// Split what a lane changed between `base` and `tip` into candidates (new issue files of its
/// own lane) and dropped changes, both in natural path order.
pub fn lane_changes(git: &git2::Repository, base: &str, tip: &str, lane: &str, config: &Config) -> Result<(Vec<Candidate>, Vec<Dropped>)> {
    let tree = |rev: &str| -> Result<git2::Tree<'_>> {
        let oid = git2::Oid::from_str(rev).map_err(|e| Error::git(format!("bad commit id {rev}"), e))?;
        git.find_commit(oid).and_then(|c| c.tree()).map_err(|e| Error::git(format!("could not read the tree of commit {rev}"), e))
    };
    let (old, new) = (tree(base)?, tree(tip)?);
    let diff = git.diff_tree_to_tree(Some(&old), Some(&new), None).map_err(|e| Error::git(format!("could not diff lane {lane}"), e))?;
    let lane_dir = config.issues.join(lane);
    let mut candidates = Vec::new();
    let mut dropped = Vec::new();
    for delta in diff.deltas() {
        let file = if delta.status() == git2::Delta::Deleted { delta.old_file() } else { delta.new_file() };
        let Some(rel) = file.path().map(Path::to_path_buf) else { continue };
        let path = rel.to_string_lossy().replace('\\', "/");
        let change = match delta.status() {
            git2::Delta::Added => "added",
            git2::Delta::Deleted => "deleted",
            git2::Delta::Modified => "modified",
            _ => "changed",
        };
        let is_issue_name = rel.extension().is_some_and(|e| e == "md")
            && rel.file_name().is_some_and(|n| !n.to_string_lossy().starts_with('.'))
            && rel.parent() == Some(lane_dir.as_path());
        let regular_issue_file = is_issue_name && file.mode() == git2::FileMode::Blob;
        if regular_issue_file && matches!(delta.status(), git2::Delta::Added | git2::Delta::Modified) {
            let blob = git.find_blob(file.id()).map_err(|e| Error::git(format!("could not read {path}"), e))?;
            candidates.push(Candidate { lane: lane.to_string(), path: path.clone(), bytes: blob.content().to_vec() });
            // An existing issue file the hunter rewrote: the original is kept, and what the hunter
            // wrote is judged like any new file (a hunter that numbered a finding with a taken id
            // overwrites that issue's file).
            if delta.status() == git2::Delta::Modified {
                let why = "changes an existing issue file: the original is kept, and the new text was judged as a finding".to_string();
                dropped.push(Dropped { lane: lane.to_string(), path, change: change.to_string(), why });
            }
            continue;
        }
        let why = why_dropped(&rel, is_issue_name, delta.status() == git2::Delta::Added, lane, config);
        dropped.push(Dropped { lane: lane.to_string(), path, change: change.to_string(), why });
    }
    candidates.sort_by(|a, b| crate::files::names::natural_cmp(&a.path, &b.path));
    dropped.sort_by(|a, b| crate::files::names::natural_cmp(&a.path, &b.path));
    Ok((candidates, dropped))
}

/// Why a lane's change is not a finding: by where it is and what it is.
fn why_dropped(rel: &Path, is_issue_name: bool, added: bool, lane: &str, config: &Config) -> String {
    let lane_dir = config.issues.join(lane);
    let logbook = config.state.components().next().map(|c| PathBuf::from(c.as_os_str())).unwrap_or_else(|| PathBuf::from("LogBook"));
    if is_issue_name && added {
        "not a regular file: a finding is a plain issue file".to_string()
    } else if rel.starts_with(&lane_dir) {
        if is_issue_name {
            "changes an existing issue file: a hunter only adds new ones".to_string()
        } else {
            format!("not an issue file of lane {lane} (issue files are `{}/<ID>.md`)", lane_dir.display())
        }
    } else if rel.starts_with(&config.issues) {
        "another lane's issue folder: a hunter files issues of its own lane only".to_string()
    } else if rel == config.catalog {
        "the catalog: git-lanes regenerates it from the issue files".to_string()
    } else if rel.starts_with(&logbook) {
        format!("the {}: run state, reports and evidence are written by git-lanes", logbook.display())
    } else {
        "not an issue file: a hunter files issues, it does not change the code".to_string()
    }
}

/// What the judge needs besides the candidates.
pub struct JudgeContext<'a> {
    /// The issues as they are on the base commit.
    pub existing: &'a [Issue],
    /// A clean export of the base commit, where the checks run.
    pub export: &'a Path,
    pub verify: &'a VerifyOptions,
    /// The short base commit id, for reasons.
    pub base_label: &'a str,
    /// Findings accepted per lane at most (lanes not listed: no limit).
    pub quotas: &'a BTreeMap<String, usize>,
}

/// Judge every candidate (see the module doc). `candidates` are in lane order, then path order.
pub fn judge(candidates: Vec<Candidate>, cx: &JudgeContext<'_>) -> (Vec<Accepted>, Vec<Rejected>) {
    let mut rejected = Vec::new();
    // 1–3: the file itself, its checks' safety, duplicates of existing issues.
    let mut valid: Vec<(Candidate, Issue)> = Vec::new();
    for c in candidates {
        match inspect(&c) {
            Err((kind, reason)) => rejected.push(reject(&c, None, kind, reason)),
            Ok(issue) => match cx.existing.iter().find_map(|e| same_problem(&issue, e).map(|why| (e, why))) {
                Some((e, why)) => {
                    let status = if e.status() == Status::Open { String::new() } else { format!(", {}", e.status().as_str()) };
                    let reason = format!("duplicate of {} ({}{status}): {why}", e.id(), e.title);
                    rejected.push(reject(&c, Some(&issue), "duplicate", reason));
                }
                None => valid.push((c, issue)),
            },
        }
    }
    // 4: every check must fail on the base commit (findings judged in parallel; one finding's
    // checks in order).
    let runs: Vec<std::result::Result<Vec<Reproduction>, String>> =
        valid.par_iter().map(|(_, issue)| reproduce(issue, cx.export, cx.verify, cx.base_label)).collect();
    let mut accepted: Vec<Accepted> = Vec::new();
    let mut per_lane: HashMap<String, usize> = HashMap::new();
    for ((c, issue), run) in valid.into_iter().zip(runs) {
        let reproduced = match run {
            Err(reason) => {
                rejected.push(reject(&c, Some(&issue), "does_not_reproduce", reason));
                continue;
            }
            Ok(r) => r,
        };
        // 5: siblings accepted before it, then the lane's quota.
        if let Some((a, why)) = accepted.iter().find_map(|a| same_problem(&issue, &a.issue).map(|why| (a, why))) {
            let reason = format!("duplicate of finding `{}` (lane {}) filed in this hunt: {why}", a.path, a.lane);
            rejected.push(reject(&c, Some(&issue), "duplicate", reason));
            continue;
        }
        let n = per_lane.entry(c.lane.clone()).or_default();
        if let Some(max) = cx.quotas.get(&c.lane)
            && *n >= *max
        {
            let reason = format!("over the lane's limit of {max} finding(s) per hunt (`--max-findings`)");
            rejected.push(reject(&c, Some(&issue), "over_quota", reason));
            continue;
        }
        *n += 1;
        accepted.push(Accepted { lane: c.lane, path: c.path, issue, reproduced });
    }
    // 6: references must resolve.
    let known: HashSet<&str> = cx.existing.iter().map(Issue::id).collect();
    settle_references(&mut accepted, &mut rejected, &known);
    rejected.sort_by(|a, b| {
        crate::files::names::natural_cmp(&a.lane, &b.lane).then_with(|| crate::files::names::natural_cmp(&a.path, &b.path))
    });
    (accepted, rejected)
}

/// Step 6: refuse accepted findings whose `depends_on`/`blocks`/`related` name neither a `known`
/// issue nor another accepted finding of the same lane; repeated until stable, since refusing one
/// can strand another.
pub fn settle_references(accepted: &mut Vec<Accepted>, rejected: &mut Vec<Rejected>, known: &HashSet<&str>) {
    loop {
        let bad = accepted.iter().position(|a| unresolved_reference(a, accepted, known).is_some());
        let Some(k) = bad else { break };
        let a = accepted.remove(k);
        let (key, name) = unresolved_reference(&a, accepted, known).unwrap_or_default();
        let reason = format!("`{key}` names `{name}`, which is neither an existing issue nor an accepted finding of this lane's hunter");
        rejected.push(Rejected {
            lane: a.lane.clone(),
            path: a.path.clone(),
            filed_as: Some(a.issue.id().to_string()),
            title: Some(a.issue.title.clone()),
            kind: "dependency".into(),
            reason,
        });
    }
}

/// Refuse accepted findings that repeat an issue filed on the user's branch while the hunters
/// ran (`meanwhile`): such an issue is known by the time the findings land.
pub fn drop_meanwhile(accepted: &mut Vec<Accepted>, rejected: &mut Vec<Rejected>, existing: &[Issue], meanwhile: &[Issue]) {
    accepted.retain(|a| match meanwhile.iter().find_map(|m| same_problem(&a.issue, m).map(|why| (m, why))) {
        None => true,
        Some((m, why)) => {
            rejected.push(Rejected {
                lane: a.lane.clone(),
                path: a.path.clone(),
                filed_as: Some(a.issue.id().to_string()),
                title: Some(a.issue.title.clone()),
                kind: "duplicate".into(),
                reason: format!("duplicate of {} ({}), filed on your branch during the hunt: {why}", m.id(), m.title),
            });
            false
        }
    });
    let mut known: HashSet<&str> = existing.iter().map(Issue::id).collect();
    known.extend(meanwhile.iter().map(Issue::id));
    settle_references(accepted, rejected, &known);
    rejected.sort_by(|a, b| {
        crate::files::names::natural_cmp(&a.lane, &b.lane).then_with(|| crate::files::names::natural_cmp(&a.path, &b.path))
    });
}

/// The issue files (`<issues>/<LANE>/<ID>.md`) in the tree of `commit` that parse.
pub fn issues_at(git: &git2::Repository, commit: git2::Oid, issues: &Path) -> Vec<Issue> {
    let mut out = Vec::new();
    let Some(dir) = git.find_commit(commit).and_then(|c| c.tree()).ok().and_then(|t| t.get_path(issues).ok()) else { return out };
    let Some(dir) = git.find_tree(dir.id()).ok() else { return out };
    for lane in dir.iter() {
        let (Some(name), Ok(sub)) = (lane.name(), git.find_tree(lane.id())) else { continue };
        for f in sub.iter() {
            let Some(fname) = f.name().filter(|n| n.ends_with(".md") && !n.starts_with('.')) else { continue };
            let Ok(blob) = git.find_blob(f.id()) else { continue };
            if let Ok(i) = Issue::parse(&issues.join(name).join(fname), blob.content().to_vec()) {
                out.push(i);
            }
        }
    }
    out
}

fn reject(c: &Candidate, issue: Option<&Issue>, kind: &str, reason: String) -> Rejected {
    Rejected {
        lane: c.lane.clone(),
        path: c.path.clone(),
        filed_as: issue.map(|i| i.id().to_string()),
        title: issue.map(|i| i.title.clone()),
        kind: kind.into(),
        reason,
    }
}

/// Steps 1–2 for one candidate: `Err((kind, reason))` when it is refused.
fn inspect(c: &Candidate) -> std::result::Result<Issue, (&'static str, String)> {
    let issue = Issue::parse(Path::new(&c.path), c.bytes.clone()).map_err(|p| {
        let at = if p.line > 0 { format!(" (line {})", p.line) } else { String::new() };
        ("malformed", format!("not a valid issue file: {}{at}", p.message))
    })?;
    if issue.lane() != c.lane {
        return Err(("invalid", format!("its frontmatter says lane `{}`, but the hunter of lane {} filed it", issue.lane(), c.lane)));
    }
    if let Err(m) = crate::files::names::check_id(issue.id()) {
        return Err(("invalid", format!("issue_id `{}`: {m}", issue.id())));
    }
    if issue.status() != Status::Open {
        return Err(("invalid", format!("status is {}: a finding is an OPEN issue", issue.status().as_str())));
    }
    let checks = issue.checks();
    if checks.is_empty() {
        return Err(("no_checks", "no verification commands: a finding needs a check that fails while the problem exists".into()));
    }
    for check in &checks {
        if let Some(f) = crate::files::safety::inspect(&check.command).into_iter().next() {
            return Err(("dangerous", format!("check `{}` {} (not run)", check.command, f.message)));
        }
    }
    Ok(issue)
}

/// Step 4: run every check in the export; all must fail (and finish).
fn reproduce(issue: &Issue, export: &Path, opts: &VerifyOptions, base: &str) -> std::result::Result<Vec<Reproduction>, String> {
    let mut out = Vec::new();
    let checker = verify::Checker::new(export, opts);
    for check in issue.checks() {
        let r = checker.run(&check);
        match &r.reason {
            Reason::NotRun { why } => return Err(format!("check `{}` could not be run on the base commit {base}: {why}", check.command)),
            Reason::Ended => {
                let how = r.unusual_ending().unwrap_or_else(|| "did not finish".into());
                return Err(format!("check `{}` {how} on the base commit {base}: that proves nothing", check.command));
            }
            // "exit code" would only restate what passing means: said as the exit itself.
            Reason::ExitCode if r.passed => {
                return Err(format!("does not reproduce: check `{}` already passes on the base commit {base} (exits 0)", check.command));
            }
            _ if r.passed => {
                return Err(format!(
                    "does not reproduce: check `{}` already passes on the base commit {base} ({})",
                    check.command, r.reason
                ));
            }
            _ => {}
        }
        let ending = r.ending.map(|e| e.to_string()).unwrap_or_default();
        let output: String = r.output.lines().take(5).collect::<Vec<_>>().join("\n");
        let result = match r.reason {
            Reason::ExitCode => ending,
            _ => format!("{ending}, {}", r.reason),
        };
        out.push(Reproduction { command: check.command.clone(), result, output });
    }
    Ok(out)
}

/// The first `depends_on`/`blocks`/`related` entry of `a` that names neither an existing issue
/// nor another accepted finding of the same lane: `(key, id)`.
fn unresolved_reference(a: &Accepted, accepted: &[Accepted], known: &HashSet<&str>) -> Option<(String, String)> {
    let m = &a.issue.meta;
    for (key, list) in [("depends_on", &m.depends_on), ("blocks", &m.blocks), ("related", &m.related)] {
        for id in list {
            if id == a.issue.id() {
                return Some((key.to_string(), id.clone()));
            }
            let sibling = accepted.iter().any(|o| o.lane == a.lane && o.issue.id() == id && !std::ptr::eq(o, a));
            if !sibling && !known.contains(id.as_str()) {
                return Some((key.to_string(), id.clone()));
            }
        }
    }
    None
}

/// Why `a` describes the same problem as `b`, if it does: a shared normalised check command,
/// or the same (non-empty) affected paths with a near-identical title.
pub fn same_problem(a: &Issue, b: &Issue) -> Option<String> {
    let mine: HashSet<String> = a.checks().iter().map(|c| normalise_check(&c.command)).collect();
    if let Some(c) = b.checks().iter().find(|c| mine.contains(&normalise_check(&c.command))) {
        return Some(format!("the same check `{}`", c.command));
    }
    let paths = |i: &Issue| -> Vec<String> {
        let mut v: Vec<String> =
            i.meta.affected_paths.iter().map(|p| p.trim().trim_start_matches("./").trim_end_matches('/').to_string()).collect();
        v.sort();
        v.dedup();
        v
    };
    let (pa, pb) = (paths(a), paths(b));
    if !pa.is_empty() && pa == pb && similar_titles(&a.title, &b.title) {
        return Some(format!("the same affected paths and a near-identical title (\"{}\")", b.title));
    }
    None
}

/// A check command reduced to what it does: whitespace collapsed, quotes dropped, and the seed's
/// ` && echo PASS || echo FAIL` tail (which only restates the exit code) removed.
pub fn normalise_check(command: &str) -> String {
    let mut s = command.replace(['"', '\''], "").split_whitespace().collect::<Vec<_>>().join(" ");
    while let Some(t) = s.strip_suffix(';') {
        s = t.trim_end().to_string();
    }
    for tail in [" && echo PASS || echo FAIL", "&& echo PASS || echo FAIL"] {
        if let Some(t) = s.strip_suffix(tail) {
            s = t.trim_end().to_string();
        }
    }
    s
}

/// Titles that differ by little: equal as lower-case words, or at least 85 % alike by edit
/// distance.
pub fn similar_titles(a: &str, b: &str) -> bool {
    let norm = |t: &str| -> String {
        t.to_lowercase().split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ")
    };
    let (a, b) = (norm(a), norm(b));
    if a.is_empty() || b.is_empty() {
        return false;
    }
    if a == b {
        return true;
    }
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let longest = a.len().max(b.len());
    let distance = levenshtein(&a, &b);
    (longest - distance) * 100 >= longest * 85
}

fn levenshtein(a: &[char], b: &[char]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use crate::run::hunt::judge::*;

    fn issue(id: &str, title: &str, paths: &[&str], check: &str) -> Issue {
        let lane = id.split('-').next().unwrap_or("E");
        let paths: Vec<String> = paths.iter().map(|p| format!("\"{p}\"")).collect();
        let text = format!(
            "---\nissue_id: \"{id}\"\nlane: \"{lane}\"\nstatus: \"OPEN\"\naffected_paths: [{}]\n---\n\n# [LANE {lane}] Issue {id}: {title}\n\n## Verification Commands\n\n```bash\n{check}\n```\n",
            paths.join(", ")
        );
        Issue::parse(Path::new(&format!("issues/{lane}/{id}.md")), text.into_bytes()).unwrap()
    }

    #[test]
    fn normalised_checks_ignore_spacing_quotes_and_the_pass_fail_tail() {
        assert_eq!(normalise_check("grep -q  \"x\" a.txt && echo \"PASS\" || echo \"FAIL\""), "grep -q x a.txt");
        assert_eq!(normalise_check("grep -q 'x' a.txt;"), "grep -q x a.txt");
        // The reversed tail means the opposite and is kept.
        assert_ne!(normalise_check("test -f a && echo FAIL || echo PASS"), normalise_check("test -f a"));
    }

    #[test]
    fn duplicates_share_a_check_or_paths_and_a_near_identical_title() {
        let a = issue("E-01", "Closed tickets are kept forever", &["cfg/r.yaml"], "grep -q days cfg/r.yaml && echo PASS || echo FAIL");
        let same_check = issue("E-07", "Something else entirely", &["other"], "grep -q  days cfg/r.yaml");
        assert!(same_problem(&same_check, &a).unwrap().contains("the same check"));
        let same_title = issue("E-08", "Closed tickets are kept forever!", &["cfg/r.yaml"], "test -f x");
        assert!(same_problem(&same_title, &a).unwrap().contains("near-identical title"));
        let other_paths = issue("E-09", "Closed tickets are kept forever", &["cfg/other.yaml"], "test -f x");
        assert_eq!(same_problem(&other_paths, &a), None);
        let other_title = issue("E-10", "Retention of invoices is undefined", &["cfg/r.yaml"], "test -f y");
        assert_eq!(same_problem(&other_title, &a), None);
    }

    #[test]
    fn title_similarity() {
        assert!(similar_titles("Order schema carries no version", "order schema carries no version."));
        assert!(similar_titles("Order schema carries no version", "Order schema carry no version"));
        assert!(!similar_titles("Order schema carries no version", "Customer schema has no currency"));
        assert!(!similar_titles("", ""));
    }
}
