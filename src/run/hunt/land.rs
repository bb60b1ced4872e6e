//! Landing accepted findings (docs/design.md#hunting): final ids, the rewritten files, the hunt report
//! and the seed-shaped `LogBook/issue-hunting/orchestrator-state.yaml`.
//!
//! # Design note: final ids
//! Hunters run in parallel and number their files on their own, so their ids collide with each
//! other and with issues filed meanwhile. Final ids are given here, on the tip the findings are
//! committed on: per lane, one more than the highest number there (same zero padding, ≥ 2
//! digits), skipping any id already taken; accepted findings take them in the judge's order
//! (lanes in order, a hunter's files in natural order), so the result is deterministic. The id
//! in the frontmatter, in the title heading and in the file name is the new one, and a hunter's
//! references to its own findings (`depends_on`, `blocks`, `related`) follow them.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::judge::{Accepted, Dropped, Rejected, Reproduction};
use crate::files::issue::Issue;
use crate::run::state::RunState;
use crate::run::status::LaneStatus;

/// An accepted finding with its final id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Landed {
    pub lane: String,
    /// The final id.
    pub id: String,
    /// Where it is committed (`issues/E/E-04.md`).
    pub path: String,
    /// The id the hunter gave it and the file it wrote.
    pub filed_as: String,
    pub from: String,
    pub title: String,
    pub severity: Option<u8>,
    /// How each check failed on the base commit.
    pub reproduced: Vec<Reproduction>,
}

/// Give every accepted finding its final id and rewrite its text; `taken` holds every id (and
/// file stem) on the target tip. Returns the landed findings with their new bytes, in order.
///
/// A finding keeps the id its hunter gave it when that id is free, written in the lane's
/// numbering (`E-05`, same padding) and within the numbers the lane's new findings would take
/// anyway (the highest taken number + the count of the lane's accepted findings); every other
/// finding takes the next free id, in the judge's order.
pub fn renumber(accepted: &[Accepted], issues_dir: &Path, taken: &HashSet<String>) -> Vec<(Landed, Vec<u8>)> {
    let mut taken = taken.clone();
    let mut ids: Vec<Option<String>> = vec![None; accepted.len()];
    let mut lanes: Vec<&str> = accepted.iter().map(|a| a.lane.as_str()).collect();
    lanes.dedup();
    for lane in lanes {
        let (after, width) = super::order::numbering(lane, taken.iter().cloned());
        let mine: Vec<usize> = (0..accepted.len()).filter(|k| accepted[*k].lane == lane).collect();
        let ceiling = after + mine.len() as u64;
        for &k in &mine {
            let id = accepted[k].issue.id();
            let in_sequence = crate::files::names::trailing_number(id)
                .is_some_and(|(n, _)| n > after && n <= ceiling && format!("{lane}-{n:0width$}") == id);
            if in_sequence && !taken.contains(id) {
                taken.insert(id.to_string());
                ids[k] = Some(id.to_string());
            }
        }
        let mut counter = after;
        for &k in &mine {
            if ids[k].is_none() {
                let (id, n) = super::order::next_free_id(lane, &taken, counter, width);
                counter = n;
                taken.insert(id.clone());
                ids[k] = Some(id);
            }
        }
    }
    let ids: Vec<String> = ids.into_iter().map(|i| i.unwrap_or_default()).collect();
    // Each lane's map from the hunter's ids to the final ones (the first file wins a shared id).
    let mut maps: HashMap<&str, HashMap<String, String>> = HashMap::new();
    for (a, id) in accepted.iter().zip(&ids) {
        maps.entry(a.lane.as_str()).or_default().entry(a.issue.id().to_string()).or_insert_with(|| id.clone());
    }
    accepted
        .iter()
        .zip(ids)
        .map(|(a, id)| {
            let path = issues_dir.join(&a.lane).join(format!("{id}.md"));
            let text = retag(&a.issue, &id, &maps[a.lane.as_str()], &path);
            let landed = Landed {
                lane: a.lane.clone(),
                id,
                path: path.to_string_lossy().replace('\\', "/"),
                filed_as: a.issue.id().to_string(),
                from: a.path.clone(),
                title: a.issue.title.clone(),
                severity: a.issue.meta.severity,
                reproduced: a.reproduced.clone(),
            };
            (landed, text)
        })
        .collect()
}

/// The finding's text under its final id: ids of the hunter's own findings mapped in the
/// frontmatter and the title heading (one pass, so `E-04 → E-05` and `E-05 → E-06` cannot chain).
fn retag(issue: &Issue, id: &str, map: &HashMap<String, String>, path: &Path) -> Vec<u8> {
    let own = HashMap::from([(issue.id().to_string(), id.to_string())]);
    let mut merged = map.clone();
    merged.extend(own);
    let text = issue.text();
    let (fm_end, body_line) = issue.split().map_or((0, 0), |s| (s.body_offset, s.body_line));
    let mut out = map_ids(&text[..fm_end], &merged, false);
    for (line_no, line) in (body_line..).zip(text[fm_end..].split_inclusive('\n')) {
        if line_no == issue.title_line && line.trim_start().starts_with('#') {
            out.push_str(&map_ids(line, &merged, true));
        } else {
            out.push_str(line);
        }
    }
    let mut bytes = out.into_bytes();
    // An `issue_id` written in a shape the token pass missed is set by the byte-minimal editor.
    if let Ok(parsed) = Issue::parse(path, bytes.clone())
        && parsed.id() != id
    {
        let mut e = crate::files::rewrite::Edit::new(&parsed);
        e.set_key("issue_id", id);
        bytes = e.finish();
    }
    if issue.bom && !bytes.starts_with(b"\xEF\xBB\xBF") {
        let mut with = b"\xEF\xBB\xBF".to_vec();
        with.extend(bytes);
        bytes = with;
    }
    bytes
}

/// Replace whole id tokens (`[A-Za-z0-9_-]+`) found in `map` (only the first one with
/// `first_only`: a title heading names its id once, before the title text).
fn map_ids(text: &str, map: &HashMap<String, String>, first_only: bool) -> String {
    let is_id = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    let mut out = String::with_capacity(text.len());
    let mut token = String::new();
    let mut mapped = false;
    let mut flush = |token: &mut String, out: &mut String| {
        if !token.is_empty() {
            match map.get(token.as_str()).filter(|_| !(first_only && mapped)) {
                Some(new) => {
                    out.push_str(new);
                    mapped = true;
                }
                None => out.push_str(token),
            }
            token.clear();
        }
    };
    for c in text.chars() {
        if is_id(c) {
            token.push(c);
        } else {
            flush(&mut token, &mut out);
            out.push(c);
        }
    }
    flush(&mut token, &mut out);
    out
}

/// What the report is made from.
pub struct ReportInput<'a> {
    pub label: &'a str,
    pub state: &'a RunState,
    pub landed: &'a [Landed],
    pub rejected: &'a [Rejected],
    pub dropped: &'a [Dropped],
    pub human: &'a [String],
    pub generated: &'a str,
}

fn cell(s: &str) -> String {
    crate::base::redact::redact(s).replace('|', "\\|").replace('\n', " ")
}

/// The hunt report (`LogBook/issue-hunting/runs/<RUN_ID>.md`): lanes, accepted findings with
/// their reproduction, rejected ones with reasons, dropped changes, cost, what needs a human.
pub fn render(r: &ReportInput<'_>) -> String {
    let st = r.state;
    let mut s = format!("# Issue Hunting Report: {}\n\n", r.label);
    s += &format!("**Generated:** {}\n", r.generated);
    s += &format!("**Base commit:** `{}`\n", st.base_commit.as_deref().unwrap_or("?"));
    s += &format!("**Status:** {}\n", st.status);
    s += &format!(
        "**Findings:** {} accepted, {} rejected; {} other change(s) dropped\n\n",
        r.landed.len(),
        r.rejected.len(),
        r.dropped.len()
    );
    lanes_section(&mut s, r);
    accepted_section(&mut s, r);
    rejected_section(&mut s, r);
    dropped_section(&mut s, r);
    cost_section(&mut s, r);
    human_section(&mut s, r);
    s
}

/// One row per lane: status, counts, cost and where the hunter's work is kept.
fn lanes_section(s: &mut String, r: &ReportInput<'_>) {
    let st = r.state;
    *s += "## Lanes\n\n| Lane | Status | Accepted | Rejected | Dropped | Cost | Hunter's work |\n|------|--------|----------|----------|---------|------|---------------|\n";
    for (lane, ls) in &st.lanes {
        let acc = r.landed.iter().filter(|l| &l.lane == lane).count();
        let rej = r.rejected.iter().filter(|l| &l.lane == lane).count();
        let drop = r.dropped.iter().filter(|l| &l.lane == lane).count();
        let cost = match (ls.cost_usd, ls.turns) {
            (Some(c), Some(t)) => format!("${c:.2}, {t} turns"),
            (Some(c), None) => format!("${c:.2}"),
            _ => "n/a".into(),
        };
        // A finished hunter's branch is removed once judged; its tip stays under the archive ref.
        let kept = match (&ls.status, ls.tip.as_ref()) {
            (LaneStatus::Done, Some(_)) => format!("`{}`", crate::git::worktree::archive_ref(&st.run_id.clone().unwrap_or_default(), lane)),
            _ => ls.branch.as_deref().map(|b| format!("`{b}`")).unwrap_or_else(|| "-".into()),
        };
        *s += &format!("| {lane} | {} | {acc} | {rej} | {drop} | {cost} | {kept} |\n", ls.status.words());
    }
}

/// The accepted findings with their final ids and how each check failed on the base commit.
fn accepted_section(s: &mut String, r: &ReportInput<'_>) {
    *s += "\n## Accepted Findings\n\n";
    if r.landed.is_empty() {
        *s += "None.\n";
    } else {
        *s += "| ID | Lane | Title | Severity | Filed as | Reproduced on the base commit |\n|----|------|-------|----------|----------|-------------------------------|\n";
        for l in r.landed {
            let how: Vec<String> = l.reproduced.iter().map(|c| format!("`{}` → {}", cell(&c.command), cell(&c.result))).collect();
            *s += &format!(
                "| {} | {} | {} | {} | `{}` ({}) | {} |\n",
                l.id,
                l.lane,
                cell(&l.title),
                l.severity.map(|v| format!("{v}/10")).unwrap_or_else(|| "-".into()),
                l.from,
                l.filed_as,
                how.join("; ")
            );
        }
    }
}

/// The rejected findings and why.
fn rejected_section(s: &mut String, r: &ReportInput<'_>) {
    *s += "\n## Rejected Findings\n\n";
    if r.rejected.is_empty() {
        *s += "None.\n";
    } else {
        *s += "| File | Lane | Filed as | Title | Why |\n|------|------|----------|-------|-----|\n";
        for x in r.rejected {
            *s += &format!(
                "| `{}` | {} | {} | {} | {} |\n",
                x.path,
                x.lane,
                x.filed_as.as_deref().unwrap_or("-"),
                cell(x.title.as_deref().unwrap_or("-")),
                cell(&x.reason)
            );
        }
    }
}

/// The hunters' changes that were not new issue files of their lane.
fn dropped_section(s: &mut String, r: &ReportInput<'_>) {
    *s += "\n## Dropped Changes\n\nA hunter only files new issues of its own lane; nothing below was integrated (the lane branches are kept under `refs/lanes/archive/`).\n\n";
    if r.dropped.is_empty() {
        *s += "None.\n";
    } else {
        *s += "| Lane | Path | Change | Why |\n|------|------|--------|-----|\n";
        for d in r.dropped {
            *s += &format!("| {} | `{}` | {} | {} |\n", d.lane, d.path, d.change, cell(&d.why));
        }
    }
}

/// What the workers reported they cost.
fn cost_section(s: &mut String, r: &ReportInput<'_>) {
    let costs: Vec<f64> = r.state.lanes.values().filter_map(|l| l.cost_usd).collect();
    *s += "\n## Cost\n\n";
    if costs.is_empty() {
        *s += "No worker reported a cost.\n";
    } else {
        *s += &format!("Total reported by the workers: ${:.2}\n", costs.iter().sum::<f64>());
    }
}

/// What needs a human, when anything does.
fn human_section(s: &mut String, r: &ReportInput<'_>) {
    if !r.human.is_empty() {
        *s += "\n## Needs a Human\n\n";
        for h in r.human {
            *s += &format!("- {}\n", crate::base::redact::redact(h));
        }
    }
}

/// `LogBook/issue-hunting/orchestrator-state.yaml` in the seed's shape
/// (`seed/LogBook/issue-hunting/orchestrator-state.yaml`), extended with base, branches and
/// counts of rejections.
#[derive(Debug, Clone, Serialize)]
pub struct SeedHuntState {
    pub run_id: String,
    pub started: Option<String>,
    pub last_updated: String,
    pub status: String,
    pub config: SeedConfig,
    pub lanes: BTreeMap<String, SeedLane>,
    pub progress: SeedProgress,
    pub errors: Vec<String>,
    pub task: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_commit: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SeedConfig {
    pub batch_size: usize,
    pub lanes_to_run: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SeedLane {
    pub status: String,
    /// Findings accepted.
    pub issues: usize,
    pub issue_ids: Vec<String>,
    pub committed: bool,
    pub started_at: Option<String>,
    pub completed_at: Option<String>,
    pub rejected: usize,
    pub dropped: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SeedProgress {
    pub total_lanes: usize,
    pub completed_lanes: usize,
    pub total_issues: usize,
    pub batches_run: usize,
    pub last_batch: Vec<String>,
    pub next_batch: Vec<String>,
}

/// The seed-shaped state of a finished hunt.
pub fn seed_state(r: &ReportInput<'_>, committed: bool, batch_size: usize, report: &Path) -> SeedHuntState {
    let st = r.state;
    let lanes: BTreeMap<String, SeedLane> = st
        .lanes
        .iter()
        .map(|(lane, ls)| {
            let mut ids: Vec<String> = r.landed.iter().filter(|l| &l.lane == lane).map(|l| l.id.clone()).collect();
            ids.sort_by(|a, b| crate::files::names::natural_cmp(a, b));
            let status = match &ls.status {
                LaneStatus::Done => "completed".to_string(),
                other => other.as_str().to_string(),
            };
            let lane_state = SeedLane {
                status,
                issues: ids.len(),
                committed: committed && !ids.is_empty(),
                issue_ids: ids,
                started_at: ls.started_at.clone(),
                completed_at: ls.completed_at.clone(),
                rejected: r.rejected.iter().filter(|x| &x.lane == lane).count(),
                dropped: r.dropped.iter().filter(|x| &x.lane == lane).count(),
                branch: ls.branch.clone(),
                exit: ls.exit.clone(),
                cost_usd: ls.cost_usd,
            };
            (lane.clone(), lane_state)
        })
        .collect();
    let completed = lanes.values().filter(|l| l.status == "completed").count();
    let names: Vec<String> = lanes.keys().cloned().collect();
    SeedHuntState {
        run_id: r.label.to_string(),
        started: st.started.clone(),
        last_updated: crate::files::scaffold::now_rfc3339(),
        status: st.status.as_str().to_string(),
        config: SeedConfig { batch_size, lanes_to_run: names.clone() },
        progress: SeedProgress {
            total_lanes: lanes.len(),
            completed_lanes: completed,
            total_issues: r.landed.len(),
            batches_run: 1,
            last_batch: names,
            next_batch: vec![],
        },
        lanes,
        errors: r.human.to_vec(),
        task: crate::run::context::TASK_HUNT.into(),
        base_commit: st.base_commit.clone(),
        report: Some(report.to_string_lossy().into_owned()),
    }
}

/// The YAML of [`SeedHuntState`] with a header comment.
pub fn seed_state_yaml(s: &SeedHuntState) -> crate::Result<String> {
    let mut y = String::from("# git-lanes hunt state (seed schema of LogBook/issue-hunting/orchestrator-state.yaml, extended).\n");
    y += &crate::files::yaml::to_yaml(s, "hunt state")?;
    Ok(y)
}

/// Every id and issue-file stem on a tree: what a new finding must not take.
pub fn taken_ids(issues: &[Issue], issues_root: &Path) -> HashSet<String> {
    let mut taken: HashSet<String> = issues.iter().map(|i| i.id().to_string()).collect();
    if let Ok(lanes) = std::fs::read_dir(issues_root) {
        for lane in lanes.flatten() {
            for f in std::fs::read_dir(lane.path()).into_iter().flatten().flatten() {
                let name = f.file_name().to_string_lossy().into_owned();
                if let Some(stem) = name.strip_suffix(".md") {
                    taken.insert(stem.to_string());
                }
            }
        }
    }
    taken
}

/// Where a landed file goes, absolute.
pub fn landed_path(root: &Path, l: &Landed) -> PathBuf {
    root.join(&l.path)
}

#[cfg(test)]
mod tests {
    use crate::run::hunt::land::*;

    fn accepted(lane: &str, file: &str, id: &str, deps: &[&str]) -> Accepted {
        let deps: Vec<String> = deps.iter().map(|d| format!("\"{d}\"")).collect();
        let text = format!(
            "---\nissue_id: \"{id}\"\nlane: \"{lane}\"\nstatus: \"OPEN\"\ndepends_on: [{}]\n# kept comment\n---\n\n# [LANE {lane}] Issue {id}: Finding {id} of {file}\n\nBody mentions {id} and stays.\n",
            deps.join(", ")
        );
        let path = format!("issues/{lane}/{file}");
        Accepted { lane: lane.into(), issue: Issue::parse(Path::new(&path), text.into_bytes()).unwrap(), path, reproduced: vec![] }
    }

    #[test]
    fn final_ids_continue_the_lane_skip_taken_ones_and_carry_dependencies() {
        let taken: HashSet<String> = ["E-01", "E-02", "M-001"].iter().map(|s| s.to_string()).collect();
        let a = vec![
            accepted("E", "E-02.md", "E-02", &[]),
            accepted("E", "E-03.md", "E-03", &["E-02", "E-01"]),
            accepted("M", "M-9.md", "M-9", &[]),
        ];
        let out = renumber(&a, Path::new("issues"), &taken);
        let ids: Vec<&str> = out.iter().map(|(l, _)| l.id.as_str()).collect();
        // E-02 is taken: it gets the next free id (E-03 is kept by its own finding, which is free
        // and in sequence); M-9 is not in the lane's three-digit numbering.
        assert_eq!(ids, ["E-04", "E-03", "M-002"]);
        assert_eq!(out[0].0.path, "issues/E/E-04.md");
        let first = String::from_utf8(out[0].1.clone()).unwrap();
        assert!(first.contains("issue_id: \"E-04\""), "{first}");
        assert!(first.contains("# [LANE E] Issue E-04: Finding E-02 of E-02.md"), "{first}");
        assert!(first.contains("Body mentions E-02 and stays."), "{first}");
        assert!(first.contains("# kept comment"));
        let second = String::from_utf8(out[1].1.clone()).unwrap();
        // Its dependency on the hunter's own E-02 follows that finding to E-04; E-01 stays.
        assert!(second.contains("depends_on: [\"E-04\", \"E-01\"]"), "{second}");
        let parsed = Issue::parse(Path::new("issues/E/E-03.md"), out[1].1.clone()).unwrap();
        assert_eq!(parsed.id(), "E-03");
        assert_eq!(parsed.meta.depends_on, ["E-04", "E-01"]);
        // A far-off id is not kept: numbering continues the lane.
        let far = renumber(&[accepted("E", "x.md", "E-99", &[])], Path::new("issues"), &taken);
        assert_eq!(far[0].0.id, "E-03");
        // Deterministic: the same input gives the same result.
        assert_eq!(renumber(&a, Path::new("issues"), &taken), out);
    }
}
