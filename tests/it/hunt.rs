//! End-to-end tests of `git lanes hunt` against real temporary git repositories with a
//! scriptable fake hunter: only findings that reproduce on the base commit are committed, under
//! the lane's next free ids; everything else is rejected or dropped with its reason; a dry run
//! writes nothing; and a following `git lanes run` resolves what was hunted.
#![allow(clippy::disallowed_methods)] // the tests start processes with the std API

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use crate::common_run::{RunRepo, frontmatter_status, wait_with_deadline};

/// A fake agent for both tasks (`LANES_TASK`). Hunting, it files the findings named in
/// `FAKE_HUNT_<LANE>` (space-separated), commits and signals:
/// - `good`: `<L>-02`, a check that fails on the base (token `hunted-good-<L>` missing);
/// - `passing`: `<L>-03`, whose check already passes;
/// - `quietpass`: `<L>-11`, whose check already passes by its exit code alone (no PASS/FAIL);
/// - `duplicate`: `<L>-04`, with the check of the existing `<L>-01`;
/// - `taken`: rewrites `<L>-01.md` (a taken id) with a different, reproducing finding;
/// - `malformed`: `<L>-05.md` without frontmatter;
/// - `code`: edits `src/<L>.txt`;
/// - `dangerous`: `<L>-06`, a check that reaches the network;
/// - `gitwrite`: `<L>-10`, a check that deletes `.git/objects` when it "fails";
/// - `catalog`: edits the catalog;
/// - `otherlane`: files an issue in the other lane's folder;
/// - `deps`: `<L>-07` and `<L>-08`, the second depending on the first;
/// - `nocommit`: `<L>-09`, a good finding left uncommitted;
/// - `gate`: wait for `FAKE_DIR/gate` (after touching `FAKE_DIR/started-<L>`), then `good`.
///
/// Fixing, it applies each issue's `- fix-token: <token> <file>` line (or appends
/// `fixed-<ID>` to `src/<L>.txt`), commits and signals.
const HUNTER: &str = r#"#!/bin/sh
set -u
lane="$LANES_LANE"
sig() { echo "$1" > "$LANES_SIGNAL_DIR/$lane.status"; }
finding() { # file id title check deps token
cat > "issues/$lane/$1" <<EOF
---
issue_id: "$2"
lane: "$lane"
severity: 6
severity_level: "MEDIUM"
type_tags: ["hunted"]
status: "OPEN"
affected_paths: ["src/$lane.txt"]
depends_on: [$5]
blocks: []
---

# [LANE $lane] Issue $2: $3

## Problem Description

Found by the fake hunter.

## Evidence

- The check below fails on the base commit.

## Fix Requirements

- fix-token: $6 src/$lane.txt

## Verification Commands

\`\`\`bash
# Check 1: $3
$4
\`\`\`

- **Status:** OPEN
EOF
}
tok() { echo "grep -q $1 src/$lane.txt && echo \"PASS\" || echo \"FAIL\""; }
if [ "${LANES_TASK:-}" = fix_issue ]; then
  for id in $(echo "$LANES_ISSUES" | tr ',' ' '); do
    t=$(sed -n 's/^- fix-token: //p' "issues/$lane/$id.md" | head -1)
    if [ -n "$t" ]; then set -- $t; echo "$1" >> "$2"; else echo "fixed-$id" >> "src/$lane.txt"; fi
  done
  git add -A . && git commit -q -m "lane $lane: fix"
  sig "COMPLETE: fixed"; touch "$LANES_SIGNAL_DIR/$lane.done"; exit 0
fi
sig "STARTING: hunting"
mkdir -p "issues/$lane"
eval "kinds=\${FAKE_HUNT_$lane:-good}"
commit=yes
for k in $kinds; do
  case "$k" in
    good) finding "$lane-02.md" "$lane-02" "Hunted good problem in $lane" "$(tok hunted-good-$lane)" "" "hunted-good-$lane" ;;
    passing) finding "$lane-03.md" "$lane-03" "Already fine in $lane" "grep -q \"$lane base\" src/$lane.txt && echo \"PASS\" || echo \"FAIL\"" "" "x" ;;
    quietpass) finding "$lane-11.md" "$lane-11" "Already fine, quietly, in $lane" "grep -q \"$lane base\" src/$lane.txt" "" "x" ;;
    duplicate) finding "$lane-04.md" "$lane-04" "The same thing said again" "$(tok fixed-$lane-01)" "" "fixed-$lane-01" ;;
    taken) finding "$lane-01.md" "$lane-01" "Hunted problem filed under a taken id" "$(tok hunted-taken-$lane)" "" "hunted-taken-$lane" ;;
    malformed) printf 'this is not an issue file\n' > "issues/$lane/$lane-05.md" ;;
    code) echo "hunter edit" >> "src/$lane.txt" ;;
    dangerous) finding "$lane-06.md" "$lane-06" "Needs the network" "curl -s http://example.invalid/ | grep -q x && echo PASS || echo FAIL" "" "x" ;;
    gitwrite) finding "$lane-10.md" "$lane-10" "Writes git data" "grep -q licence README || { rm -rf .git/objects; echo FAIL; }" "" "x" ;;
    catalog) echo "edited by the hunter" >> SAF_ISSUE_CATALOG.md ;;
    otherlane) o=E; [ "$lane" = E ] && o=M; cp "issues/$lane/$lane-01.md" "issues/$o/$o-09.md" ;;
    deps)
      finding "$lane-07.md" "$lane-07" "First of two related problems" "$(tok dep-a-$lane)" "" "dep-a-$lane"
      finding "$lane-08.md" "$lane-08" "Second problem, after the first" "$(tok dep-b-$lane)" "\"$lane-07\"" "dep-b-$lane" ;;
    nocommit) finding "$lane-09.md" "$lane-09" "Left uncommitted by the hunter" "$(tok hunted-loose-$lane)" "" "hunted-loose-$lane"; commit=no ;;
    gate)
      touch "$FAKE_DIR/started-$lane"
      n=0; while [ ! -e "$FAKE_DIR/gate" ] && [ $n -lt 600 ]; do sleep 0.1; n=$((n + 1)); done
      finding "$lane-02.md" "$lane-02" "Hunted good problem in $lane" "$(tok hunted-good-$lane)" "" "hunted-good-$lane" ;;
    *) echo "unknown finding kind $k" >&2; exit 2 ;;
  esac
done
if [ "$commit" = yes ]; then git add -A . && git commit -q -m "lane $lane hunting"; fi
sig "COMPLETE: hunted"
touch "$LANES_SIGNAL_DIR/$lane.done"
"#;

const HUNTER_SPEC: &str = "---\nname: IH-Lane-{L}\ndescription: Hunts for lane {L} problems (max 5 per run)\nmodel: haiku\nworker: sh fake-hunter.sh\n---\n\n# Issue Hunter: Lane {L}\n\nFile new, reproducible problems only.\n";

/// The standard two-lane repository plus the fake hunter and hunter specs for E and M.
fn repo() -> RunRepo {
    let r = RunRepo::bare();
    r.issue("E-01", &["src/E.txt"], &crate::common_run::token_check("E-01"));
    r.issue("M-01", &["src/M.txt"], &crate::common_run::token_check("M-01"));
    r.write("fake-hunter.sh", HUNTER);
    for lane in ["E", "M"] {
        r.write(&format!(".claude/agents/issue-hunters/IH-Lane-{lane}.md"), &HUNTER_SPEC.replace("{L}", lane));
    }
    r.finish_setup("");
    r
}

struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Out {
    fn expect(&self, code: i32) -> &Self {
        assert_eq!(self.code, Some(code), "exit code\n--- stdout\n{}\n--- stderr\n{}", self.stdout, self.stderr);
        self
    }
}

fn hunt(r: &RunRepo, run_id: &str, kinds: &[(&str, &str)], args: &[&str]) -> Out {
    let mut c = r.cmd();
    c.args(["hunt", "--run-id", run_id, "--done-grace", "1s", "--timeout", "60s"]).args(args);
    for (lane, k) in kinds {
        c.env(format!("FAKE_HUNT_{lane}"), k);
    }
    let o = c.output().expect("git-lanes runs");
    Out {
        code: o.status.code(),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

fn issue_files_on_head(r: &RunRepo) -> Vec<String> {
    r.git(&["ls-tree", "-r", "--name-only", "HEAD", "issues/"]).lines().map(str::to_string).collect()
}

fn title_of(text: &str) -> String {
    text.lines().find(|l| l.starts_with("# [LANE")).unwrap_or("").to_string()
}

#[test]
fn only_reproducing_new_findings_are_committed_renumbered_and_the_rest_is_reported() {
    let r = repo();
    let base = r.git(&["rev-parse", "HEAD"]).trim().to_string();
    let out = hunt(&r, "H1", &[("E", "good passing duplicate taken malformed code"), ("M", "good dangerous catalog otherlane")], &[]);
    out.expect(0);
    assert!(out.stdout.contains("hunt H1: 3 new issue(s)"), "{}", out.stdout);
    // Exactly the good findings and the one filed under a taken id, which was renumbered; the
    // original E-01 is untouched.
    assert_eq!(
        issue_files_on_head(&r),
        ["issues/E/E-01.md", "issues/E/E-02.md", "issues/E/E-03.md", "issues/M/M-01.md", "issues/M/M-02.md"]
    );
    assert_eq!(r.show("HEAD", "issues/E/E-01.md"), r.show(&base, "issues/E/E-01.md"));
    let e02 = r.show("HEAD", "issues/E/E-02.md");
    assert!(title_of(&e02).contains("Issue E-02: Hunted good problem in E"), "{e02}");
    let e03 = r.show("HEAD", "issues/E/E-03.md");
    assert!(e03.contains("issue_id: \"E-03\""), "{e03}");
    assert!(title_of(&e03).contains("Issue E-03: Hunted problem filed under a taken id"), "{e03}");
    assert!(r.show("HEAD", "issues/M/M-02.md").contains("Hunted good problem in M"));
    // The code and catalog edits are not committed.
    assert_eq!(r.show("HEAD", "src/E.txt"), "E base\n");
    assert!(!r.show("HEAD", "SAF_ISSUE_CATALOG.md").contains("edited by the hunter"));
    // One commit on top of the base, with the promised message.
    assert_eq!(r.git(&["rev-parse", "HEAD~1"]).trim(), base);
    assert_eq!(r.git(&["log", "-1", "--format=%s"]).trim(), "lanes: hunt H1: 3 new issue(s)");
    assert_eq!(r.git(&["status", "--porcelain", "--untracked-files=no"]), "");
    // The report names every rejected finding with its reason, and the dropped changes.
    let report = r.show("HEAD", "LogBook/issue-hunting/runs/H1.md");
    assert!(r.report_cmd("H1").contains("# Issue Hunting Report: H1"), "`git lanes report` finds a committed hunt report");
    for (file, why) in [
        ("issues/E/E-03.md", "does not reproduce"),
        ("issues/E/E-04.md", "duplicate of E-01"),
        ("issues/E/E-05.md", "not a valid issue file"),
        ("issues/M/M-06.md", "network"),
    ] {
        let line = report
            .lines()
            .find(|l| l.contains(&format!("`{file}`")) && l.contains("|"))
            .unwrap_or_else(|| panic!("{file} not in\n{report}"));
        assert!(line.contains(why), "{file}: {line}");
    }
    assert!(report.contains("Already fine in E") && report.contains("The same thing said again"), "{report}");
    assert!(report.lines().any(|l| l.contains("`src/E.txt`") && l.contains("does not change the code")), "{report}");
    assert!(report.lines().any(|l| l.contains("`SAF_ISSUE_CATALOG.md`") && l.contains("catalog")), "{report}");
    assert!(report.lines().any(|l| l.contains("`issues/E/E-09.md`") && l.contains("another lane's issue folder")), "{report}");
    assert!(report.lines().any(|l| l.starts_with("| E-03 ") && l.contains("`issues/E/E-01.md` (E-01)")), "{report}");
    // The seed-shaped state.
    let state: serde_json::Value =
        serde_saphyr::from_str(&r.show("HEAD", "LogBook/issue-hunting/orchestrator-state.yaml")).expect("state parses");
    assert_eq!(state["run_id"], "H1");
    assert_eq!(state["status"], "complete");
    assert_eq!(state["lanes"]["E"]["status"], "completed");
    assert_eq!(state["lanes"]["E"]["issues"], 2);
    assert_eq!(state["lanes"]["E"]["issue_ids"], serde_json::json!(["E-02", "E-03"]));
    assert_eq!(state["lanes"]["E"]["committed"], true);
    assert_eq!(state["progress"]["total_issues"], 3);
    // The catalog lists the new issues; validate and sync --check are clean.
    let catalog = r.show("HEAD", "SAF_ISSUE_CATALOG.md");
    assert!(catalog.contains("| E-03 | Hunted problem filed under a taken id |"), "{catalog}");
    r.cmd().args(["sync", "--check"]).assert().code(0);
    r.cmd().arg("validate").assert().code(0);
    // Hunters' branches and worktrees are gone, their tips archived; signals cleared.
    assert!(r.lane_branches().is_empty(), "{:?}", r.lane_branches());
    for lane in ["E", "M"] {
        assert!(r.has_ref(&format!("refs/lanes/archive/H1/{lane}")));
        assert!(!r.worktree("H1", lane).exists());
    }
    // The dropped code edit has a way back.
    assert!(r.show("refs/lanes/archive/H1/E", "src/E.txt").contains("hunter edit"));
    let signals = r.root().join("LogBook/issue-hunting/signals");
    let left: Vec<_> = std::fs::read_dir(&signals).map(|d| d.flatten().map(|e| e.file_name()).collect()).unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_following_run_resolves_the_hunted_issues() {
    let r = repo();
    hunt(&r, "H1", &[("E", "good taken"), ("M", "good")], &[]).expect(0);
    let out = r.run("R1", &[], &["--worker", "sh fake-hunter.sh"]);
    out.expect_code(0);
    for id in ["E-01", "E-02", "E-03", "M-01", "M-02"] {
        assert_eq!(r.status_on_head(id), "RESOLVED", "{id}\n{}\n{}", out.stdout, out.stderr);
    }
    r.cmd().args(["sync", "--check"]).assert().code(0);
}

#[test]
fn a_dry_run_writes_nothing() {
    let r = repo();
    let before = snapshot(r.root());
    let out = hunt(&r, "H1", &[], &["--dry-run", "--show-work-order"]);
    out.expect(0);
    assert!(out.stdout.contains("task_type: hunt_issues"), "{}", out.stdout);
    assert!(out.stdout.contains("new ids from E-02"), "{}", out.stdout);
    let json = r.cmd().args(["hunt", "--dry-run", "--json"]).output().unwrap();
    assert_eq!(json.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["lanes"][0]["work_order"]["work_order"]["task_type"], "hunt_issues");
    assert_eq!(v["lanes"][1]["lane"], "M");
    assert_eq!(snapshot(r.root()), before, "a dry run changed files");
}

#[test]
fn findings_get_free_ids_when_the_branch_took_theirs_meanwhile() {
    // A hunter files M-02 (and M-07, M-08) while the user's branch gains M-02 and M-03: its M-02
    // (which reproduces) becomes M-04, its M-07 M-05.
    let r = repo();
    let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("git-lanes"));
    c.current_dir(r.root()).env_clear().envs(r.isolated_env()).env("FAKE_HUNT_M", "gate deps");
    c.args(["hunt", "--run-id", "H2", "--lane", "M", "--done-grace", "1s", "--timeout", "60s"]);
    c.stdin(std::process::Stdio::null()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    assert!(r.wait_for_marker("started-M", Duration::from_secs(30)), "the hunter did not start");
    r.issue("M-02", &["src/M.txt"], &crate::common_run::token_check("M-02"));
    // M-03 repeats the check of the hunter's second finding (`deps`' M-08).
    r.issue("M-03", &["src/M.txt"], "grep -q dep-b-M src/M.txt && echo \"PASS\" || echo \"FAIL\"\n");
    r.cmd().arg("sync").assert().success();
    r.git(&["add", "-A"]);
    r.git(&["commit", "-q", "-m", "meanwhile: M-02 and M-03"]);
    r.open_gate();
    let out = wait_with_deadline(&mut child, Duration::from_secs(60)).expect("hunt ends");
    assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    // M-03, filed meanwhile, repeats the hunter's M-08: a duplicate by now.
    assert!(
        out.stdout.contains("`issues/M/M-08.md`: duplicate of M-03 (Test issue M-03), filed on your branch during the hunt"),
        "{}",
        out.stdout
    );
    assert!(r.show("HEAD", "issues/M/M-05.md").contains("First of two related problems"));
    let m04 = r.show("HEAD", "issues/M/M-04.md");
    assert!(m04.contains("issue_id: \"M-04\"") && m04.contains("Hunted good problem in M"), "{m04}");
    assert!(r.show("HEAD", "issues/M/M-02.md").contains("Test issue M-02"), "the meanwhile M-02 was overwritten");
    assert_eq!(r.git(&["log", "-1", "--format=%s"]).trim(), "lanes: hunt H2: 2 new issue(s)");
    r.cmd().args(["sync", "--check"]).assert().code(0);
    r.cmd().arg("validate").assert().code(0);
}

#[test]
fn a_hunters_own_dependencies_follow_its_findings_and_leftovers_are_judged() {
    let r = repo();
    r.issue("E-02", &["src/E.txt"], &crate::common_run::token_check("E-02"));
    r.issue("E-07", &["src/E.txt"], &crate::common_run::token_check("E-07"));
    r.cmd().arg("sync").assert().success();
    r.git(&["add", "-A"]);
    r.git(&["commit", "-q", "-m", "E-02 and E-07"]);
    let out = hunt(&r, "H1", &[("E", "deps nocommit")], &["--lane", "E", "--json"]);
    out.expect(0);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(v["schema_version"].is_number(), "{v}");
    assert_eq!(v["run_id"], "H1");
    assert_eq!(v["rejected"], serde_json::json!([]));
    assert!(v["commit"].is_string() && v["report"] == "LogBook/issue-hunting/runs/H1.md", "{v}");
    assert_eq!(v["dropped"][0]["path"], "issues/E/E-07.md", "{v}");
    assert_eq!(v["dropped"][0]["change"], "modified", "{v}");
    assert_eq!(v["accepted"][0]["reproduced"][0]["command"], "grep -q dep-a-E src/E.txt && echo \"PASS\" || echo \"FAIL\"", "{v}");
    let ids: BTreeMap<String, String> = v["accepted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["from"].as_str().unwrap().to_string(), a["id"].as_str().unwrap().to_string()))
        .collect();
    // E-07 is taken (renumbered past E-07); E-08 is in sequence and kept; E-09 was left
    // uncommitted by the hunter, committed by git-lanes, and judged like the others.
    assert_eq!(ids["issues/E/E-07.md"], "E-10", "{ids:?}");
    assert_eq!(ids["issues/E/E-08.md"], "E-08", "{ids:?}");
    assert_eq!(ids["issues/E/E-09.md"], "E-09", "{ids:?}");
    let second = r.show("HEAD", "issues/E/E-08.md");
    assert!(second.contains("depends_on: [\"E-10\"]"), "{second}");
    assert!(r.show("HEAD", "issues/E/E-07.md").contains("Test issue E-07"));
    assert_eq!(frontmatter_status(&r.show("HEAD", "issues/E/E-10.md")), "OPEN");
    r.cmd().arg("validate").assert().code(0);
    r.cmd().args(["sync", "--check"]).assert().code(0);
}

#[test]
fn a_hunt_that_finds_nothing_commits_nothing_and_max_findings_caps_a_lane() {
    let r = repo();
    let head = r.git(&["rev-parse", "HEAD"]);
    let out = hunt(&r, "H1", &[("E", "passing duplicate")], &["--lane", "E"]);
    out.expect(0);
    assert!(out.stdout.contains("hunt H1: 0 new issue(s), 2 finding(s) rejected"), "{}", out.stdout);
    assert_eq!(r.git(&["rev-parse", "HEAD"]), head, "nothing accepted, nothing committed");
    let report = std::fs::read_to_string(r.root().join(".git/lanes/runs/H1/report.md")).unwrap();
    assert!(report.contains("does not reproduce") && report.contains("duplicate of E-01"), "{report}");
    // No noise: a hunting lane has no issue list to show, and a check that passes by its exit
    // says so, not "(exit code)".
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(all.lines().any(|l| l.contains("lane E: started (pid ") && l.trim_end().ends_with(')')), "{all}");
    let quiet = hunt(&r, "H0", &[("E", "quietpass")], &["--lane", "E"]);
    quiet.expect(0);
    let all = format!("{}{}", quiet.stdout, quiet.stderr);
    assert!(!all.contains("(exit code)"), "{all}");
    assert!(all.contains("already passes on the base commit") && all.contains("(exits 0)"), "{all}");
    assert_eq!(r.report_cmd("H1"), format!("{}\n", report.trim_end()), "`git lanes report` finds a hunt's report");

    let out = hunt(&r, "H2", &[("E", "good deps")], &["--lane", "E", "--max-findings", "2"]);
    out.expect(0);
    assert!(out.stdout.contains("hunt H2: 2 new issue(s)"), "{}", out.stdout);
    assert!(out.stdout.contains("over the lane's limit of 2"), "{}", out.stdout);
}

#[test]
fn bad_lane_names_are_refused_and_a_new_lane_can_be_hunted() {
    let r = repo();
    let out = hunt(&r, "H1", &[], &["--lane", "../x"]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    // A lane without a hunter spec and no worker anywhere: refused before anything exists.
    r.write("lanes.yaml", "");
    r.git(&["commit", "-qam", "no worker"]);
    let out = hunt(&r, "H1", &[], &["--lane", "Q"]);
    assert_ne!(out.code, Some(0));
    assert!(out.stderr.contains("no worker for lane Q"), "{}", out.stderr);
    assert!(!r.root().join(".git/lanes/runs/H1").exists(), "a refused hunt left its run folder");
    let out = hunt(&r, "H1", &[], &["--lane", "Z", "--worker", "sh fake-hunter.sh"]);
    // A new lane without issues can be hunted: its hunter's Z-02 becomes Z-01, the lane's first id.
    out.expect(0);
    assert!(issue_files_on_head(&r).contains(&"issues/Z/Z-01.md".to_string()), "{}", out.stdout);
    r.cmd().args(["sync", "--check"]).assert().code(0);
}

#[test]
fn without_hunter_specs_every_known_lane_is_hunted() {
    let r = RunRepo::standard();
    r.write("fake-hunter.sh", HUNTER);
    r.git(&["add", "-A"]);
    r.git(&["commit", "-qm", "hunter"]);
    let out = hunt(&r, "H1", &[], &["--worker", "sh fake-hunter.sh"]);
    out.expect(0);
    let files = issue_files_on_head(&r);
    assert!(files.contains(&"issues/E/E-02.md".to_string()) && files.contains(&"issues/M/M-02.md".to_string()), "{files:?}");
}

#[test]
fn init_writes_hunter_specs_next_to_fixer_specs_and_hunt_uses_them() {
    let r = RunRepo::bare();
    r.cmd().args(["init", "--yes", "--lane", "E", "--lane", "M"]).assert().success();
    r.cmd().arg("sync").assert().success();
    for lane in ["E", "M"] {
        let spec = r.read(&format!(".claude/agents/issue-hunters/IH-Lane-{lane}.md"));
        assert!(spec.starts_with(&format!("---\nname: IH-Lane-{lane}\n")), "{spec}");
        assert!(r.root().join(format!(".claude/agents/issue-fixers/IF-Lane-{lane}.md")).exists());
    }
    r.cmd().arg("validate").assert().code(0);
    let out = r.cmd().args(["hunt", "--dry-run", "--worker", "sh fake-hunter.sh"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("lane E: up to 5 finding(s), new ids from E-01 (.claude/agents/issue-hunters/IH-Lane-E.md)"), "{text}");
    assert!(text.contains("lane M:"), "{text}");
}

/// Every file under `root` (the `.git` folder included) with its bytes.
fn snapshot(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            let t = e.file_type().unwrap();
            if t.is_dir() {
                stack.push(p);
            } else {
                let bytes = if t.is_symlink() {
                    std::fs::read_link(&p).unwrap().to_string_lossy().into_owned().into_bytes()
                } else {
                    std::fs::read(&p).unwrap()
                };
                out.insert(p.strip_prefix(root).unwrap().display().to_string(), bytes);
            }
        }
    }
    out
}

/// `hunt` started as a child with `FAKE_HUNT_<LANE>` kinds.
fn hunt_child(r: &RunRepo, run_id: &str, kinds: &[(&str, &str)]) -> std::process::Child {
    let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("git-lanes"));
    c.current_dir(r.root()).env_clear().envs(r.isolated_env());
    for (lane, k) in kinds {
        c.env(format!("FAKE_HUNT_{lane}"), k);
    }
    c.args(["hunt", "--run-id", run_id, "--done-grace", "1s", "--timeout", "60s"]);
    c.stdin(std::process::Stdio::null()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    c.spawn().expect("git-lanes starts")
}

#[test]
fn a_killed_hunt_is_finished_by_resume_without_losing_a_finding() {
    let r = repo();
    let mut child = hunt_child(&r, "H1", &[("E", "gate"), ("M", "good")]);
    assert!(r.wait_for_marker("started-E", Duration::from_secs(30)), "the E hunter did not start");
    crate::common_run::kill9(child.id());
    let _ = child.wait();
    // The hunter outlives the orchestrator and finishes while nobody watches.
    r.open_gate();
    let state = Path::new(".git/lanes/runs/H1/state.yaml");
    // A sandboxed hunter signals in its own worktree's signal folder.
    let done = r.worktree("H1", "E").join("LogBook/issue-hunting/signals/E.done");
    assert!(crate::common_run::wait_until(Duration::from_secs(30), || done.exists()));
    let live = git_lanes::run::state::RunState::load(r.root(), state).unwrap().unwrap();
    assert_eq!(live.task.as_deref(), Some("hunt_issues"));
    // `run --resume` does not take a hunt; `hunt --resume` does.
    let out = r.cmd().args(["run", "--resume"]).output().unwrap();
    assert_ne!(out.status.code(), Some(0), "run --resume took the hunt");
    let out = r.cmd().args(["hunt", "--resume", "--done-grace", "1s"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let files = issue_files_on_head(&r);
    assert!(files.contains(&"issues/E/E-02.md".to_string()) && files.contains(&"issues/M/M-02.md".to_string()), "{files:?}");
    assert_eq!(r.git(&["log", "-1", "--format=%s"]).trim(), "lanes: hunt H1: 2 new issue(s)");
    r.cmd().args(["sync", "--check"]).assert().code(0);
}

#[test]
fn ctrl_c_stops_a_hunt_resumably() {
    let r = repo();
    let head = r.git(&["rev-parse", "HEAD"]);
    let mut child = hunt_child(&r, "H1", &[("E", "gate"), ("M", "good")]);
    assert!(r.wait_for_marker("started-E", Duration::from_secs(30)), "the E hunter did not start");
    crate::common_run::signal(child.id(), "INT");
    let out = wait_with_deadline(&mut child, Duration::from_secs(60)).expect("hunt stops");
    assert_eq!(out.code, Some(130), "{}\n{}", out.stdout, out.stderr);
    assert_eq!(r.git(&["rev-parse", "HEAD"]), head, "an interrupted hunt commits nothing");
    r.open_gate();
    let out = r.cmd().args(["hunt", "--resume", "--done-grace", "1s"]).env("FAKE_HUNT_E", "gate").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(issue_files_on_head(&r).contains(&"issues/E/E-02.md".to_string()));
}

#[test]
fn a_hunt_whose_branch_was_switched_keeps_its_findings_on_the_integration_branch() {
    let r = repo();
    let head = r.git(&["rev-parse", "HEAD"]);
    let branch = r.git(&["symbolic-ref", "--short", "HEAD"]).trim().to_string();
    let mut child = hunt_child(&r, "H1", &[("E", "gate"), ("M", "good")]);
    assert!(r.wait_for_marker("started-E", Duration::from_secs(30)), "the E hunter did not start");
    // The user goes to another branch while the hunters work: theirs must not be moved.
    r.git(&["checkout", "-q", "-b", "elsewhere"]);
    r.open_gate();
    let out = wait_with_deadline(&mut child, Duration::from_secs(60)).expect("the hunt ends");
    assert_eq!(out.code, Some(3), "{}\n{}", out.stdout, out.stderr);
    let said = format!("{}\n{}", out.stdout, out.stderr);
    assert!(said.contains("git merge lanes/H1/integration"), "{said}");
    assert!(said.contains("HEAD is on `elsewhere` now"), "{said}");
    assert_eq!(r.git(&["rev-parse", &branch]), head, "the user's branch moved");
    // The findings are kept, committed on the integration branch, and `git merge` takes them.
    assert!(r.has_ref("refs/heads/lanes/H1/integration"), "the integration branch was removed");
    let files = r.git(&["ls-tree", "-r", "--name-only", "lanes/H1/integration", "issues/"]);
    assert!(files.contains("issues/E/E-02.md") && files.contains("issues/M/M-02.md"), "{files}");
    assert_eq!(r.git(&["log", "-1", "--format=%s", "lanes/H1/integration"]).trim(), "lanes: hunt H1: 2 new issue(s)");
    let live = git_lanes::run::state::RunState::load(r.root(), Path::new(".git/lanes/runs/H1/state.yaml")).unwrap().unwrap();
    assert_eq!(live.status.as_str(), "needs_attention");
    assert!(live.integration.is_some_and(|i| !i.fast_forwarded));
    r.git(&["checkout", "-q", &branch]);
    r.git(&["merge", "-q", "--ff-only", "lanes/H1/integration"]);
    assert!(issue_files_on_head(&r).contains(&"issues/E/E-02.md".to_string()));
    r.cmd().args(["sync", "--check"]).assert().code(0);
}

/// A hunt started with `--worker` and killed is resumed by `hunt --resume` alone: each lane's
/// worker is the one the hunt recorded.
#[test]
fn a_killed_hunt_resumes_with_its_recorded_workers() {
    let r = repo();
    for lane in ["E", "M"] {
        let spec = HUNTER_SPEC.replace("{L}", lane).replace("worker: sh fake-hunter.sh\n", "");
        r.write(&format!(".claude/agents/issue-hunters/IH-Lane-{lane}.md"), &spec);
    }
    // (The fake hunter writes its markers outside the repository: sandboxed workers may.)
    r.write("lanes.yaml", &format!("max_parallel: 4\nsandbox_writable: [\"{}\"]\n", r.fake_dir().display()));
    r.git(&["commit", "-q", "-am", "no worker configured"]);
    let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("git-lanes"));
    c.current_dir(r.root()).env_clear().envs(r.isolated_env()).env("FAKE_HUNT_E", "gate").env("FAKE_HUNT_M", "good");
    c.args(["hunt", "--run-id", "H1", "--done-grace", "1s", "--timeout", "60s", "--worker", "sh fake-hunter.sh"]);
    c.stdin(std::process::Stdio::null()).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
    let mut child = c.spawn().unwrap();
    assert!(r.wait_for_marker("started-E", Duration::from_secs(30)), "the E hunter did not start");
    crate::common_run::kill9(child.id());
    let _ = child.wait();
    r.open_gate();
    let out = r.cmd().args(["hunt", "--resume", "--done-grace", "1s"]).output().unwrap();
    let (so, se) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!se.contains("no worker for lane"), "{se}");
    assert_eq!(out.status.code(), Some(0), "{so}\n{se}");
    let files = issue_files_on_head(&r);
    assert!(files.contains(&"issues/E/E-02.md".to_string()) && files.contains(&"issues/M/M-02.md".to_string()), "{files:?}");
}

#[test]
fn a_finding_whose_check_would_write_git_data_is_refused_not_committed() {
    let r = repo();
    let out = hunt(&r, "H1", &[("E", "good gitwrite"), ("M", "good")], &[]);
    out.expect(0);
    assert_eq!(issue_files_on_head(&r), ["issues/E/E-01.md", "issues/E/E-02.md", "issues/M/M-01.md", "issues/M/M-02.md"]);
    let report = r.show("HEAD", "LogBook/issue-hunting/runs/H1.md");
    let line = report.lines().find(|l| l.contains("`issues/E/E-10.md`") && l.contains('|')).unwrap_or_else(|| panic!("{report}"));
    assert!(line.contains("git data"), "{line}");
    assert!(r.git_ok(&["fsck", "--no-progress"]));
}
