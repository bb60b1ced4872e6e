//! End-to-end tests of the summary cache (`src/files/issue_cache.rs`): the catalog commands
//! give the same answers with the cache current, deleted, corrupt, from another version, and
//! after an edit that keeps the file's size and mtime.

use std::path::PathBuf;

use crate::common::{TestRepo, run};

const CATALOG: &str = "SAF_ISSUE_CATALOG.md";

const EMPTY_CATALOG: &str = "# Catalog\n\n> **Last Updated:** 2024-01-01 00:00:00\n\n## Summary\n\n| Total | Resolved | Open | Progress |\n|-------|----------|------|----------|\n\n## Progress by Lane\n\n| Lane | Total | Resolved | Open | % |\n|------|-------|----------|------|---|\n\n## Open Issues by Lane\n";

fn repo() -> TestRepo {
    let r = TestRepo::new();
    r.write(CATALOG, EMPTY_CATALOG);
    r.issue("E-01", "E", "OPEN", "depends_on: [\"E-02\"]\n", "test -f README.md && echo PASS || echo FAIL\n");
    r.issue("E-02", "E", "OPEN", "", "test -f README.md\n");
    r.issue("M-01", "M", "RESOLVED", "", "true\n");
    r.issue("M-02", "M", "OPEN", "", "");
    run(r.cmd().arg("sync"), 0);
    r.commit_all("catalog and issues");
    r
}

fn cache_files(r: &TestRepo) -> Vec<PathBuf> {
    let dir = r.path(".git/lanes/cache");
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir).map(|rd| rd.flatten().map(|e| e.path()).collect()).unwrap_or_default();
    v.sort();
    v
}

/// What one command answers: (exit code, stdout, stderr).
fn outcome(r: &TestRepo, args: &[&str]) -> (Option<i32>, String, String) {
    let out = r.cmd().args(args).output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// What every catalog command answers.
fn answers(r: &TestRepo) -> Vec<(Option<i32>, String, String)> {
    let cmds: &[&[&str]] = &[
        &["status"],
        &["status", "--json"],
        &["sync", "--check", "--json"],
        &["validate", "--json"],
        &["validate"],
        &["plan", "--json"],
        &["check", "--json"],
        &["check", "--range", "HEAD~2..HEAD", "--json"],
    ];
    cmds.iter().map(|args| outcome(r, args)).collect()
}

#[test]
fn cache_deleted_corrupt_or_from_another_version_gives_the_same_answers() {
    let r = repo();
    r.write("notes.txt", "code\n");
    r.commit_all("code");
    let _ = std::fs::remove_dir_all(r.path(".git/lanes/cache"));
    let cold = answers(&r);
    let files = cache_files(&r);
    assert!(files.iter().any(|f| f.ends_with("blobs.bin")), "`check --range` caches blobs by id: {files:?}");
    assert!(files.iter().any(|f| f.file_name().unwrap().to_string_lossy().starts_with("worktree-")), "{files:?}");
    let warm = answers(&r);
    assert_eq!(warm, cold, "warm cache");

    std::fs::remove_dir_all(r.path(".git/lanes/cache")).unwrap();
    assert_eq!(answers(&r), cold, "cache deleted");

    for f in cache_files(&r) {
        let mut bytes = std::fs::read(&f).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0xFF;
        std::fs::write(&f, &bytes).unwrap();
    }
    assert_eq!(answers(&r), cold, "cache corrupt");

    for f in cache_files(&r) {
        std::fs::write(&f, b"garbage").unwrap();
    }
    assert_eq!(answers(&r), cold, "cache truncated to garbage");

    // Another format version: the version stamp follows the 8-byte magic and a 4-byte length.
    for f in cache_files(&r) {
        let mut bytes = std::fs::read(&f).unwrap();
        bytes[12] = bytes[12].wrapping_add(1);
        std::fs::write(&f, &bytes).unwrap();
    }
    assert_eq!(answers(&r), cold, "cache from another version");
    // ...and it was rewritten in the current format, which the next call trusts.
    assert_eq!(answers(&r), cold, "rewritten cache");
}

#[test]
fn an_edit_that_keeps_size_and_mtime_is_still_seen() {
    let r = repo();
    run(r.cmd().args(["sync", "--check"]), 0);
    run(r.cmd().args(["sync", "--check"]), 0);
    let rel = "issues/E/E-02.md";
    let path = r.path(rel);
    let before = std::fs::metadata(&path).unwrap();
    let text = r.read(rel);
    // Same length, same mtime to the nanosecond: only ctime (and the content) differ.
    let edited = text.replacen("Title of E-02", "Title of X-02", 1);
    assert_eq!(edited.len(), text.len());
    std::fs::write(&path, &edited).unwrap();
    let f = std::fs::File::options().write(true).open(&path).unwrap();
    f.set_modified(before.modified().unwrap()).unwrap();
    drop(f);
    assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), before.modified().unwrap());
    let (out, _) = run(r.cmd().args(["sync", "--check"]), 4);
    assert!(out.contains("Title of X-02"), "{out}");

    // A status flip of the same size in the same second is seen too.
    let flipped = edited.replacen("status: \"OPEN\"", "status: \"DONE\"", 1);
    std::fs::write(&path, &flipped).unwrap();
    let (out, _) = run(r.cmd().args(["validate"]), 4);
    assert!(out.contains("status `DONE`"), "{out}");
    std::fs::write(&path, &text).unwrap();
    run(r.cmd().args(["sync", "--check"]), 0);
}

#[test]
fn new_and_deleted_issue_files_are_seen_through_the_cache() {
    let r = repo();
    run(r.cmd().args(["sync", "--check"]), 0);
    r.issue("E-03", "E", "OPEN", "", "true\n");
    let (out, _) = run(r.cmd().args(["sync", "--check"]), 4);
    assert!(out.contains("E-03 is open but not listed"), "{out}");
    std::fs::remove_file(r.path("issues/E/E-03.md")).unwrap();
    run(r.cmd().args(["sync", "--check"]), 0);
    std::fs::remove_file(r.path("issues/E/E-02.md")).unwrap();
    let (out, _) = run(r.cmd().args(["validate"]), 4);
    assert!(out.contains("names `E-02`, which is not an issue"), "E-01 depends on the deleted E-02: {out}");
}

#[test]
fn remembered_answers_hold_only_while_every_input_does() {
    let r = repo();
    let answer = |args: &[&str]| outcome(&r, args);
    let sync_check = || answer(&["sync", "--check"]);
    let both = || (sync_check(), answer(&["validate", "--json"]), answer(&["validate"]));
    let remembered = || {
        assert_eq!(sync_check().0, Some(0));
        assert_eq!(answer(&["validate"]).0, Some(0));
        assert!(cache_files(&r).iter().any(|f| f.extension().is_some_and(|e| e == "answers")), "{:?}", cache_files(&r));
    };
    let catalog = r.read(CATALOG);
    // (what changes, whether the catalog stays in sync, the change, its undoing)
    let mutations: Vec<(&str, bool, Box<dyn Fn()>, Box<dyn Fn()>)> = vec![
        (
            "a generated row edited by hand",
            false,
            Box::new(|| r.write(CATALOG, &catalog.replacen("| E-01 |", "| E-07 |", 1))),
            Box::new(|| r.write(CATALOG, &catalog)),
        ),
        (
            "an empty lane folder",
            true,
            Box::new(|| std::fs::create_dir(r.path("issues/Z")).unwrap()),
            Box::new(|| std::fs::remove_dir(r.path("issues/Z")).unwrap()),
        ),
        (
            "lanes pinned in lanes.yaml",
            false,
            Box::new(|| r.write("lanes.yaml", "lanes: [E]\n")),
            Box::new(|| std::fs::remove_file(r.path("lanes.yaml")).unwrap()),
        ),
        (
            "a new agent spec",
            false,
            Box::new(|| r.write(".claude/agents/issue-fixers/IF-Lane-Q.md", "# Lane Q - Queues\n\nFix queue issues.\n")),
            Box::new(|| std::fs::remove_file(r.path(".claude/agents/issue-fixers/IF-Lane-Q.md")).unwrap()),
        ),
        (
            "an issue file renamed to another id",
            false,
            Box::new(|| std::fs::rename(r.path("issues/M/M-02.md"), r.path("issues/M/M-03.md")).unwrap()),
            Box::new(|| std::fs::rename(r.path("issues/M/M-03.md"), r.path("issues/M/M-02.md")).unwrap()),
        ),
    ];
    for (what, in_sync, change, undo) in &mutations {
        remembered();
        remembered();
        change();
        let warm = both();
        assert_eq!(warm.0.0 == Some(0), *in_sync, "{what}: {warm:?}");
        std::fs::remove_dir_all(r.path(".git/lanes/cache")).unwrap();
        assert_eq!(warm, both(), "{what}: the same answers without the cache");
        undo();
    }
    remembered();
}

#[test]
fn remembered_status_plan_and_check_still_read_what_they_do_not_remember() {
    let r = repo();
    let answer = |args: &[&str]| outcome(&r, args);
    // Twice each: the second answer is the remembered one.
    for args in [&["status"][..], &["plan"], &["check"]] {
        assert_eq!(answer(args), answer(args), "{args:?}");
    }
    let answers = std::fs::read(cache_files(&r).into_iter().find(|f| f.extension().is_some_and(|e| e == "answers")).unwrap()).unwrap();
    assert!(answers.len() > 100, "status, plan and check answers are kept");

    // status: the signals, the last run and the evidence are read each time.
    r.write("LogBook/issue-fixing/signals/E.status", "WORKING E-01\n");
    let (_, out, _) = answer(&["status"]);
    assert!(out.contains("E WORKING E-01"), "a live signal: {out}");
    assert!(out.contains("M-01 (missing)"), "{out}");
    run(r.cmd().args(["verify", "M-01"]), 0);
    let (_, out, _) = answer(&["status"]);
    assert!(!out.contains("M-01 (missing)"), "evidence written since: {out}");
    std::fs::remove_file(r.path("LogBook/issue-fixing/signals/E.status")).unwrap();

    // plan: the options are part of what is remembered.
    let (_, all, _) = answer(&["plan"]);
    let (_, one, _) = answer(&["plan", "--max-issues", "1"]);
    assert_ne!(all, one);
    assert_eq!(answer(&["plan"]).1, all);

    // check: a signal file staged is found though no issue file changed...
    r.write("LogBook/issue-fixing/signals/M.done", "done\n");
    r.git(&["add", "-f", "LogBook/issue-fixing/signals/M.done"]);
    let (code, out, _) = answer(&["check"]);
    assert_eq!(code, Some(4), "{out}");
    assert!(out.contains("signal file committed"), "{out}");
    r.git(&["rm", "-q", "--cached", "LogBook/issue-fixing/signals/M.done"]);
    assert_eq!(answer(&["check"]).0, Some(0));
    // ...and what becomes RESOLVED is measured from the base: M-02 resolved without evidence
    // fails, and passes once the base (HEAD) holds it resolved.
    r.set_status("issues/M/M-02.md", "OPEN", "RESOLVED");
    run(r.cmd().arg("sync"), 0);
    let (code, out, _) = answer(&["check"]);
    assert_eq!(code, Some(4), "{out}");
    assert!(out.contains("M-02 becomes RESOLVED"), "{out}");
    let again = answer(&["check"]);
    assert_eq!((again.0, again.1), (code, out), "remembered");
    r.commit_all("resolve M-02");
    let (code, out, _) = answer(&["check"]);
    assert_eq!(code, Some(0), "another base, another answer: {out}");
}

#[test]
fn a_remembered_check_follows_the_ignore_rules_of_a_lane_folder() {
    let r = repo();
    r.issue("M-03", "M", "RESOLVED", "", "true\n");
    run(r.cmd().arg("sync"), 0);
    let (code, out, _) = outcome(&r, &["check"]);
    assert_eq!(code, Some(4), "{out}");
    assert!(out.contains("M-03 becomes RESOLVED"), "a new untracked issue file: {out}");
    assert_eq!(outcome(&r, &["check"]).0, Some(4), "remembered");
    // Ignored by its lane folder, it is no longer a new file of the working tree; no issue file
    // changed, so only the ignore file tells the remembered answer apart.
    r.write("issues/M/.gitignore", "M-03.md\n");
    let warm = outcome(&r, &["check"]);
    std::fs::remove_dir_all(r.path(".git/lanes/cache")).unwrap();
    assert_eq!(warm, outcome(&r, &["check"]), "the same answer without the cache");
    assert!(!warm.1.contains("M-03 becomes RESOLVED"), "{warm:?}");
}
