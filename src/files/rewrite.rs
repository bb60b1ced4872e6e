//! Byte-minimal edits of issue files: set the status, set `date_verified` and friends, append a
//! `## Resolution` section. Only the bytes that must change are changed; writes are atomic.

use std::path::Path;

use crate::base::error::Result;
use crate::files::frontmatter;
use crate::files::issue::{Issue, Status};

/// What a resolution section records (seed format).
#[derive(Debug, Clone, Default)]
pub struct Resolution {
    pub date: String,
    pub fixed_by: String,
    pub files_changed: Vec<String>,
    /// How many more files the lane changed that belong to no issue of its (named in the run
    /// report, under the lane).
    pub other_files: usize,
    pub verification: String,
}

/// An issue file's text being edited; [`Edit::finish`] gives the bytes to write.
#[derive(Debug, Clone)]
pub struct Edit {
    text: String,
    bom: bool,
    /// The issue came without its text (from the summary cache): every edit is refused, and
    /// [`Edit::write`] says so instead of writing anything.
    textless: bool,
}

impl Edit {
    pub fn new(issue: &Issue) -> Edit {
        Edit { text: issue.text().to_string(), bom: issue.bom, textless: issue.from_cache() }
    }

    fn split(&self) -> Option<frontmatter::Split> {
        if self.textless {
            return None;
        }
        Some(frontmatter::split(&self.text).expect("edits start from a parsed issue, whose frontmatter exists"))
    }

    /// Set a top-level frontmatter key (kept in place and in its quoting style, or appended).
    pub fn set_key(&mut self, key: &str, value: &str) -> &mut Self {
        let Some(split) = self.split() else { return self };
        self.text = frontmatter::set_value(&self.text, &split, key, value);
        self
    }

    /// Set a top-level frontmatter key to a bare number (in place, or appended).
    pub fn set_number(&mut self, key: &str, value: u64) -> &mut Self {
        let Some(split) = self.split() else { return self };
        self.text = frontmatter::set_number(&self.text, &split, key, value);
        self
    }

    /// Change `status:` and the body's `- **Status:** X` / `- Status: X` lines.
    pub fn set_status(&mut self, status: Status) -> &mut Self {
        self.set_key("status", status.as_str());
        let Some(split) = self.split() else { return self };
        let body_start = split.body_offset;
        let mut out = String::with_capacity(self.text.len());
        out.push_str(&self.text[..body_start]);
        let mut in_fence = false;
        for raw in self.text[body_start..].split_inclusive('\n') {
            let t = raw.trim_start();
            if t.starts_with("```") || t.starts_with("~~~") {
                in_fence = !in_fence;
            }
            if !in_fence && let Some(line) = replace_status_line(raw, status) {
                out.push_str(&line);
                continue;
            }
            out.push_str(raw);
        }
        self.text = out;
        self
    }

    /// Append a `## Resolution` section (or replace the existing one's content is never done:
    /// an existing section is kept and a new dated entry is appended under it).
    pub fn add_resolution(&mut self, r: &Resolution) -> &mut Self {
        if self.textless {
            return self;
        }
        let eol = crate::files::text::line_ending(&self.text);
        let mut s = String::new();
        if !self.text.ends_with('\n') {
            s.push_str(eol);
        }
        let has = self.text.lines().any(|l| l.trim_end() == "## Resolution");
        if !has {
            s.push_str(eol);
            s.push_str("## Resolution");
            s.push_str(eol);
        }
        s.push_str(eol);
        s.push_str(&format!("- **Fixed:** {}{eol}", r.date));
        s.push_str(&format!("- **Fixed By:** {}{eol}", r.fixed_by));
        s.push_str(&format!("- **Changes Made:**{eol}"));
        if r.files_changed.is_empty() && r.other_files == 0 {
            s.push_str(&format!("  - (no files changed){eol}"));
        }
        for f in &r.files_changed {
            s.push_str(&format!("  - `{f}`{eol}"));
        }
        if r.other_files > 0 {
            s.push_str(&format!("  - (and {} other file(s) of the lane, listed in the run report){eol}", r.other_files));
        }
        s.push_str(&format!("- **Verification:** {}{eol}", r.verification));
        self.text.push_str(&s);
        self
    }

    /// Append one dated line under `## Resolution` (added when missing): `- **<label>:** <text>`
    /// — how `wontfix` and `reopen` leave their trace next to the fixes.
    pub fn add_resolution_note(&mut self, label: &str, text: &str) -> &mut Self {
        let eol = crate::files::text::line_ending(&self.text);
        let mut s = String::new();
        if !self.text.ends_with('\n') {
            s.push_str(eol);
        }
        if !self.text.lines().any(|l| l.trim_end() == "## Resolution") {
            s.push_str(eol);
            s.push_str("## Resolution");
            s.push_str(eol);
        }
        s.push_str(eol);
        s.push_str(&format!("- **{label}:** {}{eol}", text.replace(['\r', '\n'], " ")));
        self.text.push_str(&s);
        self
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// The bytes to write (BOM restored).
    pub fn finish(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(self.text.len() + 3);
        if self.bom {
            b.extend_from_slice(b"\xEF\xBB\xBF");
        }
        b.extend_from_slice(self.text.as_bytes());
        b
    }

    /// Write atomically to `root/issue.path`.
    pub fn write(&self, root: &Path, issue: &Issue) -> Result<()> {
        if self.textless {
            return Err(crate::base::error::Problem::new(
                &issue.path,
                0,
                "issue was read from the summary cache without its text, so it cannot be edited",
            )
            .with_hint("run the command again; if it persists, delete `.git/lanes/cache/` and report the command")
            .into());
        }
        crate::base::fsutil::write_under(root, &issue.path, &self.finish())
    }
}

/// `- **Status:** OPEN` → `- **Status:** RESOLVED` (also `- Status: OPEN`), keeping the rest.
fn replace_status_line(raw: &str, status: Status) -> Option<String> {
    let indent = raw.len() - raw.trim_start().len();
    let t = &raw[indent..];
    let prefix = ["- **Status:**", "- Status:", "**Status:**"].into_iter().find(|p| t.starts_with(p))?;
    let rest = &t[prefix.len()..];
    let value_start = rest.len() - rest.trim_start().len();
    let word_len = rest[value_start..].find(|c: char| !(c.is_ascii_alphabetic() || c == '_')).unwrap_or(rest.len() - value_start);
    let word = &rest[value_start..value_start + word_len];
    Status::parse(word)?;
    Some(format!("{}{}{}{}{}", &raw[..indent], prefix, &rest[..value_start], status.as_str(), &rest[value_start + word_len..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issue(text: &str) -> Issue {
        Issue::parse(Path::new("issues/X/X-001.md"), text.as_bytes().to_vec()).unwrap()
    }

    /// Lines that differ between two texts, as (-old, +new) pairs.
    fn diff(a: &str, b: &str) -> Vec<(String, String)> {
        a.lines().zip(b.lines()).filter(|(x, y)| x != y).map(|(x, y)| (x.to_string(), y.to_string())).collect()
    }

    #[test]
    fn resolve_changes_only_status_bytes() {
        let before = include_str!("../../tests/fixtures/seed/demo_issue.md");
        let i = issue(before);
        let mut e = Edit::new(&i);
        e.set_status(Status::Resolved);
        let after = e.text();
        assert_eq!(
            diff(before, after),
            [
                ("status: \"OPEN\"".to_string(), "status: \"RESOLVED\"".to_string()),
                ("- Status: OPEN".to_string(), "- Status: RESOLVED".to_string()),
            ]
        );
        assert_eq!(before.len() + 8, after.len());
        assert_eq!(issue(after).status(), Status::Resolved);
    }

    #[test]
    fn date_verified_and_resolution() {
        let before = include_str!("../../tests/fixtures/seed/minimal_demo/issues/E/E-01.md");
        let i = issue(before);
        let mut e = Edit::new(&i);
        e.set_status(Status::Resolved).set_key("date_verified", "2026-11-25").add_resolution(&Resolution {
            date: "2026-11-25".into(),
            fixed_by: "lane E (run R1)".into(),
            files_changed: vec!["examples/minimal_demo/config/guidelines.yaml".into()],
            other_files: 0,
            verification: "1/1 checks passed".into(),
        });
        let after = e.text();
        let expected_prefix = before
            .replace("status: \"OPEN\"\n", "status: \"RESOLVED\"\ndate_verified: \"2026-11-25\"\n")
            .replace("- **Status:** OPEN", "- **Status:** RESOLVED");
        assert!(after.starts_with(&expected_prefix), "{after}");
        let tail = &after[expected_prefix.len()..];
        assert!(tail.starts_with("\n## Resolution\n\n- **Fixed:** 2026-11-25\n"), "{tail}");
        let reparsed = issue(after);
        assert!(reparsed.has_resolution());
        assert_eq!(reparsed.meta.date_verified.as_deref(), Some("2026-11-25"));
        let commands = |i: &Issue| i.checks().into_iter().map(|c| c.command).collect::<Vec<_>>();
        assert_eq!(commands(&reparsed), commands(&i));
    }

    #[test]
    fn status_lines_in_code_blocks_are_left_alone() {
        let before = "---\nissue_id: X-001\nlane: X\nstatus: OPEN # c\n---\n# T\n```\n- **Status:** OPEN\n```\n- **Status:** OPEN\n";
        let mut e = Edit::new(&issue(before));
        e.set_status(Status::Resolved);
        assert_eq!(
            e.text(),
            "---\nissue_id: X-001\nlane: X\nstatus: RESOLVED # c\n---\n# T\n```\n- **Status:** OPEN\n```\n- **Status:** RESOLVED\n"
        );
    }

    #[test]
    fn a_resolution_note_appends_only() {
        let before = include_str!("../../tests/fixtures/seed/minimal_demo/issues/E/E-01.md");
        let mut e = Edit::new(&issue(before));
        e.set_status(Status::Wontfix).add_resolution_note("Won't fix", "2026-11-25 — out of scope");
        let after = e.text();
        assert!(after.ends_with("\n## Resolution\n\n- **Won't fix:** 2026-11-25 — out of scope\n"), "{after}");
        assert_eq!(issue(after).status(), Status::Wontfix);
        let mut e = Edit::new(&issue(after));
        e.set_status(Status::Open).add_resolution_note("Reopened", "2026-11-26");
        let again = e.text();
        assert_eq!(again.matches("## Resolution").count(), 1);
        assert!(again.ends_with("out of scope\n\n- **Reopened:** 2026-11-26\n"), "{again}");
        assert_eq!(issue(again).status(), Status::Open);
    }

    #[test]
    fn crlf_survives() {
        let before = include_str!("../../tests/fixtures/seed/minimal_demo/issues/M/M-01.md").replace('\n', "\r\n");
        let mut e = Edit::new(&issue(&before));
        e.set_status(Status::Resolved).set_key("verification_confidence", "100");
        assert!(!e.text().replace("\r\n", "").contains('\n'));
    }
}
