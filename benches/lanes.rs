//! Catalog benchmark (docs/design.md#the-performance-model): `sync --check`, `sync`, `validate`, `status`, `plan` and
//! `check` (working tree, and `--pre-push` for a push touching 3 issues) on a generated repository
//! of 10,000 issues in 20 lanes, warm (summary cache current) and cold (cache deleted before each
//! run), each printed beside the floor measured in the same run: `grep -rl status issues/` over
//! the same files (the bare cost of reading them).
//!
//! `cargo bench --bench lanes` (needs `cargo build --release` first; `cargo bench` builds it).
//! `LANES_BENCH_SMOKE=1` runs a small repository once, for CI.
#![allow(clippy::print_stdout, clippy::disallowed_methods)]

mod support;

use std::path::Path;

use support::*;

fn main() {
    let (issues, runs) = if smoke() { (1_000, 1) } else { (10_000, 9) };
    let (_tmp, dir) = workdir();
    let repo = generate(&dir, &Shape { issues, lanes: 20, resolved_pct: 30, stale: 0 });
    settle();
    let bin = binary();
    // Ids are zero-padded to the width of the per-lane count (`A-001` for 500 a lane).
    let width = (issues / 20).to_string().len().max(2);
    let id = |lane: &str, n: usize| format!("{lane}-{n:0width$}");
    let grep = measure(&repo, Path::new("grep"), &["-rl", "status", "issues/"], runs, Some(0), &|| {});
    println!("git-lanes catalog benchmark: {issues} issues in 20 lanes, median of {runs} runs");
    println!("{:<32} {:>9.1} ms", "floor: grep -rl status issues/", ms(&grep.median));
    // Cold: the summary cache deleted before every run (so each run reads, parses and writes it).
    let cache = repo.join(".git/lanes/cache");
    let drop_cache = || {
        let _ = std::fs::remove_dir_all(&cache);
    };
    let cold = measure(&repo, &bin, &["sync", "--check"], runs, Some(0), &drop_cache);
    row("sync --check (cold, no cache)", &cold.median, &grep.median, "<= 1.5x");
    let cold_validate = measure(&repo, &bin, &["validate"], runs, None, &drop_cache);
    row("validate (cold)", &cold_validate.median, &grep.median, "-");
    // Warm: the cache is current (the warm-up run of `measure` writes it).
    let check = measure(&repo, &bin, &["sync", "--check"], runs, Some(0), &|| {});
    row("sync --check (warm)", &check.median, &grep.median, "<= 0.5x");
    let validate = measure(&repo, &bin, &["validate"], runs, None, &|| {});
    row("validate (warm)", &validate.median, &grep.median, "<= 0.5x");
    let status = measure(&repo, &bin, &["status"], runs, Some(0), &|| {});
    row("status (warm)", &status.median, &grep.median, "<= 0.5x");
    // A stale catalog: flip one issue before every timed `sync` so each run really writes.
    let issue = repo.join(format!("issues/A/{}.md", id("A", 1)));
    let original = std::fs::read_to_string(&issue).unwrap();
    let flip = || {
        let now = std::fs::read_to_string(&issue).unwrap();
        let next = if now.contains("status: \"OPEN\"") {
            now.replace("status: \"OPEN\"", "status: \"RESOLVED\"")
        } else {
            now.replace("status: \"RESOLVED\"", "status: \"OPEN\"")
        };
        std::fs::write(&issue, next).unwrap();
    };
    let sync = measure(&repo, &bin, &["sync"], runs, Some(0), &flip);
    row("sync (writes; 1 file changed)", &sync.median, &grep.median, "<= 2x + one write");
    std::fs::write(&issue, original).unwrap();
    run_ok(&repo, &["sync"]);
    let plan = measure(&repo, &bin, &["plan"], runs, Some(0), &|| {});
    row("plan (warm)", &plan.median, &grep.median, "<= 0.5x");
    let check = measure(&repo, &bin, &["check"], runs, Some(0), &|| {});
    row("check (working tree, warm)", &check.median, &grep.median, "<= 0.5x");
    // A push of one commit that retitles 3 issues (and syncs the catalog).
    let base = git_out(&repo, &["rev-parse", "HEAD"]);
    for lane in ["A", "J", "T"] {
        let i = id(lane, 7);
        let p = repo.join(format!("issues/{lane}/{i}.md"));
        let t = std::fs::read_to_string(&p).unwrap().replacen(&format!("{i}: "), &format!("{i}: Retitled "), 1);
        std::fs::write(&p, t).unwrap();
    }
    run_ok(&repo, &["sync"]);
    git_out(&repo, &["commit", "-qam", "retitle three issues"]);
    let tip = git_out(&repo, &["rev-parse", "HEAD"]);
    let input = repo.join(".git/pre-push-input");
    std::fs::write(&input, format!("refs/heads/main {tip} refs/heads/main {base}\n")).unwrap();
    let pre_push = measure_stdin(&repo, &bin, &["check", "--pre-push"], runs, &input);
    row("check --pre-push (3 issues)", &pre_push.median, &grep.median, "<= 3x");
    // A push that touches no issue file (code only): the catalog and issue checks are skipped.
    std::fs::write(repo.join("src.txt"), "code\n").unwrap();
    git_out(&repo, &["add", "src.txt"]);
    git_out(&repo, &["commit", "-qm", "code only"]);
    let code_tip = git_out(&repo, &["rev-parse", "HEAD"]);
    std::fs::write(&input, format!("refs/heads/main {code_tip} refs/heads/main {tip}\n")).unwrap();
    let code_only = measure_stdin(&repo, &bin, &["check", "--pre-push"], runs, &input);
    row("check --pre-push (code only)", &code_only.median, &grep.median, "far below a full check");
    let rss_mb = sync.max_rss_kb.max(cold.max_rss_kb) as f64 / 1024.0;
    println!("{:<32} {:>9.1} MB   (target < 50 MB)", "peak RSS of any git-lanes run", rss_mb);
    println!("seed's Python sync on such a repo: ~230 ms check, ~670 ms write; 10x faster means <= 23 / 67 ms");
}
