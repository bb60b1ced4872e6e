//! A fast reader for the simple YAML that frontmatter almost always is: top-level `key: scalar`,
//! `key: [flow, list]` and `key:` followed by `- item` lines, with comments and blank lines.
//!
//! Anything outside that subset — nested mappings, anchors, tags, block scalars, multi-line
//! strings, unusual escapes, numbers other than plain integers, YAML 1.1 booleans, duplicate keys —
//! makes [`each`] return `None`, and the caller uses the full parser (serde-saphyr) instead, so
//! the result is the same either way; a test holds the two to that. It exists because loading
//! ten thousand issue files is dominated by YAML parsing, and this path is ~20× faster on them.

use crate::files::text::TrimFast;

/// A value in the subset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum YamlValue {
    Null,
    /// A plain decimal integer.
    Int(i64),
    /// `true` / `false` (YAML 1.2 spellings).
    Bool(bool),
    Str(String),
    List(Vec<String>),
}

/// [`each`]'s keys, lines and values as a list (for the tests).
#[cfg(test)]
fn parse(yaml: &str) -> Option<Vec<(&str, usize, YamlValue)>> {
    let mut out = Vec::new();
    each(yaml, |key, at, value| {
        out.push((key, at, value));
        Some(())
    })?;
    Some(out)
}

/// Read `yaml` if it is inside the subset, handing each key, the 0-based line of `yaml` it is on
/// and its value to `take` as it is read (no list of them is built). `None` means "use the full
/// parser": from the text, or from `take`, it stops the reading, and whatever `take` was given
/// is then to be dropped.
pub fn each<'y>(yaml: &'y str, mut take: impl FnMut(&'y str, usize, YamlValue) -> Option<()>) -> Option<()> {
    // The keys so far, to refuse a duplicate (as YAML does); frontmatter with more keys than
    // this goes to the full parser.
    let mut seen: [&str; MAX_KEYS] = [""; MAX_KEYS];
    let mut keys = 0;
    // A tab outside a blank or comment line sends the text to the full parser; most frontmatter
    // holds none, and one search of the whole text spares one of every line.
    let tabs = memchr::memchr(b'\t', yaml.as_bytes()).is_some();
    let has_tab = |line: &str| tabs && line.contains('\t');
    let mut lines = crate::files::text::lines_with_offsets(yaml).map(|(n, _, l)| (n - 1, l)).peekable();
    while let Some((at, line)) = lines.next() {
        if skippable(line) {
            continue;
        }
        // Not blank, so it has a first byte.
        if matches!(line.as_bytes()[0], b' ' | b'\t' | b'-') || has_tab(line) {
            return None;
        }
        let colon = memchr::memchr(b':', line.as_bytes())?;
        let key = &line[..colon];
        if key.is_empty()
            || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            || !key.as_bytes()[0].is_ascii_alphabetic()
        {
            return None;
        }
        let rest = &line[colon + 1..];
        if !rest.is_empty() && !rest.starts_with(' ') {
            return None;
        }
        let rest = strip_comment_plain(rest.trim_ascii());
        let value = if rest.is_empty() {
            // A block list may follow; otherwise the value is null.
            let mut items = Vec::new();
            while let Some(&(_, next)) = lines.peek() {
                if skippable(next) {
                    lines.next();
                    continue;
                }
                let t = next.trim_ascii_start();
                if !t.starts_with("- ") && t != "-" {
                    break;
                }
                if has_tab(next) {
                    return None;
                }
                let item = strip_comment_plain(t[1..].trim_ascii());
                items.push(list_item(item)?);
                lines.next();
            }
            items.shrink_to_fit();
            if items.is_empty() { YamlValue::Null } else { YamlValue::List(items) }
        } else if let Some(inner) = rest.strip_prefix('[') {
            let inner = inner.strip_suffix(']')?;
            YamlValue::List(flow_items(inner)?)
        } else {
            scalar(rest)?
        };
        if keys == MAX_KEYS || seen[..keys].contains(&key) {
            return None;
        }
        seen[keys] = key;
        keys += 1;
        take(key, at, value)?;
    }
    Some(())
}

/// The most top-level keys [`each`] reads (issue frontmatter has about ten).
const MAX_KEYS: usize = 48;

/// A blank or comment line. Only ASCII spaces count: a line led by other white space is left
/// to the full parser (it fails the key test).
fn skippable(line: &str) -> bool {
    line.bytes().find(|b| !b.is_ascii_whitespace()).is_none_or(|b| b == b'#')
}

/// Where ` #` (a comment after a value) starts in `v`, if anywhere.
fn comment_at(v: &str) -> Option<usize> {
    let b = v.as_bytes();
    memchr::memchr_iter(b'#', b).find(|&i| i > 0 && b[i - 1] == b' ').map(|i| i - 1)
}

/// Drop a trailing ` # comment` from a value that is not quoted (quoted values handle it).
fn strip_comment_plain(v: &str) -> &str {
    if v.starts_with('"') || v.starts_with('\'') {
        return v;
    }
    if v.starts_with('[') {
        // `[a, b] # c`: the comment starts after the closing bracket.
        return match v.rfind(']') {
            Some(i) if v[i + 1..].trim_fast().is_empty() || v[i + 1..].trim_start_fast().starts_with('#') => &v[..=i],
            _ => v,
        };
    }
    match comment_at(v) {
        Some(i) => v[..i].trim_end_fast(),
        None => v,
    }
}

/// A scalar value: quoted string, plain integer, null, or a plain string that no YAML schema
/// reads as anything else.
fn scalar(v: &str) -> Option<YamlValue> {
    match v.as_bytes().first()? {
        b'"' | b'\'' => quoted(v).map(YamlValue::Str),
        _ => {
            if is_null(v) {
                return Some(YamlValue::Null);
            }
            match v {
                "true" | "True" | "TRUE" => return Some(YamlValue::Bool(true)),
                "false" | "False" | "FALSE" => return Some(YamlValue::Bool(false)),
                _ => {}
            }
            if let Some(n) = plain_int(v) {
                return Some(YamlValue::Int(n));
            }
            plain_str(v).map(|s| YamlValue::Str(s.to_string()))
        }
    }
}

fn is_null(v: &str) -> bool {
    matches!(v, "~" | "null" | "Null" | "NULL")
}

fn plain_int(v: &str) -> Option<i64> {
    let ok = (v == "0" || (v.as_bytes()[0].is_ascii_digit() && v.as_bytes()[0] != b'0'))
        && v.len() <= 18
        && v.bytes().all(|b| b.is_ascii_digit());
    if ok { v.parse().ok() } else { None }
}

/// A plain string: starts with a letter (or `/`, `_`, `.` followed by a letter), holds no
/// character that could change its meaning, and is not a special word of YAML 1.1 or 1.2.
fn plain_str(v: &str) -> Option<&str> {
    let first = v.chars().next()?;
    if !(first.is_ascii_alphabetic() || first == '/' || first == '_') {
        return None;
    }
    // One pass for what could change its meaning: `: ` or a final `:`, ` #`, brackets, braces,
    // quotes, backticks and tabs.
    let b = v.as_bytes();
    let meaningful = b.iter().enumerate().any(|(i, &c)| match c {
        b'{' | b'}' | b'[' | b']' | b'`' | b'"' | b'\'' | b'\t' => true,
        b':' => b.get(i + 1).is_none_or(|n| *n == b' '),
        b'#' => i > 0 && b[i - 1] == b' ',
        _ => false,
    });
    // Trailing white space other than ASCII's (YAML trims only spaces and tabs) is left to the
    // full parser.
    if meaningful || v.ends_with(char::is_whitespace) {
        return None;
    }
    const SPECIAL: [&str; 11] = ["true", "false", "yes", "no", "on", "off", "y", "n", "null", ".inf", ".nan"];
    if v.len() <= 5 && SPECIAL.iter().any(|w| w.eq_ignore_ascii_case(v)) {
        return None;
    }
    Some(v)
}

/// A quoted scalar on one line, with only the common escapes; anything after it must be blank
/// or a comment.
fn quoted(v: &str) -> Option<String> {
    let q = v.chars().next()?;
    // Most values hold no escape: the closing quote ends them, and they are copied whole.
    let inner = &v[1..];
    if let Some(end) = memchr::memchr2(q as u8, b'\\', inner.as_bytes()) {
        let after = &inner[end + 1..];
        if inner.as_bytes()[end] == q as u8 && !(q == '\'' && after.starts_with('\'')) {
            let after = after.trim_matches([' ', '\t']);
            return (after.is_empty() || after.starts_with('#')).then(|| inner[..end].to_string());
        }
    }
    let mut out = String::new();
    let mut chars = v[1..].char_indices();
    while let Some((i, c)) = chars.next() {
        if c == q {
            if q == '\'' && v[1 + i + 1..].starts_with('\'') {
                chars.next();
                out.push('\'');
                continue;
            }
            let after = v[1 + i + 1..].trim_matches([' ', '\t']);
            return (after.is_empty() || after.starts_with('#')).then_some(out);
        }
        if c == '\\' && q == '"' {
            let (_, e) = chars.next()?;
            out.push(match e {
                '\\' => '\\',
                '"' => '"',
                '/' => '/',
                'n' => '\n',
                't' => '\t',
                _ => return None,
            });
            continue;
        }
        out.push(c);
    }
    None
}

fn list_item(v: &str) -> Option<String> {
    match v.as_bytes().first()? {
        b'"' | b'\'' => quoted(v),
        _ => plain_str(v).map(str::to_string),
    }
}

/// Items of a one-line flow list (`a, "b, c", 'd'`).
fn flow_items(inner: &str) -> Option<Vec<String>> {
    // Room for one item per comma and one more (exact unless a quoted item holds a comma): the
    // lists are kept in every issue's summary.
    let mut rest = inner.trim_fast();
    let commas = memchr::memchr_iter(b',', rest.as_bytes()).count();
    let mut items = Vec::with_capacity(if rest.is_empty() { 0 } else { commas + 1 });
    while !rest.is_empty() {
        let (item, after) = match rest.as_bytes()[0] {
            q @ (b'"' | b'\'') => {
                // Find the closing quote (doubled single quotes and escaped double quotes skip).
                let b = rest.as_bytes();
                let mut i = 1;
                let mut plain = true;
                loop {
                    // The next quote, or backslash in a double-quoted item (one search, not a
                    // test of every byte).
                    let tail = b.get(i..)?;
                    i += if q == b'"' { memchr::memchr2(q, b'\\', tail) } else { memchr::memchr(q, tail) }?;
                    if b[i] == b'\\' {
                        (i, plain) = (i + 2, false);
                        continue;
                    }
                    if q == b'\'' && b.get(i + 1) == Some(&b'\'') {
                        (i, plain) = (i + 2, false);
                        continue;
                    }
                    break;
                }
                // Without an escape or a doubled quote the item is the text between the quotes.
                let item = if plain { rest[1..i].to_string() } else { quoted(&rest[..=i])? };
                (item, &rest[i + 1..])
            }
            _ => {
                let end = rest.find(',').unwrap_or(rest.len());
                (plain_str(rest[..end].trim_fast())?.to_string(), &rest[end..])
            }
        };
        items.push(item);
        let after = after.trim_start_fast();
        rest = match after.strip_prefix(',') {
            Some(r) => r.trim_start_fast(),
            None if after.is_empty() => after,
            None => return None,
        };
    }
    Some(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_subset() {
        let y = "# c\nissue_id: \"E-01\"\nlane: E # note\nseverity: 7\ntype_tags: [\"a\", b, 'c''d']\nstatus: 'OPEN'\naffected_paths:\n  - \"x/y.md\"\n  - z\ndepends_on: []\nblocks:\nempty: ~\n";
        let v = parse(y).unwrap();
        assert_eq!(v[0], ("issue_id", 1, YamlValue::Str("E-01".into())));
        assert_eq!(v[1], ("lane", 2, YamlValue::Str("E".into())));
        assert_eq!(v[2], ("severity", 3, YamlValue::Int(7)));
        assert_eq!(v[3], ("type_tags", 4, YamlValue::List(vec!["a".into(), "b".into(), "c'd".into()])));
        assert_eq!(v[4], ("status", 5, YamlValue::Str("OPEN".into())));
        assert_eq!(v[5], ("affected_paths", 6, YamlValue::List(vec!["x/y.md".into(), "z".into()])));
        assert_eq!(v[6], ("depends_on", 9, YamlValue::List(vec![])));
        assert_eq!(v[7], ("blocks", 10, YamlValue::Null));
        assert_eq!(v[8], ("empty", 11, YamlValue::Null));
    }

    #[test]
    fn more_keys_than_it_tracks_go_to_the_full_parser() {
        let many = |n: usize| (0..n).map(|k| format!("k{k}: {k}\n")).collect::<String>();
        assert_eq!(parse(&many(MAX_KEYS)).map(|v| v.len()), Some(MAX_KEYS));
        assert!(parse(&many(MAX_KEYS + 1)).is_none());
    }

    #[test]
    fn flow_lists_are_sized_to_their_items() {
        for (y, n) in [("a: []\n", 0), ("a: [x]\n", 1), ("a: [x, \"y\", 'z']\n", 3)] {
            let Some(v) = parse(y) else { panic!("{y:?} is in the subset") };
            let YamlValue::List(items) = &v[0].2 else { panic!("{y:?} is a list") };
            assert_eq!((items.len(), items.capacity()), (n, n), "{y:?}");
        }
    }

    #[test]
    fn leaves_everything_else_to_the_full_parser() {
        for y in [
            "a: &x 1\n",
            "a: *x\n",
            "a: |\n  text\n",
            "a:\n  b: 1\n",
            "a: yes\n",
            "a: on\n",
            "a: 1.5\n",
            "a: 007\n",
            "a: 2026-01-01\n",
            "a: \"multi\n  line\"\n",
            "a: \"\\x41\"\n",
            "a: 1\na: 2\n",
            " a: 1\n",
            "a: [1, 2]\n",
            "a: [x, [y]]\n",
            "a: [\"x\\]\n",
            "a: [\"x\\\"]\n",
            "a: b: c\n",
            "a: !tag x\n",
            // White space other than spaces and tabs (a no-break space here) is not YAML's.
            "a: \"x\"\u{a0}\n",
            "a: x\u{a0}\n",
            "\u{a0}# c\na: 1\n",
        ] {
            assert!(parse(y).is_none(), "{y:?} should fall back");
        }
    }
}
