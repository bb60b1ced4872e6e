//! Turning file bytes into text we can parse: size limit, BOM, UTF-8, git conflict markers.
//!
//! Every refusal names `path:line`. CRLF is kept as-is (rewrites must not change line endings);
//! parsers trim a trailing `\r` from each line.

use std::path::Path;

use crate::base::error::Problem;

/// `1 lane`, `2 lanes`: a count with its noun, for messages (`plural(n, "lane")`).
pub fn plural(n: usize, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}

/// Files larger than this are refused rather than parsed (issue files are a few KiB).
pub const MAX_FILE_BYTES: usize = 4 * 1024 * 1024;

/// Decoded file text and whether a UTF-8 BOM was stripped (and must be put back on rewrite).
#[derive(Debug, Clone)]
pub struct Text {
    pub text: String,
    pub bom: bool,
}

/// Decode `bytes` read from `path` (relative path used in messages), a `kind` of file (`issue
/// file`, `catalog`, …: said when it is refused).
pub fn decode(kind: &str, path: &Path, bytes: Vec<u8>) -> Result<Text, Problem> {
    refuse_large(kind, path, &bytes)?;
    let (bom, bytes) = match bytes.strip_prefix(BOM) {
        Some(rest) => (true, rest.to_vec()),
        None => (false, bytes),
    };
    let text = String::from_utf8(bytes).map_err(|e| not_utf8(path, e.as_bytes(), e.utf8_error()))?;
    refuse_conflicts(path, &text)?;
    Ok(Text { text, bom })
}

/// [`decode`] without taking the bytes: the text borrowed from them, and whether a BOM was
/// stripped.
pub fn decode_borrowed<'b>(kind: &str, path: &Path, bytes: &'b [u8]) -> Result<(&'b str, bool), Problem> {
    refuse_large(kind, path, bytes)?;
    let (bom, bytes) = match bytes.strip_prefix(BOM) {
        Some(rest) => (true, rest),
        None => (false, bytes),
    };
    let text = std::str::from_utf8(bytes).map_err(|e| not_utf8(path, bytes, e))?;
    refuse_conflicts(path, text)?;
    Ok((text, bom))
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

fn refuse_large(kind: &str, path: &Path, bytes: &[u8]) -> Result<(), Problem> {
    if bytes.len() > MAX_FILE_BYTES {
        // Readers stop a byte past the limit: the length seen is not the file's size.
        return Err(Problem::new(path, 0, format!("{kind} is larger than the {MAX_FILE_BYTES} byte limit ({} MiB)", MAX_FILE_BYTES >> 20))
            .with_hint(format!("is this the right file? a {kind} is a few KiB of text")));
    }
    Ok(())
}

fn not_utf8(path: &Path, bytes: &[u8], e: std::str::Utf8Error) -> Problem {
    let at = e.valid_up_to();
    let line = 1 + bytes[..at].iter().filter(|b| **b == b'\n').count();
    Problem::new(path, line, format!("file is not valid UTF-8 (byte {at})")).with_hint("save the file as UTF-8")
}

fn refuse_conflicts(path: &Path, text: &str) -> Result<(), Problem> {
    match conflict_marker_line(text) {
        Some(line) => Err(Problem::new(path, line, "file holds git conflict markers (`<<<<<<<`)")
            .with_hint("resolve the merge conflict in this file, then `git add` it")),
        None => Ok(()),
    }
}

/// The 1-based line of the first `<<<<<<< ` conflict marker, if any.
pub fn conflict_marker_line(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    // Seven `<` or `>` at a line's start, then a space or the line's end (`\r\n` counts as an
    // end for `<<<<<<<` only, as `str::lines` gives it); searched for, not walked line by line.
    let marker_at = |at: usize| {
        let run = &bytes[at..];
        let rest = &run[7..];
        match run[0] {
            b'<' => matches!(rest, [] | [b' ', ..] | [b'\n', ..] | [b'\r', b'\n', ..]),
            _ => rest.first() == Some(&b' '),
        }
    };
    let first = memchr::memchr2_iter(b'<', b'>', bytes).find(|&at| {
        (at == 0 || bytes[at - 1] == b'\n') && bytes.get(at..at + 7).is_some_and(|run| run.iter().all(|&c| c == bytes[at])) && marker_at(at)
    });
    first.map(|at| 1 + memchr::memchr_iter(b'\n', &bytes[..at]).count())
}

/// Iterate `(line_number, byte_offset, line_without_eol)` over `text`.
///
/// Line ends are found by one vectorised search over the whole text (`memchr`), not one per line.
pub fn lines_with_offsets(text: &str) -> impl Iterator<Item = (usize, usize, &str)> {
    let mut ends = memchr::memchr_iter(b'\n', text.as_bytes());
    let (mut start, mut n) = (0, 0);
    std::iter::from_fn(move || {
        if start >= text.len() {
            return None;
        }
        let at = start;
        let end = ends.next().unwrap_or(text.len());
        start = end + 1;
        n += 1;
        let line = &text[at..end];
        Some((n, at, line.strip_suffix('\r').unwrap_or(line)))
    })
}

/// White space trimmed as `str`'s methods trim it (Unicode's), without decoding characters when
/// the new ends are ASCII, as they nearly always are: issue files are trimmed a line, a key and a
/// value at a time, ten thousand files in a load.
pub trait TrimFast {
    /// [`str::trim`].
    fn trim_fast(&self) -> &str;
    /// [`str::trim_start`].
    fn trim_start_fast(&self) -> &str;
    /// [`str::trim_end`].
    fn trim_end_fast(&self) -> &str;
}

impl TrimFast for str {
    fn trim_fast(&self) -> &str {
        self.trim_start_fast().trim_end_fast()
    }

    fn trim_start_fast(&self) -> &str {
        // ASCII's white space (as `u8::is_ascii_white_space` has it) is Unicode's; of the rest of
        // ASCII only the vertical tab is.
        let t = self.trim_ascii_start();
        match t.as_bytes().first() {
            Some(&b) if b >= 0x80 || b == 0x0b => t.trim_start(),
            _ => t,
        }
    }

    fn trim_end_fast(&self) -> &str {
        let t = self.trim_ascii_end();
        match t.as_bytes().last() {
            Some(&b) if b >= 0x80 || b == 0x0b => t.trim_end(),
            _ => t,
        }
    }
}

/// The line ending a file uses (`\r\n` when its first line ends so).
pub fn line_ending(text: &str) -> &'static str {
    match text.find('\n') {
        Some(i) if i > 0 && text.as_bytes()[i - 1] == b'\r' => "\r\n",
        _ => "\n",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trimming_fast_trims_as_str_does() {
        let pieces = [" ", "\t", "\n", "\r", "\x0b", "\x0c", "\u{1c}", "\u{85}", "\u{a0}", "\u{3000}", "a", "\u{e9}", "#"];
        let mut s = String::new();
        let mut strings = 0;
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    for d in pieces {
                        s.clear();
                        s.extend([a, b, c, d]);
                        assert_eq!(s.trim_fast(), s.trim(), "{s:?}");
                        assert_eq!(s.trim_start_fast(), s.trim_start(), "{s:?}");
                        assert_eq!(s.trim_end_fast(), s.trim_end(), "{s:?}");
                        strings += 1;
                    }
                }
            }
        }
        assert_eq!(strings, pieces.len().pow(4));
        assert_eq!("".trim_fast(), "");
    }

    #[test]
    fn refuses_bad_input_with_lines() {
        let p = Path::new("x.md");
        let e = decode("issue file", p, b"a\nb\n\xff\n".to_vec()).unwrap_err();
        assert_eq!(e.line, 3);
        let e = decode("issue file", p, b"a\n<<<<<<< HEAD\nb\n=======\nc\n>>>>>>> x\n".to_vec()).unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("conflict"));
        let t = decode("issue file", p, b"\xEF\xBB\xBFhi".to_vec()).unwrap();
        assert!(t.bom);
        assert_eq!(t.text, "hi");
        assert!(decode("issue file", p, vec![b'a'; MAX_FILE_BYTES + 1]).is_err());
    }

    /// The marker search finds the line `str::lines` would: every combination of the pieces
    /// around a marker (line starts, run lengths, what follows, line endings).
    #[test]
    fn conflict_markers_are_found_on_the_line_a_line_walk_finds() {
        let by_lines =
            |t: &str| t.lines().position(|l| l.starts_with("<<<<<<< ") || l == "<<<<<<<" || l.starts_with(">>>>>>> ")).map(|i| i + 1);
        let pieces = ["", "x", " ", "\n", "\r\n", "\r", "<<<<<<<", "<<<<<<", ">>>>>>>", "<<<<<<<<", "=======", " HEAD", "é"];
        let mut n = 0;
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    for d in ["", "\n", "\r\n", " x\n"] {
                        let t = format!("{a}{b}{c}{d}");
                        assert_eq!(conflict_marker_line(&t), by_lines(&t), "{t:?}");
                        n += 1;
                    }
                }
            }
        }
        assert!(n > 8000);
    }

    #[test]
    fn lines_trim_crlf() {
        let v: Vec<_> = lines_with_offsets("a\r\nbc\nd").collect();
        assert_eq!(v, [(1, 0, "a"), (2, 3, "bc"), (3, 6, "d")]);
        for t in ["", "\n", "\n\n", "a", "a\n", "a\r", "\r\n", "a\n\nb\r\n", "é\nü"] {
            let mut offset = 0;
            let by_split: Vec<_> = t
                .split_inclusive('\n')
                .enumerate()
                .map(|(i, raw)| {
                    let at = offset;
                    offset += raw.len();
                    let line = raw.strip_suffix('\n').unwrap_or(raw);
                    (i + 1, at, line.strip_suffix('\r').unwrap_or(line))
                })
                .collect();
            assert_eq!(lines_with_offsets(t).collect::<Vec<_>>(), by_split, "{t:?}");
        }
        assert_eq!(line_ending("a\r\nb"), "\r\n");
    }
}
