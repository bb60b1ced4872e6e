//! Benchmark: `git lanes plan` over 10,000 issue files in 20 lanes, beside the bare cost of reading
//! the same files (`grep -rl status issues/`), measured in the same run (target: within 3×).
//!
//! `cargo bench --bench plan` generates the repository (deterministic seed), writes its catalog
//! with `git-lanes sync`, then times each command several times and prints the medians.
//! `PLAN_BENCH_KEEP=1` keeps the generated repository for profiling.

use std::path::Path;
use std::time::{Duration, Instant};

use git_lanes::process::{self, EnvPolicy, OutputTarget, ProcessSpec};

const LANES: usize = 20;
const PER_LANE: usize = 500;
const RUNS: usize = 7;

/// A small deterministic generator (64-bit LCG), so every run builds the same repository.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

fn lane_name(l: usize) -> String {
    format!("L{l:02}")
}

fn issue(rng: &mut Lcg, lane: &str, n: usize) -> String {
    let id = format!("{lane}-{n:03}");
    let status = if rng.next(4) == 0 { "RESOLVED" } else { "OPEN" };
    let paths = 1 + rng.next(12) as usize;
    let paths: Vec<String> = (0..paths).map(|p| format!("src/{lane}/m{}.rs", (n + p) % 50)).collect();
    let deps = if n > 1 && rng.next(5) == 0 { format!("[\"{lane}-{:03}\"]", n - 1) } else { "[]".into() };
    let severity = 1 + rng.next(10);
    let word = if rng.next(40) == 0 { "This needs a refactor of the module." } else { "The behaviour is wrong." };
    format!(
        "---\nissue_id: \"{id}\"\nlane: \"{lane}\"\nseverity: {severity}\nseverity_level: \"MEDIUM\"\ntype_tags: [\"policy\", \"compliance\"]\nstatus: \"{status}\"\naffected_paths: [{}]\ndepends_on: {deps}\n---\n\n# [LANE {lane}] Issue {id}: Generated issue number {n} of lane {lane}\n\n## Problem Description\n\n{word}\n\n## Evidence\n\n- File: `src/{lane}/m1.rs`\n\n## Fix Requirements\n\nMake it right.\n\n## Verification Commands\n\n```bash\ngrep -q \"fixed_{n}:\" src/{lane}/m1.rs && echo \"PASS\" || echo \"FAIL\"\n```\n\n- **Status:** {status}\n",
        paths.join(", ")
    )
}

fn generate(root: &Path) {
    let mut rng = Lcg(0x5eed);
    for l in 0..LANES {
        let lane = lane_name(l);
        let dir = root.join("issues").join(&lane);
        std::fs::create_dir_all(&dir).unwrap();
        for n in 1..=PER_LANE {
            std::fs::write(dir.join(format!("{lane}-{n:03}.md")), issue(&mut rng, &lane, n)).unwrap();
        }
    }
    std::fs::write(root.join("SAF_ISSUE_CATALOG.md"), "# Issue Catalog\n\n> **Last Updated:** never\n\n## Open Issues by Lane\n").unwrap();
    git2::Repository::init(root).unwrap();
}

fn run(program: &str, args: &[&str], cwd: &Path) -> Duration {
    let spec = ProcessSpec::new(program, args.iter().copied(), cwd)
        .with_env(EnvPolicy::Inherit(vec![]))
        .with_output(OutputTarget::Null)
        .with_timeout(Duration::from_secs(120));
    let t = Instant::now();
    let done = process::run(&spec).expect("start");
    let took = t.elapsed();
    assert!(done.ending.success() || program == "grep", "{program} {args:?}: {}", done.ending);
    took
}

fn median(program: &str, args: &[&str], cwd: &Path) -> Duration {
    run(program, args, cwd); // warm the page cache
    let mut v: Vec<Duration> = (0..RUNS).map(|_| run(program, args, cwd)).collect();
    v.sort();
    v[RUNS / 2]
}

fn main() {
    let bin = env!("CARGO_BIN_EXE_git-lanes");
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let t = Instant::now();
    generate(root);
    run(bin, &["sync"], root);
    eprintln!("generated {} issues in {LANES} lanes and synced the catalog in {:.2?}", LANES * PER_LANE, t.elapsed());

    let grep = median("grep", &["-rl", "status", "issues/"], root);
    let plan = median(bin, &["plan"], root);
    let plan_json = median(bin, &["plan", "--json"], root);
    let check = median(bin, &["sync", "--check"], root);
    let ratio = |d: Duration| d.as_secs_f64() / grep.as_secs_f64();
    println!("grep -rl status issues/   {:>8.1} ms  (baseline)", grep.as_secs_f64() * 1e3);
    println!("git lanes plan            {:>8.1} ms  {:.2}x  (target <= 3x)", plan.as_secs_f64() * 1e3, ratio(plan));
    println!("git lanes plan --json     {:>8.1} ms  {:.2}x", plan_json.as_secs_f64() * 1e3, ratio(plan_json));
    println!("git lanes sync --check    {:>8.1} ms  {:.2}x  (reference: loads the same files)", check.as_secs_f64() * 1e3, ratio(check));
    if std::env::var_os("PLAN_BENCH_KEEP").is_some() {
        eprintln!("kept the generated repository at {}", dir.keep().display());
    }
}
