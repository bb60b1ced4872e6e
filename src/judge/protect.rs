//! Protected paths: the files that judge a fix. Checks run with them as they are at the run's
//! base, and a lane's change to one that exists there is never merged (the lane guard drops it),
//! unless one of the lane's issues lists it under `may_change:`. New files are the lane's.
//!
//! Protected are the `lanes.yaml` `protect:` globs ([`DEFAULT_PROTECT`] when the key is absent)
//! and every repository file or folder a check's command line names (`pytest tests/test_x.py`,
//! `python3 check.py`) — a file a check names inside the affected paths of one of the lane's own
//! issues is what the lane fixes, not what judges it, so it is the lane's to change.
#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::path::Path;

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};

use crate::files::issue::Issue;

pub use crate::files::config::DEFAULT_PROTECT;

/// One glob, compiled the way `protect:` means it: `*` stays inside a folder, `**` crosses them.
pub fn glob(pattern: &str) -> Result<Glob, globset::Error> {
    GlobBuilder::new(pattern.trim_start_matches("./")).literal_separator(true).backslash_escape(true).build()
}

/// The protected paths of a repository at one commit.
#[derive(Debug, Clone)]
pub struct Protection {
    patterns: Vec<String>,
    globs: GlobSet,
    /// Issue id → the repository paths (files or folders, at the base) its checks name.
    named: BTreeMap<String, Vec<String>>,
    /// The same, by path: each named path → the issues whose checks name it (looked up for a
    /// path and each of its folders, so a check is never scanned per changed file).
    by_path: BTreeMap<String, Vec<String>>,
}

impl Protection {
    /// `patterns` from `lanes.yaml` (already validated, see [`glob`]; an invalid one is skipped),
    /// `issues` whose checks name files, `exists` answers whether a path is a file or folder of the
    /// base tree.
    pub fn new<'i>(patterns: &[String], issues: impl IntoIterator<Item = &'i Issue>, exists: impl Fn(&str) -> bool) -> Protection {
        let mut b = GlobSetBuilder::new();
        let mut kept = Vec::new();
        for p in patterns {
            if let Ok(g) = glob(p) {
                b.add(g);
                kept.push(p.clone());
            }
        }
        let globs = b.build().unwrap_or_else(|_| GlobSet::empty());
        let mut named = BTreeMap::new();
        let mut by_path: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for issue in issues {
            let mut paths: Vec<String> = issue.checks().iter().flat_map(|c| named_paths(&c.command)).filter(|p| exists(p)).collect();
            paths.sort();
            paths.dedup();
            for p in &paths {
                by_path.entry(p.clone()).or_default().push(issue.id().to_string());
            }
            if !paths.is_empty() {
                named.insert(issue.id().to_string(), paths);
            }
        }
        Protection { patterns: kept, globs, named, by_path }
    }

    /// Why `path` (a file of the base) may not be changed by a lane working on `lane_issues`, or
    /// `None` when it may.
    pub fn why(&self, path: &str, lane_issues: &[&Issue]) -> Option<String> {
        if lane_issues.iter().any(|i| i.meta.may_change.iter().any(|m| covers(m, path))) {
            return None;
        }
        if let Some(k) = self.globs.matches(path).first() {
            return Some(format!("a protected path (`protect:` pattern `{}`)", self.patterns[*k]));
        }
        let own = lane_issues.iter().any(|i| i.meta.affected_paths.iter().any(|a| covers(a, path)));
        if own {
            return None;
        }
        // The path itself, then each folder above it.
        let mut at = path;
        loop {
            if let Some(ids) = self.by_path.get(at) {
                return Some(format!("a protected path (named by the checks of {})", ids.join(", ")));
            }
            match at.rfind('/') {
                Some(k) => at = &at[..k],
                None => return None,
            }
        }
    }

    /// The protected paths to show for `issue` in a run of its lane (the dry run): the patterns,
    /// then the files and folders its own checks name outside its lane's affected paths. (Files
    /// other issues' checks name are protected too; they are not repeated under every issue.)
    pub fn shown_for(&self, issue: &Issue, lane_issues: &[&Issue]) -> Vec<String> {
        let mut out: Vec<String> = self.patterns.clone();
        let own = |p: &str| lane_issues.iter().any(|i| i.meta.affected_paths.iter().any(|a| covers(a, p)));
        for p in self.named.get(issue.id()).into_iter().flatten() {
            if !own(p) && !out.contains(p) {
                out.push(p.clone());
            }
        }
        out.retain(|p| !issue.meta.may_change.iter().any(|m| m == p || covers(m, p)));
        out
    }
}

/// Whether `spec` (a path, a folder, or a glob) covers the repository path `path`.
pub fn covers(spec: &str, path: &str) -> bool {
    let spec = spec.trim().trim_start_matches("./").trim_end_matches('/');
    if spec.is_empty() {
        return false;
    }
    if spec.contains(['*', '?', '[']) {
        return glob(spec).is_ok_and(|g| g.compile_matcher().is_match(path));
    }
    path == spec || path.strip_prefix(spec).is_some_and(|rest| rest.starts_with('/'))
}

/// The words of a command line that could name a repository path: flags' values after `=`,
/// pytest node ids without their `::test` part, `./` and a trailing `/` dropped; nothing absolute,
/// climbing (`..`) or expanded at run time (`$`).
pub fn named_paths(command: &str) -> Vec<String> {
    let mut out = Vec::new();
    for w in crate::files::safety::words(command) {
        let w = match w.strip_prefix('-') {
            Some(flag) => match flag.split_once('=') {
                Some((_, v)) => v.to_string(),
                None => continue,
            },
            None => w,
        };
        let w = w.split("::").next().unwrap_or("");
        let w = w.trim_start_matches("./").trim_end_matches('/');
        if w.is_empty() || w.starts_with('/') || w.contains('$') || w.contains(['*', '?']) {
            continue;
        }
        if Path::new(w).components().any(|c| !matches!(c, std::path::Component::Normal(_))) {
            continue;
        }
        out.push(w.to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issue(id: &str, checks: &str, extra: &str) -> Issue {
        let text = format!(
            "---\nissue_id: \"{id}\"\nlane: \"A\"\nstatus: \"OPEN\"\naffected_paths: [\"calc.py\"]\n{extra}---\n\n# [LANE A] Issue {id}: t\n\n## Verification Commands\n\n```bash\n{checks}\n```\n"
        );
        Issue::parse(Path::new("issues/A/x.md"), text.into_bytes()).unwrap()
    }

    fn defaults() -> Vec<String> {
        DEFAULT_PROTECT.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn default_patterns_cover_the_usual_test_locations() {
        let p = Protection::new(&defaults(), [], |_| true);
        for path in [
            "tests/test_x.py",
            "tests/a/b.rs",
            "test/x.c",
            "pkg/test_y.py",
            "test_top.py",
            "pkg/y_test.py",
            "x/y_test.go",
            "web/a.test.js",
            "a.spec.ts",
            "spec/m_spec.rb",
            "__tests__/a.js",
            "src/test/java/A.java",
        ] {
            assert!(p.why(path, &[]).is_some(), "{path}");
        }
        for path in ["calc.py", "src/tests.rs", "pkg/testing.py", "docs/test.md", "contest.py", "src/lib.rs"] {
            assert!(p.why(path, &[]).is_none(), "{path}");
        }
    }

    #[test]
    fn files_a_check_names_are_protected_outside_the_lanes_own_paths() {
        let a =
            issue("A-01", "python3 check_calc.py --strict && python3 -m pytest tests/test_x.py::test_add -q\ngrep -q fixed calc.py", "");
        let exists = |p: &str| matches!(p, "check_calc.py" | "tests/test_x.py" | "calc.py");
        let p = Protection::new(&[], [&a], exists);
        assert_eq!(p.named["A-01"], ["calc.py", "check_calc.py", "tests/test_x.py"]);
        // For A's lane: calc.py is what it fixes; for another lane, what judges A.
        assert_eq!(p.why("calc.py", &[&a]), None);
        assert!(p.why("calc.py", &[]).unwrap().contains("named by the checks of A-01"));
        assert!(p.why("check_calc.py", &[&a]).is_some());
        assert!(p.why("tests/test_x.py", &[&a]).is_some());
        assert_eq!(p.why("other.py", &[&a]), None);
        assert_eq!(p.shown_for(&a, &[&a]), ["check_calc.py", "tests/test_x.py"]);
    }

    #[test]
    fn may_change_lifts_the_protection() {
        let a = issue("A-01", "python3 -m pytest tests/", "may_change: [\"tests/test_x.py\", \"spec/\"]\n");
        let p = Protection::new(&defaults(), [&a], |p| p == "tests");
        assert_eq!(p.why("tests/test_x.py", &[&a]), None);
        assert_eq!(p.why("spec/a/b_spec.rb", &[&a]), None);
        assert!(p.why("tests/test_y.py", &[&a]).is_some());
        assert!(p.why("tests/test_x.py", &[]).is_some());
    }

    #[test]
    fn named_paths_skip_what_cannot_be_a_repository_path() {
        assert_eq!(
            named_paths("cd sub && ./run.sh --config=conf/a.yaml -x /etc/passwd ../up $HOME/x 'a b.txt' src/*.rs"),
            ["cd", "sub", "run.sh", "conf/a.yaml", "a b.txt"]
        );
    }

    #[test]
    fn covers_paths_folders_and_globs() {
        assert!(covers("tests", "tests/a.py"));
        assert!(covers("tests/", "tests/a.py"));
        assert!(!covers("tests", "tests2/a.py"));
        assert!(covers("tests/*.py", "tests/a.py"));
        assert!(!covers("tests/*.py", "tests/sub/a.py"));
        assert!(covers("./a.py", "a.py"));
    }
}
