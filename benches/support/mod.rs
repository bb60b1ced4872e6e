//! Shared by the benchmarks: a deterministic generator of large seed-style repositories and a
//! timer that runs commands and reports the median wall time and peak memory.
#![allow(dead_code, clippy::disallowed_methods)] // benches measure real processes directly

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What to generate.
pub struct Shape {
    pub issues: usize,
    pub lanes: usize,
    /// Percent of issues that are RESOLVED.
    pub resolved_pct: u32,
    /// Flip this many statuses after the catalog was synced, leaving it stale.
    pub stale: usize,
}

/// A tiny deterministic PRNG (xorshift), so every run generates the same repository.
pub struct Rng(u64);
impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const WORDS: &[&str] = &[
    "retention",
    "policy",
    "schema",
    "drift",
    "privacy",
    "notice",
    "escalation",
    "timeout",
    "index",
    "cache",
    "ledger",
    "audit",
    "token",
    "export",
    "import",
    "queue",
    "backoff",
    "quota",
    "report",
    "invoice",
];

/// The path of the release binary the benches time.
pub fn binary() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target"));
    let p = target.join("release/git-lanes");
    assert!(p.exists(), "build the release binary first: cargo build --release ({})", p.display());
    p
}

/// Lane names: A, B, … (skipping none), 20 lanes by default.
pub fn lane_name(i: usize) -> String {
    let letters = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    if i < 26 { (letters[i] as char).to_string() } else { format!("L{i}") }
}

/// Let the file system write back what the previous step created and deleted, so a measurement
/// does not pay for the write-back of a repository generated just before it.
pub fn settle() {
    let _ = std::process::Command::new("sync").status();
    std::thread::sleep(std::time::Duration::from_secs(2));
}

/// Generate a seed-style repository at `dir` (a fresh git repo with one commit) and return it.
pub fn generate(dir: &Path, shape: &Shape) -> PathBuf {
    let mut rng = Rng::new(0x5eed_1a9e5);
    std::fs::create_dir_all(dir).unwrap();
    let mut catalog = String::from(
        "# Issue Catalog (generated)\n\n> **Last Updated:** 2026-01-01 00:00:00\n\n## Summary\n\n| Total | Resolved | Open | Progress |\n|-------|----------|------|----------|\n\n## Progress by Lane\n\n| Lane | Total | Resolved | Open | % |\n|------|-------|----------|------|---|\n\n---\n\n## Open Issues by Lane\n",
    );
    for l in 0..shape.lanes {
        let lane = lane_name(l);
        catalog += &format!(
            "\n### Lane {lane} - Generated lane {lane}\n\n| ID | Title | Severity | Type Tags | Status |\n|----|-------|----------|-----------|--------|\n<!-- LANE_{lane}_ISSUES -->\n"
        );
        std::fs::create_dir_all(dir.join("issues").join(&lane)).unwrap();
    }
    catalog += "\n---\n\n## Notes\n\nProse that sync must keep byte for byte.\n";
    std::fs::write(dir.join("SAF_ISSUE_CATALOG.md"), catalog).unwrap();
    let per_lane = shape.issues.div_ceil(shape.lanes);
    let mut written = Vec::new();
    for n in 0..shape.issues {
        let lane = lane_name(n % shape.lanes);
        let num = n / shape.lanes + 1;
        let id = format!("{lane}-{num:0width$}", width = per_lane.to_string().len().max(2));
        let resolved = rng.below(100) < shape.resolved_pct as u64;
        let sev = 1 + rng.below(10);
        let title: Vec<&str> = (0..3 + rng.below(6)).map(|_| WORDS[rng.below(WORDS.len() as u64) as usize]).collect();
        let path = format!("src/{}/{}.txt", lane.to_lowercase(), WORDS[rng.below(WORDS.len() as u64) as usize]);
        // 1-12 affected paths (so plans see every complexity) and, now and then, a dependency.
        let more: Vec<String> = (0..rng.below(12)).map(|k| format!("\"src/{}/m{k}.rs\"", lane.to_lowercase())).collect();
        let paths = std::iter::once(format!("\"{path}\"")).chain(more).collect::<Vec<_>>().join(", ");
        let deps = if num > 1 && rng.below(5) == 0 {
            format!("[\"{lane}-{:0width$}\"]", num - 1, width = per_lane.to_string().len().max(2))
        } else {
            "[]".into()
        };
        let text = format!(
            "---\nissue_id: \"{id}\"\nlane: \"{lane}\"\nseverity: {sev}\nseverity_level: \"{lvl}\"\ntype_tags: [\"{t1}\", \"{t2}\"]\nstatus: \"{st}\"\naffected_paths: [{paths}]\ndepends_on: {deps}\n---\n\n# [LANE {lane}] Issue {id}: {title}\n\n## Problem Description\n\nThe {w} is not handled when the {w2} changes; generated for benchmarks.\n\n## Evidence\n\n- File: `{path}`\n\n## affected_paths\n  - {path}\n\n## Fix Requirements\n\nHandle the {w} change.\n\n## Verification Commands\n\n```bash\ngrep -q \"{w}\" {path} && echo \"PASS\" || echo \"FAIL\"\n```\n\n- **Status:** {st}\n",
            lvl = ["LOW", "MEDIUM", "HIGH"][(sev as usize - 1) / 4],
            t1 = WORDS[rng.below(20) as usize],
            t2 = WORDS[rng.below(20) as usize],
            st = if resolved { "RESOLVED" } else { "OPEN" },
            title = title.join(" "),
            w = WORDS[rng.below(20) as usize],
            w2 = WORDS[rng.below(20) as usize],
        );
        let p = dir.join("issues").join(&lane).join(format!("{id}.md"));
        std::fs::write(&p, text).unwrap();
        written.push(p);
    }
    git_out(dir, &["init", "-q", "-b", "main"]);
    run_ok(dir, &["sync"]);
    for p in written.iter().take(shape.stale) {
        let t = std::fs::read_to_string(p).unwrap();
        let flipped = if t.contains("status: \"OPEN\"") {
            t.replace("status: \"OPEN\"", "status: \"RESOLVED\"")
        } else {
            t.replace("status: \"RESOLVED\"", "status: \"OPEN\"")
        };
        std::fs::write(p, flipped).unwrap();
    }
    git_out(dir, &["add", "-A"]);
    git_out(dir, &["commit", "-q", "-m", "generated"]);
    dir.to_path_buf()
}

/// Run the binary with `args` in `dir` and require success.
pub fn run_ok(dir: &Path, args: &[&str]) {
    let st = Command::new(binary()).args(args).current_dir(dir).stdout(Stdio::null()).stderr(Stdio::null()).status().unwrap();
    assert!(st.success(), "git-lanes {args:?} failed in {}", dir.display());
}

/// A measured command: median wall time and the peak RSS of the child.
pub struct Measure {
    pub median: Duration,
    pub max_rss_kb: i64,
}

/// Run `program args` in `dir` `runs` times (after one warm-up) and measure; `expect` is the
/// exit code it must end with (`None`: any), `prepare` runs before each timed run.
pub fn measure(dir: &Path, program: &Path, args: &[&str], runs: usize, expect: Option<i32>, prepare: &dyn Fn()) -> Measure {
    let mut times = Vec::new();
    for i in 0..=runs {
        prepare();
        let start = Instant::now();
        let st = Command::new(program).args(args).current_dir(dir).stdout(Stdio::null()).stderr(Stdio::null()).status().unwrap();
        let took = start.elapsed();
        if let Some(code) = expect {
            assert_eq!(st.code(), Some(code), "{} {args:?}", program.display());
        }
        if i > 0 {
            times.push(took);
        }
    }
    times.sort();
    Measure { median: times[times.len() / 2], max_rss_kb: children_max_rss_kb() }
}

#[allow(unsafe_code)]
fn children_max_rss_kb() -> i64 {
    // SAFETY: getrusage writes into the zeroed struct we own.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut u) };
    u.ru_maxrss
}

/// One line of a report: figure, baseline, ratio.
pub fn row(name: &str, m: &Duration, base: &Duration, target: &str) {
    println!(
        "{name:<32} {:>9.1} ms   floor {:>7.1} ms   {:>5.2}x   (target {target})",
        ms(m),
        ms(base),
        m.as_secs_f64() / base.as_secs_f64()
    );
}

pub fn ms(d: &Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A folder for the generated repository: `LANES_BENCH_KEEP=<dir>` keeps it there (for
/// profiling), otherwise a temporary folder removed at the end.
pub fn workdir() -> (Option<tempfile::TempDir>, PathBuf) {
    match std::env::var_os("LANES_BENCH_KEEP") {
        Some(d) => {
            let d = PathBuf::from(d);
            let _ = std::fs::remove_dir_all(&d);
            (None, d)
        }
        None => {
            let t = tempfile::tempdir().unwrap();
            let p = t.path().join("repo");
            (Some(t), p)
        }
    }
}

/// Smoke mode (CI): small repo, one run.
pub fn smoke() -> bool {
    std::env::var_os("LANES_BENCH_SMOKE").is_some()
}

/// `git <args>` in `dir` (bench identity); returns trimmed stdout.
pub fn git_out(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "bench")
        .env("GIT_AUTHOR_EMAIL", "bench@example.invalid")
        .env("GIT_COMMITTER_NAME", "bench")
        .env("GIT_COMMITTER_EMAIL", "bench@example.invalid")
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Like [`measure`] with `stdin` fed from a file; the command must succeed.
pub fn measure_stdin(dir: &Path, program: &Path, args: &[&str], runs: usize, stdin: &Path) -> Measure {
    let mut times = Vec::new();
    for i in 0..=runs {
        let start = Instant::now();
        let st = Command::new(program)
            .args(args)
            .current_dir(dir)
            .stdin(std::fs::File::open(stdin).unwrap())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        let took = start.elapsed();
        assert!(st.success(), "{} {args:?}", program.display());
        if i > 0 {
            times.push(took);
        }
    }
    times.sort();
    Measure { median: times[times.len() / 2], max_rss_kb: children_max_rss_kb() }
}
