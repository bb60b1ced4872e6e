//! The issue catalog (`SAF_ISSUE_CATALOG.md`): finding its generated regions and regenerating them
//! from the issue files (docs/formats.md#catalog).
//!
//! Generated regions are the Summary table's data row, the Progress by Lane table's rows, each
//! lane's open-issue rows (the table directly above its `<!-- LANE_<X>_ISSUES -->` marker), and the
//! `Last Updated` value. Everything else is prose and is kept byte for byte. The catalog is read
//! back for one thing only: the order of existing rows, which is the lane's queue.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::ops::Range;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::base::error::Problem;
use crate::files::issue::{Issue, Status};
use crate::files::names;
use crate::files::text::{self, TrimFast, lines_with_offsets};
use crate::files::workspace::Workspace;

const LANE_TABLE_HEADER: &str = "| ID | Title | Severity | Type Tags | Status |";
const LANE_TABLE_SEPARATOR: &str = "|----|-------|----------|-----------|--------|";
const LAST_UPDATED: &str = "> **Last Updated:**";

/// A table's data rows: their byte range and line numbers.
#[derive(Debug, Clone)]
struct Rows {
    range: Range<usize>,
    first_line: usize,
    lines: Vec<String>,
}

/// One lane's generated region.
#[derive(Debug, Clone)]
struct LaneRegion {
    lane: String,
    marker_line: usize,
    /// Existing table rows; `None` when the marker has no table above it (one will be inserted).
    rows: Option<Rows>,
    /// Where a table is inserted when `rows` is `None` (start of the marker line).
    marker_offset: usize,
    /// Ids in the existing rows, in order (the queue).
    ids: Vec<String>,
}

/// A parsed catalog.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub path: PathBuf,
    text: String,
    bom: bool,
    eol: &'static str,
    last_updated: Option<Range<usize>>,
    summary: Option<Rows>,
    progress: Option<Rows>,
    lanes: Vec<LaneRegion>,
    /// Byte offset where sections for new lanes are inserted.
    new_lane_offset: usize,
}

/// One way the catalog differs from what the issue files say.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Difference {
    pub line: usize,
    /// `summary`, `progress`, `lane E`.
    pub region: String,
    pub message: String,
}

/// The outcome of regenerating a catalog.
#[derive(Debug, Clone)]
pub struct Synced {
    /// The full new file content (BOM restored) when `changed`; empty when nothing changed
    /// (there is nothing to write, and the catalog's own bytes are the caller's).
    pub bytes: Vec<u8>,
    pub changed: bool,
    pub differences: Vec<Difference>,
}

impl Catalog {
    /// Parse the catalog at `path` (relative path for messages).
    pub fn parse(path: &Path, bytes: Vec<u8>) -> Result<Catalog, Problem> {
        let t = text::decode("catalog", path, bytes)?;
        let text = t.text;
        let eol = text::line_ending(&text);
        let lines: Vec<(usize, usize, &str)> = lines_with_offsets(&text).collect();
        let line_end = |i: usize| lines.get(i + 1).map(|l| l.1).unwrap_or(text.len());
        let mut cat = Catalog {
            path: path.to_path_buf(),
            text: String::new(),
            bom: t.bom,
            eol,
            last_updated: None,
            summary: None,
            progress: None,
            lanes: Vec::new(),
            new_lane_offset: 0,
        };
        let mut open_section: Option<usize> = None;
        let mut seen = HashSet::new();
        for (i, &(n, off, line)) in lines.iter().enumerate() {
            if cat.last_updated.is_none()
                && let Some(rest) = line.strip_prefix(LAST_UPDATED)
            {
                let start = off + LAST_UPDATED.len() + (rest.len() - rest.trim_start_fast().len());
                cat.last_updated = Some(start..off + line.len());
            } else if is_heading(line, "## Summary") {
                cat.summary = Some(table_after(path, &lines, i, &line_end, "Summary")?);
            } else if is_heading(line, "## Progress by Lane") {
                cat.progress = Some(table_after(path, &lines, i, &line_end, "Progress by Lane")?);
            } else if is_heading(line, "## Open Issues by Lane") {
                open_section = Some(i);
            } else if let Some(lane) = marker_lane(line) {
                names::check_lane(lane).map_err(|m| Problem::new(path, n, format!("lane marker: {m}")))?;
                if !seen.insert(lane.to_string()) {
                    return Err(Problem::new(path, n, format!("a second `<!-- LANE_{lane}_ISSUES -->` marker"))
                        .with_hint("keep one marker per lane and delete the other lane section"));
                }
                let region = lane_region(path, &lines, i, lane, &line_end)?;
                cat.new_lane_offset = line_end(i);
                cat.lanes.push(region);
            }
        }
        if cat.lanes.is_empty() {
            match open_section {
                Some(i) => cat.new_lane_offset = line_end(i),
                None => {
                    return Err(Problem::new(path, 1, "the catalog has no `## Open Issues by Lane` section and no `<!-- LANE_<X>_ISSUES -->` markers, so there is nowhere to write the generated tables")
                        .with_hint("add a `## Open Issues by Lane` heading (sync fills it), or move the file away and run `git lanes init`"));
                }
            }
        }
        cat.text = text;
        Ok(cat)
    }

    /// Lanes that have a section (marker) in the catalog, in catalog order.
    pub fn lanes(&self) -> Vec<String> {
        self.lanes.iter().map(|l| l.lane.clone()).collect()
    }

    /// The queue of a lane: ids of its rows, in catalog order.
    pub fn queue(&self, lane: &str) -> &[String] {
        self.lanes.iter().find(|l| l.lane == lane).map(|l| l.ids.as_slice()).unwrap_or(&[])
    }

    /// All lane queues.
    pub fn queues(&self) -> BTreeMap<String, Vec<String>> {
        self.lanes.iter().map(|l| (l.lane.clone(), l.ids.clone())).collect()
    }

    /// Regenerate the generated regions from `ws`; `now` is the `Last Updated` value used if
    /// anything else changed.
    pub fn sync(&self, ws: &Workspace, now: &str) -> Synced {
        let mut edits: Vec<(Range<usize>, String)> = Vec::new();
        let mut differences = Vec::new();
        let lanes = ws.lanes(&self.lanes());
        let counts = Counts::of(&ws.issues, &lanes);
        self.count_rows(&counts, &mut edits, &mut differences);
        let open_by_lane = open_issues_by_lane(&ws.issues);
        self.lane_tables(&open_by_lane, &mut edits, &mut differences);
        self.new_lane_sections(ws, &lanes, &open_by_lane, &mut edits, &mut differences);
        let (bytes, changed) = self.apply(edits, now);
        if !changed {
            differences.clear();
        }
        Synced { bytes, changed, differences }
    }

    /// The summary and progress rows.
    fn count_rows(&self, counts: &Counts, edits: &mut Vec<(Range<usize>, String)>, differences: &mut Vec<Difference>) {
        let eol = self.eol;
        let style = self.percent_style();
        // Summary and progress rows are compared by what they say (lane and counts): a row whose
        // numbers are right is kept as written, whatever its percent looks like; a row that is
        // regenerated is written in the catalog's own style.
        if let Some(rows) = &self.summary {
            let row = counts.total.summary_row_in(style);
            let new = keep_same_counts(&rows.lines, std::slice::from_ref(&row));
            push_rows(edits, differences, rows, &self.text[rows.range.clone()], &new, "summary", eol);
        }
        if let Some(rows) = &self.progress {
            // Existing row order first, then lanes new to the table, natural order.
            let existing: Vec<String> = rows.lines.iter().filter_map(|l| first_cell(l)).collect();
            let mut order: Vec<&str> = existing.iter().map(String::as_str).filter(|l| counts.per_lane.contains_key(*l)).collect();
            let mut rest: Vec<&str> = counts.per_lane.keys().map(String::as_str).filter(|l| !order.contains(l)).collect();
            rest.sort_by(|a, b| names::natural_cmp(a, b));
            order.extend(rest);
            let new: Vec<String> = order.iter().map(|l| counts.per_lane[*l].lane_row_in(l, style)).collect();
            let new = keep_same_counts(&rows.lines, &new);
            push_rows(edits, differences, rows, &self.text[rows.range.clone()], &new, "progress", eol);
        }
    }

    /// Each lane section's table of open issues (written when the section has none).
    fn lane_tables(
        &self,
        open_by_lane: &BTreeMap<&str, Vec<&Issue>>,
        edits: &mut Vec<(Range<usize>, String)>,
        differences: &mut Vec<Difference>,
    ) {
        let eol = self.eol;
        // Each lane's rows are rendered on its own thread (ten thousand rows are most of a sync).
        let rendered: Vec<Vec<String>> = self
            .lanes
            .par_iter()
            .map(|region| lane_rows(&region.ids, open_by_lane.get(region.lane.as_str()).map(Vec::as_slice).unwrap_or(&[])))
            .collect();
        for (region, new) in self.lanes.iter().zip(rendered) {
            let label = format!("lane {}", region.lane);
            match &region.rows {
                Some(rows) => {
                    if rows.lines != new {
                        lane_differences(differences, rows, &region.ids, &new, &label);
                    }
                    push_rows(edits, &mut Vec::new(), rows, &self.text[rows.range.clone()], &new, &label, eol);
                }
                None => {
                    let mut table = format!("{LANE_TABLE_HEADER}{eol}{LANE_TABLE_SEPARATOR}{eol}");
                    for r in &new {
                        table.push_str(r);
                        table.push_str(eol);
                    }
                    differences.push(Difference {
                        line: region.marker_line,
                        region: label,
                        message: "lane section has no table; one will be written".into(),
                    });
                    edits.push((region.marker_offset..region.marker_offset, table));
                }
            }
        }
    }

    /// A section (title, table, marker) for each lane with open issues and no section yet.
    fn new_lane_sections(
        &self,
        ws: &Workspace,
        lanes: &[String],
        open_by_lane: &BTreeMap<&str, Vec<&Issue>>,
        edits: &mut Vec<(Range<usize>, String)>,
        differences: &mut Vec<Difference>,
    ) {
        let eol = self.eol;
        let known: HashSet<&str> = self.lanes.iter().map(|l| l.lane.as_str()).collect();
        let mut new_sections = String::new();
        for lane in lanes.iter().filter(|l| !known.contains(l.as_str())) {
            let Some(open) = open_by_lane.get(lane.as_str()) else { continue };
            let title = ws.lane_title(lane).unwrap_or_else(|| "Issues".to_string());
            new_sections.push_str(&format!("{eol}### Lane {lane} - {title}{eol}{eol}{LANE_TABLE_HEADER}{eol}{LANE_TABLE_SEPARATOR}{eol}"));
            for r in lane_rows(&[], open) {
                new_sections.push_str(&r);
                new_sections.push_str(eol);
            }
            new_sections.push_str(&format!("<!-- LANE_{lane}_ISSUES -->{eol}"));
            differences.push(Difference {
                line: line_of(&self.text, self.new_lane_offset),
                region: format!("lane {lane}"),
                message: format!("lane {lane} has {} open issue(s) but no section; a section and marker will be added", open.len()),
            });
        }
        if !new_sections.is_empty() {
            let at = self.new_lane_offset;
            // Keep a missing final newline from gluing the marker to the new section.
            if at == self.text.len() && !self.text.ends_with('\n') {
                new_sections.insert_str(0, eol);
            }
            edits.push((at..at, new_sections));
        }
    }

    /// The catalog with `edits` applied (the last-updated stamp too), its BOM restored, and
    /// whether anything changed (when nothing did, no copy is made: the bytes are empty).
    fn apply(&self, mut edits: Vec<(Range<usize>, String)>, now: &str) -> (Vec<u8>, bool) {
        edits.retain(|(r, t)| self.text[r.clone()] != *t);
        let changed = !edits.is_empty();
        if !changed {
            return (Vec::new(), false);
        }
        if let Some(r) = &self.last_updated {
            edits.push((r.clone(), now.to_string()));
        }
        edits.sort_by_key(|(r, _)| (r.start, r.end));
        let mut out = String::with_capacity(self.text.len() + 256);
        let mut pos = 0;
        for (r, t) in &edits {
            out.push_str(&self.text[pos..r.start]);
            out.push_str(t);
            pos = r.end;
        }
        out.push_str(&self.text[pos..]);
        let mut bytes = Vec::with_capacity(out.len() + 3);
        if self.bom {
            bytes.extend_from_slice(b"\xEF\xBB\xBF");
        }
        bytes.extend_from_slice(out.as_bytes());
        (bytes, changed)
    }
}

impl Catalog {
    /// How the catalog writes percents: one decimal in the summary and Python's rounding (half
    /// to even) in the lane table, as the seed's `sync_catalog_stats.py` does, or git-lanes'
    /// integers rounded half up. Read off the rows already there.
    pub fn percent_style(&self) -> PercentStyle {
        let decimal = self.summary.as_ref().is_some_and(|r| r.lines.iter().any(|l| has_decimal_percent(l)));
        let half_even = decimal
            || self.progress.as_ref().is_some_and(|r| {
                r.lines.iter().any(|l| {
                    let Some((_, t)) = row_counts(l, true) else { return false };
                    let written = last_percent(l);
                    let tally = Tally { total: t[0], closed: t[1], open: t[2] };
                    written.is_some() && written == Some(tally.percent_half_even()) && written != Some(tally.percent())
                })
            });
        PercentStyle { summary_decimal: decimal, lanes_half_even: half_even }
    }
}

/// How percents are written (see [`Catalog::percent_style`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PercentStyle {
    /// `34.7%` (Python `round(x, 1)`) rather than `35%` in the summary row.
    pub summary_decimal: bool,
    /// Lane percents rounded half to even (Python `round(x)`: 12.5 → 12), and ✅ at 100%.
    pub lanes_half_even: bool,
}

fn has_decimal_percent(line: &str) -> bool {
    let b = line.as_bytes();
    (0..b.len()).any(|i| b[i] == b'%' && i >= 3 && b[i - 1].is_ascii_digit() && b[i - 2] == b'.' && b[i - 3].is_ascii_digit())
}

/// The integer before the last `%` of a row.
fn last_percent(line: &str) -> Option<usize> {
    let at = line.rfind('%')?;
    let digits: String = line[..at].chars().rev().take_while(|c| c.is_ascii_digit()).collect::<Vec<_>>().into_iter().rev().collect();
    if line[..at - digits.len()].ends_with('.') {
        return None;
    }
    digits.parse().ok()
}

/// `(first cell, [total, resolved, open])` of a summary row (`lane` false) or a progress row.
fn row_counts(line: &str, lane: bool) -> Option<(String, [usize; 3])> {
    let cells: Vec<&str> = line.trim_fast().strip_prefix('|')?.split('|').map(str::trim).collect();
    let skip = usize::from(lane);
    let mut n = [0usize; 3];
    for (k, slot) in n.iter_mut().enumerate() {
        *slot = cells.get(skip + k)?.parse().ok()?;
    }
    Some((if lane { cells[0].to_string() } else { String::new() }, n))
}

/// Where an existing row says the same as the regenerated one (same lane and counts), the
/// existing row is kept as written.
fn keep_same_counts(old: &[String], new: &[String]) -> Vec<String> {
    new.iter()
        .enumerate()
        .map(|(k, n)| {
            let lane = !n.trim_start_fast().trim_start_matches('|').trim_start_fast().starts_with(|c: char| c.is_ascii_digit());
            match (old.get(k), row_counts(n, lane)) {
                (Some(o), Some(want)) if row_counts(o, lane).as_ref() == Some(&want) => o.clone(),
                _ => n.clone(),
            }
        })
        .collect()
}

/// Python's `round(x, digits)` of a float: correctly rounded from the exact binary value, exact
/// ties to even; returned in units of `10^-digits`.
fn python_round(x: f64, digits: usize) -> u64 {
    let exact = format!("{x:.40}");
    let (int, frac) = exact.split_once('.').unwrap_or((&exact, ""));
    let kept: String = format!("{int}{}", &frac[..digits.min(frac.len())]);
    let mut units: u64 = kept.parse().unwrap_or(0);
    let rest = &frac[digits.min(frac.len())..];
    let first = rest.as_bytes().first().copied().unwrap_or(b'0');
    let beyond_zero = rest.len() > 1 && rest[1..].bytes().all(|b| b == b'0');
    if first > b'5' || first == b'5' && (!beyond_zero || units % 2 == 1) {
        units += 1;
    }
    units
}

/// Render a fresh catalog for `init` (markers for the given lanes, prose around them).
pub fn fresh(title: &str, lanes: &[(String, String)], now: &str) -> String {
    let mut s = format!(
        "# {title}\n\n{LAST_UPDATED} {now}\n\n## Summary\n\n| Total | Resolved | Open | Progress |\n|-------|----------|------|----------|\n{}\n\n## Progress by Lane\n\n| Lane | Total | Resolved | Open | % |\n|------|-------|----------|------|---|\n\n---\n\n## Open Issues by Lane\n",
        Tally::default().summary_row_in(PercentStyle::default())
    );
    for (lane, desc) in lanes {
        s += &format!("\n### Lane {lane} - {desc}\n\n{LANE_TABLE_HEADER}\n{LANE_TABLE_SEPARATOR}\n<!-- LANE_{lane}_ISSUES -->\n");
    }
    s += "\n---\n\n## Lane Descriptions\n\n";
    for (lane, desc) in lanes {
        s += &format!("- **Lane {lane}**: {desc}\n");
    }
    s += "\n> Tables between the headings above are generated by `git lanes sync` from `issues/<LANE>/<ID>.md`.\n> Edit the issue files, not the rows; prose outside the tables is yours.\n";
    s
}

fn is_heading(line: &str, want: &str) -> bool {
    line.trim_end_fast().eq_ignore_ascii_case(want)
}

/// `<!-- LANE_E_ISSUES -->` → `E`.
fn marker_lane(line: &str) -> Option<&str> {
    let inner = line.trim_fast().strip_prefix("<!--")?.strip_suffix("-->")?.trim_fast();
    inner.strip_prefix("LANE_")?.strip_suffix("_ISSUES")
}

fn is_table_line(line: &str) -> bool {
    line.trim_start_fast().starts_with('|')
}

fn is_separator(line: &str) -> bool {
    let t = line.trim_fast();
    t.starts_with('|') && t.contains('-') && t.chars().all(|c| matches!(c, '|' | '-' | ':' | ' '))
}

/// The data rows of the first table after heading line `i` (before the next heading).
fn table_after(
    path: &Path,
    lines: &[(usize, usize, &str)],
    i: usize,
    line_end: &dyn Fn(usize) -> usize,
    name: &str,
) -> Result<Rows, Problem> {
    let heading_line = lines[i].0;
    let mut j = i + 1;
    while j < lines.len() && lines[j].2.trim_fast().is_empty() {
        j += 1;
    }
    if j >= lines.len() || !is_table_line(lines[j].2) {
        let at = lines.get(j).map(|l| l.0).unwrap_or(heading_line);
        return Err(Problem::new(path, at, format!("expected the `{name}` table after its heading (line {heading_line})"))
            .with_hint("restore the table header and separator rows; sync fills in the data rows"));
    }
    if j + 1 >= lines.len() || !is_separator(lines[j + 1].2) {
        let at = lines.get(j + 1).map(|l| l.0).unwrap_or(lines[j].0);
        return Err(Problem::new(path, at, format!("expected a `|---|` separator row under the `{name}` table header"))
            .with_hint("restore the separator row; sync fills in the data rows"));
    }
    let start_idx = j + 2;
    let mut k = start_idx;
    while k < lines.len() && is_table_line(lines[k].2) {
        k += 1;
    }
    let start = if start_idx < lines.len() { lines[start_idx].1 } else { line_end(j + 1) };
    let end = if k > start_idx { line_end(k - 1) } else { start };
    Ok(Rows {
        range: start..end,
        first_line: lines.get(start_idx).map(|l| l.0).unwrap_or(lines[j + 1].0 + 1),
        lines: lines[start_idx..k].iter().map(|l| l.2.to_string()).collect(),
    })
}

/// The table directly above marker line `i`.
fn lane_region(
    path: &Path,
    lines: &[(usize, usize, &str)],
    i: usize,
    lane: &str,
    line_end: &dyn Fn(usize) -> usize,
) -> Result<LaneRegion, Problem> {
    let (marker_line, marker_offset, _) = lines[i];
    let mut top = i;
    while top > 0 && is_table_line(lines[top - 1].2) {
        top -= 1;
    }
    if top == i {
        return Ok(LaneRegion { lane: lane.to_string(), marker_line, rows: None, marker_offset, ids: vec![] });
    }
    let block = &lines[top..i];
    if block.len() < 2 || !is_separator(block[1].2) || !block[0].2.contains("ID") {
        return Err(Problem::new(
            path,
            block[0].0,
            format!("the table above `<!-- LANE_{lane}_ISSUES -->` does not start with `{LANE_TABLE_HEADER}` and a separator row"),
        )
        .with_hint("restore the lane table's header and separator; sync regenerates the rows"));
    }
    let rows_idx = top + 2;
    let start = if rows_idx < i { lines[rows_idx].1 } else { marker_offset };
    let end = if rows_idx < i { line_end(i - 1) } else { marker_offset };
    let row_lines: Vec<String> = lines[rows_idx..i].iter().map(|l| l.2.to_string()).collect();
    let mut ids = Vec::new();
    for (k, l) in row_lines.iter().enumerate() {
        match first_cell(l) {
            Some(id) if names::check_id(&id).is_ok() => ids.push(id),
            _ => {
                return Err(Problem::new(
                    path,
                    lines[rows_idx + k].0,
                    format!("row in lane {lane}'s table does not start with an issue id"),
                )
                .with_hint("rows are generated: delete the row and run `git lanes sync`"));
            }
        }
    }
    Ok(LaneRegion {
        lane: lane.to_string(),
        marker_line,
        rows: Some(Rows { range: start..end, first_line: lines.get(rows_idx).map(|l| l.0).unwrap_or(marker_line), lines: row_lines }),
        marker_offset,
        ids,
    })
}

fn first_cell(row: &str) -> Option<String> {
    let cell = row.trim_fast().strip_prefix('|')?.split('|').next()?.trim_fast();
    (!cell.is_empty()).then(|| cell.to_string())
}

fn line_of(text: &str, offset: usize) -> usize {
    1 + text.as_bytes()[..offset.min(text.len())].iter().filter(|b| **b == b'\n').count()
}

/// The edit that makes `rows` (whose text in the catalog is `current`) the `new` rows, unless
/// they are that already; the differences, by line.
fn push_rows(
    edits: &mut Vec<(Range<usize>, String)>,
    diffs: &mut Vec<Difference>,
    rows: &Rows,
    current: &str,
    new: &[String],
    label: &str,
    eol: &str,
) {
    // The table as it would be written is the table as it is (the usual case for ten thousand
    // rows): no edit, and no copy of it is made.
    if rows.lines == new && is_joined(current, new, eol) {
        return;
    }
    let mut text = String::new();
    for r in new {
        text.push_str(r);
        text.push_str(eol);
    }
    if rows.lines != new {
        for (k, (old, newr)) in rows.lines.iter().zip(new).enumerate() {
            if old != newr {
                diffs.push(Difference {
                    line: rows.first_line + k,
                    region: label.into(),
                    message: format!("expected `{newr}`, found `{old}`"),
                });
            }
        }
        for (k, extra) in rows.lines.iter().enumerate().skip(new.len()) {
            diffs.push(Difference {
                line: rows.first_line + k,
                region: label.into(),
                message: format!("row `{extra}` should not be there"),
            });
        }
        for missing in new.iter().skip(rows.lines.len()) {
            diffs.push(Difference {
                line: rows.first_line + rows.lines.len(),
                region: label.into(),
                message: format!("missing row `{missing}`"),
            });
        }
    }
    edits.push((rows.range.clone(), text));
}

/// Whether `text` is exactly `rows`, each followed by `eol`.
fn is_joined(text: &str, rows: &[String], eol: &str) -> bool {
    let mut rest = text;
    for r in rows {
        match rest.strip_prefix(r.as_str()).and_then(|t| t.strip_prefix(eol)) {
            Some(t) => rest = t,
            None => return false,
        }
    }
    rest.is_empty()
}

/// Explain a lane table's differences per issue rather than per line.
fn lane_differences(diffs: &mut Vec<Difference>, rows: &Rows, old_ids: &[String], new: &[String], label: &str) {
    let new_ids: Vec<String> = new.iter().filter_map(|r| first_cell(r)).collect();
    let position: std::collections::HashMap<&str, usize> = new_ids.iter().enumerate().map(|(k, id)| (id.as_str(), k)).collect();
    let old_set: HashSet<&str> = old_ids.iter().map(String::as_str).collect();
    for (k, id) in old_ids.iter().enumerate() {
        let line = rows.first_line + k;
        match position.get(id.as_str()).copied() {
            None => diffs.push(Difference {
                line,
                region: label.into(),
                message: format!("{id} is listed but is no longer open (or its file is gone)"),
            }),
            Some(p) if new[p] != rows.lines[k] => diffs.push(Difference {
                line,
                region: label.into(),
                message: format!("{id}: expected `{}`, found `{}`", new[p], rows.lines[k]),
            }),
            _ => {}
        }
    }
    for id in new_ids.iter().filter(|n| !old_set.contains(n.as_str())) {
        diffs.push(Difference {
            line: rows.first_line + rows.lines.len(),
            region: label.into(),
            message: format!("{id} is open but not listed"),
        });
    }
}

/// Open issues of each lane, natural id order.
fn open_issues_by_lane(issues: &[Issue]) -> BTreeMap<&str, Vec<&Issue>> {
    let mut m: BTreeMap<&str, Vec<&Issue>> = BTreeMap::new();
    for i in issues.iter().filter(|i| i.status() == Status::Open) {
        m.entry(i.lane()).or_default().push(i);
    }
    m
}

/// Rows for a lane's open issues: the existing queue order first, then new ids in natural order
/// (`open` is already in natural order).
fn lane_rows(queue: &[String], open: &[&Issue]) -> Vec<String> {
    // Usually the queue is the open issues already in order: nothing to look up.
    if queue.len() == open.len() && queue.iter().zip(open).all(|(id, i)| id == i.id()) {
        return open.iter().map(|i| issue_row(i)).collect();
    }
    let by_id: std::collections::HashMap<&str, &Issue> = open.iter().map(|i| (i.id(), *i)).collect();
    let mut ordered: Vec<&Issue> = queue.iter().filter_map(|id| by_id.get(id.as_str()).copied()).collect();
    let mut seen: HashSet<&str> = ordered.iter().map(|i| i.id()).collect();
    for i in open {
        if seen.insert(i.id()) {
            ordered.push(i);
        }
    }
    ordered.iter().map(|i| issue_row(i)).collect()
}

/// `n` in decimal, without the formatting machinery (which costs more than the rest of a row).
fn push_u8(out: &mut String, n: u8) {
    if n >= 100 {
        out.push(char::from(b'0' + n / 100));
    }
    if n >= 10 {
        out.push(char::from(b'0' + n / 10 % 10));
    }
    out.push(char::from(b'0' + n % 10));
}

/// `| E-01 | Title | 7/10 HIGH | policy, compliance | OPEN |`, written into one string (ten
/// thousand rows are rendered on every catalog check).
pub fn issue_row(i: &Issue) -> String {
    let mut row = String::with_capacity(64 + i.title.len().min(64));
    row.push_str("| ");
    row.push_str(i.id());
    row.push_str(" | ");
    push_cell(&mut row, &truncate_title(&i.title));
    row.push_str(" | ");
    match (i.meta.severity, &i.meta.severity_level) {
        (Some(s), level) => {
            push_u8(&mut row, s);
            row.push_str("/10");
            if let Some(l) = level {
                row.push(' ');
                row.push_str(l);
            }
        }
        (None, Some(l)) => row.push_str(l),
        (None, None) => row.push('-'),
    }
    row.push_str(" | ");
    for (k, tag) in i.meta.type_tags.iter().take(4).enumerate() {
        if k > 0 {
            row.push_str(", ");
        }
        push_cell(&mut row, tag);
    }
    row.push_str(" | ");
    row.push_str(i.status().as_str());
    row.push_str(" |");
    row
}

/// Titles over 60 characters are cut to 57 plus `...`.
pub fn truncate_title(t: &str) -> std::borrow::Cow<'_, str> {
    // A title of at most 60 bytes has at most 60 characters: no count needed.
    if t.len() > 60 && t.chars().count() > 60 {
        std::borrow::Cow::Owned(format!("{}...", t.chars().take(57).collect::<String>()))
    } else {
        std::borrow::Cow::Borrowed(t)
    }
}

/// Append `s` as a table cell: `|` escaped, line breaks as spaces.
fn push_cell(out: &mut String, s: &str) {
    if memchr::memchr3(b'|', b'\n', b'\r', s.as_bytes()).is_none() {
        out.push_str(s);
        return;
    }
    for c in s.chars() {
        match c {
            '|' => out.push_str("\\|"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
}

/// Totals for the summary and per-lane tables.
#[derive(Debug, Default, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub struct Tally {
    pub total: usize,
    pub closed: usize,
    pub open: usize,
}

impl Tally {
    pub fn percent(&self) -> usize {
        (self.closed * 100 + self.total / 2).checked_div(self.total).unwrap_or(0)
    }

    /// The seed's lane percent: Python `round(100 * closed / total)` (ties to even).
    pub fn percent_half_even(&self) -> usize {
        if self.total == 0 {
            return 0;
        }
        python_round(100.0 * self.closed as f64 / self.total as f64, 0) as usize
    }

    #[cfg(test)]
    fn summary_row(&self) -> String {
        self.summary_row_in(PercentStyle::default())
    }

    fn summary_row_in(&self, style: PercentStyle) -> String {
        let (filled, pct) = if style.summary_decimal && self.total > 0 {
            // The seed: `round(100 * r / t, 1)`, bar `int(pct / 5)`.
            let tenths = python_round(100.0 * self.closed as f64 / self.total as f64, 1);
            ((tenths / 50) as usize, format!("{}.{}", tenths / 10, tenths % 10))
        } else {
            ((self.closed * 20).checked_div(self.total).unwrap_or(0), self.percent().to_string())
        };
        let filled = filled.min(20);
        let bar: String = "█".repeat(filled) + &"░".repeat(20 - filled);
        format!("| {} | {} | {} | [{bar}] {pct}% |", self.total, self.closed, self.open)
    }

    #[cfg(test)]
    fn lane_row(&self, lane: &str) -> String {
        self.lane_row_in(lane, PercentStyle::default())
    }

    fn lane_row_in(&self, lane: &str, style: PercentStyle) -> String {
        let pct = if style.lanes_half_even { self.percent_half_even() } else { self.percent() };
        let complete = if style.lanes_half_even { pct == 100 } else { pct >= 100 && self.open == 0 };
        let mark = if complete {
            "✅"
        } else if pct >= 80 {
            "🟡"
        } else {
            "🔴"
        };
        format!("| {lane} | {} | {} | {} | {mark} {pct}% |", self.total, self.closed, self.open)
    }
}

/// Totals over all issues and per lane (lanes with at least one issue).
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Counts {
    pub total: Tally,
    pub per_lane: BTreeMap<String, Tally>,
}

impl Counts {
    pub fn of(issues: &[Issue], lanes: &[String]) -> Counts {
        // Tallied by borrowed lane name (no copy), a run of one lane's issues at a time (they
        // are in lane order: one lookup per lane), then kept for the lanes asked for.
        let mut by_lane: BTreeMap<&str, Tally> = BTreeMap::new();
        for run in issues.chunk_by(|a, b| a.lane() == b.lane()) {
            let closed = run.iter().filter(|i| i.status().is_closed()).count();
            let tally = by_lane.entry(run[0].lane()).or_default();
            tally.total += run.len();
            tally.closed += closed;
            tally.open += run.len() - closed;
        }
        let wanted: BTreeSet<&str> = lanes.iter().map(String::as_str).collect();
        let mut c = Counts::default();
        for (lane, t) in by_lane.into_iter().filter(|(lane, _)| wanted.contains(lane)) {
            c.total.total += t.total;
            c.total.closed += t.closed;
            c.total.open += t.open;
            c.per_lane.insert(lane.to_string(), t);
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_numbers_are_written_as_format_writes_them() {
        for n in 0..=u8::MAX {
            let mut s = String::new();
            push_u8(&mut s, n);
            assert_eq!(s, n.to_string());
        }
    }

    #[test]
    fn tally_rows_follow_the_seed() {
        let t = Tally { total: 5, closed: 0, open: 5 };
        assert_eq!(t.summary_row(), "| 5 | 0 | 5 | [░░░░░░░░░░░░░░░░░░░░] 0% |");
        assert_eq!(t.lane_row("E"), "| E | 5 | 0 | 5 | 🔴 0% |");
        let t = Tally { total: 5, closed: 4, open: 1 };
        assert_eq!(t.summary_row(), "| 5 | 4 | 1 | [████████████████░░░░] 80% |");
        assert_eq!(t.lane_row("E"), "| E | 5 | 4 | 1 | 🟡 80% |");
        assert_eq!(Tally { total: 2, closed: 2, open: 0 }.lane_row("M"), "| M | 2 | 2 | 0 | ✅ 100% |");
        assert_eq!(truncate_title(&"x".repeat(61)), format!("{}...", "x".repeat(57)));
        assert_eq!(truncate_title(&"x".repeat(60)), "x".repeat(60));
    }

    #[test]
    fn seed_percent_style_one_decimal_and_half_even_lanes() {
        let seed = PercentStyle { summary_decimal: true, lanes_half_even: true };
        let t = Tally { total: 49, closed: 17, open: 32 };
        assert_eq!(t.summary_row_in(seed), "| 49 | 17 | 32 | [██████░░░░░░░░░░░░░░] 34.7% |");
        assert_eq!(Tally { total: 3, closed: 3, open: 0 }.summary_row_in(seed), "| 3 | 3 | 0 | [████████████████████] 100.0% |");
        assert_eq!(Tally { total: 3, closed: 0, open: 3 }.summary_row_in(seed), "| 3 | 0 | 3 | [░░░░░░░░░░░░░░░░░░░░] 0.0% |");
        assert_eq!(Tally::default().summary_row_in(seed), "| 0 | 0 | 0 | [░░░░░░░░░░░░░░░░░░░░] 0% |");
        let eighth = Tally { total: 8, closed: 1, open: 7 };
        assert_eq!(eighth.lane_row_in("E", seed), "| E | 8 | 1 | 7 | 🔴 12% |");
        assert_eq!(eighth.lane_row("E"), "| E | 8 | 1 | 7 | 🔴 13% |");
        assert_eq!(Tally { total: 8, closed: 3, open: 5 }.percent_half_even(), 38);
        // Python: round(12.25, 1) == 12.2, round(0.15, 1) == 0.1 (0.15 is below .15 in binary).
        assert_eq!(python_round(12.25, 1), 122);
        assert_eq!(python_round(0.15, 1), 1);
        assert_eq!(python_round(2.5, 0), 2);
        assert_eq!(python_round(3.5, 0), 4);
        assert_eq!(python_round(99.5, 0), 100);
    }

    #[test]
    fn meaning_not_percent_format_is_compared() {
        assert_eq!(row_counts("| 49 | 17 | 32 | [██████░░░░░░░░░░░░░░] 34.7% |", false), Some((String::new(), [49, 17, 32])));
        assert_eq!(row_counts("| E | 8 | 1 | 7 | 🔴 12% |", true), Some(("E".into(), [8, 1, 7])));
        let old = vec!["| E | 8 | 1 | 7 | 🔴 12% |".to_string(), "| M | 2 | 1 | 1 | 🔴 50% |".to_string()];
        let new = vec!["| E | 8 | 1 | 7 | 🔴 13% |".to_string(), "| M | 2 | 2 | 0 | ✅ 100% |".to_string()];
        assert_eq!(keep_same_counts(&old, &new), vec![old[0].clone(), new[1].clone()]);
        assert!(has_decimal_percent("[█] 34.7% |") && !has_decimal_percent("[█] 34% |"));
        assert_eq!(last_percent("| E | 8 | 1 | 7 | 🔴 12% |"), Some(12));
    }

    #[test]
    fn markers_and_odd_shapes() {
        assert_eq!(marker_lane("<!-- LANE_E_ISSUES -->"), Some("E"));
        assert_eq!(marker_lane("<!-- LANE_Data_2_ISSUES -->"), Some("Data_2"));
        let p = Path::new("C.md");
        let e = Catalog::parse(p, b"# Catalog\n\nno tables\n".to_vec()).unwrap_err();
        assert!(e.message.contains("no `## Open Issues by Lane`"));
        let e = Catalog::parse(p, b"## Summary\n\ntext\n\n<!-- LANE_E_ISSUES -->\n".to_vec()).unwrap_err();
        assert_eq!(e.line, 3);
        let e = Catalog::parse(p, b"| ID | x |\n| E-01 | y |\n<!-- LANE_E_ISSUES -->\n".to_vec()).unwrap_err();
        assert_eq!(e.line, 1);
        let e = Catalog::parse(p, b"| ID | x |\n|---|---|\n| not an id! | y |\n<!-- LANE_E_ISSUES -->\n".to_vec()).unwrap_err();
        assert_eq!(e.line, 3);
        let e = Catalog::parse(p, b"<!-- LANE_../x_ISSUES -->\n".to_vec()).unwrap_err();
        assert!(e.message.contains("lane marker"));
        let e = Catalog::parse(p, b"<!-- LANE_E_ISSUES -->\n<!-- LANE_E_ISSUES -->\n".to_vec()).unwrap_err();
        assert_eq!(e.line, 2);
    }

    #[test]
    fn queue_is_row_order() {
        let c = Catalog::parse(Path::new("C.md"), include_bytes!("../../tests/fixtures/seed/minimal_demo/SAF_ISSUE_CATALOG.md").to_vec())
            .unwrap();
        assert_eq!(c.lanes(), ["E", "M"]);
        assert_eq!(c.queue("E"), ["E-01", "E-02", "E-03"]);
    }
}
