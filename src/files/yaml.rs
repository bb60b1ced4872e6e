//! Writing the YAML documents git-lanes keeps (work orders, verdicts, run and hunt state) so that
//! people, workers and the seed's Python tools read them the same way. Reading YAML is
//! `fastyaml.rs` (the fast subset) and serde-saphyr.

use serde::Serialize;

use crate::base::error::{Error, Problem, Result};

/// Serialise `value` as YAML the way git-lanes writes documents for people and workers: long
/// one-line strings (commands) stay on one line instead of being folded with `>-`, so a command can
/// be copied as it is.
pub fn to_yaml<T: Serialize>(value: &T, what: &str) -> Result<String> {
    let options = serde_saphyr::SerializerOptions { prefer_block_scalars: false, ..Default::default() };
    serde_saphyr::to_string_with_options(value, options)
        .map(|y| quote_timestamps(&y))
        .map_err(|e| Error::from(Problem::new(what, 0, format!("could not write the {what} as YAML: {e}"))))
}

/// Quote every plain scalar that a YAML 1.1 reader (PyYAML, the seed's tools) would load as a
/// date or datetime — `2026-01-07T10:00:00Z`, `2026-01-07` — so that it stays a string there
/// too (`json.dumps` of a loaded state then works). Keys, quoted values and block scalars are
/// left alone.
pub fn quote_timestamps(yaml: &str) -> String {
    let mut out = String::with_capacity(yaml.len() + 64);
    for line in yaml.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        let eol = &line[body.len()..];
        let indent = body.len() - body.trim_start().len();
        let mut rest = &body[indent..];
        let mut prefix_len = indent;
        while let Some(r) = rest.strip_prefix("- ") {
            prefix_len += 2;
            rest = r;
        }
        let value_at = match rest.find(": ") {
            Some(k) if !rest[..k].contains(['"', '\'', '#']) => prefix_len + k + 2,
            _ => prefix_len,
        };
        let value = &body[value_at..];
        if is_yaml11_timestamp(value) {
            out.push_str(&body[..value_at]);
            out.push('"');
            out.push_str(value);
            out.push('"');
            out.push_str(eol);
        } else {
            out.push_str(line);
        }
    }
    out
}

/// YAML 1.1's timestamp: `YYYY-M-D`, optionally followed by a time and zone.
fn is_yaml11_timestamp(v: &str) -> bool {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| {
        regex::Regex::new(r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::?[0-9]{2})?))?)?$")
            .expect("timestamp pattern")
    })
    .is_match(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_quoted_for_yaml_1_1_readers() {
        let y = "run_id: R1\nstarted: 2026-01-07T10:00:00Z\nlanes:\n  E:\n    completed_at: 2026-01-07 10:00:00 +01:00\ndates:\n- 2026-01-07\n- \"2026-01-08\"\nnote: 2026-01-07 is a day\nid: 20260107-1000\n";
        assert_eq!(
            quote_timestamps(y),
            "run_id: R1\nstarted: \"2026-01-07T10:00:00Z\"\nlanes:\n  E:\n    completed_at: \"2026-01-07 10:00:00 +01:00\"\ndates:\n- \"2026-01-07\"\n- \"2026-01-08\"\nnote: 2026-01-07 is a day\nid: 20260107-1000\n"
        );
    }
}
