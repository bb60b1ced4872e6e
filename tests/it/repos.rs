//! End-to-end runs on repository shapes that real projects have: ignore files that
//! ignore the signal folders whole, nested `.gitignore`, checks that write `build/` and
//! `__pycache__`, a Python package, an npm package, submodules, LFS-style attributes, CRLF —
//! each with the fake worker of `tests/common_run`, each checked on what reached the commits.
#![allow(clippy::disallowed_methods)] // the tests start processes with the std API

use crate::common_run::{RunRepo, token_check};

/// Paths in HEAD's tree.
fn tree(r: &RunRepo) -> Vec<String> {
    r.git(&["ls-tree", "-r", "--name-only", "HEAD"]).lines().map(str::to_string).collect()
}

fn assert_resolved(r: &RunRepo, ids: &[&str]) {
    for id in ids {
        assert_eq!(r.status_on_head(id), "RESOLVED", "{id} on HEAD");
    }
}

#[test]
fn a_wholly_ignored_signals_folder_and_nested_gitignore_do_not_trip_collection() {
    let r = RunRepo::bare();
    r.write(".gitignore", "LogBook/issue-fixing/signals/\nLogBook/issue-hunting/signals/\nnode_modules/\n");
    r.write("src/.gitignore", "*.log\n");
    r.issue("E-01", &["src/E.txt"], &token_check("E-01"));
    r.issue("M-01", &["src/M.txt"], &token_check("M-01"));
    r.finish_setup("");
    // E leaves everything uncommitted (so collection must commit it), M commits itself.
    let out = r.run("R1", &[("E", "litter")], &[]);
    out.expect_code(0);
    assert!(out.stdout.contains("2 resolved, 0 open"), "{}", out.stdout);
    assert_resolved(&r, &["E-01", "M-01"]);
    let files = tree(&r);
    assert!(r.show("HEAD", "src/E.txt").contains("fixed-E-01"));
    assert!(files.contains(&".agent-notes.md".to_string()), "the worker's own new file is kept: {files:?}");
    for bad in ["src/debug.log", "node_modules/left/index.js"] {
        assert!(!files.contains(&bad.to_string()), "{bad} is ignored and must not be committed: {files:?}");
    }
    assert!(!files.iter().any(|f| f.starts_with("LogBook/issue-fixing/signals")), "{files:?}");
    // The lane commit itself (archived) took nothing ignored either.
    let lane: Vec<String> = r.git(&["ls-tree", "-r", "--name-only", "refs/lanes/archive/R1/E"]).lines().map(str::to_string).collect();
    assert!(!lane.iter().any(|f| f.ends_with(".log") || f.starts_with("node_modules") || f.contains("signals")), "{lane:?}");
    r.assert_nothing_lost("R1", &["M"]);
}

/// An issue whose checks leave droppings: byte code, a build folder, a tracked file rewritten.
fn dropping_checks(id: &str) -> String {
    let lane = id.split('-').next().unwrap();
    format!(
        "python3 -c \"import sys; sys.path.insert(0, 'src'); import helper\" && echo PASS || echo FAIL\n\
         mkdir -p build/lib && echo obj > build/lib/out.o && echo PASS\n\
         echo 'written by a check' >> shared.txt && echo PASS\n\
         grep -q fixed-{id} src/{lane}.txt && echo PASS || echo FAIL\n"
    )
}

#[test]
fn droppings_of_checks_never_reach_a_commit_or_a_tracked_file() {
    let r = RunRepo::bare();
    r.write("src/helper.py", "VALUE = 1\n");
    r.issue("E-01", &["src/E.txt"], &dropping_checks("E-01"));
    r.issue("M-01", &["src/M.txt"], &token_check("M-01"));
    r.finish_setup("");
    let shared = r.read("shared.txt");
    let out = r.run("R1", &[("E", "nocommit")], &[]);
    out.expect_code(0);
    assert_resolved(&r, &["E-01", "M-01"]);
    let files = tree(&r);
    assert!(!files.iter().any(|f| f.contains("__pycache__") || f.ends_with(".pyc")), "{files:?}");
    assert!(!files.iter().any(|f| f.starts_with("build/")), "{files:?}");
    assert_eq!(r.show("HEAD", "shared.txt"), shared, "a check's edit reached the run commit");
    for lane in ["E", "M"] {
        let lane_files = r.git(&["ls-tree", "-r", "--name-only", &format!("refs/lanes/archive/R1/{lane}")]);
        assert!(!lane_files.contains("__pycache__") && !lane_files.contains("build/"), "{lane_files}");
    }
    // `verify` in the user's worktree: tracked files stay as they were.
    r.cmd().args(["verify", "--all"]).assert().code(0);
    assert_eq!(r.git(&["status", "--porcelain", "--untracked-files=no"]), "", "verify left tracked files changed");
    assert_eq!(r.read("shared.txt"), shared);
    // The user's own uncommitted edit of a file a check also writes survives as the user left it.
    r.write("shared.txt", "keepme\nthe user's own edit\n");
    let out = r.cmd().args(["verify", "--all"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(r.read("shared.txt"), "keepme\nthe user's own edit\n");
    assert!(String::from_utf8_lossy(&out.stderr).contains("restored: shared.txt"), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn an_uncommitted_setup_is_refused_before_any_lock_branch_worktree_or_commit() {
    let r = RunRepo::bare();
    r.issue("E-01", &["src/E.txt"], &token_check("E-01"));
    r.issue("M-01", &["src/M.txt"], &token_check("M-01"));
    r.finish_setup("");
    // A new issue and an edited one, not committed.
    r.issue("E-02", &["src/E.txt"], &token_check("E-02"));
    r.write("issues/M/M-01.md", &r.read("issues/M/M-01.md").replace("The token is missing.", "The token is still missing."));
    r.cmd().arg("sync").assert().success();
    let head = r.git(&["rev-parse", "HEAD"]);
    let refs = r.git(&["for-each-ref"]);
    let out = r.run("R1", &[], &[]);
    assert!(out.code.is_some_and(|c| c != 0), "{}{}", out.stdout, out.stderr);
    for f in ["issues/E/E-02.md", "issues/M/M-01.md", "SAF_ISSUE_CATALOG.md"] {
        assert!(out.stderr.contains(f), "{f} not named: {}", out.stderr);
    }
    assert!(out.stderr.contains("hint: git add ") && out.stderr.contains("git commit"), "{}", out.stderr);
    assert_eq!(r.git(&["rev-parse", "HEAD"]), head);
    assert_eq!(r.git(&["for-each-ref"]), refs, "a ref was made");
    assert!(r.lane_branches().is_empty());
    assert!(!r.root().join(".git/lanes/worktrees/R1").exists());
    assert!(!r.root().join(".git/lanes/runs/R1").exists());
    assert!(!r.root().join(".git/lanes/lock").exists(), "the run lock was made");
    // Committed, the same set-up runs and every number agrees.
    r.git(&["add", "-A"]);
    r.git(&["commit", "-q", "-m", "more issues"]);
    let out = r.cmd().args(["--json", "run", "--run-id", "R2", "--done-grace", "1s", "--timeout", "60s"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["resolved"].as_array().unwrap().len(), 3, "{json}");
    assert_resolved(&r, &["E-01", "E-02", "M-01"]);
    assert_eq!(json["open"], 0, "{json}");
    assert_eq!(json["fast_forwarded"], true, "{json}");
    assert_eq!(json["integrated"], serde_json::json!(["E", "M"]), "{json}");
    assert!(r.git(&["log", "-1", "--format=%s"]).starts_with("lanes: run R2: 3 resolved, 0 open"));
    let report = r.report_on_head("R2");
    assert!(report.contains("- **Fast-forwarded:** yes"), "{report}");
}

#[test]
fn a_fast_forward_git_refuses_is_reported_as_not_done_everywhere() {
    let r = RunRepo::standard();
    // HEAD stays put, but an untracked file of the user's is in the way of the lane's new file:
    // `git merge --ff-only` refuses, and nothing may claim the branch moved.
    r.write(".agent-notes.md", "the user's own notes\n");
    let head = r.git(&["rev-parse", "HEAD"]);
    let out = r
        .cmd()
        .args(["--json", "run", "--run-id", "R1", "--done-grace", "1s", "--timeout", "60s"])
        .env("FAKE_MODE_E", "litter")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["fast_forwarded"], false, "{json}");
    assert_eq!(json["merge_command"], "git merge lanes/R1/integration", "{json}");
    assert_eq!(r.git(&["rev-parse", "HEAD"]), head);
    assert_eq!(r.read(".agent-notes.md"), "the user's own notes\n");
    let report = r.show("lanes/R1/integration", "LogBook/issue-fixing/runs/R1.md");
    assert!(report.contains("- **Fast-forwarded:** no"), "{report}");
    assert!(!report.contains("Nothing."), "{report}");
    assert!(report.contains("git merge lanes/R1/integration"), "{report}");
    let state = r.show("lanes/R1/integration", "LogBook/issue-fixing/orchestrator-state.yaml");
    assert!(state.contains("fast_forwarded: false"), "{state}");
    assert!(r.has_ref("refs/lanes/archive/R1/integration"));
    assert_eq!(r.git(&["rev-parse", "refs/lanes/archive/R1/integration"]), r.git(&["rev-parse", "lanes/R1/integration"]));
}

#[test]
fn a_python_package_with_its_usual_ignores_and_byte_code_checks() {
    let r = RunRepo::bare();
    r.write(".gitignore", "__pycache__/\n*.py[cod]\n*.egg-info/\nbuild/\ndist/\n.venv/\nLogBook/issue-fixing/signals/\n");
    r.write("pyproject.toml", "[project]\nname = \"tinypkg\"\nversion = \"0.1.0\"\n\n[build-system]\nrequires = [\"setuptools\"]\nbuild-backend = \"setuptools.build_meta\"\n");
    r.write("src/tinypkg/__init__.py", "from .core import VALUE\n");
    r.write("src/tinypkg/core.py", "VALUE = 1\n");
    let check = |id: &str| {
        format!(
            "python3 -m compileall -q src && echo PASS || echo FAIL\n\
             python3 -c \"import sys; sys.path.insert(0, 'src'); import tinypkg; assert tinypkg.VALUE == 1\" && echo PASS || echo FAIL\n\
             mkdir -p src/tinypkg.egg-info && echo x > src/tinypkg.egg-info/PKG-INFO && echo PASS\n\
             {}",
            token_check(id)
        )
    };
    r.issue("E-01", &["src/E.txt"], &check("E-01"));
    r.issue("M-01", &["src/M.txt"], &check("M-01"));
    r.finish_setup("");
    let out = r.run("R1", &[("E", "nocommit")], &[]);
    out.expect_code(0);
    assert_resolved(&r, &["E-01", "M-01"]);
    let files = tree(&r);
    assert!(!files.iter().any(|f| f.contains("__pycache__") || f.ends_with(".pyc") || f.contains(".egg-info")), "{files:?}");
    assert!(files.contains(&"src/tinypkg/core.py".to_string()));
}

#[test]
fn an_npm_package_with_ignored_node_modules_and_a_dist_folder_a_check_writes() {
    let r = RunRepo::bare();
    r.write(".gitignore", "node_modules/\nLogBook/issue-fixing/signals/\n");
    r.write("package.json", "{\n  \"name\": \"tiny\",\n  \"version\": \"1.0.0\",\n  \"main\": \"index.js\",\n  \"files\": [\"dist\"]\n}\n");
    r.write("package-lock.json", "{\n  \"name\": \"tiny\",\n  \"lockfileVersion\": 3,\n  \"packages\": {}\n}\n");
    r.write("index.js", "module.exports = 1;\n");
    // The "build" writes dist/ (not ignored: only a restore keeps it out) and node_modules/.cache.
    let check = |id: &str| {
        format!(
            "mkdir -p dist node_modules/.cache && cp index.js dist/index.js && echo c > node_modules/.cache/x && echo PASS\n{}",
            token_check(id)
        )
    };
    r.issue("E-01", &["src/E.txt"], &check("E-01"));
    r.issue("M-01", &["src/M.txt"], &check("M-01"));
    r.finish_setup("");
    let out = r.run("R1", &[("E", "litter")], &[]);
    out.expect_code(0);
    assert_resolved(&r, &["E-01", "M-01"]);
    let files = tree(&r);
    assert!(!files.iter().any(|f| f.starts_with("dist/") || f.starts_with("node_modules/")), "{files:?}");
    assert!(files.contains(&"package-lock.json".to_string()));
}

#[test]
fn a_repository_with_a_submodule_keeps_its_gitlink() {
    let r = RunRepo::bare();
    // The submodule's own repository, next to the main one.
    let sub = r.outside().join("sublib");
    std::fs::create_dir_all(&sub).unwrap();
    let git_in = |dir: &std::path::Path, args: &[&str]| {
        let out = std::process::Command::new("git")
            .args(args)
            .current_dir(dir)
            .env_clear()
            .envs(r.isolated_env())
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    git_in(&sub, &["init", "-q", "-b", "main"]);
    std::fs::write(sub.join("lib.txt"), "library\n").unwrap();
    git_in(&sub, &["add", "-A"]);
    git_in(&sub, &["commit", "-q", "-m", "lib"]);
    git_in(r.root(), &["-c", "protocol.file.allow=always", "submodule", "add", "-q", sub.to_str().unwrap(), "vendor/lib"]);
    r.issue("E-01", &["src/E.txt"], &token_check("E-01"));
    r.issue("M-01", &["src/M.txt"], &token_check("M-01"));
    r.finish_setup("");
    let link = r.git(&["ls-tree", "HEAD", "vendor/lib"]);
    assert!(link.starts_with("160000 commit"), "{link}");
    let out = r.run("R1", &[("E", "nocommit")], &[]);
    out.expect_code(0);
    assert_resolved(&r, &["E-01", "M-01"]);
    assert_eq!(r.git(&["ls-tree", "HEAD", "vendor/lib"]), link, "the gitlink changed");
    assert!(r.show("HEAD", ".gitmodules").contains("vendor/lib"));
}

#[test]
fn lfs_style_attributes_run_the_configured_clean_filter_on_collection() {
    let r = RunRepo::bare();
    r.write(".gitattributes", "*.bin filter=lfs diff=lfs merge=lfs -text\n");
    r.issue("E-01", &["src/E.txt"], &token_check("E-01"));
    r.issue("M-01", &["src/M.txt"], &token_check("M-01"));
    r.finish_setup("");
    // A stand-in for git-lfs: its clean filter turns the content into a "pointer" (upper case).
    r.git(&["config", "filter.lfs.clean", "tr a-z A-Z"]);
    r.git(&["config", "filter.lfs.smudge", "cat"]);
    let out = r.run("R1", &[("E", "asset"), ("M", "asset")], &[]);
    out.expect_code(0);
    assert_resolved(&r, &["E-01", "M-01"]);
    assert_eq!(r.show("HEAD", "assets/E.bin"), "ASSET OF LANE E\n", "the clean filter did not run");
    assert_eq!(r.show("HEAD", "assets/M.bin"), "ASSET OF LANE M\n");
}

#[test]
fn crlf_issue_files_and_sources_keep_their_line_endings() {
    let r = RunRepo::bare();
    r.write("src/E.txt", "E base\r\n");
    for id in ["E-01", "M-01"] {
        r.issue(id, &[&format!("src/{}.txt", &id[..1])], &token_check(id));
        let rel = format!("issues/{}/{id}.md", &id[..1]);
        r.write(&rel, &r.read(&rel).replace('\n', "\r\n"));
    }
    r.finish_setup("");
    let out = r.run("R1", &[("E", "nocommit")], &[]);
    out.expect_code(0);
    assert_resolved(&r, &["E-01", "M-01"]);
    for id in ["E-01", "M-01"] {
        let text = r.show("HEAD", &format!("issues/{}/{id}.md", &id[..1]));
        assert!(text.contains("status: \"RESOLVED\"\r\n"), "{text:?}");
        assert!(!text.replace("\r\n", "").contains('\n'), "mixed line endings in {id}: {text:?}");
    }
    assert!(r.show("HEAD", "src/E.txt").starts_with("E base\r\n"));
    r.cmd().args(["sync", "--check"]).assert().code(0);
}

/// A main checkout made sparse with `git sparse-checkout set <args>`: `docs/b.txt` (and, in the
/// non-cone case, `notes.txt`) are outside the patterns. Lane E leaves its fix uncommitted (so
/// git-lanes commits it), lane M commits its own.
fn sparse_run(set: &[&str]) {
    let r = RunRepo::bare();
    r.write("docs/b.txt", "outside the sparse patterns\n");
    r.write("notes.txt", "a top-level file\n");
    r.issue("E-01", &["src/E.txt"], &token_check("E-01"));
    r.issue("M-01", &["src/M.txt"], &token_check("M-01"));
    r.finish_setup("");
    let mut args = vec!["sparse-checkout", "set"];
    args.extend(set);
    r.git(&args);
    assert!(!r.root().join("docs/b.txt").exists(), "the sparse set-up did not apply");
    let out = r.run("R1", &[("E", "nocommit")], &[]);
    out.expect_code(0);
    assert_resolved(&r, &["E-01", "M-01"]);
    let files = tree(&r);
    assert!(files.contains(&"docs/b.txt".to_string()), "a file outside the sparse patterns was deleted: {files:?}");
    assert!(files.contains(&"notes.txt".to_string()), "{files:?}");
    for lane in ["E", "M"] {
        let tip = format!("refs/lanes/archive/R1/{lane}");
        let changed = r.git(&["diff", "--name-status", &format!("{tip}~1"), &tip]);
        assert!(!changed.contains("docs/b.txt") && !changed.contains("notes.txt"), "lane {lane}: {changed}");
        let all = r.git(&["diff", "--name-only", "HEAD~1", "HEAD"]);
        assert!(!all.contains("docs/"), "{all}");
    }
    // The main checkout keeps its sparse set-up: the excluded file is still not checked out.
    assert!(!r.root().join("docs/b.txt").exists(), "the fast-forward checked out an excluded file");
    assert_eq!(r.git(&["status", "--porcelain"]).trim(), "", "the main checkout is not clean");
}

#[test]
fn a_cone_sparse_checkout_never_commits_excluded_files_as_deleted() {
    sparse_run(&["src", "issues", "LogBook"]);
}

#[test]
fn a_non_cone_sparse_checkout_never_commits_excluded_files_as_deleted() {
    sparse_run(&["--no-cone", "/*", "!/docs/", "!/notes.txt"]);
}

/// A worker `git init`s a repository inside its worktree (left untracked, staged as a gitlink,
/// or committed): it is left out of the lane commit and named, and the fix is judged.
fn embedded_run(mode: &str) {
    let r = RunRepo::standard();
    let out = r.run("R1", &[("E", mode)], &[]);
    // Merged, but the worktree holding the repository is kept for a human (exit 3).
    out.expect_code(3);
    assert_resolved(&r, &["E-01", "M-01"]);
    let inner = r.worktree("R1", "E").join("vendor/inner");
    assert_eq!(std::fs::read_to_string(inner.join("inner.txt")).unwrap(), "inner\n", "{mode}: the repository was not kept");
    assert!(inner.join(".git").is_dir());
    let files = tree(&r);
    assert!(!files.iter().any(|f| f.starts_with("vendor")), "{mode}: the embedded repository reached main: {files:?}");
    let lane = r.git(&["ls-tree", "-r", "refs/lanes/archive/R1/E"]);
    assert!(!lane.contains("vendor/inner"), "{mode}: the embedded repository is in the lane's tip: {lane}");
    let state = std::fs::read_to_string(r.root().join(".git/lanes/runs/R1/state.yaml")).unwrap();
    assert!(state.contains("vendor/inner"), "{mode}: the lane's warnings do not name it: {state}");
    let said = format!("{}{}", out.stdout, out.stderr);
    assert!(said.contains("vendor/inner"), "{mode}: the run does not name it: {said}");
}

#[test]
fn an_embedded_repository_left_untracked_is_left_out_and_named() {
    embedded_run("embed");
}

#[test]
fn an_embedded_repository_staged_as_a_gitlink_is_left_out_and_named() {
    embedded_run("embed_staged");
}

#[test]
fn an_embedded_repository_committed_by_the_worker_is_left_out_and_named() {
    embedded_run("embed_commit");
}

/// An ssh signing key made for the test (`ssh-keygen`), `None` (said) when there is none.
fn ssh_signing_key(r: &RunRepo) -> Option<std::path::PathBuf> {
    let key = r.outside().join("signing_key");
    let made = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "test", "-f", key.to_str().unwrap()])
        .output();
    match made {
        Ok(o) if o.status.success() => Some(key),
        _ => {
            eprintln!("skipped: ssh-keygen is not available to make a signing key");
            None
        }
    }
}

/// Commits of `range` whose object carries no signature.
fn unsigned(r: &RunRepo, range: &str) -> Vec<String> {
    r.git(&["rev-list", range])
        .lines()
        .filter(|c| !r.git(&["cat-file", "commit", c]).lines().any(|l| l.starts_with("gpgsig")))
        .map(|c| r.git(&["log", "-1", "--format=%h %s", c]).trim().to_string())
        .collect()
}

#[test]
fn with_commit_gpgsign_every_commit_of_the_run_is_signed() {
    let r = RunRepo::standard();
    let Some(key) = ssh_signing_key(&r) else { return };
    r.git(&["config", "gpg.format", "ssh"]);
    r.git(&["config", "user.signingkey", key.to_str().unwrap()]);
    r.git(&["config", "commit.gpgsign", "true"]);
    let base = r.git(&["rev-parse", "HEAD"]).trim().to_string();
    // E leaves its fix uncommitted (git-lanes commits it), M commits its own.
    let out = r.run("R1", &[("E", "nocommit")], &[]);
    out.expect_code(0);
    assert_resolved(&r, &["E-01", "M-01"]);
    let range = format!("{base}..HEAD");
    assert!(r.git(&["rev-list", "--count", &range]).trim().parse::<u32>().unwrap() >= 4, "too few commits to tell");
    let bare = unsigned(&r, &range);
    assert!(bare.is_empty(), "unsigned commits on main: {bare:?}");
    let lane = unsigned(&r, &format!("{base}..refs/lanes/archive/R1/E"));
    assert!(lane.is_empty(), "unsigned commits on lane E: {lane:?}");
}

#[test]
fn with_commit_gpgsign_and_no_usable_key_the_run_is_refused_before_anything_starts() {
    let r = RunRepo::standard();
    r.git(&["config", "gpg.format", "ssh"]);
    r.git(&["config", "user.signingkey", r.outside().join("no-such-key").to_str().unwrap()]);
    r.git(&["config", "commit.gpgsign", "true"]);
    let head = r.git(&["rev-parse", "HEAD"]);
    let out = r.run("R1", &[], &[]);
    assert_ne!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("commit.gpgSign") && out.stderr.contains("hint:"), "{}", out.stderr);
    assert_eq!(r.git(&["rev-parse", "HEAD"]), head, "a commit was made");
    assert!(r.lane_branches().is_empty(), "{:?}", r.lane_branches());
    assert!(!r.root().join(".git/lanes/runs/R1").exists(), "the run left a folder");
    assert!(!r.root().join(".git/lanes/worktrees/R1").exists(), "the run made worktrees");
    // Turning signing off for one run (as the hint says) runs it.
    let mut c = r.cmd();
    c.args(["run", "--run-id", "R2", "--done-grace", "1s", "--timeout", "60s"]).env("GIT_CONFIG_PARAMETERS", "'commit.gpgsign'='false'");
    let off = c.output().unwrap();
    assert_eq!(off.status.code(), Some(0), "{}", String::from_utf8_lossy(&off.stderr));
}
