//! Secret detection and redaction for output kept in evidence, logs and reports.
//!
//! [`redact`] replaces secret-like strings with [`REDACTED`]; [`find_secret`] names the first kind
//! of secret on a line (the verdict's Security dimension runs it over added lines). Both use the
//! same table, `PATTERNS`, compiled once. For `NAME=value` / `NAME: value` only the value is
//! replaced, and only when `NAME` *ends* with a secret word (`DB_PASSWORD=…` yes,
//! `password_policy: …` and `max_tokens: …` no) and the value is a literal, not a reference such
//! as `$TOKEN`, `${{ secrets.X }}` or `env::var(…)`.
//!
//! # Secrets by value
//! Shapes are not enough: a check can print `$AWS_SECRET_ACCESS_KEY` bare, or reversed. So the
//! *values* of this process's environment variables whose names mark them secret
//! ([`is_secret_name`]: `TOKEN`, `KEY`, `SECRET`, `PASSWORD`, `CREDENTIAL`, `AUTH`, …; values of
//! at least [`MIN_VALUE_LEN`] characters that are not paths on disk) are collected once, with
//! their reversals, into [`SecretValues`], and [`redact`] replaces them first, wherever git-lanes
//! prints or writes. [`contains_secret_value`] tells whether a text carries one (a lane whose
//! commits do is refused).
//!
//! Compiling `PATTERNS` costs more than a warm catalog command does in all, so every use first
//! asks `may_hold_secret`, a literal test that every pattern's match passes; text that fails
//! it (most output lines, most environment values) never compiles the table.
#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::borrow::Cow;
use std::ffi::OsString;
use std::sync::LazyLock;

use regex::{Captures, Regex};

/// What a secret is replaced with.
pub const REDACTED: &str = "[REDACTED]";

/// One kind of secret.
struct Pattern {
    /// Name reported by [`find_secret`].
    kind: &'static str,
    re: Regex,
    /// Whether a match really is a secret (filters look-alikes the regex cannot).
    is_secret: fn(&Captures<'_>) -> bool,
}

/// Every pattern, most specific first (so `sk-ant-…` is reported as Anthropic, not OpenAI).
/// Word boundaries are ASCII ones (`(?-u:\b)`): every secret shape is ASCII, and a Unicode `\b`
/// keeps the regex engine off its fast automata (a long line took milliseconds).
static PATTERNS: LazyLock<Vec<Pattern>> = LazyLock::new(|| {
    let p = |kind, re: &str, is_secret| Pattern { kind, re: Regex::new(re).expect("secret pattern compiles"), is_secret };
    vec![
        p(
            "private key",
            r"(?s)-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|\z)",
            always,
        ),
        p("AWS access key id", r"(?-u:\b)(?:AKIA|ASIA)[0-9A-Z]{16}(?-u:\b)", always),
        p("GitHub token", r"(?-u:\b)(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})", always),
        p("Anthropic API key", r"(?-u:\b)sk-ant-[A-Za-z0-9_-]{20,}", always),
        p("OpenAI API key", r"(?-u:\b)sk-[A-Za-z0-9_-]{20,}", has_digit),
        p("Slack token", r"(?-u:\b)xox[abprs]-[A-Za-z0-9-]{10,}", always),
        p("JSON web token", r"(?-u:\b)eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}", always),
        p("bearer token", r"(?i)(?-u:\b)(?P<key>bearer\s+)(?P<value>[A-Za-z0-9._~+/-]{16,}=*)", always),
        p("password in URL", r"(?P<key>[a-z][a-z0-9+.-]*://[^/\s:@]+:)(?P<value>[^/\s@]+)@", is_literal_value),
        p(
            "secret assignment",
            concat!(
                r#"(?i)(?P<key>(?-u:\b)[a-z0-9_.-]*(?:token|secret|password|passwd|api_key|apikey|api-key|access_key)"#,
                r#"["']?\s*[:=]\s*)"#,
                r#"(?:"(?P<dq>[^"\n]+)"|'(?P<sq>[^'\n]+)'|(?P<value>[^\s"'`,;]+))"#,
            ),
            is_literal_value,
        ),
    ]
});

/// Whether `text` could match any of `PATTERNS`: it holds a literal that every match of one of
/// them holds. A necessary condition only (a test holds the table to it); `false` means no
/// pattern can match, so the table need not be compiled.
fn may_hold_secret(text: &str) -> bool {
    use aho_corasick::AhoCorasick;
    // Case-sensitive literals: the private key armour, AWS, GitHub, OpenAI and Anthropic, Slack,
    // JSON web tokens, and a password in a URL.
    static EXACT: LazyLock<Option<AhoCorasick>> = LazyLock::new(|| {
        AhoCorasick::new(["-----BEGIN ", "AKIA", "ASIA", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "sk-", "xox", "eyJ", "://"])
            .ok()
    });
    // The words of the `(?i)` patterns: `bearer` (0), then the secret words of an assignment.
    static FOLDED: LazyLock<Option<AhoCorasick>> = LazyLock::new(|| {
        AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(["bearer", "token", "secret", "password", "passwd", "api_key", "apikey", "api-key", "access_key"])
            .ok()
    });
    let (Some(exact), Some(folded)) = (EXACT.as_ref(), FOLDED.as_ref()) else { return true };
    let b = text.as_bytes();
    if exact.is_match(b) {
        return true;
    }
    // `(?i)` folds case the Unicode way: `k` also matches KELVIN SIGN and `s` LONG S, so text
    // holding either is let through as it is.
    if text.contains(['\u{212A}', '\u{017F}']) {
        return true;
    }
    // Each word must be followed as its pattern needs: `bearer` by a space, a secret word by
    // `:` or `=` (after an optional quote and spaces). A non-ASCII byte where a space could be
    // might be a Unicode space (`\s`), so it lets the text through.
    let spaced = |rest: &[u8]| rest.first().is_some_and(|c| c.is_ascii_whitespace() || !c.is_ascii());
    let assigned = |rest: &[u8]| {
        let rest = rest.strip_prefix(b"\"").or_else(|| rest.strip_prefix(b"'")).unwrap_or(rest);
        let at = rest.iter().position(|c| !c.is_ascii_whitespace()).unwrap_or(rest.len());
        rest.get(at).is_some_and(|c| matches!(c, b':' | b'=') || !c.is_ascii())
    };
    folded.find_overlapping_iter(b).any(|m| {
        let rest = &b[m.end()..];
        if m.pattern().as_usize() == 0 { spaced(rest) } else { assigned(rest) }
    })
}

fn always(_: &Captures<'_>) -> bool {
    true
}

fn has_digit(caps: &Captures<'_>) -> bool {
    caps[0].bytes().any(|b| b.is_ascii_digit())
}

/// The value of an assignment, if it is a literal rather than a reference or an expression.
fn is_literal_value(caps: &Captures<'_>) -> bool {
    let Some(value) = secret_value(caps) else {
        return false;
    };
    let value = value.as_str();
    // An earlier pattern may already have replaced it (`https://x-access-token:[REDACTED]@…`).
    !(value.starts_with(['$', '<', '{', '%', '('])
        || value.starts_with(REDACTED)
        || value.contains(['(', ')'])
        || value.chars().all(|c| c == '*' || c == 'x' || c == 'X'))
}

fn secret_value<'h>(caps: &Captures<'h>) -> Option<regex::Match<'h>> {
    caps.name("value").or_else(|| caps.name("dq")).or_else(|| caps.name("sq"))
}

/// Values shorter than this are not treated as secrets by value (too many false matches).
pub const MIN_VALUE_LEN: usize = 8;

/// Words that mark an environment variable's name as secret (matched in the upper-cased name).
const SECRET_NAME_WORDS: &[&str] =
    &["TOKEN", "KEY", "SECRET", "PASSWORD", "PASSWD", "PASS", "CREDENTIAL", "AUTH", "PRIVATE", "COOKIE", "SESSION", "PAT"];

/// Whether an environment variable's name marks its value as secret (`GITHUB_TOKEN`,
/// `AWS_SECRET_ACCESS_KEY`, `DB_PASSWORD`, `NPM_AUTH`…). `PAT` must be a whole word (`GH_PAT`, not `PATH`).
pub fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    SECRET_NAME_WORDS
        .iter()
        .any(|w| if *w == "PAT" { upper.split(|c: char| !c.is_ascii_alphanumeric()).any(|part| part == "PAT") } else { upper.contains(w) })
}

/// The secret values to redact, longest first, compiled into one expression.
#[derive(Debug, Default)]
pub struct SecretValues {
    values: Vec<String>,
    re: Option<Regex>,
}

impl SecretValues {
    /// From `(name, value)` pairs: values of secret-named variables (and of any variable whose
    /// value has a well-known token shape), with their reversals; paths that exist are skipped
    /// (`SSH_AUTH_SOCK`, `GIT_ASKPASS` name a file, not a secret).
    pub fn from_vars(vars: impl IntoIterator<Item = (OsString, OsString)>) -> SecretValues {
        let mut values: Vec<String> = Vec::new();
        for (name, value) in vars {
            let (Some(name), Some(value)) = (name.to_str(), value.to_str()) else { continue };
            let value = value.trim();
            if value.chars().count() < MIN_VALUE_LEN || value.contains('\n') {
                continue;
            }
            let shaped = may_hold_secret(value) && PATTERNS.iter().take(7).any(|p| p.re.is_match(value));
            if !(is_secret_name(name) || shaped) || (value.starts_with('/') && std::path::Path::new(value).exists()) {
                continue;
            }
            values.push(value.to_string());
            values.push(value.chars().rev().collect());
        }
        values.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        values.dedup();
        let re =
            (!values.is_empty()).then(|| Regex::new(&values.iter().map(|v| regex::escape(v)).collect::<Vec<_>>().join("|")).ok()).flatten();
        SecretValues { values, re }
    }

    /// Whether no value is known.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Whether `text` holds any of the values.
    pub fn found_in(&self, text: &str) -> bool {
        self.re.as_ref().is_some_and(|re| re.is_match(text))
    }

    /// `text` with every value replaced by [`REDACTED`].
    pub fn redact<'t>(&self, text: &'t str) -> Cow<'t, str> {
        match &self.re {
            Some(re) => re.replace_all(text, REDACTED),
            None => Cow::Borrowed(text),
        }
    }
}

/// This process's secret values, read from the environment once (at the first use; the CLI
/// touches it at start-up, before anything could change the environment).
static VALUES: LazyLock<SecretValues> = LazyLock::new(|| SecretValues::from_vars(std::env::vars_os()));

/// Collect the secret values now (called once at start-up).
pub fn init() {
    LazyLock::force(&VALUES);
}

/// Whether this process has any secret value to look for.
pub fn has_secret_values() -> bool {
    !VALUES.is_empty()
}

/// Whether `text` carries the value of one of this process's secret environment variables.
pub fn contains_secret_value(text: &str) -> bool {
    VALUES.found_in(text)
}

/// `text` with only the secret *values* replaced (for machine output such as JSON, where the
/// shape patterns are not needed and values are already quoted).
pub fn redact_values(text: &str) -> Cow<'_, str> {
    VALUES.redact(text)
}

/// `text` with every secret value and every secret-like string replaced by [`REDACTED`];
/// borrowed when nothing matched.
pub fn redact(text: &str) -> Cow<'_, str> {
    let mut out = VALUES.redact(text);
    if !may_hold_secret(&out) {
        return out;
    }
    for pattern in PATTERNS.iter() {
        if !pattern.re.is_match(&out) {
            continue;
        }
        let replaced = pattern
            .re
            .replace_all(&out, |caps: &Captures<'_>| {
                if !(pattern.is_secret)(caps) {
                    return caps[0].to_string();
                }
                match secret_value(caps) {
                    // Keep the key (and quotes): only the value is secret.
                    Some(value) => {
                        let whole = caps.get(0).expect("group 0 always matches");
                        let text = whole.as_str();
                        let (start, end) = (value.start() - whole.start(), value.end() - whole.start());
                        format!("{}{REDACTED}{}", &text[..start], &text[end..])
                    }
                    None => REDACTED.to_string(),
                }
            })
            .into_owned();
        // Every match may have been a look-alike; stay borrowed then.
        if replaced != *out {
            out = Cow::Owned(replaced);
        }
    }
    out
}

/// The kind of the first secret found on `line` (e.g. `"GitHub token"`), if any.
pub fn find_secret(line: &str) -> Option<&'static str> {
    if VALUES.found_in(line) {
        return Some("value of a secret environment variable");
    }
    if !may_hold_secret(line) {
        return None;
    }
    PATTERNS.iter().find_map(|pattern| pattern.re.captures_iter(line).any(|caps| (pattern.is_secret)(&caps)).then_some(pattern.kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn redacts(input: &str, expected: &str, kind: &str) {
        assert_eq!(redact(input), expected, "redact({input:?})");
        assert_eq!(find_secret(input), Some(kind), "find_secret({input:?})");
    }

    #[track_caller]
    fn untouched(input: &str) {
        assert!(matches!(redact(input), Cow::Borrowed(s) if s == input), "redact changed {input:?} to {:?}", redact(input));
        assert_eq!(find_secret(input), None, "find_secret({input:?})");
    }

    /// The prefilter lets through every text any pattern matches (the table's own samples, and
    /// Unicode case folding), and stops the output lines and values commands print all day.
    #[test]
    fn the_literal_prefilter_never_hides_a_match() {
        let samples = [
            "key AKIAIOSFODNN7EXAMPLE here",
            "ASIAIOSFODNN7EXAMPLE",
            "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
            "ghr_abcdefghijklmnopqrstuvwxyz0123456789",
            "github_pat_11ABCDEFG0123456789_abcdefghijklmnop",
            "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWx-yz",
            "using sk-proj-4f9aB2cD3eF4gH5iJ6kL7mN8 now",
            "xoxb-1234567890-abcdefghij",
            "-----BEGIN OPENSSH PRIVATE KEY-----",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
            "Authorization: BEARER abcdef0123456789abcdef",
            "postgres://app:hunter2@db:5432/x",
            "DB_PASSWORD=hunter2hunter2",
            "Api-Key: 'abcdefgh12345678'",
            "my_password  =  \"abcdefgh12345678\"",
            "secret_token\": \"abcdefgh12345678\"",
            "MY_TO\u{212A}EN=abcdefgh12345678",
            "MY_\u{017F}ECRET=abcdefgh12345678",
        ];
        for text in samples {
            let matched = PATTERNS.iter().any(|p| p.re.is_match(text));
            assert!(matched, "the sample {text:?} matches no pattern");
            assert!(may_hold_secret(text), "the prefilter would hide {text:?}");
        }
        for plain in [
            "SAF_ISSUE_CATALOG.md is up to date (10000 issues)",
            "/usr/local/bin:/usr/bin:/bin",
            "en_US.UTF-8",
            "✓ E-01 verified",
            "A-001  token, index  audit the token cache",
        ] {
            assert!(!may_hold_secret(plain), "{plain:?} would compile the table");
            assert!(!PATTERNS.iter().any(|p| p.re.is_match(plain)));
        }
    }

    #[test]
    fn aws_access_key_id() {
        redacts("key AKIAIOSFODNN7EXAMPLE here", "key [REDACTED] here", "AWS access key id");
    }

    #[test]
    fn github_tokens() {
        redacts("ghp_abcdefghijklmnopqrstuvwxyz0123456789", "[REDACTED]", "GitHub token");
        redacts(
            "url https://x-access-token:ghs_ABCDEFGHIJKLMNOPQRSTUV12@github.com",
            "url https://x-access-token:[REDACTED]@github.com",
            "GitHub token",
        );
        redacts("github_pat_11ABCDEFG0123456789_abcdefghijklmnop", "[REDACTED]", "GitHub token");
    }

    #[test]
    fn openai_and_anthropic_keys() {
        redacts("sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWx-yz", "[REDACTED]", "Anthropic API key");
        redacts("using sk-proj-4f9aB2cD3eF4gH5iJ6kL7mN8 now", "using [REDACTED] now", "OpenAI API key");
    }

    #[test]
    fn slack_tokens() {
        redacts("xoxb-1234567890-abcdefghij", "[REDACTED]", "Slack token");
    }

    #[test]
    fn private_key_blocks() {
        let text = "before\n-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nabc\n-----END RSA PRIVATE KEY-----\nafter";
        assert_eq!(redact(text), "before\n[REDACTED]\nafter");
        assert_eq!(find_secret("-----BEGIN OPENSSH PRIVATE KEY-----"), Some("private key"));
        // A block cut off by output truncation is redacted to the end.
        assert_eq!(redact("x\n-----BEGIN PRIVATE KEY-----\nMIIE"), "x\n[REDACTED]");
    }

    #[test]
    fn jwt() {
        redacts(
            "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
            "token [REDACTED]",
            "JSON web token",
        );
    }

    #[test]
    fn bearer_and_url_passwords() {
        redacts("Authorization: Bearer abcdef0123456789abcdef", "Authorization: Bearer [REDACTED]", "bearer token");
        redacts("postgres://app:hunter2@db:5432/x", "postgres://app:[REDACTED]@db:5432/x", "password in URL");
    }

    #[test]
    fn assignments_redact_only_the_value() {
        let kind = "secret assignment";
        redacts("DB_PASSWORD=hunter2", "DB_PASSWORD=[REDACTED]", kind);
        redacts("export API_KEY='abc 123'", "export API_KEY='[REDACTED]'", kind);
        redacts("client_secret: s3cr3t", "client_secret: [REDACTED]", kind);
        redacts(r#""apiKey": "abc123","#, r#""apiKey": "[REDACTED]","#, kind);
        redacts("--password=pw1 --user=me", "--password=[REDACTED] --user=me", kind);
        redacts("AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG", "AWS_SECRET_ACCESS_KEY=[REDACTED]", kind);
        redacts("Token = 42", "Token = [REDACTED]", kind);
        assert_eq!(redact("a: 1\nGITHUB_TOKEN=abc\nb: 2"), "a: 1\nGITHUB_TOKEN=[REDACTED]\nb: 2");
    }

    #[test]
    fn ordinary_text_is_left_alone() {
        untouched(r#"grep -q "data_retention:" file && echo PASS"#);
        untouched("password_policy: strict");
        untouched("max_tokens: 4096");
        untouched("secrets: inherit");
        untouched("TOKEN_FILE=/run/token");
        untouched("GITHUB_TOKEN=$GITHUB_TOKEN");
        untouched("token: ${{ secrets.GITHUB_TOKEN }}");
        untouched(r#"let api_key = env::var("API_KEY")?;"#);
        untouched("password: ********");
        untouched("password=");
        untouched("the task-runner-for-everything-in-the-world is done");
        untouched("sk-learn-is-a-common-misspelling-of-it");
        untouched("https://github.com/owner/repo.git");
        untouched("fix: rotate the access token before expiry");
        untouched("ok 3 passed; 0 failed");
    }

    fn vars(pairs: &[(&str, &str)]) -> SecretValues {
        SecretValues::from_vars(pairs.iter().map(|(n, v)| (OsString::from(n), OsString::from(v))))
    }

    #[test]
    fn secret_names() {
        for n in ["GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY", "DB_PASSWORD", "NPM_AUTH", "GH_PAT", "my_api_key", "CREDENTIALS"] {
            assert!(is_secret_name(n), "{n}");
        }
        for n in ["PATH", "HOME", "LANG", "EDITOR", "PWD", "SHELL"] {
            assert!(!is_secret_name(n), "{n}");
        }
    }

    #[test]
    fn values_of_secret_variables_are_redacted_also_reversed() {
        let v = vars(&[
            ("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMIK7MDENGbPxRfiCY"),
            ("MY_VAR", "ghp_abcdefghijklmnopqrstuvwxyz0123456789"),
            ("EDITOR", "vimvimvimvim"),
            ("SHORT_TOKEN", "abc"),
            ("SSH_AUTH_SOCK", "/"),
        ]);
        let printed = "AWS_SECRET_ACCESS_KEY wJalrXUtnFEMIK7MDENGbPxRfiCY\nrev: 9876543210zyxwvutsrqponmlkjihgfedcba_phg\nvimvimvimvim abc";
        let out = v.redact(printed);
        assert_eq!(out, "AWS_SECRET_ACCESS_KEY [REDACTED]\nrev: [REDACTED]\nvimvimvimvim abc");
        assert!(v.found_in("x wJalrXUtnFEMIK7MDENGbPxRfiCY y"));
        assert!(!v.found_in("nothing here"));
        assert!(vars(&[("PATH", "/usr/bin:/bin")]).is_empty());
    }

    #[test]
    fn non_secret_text_is_borrowed() {
        assert!(matches!(redact("hello"), Cow::Borrowed("hello")));
    }
}
