//! Benchmark of `git lanes verify` against its floor: the same checks run by `sh -c`, one after
//! another, from a bare loop.
//!
//! Builds a temporary git repository with 200 issues, each with one trivial check
//! (`test -f README.md && echo PASS || echo FAIL`), then times (median of several rounds):
//! - the baseline: the 200 commands spawned one after another with `std::process::Command`
//!   (output captured), and again through `git_lanes::exec::process::run` (process group, waiter
//!   thread, capped capture, scrubbed environment, timeout);
//! - `git-lanes verify --all --no-evidence -j 1` and `-j <cores>` (the release binary).
//!
//! Target: `verify -j 1` within 1.5× of the bare `sh -c` loop. Run with
//! `cargo bench --bench verify` (`VERIFY_BENCH_ISSUES` and `VERIFY_BENCH_ROUNDS` override the
//! sizes).
#![allow(clippy::print_stdout)]

use std::path::Path;
use std::time::{Duration, Instant};

use git_lanes::exec::process::{self, EnvPolicy, ProcessSpec};

const CHECK: &str = "test -f README.md && echo PASS || echo FAIL";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[allow(clippy::disallowed_methods)] // benchmark setup and the bare baseline, not product code
fn command(program: &str) -> std::process::Command {
    std::process::Command::new(program)
}

fn git(root: &Path, args: &[&str]) {
    let status = command("git")
        .args(args)
        .current_dir(root)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "bench")
        .env("GIT_AUTHOR_EMAIL", "bench@example.com")
        .env("GIT_COMMITTER_NAME", "bench")
        .env("GIT_COMMITTER_EMAIL", "bench@example.com")
        .status()
        .expect("git runs");
    assert!(status.success(), "git {args:?}");
}

fn make_repo(root: &Path, issues: usize) {
    git(root, &["init", "-q", "-b", "main"]);
    std::fs::write(root.join("README.md"), "# bench\n").unwrap();
    let dir = root.join("issues/E");
    std::fs::create_dir_all(&dir).unwrap();
    for n in 1..=issues {
        let id = format!("E-{n:03}");
        let text = format!(
            "---\nissue_id: \"{id}\"\nlane: \"E\"\nseverity: 3\nstatus: \"OPEN\"\naffected_paths: [\"README.md\"]\n---\n\n# [LANE E] Issue {id}: Bench issue {n}\n\n## Verification Commands\n\n```bash\n{CHECK}\n```\n\n- **Status:** OPEN\n"
        );
        std::fs::write(dir.join(format!("{id}.md")), text).unwrap();
    }
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "bench issues"]);
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time_rounds(rounds: usize, mut f: impl FnMut()) -> Duration {
    f(); // warm-up (page cache, binary)
    median(
        (0..rounds)
            .map(|_| {
                let t0 = Instant::now();
                f();
                t0.elapsed()
            })
            .collect(),
    )
}

fn main() {
    // `cargo bench` passes `--bench`; nothing to filter here.
    let issues = env_usize("VERIFY_BENCH_ISSUES", 200);
    let rounds = env_usize("VERIFY_BENCH_ROUNDS", 5);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let bin = env!("CARGO_BIN_EXE_git-lanes");
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = tmp.path().canonicalize().unwrap();
    make_repo(&root, issues);

    let bare = time_rounds(rounds, || {
        for _ in 0..issues {
            let out = command("sh").args(["-c", CHECK]).current_dir(&root).output().expect("sh runs");
            assert_eq!(out.stdout, b"PASS\n");
        }
    });
    let env = process::scrubbed_env(&[]);
    let via_process = time_rounds(rounds, || {
        for _ in 0..issues {
            let spec = ProcessSpec::shell(CHECK, &root).with_env(EnvPolicy::Clear(env.clone())).with_timeout(Duration::from_secs(30));
            let done = process::run(&spec).expect("sh runs");
            assert_eq!(done.output.text, "PASS\n");
        }
    });
    let verify = |jobs: usize| {
        time_rounds(rounds, || {
            let out = command(bin)
                .args(["verify", "--all", "--no-evidence", "-q", "-j", &jobs.to_string()])
                .current_dir(&root)
                .output()
                .expect("git-lanes runs");
            assert!(out.status.success(), "verify failed: {}", String::from_utf8_lossy(&out.stderr));
        })
    };
    let seq = verify(1);
    let par = verify(cores);

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let ratio = |d: Duration| d.as_secs_f64() / bare.as_secs_f64();
    println!("verify benchmark: {issues} issues, 1 check each, median of {rounds} rounds, {cores} core(s)");
    println!("  baseline  sh -c loop (std::process::Command)   {:>8.1} ms", ms(bare));
    println!("  baseline  sh -c loop (git_lanes::exec::process::run) {:>8.1} ms  ({:.2}x)", ms(via_process), ratio(via_process));
    println!("  git lanes verify --all -j 1                    {:>8.1} ms  ({:.2}x)", ms(seq), ratio(seq));
    println!("  git lanes verify --all -j {cores:<3}                  {:>8.1} ms  ({:.2}x)", ms(par), ratio(par));
    let verdict = if ratio(seq) <= 1.5 { "met" } else { "MISSED" };
    println!("  target: verify -j 1 <= 1.5x the sh -c loop: {verdict} ({:.2}x)", ratio(seq));
}
