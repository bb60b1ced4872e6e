//! Lane names and issue ids: validation (before any path is built from them) and natural order.

use std::cmp::Ordering;

/// Why a lane name or issue id was refused.
pub fn check_lane(name: &str) -> Result<(), String> {
    check_name(name, "lane name", false)
}

/// Issue ids follow the lane rule with `-` and `.` allowed inside (`E-01`, `X-001`, `SAMPLE-01`).
pub fn check_id(id: &str) -> Result<(), String> {
    check_name(id, "issue id", true)
}

/// Run ids are `YYYYmmdd-HHMMSS` (with `-2`… when taken), a continued run's `<RUN_ID>.2`, or
/// whatever `--run-id` gave: 1–64 letters, digits, `_`, `-` or `.`, starting with a letter or
/// digit, never `..` — they name folders and refs, so nothing that could escape is accepted.
pub fn check_run_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("run id is empty".into());
    }
    if id.len() > 64 {
        return Err(format!("run id `{id}` is too long (at most 64 characters)"));
    }
    if !id.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(format!("run id `{id}` must start with a letter or a digit"));
    }
    if let Some(bad) = id.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))) {
        return Err(format!("run id `{id}` contains `{bad}`; only letters, digits, `_`, `-` and `.` are allowed"));
    }
    if id.contains("..") || id.ends_with('.') || id.ends_with(".lock") {
        return Err(format!("run id `{id}` is not a valid id"));
    }
    Ok(())
}

fn check_name(s: &str, what: &str, is_id: bool) -> Result<(), String> {
    // Byte by byte: names are checked ten thousand at a time, and a message is built only for
    // one that fails.
    let limit = if is_id { 64 } else { 32 };
    let Some(first) = s.bytes().next() else { return Err(format!("{what} is empty")) };
    if s.len() > limit {
        return Err(format!("{what} `{s}` is too long (at most {limit} characters)"));
    }
    if !first.is_ascii_alphabetic() {
        return Err(format!("{what} `{s}` must start with a letter"));
    }
    // Every byte before the first refused one is ASCII, so the refused one starts a character.
    if let Some(at) = s.bytes().position(|c| !(c.is_ascii_alphanumeric() || c == b'_' || c == b'-' || is_id && c == b'.')) {
        let bad = s[at..].chars().next().unwrap_or(' ');
        return Err(format!("{what} `{s}` contains `{bad}`; only letters, digits, `_` and `-` are allowed"));
    }
    if is_id && (s.ends_with('.') || s.as_bytes().windows(2).any(|w| w == b"..")) {
        return Err(format!("{what} `{s}` is not a valid id"));
    }
    Ok(())
}

/// The candidate closest to `name` (for "did you mean"): same name in another case, or within
/// an edit distance of a third of its length (at least 1).
pub fn closest<'a>(name: &str, candidates: &'a [String]) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(1);
    candidates
        .iter()
        .map(|c| (edit_distance(&name.to_lowercase(), &c.to_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.as_str())
}

/// Levenshtein distance over chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb { prev } else { 1 + prev.min(row[j]).min(cur) };
            prev = cur;
        }
    }
    row[b.len()]
}

/// Why a repository-relative path (an affected path) would leave the repository: absolute,
/// home-relative, or climbing with `..`; `None` when it stays inside.
pub fn escapes_repository(rel: &str) -> Option<&'static str> {
    let p = std::path::Path::new(rel);
    if p.is_absolute() {
        return Some("is absolute");
    }
    if rel.starts_with('~') {
        return Some("starts with `~` (a home folder)");
    }
    if p.components().any(|c| matches!(c, std::path::Component::ParentDir)) {
        return Some("climbs out with `..`");
    }
    None
}

/// Natural ordering: digit runs compare by value, so `E-2` < `E-10`.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return Ordering::Equal,
            (None, _) => return Ordering::Less,
            (_, None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let na = a.iter().take_while(|c| c.is_ascii_digit()).count();
                let nb = b.iter().take_while(|c| c.is_ascii_digit()).count();
                let da = trim_zeros(&a[..na]);
                let db = trim_zeros(&b[..nb]);
                let ord = da.len().cmp(&db.len()).then_with(|| da.cmp(db)).then_with(|| na.cmp(&nb));
                if ord != Ordering::Equal {
                    return ord;
                }
                a = &a[na..];
                b = &b[nb..];
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(y);
                }
                a = &a[1..];
                b = &b[1..];
            }
        }
    }
}

fn trim_zeros(d: &[u8]) -> &[u8] {
    let z = d.iter().take_while(|c| **c == b'0').count();
    &d[z.min(d.len().saturating_sub(1))..]
}

/// The number at the end of an id (`E-07` → 7, width 2), used to number the next issue.
pub fn trailing_number(id: &str) -> Option<(u64, usize)> {
    let digits: String = id.chars().rev().take_while(|c| c.is_ascii_digit()).collect();
    if digits.is_empty() {
        return None;
    }
    let digits: String = digits.chars().rev().collect();
    digits.parse().ok().map(|n| (n, digits.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_names_that_escape() {
        for bad in ["", "../x", "a/b", "1E", "E F", ".hidden", "x\0"] {
            assert!(check_lane(bad).is_err(), "{bad:?} accepted");
            assert!(check_id(bad).is_err(), "{bad:?} accepted as id");
        }
        assert!(check_id("E-..").is_err());
        for good in ["E", "Lane_2", "M-x"] {
            assert!(check_lane(good).is_ok());
        }
        for good in ["E-01", "X-001", "SAMPLE-01"] {
            assert!(check_id(good).is_ok());
        }
        assert!(check_lane(&"a".repeat(33)).is_err());
    }

    #[test]
    fn run_ids_are_not_lane_names() {
        for good in ["20261129-232417", "20261129-232417-2", "20261129-232417.2", "ci-42"] {
            assert!(check_run_id(good).is_ok(), "{good} refused");
        }
        for bad in ["", "../x", "a/b", ".x", "x..y", "x.", "a b", "x.lock", &"1".repeat(65)] {
            assert!(check_run_id(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn did_you_mean() {
        let lanes = vec!["core".to_string(), "docs".to_string(), "web-ui".to_string()];
        assert_eq!(closest("cor", &lanes), Some("core"));
        assert_eq!(closest("CORE", &lanes), Some("core"));
        assert_eq!(closest("webui", &lanes), Some("web-ui"));
        assert_eq!(closest("web", &lanes), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn natural_order() {
        let mut v = vec!["E-10", "E-2", "E-01", "D-5", "E-1"];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(v, ["D-5", "E-1", "E-01", "E-2", "E-10"]);
        assert_eq!(trailing_number("E-07"), Some((7, 2)));
        assert_eq!(trailing_number("E"), None);
    }
}
