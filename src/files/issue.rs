//! Issue files (`issues/<LANE>/<ID>.md`): frontmatter, title, sections and verification checks.
//!
//! Start at [`Issue::parse`]. The file's text is kept so rewrites (see `rewrite.rs`) can splice
//! bytes; every problem found points at `path:line` of the markdown file.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::base::error::Problem;
use crate::files::frontmatter::{self, Split};
use crate::files::markdown::{self, Outline};
use crate::files::text::{self, Text, TrimFast};

/// The lifecycle of an issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    Open,
    Resolved,
    Wontfix,
}

impl Status {
    pub fn parse(s: &str) -> Option<Status> {
        let s = s.trim_fast();
        let is = |word: &str| s.eq_ignore_ascii_case(word);
        if is("OPEN") {
            Some(Status::Open)
        } else if is("RESOLVED") {
            Some(Status::Resolved)
        } else if is("WONTFIX") || is("WONT_FIX") {
            Some(Status::Wontfix)
        } else {
            None
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "OPEN",
            Status::Resolved => "RESOLVED",
            Status::Wontfix => "WONTFIX",
        }
    }

    /// Closed issues count as done for dependencies and progress.
    pub fn is_closed(self) -> bool {
        self != Status::Open
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A list that may be written as a YAML sequence or as one scalar.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    #[default]
    None,
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::None => vec![],
            OneOrMany::One(s) if s.trim_fast().is_empty() => vec![],
            OneOrMany::One(s) => s.split(',').map(|x| x.trim_fast().to_string()).filter(|x| !x.is_empty()).collect(),
            OneOrMany::Many(v) => v,
        }
    }
}

/// The frontmatter keys git-lanes reads. Unknown keys are allowed and never touched.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
struct RawMeta {
    issue_id: Option<Scalar>,
    lane: Option<Scalar>,
    severity: Option<Scalar>,
    severity_level: Option<Scalar>,
    #[serde(default)]
    type_tags: OneOrMany,
    status: Option<Scalar>,
    category: Option<Scalar>,
    #[serde(default)]
    affected_paths: OneOrMany,
    #[serde(default)]
    depends_on: OneOrMany,
    #[serde(default)]
    blocks: OneOrMany,
    #[serde(default)]
    related: OneOrMany,
    time_box: Option<Scalar>,
    date_verified: Option<Scalar>,
    verification_confidence: Option<Scalar>,
    verification_pattern: Option<Scalar>,
    verification_depth: Option<Scalar>,
    #[serde(default)]
    may_change: OneOrMany,
}

/// A YAML scalar of any type, kept as text.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
enum Scalar {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl Scalar {
    fn text(&self) -> String {
        match self {
            Scalar::Str(s) => s.clone(),
            Scalar::Int(i) => i.to_string(),
            Scalar::Float(f) => f.to_string(),
            Scalar::Bool(b) => b.to_string(),
        }
    }

    /// [`Scalar::text`], without a copy of a string.
    fn into_text(self) -> String {
        match self {
            Scalar::Str(s) => s,
            other => other.text(),
        }
    }

    /// The text trimmed, without a copy when it needs no trimming; `None` when blank.
    fn into_trimmed(self) -> Option<String> {
        let s = self.into_text();
        match s.trim_fast() {
            "" => None,
            t if t.len() == s.len() => Some(s),
            t => Some(t.to_string()),
        }
    }
}

/// The parsed frontmatter of an issue.
#[derive(Debug, Clone, Serialize)]
pub struct Meta {
    pub issue_id: String,
    pub lane: String,
    pub severity: Option<u8>,
    pub severity_level: Option<String>,
    pub type_tags: Vec<String>,
    pub status: Status,
    pub category: Option<String>,
    pub affected_paths: Vec<String>,
    pub depends_on: Vec<String>,
    pub blocks: Vec<String>,
    pub related: Vec<String>,
    pub time_box: Option<String>,
    pub date_verified: Option<String>,
    pub verification_confidence: Option<String>,
    pub verification_pattern: Option<String>,
    pub verification_depth: Option<String>,
    /// Protected paths (tests, files its checks name) a fix of this issue may change: paths,
    /// folders or globs.
    pub may_change: Vec<String>,
}

/// One verification command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// From a comment line directly above (`# Check 1: file exists` → `file exists`).
    pub name: Option<String>,
    pub command: String,
    /// File line of the command's first line.
    pub line: usize,
}

impl Check {
    /// The name to show: the comment's name, or the command itself.
    pub fn label(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.command)
    }
}

/// A parsed issue file.
///
/// Everything but the file's text and layout is what the summary cache (`issue_cache.rs`)
/// keeps, so an issue read from the cache answers every question the catalog commands ask
/// without its text; such an issue has an empty [`Issue::text`] and [`Issue::from_cache`] is
/// true.
#[derive(Debug, Clone)]
pub struct Issue {
    /// Path relative to the repository root.
    pub path: PathBuf,
    pub meta: Meta,
    pub title: String,
    pub title_line: usize,
    pub bom: bool,
    /// What the body and frontmatter say beyond [`Meta`], computed once at parse time.
    pub(crate) facts: Facts,
    /// The file's text and where its parts lie; `None` for a summary. Boxed: ten thousand
    /// summaries are held at once, and a summary's issue is smaller by the size of what it lacks.
    file: Option<Box<IssueFile>>,
}

/// An issue file as read: its text (BOM stripped, line endings as written), the frontmatter's
/// place in it, and the body's outline.
#[derive(Debug, Clone)]
struct IssueFile {
    text: String,
    split: Split,
    outline: Outline,
}

/// Facts derived from an issue's text that commands ask about (cached with the summary).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Facts {
    pub checks: Vec<Check>,
    /// File line of each top-level frontmatter key in [`KEYS`] (same index; 0: absent).
    pub key_lines: [u32; KEYS.len()],
    pub has_resolution: bool,
    /// The first EXTREME word (see `planning/plan.rs`) in the body's prose, outside code blocks.
    pub prose_extreme: Option<String>,
}

/// The frontmatter keys whose lines are kept in [`Facts::key_lines`].
pub(crate) const KEYS: [&str; 16] = [
    "issue_id",
    "lane",
    "severity",
    "severity_level",
    "type_tags",
    "status",
    "category",
    "affected_paths",
    "depends_on",
    "blocks",
    "related",
    "time_box",
    "date_verified",
    "verification_confidence",
    "verification_pattern",
    "verification_depth",
];

impl Issue {
    /// Parse an issue file. `path` is used in messages and kept; the lane folder and file name
    /// checks are done by the caller that knows the layout (`workspace.rs`).
    pub fn parse(path: &Path, bytes: Vec<u8>) -> Result<Issue, Problem> {
        Issue::parse_at(path.to_path_buf(), bytes)
    }

    /// [`Issue::parse`] keeping `owned` as the issue's path (no copy of it).
    pub fn parse_at(owned: PathBuf, bytes: Vec<u8>) -> Result<Issue, Problem> {
        let Text { text, bom } = text::decode("issue file", &owned, bytes)?;
        let (mut issue, split, outline) = Issue::parse_text(owned, &text, bom)?;
        issue.file = Some(Box::new(IssueFile { text, split, outline }));
        Ok(issue)
    }

    /// [`Issue::parse_at`] keeping only the summary, as the summary cache does (what
    /// [`Workspace::load_cached`](crate::files::workspace::Workspace::load_cached) hands out,
    /// read from the cache or parsed afresh alike), from bytes it does not take.
    pub(crate) fn parse_summary_at(owned: PathBuf, bytes: &[u8]) -> Result<Issue, Problem> {
        let (text, bom) = text::decode_borrowed("issue file", &owned, bytes)?;
        Ok(Issue::parse_text(owned, text, bom)?.0)
    }

    /// The summary of the file whose text is `text`, and the frontmatter's place and the body's
    /// outline in it.
    fn parse_text(owned: PathBuf, text: &str, bom: bool) -> Result<(Issue, Split, Outline), Problem> {
        let path = owned.as_path();
        if text.trim_fast().is_empty() {
            return Err(Problem::new(path, 1, "issue file is empty")
                .with_hint("write the issue with `git lanes new <LANE> <title>` or delete the file"));
        }
        let split = frontmatter::split(text).ok_or_else(|| {
            Problem::new(path, 1, "no YAML frontmatter (a first line `---`, the keys, then a line `---`)")
                .with_hint("see `git lanes new` for the issue template")
        })?;
        let (raw, key_lines): (RawMeta, _) = match fast_raw_meta(&text[split.yaml_start..split.yaml_end], split.yaml_line) {
            Some(fast) => fast,
            None => (frontmatter::parse(path, text, &split)?, key_lines(text, &split)),
        };
        let key_line = |key: &str| known_key_line(&key_lines, key).flatten();
        let required = |v: Option<Scalar>, key: &str| -> Result<String, Problem> {
            v.and_then(Scalar::into_trimmed)
                .ok_or_else(|| Problem::new(path, key_line(key).unwrap_or(split.yaml_line), format!("frontmatter is missing `{key}`")))
        };
        let issue_id = required(raw.issue_id, "issue_id")?;
        let lane = required(raw.lane, "lane")?;
        let status_text = required(raw.status, "status")?;
        let status = Status::parse(&status_text).ok_or_else(|| {
            Problem::new(
                path,
                key_line("status").unwrap_or(split.yaml_line),
                format!("status `{status_text}` is not one of OPEN, RESOLVED, WONTFIX"),
            )
        })?;
        let severity = severity_of(path, raw.severity.as_ref(), key_line("severity").unwrap_or(split.yaml_line))?;
        let body = &text[split.body_offset..];
        let outline = markdown::outline(body, split.body_line, split.body_offset);
        let (title, title_line) = title_of(text, &outline, &issue_id).unwrap_or_else(|| (issue_id.clone(), split.body_line));
        let opt = |s: Option<Scalar>| s.map(Scalar::into_text).filter(|x| !x.trim_fast().is_empty());
        let mut affected_paths = raw.affected_paths.into_vec();
        for p in section_list(text, &outline, "affected_paths") {
            if !affected_paths.iter().any(|q| q == p) {
                affected_paths.push(p.to_string());
            }
        }
        affected_paths.shrink_to_fit();
        let meta = Meta {
            issue_id,
            lane,
            severity,
            severity_level: opt(raw.severity_level),
            type_tags: raw.type_tags.into_vec(),
            status,
            category: opt(raw.category),
            affected_paths,
            depends_on: raw.depends_on.into_vec(),
            blocks: raw.blocks.into_vec(),
            related: raw.related.into_vec(),
            time_box: opt(raw.time_box),
            date_verified: opt(raw.date_verified),
            verification_confidence: opt(raw.verification_confidence),
            verification_pattern: opt(raw.verification_pattern),
            verification_depth: opt(raw.verification_depth),
            may_change: raw.may_change.into_vec(),
        };
        let facts = Facts {
            checks: checks_of(text, &outline),
            key_lines,
            has_resolution: outline.heading(text, "Resolution").is_some(),
            prose_extreme: extreme_in_prose(text, &split, &outline),
        };
        Ok((Issue { path: owned, meta, title, title_line, bom, facts, file: None }, split, outline))
    }

    /// An issue rebuilt from its cached summary (no text).
    pub(crate) fn from_summary(path: PathBuf, meta: Meta, title: String, title_line: usize, bom: bool, facts: Facts) -> Issue {
        Issue { path, meta, title, title_line, bom, facts, file: None }
    }

    /// Whether the issue is a summary without its text (read from the summary cache, or loaded
    /// through it; commands that edit files load the workspace without the cache).
    pub fn from_cache(&self) -> bool {
        self.file.is_none()
    }

    /// The whole file text (BOM stripped, line endings as written); empty for a summary.
    pub fn text(&self) -> &str {
        self.file.as_ref().map_or("", |f| f.text.as_str())
    }

    /// Where the frontmatter and the body lie in [`Issue::text`]; `None` for a summary.
    pub fn split(&self) -> Option<&Split> {
        self.file.as_ref().map(|f| &f.split)
    }

    /// The body's headings and fenced blocks; `None` for a summary.
    pub fn outline(&self) -> Option<&Outline> {
        self.file.as_ref().map(|f| &f.outline)
    }

    pub fn id(&self) -> &str {
        &self.meta.issue_id
    }

    pub fn lane(&self) -> &str {
        &self.meta.lane
    }

    pub fn status(&self) -> Status {
        self.meta.status
    }

    /// The file line of top-level frontmatter `key`.
    pub fn key_line(&self, key: &str) -> Option<usize> {
        match (known_key_line(&self.facts.key_lines, key), &self.file) {
            (Some(line), _) => line,
            (None, None) => None,
            (None, Some(f)) => key_line(&f.text, &f.split, key),
        }
    }

    /// The verification checks (docs/formats.md#issue-file): every non-blank, non-comment line of the first
    /// `bash`/`sh` block under the "Verification Commands" heading; `\` joins lines; a comment
    /// directly above a command names it.
    pub fn checks(&self) -> Vec<Check> {
        self.facts.checks.clone()
    }

    /// The fenced block the checks come from, if any: the first `bash`/`sh` block under a
    /// `## Verification Commands` heading, or (the seed's `verify_issue.py` layout) after a bold
    /// `**Verification Commands:**` line, before the next heading of level 1 or 2. `None` for an
    /// issue from the cache (its checks are in the summary).
    pub fn verification_block(&self) -> Option<&markdown::CodeBlock> {
        self.file.as_ref().and_then(|f| verification_block(&f.text, &f.outline))
    }

    /// Whether the body has a `## Resolution` section already.
    pub fn has_resolution(&self) -> bool {
        self.facts.has_resolution
    }

    /// The first EXTREME word in the body's prose (see `planning/plan.rs`).
    pub fn prose_extreme(&self) -> Option<&str> {
        self.facts.prose_extreme.as_deref()
    }
}

fn verification_block<'o>(text: &str, outline: &'o Outline) -> Option<&'o markdown::CodeBlock> {
    let shell = |b: &&markdown::CodeBlock| matches!(b.lang.as_str(), "bash" | "sh" | "shell");
    if let Some((i, _)) = outline.heading(text, "Verification Commands") {
        let (start, end) = outline.section_lines(i);
        return outline.blocks.iter().filter(shell).find(|b| b.line > start && b.line < end);
    }
    let start = bold_verification_line(text, outline)?;
    let end = outline.headings.iter().find(|h| h.line > start && h.level <= 2).map(|h| h.line).unwrap_or(usize::MAX);
    outline.blocks.iter().filter(shell).find(|b| b.line > start && b.line < end)
}

/// The file line of a bold `**Verification Commands…**` line outside code blocks.
fn bold_verification_line(text: &str, outline: &Outline) -> Option<usize> {
    let in_block = |n: usize| outline.blocks.iter().any(|b| n >= b.line && n <= b.line + b.lines.len() + 1);
    text.lines().enumerate().map(|(k, l)| (k + 1, l)).find_map(|(n, l)| {
        let t = l.trim_start_fast().trim_start_matches(['-', '*', '+']).trim_start_fast();
        let t = if l.trim_start_fast().starts_with("**") { l.trim_start_fast() } else { t };
        let rest = t.strip_prefix("**")?;
        (rest.to_ascii_lowercase().starts_with("verification commands") && !in_block(n)).then_some(n)
    })
}

fn checks_of(text: &str, outline: &Outline) -> Vec<Check> {
    let Some(block) = verification_block(text, outline) else { return vec![] };
    let mut checks = Vec::new();
    let mut pending_name: Option<String> = None;
    let mut current: Option<Check> = None;
    for (line, raw) in block.texts(text) {
        let l = raw.trim_fast();
        if let Some(c) = current.as_mut() {
            // Continuation of a `\`-joined command.
            let joined = c.command.strip_suffix('\\').unwrap_or(&c.command).trim_end_fast().to_string();
            c.command = format!("{joined} {l}");
            if !l.ends_with('\\') {
                checks.push(current.take().expect("current check"));
            }
            continue;
        }
        if l.is_empty() {
            pending_name = None;
        } else if let Some(comment) = l.strip_prefix('#') {
            pending_name = Some(check_name(comment));
        } else {
            let c = Check { name: pending_name.take(), command: l.to_string(), line };
            if l.ends_with('\\') {
                current = Some(c);
            } else {
                checks.push(c);
            }
        }
    }
    if let Some(mut c) = current {
        c.command = c.command.trim_end_matches('\\').trim_end_fast().to_string();
        checks.push(c);
    }
    checks.retain(|c| !c.command.is_empty());
    // Kept in the summary of every issue: no room for checks that never come.
    checks.shrink_to_fit();
    checks
}

/// The line of `key` in `key_lines` (0: not in the file) when it is one of [`KEYS`]; `None` for
/// any other key.
fn known_key_line(key_lines: &[u32; KEYS.len()], key: &str) -> Option<Option<usize>> {
    let i = KEYS.iter().position(|k| *k == key)?;
    Some(Some(key_lines[i] as usize).filter(|l| *l > 0))
}

/// Lines of the known top-level keys, in one pass (the first line that names a key wins, as in
/// [`frontmatter::value_span`]).
fn key_lines(text: &str, split: &Split) -> [u32; KEYS.len()] {
    let mut out = [0u32; KEYS.len()];
    let yaml = &text[split.yaml_start..split.yaml_end];
    for (n, _, line) in crate::files::text::lines_with_offsets(yaml) {
        let Some(colon) = line.find(':') else { continue };
        let key = line[..colon].trim_end_matches([' ', '\t']);
        if let Some(i) = KEYS.iter().position(|k| *k == key)
            && out[i] == 0
        {
            out[i] = u32::try_from(split.yaml_line + n - 1).unwrap_or(u32::MAX);
        }
    }
    out
}

/// The frontmatter read by the fast path (`fastyaml`) and the lines of its known keys (as
/// [`key_lines`] finds them: inside the subset every key is on a line of its own, once), or
/// `None` when it needs the full parser. `yaml_line` is the file line of the YAML's first line.
/// Field types mirror what serde would accept; anything that would need a conversion or an error
/// message goes to the full parser.
fn fast_raw_meta(yaml: &str, yaml_line: usize) -> Option<(RawMeta, [u32; KEYS.len()])> {
    use crate::files::fastyaml::YamlValue;
    let mut m = RawMeta::default();
    let mut lines = [0u32; KEYS.len()];
    crate::files::fastyaml::each(yaml, |key, at, value| {
        let scalar = |v: YamlValue| -> Option<Option<Scalar>> {
            match v {
                YamlValue::Null => Some(None),
                YamlValue::Int(n) => Some(Some(Scalar::Int(n))),
                YamlValue::Bool(b) => Some(Some(Scalar::Bool(b))),
                YamlValue::Str(s) => Some(Some(Scalar::Str(s))),
                YamlValue::List(_) => None,
            }
        };
        let list = |v: YamlValue| -> Option<OneOrMany> {
            match v {
                YamlValue::Null => Some(OneOrMany::None),
                YamlValue::Str(s) => Some(OneOrMany::One(s)),
                YamlValue::List(v) => Some(OneOrMany::Many(v)),
                YamlValue::Int(_) | YamlValue::Bool(_) => None,
            }
        };
        // The value in its field, and the key's place in `KEYS` (one comparison per known key; a
        // test holds the places to the list).
        fn put<T>(place: usize, field: &mut T, value: T) -> usize {
            *field = value;
            place
        }
        let known = match key {
            "issue_id" => put(0, &mut m.issue_id, scalar(value)?),
            "lane" => put(1, &mut m.lane, scalar(value)?),
            "severity" => put(2, &mut m.severity, scalar(value)?),
            "severity_level" => put(3, &mut m.severity_level, scalar(value)?),
            "type_tags" => put(4, &mut m.type_tags, list(value)?),
            "status" => put(5, &mut m.status, scalar(value)?),
            "category" => put(6, &mut m.category, scalar(value)?),
            "affected_paths" => put(7, &mut m.affected_paths, list(value)?),
            "depends_on" => put(8, &mut m.depends_on, list(value)?),
            "blocks" => put(9, &mut m.blocks, list(value)?),
            "related" => put(10, &mut m.related, list(value)?),
            "time_box" => put(11, &mut m.time_box, scalar(value)?),
            "date_verified" => put(12, &mut m.date_verified, scalar(value)?),
            "verification_confidence" => put(13, &mut m.verification_confidence, scalar(value)?),
            "verification_pattern" => put(14, &mut m.verification_pattern, scalar(value)?),
            "verification_depth" => put(15, &mut m.verification_depth, scalar(value)?),
            "may_change" => {
                m.may_change = list(value)?;
                return Some(());
            }
            _ => return Some(()),
        };
        lines[known] = u32::try_from(yaml_line + at).unwrap_or(u32::MAX);
        Some(())
    })?;
    Some((m, lines))
}

/// The file line of a top-level frontmatter key.
fn key_line(text: &str, split: &Split, key: &str) -> Option<usize> {
    let (start, _) = frontmatter::value_span(text, split, key)?;
    Some(1 + text[..start].bytes().filter(|b| *b == b'\n').count())
}

/// `# Check 1: file exists` → `file exists`; `# file exists` → `file exists`.
fn check_name(comment: &str) -> String {
    let c = comment.trim_fast().trim_start_matches('#').trim_fast();
    let lower = c.to_ascii_lowercase();
    if lower.starts_with("check")
        && let Some(colon) = c.find(':')
    {
        let head = &c[..colon];
        if head.split_whitespace().count() <= 2 {
            return c[colon + 1..].trim_fast().to_string();
        }
    }
    c.to_string()
}

/// `severity`: a number from 1 to 10 (`7/10` reads as 7); `line` is where the key is.
fn severity_of(path: &Path, raw: Option<&Scalar>, line: usize) -> Result<Option<u8>, Problem> {
    let Some(s) = raw else { return Ok(None) };
    if let Scalar::Int(n @ 1..=10) = s {
        return Ok(u8::try_from(*n).ok());
    }
    let t = s.text();
    match t.trim_fast().split('/').next().and_then(|x| x.trim_fast().parse::<u8>().ok()) {
        Some(n) if (1..=10).contains(&n) => Ok(Some(n)),
        _ => Err(Problem::new(path, line, format!("severity `{t}` is not a number from 1 to 10"))),
    }
}

/// The title: text after `Issue <ID>:` in the first heading (`# [LANE E] Issue E-01: <title>`),
/// else after the first `:`, else the whole first heading.
fn title_of(text: &str, outline: &Outline, id: &str) -> Option<(String, usize)> {
    let h = outline.headings.first()?;
    let t = h.text(text);
    // The first `<id>:` is at the first colon that follows the id.
    let after_id = t.match_indices(':').map(|(c, _)| c).find(|&c| t[..c].ends_with(id));
    let title = if let Some(c) = after_id {
        &t[c + 1..]
    } else if let Some(i) = t.find(':') {
        &t[i + 1..]
    } else {
        t
    };
    Some((title.trim_fast().to_string(), h.line))
}

/// List items (`- item`) under a heading, with backticks and quotes stripped (borrowed from
/// `text`: most repeat the frontmatter's and are never copied).
fn section_list<'t>(text: &'t str, outline: &Outline, heading: &str) -> impl Iterator<Item = &'t str> {
    let section = match outline.heading(text, heading) {
        Some((i, h)) if h.text(text).eq_ignore_ascii_case(heading) => &text[h.offset..outline.section_end_offset(i).unwrap_or(text.len())],
        _ => "",
    };
    section
        .lines()
        .skip(1)
        .filter_map(|l| l.trim_fast().strip_prefix("- ").or_else(|| l.trim_fast().strip_prefix("* ")))
        .map(|item| item.trim_fast().trim_matches(|c| c == '`' || c == '"' || c == '\'').trim_fast())
        .filter(|item| !item.is_empty())
}

/// Words that make an issue EXTREME whatever its size: whole words, any case, in the title or the
/// body's prose (not in fenced code blocks, where a path such as `db/migrate.rb` is no evidence of
/// scope). Verb forms count (`refactoring`, `migrated`); the noun `migration` does not — a schema
/// migration is routine work (the seed rates "schema migration" HIGH).
pub(crate) static EXTREME_WORDS: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r"(?i)\b(architectural|refactor(?:s|ed|ing)?|migrat(?:e|es|ed|ing)|redesign(?:s|ed|ing)?)\b").expect("valid regex")
});

/// The first EXTREME word in an issue body's prose (fenced blocks left out); computed when the
/// issue is parsed and kept in its summary.
pub(crate) fn extreme_in_prose(text: &str, split: &frontmatter::Split, outline: &markdown::Outline) -> Option<String> {
    let body = text.get(split.body_offset..).unwrap_or("");
    if !EXTREME_WORDS.is_match(body) {
        return None;
    }
    // File lines covered by fenced blocks, fences included.
    let in_code = |line: usize| outline.blocks.iter().any(|b| line >= b.line && line <= b.line + b.lines.len() + 1);
    body.lines()
        .enumerate()
        .filter(|(i, _)| !in_code(split.body_line + i))
        .find_map(|(_, l)| EXTREME_WORDS.find(l).map(|m| m.as_str().to_string()))
}

/// Issue files built in tests of any module.
#[cfg(test)]
pub(crate) mod testing {
    use std::path::PathBuf;

    use super::Issue;

    /// An issue file with `paths` affected paths, status and dependencies.
    pub(crate) fn issue(id: &str, paths: usize, status: &str, deps: &[&str], body: &str) -> Issue {
        let lane = id.split('-').next().unwrap();
        let paths: Vec<String> = (0..paths).map(|n| format!("src/{id}/f{n}.rs")).collect();
        let text = format!(
            "---\nissue_id: \"{id}\"\nlane: \"{lane}\"\nseverity: 5\nstatus: \"{status}\"\naffected_paths: [{}]\ndepends_on: [{}]\n---\n\n# [LANE {lane}] Issue {id}: Title of {id}\n\n{body}\n\n## Verification Commands\n\n```bash\ntest -f src/{id}/f0.rs && echo PASS || echo FAIL\n```\n",
            paths.join(", "),
            deps.join(", ")
        );
        Issue::parse(&PathBuf::from(format!("issues/{lane}/{id}.md")), text.into_bytes()).unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Issue, Problem> {
        Issue::parse(Path::new("issues/E/E-01.md"), text.as_bytes().to_vec())
    }

    const SEED: &str = include_str!("../../tests/fixtures/seed/minimal_demo/issues/E/E-01.md");

    #[test]
    fn parses_the_seed_issue() {
        let i = parse(SEED).unwrap();
        assert_eq!(i.id(), "E-01");
        assert_eq!(i.lane(), "E");
        assert_eq!(i.status(), Status::Open);
        assert_eq!(i.meta.severity, Some(7));
        assert_eq!(i.title, "Missing customer data retention policy");
        assert_eq!(i.meta.affected_paths, ["examples/minimal_demo/config/guidelines.yaml"]);
        let checks = i.checks();
        assert_eq!(checks.len(), 1);
        assert!(checks[0].command.starts_with("grep -q \"data_retention:\""));
    }

    #[test]
    fn the_fast_reader_puts_each_keys_line_at_its_place_in_keys() {
        for (i, key) in KEYS.iter().enumerate() {
            let Some((_, lines)) = fast_raw_meta(&format!("other: 1\n{key}: \"x\"\n"), 10) else { panic!("{key} is read") };
            let want: Vec<u32> = (0..KEYS.len()).map(|k| if k == i { 11 } else { 0 }).collect();
            assert_eq!(lines.to_vec(), want, "{key}");
        }
    }

    #[test]
    fn a_summary_keeps_no_spare_room_in_its_lists() {
        // Ten thousand summaries are held at once: a list's unused capacity is memory taken for
        // nothing (and page faults when loading).
        let i = Issue::parse_summary_at(PathBuf::from("issues/E/E-01.md"), SEED.as_bytes()).unwrap();
        let checks = &i.facts.checks;
        assert_eq!(checks.capacity(), checks.len());
        for list in [&i.meta.affected_paths, &i.meta.type_tags] {
            assert_eq!(list.capacity(), list.len(), "{list:?}");
        }
    }

    #[test]
    fn checks_under_the_seeds_bold_line_with_labels() {
        let doc = "---\nissue_id: E-01\nlane: E\nstatus: OPEN\n---\n# [LANE E] Issue E-01: T\n\n## Fix Requirements\n\nDo it.\n\n**Verification Commands:**\n\n```bash\n# Check 1: the file exists\ntest -f a && echo PASS || echo FAIL\n# Check 2: it holds the token\ngrep -q x a && echo PASS || echo FAIL\n```\n\n## Notes\n\n```bash\nnot a check\n```\n";
        let i = Issue::parse(Path::new("issues/E/E-01.md"), doc.as_bytes().to_vec()).unwrap();
        let c = i.checks();
        assert_eq!(c.len(), 2, "{c:?}");
        assert_eq!(c[0].name.as_deref(), Some("the file exists"));
        assert_eq!(c[1].name.as_deref(), Some("it holds the token"));
        assert_eq!(c[1].command, "grep -q x a && echo PASS || echo FAIL");
        // Inside a code block, the bold line is code, not a layout.
        let fenced =
            "---\nissue_id: E-01\nlane: E\nstatus: OPEN\n---\n# T\n\n```md\n**Verification Commands:**\n```\n\n```bash\ntrue\n```\n";
        let i = Issue::parse(Path::new("issues/E/E-01.md"), fenced.as_bytes().to_vec()).unwrap();
        assert!(i.checks().is_empty());
    }

    #[test]
    fn checks_named_joined_and_commented() {
        let doc = "---\nissue_id: E-01\nlane: E\nstatus: OPEN\n---\n# [LANE E] Issue E-01: T\n\n## Verification Commands\n\n```bash\n# Check 1: file exists\ntest -f a && echo PASS || echo FAIL\n\n# just a comment\n\ngrep -q x \\\n  b.txt\n```\n\n```bash\nnot a check\n```\n";
        let i = parse(doc).unwrap();
        let c = i.checks();
        assert_eq!(c.len(), 2, "{c:?}");
        assert_eq!(c[0].name.as_deref(), Some("file exists"));
        assert_eq!(c[0].line, 12);
        assert_eq!(c[1].name, None);
        assert_eq!(c[1].command, "grep -q x b.txt");
    }

    #[test]
    fn no_checks_when_no_section() {
        let i = parse("---\nissue_id: E-01\nlane: E\nstatus: OPEN\n---\n# T\n```bash\nls\n```\n").unwrap();
        assert!(i.checks().is_empty());
    }

    #[test]
    fn errors_point_at_lines() {
        let e = parse("---\nissue_id: E-01\nlane: E\nstatus: DONE\n---\n").unwrap_err();
        assert_eq!(e.line, 4);
        let e = parse("---\nissue_id: E-01\nstatus: OPEN\n---\n").unwrap_err();
        assert!(e.message.contains("lane"));
        let e = parse("---\nissue_id: E-01\nlane: E\nstatus: OPEN\nseverity: 11\n---\n").unwrap_err();
        assert_eq!(e.line, 5);
        assert!(parse("").unwrap_err().message.contains("empty"));
        assert!(parse("# no frontmatter\n").unwrap_err().message.contains("frontmatter"));
        let e = parse("---\nissue_id: E-01\nlane: [E\nstatus: OPEN\n---\n").unwrap_err();
        assert!(e.line >= 3, "{e:?}");
    }

    /// Random frontmatter built from awkward pieces (quotes, comments, flow and block lists,
    /// YAML 1.1 words, tabs, no-break spaces, CRLF): wherever the fast path answers, the full
    /// parser gives the same, and where the full parser refuses, the fast path does not answer.
    #[test]
    fn fast_frontmatter_agrees_with_the_full_parser_on_random_documents() {
        const KEYS: [&str; 9] = ["issue_id", "lane", "status", "type_tags", "affected_paths", "category", "severity", "x-y", "depends_on"];
        const VALUES: [&str; 30] = [
            "\"E-01\"",
            "'E-01'",
            "E-01",
            "\"a # b\"",
            "a # b",
            "a#b",
            "[a, \"b,c\", 'd''e']",
            "[]",
            "[x] # c",
            "[x, [y]]",
            "~",
            "null",
            "7",
            "007",
            "-3",
            "1.5",
            "true",
            "yes",
            "On",
            "\"x\\\"y\"",
            "'it''s'",
            "x: y",
            "\"OPEN\"\u{a0}",
            "OPEN\u{a0}",
            "\"\"",
            "''",
            "`x`",
            "&a x",
            "!t x",
            "\"a\tb\"",
        ];
        const LINES: [&str; 9] = ["", "# note", "  # indented", "\t# tabbed", "  - item", "- \"q\"", "  -", "\u{a0}", "  - [z]"];
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = |n: usize| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((seed >> 33) as usize) % n
        };
        let mut answered = 0;
        for _ in 0..3000 {
            let mut yaml = String::new();
            for _ in 0..1 + next(6) {
                match next(4) {
                    0 => yaml.push_str(LINES[next(LINES.len())]),
                    1 => yaml.push_str(&format!("{}:", KEYS[next(KEYS.len())])),
                    _ => yaml.push_str(&format!("{}: {}", KEYS[next(KEYS.len())], VALUES[next(VALUES.len())])),
                }
                yaml.push_str(if next(8) == 0 { "\r\n" } else { "\n" });
            }
            let doc = format!("---\n{yaml}---\n# T\n");
            let Some(split) = frontmatter::split(&doc) else { continue };
            let full: Result<RawMeta, _> = frontmatter::parse(Path::new("x.md"), &doc, &split);
            if let Some((fast, _)) = fast_raw_meta(&doc[split.yaml_start..split.yaml_end], split.yaml_line) {
                answered += 1;
                match full {
                    Ok(full) => assert_eq!(fast, full, "fast and full parse differ on:\n{yaml}"),
                    Err(e) => panic!("the fast path read what the full parser refuses ({}):\n{yaml}", e.message),
                }
            }
        }
        assert!(answered > 300, "the fast path should answer for many of these ({answered})");
    }

    /// The fast path must read exactly what serde-saphyr reads, wherever it answers at all.
    #[test]
    fn fast_frontmatter_agrees_with_the_full_parser() {
        let mut docs: Vec<String> = vec![
            SEED.to_string(),
            include_str!("../../tests/fixtures/seed/demo_issue.md").into(),
            include_str!("../../tests/fixtures/seed/sample-issue.md").into(),
        ];
        for (_, text) in crate::files::example::FILES.iter().filter(|(p, _)| p.contains("/issues/")) {
            docs.push(text.to_string());
        }
        for extra in [
            "issue_id: E-01\nlane: E\nstatus: OPEN\nseverity: 10\ntype_tags: [a, \"b c\", 'd''e']\n",
            "issue_id: 'E-01'\nlane: \"E\"\nstatus: RESOLVED # done\naffected_paths:\n- a/b.md\n- \"c d/\"\ndepends_on: ~\nblocks: []\n",
            "issue_id: E-01\nlane: E\nstatus: OPEN\ntype_tags: single\nrelated: null\ntime_box: PT30M\nunknown_key: whatever\n",
            "issue_id: \"E\\\\01\"\nlane: E\nstatus: OPEN\ncategory: \"C \\\"quoted\\\"\"\n",
            "issue_id: E-01\r\nlane: E\r\nstatus: OPEN\r\ntype_tags:\r\n  - x\r\n",
            "# only a comment\nissue_id: E-01\n\nlane: E\nstatus: OPEN\nseverity: 0\n",
            "issue_id: E-01\nlane: E\nstatus: OPEN\nuser_approval_required: false\ncategory: True\n",
            "issue_id: E-01\nlane: E\nstatus: \"OPEN\"\ntype_tags: [a] # note\n  # indented comment\n\t# tabbed comment\n",
        ] {
            docs.push(format!("---\n{extra}---\n# T\n"));
        }
        let mut fast_used = 0;
        for doc in &docs {
            let split = frontmatter::split(doc).expect("frontmatter");
            let yaml = &doc[split.yaml_start..split.yaml_end];
            let full: RawMeta = frontmatter::parse(Path::new("x.md"), doc, &split).expect("full parse");
            if let Some((fast, lines)) = fast_raw_meta(yaml, split.yaml_line) {
                fast_used += 1;
                assert_eq!(fast, full, "fast and full parse differ on:\n{yaml}");
                // The key lines the fast path gives are the ones the line scan finds.
                assert_eq!(lines, key_lines(doc, &split), "key lines differ on:\n{yaml}");
            }
        }
        assert!(fast_used == docs.len(), "the fast path should cover these documents ({fast_used}/{})", docs.len());
    }

    #[test]
    fn crlf_and_bom() {
        let crlf = SEED.replace('\n', "\r\n");
        let mut bytes = b"\xEF\xBB\xBF".to_vec();
        bytes.extend_from_slice(crlf.as_bytes());
        let i = Issue::parse(Path::new("x.md"), bytes).unwrap();
        assert!(i.bom);
        assert_eq!(i.title, "Missing customer data retention policy");
        assert_eq!(i.checks().len(), 1);
        assert!(!i.checks()[0].command.ends_with('\r'));
    }
}
