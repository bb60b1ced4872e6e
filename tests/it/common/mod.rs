//! Hermetic temporary repositories for the end-to-end tests (`tests/it/foundation.rs`, `tests/it/verify.rs`):
//! git with no system or user configuration, a fixed author and date, `HOME` inside the temp dir,
//! and the binary run with a cleared environment. Also the byte-level helpers those tests share:
//! file fingerprints (bytes, mtime, inode) and a line diff.
#![allow(dead_code)]

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use tempfile::TempDir;

/// The environment every test process gets (after `env_clear`): no system or user git
/// configuration, a fixed author, committer and date, `HOME` in the test's folder, no colour.
pub fn hermetic_env(home: &Path) -> Vec<(&'static str, String)> {
    vec![
        ("PATH", std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into())),
        ("HOME", home.display().to_string()),
        ("GIT_CONFIG_NOSYSTEM", "1".into()),
        ("GIT_CONFIG_GLOBAL", "/dev/null".into()),
        ("GIT_AUTHOR_NAME", "Test".into()),
        ("GIT_AUTHOR_EMAIL", "test@example.com".into()),
        ("GIT_COMMITTER_NAME", "Test".into()),
        ("GIT_COMMITTER_EMAIL", "test@example.com".into()),
        ("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z".into()),
        ("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z".into()),
        ("NO_COLOR", "1".into()),
    ]
}

/// A temporary git repository with one commit (`README.md`).
pub struct TestRepo {
    dir: TempDir,
    root: PathBuf,
    home: PathBuf,
}

impl TestRepo {
    pub fn new() -> TestRepo {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().join("repo");
        let home = dir.path().join("home");
        fs::create_dir_all(&root).unwrap();
        fs::create_dir_all(&home).unwrap();
        let root = root.canonicalize().unwrap();
        let repo = TestRepo { dir, root, home };
        repo.git(&["init", "-q", "-b", "main"]);
        repo.write("README.md", "# test repo\n");
        repo.commit_all("init");
        repo
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The temp dir holding the repository (outside it).
    pub fn outside(&self) -> PathBuf {
        self.dir.path().canonicalize().unwrap()
    }

    pub fn env(&self) -> Vec<(&'static str, String)> {
        let mut v = hermetic_env(&self.home);
        // Repository discovery never climbs out of the temp dir.
        v.push(("GIT_CEILING_DIRECTORIES", self.dir.path().parent().unwrap().display().to_string()));
        v.push(("TZ", "UTC".into()));
        v
    }

    /// Run git in `dir` (relative to the root); panics on failure.
    pub fn git_in(&self, dir: &Path, args: &[&str]) -> String {
        #[allow(clippy::disallowed_methods)] // test setup, not product code
        let out = std::process::Command::new("git")
            .args(args)
            .current_dir(self.root.join(dir))
            .env_clear()
            .envs(self.env())
            .output()
            .expect("git runs");
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn git(&self, args: &[&str]) -> String {
        self.git_in(Path::new("."), args)
    }

    pub fn commit_all(&self, message: &str) {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    pub fn write(&self, rel: &str, content: &str) {
        self.write_bytes(rel, content.as_bytes());
    }

    pub fn write_bytes(&self, rel: &str, content: &[u8]) {
        let p = self.root.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, content).unwrap();
    }

    pub fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.root.join(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
    }

    pub fn read_bytes(&self, rel: &str) -> Vec<u8> {
        fs::read(self.root.join(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
    }

    pub fn exists(&self, rel: &str) -> bool {
        self.root.join(rel).exists()
    }

    /// Bytes, mtime and inode of a file: equal fingerprints mean nothing wrote it.
    pub fn fingerprint(&self, rel: &str) -> Fingerprint {
        let p = self.root.join(rel);
        let m = fs::metadata(&p).unwrap_or_else(|e| panic!("stat {rel}: {e}"));
        Fingerprint { bytes: fs::read(&p).unwrap(), mtime: m.modified().unwrap(), inode: m.ino() }
    }

    /// Write an issue file `issues/<lane>/<id>.md`. `extra` is more frontmatter (lines ending in
    /// `\n`); `checks` the lines of the bash block.
    pub fn issue(&self, id: &str, lane: &str, status: &str, extra: &str, checks: &str) {
        self.write(&format!("issues/{lane}/{id}.md"), &issue_text(id, lane, status, extra, checks));
    }

    /// Set an issue's `status:` in place (the file keeps every other byte).
    pub fn set_status(&self, rel: &str, from: &str, to: &str) {
        let t = self.read(rel);
        let from = format!("status: \"{from}\"");
        assert!(t.contains(&from), "{rel} has no `{from}`");
        self.write(rel, &t.replacen(&from, &format!("status: \"{to}\""), 1));
    }

    /// Write `issues/<lane>/<id>.md` with these affected paths and checks (the bash block's lines).
    pub fn issue_with_paths(&self, id: &str, lane: &str, status: &str, affected: &[&str], checks: &str) {
        let paths: Vec<String> = affected.iter().map(|p| format!("\"{p}\"")).collect();
        let text = format!(
            "---\nissue_id: \"{id}\"\nlane: \"{lane}\"\nseverity: 5\nstatus: \"{status}\"\naffected_paths: [{}]\n---\n\n# [LANE {lane}] Issue {id}: Test issue {id}\n\n## Verification Commands\n\n```bash\n{checks}```\n\n- **Status:** {status}\n",
            paths.join(", ")
        );
        self.write(&format!("issues/{lane}/{id}.md"), &text);
    }

    /// Every evidence file, relative to the repository root, sorted.
    pub fn evidence_files(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let base = self.root.join("LogBook/verification/evidence");
        let Ok(lanes) = fs::read_dir(&base) else { return out };
        for lane in lanes.flatten() {
            for f in fs::read_dir(lane.path()).unwrap().flatten() {
                out.push(f.path().strip_prefix(&self.root).unwrap().to_path_buf());
            }
        }
        out.sort();
        out
    }

    /// The binary, in the repository, with the isolated environment only.
    pub fn cmd(&self) -> assert_cmd::Command {
        self.cmd_in(&self.root)
    }

    /// The binary started in `dir` (absolute), with the isolated environment only.
    pub fn cmd_in(&self, dir: &Path) -> assert_cmd::Command {
        let mut c = assert_cmd::Command::cargo_bin("git-lanes").expect("binary built");
        c.current_dir(dir).env_clear().envs(self.env()).timeout(std::time::Duration::from_secs(60));
        c
    }

    /// Copy a fixture directory (relative to `tests/fixtures/`) to `rel` in the repository.
    pub fn copy_fixture(&self, fixture: &str, rel: &str) {
        copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(fixture), &self.root.join(rel));
    }
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            fs::copy(e.path(), target).unwrap();
        }
    }
}

/// A file's identity for "nothing was written" assertions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    pub bytes: Vec<u8>,
    pub mtime: std::time::SystemTime,
    pub inode: u64,
}

/// The text of an issue file in the seed's shape.
pub fn issue_text(id: &str, lane: &str, status: &str, extra: &str, checks: &str) -> String {
    format!(
        "---\nissue_id: \"{id}\"\nlane: \"{lane}\"\nseverity: 5\nseverity_level: \"MEDIUM\"\ntype_tags: [\"docs\"]\nstatus: \"{status}\"\n{extra}---\n\n# [LANE {lane}] Issue {id}: Title of {id}\n\n## Problem Description\n\nSomething is wrong.\n\n## Verification Commands\n\n```bash\n{checks}```\n\n- **Status:** {status}\n"
    )
}

/// The `| ID | … |` row `sync` writes for an issue made by [`issue_text`].
pub fn row(id: &str) -> String {
    format!("| {id} | Title of {id} | 5/10 MEDIUM | docs | OPEN |")
}

/// Stdout and stderr as text.
pub fn texts(out: &Output) -> (String, String) {
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Run, assert the exit code and that nothing panicked; return (stdout, stderr).
pub fn run(cmd: &mut assert_cmd::Command, code: i32) -> (String, String) {
    let out = cmd.output().expect("runs");
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(code), "stdout:\n{o}\nstderr:\n{e}");
    assert!(!e.contains("panicked"), "panic:\n{e}");
    (o, e)
}

/// Run and parse stdout as JSON, asserting the exit code.
pub fn json_of(cmd: &mut assert_cmd::Command, code: i32) -> serde_json::Value {
    let (o, _) = run(cmd, code);
    serde_json::from_str(&o).unwrap_or_else(|e| panic!("bad JSON ({e}): {o}"))
}

/// One line of a diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Removed(String),
    Added(String),
}

/// The lines removed from `a` and added in `b` (longest common subsequence of lines; line
/// endings kept, so a CRLF→LF change shows up).
pub fn line_diff(a: &str, b: &str) -> Vec<Change> {
    let a: Vec<&str> = a.split_inclusive('\n').collect();
    let b: Vec<&str> = b.split_inclusive('\n').collect();
    let (n, m) = (a.len(), b.len());
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i] == b[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            i += 1;
            j += 1;
        } else if j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j]) {
            out.push(Change::Added(b[j].to_string()));
            j += 1;
        } else {
            out.push(Change::Removed(a[i].to_string()));
            i += 1;
        }
    }
    out
}

/// Whether a catalog line is one `sync` generates: a summary row, a progress-by-lane row, an
/// open-issue row, or the `Last Updated` line.
pub fn is_generated_line(line: &str) -> bool {
    let l = line.trim_end_matches(['\n', '\r']);
    if l.starts_with("> **Last Updated:**") {
        return true;
    }
    let cells: Vec<&str> = match l.strip_prefix('|').and_then(|r| r.strip_suffix('|')) {
        Some(inner) => inner.split('|').map(str::trim).collect(),
        None => return false,
    };
    let num = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    let summary = cells.len() == 4 && cells[..3].iter().all(|c| num(c)) && cells[3].starts_with('[');
    let progress = cells.len() == 5 && cells[1..4].iter().all(|c| num(c)) && ["🔴", "🟡", "✅"].iter().any(|m| cells[4].starts_with(m));
    let lane = cells.len() == 5 && cells[0].contains('-') && cells[4] == "OPEN";
    summary || progress || lane
}
