//! Benchmark of `git lanes check` (SPEC §6): a deterministic seed-style repository of 10,000
//! issues in 20 lanes, an in-sync catalog made by the built `git-lanes sync`, then
//!
//! - `grep -rl status issues/` (the bare cost of reading the files; the floor),
//! - `git-lanes check` (full: every issue file of the working tree),
//! - `git-lanes check --range <root>..HEAD` (full, from git objects),
//! - `git-lanes check --pre-push` for a push of one commit touching 3 issues,
//!
//! each timed in the same run (median of several), with its ratio to the floor.
//! Run with `cargo bench --bench check` (`LANES_BENCH_ISSUES` changes the size).

use std::path::Path;
use std::time::{Duration, Instant};

use git_lanes::process::{self, EnvPolicy, ProcessSpec};

const LANES: usize = 20;
const RUNS: usize = 7;

fn main() {
    let total: usize = std::env::var("LANES_BENCH_ISSUES").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let bin = env!("CARGO_BIN_EXE_git-lanes");
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    eprintln!("generating {total} issues in {LANES} lanes under {}", root.display());
    generate(root, total);
    sh(root, "git init -q -b main . && git add -A && git commit -q -m skeleton");
    sh(root, &format!("{bin} sync"));
    sh(root, "git add -A && git commit -q -m 'in-sync catalog'");
    sh(root, &format!("{bin} check --range HEAD~1..HEAD"));
    let base = out(root, "git rev-parse HEAD");
    // A push touching 3 issues: retitle them, sync, commit.
    for (k, lane) in ["A", "J", "T"].iter().enumerate() {
        let id = format!("{lane}-{:02}", 7 + k);
        let p = root.join(format!("issues/{lane}/{id}.md"));
        let text = std::fs::read_to_string(&p).expect("issue").replacen(&format!("{id}: "), &format!("{id}: Retitled "), 1);
        std::fs::write(&p, text).expect("write");
    }
    sh(root, &format!("{bin} sync && git add -A && git commit -q -m 'retitle 3 issues'"));
    let tip = out(root, "git rev-parse HEAD");
    std::fs::write(root.join(".git/pre-push-input"), format!("refs/heads/main {tip} refs/heads/main {base}\n")).expect("write");

    let floor = time(root, "grep -rl status issues/ > /dev/null");
    println!("{total} issues, {LANES} lanes; median of {RUNS} runs, each beside the floor measured in this run");
    println!("{:<46} {:>9}  {:>6}", "what", "median", "ratio");
    report("grep -rl status issues/ (floor)", floor, floor);
    let rows = [
        ("git-lanes check (working tree, full)", format!("{bin} check")),
        ("git-lanes check --range (git objects, full)", format!("{bin} check --range HEAD~2..HEAD")),
        ("git-lanes check --pre-push (3 issues)", format!("{bin} check --pre-push < .git/pre-push-input")),
        ("git-lanes sync --check (reference)", format!("{bin} sync --check")),
    ];
    for (name, cmd) in rows {
        report(name, time(root, &cmd), floor);
    }
}

fn report(name: &str, d: Duration, floor: Duration) {
    println!("{name:<46} {:>7.1}ms  {:>5.2}x", d.as_secs_f64() * 1e3, d.as_secs_f64() / floor.as_secs_f64());
}

/// Median wall time of `RUNS` runs (after one warm-up) of a shell command that must succeed.
fn time(root: &Path, cmd: &str) -> Duration {
    sh(root, cmd);
    let mut v: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let t = Instant::now();
            sh(root, cmd);
            t.elapsed()
        })
        .collect();
    v.sort();
    v[RUNS / 2]
}

fn run(root: &Path, cmd: &str) -> process::Finished {
    let spec = ProcessSpec::shell(cmd, root).with_env(EnvPolicy::Inherit(vec![
        ("GIT_CONFIG_NOSYSTEM".into(), "1".into()),
        ("GIT_AUTHOR_NAME".into(), "Bench".into()),
        ("GIT_AUTHOR_EMAIL".into(), "bench@example.com".into()),
        ("GIT_COMMITTER_NAME".into(), "Bench".into()),
        ("GIT_COMMITTER_EMAIL".into(), "bench@example.com".into()),
    ]));
    process::run(&spec).expect("spawn")
}

fn sh(root: &Path, cmd: &str) {
    let done = run(root, cmd);
    assert!(done.ending.success(), "`{cmd}` failed ({}): {}", done.ending, done.output.text);
}

fn out(root: &Path, cmd: &str) -> String {
    let done = run(root, cmd);
    assert!(done.ending.success(), "`{cmd}` failed: {}", done.output.text);
    done.output.text.trim().to_string()
}

/// A small deterministic generator (64-bit LCG).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[(self.next() as usize) % from.len()]
    }
}

/// Seed-style issue files (`examples/minimal_demo/issues/E/E-01.md`) and a marker-only catalog.
fn generate(root: &Path, total: usize) {
    let mut rng = Rng(42);
    let levels = [(3, "LOW"), (5, "MEDIUM"), (7, "HIGH"), (9, "CRITICAL")];
    let tags = ["policy", "compliance", "schema", "drift", "security", "docs", "api", "ux"];
    let words = ["Missing", "customer", "retention", "policy", "schema", "drift", "in", "escalation", "matrix", "config", "for", "orders"];
    let mut catalog = String::from(
        "# SAF Issue Catalog\n\n> **Last Updated:** 2026-01-01 00:00:00\n\n## Summary\n\n| Total | Resolved | Open | Progress |\n|-------|----------|------|----------|\n\n## Progress by Lane\n\n| Lane | Total | Resolved | Open | % |\n|------|-------|----------|------|---|\n\n---\n\n## Open Issues by Lane\n",
    );
    for l in 0..LANES {
        let lane = ((b'A' + l as u8) as char).to_string();
        catalog += &format!(
            "\n### Lane {lane} - Lane {lane} issues\n\n| ID | Title | Severity | Type Tags | Status |\n|----|-------|----------|-----------|--------|\n<!-- LANE_{lane}_ISSUES -->\n"
        );
        let dir = root.join("issues").join(&lane);
        std::fs::create_dir_all(&dir).expect("mkdir");
        for n in 1..=total / LANES {
            let id = format!("{lane}-{n:02}");
            let (sev, level) = levels[(rng.next() as usize) % levels.len()];
            let status = if rng.next() % 10 < 3 { "RESOLVED" } else { "OPEN" };
            let title: Vec<&str> = (0..6).map(|_| rng.pick(&words)).collect();
            let (t1, t2) = (rng.pick(&tags), rng.pick(&tags));
            let path = format!("src/{}/{}.yaml", lane.to_lowercase(), rng.pick(&words));
            let text = format!(
                "---\nissue_id: \"{id}\"\nlane: \"{lane}\"\nseverity: {sev}\nseverity_level: \"{level}\"\ntype_tags: [\"{t1}\", \"{t2}\"]\nstatus: \"{status}\"\n---\n\n# [LANE {lane}] Issue {id}: {}\n\n## Problem Description\n\nThe configuration does not include the required section, which is needed for compliance.\n\n## Evidence\n\n- File: `{path}`\n- Missing: `data_retention` section\n\n## affected_paths\n  - {path}\n\n## Fix Requirements\n\nAdd a `data_retention` section with retention_days: 365 and review_frequency: quarterly.\n\n## Verification Commands\n\n```bash\ngrep -q \"data_retention:\" {path} && echo \"PASS\" || echo \"FAIL\"\n```\n\n- **Status:** {status}\n",
                title.join(" ")
            );
            std::fs::write(dir.join(format!("{id}.md")), text).expect("write issue");
        }
    }
    std::fs::write(root.join("SAF_ISSUE_CATALOG.md"), catalog).expect("write catalog");
}
