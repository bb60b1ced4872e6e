//! YAML frontmatter: finding it, parsing it with positions, and byte-minimal edits of its keys.
//!
//! Values are never round-tripped through a serializer: to change `status:` we find the line of
//! the top-level key and splice only the value's bytes, so comments, quoting style, key order and
//! line endings stay as the author wrote them.

use std::path::Path;

use crate::base::error::Problem;
use crate::files::text::{TrimFast, lines_with_offsets};

/// Where the frontmatter sits in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Split {
    /// Byte range of the YAML between the `---` lines.
    pub yaml_start: usize,
    pub yaml_end: usize,
    /// File line of the first YAML line.
    pub yaml_line: usize,
    /// Byte offset and line where the markdown body starts (after the closing `---`).
    pub body_offset: usize,
    pub body_line: usize,
}

/// Find the frontmatter: a first line `---`, then YAML, then a line `---` (or `...`).
pub fn split(text: &str) -> Option<Split> {
    let mut lines = lines_with_offsets(text);
    let (_, _, first) = lines.next()?;
    if first.trim_end_fast() != "---" {
        return None;
    }
    let yaml_start = text.find('\n')? + 1;
    for (n, off, line) in lines {
        // Only a line led by `-` or `.` can close it: the others are passed over at that byte.
        if !matches!(line.as_bytes().first(), Some(b'-' | b'.')) {
            continue;
        }
        let t = line.trim_end_fast();
        if t == "---" || t == "..." {
            let body_offset = text[off..].find('\n').map(|i| off + i + 1).unwrap_or(text.len());
            return Some(Split { yaml_start, yaml_end: off, yaml_line: 2, body_offset, body_line: n + 1 });
        }
    }
    None
}

/// Parse the YAML of a frontmatter into `T`, turning errors into `path:line` of the file.
pub fn parse<T: serde::de::DeserializeOwned>(path: &Path, text: &str, split: &Split) -> Result<T, Problem> {
    let yaml = &text[split.yaml_start..split.yaml_end];
    serde_saphyr::from_str::<T>(yaml).map_err(|e| {
        let line = e.location().map(|l| l.line() as usize).unwrap_or(0);
        let file_line = if line == 0 { split.yaml_line } else { split.yaml_line + line - 1 };
        let msg = first_line(&e.to_string());
        Problem::new(path, file_line, format!("invalid frontmatter: {msg}"))
    })
}

fn first_line(s: &str) -> String {
    let l = s.lines().next().unwrap_or(s);
    // serde-saphyr writes its own position, relative to the YAML, as "at line X column Y" or as a
    // leading "error: line X column Y: "; we print the file position instead.
    let l = l.strip_prefix("error: ").unwrap_or(l);
    let l = match l.strip_prefix("line ").and_then(|r| r.split_once(": ")) {
        Some((pos, rest)) if pos.split_whitespace().count() == 3 && pos.contains(" column ") => rest,
        _ => l,
    };
    match l.find(" at line ") {
        Some(i) => l[..i].to_string(),
        None => l.to_string(),
    }
}

/// The byte range of the scalar value of top-level `key` (what follows `key:` up to a comment or
/// the end of line, trimmed), if the key is present with a scalar value on its line.
pub fn value_span(text: &str, split: &Split, key: &str) -> Option<(usize, usize)> {
    let yaml = &text[split.yaml_start..split.yaml_end];
    for (_, off, line) in lines_with_offsets(yaml) {
        let Some(rest) = line.strip_prefix(key) else { continue };
        let Some(after) = rest.trim_start_matches([' ', '\t']).strip_prefix(':') else { continue };
        let value_rel = line.len() - after.len();
        let v = value_extent(after);
        let lead = after.len() - after.trim_start_fast().len();
        let start = split.yaml_start + off + value_rel + lead;
        return Some((start, start + v));
    }
    None
}

/// Length of the value text at the start of `s` (after leading blanks): a quoted string up to its
/// closing quote, or a plain scalar up to ` #` or the end.
fn value_extent(s: &str) -> usize {
    let t = s.trim_start_fast();
    let b = t.as_bytes();
    match b.first() {
        Some(q @ (b'"' | b'\'')) => {
            let mut i = 1;
            while i < b.len() {
                if b[i] == b'\\' && *q == b'"' {
                    i += 2;
                    continue;
                }
                if b[i] == *q {
                    if *q == b'\'' && b.get(i + 1) == Some(&b'\'') {
                        i += 2;
                        continue;
                    }
                    return i + 1;
                }
                i += 1;
            }
            t.trim_end_fast().len()
        }
        _ => {
            let end = t.find(" #").or_else(|| t.find("\t#")).unwrap_or(t.len());
            t[..end].trim_end_fast().len()
        }
    }
}

/// Render `value` the way the existing scalar `old` was written: double-quoted, single-quoted or
/// plain (plain only when the value needs no quoting).
pub fn render_like(old: &str, value: &str) -> String {
    if old.starts_with('\'') && !value.contains(|c: char| c.is_control()) {
        format!("'{}'", value.replace('\'', "''"))
    } else if old.starts_with(['"', '\'']) || old.is_empty() || needs_quotes(value) {
        crate::files::yaml::quoted(value)
    } else {
        value.to_string()
    }
}

fn needs_quotes(v: &str) -> bool {
    v.is_empty()
        || v.contains(|c: char| c.is_control())
        || v.ends_with(':')
        || v.trim() != v
        || v.contains(": ")
        || v.contains(" #")
        || v.starts_with(|c: char| "!&*-?{}[],#|>@`\"'%: ".contains(c))
        || matches!(v.to_ascii_lowercase().as_str(), "true" | "false" | "null" | "yes" | "no" | "~")
}

/// Set top-level `key` to `value` in the frontmatter: replace the value bytes if the key exists,
/// otherwise append `key: "value"` as the frontmatter's last line. Returns the new text.
pub fn set_value(text: &str, split: &Split, key: &str, value: &str) -> String {
    set_rendered(text, split, key, value, false)
}

/// Set top-level `key` to a number (written bare, `verification_confidence: 100`, as the seed
/// writes it), in place or appended.
pub fn set_number(text: &str, split: &Split, key: &str, value: u64) -> String {
    set_rendered(text, split, key, &value.to_string(), true)
}

fn set_rendered(text: &str, split: &Split, key: &str, value: &str, bare: bool) -> String {
    let render = |old: &str| if bare { value.to_string() } else { render_like(old, value) };
    if let Some((s, e)) = value_span(text, split, key) {
        let rendered = render(&text[s..e]);
        let mut out = String::with_capacity(text.len() + rendered.len());
        out.push_str(&text[..s]);
        out.push_str(&rendered);
        out.push_str(&text[e..]);
        return out;
    }
    let eol = crate::files::text::line_ending(text);
    let mut insert = format!("{key}: {}{eol}", render("\"\""));
    // Keep a frontmatter that lacks a final newline before `---` well-formed.
    if split.yaml_end > split.yaml_start && !text[..split.yaml_end].ends_with('\n') {
        insert.insert_str(0, eol);
    }
    let mut out = String::with_capacity(text.len() + insert.len());
    out.push_str(&text[..split.yaml_end]);
    out.push_str(&insert);
    out.push_str(&text[split.yaml_end..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "---\n# comment\nissue_id: \"E-01\"\nstatus: 'OPEN' # keep me\nlane: E\n---\n# Body\n";

    #[test]
    fn splits_and_finds_values() {
        let s = split(DOC).unwrap();
        assert_eq!(&DOC[s.yaml_start..s.yaml_end], "# comment\nissue_id: \"E-01\"\nstatus: 'OPEN' # keep me\nlane: E\n");
        assert_eq!(s.body_line, 7);
        let (a, b) = value_span(DOC, &s, "status").unwrap();
        assert_eq!(&DOC[a..b], "'OPEN'");
        let (a, b) = value_span(DOC, &s, "lane").unwrap();
        assert_eq!(&DOC[a..b], "E");
        assert!(value_span(DOC, &s, "lan").is_none());
    }

    #[test]
    fn set_value_changes_only_the_value() {
        let s = split(DOC).unwrap();
        let out = set_value(DOC, &s, "status", "RESOLVED");
        assert_eq!(out, DOC.replace("'OPEN'", "'RESOLVED'"));
        let out = set_value(DOC, &s, "lane", "M");
        assert_eq!(out, DOC.replace("lane: E", "lane: M"));
        let out = set_value(DOC, &s, "date_verified", "2026-01-01");
        assert_eq!(out, DOC.replace("lane: E\n", "lane: E\ndate_verified: \"2026-01-01\"\n"));
    }

    #[test]
    fn any_value_set_reads_back_as_itself() {
        for v in ["a: b", "ends:", " padded", "line\nbreak", "#x", "[x]", "it's", "say \"hi\"", "plain"] {
            for doc in [DOC.to_string(), DOC.replace("lane: E", "lane: 'E'"), DOC.replace("lane: E", "lane: \"E\"")] {
                let s = split(&doc).unwrap();
                let out = set_value(&doc, &s, "lane", v);
                let s2 = split(&out).unwrap();
                let yaml = &out[s2.yaml_start..s2.yaml_end];
                let back: std::collections::BTreeMap<String, serde_json::Value> =
                    serde_saphyr::from_str(yaml).unwrap_or_else(|e| panic!("{v:?}: {e}\n{yaml}"));
                assert_eq!(back["lane"], serde_json::Value::String(v.to_string()), "{yaml}");
            }
        }
    }

    #[test]
    fn crlf_is_kept() {
        let doc = DOC.replace('\n', "\r\n");
        let s = split(&doc).unwrap();
        let out = set_value(&doc, &s, "status", "RESOLVED");
        assert_eq!(out, doc.replace("'OPEN'", "'RESOLVED'"));
        let out = set_value(&doc, &s, "new_key", "x");
        assert!(out.contains("lane: E\r\nnew_key: \"x\"\r\n---"));
    }

    #[test]
    fn parse_error_points_at_file_line() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct F {
            a: u32,
        }
        let doc = "---\nb: 1\na: [oops\n---\n";
        let s = split(doc).unwrap();
        let e = parse::<F>(Path::new("x.md"), doc, &s).unwrap_err();
        assert!(e.line >= 2, "{e:?}");
        assert!(e.message.starts_with("invalid frontmatter"));
    }
}
