//! End-to-end tests of the worktree pool (docs/design.md#reused-worktrees-the-pool): a finished run's clean worktrees are kept
//! on a detached HEAD under `.git/lanes/worktrees/.pool/` and the next run re-points them instead
//! of adding new ones; a dirty or foreign worktree is never reused (nor deleted); `clean` empties
//! the pool; `worktree_pool: false` turns it off; a kill while a worktree moves in or out of the
//! pool leaves a state the next run or `run --resume` handles.
#![allow(clippy::disallowed_methods)] // the tests start processes with the std API

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::common_run::{RunRepo, token_check, wait_with_deadline};

/// The pooled worktrees' folders, in name order.
fn pooled(r: &RunRepo) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> =
        std::fs::read_dir(r.root().join(".git/lanes/worktrees/.pool")).map(|d| d.flatten().map(|e| e.path()).collect()).unwrap_or_default();
    v.sort();
    v
}

fn inode(p: &Path) -> u64 {
    std::fs::metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).ino()
}

/// The worktrees git has registered (`git worktree list`), the main one first.
fn registered(r: &RunRepo) -> Vec<PathBuf> {
    r.git(&["worktree", "list", "--porcelain"]).lines().filter_map(|l| l.strip_prefix("worktree ")).map(PathBuf::from).collect()
}

/// The private git folder of a linked worktree (its `.git` file's `gitdir:`).
fn admin_of(worktree: &Path) -> PathBuf {
    let text = std::fs::read_to_string(worktree.join(".git")).unwrap();
    PathBuf::from(text.trim().strip_prefix("gitdir:").unwrap().trim())
}

/// Add one more OPEN issue to each lane and commit, so a second run has work.
fn more_work(r: &RunRepo, n: u32) {
    for lane in ["E", "M"] {
        let id = format!("{lane}-{n:02}");
        r.issue(&id, &[&format!("src/{lane}.txt")], &token_check(&id));
    }
    r.cmd().arg("sync").assert().success();
    r.git(&["add", "-A"]);
    r.git(&["commit", "-q", "-m", &format!("issues {n}")]);
}

fn resume(r: &RunRepo, fault: Option<&str>) -> std::process::Output {
    let mut c = r.cmd();
    c.args(["run", "--resume", "--done-grace", "1s", "--timeout", "60s"]);
    if let Some(f) = fault {
        c.env("LANES_FAULT", f);
    }
    c.output().unwrap()
}

/// `run --resume` with no fault; it must succeed.
fn resume_ok(r: &RunRepo) {
    let resumed = resume(r, None);
    assert_eq!(
        resumed.status.code(),
        Some(0),
        "{}\n{}",
        String::from_utf8_lossy(&resumed.stdout),
        String::from_utf8_lossy(&resumed.stderr)
    );
}

fn run_with_fault(r: &RunRepo, run_id: &str, fault: &str) -> std::process::Output {
    let mut c = r.cmd();
    c.args(["run", "--run-id", run_id, "--done-grace", "1s", "--timeout", "60s"]).env("LANES_FAULT", fault);
    c.output().unwrap()
}

#[test]
fn a_second_run_reuses_the_pooled_worktrees_and_rewrites_only_what_changed() {
    let r = RunRepo::standard();
    r.run("R1", &[], &[]).expect_code(0);
    let pool = pooled(&r);
    assert_eq!(pool.len(), 3, "both lanes' and the integration worktree are pooled: {pool:?}");
    let listed = registered(&r);
    for p in &pool {
        assert!(listed.iter().any(|l| l == p), "{} is not registered: {listed:?}", p.display());
        let admin = admin_of(p);
        assert!(admin.join("lanes-pool").exists(), "no pool marker for {}", p.display());
        assert!(!admin.join("lanes-ready").exists(), "a pooled worktree keeps its ready marker");
        assert!(!std::fs::read_to_string(admin.join("HEAD")).unwrap().starts_with("ref:"), "a pooled worktree is not detached");
        // Moved in this process (not by `git worktree move`): git itself finds it where it is.
        let top = r.git(&["-C", p.to_str().unwrap(), "rev-parse", "--show-toplevel"]);
        assert_eq!(Path::new(top.trim()).canonicalize().unwrap(), p.canonicalize().unwrap());
        assert_eq!(r.git(&["-C", p.to_str().unwrap(), "status", "--porcelain"]), "", "{} is not clean", p.display());
    }
    assert!(!r.git(&["worktree", "list", "--porcelain"]).contains("prunable"), "git lost track of a pooled worktree");
    assert!(r.lane_branches().is_empty(), "{:?}", r.lane_branches());
    assert!(r.has_ref("refs/lanes/archive/R1/E") && r.has_ref("refs/lanes/archive/R1/M"));
    assert!(!r.root().join(".git/lanes/worktrees/R1").exists(), "the run's emptied worktree folder is left");
    let pooled_inodes: Vec<u64> = pool.iter().map(|p| inode(&p.join("README.md"))).collect();

    more_work(&r, 2);
    let mut child = r.run_child("R2", &[("E", "gate"), ("M", "gate")], &[]);
    assert!(r.wait_for_marker("started-E", Duration::from_secs(60)) && r.wait_for_marker("started-M", Duration::from_secs(60)));
    for lane in ["E", "M"] {
        let wt = r.worktree("R2", lane);
        // An unchanged file is the pooled one, not written again; a new one is there.
        assert!(pooled_inodes.contains(&inode(&wt.join("README.md"))), "lane {lane}'s worktree is not a pooled one");
        assert!(wt.join(format!("issues/{lane}/{lane}-02.md")).exists(), "lane {lane}'s worktree is not at the new base");
        assert!(!admin_of(&wt).join("lanes-pool").exists(), "a reused worktree is still marked as pooled");
        // The lane's branch, or (a sandboxed worker) a HEAD detached from it whose commits are
        // the worker's own until it ends.
        let head = std::fs::read_to_string(admin_of(&wt).join("HEAD")).unwrap();
        let head = head.trim();
        assert!(head == format!("ref: refs/heads/lanes/R2/{lane}") || (head.len() == 40 && !head.starts_with("ref:")), "{head}");
        assert!(r.has_ref(&format!("refs/heads/lanes/R2/{lane}")));
    }
    assert_eq!(pooled(&r).len(), 1, "two of the three pooled worktrees were taken");
    r.open_gate();
    let out = wait_with_deadline(&mut child, Duration::from_secs(120)).expect("the second run ends");
    out.expect_code(0);
    assert_eq!(r.status_on_head("E-02"), "RESOLVED");
    assert_eq!(r.status_on_head("M-02"), "RESOLVED");
    assert_eq!(pooled(&r).len(), 4, "the second run's worktrees went back to the pool");
    assert!(!r.git(&["worktree", "list", "--porcelain"]).contains("prunable"));
    r.assert_nothing_lost("R2", &["E", "M"]);
}

#[test]
fn a_dirty_pooled_worktree_is_neither_reused_nor_deleted() {
    let r = RunRepo::standard();
    r.run("R1", &[], &[]).expect_code(0);
    let pool = pooled(&r);
    assert_eq!(pool.len(), 3);
    std::fs::write(pool[0].join("notes.txt"), "mine\n").unwrap();
    std::fs::write(pool[1].join("README.md"), "edited in the pool\n").unwrap();
    let clean_inode = inode(&pool[2].join("README.md"));
    more_work(&r, 2);
    let out = r.run("R2", &[], &[]);
    out.expect_code(0);
    let said = format!("{}{}", out.stdout, out.stderr);
    for p in &pool[..2] {
        assert!(said.contains(&format!("the pooled worktree {} holds uncommitted changes", p.display())), "{said}");
    }
    assert_eq!(std::fs::read_to_string(pool[0].join("notes.txt")).unwrap(), "mine\n");
    assert_eq!(std::fs::read_to_string(pool[1].join("README.md")).unwrap(), "edited in the pool\n");
    assert!(registered(&r).contains(&pool[0]) && registered(&r).contains(&pool[1]));
    // The clean one was taken (and came back), the dirty ones stayed; R2's three went back too.
    let now = pooled(&r);
    assert_eq!(now.len(), 5, "{now:?}");
    assert!(now.iter().any(|p| inode(&p.join("README.md")) == clean_inode));
    assert_eq!(r.status_on_head("E-02"), "RESOLVED");
}

#[test]
fn clean_empties_the_pool_but_keeps_a_dirty_or_foreign_worktree() {
    let r = RunRepo::standard();
    r.run("R1", &[], &[]).expect_code(0);
    let pool = pooled(&r);
    assert_eq!(pool.len(), 3);
    std::fs::write(pool[0].join("notes.txt"), "mine\n").unwrap();
    // The user's own worktree in the pool's folder has no marker: not the pool's.
    let mine = r.root().join(".git/lanes/worktrees/.pool/mine");
    r.git(&["worktree", "add", "-q", "--detach", mine.to_str().unwrap(), "HEAD"]);
    let dry = r.cmd().args(["clean", "--dry-run"]).output().unwrap();
    assert_eq!(dry.status.code(), Some(0));
    let text = String::from_utf8_lossy(&dry.stdout);
    assert!(text.contains(&format!("remove pooled worktree {}", pool[1].display())), "{text}");
    assert!(text.contains(&format!("keep pooled worktree {}", pool[0].display())), "{text}");
    assert_eq!(pooled(&r).len(), 4, "a dry run removed something");
    let out = r.cmd().arg("clean").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    // One true thing per worktree: removed, or kept with the reason.
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains(&format!("removed pooled worktree {}: it holds no work", pool[1].display())), "{said}");
    assert!(said.contains(&format!("kept pooled worktree {}: it holds uncommitted changes", pool[0].display())), "{said}");
    assert!(!said.contains("kept for the next run") && !said.contains("done:"), "{said}");
    assert_eq!(pooled(&r), vec![pool[0].clone(), mine.clone()]);
    assert_eq!(std::fs::read_to_string(pool[0].join("notes.txt")).unwrap(), "mine\n");
    let listed = registered(&r);
    assert_eq!(listed.len(), 3, "{listed:?}");
    // The next run uses neither.
    more_work(&r, 2);
    r.run("R2", &[], &[]).expect_code(0);
    assert!(mine.join("README.md").exists() && pool[0].join("notes.txt").exists());
    assert!(!admin_of(&mine).join("lanes-pool").exists());
}

#[test]
fn the_pool_can_be_turned_off() {
    let r = RunRepo::bare();
    r.issue("E-01", &["src/E.txt"], &token_check("E-01"));
    r.issue("M-01", &["src/M.txt"], &token_check("M-01"));
    r.finish_setup("worktree_pool: false\n");
    r.run("R1", &[], &[]).expect_code(0);
    assert!(pooled(&r).is_empty());
    assert_eq!(registered(&r).len(), 1, "{:?}", registered(&r));
    assert!(!r.worktree("R1", "E").exists() && !r.worktree("R1", "M").exists());
}

#[test]
fn the_pool_keeps_at_most_its_size() {
    let r = RunRepo::bare();
    r.issue("E-01", &["src/E.txt"], &token_check("E-01"));
    r.issue("M-01", &["src/M.txt"], &token_check("M-01"));
    r.finish_setup("worktree_pool_size: 2\n");
    r.run("R1", &[], &[]).expect_code(0);
    assert_eq!(pooled(&r).len(), 2);
    assert_eq!(registered(&r).len(), 3, "{:?}", registered(&r));
}

#[test]
fn a_kill_while_a_worktree_moves_into_the_pool_is_finished_by_resume() {
    let r = RunRepo::standard();
    let out = run_with_fault(&r, "R1", "mid-pool");
    assert_eq!(out.status.code(), None, "the fault point did not abort: {}", String::from_utf8_lossy(&out.stderr));
    resume_ok(&r);
    assert_eq!(r.status_on_head("E-01"), "RESOLVED");
    assert_eq!(pooled(&r).len(), 3);
    assert!(r.lane_branches().is_empty(), "{:?}", r.lane_branches());
    assert!(!r.git(&["worktree", "list", "--porcelain"]).contains("prunable"));
    more_work(&r, 2);
    r.run("R2", &[], &[]).expect_code(0);
    assert_eq!(r.status_on_head("M-02"), "RESOLVED");
}

#[test]
fn a_kill_while_a_worktree_moves_out_of_the_pool_is_handled_by_the_resume_and_the_next_run() {
    let r = RunRepo::standard();
    r.run("R1", &[], &[]).expect_code(0);
    more_work(&r, 2);
    // Killed after a pooled worktree was moved to a lane's path, before it got its branch.
    let out = run_with_fault(&r, "R2", "mid-take");
    assert_eq!(out.status.code(), None, "the fault point did not abort: {}", String::from_utf8_lossy(&out.stderr));
    resume_ok(&r);
    for id in ["E-02", "M-02"] {
        assert_eq!(r.status_on_head(id), "RESOLVED");
    }
    assert!(!r.git(&["worktree", "list", "--porcelain"]).contains("prunable"));
    assert!(r.lane_branches().is_empty(), "{:?}", r.lane_branches());
    // Killed the same way, then not resumed: a new run removes the half-taken worktree (it holds
    // nothing) instead of reusing it, and works.
    more_work(&r, 3);
    let out = run_with_fault(&r, "R3", "mid-take");
    assert_eq!(out.status.code(), None);
    let state = r.root().join(".git/lanes/runs/R3/state.yaml");
    std::fs::remove_dir_all(state.parent().unwrap()).unwrap();
    let _ = std::fs::remove_file(r.root().join(".git/lanes/lock"));
    let moved: Vec<PathBuf> =
        ["E", "M"].iter().map(|l| r.worktree("R3", l)).filter(|p| p.exists() && admin_of(p).join("lanes-pool").exists()).collect();
    assert!(!moved.is_empty(), "no worktree was caught between the pool and its lane");
    let out = r.run("R4", &[], &[]);
    out.expect_code(0);
    assert!(format!("{}{}", out.stdout, out.stderr).contains("which held no work"), "{}", out.stdout);
    for p in &moved {
        assert!(!p.exists(), "{} was kept", p.display());
    }
    assert_eq!(r.status_on_head("E-03"), "RESOLVED");
    assert!(!r.git(&["worktree", "list", "--porcelain"]).contains("prunable"));
}

#[test]
fn a_kill_between_the_two_steps_of_a_move_leaves_a_worktree_the_pool_finds_again() {
    let r = RunRepo::standard();
    // Into the pool: killed once the first folder was renamed, before git's record was.
    let out = run_with_fault(&r, "R1", "mid-move");
    assert_eq!(out.status.code(), None, "the fault point did not abort: {}", String::from_utf8_lossy(&out.stderr));
    resume_ok(&r);
    assert_eq!(pooled(&r).len(), 3, "every worktree reached the pool: {:?}", pooled(&r));
    assert!(!r.git(&["worktree", "list", "--porcelain"]).contains("prunable"), "git lost a pooled worktree");
    for p in pooled(&r) {
        assert!(registered(&r).contains(&p), "{} is not registered where it is: {:?}", p.display(), registered(&r));
    }
    // Out of the pool: killed once git's record named the lane's path, before the rename.
    more_work(&r, 2);
    let out = run_with_fault(&r, "R2", "mid-move");
    assert_eq!(out.status.code(), None);
    resume_ok(&r);
    for id in ["E-02", "M-02"] {
        assert_eq!(r.status_on_head(id), "RESOLVED");
    }
    assert!(!r.git(&["worktree", "list", "--porcelain"]).contains("prunable"));
    // The half-taken worktree went back to the pool whole (its lane got another one).
    assert!(pooled(&r).len() >= 3, "the pool lost a worktree: {:?}", pooled(&r));
    for p in pooled(&r) {
        assert!(registered(&r).contains(&p), "{} is not registered where it is: {:?}", p.display(), registered(&r));
    }
    r.assert_nothing_lost("R2", &["E", "M"]);
}

#[test]
fn doctor_knows_the_pool() {
    let r = RunRepo::standard();
    r.run("R1", &[], &[]).expect_code(0);
    let out = r.cmd().arg("doctor").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("3 pooled worktree(s)") && text.contains("git lanes clean"), "{text}");
    assert!(!text.contains("prune"), "{text}");
    // A folder in the pool that git does not know (a kill inside `git worktree move`) is named.
    std::fs::create_dir_all(r.root().join(".git/lanes/worktrees/.pool/lost")).unwrap();
    let text = String::from_utf8_lossy(&r.cmd().arg("doctor").output().unwrap().stdout).into_owned();
    assert!(text.contains(".pool/lost") && text.contains("never reuses"), "{text}");
}

#[test]
fn with_a_configured_worktree_dir_the_pool_lives_there() {
    let r = RunRepo::bare();
    r.issue("E-01", &["src/E.txt"], &token_check("E-01"));
    r.issue("M-01", &["src/M.txt"], &token_check("M-01"));
    let dir = r.outside().join("wts");
    r.finish_setup(&format!("worktree_dir: {}\n", dir.display()));
    r.run("R1", &[], &[]).expect_code(0);
    let in_pool = |d: &Path| std::fs::read_dir(d.join(".pool")).map(|d| d.count()).unwrap_or(0);
    assert_eq!(in_pool(&dir), 3);
    assert!(pooled(&r).is_empty());
    more_work(&r, 2);
    r.run("R2", &[], &[]).expect_code(0);
    assert_eq!(in_pool(&dir), 4, "the second run took two of three and gave back three");
    assert_eq!(registered(&r).len(), 5, "{:?}", registered(&r));
}

#[test]
fn a_pooled_worktree_is_reused_only_with_the_sparse_set_up_of_the_users_checkout() {
    let r = RunRepo::standard();
    r.run("R1", &[], &[]).expect_code(0);
    assert_eq!(pooled(&r).len(), 3);
    // The user makes the checkout sparse after the pool was filled.
    r.git(&["sparse-checkout", "set", "--no-cone", "/*", "!/shared.txt"]);
    assert!(!r.root().join("shared.txt").exists());
    more_work(&r, 2);
    let mut child = r.run_child("R2", &[("E", "gate"), ("M", "gate")], &[]);
    assert!(r.wait_for_marker("started-E", Duration::from_secs(60)) && r.wait_for_marker("started-M", Duration::from_secs(60)));
    for lane in ["E", "M"] {
        let wt = r.worktree("R2", lane);
        assert!(!wt.join("shared.txt").exists(), "lane {lane}'s worktree does not follow the sparse set-up");
        let listed = r.git(&["-C", wt.to_str().unwrap(), "ls-files", "-t", "shared.txt"]);
        assert_eq!(listed.trim(), "S shared.txt", "lane {lane}");
    }
    r.open_gate();
    let out = wait_with_deadline(&mut child, Duration::from_secs(120)).expect("the second run ends");
    out.expect_code(0);
    assert_eq!(r.status_on_head("E-02"), "RESOLVED");
    assert_eq!(r.show("HEAD", "shared.txt"), "keepme\nshared base\n");
    assert!(!r.root().join("shared.txt").exists());
}
