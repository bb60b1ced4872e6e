//! The seed's own Python tools (`tests/fixtures/seed/tools/`, copied unchanged from the seed)
//! against what git-lanes writes, and git-lanes against what they write: a repository
//! that ignores the signal folders whole, issues in the seed's `**Verification Commands:**` layout
//! whose checks write `build/` and `__pycache__`, a custom frontmatter key, seed-only state keys.
//!
//! Needs `python3` with PyYAML (`pip install -r` the seed's requirements: `PyYAML>=6.0`). Without
//! them the test says so and passes, unless `LANES_SEED_TOOLS=1` demands them.
#![allow(clippy::disallowed_methods)] // the tests start python3 with the std API

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common_run::RunRepo;

fn tools() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/seed/tools")
}

/// Whether python3 with PyYAML is here (required when `LANES_SEED_TOOLS=1`).
fn python_ready() -> bool {
    let ok = Command::new("python3").args(["-c", "import yaml"]).output().map(|o| o.status.success()).unwrap_or(false);
    if !ok {
        assert!(std::env::var("LANES_SEED_TOOLS").as_deref() != Ok("1"), "LANES_SEED_TOOLS=1 but python3 with PyYAML is missing");
        eprintln!("skipped: python3 with PyYAML is not installed (pip install 'PyYAML>=6.0')");
    }
    ok
}

/// Run a seed tool in the repository; `(exit code, stdout + stderr)`.
fn seed_tool(r: &RunRepo, tool: &str, args: &[&str]) -> (i32, String) {
    let out = Command::new("python3")
        .arg(tools().join(tool))
        .args(args)
        .current_dir(r.root())
        .env_clear()
        .envs(r.isolated_env())
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .expect("python3 runs");
    (out.status.code().unwrap_or(-1), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// An issue in the seed's layout: a custom key, a bold `**Verification Commands:**` line and
/// `# Check N:` labels, checks that leave byte code and a build folder behind.
fn seed_issue(id: &str) -> String {
    let lane = &id[..1];
    format!(
        "---\nissue_id: \"{id}\"\nlane: \"{lane}\"\nseverity: 5\nseverity_level: \"MEDIUM\"\ntype_tags: [\"test\"]\nstatus: \"OPEN\"\naffected_paths: [\"src/{lane}.txt\"]\ndepends_on: []\nowner_team: \"payments\"\n---\n\n# [LANE {lane}] Issue {id}: Seed layout {id}\n\n## Problem Description\n\nThe token is missing.\n\n**Verification Commands:**\n\n```bash\n# Check 1: the helper imports\npython3 -c \"import sys; sys.path.insert(0, 'src'); import helper\" && echo \"PASS\" || echo \"FAIL\"\n# Check 2: the build runs\nmkdir -p build && echo obj > build/out.o && echo \"PASS\"\n# Check 3: the token is there\ngrep -q fixed-{id} src/{lane}.txt && echo \"PASS\" || echo \"FAIL\"\n```\n\n- **Status:** OPEN\n"
    )
}

const SEED_STATE: &str = "run_id: \"2025-01-04-0915\"\nstarted: \"2025-01-04T09:15:00\"\nstatus: complete\nlanes:\n  E:\n    status: completed\n    issues_fixed: 0\n    committed: true\n    issues: []\n  Q:\n    status: completed\n    issues_fixed: 3\nprogress:\n  total_lanes: 2\n  completed_lanes: 2\n  total_fixed: 3\ncomplexity_notes:\n  - lane: Q\n    note: \"needed two passes\"\n";

/// Load YAML files with PyYAML and `json.dumps` them (what a seed tool does with them).
fn python_loads_as_json(r: &RunRepo, files: &[PathBuf]) {
    let mut c = Command::new("python3");
    c.args(["-c", "import json, sys, yaml\nfor p in sys.argv[1:]:\n    json.dumps(yaml.safe_load(open(p, encoding='utf-8')))\n"]);
    c.args(files).current_dir(r.root());
    let out = c.output().unwrap();
    assert!(out.status.success(), "PyYAML + json.dumps failed on {files:?}: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn seed_tools_and_git_lanes_read_each_other() {
    if !python_ready() {
        return;
    }
    let r = RunRepo::bare();
    r.write(".gitignore", "LogBook/issue-fixing/signals/\nLogBook/issue-hunting/signals/\n");
    r.write("src/helper.py", "VALUE = 1\n");
    r.write("issues/E/E-01.md", &seed_issue("E-01"));
    r.write("issues/M/M-01.md", &seed_issue("M-01"));
    r.write("LogBook/issue-fixing/orchestrator-state.yaml", SEED_STATE);
    r.finish_setup("");
    // The seed's sync writes the summary its way (one decimal); git-lanes accepts it as in sync.
    let (code, out) = seed_tool(&r, "sync_catalog_stats.py", &[]);
    assert_eq!(code, 0, "{out}");
    assert!(r.read("SAF_ISSUE_CATALOG.md").contains("] 0.0% |"), "{}", r.read("SAF_ISSUE_CATALOG.md"));
    r.cmd().args(["sync", "--check"]).assert().code(0);
    r.cmd().arg("validate").assert().code(0);
    // Checks under the bold line are read, labels shown.
    let shown = r.cmd().args(["verify", "E-01", "--no-evidence"]).output().unwrap();
    let shown = String::from_utf8_lossy(&shown.stdout).into_owned();
    assert!(shown.contains("the helper imports") && shown.contains("the token is there"), "{shown}");
    // `verify` in the user's worktree leaves the checks' new untracked files (it never deletes a
    // file there); the user tidies them.
    assert!(r.root().join("build/out.o").exists());
    r.git(&["clean", "-fdq", "build", "src/__pycache__"]);
    r.git(&["add", "-A"]);
    r.git(&["commit", "-q", "-m", "catalog synced by the seed"]);

    let out = r.run("R1", &[], &[]);
    out.expect_code(0);
    for id in ["E-01", "M-01"] {
        assert_eq!(r.status_on_head(id), "RESOLVED", "{id}: {}", out.stdout);
        let text = r.show("HEAD", &format!("issues/{}/{id}.md", &id[..1]));
        assert!(text.contains("owner_team: \"payments\""), "custom key lost: {text}");
        assert!(text.contains("verification_confidence: 100\n"), "{text}");
    }
    let files = r.git(&["ls-tree", "-r", "--name-only", "HEAD"]);
    assert!(!files.contains("__pycache__") && !files.contains("build/") && !files.contains("signals/"), "{files}");
    // The committed catalog keeps the seed's style, and the seed's check agrees with it.
    let catalog = r.read("SAF_ISSUE_CATALOG.md");
    assert!(catalog.contains("] 100.0% |"), "{catalog}");
    let (code, out) = seed_tool(&r, "sync_catalog_stats.py", &["--check"]);
    assert_eq!(code, 0, "{out}");
    // The state keeps what the seed wrote, in the seed's words, loadable by PyYAML.
    let state = r.read("LogBook/issue-fixing/orchestrator-state.yaml");
    for kept in ["complexity_notes:", "needed two passes", "committed: true", "  Q:", "status: completed"] {
        assert!(state.contains(kept), "{kept} missing from the state:\n{state}");
    }
    assert!(!state.contains("status: done"), "{state}");
    let mut yaml_files = vec![PathBuf::from("LogBook/issue-fixing/orchestrator-state.yaml")];
    for id in ["E-01", "M-01"] {
        let v = PathBuf::from(format!("LogBook/issue-fixing/runs/R1/{id}.verdict.yaml"));
        assert!(r.read(v.to_str().unwrap()).contains(&format!("brick_id: {id}")), "{}", r.read(v.to_str().unwrap()));
        yaml_files.push(v);
    }
    for lane in ["E", "M"] {
        let wo = r.root().join(".git/lanes/runs/R1").join(lane).join("work-order.yaml");
        let text = std::fs::read_to_string(&wo).unwrap();
        assert!(text.contains(&format!("brick_id: {lane}")), "{text}");
        assert!(text.contains("created_at: \"") && text.contains("Z\""), "{text}");
        yaml_files.push(wo);
    }
    python_loads_as_json(&r, &yaml_files);

    // The seed's verify_issue.py writes evidence git-lanes reads: drop git-lanes' own first.
    r.git(&["rm", "-r", "-q", "LogBook/verification/evidence"]);
    r.git(&["commit", "-q", "-m", "drop git-lanes evidence"]);
    let (code, out) = seed_tool(&r, "verify_issue.py", &["E-01"]);
    assert_eq!(code, 0, "{out}");
    let stale = |r: &RunRepo| -> Vec<String> {
        let out = r.cmd().args(["--json", "status"]).output().unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["stale_evidence"]["issues"].as_array().unwrap().iter().map(|i| format!("{} {}", i["id"], i["state"])).collect()
    };
    assert_eq!(stale(&r), vec!["\"M-01\" \"missing\""], "the seed's evidence of E-01 counts");
    // A newer file that is not evidence does not hide it.
    r.write("LogBook/verification/evidence/E/E-01_29991231_235959.json", "{ not json");
    assert_eq!(stale(&r), vec!["\"M-01\" \"missing\""]);
    std::fs::remove_file(r.root().join("LogBook/verification/evidence/E/E-01_29991231_235959.json")).unwrap();
    // Committed, it stays fresh until an affected path changes after the commit that added it.
    r.git(&["add", "LogBook/verification/evidence"]);
    r.git(&["commit", "-q", "-m", "seed evidence"]);
    assert_eq!(stale(&r), vec!["\"M-01\" \"missing\""]);
    r.write("src/E.txt", "E base\nfixed-E-01\nchanged later\n");
    r.git(&["commit", "-q", "-am", "change E after the evidence"]);
    assert_eq!(stale(&r), vec!["\"E-01\" \"stale\"", "\"M-01\" \"missing\""]);
}
