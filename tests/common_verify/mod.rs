//! Hermetic temporary repositories for the `verify` end-to-end tests: git with no system or user
//! configuration, a fixed author and date, `HOME` inside the temp dir, and the binary run with a
//! cleared environment.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};

use tempfile::TempDir;

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

    /// A directory outside the repository, inside the temp dir.
    pub fn outside(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    fn isolated_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("PATH", std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into())),
            ("HOME", self.home.display().to_string()),
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

    /// Run git in the repository; panics on failure.
    pub fn git(&self, args: &[&str]) -> String {
        #[allow(clippy::disallowed_methods)] // test setup, not product code
        let out = std::process::Command::new("git")
            .args(args)
            .current_dir(&self.root)
            .env_clear()
            .envs(self.isolated_env())
            .output()
            .expect("git runs");
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn commit_all(&self, message: &str) {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
    }

    pub fn write(&self, rel: &str, content: &str) {
        let p = self.root.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, content).unwrap();
    }

    pub fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.root.join(rel)).unwrap()
    }

    /// Write `issues/<lane>/<id>.md` with these checks (the lines of the bash block).
    pub fn issue(&self, id: &str, lane: &str, status: &str, affected: &[&str], checks: &str) {
        let paths: Vec<String> = affected.iter().map(|p| format!("\"{p}\"")).collect();
        let text = format!(
            "---\nissue_id: \"{id}\"\nlane: \"{lane}\"\nseverity: 5\nstatus: \"{status}\"\naffected_paths: [{}]\n---\n\n# [LANE {lane}] Issue {id}: Test issue {id}\n\n## Verification Commands\n\n```bash\n{checks}```\n\n- **Status:** {status}\n",
            paths.join(", ")
        );
        self.write(&format!("issues/{lane}/{id}.md"), &text);
    }

    /// The binary, in the repository, with the isolated environment only.
    pub fn cmd(&self) -> assert_cmd::Command {
        let mut c = assert_cmd::Command::cargo_bin("git-lanes").expect("binary built");
        c.current_dir(&self.root).env_clear().envs(self.isolated_env());
        c
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
}

/// Run and parse stdout as JSON, asserting the exit code.
pub fn json_of(cmd: &mut assert_cmd::Command, code: i32) -> serde_json::Value {
    let out = cmd.output().expect("runs");
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("bad JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}
