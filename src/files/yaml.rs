//! Writing the YAML documents git-lanes keeps (work orders, verdicts, run and hunt state) so that
//! people, workers and the seed's Python tools read them the same way. Reading YAML is
//! `fastyaml.rs` (the fast subset) and serde-saphyr.

use serde::Serialize;

use crate::base::error::{Error, Result};

/// Serialise `value` as YAML the way git-lanes writes documents for people and workers: long
/// one-line strings (commands) stay on one line instead of being folded with `>-`, so a command can
/// be copied as it is.
pub fn to_yaml<T: Serialize>(value: &T, what: &str) -> Result<String> {
    let options = serde_saphyr::SerializerOptions { prefer_block_scalars: false, ..Default::default() };
    serde_saphyr::to_string_with_options(value, options)
        .map(|y| quote_timestamps(&y))
        .map_err(|e| Error::internal(format!("could not write the {what} as YAML: {e}")))
}

/// `s` as one YAML scalar for a `key: value` line or a flow list: plain when YAML reads it back
/// as that same string, else double-quoted (any text, newlines and control characters escaped).
pub fn scalar(s: &str) -> String {
    let plain = !s.is_empty()
        && s.trim() == s
        && !s.contains(": ")
        && !s.contains(" #")
        && !s.ends_with(':')
        && s.chars().all(|c| !c.is_control() && !",[]{}\"'".contains(c))
        && !s.starts_with(|c: char| "!&*-?|>@`%#".contains(c))
        && !is_yaml11_timestamp(s)
        && !matches!(s.to_ascii_lowercase().as_str(), "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "y" | "n" | "~")
        && s.parse::<f64>().is_err()
        && !s.starts_with(|c: char| c.is_ascii_digit() || c == '.' || c == '+');
    if plain { s.to_string() } else { quoted(s) }
}

/// `s` as a YAML double-quoted scalar, read back as exactly `s` by any YAML reader: JSON's string
/// escapes are YAML's.
pub fn quoted(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
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
    fn any_text_reads_back_as_itself_in_a_value_and_a_flow_list() {
        let texts = [
            "Billing: invoices",
            "plain words",
            "a #comment",
            "trailing:",
            "- dash",
            "[x]",
            "{y}",
            "\"double\" and 'single'",
            "yes",
            "No",
            "~",
            "1.5",
            "0x1F",
            "2026-01-07",
            "",
            " padded ",
            "line\nbreak\ttab\u{7}bell",
            "back\\slash",
            "ünïcödé ✓ 🚀",
            "a, b",
            "%percent",
            "*alias",
            "&anchor",
            "!tag",
            "|block",
            ">folded",
            "@at",
            "`tick`",
        ];
        for t in texts {
            let doc = format!("k: {}\nl: [{}, {}]\n", scalar(t), scalar(t), quoted(t));
            let back: std::collections::BTreeMap<String, serde_json::Value> =
                serde_saphyr::from_str(&doc).unwrap_or_else(|e| panic!("{t:?} wrote {doc:?}: {e}"));
            assert_eq!(back["k"], serde_json::Value::String(t.to_string()), "{doc}");
            assert_eq!(back["l"], serde_json::json!([t, t]), "{doc}");
        }
        assert_eq!(scalar("plain words"), "plain words");
    }

    #[test]
    fn timestamps_are_quoted_for_yaml_1_1_readers() {
        let y = "run_id: R1\nstarted: 2026-01-07T10:00:00Z\nlanes:\n  E:\n    completed_at: 2026-01-07 10:00:00 +01:00\ndates:\n- 2026-01-07\n- \"2026-01-08\"\nnote: 2026-01-07 is a day\nid: 20260107-1000\n";
        assert_eq!(
            quote_timestamps(y),
            "run_id: R1\nstarted: \"2026-01-07T10:00:00Z\"\nlanes:\n  E:\n    completed_at: \"2026-01-07 10:00:00 +01:00\"\ndates:\n- \"2026-01-07\"\n- \"2026-01-08\"\nnote: 2026-01-07 is a day\nid: 20260107-1000\n"
        );
    }
}
