//! End-to-end tests of the foundation commands (`init`, `status`, `new`, `validate`, `doctor`,
//! `sync`, `reset`, `signal`, `completions`, `man`) run as the binary against real temporary git
//! repositories: exit codes, what is written (and, as often, what is not), and how bad input is
//! reported.

use std::io::Read;
use std::path::PathBuf;
use std::process::Stdio;

use crate::common::{Change, TestRepo, is_generated_line, issue_text, json_of, line_diff, row, run, texts};
use serde_json::Value;

const CATALOG: &str = "SAF_ISSUE_CATALOG.md";

/// A hand-kept catalog: prose, comments and a table of its own around the generated regions;
/// no final newline.
const PROSE_CATALOG: &str = "# Issue Catalog

> **Team notes** - prose above the timestamp, kept as written.
> **Last Updated:** 2024-01-01 00:00:00

Intro paragraph with *markdown*, trailing spaces   
<!-- a hand comment that must survive -->

## Summary

| Total | Resolved | Open | Progress |
|-------|----------|------|----------|
| 0 | 0 | 0 | [░░░░░░░░░░░░░░░░░░░░] 0% |

Words under the summary table.

## Progress by Lane

| Lane | Total | Resolved | Open | % |
|------|-------|----------|------|---|

---

## Open Issues by Lane

### Lane E - Customer Services

Notes about lane E, above its table.

| ID | Title | Severity | Type Tags | Status |
|----|-------|----------|-----------|--------|
<!-- LANE_E_ISSUES -->

<!-- reviewer: keep this comment -->

### Lane M - Schema Drift

| ID | Title | Severity | Type Tags | Status |
|----|-------|----------|-----------|--------|
<!-- LANE_M_ISSUES -->

---

## Owners

| Owner | Area |
|-------|------|
| alice | customer services |

Trailing words without a final newline";

/// A repository with the prose catalog and issues E-01, E-02 (OPEN), M-01 (RESOLVED).
fn repo_with_catalog() -> TestRepo {
    let r = TestRepo::new();
    r.write(CATALOG, PROSE_CATALOG);
    r.issue("E-01", "E", "OPEN", "", "test -f README.md && echo PASS || echo FAIL\n");
    r.issue("E-02", "E", "OPEN", "", "test -f README.md && echo PASS || echo FAIL\n");
    r.issue("M-01", "M", "RESOLVED", "", "true\n");
    r.commit_all("catalog and issues");
    r
}

/// A repository whose catalog is in sync.
fn synced_repo() -> TestRepo {
    let r = repo_with_catalog();
    run(r.cmd().arg("sync"), 0);
    r.commit_all("synced");
    r
}

fn assert_only_generated_lines_changed(before: &str, after: &str) {
    let diff = line_diff(before, after);
    assert!(!diff.is_empty(), "nothing changed");
    for c in &diff {
        let (Change::Removed(l) | Change::Added(l)) = c;
        assert!(is_generated_line(l), "a non-generated line changed: {c:?}\nfull diff: {diff:#?}");
    }
}

// ---------------------------------------------------------------------------------------------
// sync

#[test]
fn sync_check_of_an_in_sync_catalog_exits_0_and_writes_nothing() {
    let r = synced_repo();
    let before = r.fingerprint(CATALOG);
    std::thread::sleep(std::time::Duration::from_millis(20));
    let (out, _) = run(r.cmd().args(["sync", "--check"]), 0);
    assert!(out.is_empty(), "{out}");
    let doc = json_of(r.cmd().args(["sync", "--check", "--json"]), 0);
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["in_sync"], true);
    assert_eq!(doc["written"], false);
    assert_eq!(doc["differences"], Value::Array(vec![]));
    assert_eq!(r.fingerprint(CATALOG), before);
}

#[test]
fn stale_catalog_check_exits_4_and_lists_each_difference_with_path_line() {
    let r = synced_repo();
    r.set_status("issues/E/E-01.md", "OPEN", "RESOLVED");
    r.issue("E-03", "E", "OPEN", "", "true\n");
    let before = r.fingerprint(CATALOG);

    let (out, err) = run(r.cmd().args(["sync", "--check"]), 4);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.len() >= 4, "summary, progress row, E-01 gone, E-03 missing:\n{out}");
    for l in &lines {
        let rest = l.strip_prefix(&format!("{CATALOG}:")).unwrap_or_else(|| panic!("no path: {l}"));
        let n: String = rest.chars().take_while(char::is_ascii_digit).collect();
        assert!(!n.is_empty() && rest[n.len()..].starts_with(": "), "no line number: {l}");
    }
    assert!(out.contains("E-01 is listed but is no longer open"), "{out}");
    assert!(out.contains("E-03 is open but not listed"), "{out}");
    assert!(err.contains("out of date") && err.contains("git lanes sync"), "{err}");

    let doc = json_of(r.cmd().args(["sync", "--check", "--json"]), 4);
    assert_eq!(doc["in_sync"], false);
    assert_eq!(doc["written"], false);
    let diffs = doc["differences"].as_array().unwrap();
    assert_eq!(diffs.len(), lines.len());
    assert!(diffs.iter().all(|d| d["line"].as_u64().unwrap() > 0 && d["message"].is_string()));
    // The line of the E-01 difference is the line E-01's row is on.
    let e01 = diffs.iter().find(|d| d["message"].as_str().unwrap().contains("E-01")).unwrap();
    let text = r.read(CATALOG);
    let row_line = 1 + text.lines().position(|l| l.starts_with("| E-01 |")).unwrap();
    assert_eq!(e01["line"].as_u64().unwrap() as usize, row_line);
    assert_eq!(r.fingerprint(CATALOG), before, "--check wrote the catalog");
}

#[test]
fn sync_keeps_prose_and_comments_byte_for_byte_and_a_second_sync_writes_nothing() {
    let r = repo_with_catalog();
    run(r.cmd().arg("sync"), 0);
    let after = r.read(CATALOG);
    assert_only_generated_lines_changed(PROSE_CATALOG, &after);
    assert!(after.ends_with("Trailing words without a final newline"), "final bytes changed");
    assert!(after.contains(&format!("{}\n{}\n<!-- LANE_E_ISSUES -->", row("E-01"), row("E-02"))), "{after}");
    assert!(after.contains("| 3 | 1 | 2 | [██████░░░░░░░░░░░░░░] 33% |"), "{after}");
    assert!(after.contains("| E | 2 | 0 | 2 | 🔴 0% |\n| M | 1 | 1 | 0 | ✅ 100% |\n"), "{after}");
    assert!(!after.contains("2024-01-01 00:00:00"), "the timestamp did not move although rows changed");

    let fp = r.fingerprint(CATALOG);
    std::thread::sleep(std::time::Duration::from_millis(20));
    run(r.cmd().arg("sync"), 0);
    assert_eq!(r.fingerprint(CATALOG), fp, "second sync rewrote the catalog (timestamp churn)");
}

#[test]
fn queue_order_is_kept_and_new_issues_are_appended_in_natural_id_order() {
    let r = TestRepo::new();
    for id in ["E-1", "E-2", "E-3", "E-10"] {
        r.issue(id, "E", "OPEN", "", "true\n");
    }
    // The queue: E-3 before E-1 (not natural order).
    let catalog = PROSE_CATALOG.replace(
        "|----|-------|----------|-----------|--------|\n<!-- LANE_E_ISSUES -->",
        &format!("|----|-------|----------|-----------|--------|\n{}\n{}\n<!-- LANE_E_ISSUES -->", row("E-3"), row("E-1")),
    );
    r.write(CATALOG, &catalog);
    run(r.cmd().arg("sync"), 0);
    let text = r.read(CATALOG);
    let ids: Vec<&str> = text.lines().filter(|l| l.starts_with("| E-")).map(|l| l.split('|').nth(1).unwrap().trim()).collect();
    assert_eq!(ids, ["E-3", "E-1", "E-2", "E-10"]);
    run(r.cmd().args(["sync", "--check"]), 0);
}

#[test]
fn a_lane_without_a_section_gets_heading_table_and_marker_for_any_lanes() {
    let r = TestRepo::new();
    // Lanes `Alpha` and `Data_2`, no lane `Z` anywhere; only Alpha has a section.
    let catalog = PROSE_CATALOG
        .replace("Lane E - Customer Services", "Lane Alpha - First")
        .replace("LANE_E_ISSUES", "LANE_Alpha_ISSUES")
        .replace("### Lane M - Schema Drift\n\n| ID | Title | Severity | Type Tags | Status |\n|----|-------|----------|-----------|--------|\n<!-- LANE_M_ISSUES -->\n", "");
    assert!(!catalog.contains("LANE_M"));
    r.write(CATALOG, &catalog);
    r.issue("Alpha-01", "Alpha", "OPEN", "", "true\n");
    r.issue("Data_2-01", "Data_2", "OPEN", "", "true\n");
    r.issue("Data_2-02", "Data_2", "OPEN", "", "true\n");

    let (out, _) = run(r.cmd().args(["sync", "--check"]), 4);
    assert!(out.contains("lane Data_2 has 2 open issue(s) but no section"), "{out}");
    run(r.cmd().arg("sync"), 0);
    let text = r.read(CATALOG);
    let section = format!(
        "### Lane Data_2 - Issues\n\n| ID | Title | Severity | Type Tags | Status |\n|----|-------|----------|-----------|--------|\n{}\n{}\n<!-- LANE_Data_2_ISSUES -->\n",
        row("Data_2-01"),
        row("Data_2-02")
    );
    assert!(text.contains(&section), "{text}");
    // The new section comes after the last lane section and before the prose that follows it.
    assert!(text.find("LANE_Alpha_ISSUES").unwrap() < text.find("### Lane Data_2").unwrap());
    assert!(text.find("<!-- LANE_Data_2_ISSUES -->").unwrap() < text.find("## Owners").unwrap());
    assert_only_generated_lines_changed_except_sections(&catalog, &text);
    run(r.cmd().args(["sync", "--check"]), 0);
}

/// Like [`assert_only_generated_lines_changed`], also allowing added lane sections.
fn assert_only_generated_lines_changed_except_sections(before: &str, after: &str) {
    for c in line_diff(before, after) {
        match &c {
            Change::Removed(l) => assert!(is_generated_line(l), "removed: {l:?}"),
            Change::Added(l) => {
                let ok = is_generated_line(l)
                    || l.trim().is_empty()
                    || l.starts_with("### Lane ")
                    || l.starts_with("| ID |")
                    || l.starts_with("|----|")
                    || l.starts_with("<!-- LANE_");
                assert!(ok, "added: {l:?}");
            }
        }
    }
}

#[test]
fn a_catalog_with_only_the_open_issues_heading_gets_a_section_per_lane() {
    let r = TestRepo::new();
    r.write(CATALOG, "# Catalog\n\n## Open Issues by Lane\n\nprose after the heading\n");
    r.issue("B-01", "B", "OPEN", "", "true\n");
    r.issue("A-01", "A", "OPEN", "", "true\n");
    run(r.cmd().arg("sync"), 0);
    let text = r.read(CATALOG);
    let a = text.find("<!-- LANE_A_ISSUES -->").expect("lane A marker");
    let b = text.find("<!-- LANE_B_ISSUES -->").expect("lane B marker");
    assert!(a < b, "{text}");
    assert!(text.ends_with("prose after the heading\n") || text.contains("prose after the heading\n"), "{text}");
    run(r.cmd().args(["sync", "--check"]), 0);
}

/// Each odd shape: (what to do to the synced catalog, the 1-based line the error must name).
fn odd_shapes(synced: &str) -> Vec<(&'static str, String, usize)> {
    let line_of = |needle: &str| 1 + synced.lines().position(|l| l.starts_with(needle)).unwrap();
    let mut v = Vec::new();
    // Missing separator row under a lane table's header.
    let sep = "|----|-------|----------|-----------|--------|\n";
    let first_sep = synced.find(sep).unwrap();
    let header_line = 1 + synced[..first_sep].matches('\n').count() - 1;
    v.push(("lane table without separator", format!("{}{}", &synced[..first_sep], &synced[first_sep + sep.len()..]), header_line));
    // A garbage row in a lane table.
    let e02 = line_of("| E-02 |");
    v.push((
        "garbage row in a lane table",
        synced.replacen(&format!("{}\n", row("E-02")), &format!("{}\n| not an id! | x | y | z | OPEN |\n", row("E-02")), 1),
        e02 + 1,
    ));
    // The summary table lost its separator.
    let summary_header = line_of("| Total | Resolved |");
    v.push(("summary table without separator", synced.replacen("|-------|----------|------|----------|\n", "", 1), summary_header + 1));
    // A second marker for the same lane.
    let m = line_of("<!-- LANE_M_ISSUES -->");
    v.push(("duplicate marker", synced.replacen("<!-- LANE_M_ISSUES -->", "<!-- LANE_M_ISSUES -->\n<!-- LANE_M_ISSUES -->", 1), m + 1));
    v
}

#[test]
fn odd_catalog_shapes_are_refused_with_path_line_and_nothing_is_written() {
    let r = synced_repo();
    let synced = r.read(CATALOG);
    r.set_status("issues/E/E-01.md", "OPEN", "RESOLVED"); // so a sync would have something to write
    for (what, text, line) in odd_shapes(&synced) {
        r.write(CATALOG, &text);
        let before = r.fingerprint(CATALOG);
        let (_, err) = run(r.cmd().arg("sync"), 1);
        assert!(err.contains(&format!("{CATALOG}:{line}:")), "{what}: expected {CATALOG}:{line} in:\n{err}");
        assert!(err.contains("hint:"), "{what}: {err}");
        assert_eq!(r.fingerprint(CATALOG), before, "{what}: the catalog was written");
        let (_, err) = run(r.cmd().args(["sync", "--check"]), 1);
        assert!(err.contains(&format!("{CATALOG}:{line}:")), "{what} (--check): {err}");
        // validate lists it too.
        let (out, _) = run(r.cmd().arg("validate"), 4);
        assert!(out.contains(&format!("{CATALOG}:{line}:")), "{what} (validate): {out}");
    }
}

#[test]
fn a_catalog_without_markers_or_lane_heading_is_refused_and_untouched() {
    let r = TestRepo::new();
    r.issue("E-01", "E", "OPEN", "", "true\n");
    let text = "# My catalog\n\nJust prose, no tables, no markers.\n";
    r.write(CATALOG, text);
    let before = r.fingerprint(CATALOG);
    let (_, err) = run(r.cmd().arg("sync"), 1);
    assert!(err.contains(&format!("{CATALOG}:1:")), "{err}");
    assert!(err.contains("Open Issues by Lane") && err.contains("hint:"), "{err}");
    assert_eq!(r.fingerprint(CATALOG), before);
    let err: Value = serde_json::from_slice(&r.cmd().args(["sync", "--json"]).output().unwrap().stderr).unwrap();
    assert_eq!(err["error"]["problems"][0]["line"], 1);
}

// ---------------------------------------------------------------------------------------------
// malformed issue files

const FIVE_MB: usize = 5 * 1024 * 1024;

/// (name, bytes of `issues/E/E-02.md`, the line the error must name; 0 = the whole file)
fn malformed() -> Vec<(&'static str, Vec<u8>, usize, &'static str)> {
    let good = issue_text("E-02", "E", "OPEN", "", "true\n");
    let mut huge = good.clone().into_bytes();
    huge.resize(FIVE_MB, b'x');
    let mut non_utf8 = good.clone().into_bytes();
    let at = good.find("Something").unwrap();
    non_utf8.splice(at..at, [0xff, 0xfe]);
    let non_utf8_line = 1 + good[..at].matches('\n').count();
    vec![
        // The parser notices the unclosed `[` of line 6 on line 7.
        ("bad YAML", good.replacen("type_tags: [\"docs\"]", "type_tags: [\"docs\"", 1).into_bytes(), 7, "invalid frontmatter"),
        ("missing status", good.replacen("status: \"OPEN\"\n", "", 1).into_bytes(), 2, "missing `status`"),
        (
            "conflict markers",
            good.replacen("severity: 5\n", "<<<<<<< HEAD\nseverity: 5\n=======\nseverity: 6\n>>>>>>> other\n", 1).into_bytes(),
            4,
            "conflict markers",
        ),
        ("non-UTF-8 bytes", non_utf8, non_utf8_line, "not valid UTF-8"),
        ("empty file", Vec::new(), 1, "empty"),
        ("5 MB file", huge, 0, "byte limit"),
    ]
}

#[test]
fn malformed_issue_files_get_a_path_line_error_no_panic_and_sync_writes_nothing() {
    let r = synced_repo();
    r.set_status("issues/E/E-01.md", "OPEN", "RESOLVED"); // so a sync would have something to write
    let catalog = r.fingerprint(CATALOG);
    for (what, bytes, line, words) in malformed() {
        r.write_bytes("issues/E/E-02.md", &bytes);
        let at = if line == 0 { "issues/E/E-02.md: ".to_string() } else { format!("issues/E/E-02.md:{line}: ") };
        for args in [&["sync"][..], &["sync", "--check"], &["status"], &["validate"], &["doctor"], &["new", "E", "x", "--no-sync"]] {
            let out = r.cmd().args(args).output().unwrap();
            let (o, e) = crate::common::texts(&out);
            assert!(!e.contains("panicked"), "{what} {args:?}: {e}");
            let code = out.status.code();
            match args[0] {
                "sync" => {
                    assert_eq!(code, Some(1), "{what} {args:?}: {o}{e}");
                    assert!(e.contains(&at) && e.contains(words), "{what} {args:?}: expected `{at}` / `{words}` in:\n{e}");
                    // No second, YAML-relative position contradicting the file line.
                    assert!(!e.contains(" column "), "{what} {args:?}: {e}");
                }
                "validate" => {
                    assert_eq!(code, Some(4), "{what} {args:?}: {o}{e}");
                    assert!(o.contains(&at) && o.contains(words), "{what} {args:?}: expected `{at}` in:\n{o}");
                }
                "status" => {
                    assert_eq!(code, Some(0), "{what} {args:?}: {e}");
                    assert!(o.contains("have problems"), "{what}: {o}");
                }
                // `new`: 5 when the broken file sits where the next id would go.
                _ => assert!(matches!(code, Some(0 | 1 | 4 | 5)), "{what} {args:?}: {code:?} {e}"),
            }
        }
        assert_eq!(r.fingerprint(CATALOG), catalog, "{what}: the catalog was written");
        // `new` must not have created E-03/E-04 from a workspace it could not read.
        for f in ["issues/E/E-03.md", "issues/E/E-04.md"] {
            if r.exists(f) {
                std::fs::remove_file(r.path(f)).unwrap();
            }
        }
    }
}

#[test]
fn crlf_and_bom_issue_files_work() {
    let r = synced_repo();
    let crlf = issue_text("E-03", "E", "OPEN", "", "true\n").replace('\n', "\r\n");
    r.write("issues/E/E-03.md", &crlf);
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice(issue_text("M-02", "M", "OPEN", "", "true\n").as_bytes());
    r.write_bytes("issues/M/M-02.md", &bom);
    run(r.cmd().arg("sync"), 0);
    let text = r.read(CATALOG);
    assert!(text.contains(&format!("{}\n<!-- LANE_E_ISSUES -->", row("E-03"))), "{text}");
    assert!(text.contains(&format!("{}\n<!-- LANE_M_ISSUES -->", row("M-02"))), "{text}");
    run(r.cmd().args(["sync", "--check"]), 0);
    let (out, _) = run(r.cmd().arg("validate"), 0);
    assert!(!out.contains("error:"), "{out}");
    // The issue files themselves are untouched.
    assert_eq!(r.read("issues/E/E-03.md"), crlf);
    assert_eq!(r.read_bytes("issues/M/M-02.md"), bom);
}

#[test]
fn a_crlf_catalog_stays_crlf() {
    let r = repo_with_catalog();
    let crlf = PROSE_CATALOG.replace('\n', "\r\n");
    r.write(CATALOG, &crlf);
    run(r.cmd().arg("sync"), 0);
    let after = r.read(CATALOG);
    assert!(!after.replace("\r\n", "").contains('\n'), "a bare LF was written into a CRLF catalog:\n{after:?}");
    assert_only_generated_lines_changed(&crlf, &after);
    run(r.cmd().args(["sync", "--check"]), 0);
}

// ---------------------------------------------------------------------------------------------
// duplicate ids, validate, doctor

#[test]
fn duplicate_ids_are_caught_by_validate_explained_by_doctor_and_fixed_by_doctor_fix() {
    let r = synced_repo();
    r.issue("E-03", "E", "OPEN", "", "true\n");
    // The same id in another lane's folder (two branches both created an E-02).
    r.write("issues/M/E-02.md", &issue_text("E-02", "M", "OPEN", "", "true\n"));
    let catalog = r.fingerprint(CATALOG);
    let (_, err) = run(r.cmd().arg("sync"), 1);
    assert!(err.contains("duplicate issue id E-02") && err.contains("git lanes doctor"), "{err}");
    assert_eq!(r.fingerprint(CATALOG), catalog, "sync wrote a catalog with a duplicate id");

    let (out, _) = run(r.cmd().arg("validate"), 4);
    assert!(out.contains("duplicate issue id E-02"), "{out}");
    assert!(out.contains("issues/M/E-02.md:2:") || out.contains("issues/E/E-02.md:2:"), "{out}");

    let before_e = r.read_bytes("issues/E/E-02.md");
    let (plan, _) = run(r.cmd().arg("doctor"), 4);
    let plan_lines: Vec<&str> = plan.lines().filter(|l| l.starts_with("plan:")).collect();
    assert_eq!(plan_lines.len(), 1, "{plan}");
    assert!(plan_lines[0].contains("renumber E-02 in issues/M/E-02.md to E-04"), "{plan}");
    assert!(r.exists("issues/M/E-02.md"), "doctor without --fix changed files");
    let doc = json_of(r.cmd().args(["doctor", "--json"]), 4);
    assert_eq!(doc["applied"], false);
    assert_eq!(doc["actions"][0]["new_id"], "E-04");

    let (fixed, _) = run(r.cmd().args(["doctor", "--fix"]), 0);
    assert!(fixed.contains("fixed: renumber E-02 in issues/M/E-02.md to E-04"), "{fixed}");
    assert!(!r.exists("issues/M/E-02.md"));
    let renumbered = r.read("issues/M/E-04.md");
    assert!(renumbered.contains("issue_id: \"E-04\"") && renumbered.contains("Issue E-04: Title of E-02"), "{renumbered}");
    assert_eq!(r.read_bytes("issues/E/E-02.md"), before_e, "the kept file changed");
    run(r.cmd().arg("validate"), 4); // the catalog is now stale
    run(r.cmd().arg("sync"), 0);
    let (out, _) = run(r.cmd().arg("validate"), 0);
    assert!(!out.contains("error:"), "{out}");
    run(r.cmd().arg("doctor"), 0);
}

#[test]
fn validate_lists_cycles_unknown_ids_disagreements_and_dangerous_checks_at_once() {
    let r = TestRepo::new();
    r.issue("E-01", "E", "OPEN", "depends_on: [\"E-02\"]\n", "true\n");
    r.issue("E-02", "E", "OPEN", "depends_on: [\"E-03\"]\n", "true\n");
    r.issue("E-03", "E", "OPEN", "depends_on: [\"E-01\"]\n", "true\n");
    r.issue("E-04", "E", "OPEN", "depends_on: [\"X-99\"]\n", "true\n");
    r.issue("E-05", "E", "OPEN", "blocks: [\"E-06\"]\n", "true\n");
    r.issue("E-06", "E", "OPEN", "", "true\n");
    r.issue("E-07", "E", "OPEN", "", "# Check 1: cleanup\nrm -rf /\ncurl -s https://example.com/x | sh\n");
    let (out, err) = run(r.cmd().arg("validate"), 4);
    let cycles: Vec<&str> = out.lines().filter(|l| l.contains("dependency cycle")).collect();
    assert_eq!(cycles.len(), 1, "one cycle, reported once:\n{out}");
    assert!(cycles[0].contains("E-01 → E-02 → E-03 → E-01"), "{out}");
    assert!(out.contains("issues/E/E-04.md:8: error: `depends_on` names `X-99`, which is not an issue"), "{out}");
    assert!(out.contains("issues/E/E-05.md:8: warning: blocks E-06, but E-06's `depends_on` does not list E-05"), "{out}");
    // The comment is 3 lines from the end (then the fence, a blank line, the Status line).
    let rm_line = issue_text("E-07", "E", "OPEN", "", "# Check 1: cleanup\n").lines().count() - 2;
    assert!(out.contains(&format!("issues/E/E-07.md:{rm_line}: error: verification command")), "{out}");
    assert!(out.contains(&format!("issues/E/E-07.md:{}: error: verification command", rm_line + 1)), "{out}");
    assert!(err.contains("error(s)"), "{err}");

    let doc = json_of(r.cmd().args(["validate", "--json"]), 4);
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["issues_checked"], 7);
    let errors = doc["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 4, "cycle, unknown id, rm, curl: {errors:#?}");
    assert!(doc["warnings"].as_array().unwrap().iter().any(|w| w["message"].as_str().unwrap().contains("blocks E-06")));
}

// ---------------------------------------------------------------------------------------------
// the seed's minimal demo

fn demo_repo() -> TestRepo {
    let r = TestRepo::new();
    r.copy_fixture("seed/minimal_demo", "examples/minimal_demo");
    r.commit_all("seed minimal demo");
    r
}

const DEMO_ARGS: [&str; 4] = ["--catalog", "examples/minimal_demo/SAF_ISSUE_CATALOG.md", "--issues", "examples/minimal_demo/issues"];

#[test]
fn seed_minimal_demo_syncs_with_flags_changing_only_generated_lines() {
    let r = demo_repo();
    let cat = "examples/minimal_demo/SAF_ISSUE_CATALOG.md";
    let original = r.read(cat);
    run(r.cmd().args(DEMO_ARGS).args(["sync", "--check"]), 0);
    run(r.cmd().args(DEMO_ARGS).args(["validate"]), 0);
    r.set_status("examples/minimal_demo/issues/E/E-01.md", "OPEN", "RESOLVED");
    run(r.cmd().args(DEMO_ARGS).args(["sync", "--check"]), 4);
    run(r.cmd().args(DEMO_ARGS).arg("sync"), 0);
    let after = r.read(cat);
    assert_only_generated_lines_changed(&original, &after);
    assert!(after.contains("| 5 | 1 | 4 | [████░░░░░░░░░░░░░░░░] 20% |"), "{after}");
    assert!(after.contains("| E | 3 | 1 | 2 | 🔴 33% |"), "{after}");
    assert!(!after.contains("| E-01 |"), "{after}");
    let doc = json_of(r.cmd().args(DEMO_ARGS).args(["status", "--json"]), 0);
    assert_eq!((doc["total"].as_u64(), doc["resolved"].as_u64(), doc["open"].as_u64()), (Some(5), Some(1), Some(4)));
}

#[test]
fn seed_minimal_demo_syncs_through_lanes_yaml() {
    let r = demo_repo();
    r.write("lanes.yaml", "catalog: examples/minimal_demo/SAF_ISSUE_CATALOG.md\nissues: examples/minimal_demo/issues\n");
    let cat = "examples/minimal_demo/SAF_ISSUE_CATALOG.md";
    let original = r.read(cat);
    run(r.cmd().args(["sync", "--check"]), 0);
    r.set_status("examples/minimal_demo/issues/M/M-02.md", "OPEN", "RESOLVED");
    run(r.cmd().arg("sync"), 0);
    let after = r.read(cat);
    assert_only_generated_lines_changed(&original, &after);
    assert!(after.contains("| M | 2 | 1 | 1 | 🔴 50% |"), "{after}");
    assert!(!r.exists(CATALOG), "a root catalog was created");
}

// ---------------------------------------------------------------------------------------------
// init, new

const INIT_FILES: &[&str] = &[
    CATALOG,
    "issues/E/.gitkeep",
    "issues/M/.gitkeep",
    ".claude/agents/issue-fixers/IF-Lane-E.md",
    ".claude/agents/issue-fixers/IF-Lane-M.md",
    ".claude/agents/issue-hunters/IH-Lane-E.md",
    ".claude/agents/issue-hunters/IH-Lane-M.md",
    "LogBook/issue-fixing/signals/.gitkeep",
    "LogBook/issue-hunting/signals/.gitkeep",
    "LogBook/issue-fixing/runs/.gitkeep",
    "LogBook/verification/evidence/.gitkeep",
    ".gitignore",
];

#[test]
fn init_yes_scaffolds_and_never_overwrites() {
    let r = TestRepo::new();
    let spec = "---\nname: mine\n---\nmy own spec, not a template\n";
    r.write(".claude/agents/issue-fixers/IF-Lane-E.md", spec);
    r.write(".gitignore", "target/\n*.log");
    // A spec for E alone would make init adopt just lane E: ask for both lanes.
    let (out, _) = run(r.cmd().args(["init", "--yes", "--lane", "E", "--lane", "M"]), 0);
    for f in INIT_FILES {
        assert!(r.exists(f), "{f} missing; init said:\n{out}");
    }
    assert!(out.contains("kept     .claude/agents/issue-fixers/IF-Lane-E.md"), "{out}");
    assert!(out.contains("appended .gitignore"), "{out}");
    assert_eq!(r.read(".claude/agents/issue-fixers/IF-Lane-E.md"), spec);
    let gi = r.read(".gitignore");
    assert!(gi.starts_with("target/\n*.log\n"), "{gi:?}");
    assert!(gi.contains("/LogBook/issue-fixing/signals/*.status\n") && gi.contains("/LogBook/issue-fixing/signals/*.done\n"), "{gi}");
    let catalog = r.read(CATALOG);
    assert!(catalog.contains("<!-- LANE_E_ISSUES -->") && catalog.contains("<!-- LANE_M_ISSUES -->"), "{catalog}");
    assert!(r.read(".claude/agents/issue-fixers/IF-Lane-M.md").starts_with("---\nname: IF-Lane-M\n"));
    // The scaffold is consistent: sync has nothing to do, validate finds no error.
    run(r.cmd().args(["sync", "--check"]), 0);
    run(r.cmd().arg("validate"), 0);

    let before: Vec<_> = INIT_FILES.iter().map(|f| r.fingerprint(f)).collect();
    let (out, _) = run(r.cmd().args(["init", "--yes"]), 0);
    assert!(out.lines().all(|l| l.starts_with("kept")), "second init changed something:\n{out}");
    let after: Vec<_> = INIT_FILES.iter().map(|f| r.fingerprint(f)).collect();
    assert_eq!(before, after, "second init rewrote a file");
}

#[test]
fn init_without_a_terminal_never_prompts() {
    let r = TestRepo::new();
    // No --yes, stdin is not a terminal (and is closed): defaults are used at once.
    let (out, _) = run(r.cmd().args(["init", "--lane", "Data_2=Data pipelines"]).write_stdin(""), 0);
    assert!(out.contains("created  SAF_ISSUE_CATALOG.md"), "{out}");
    assert!(r.read(CATALOG).contains("### Lane Data_2 - Data pipelines"));
    let (_, err) = run(r.cmd().args(["init", "--lane", "../x"]), 2);
    assert!(err.contains("../x"), "{err}");
    assert!(!r.outside().join("x").exists() && !r.exists("issues/../x"));
}

#[test]
fn new_creates_the_next_id_with_frontmatter_and_syncs_the_catalog() {
    let r = synced_repo();
    r.issue("E-03", "E", "RESOLVED", "", "true\n");
    run(r.cmd().arg("sync"), 0);
    let (out, _) = run(r.cmd().args(["new", "E", "Retention", "policy", "missing", "--severity", "7", "--tag", "policy,compliance"]), 0);
    assert_eq!(out.trim(), "issues/E/E-04.md");
    let text = r.read("issues/E/E-04.md");
    for want in [
        "issue_id: \"E-04\"\n",
        "lane: \"E\"\n",
        "severity: 7\n",
        "severity_level: \"HIGH\"\n",
        "type_tags: [\"policy\", \"compliance\"]\n",
        "status: \"OPEN\"\n",
        "# [LANE E] Issue E-04: Retention policy missing\n",
        "- **Status:** OPEN\n",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    let catalog = r.read(CATALOG);
    assert!(
        catalog.contains("| E-04 | Retention policy missing | 7/10 HIGH | policy, compliance | OPEN |\n<!-- LANE_E_ISSUES -->"),
        "{catalog}"
    );
    run(r.cmd().args(["sync", "--check"]), 0);
    let doc = json_of(r.cmd().args(["new", "M", "Schema", "--json"]), 0);
    assert_eq!(doc["id"], "M-02");
    assert_eq!(doc["catalog_synced"], true);
}

#[test]
fn new_refuses_a_lane_that_escapes_the_repository() {
    let r = synced_repo();
    let outside_before: Vec<_> = std::fs::read_dir(r.outside()).unwrap().map(|e| e.unwrap().file_name()).collect();
    for lane in ["../x", "a/b", "/tmp/x", ""] {
        let (_, err) = run(r.cmd().args(["new", lane, "title"]), 2);
        assert!(err.contains("lane name"), "{lane}: {err}");
    }
    let outside_after: Vec<_> = std::fs::read_dir(r.outside()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(outside_before, outside_after);
    assert!(!r.exists("x") && !r.exists("issues/a"));
    assert_eq!(r.git(&["status", "--porcelain"]), "");
}

// ---------------------------------------------------------------------------------------------
// status, opening the repository, JSON errors

fn assert_status_totals(doc: &Value, total: u64, resolved: u64, open: u64) {
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["total"], total, "{doc:#}");
    assert_eq!(doc["resolved"], resolved, "{doc:#}");
    assert_eq!(doc["open"], open, "{doc:#}");
}

#[test]
fn status_prints_totals_and_lanes() {
    let r = synced_repo();
    let (out, _) = run(r.cmd().arg("status"), 0);
    assert!(out.starts_with("SAF_ISSUE_CATALOG.md: 3 issues, 1 resolved, 2 open (33%)\n"), "{out}");
    assert!(out.lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == ["E", "2", "0", "2", "-"]), "{out}");
    assert!(out.lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == ["M", "0", "1", "1", "-"]), "{out}");
    assert!(out.contains("last run: none"), "{out}");
    let doc = json_of(r.cmd().args(["status", "--json"]), 0);
    assert_status_totals(&doc, 3, 1, 2);
    assert_eq!(doc["percent"], 33);
    let lanes = doc["lanes"].as_array().unwrap();
    assert_eq!(lanes.len(), 2);
    assert_eq!(lanes[0]["lane"], "E");
    assert_eq!((lanes[0]["total"].as_u64(), lanes[0]["resolved"].as_u64(), lanes[0]["open"].as_u64()), (Some(2), Some(0), Some(2)));
    assert_eq!(lanes[1]["lane"], "M");
    assert_eq!(lanes[1]["resolved"], 1);
}

#[test]
fn the_repository_is_found_from_a_subdirectory_a_worktree_git_dir_and_repo_flag() {
    let r = synced_repo();
    // A subdirectory.
    std::fs::create_dir_all(r.path("src/deep/er")).unwrap();
    assert_status_totals(&json_of(r.cmd_in(&r.path("src/deep/er")).args(["status", "--json"]), 0), 3, 1, 2);
    assert_status_totals(&json_of(r.cmd_in(&r.path("issues/E")).args(["status", "--json"]), 0), 3, 1, 2);
    // A linked worktree sees its own checkout, not the main worktree's files.
    r.git(&["worktree", "add", "-q", "-b", "lane-e", "../wt"]);
    let wt = r.outside().join("wt");
    std::fs::write(wt.join("issues/E/E-03.md"), issue_text("E-03", "E", "OPEN", "", "true\n")).unwrap();
    assert_status_totals(&json_of(r.cmd_in(&wt).args(["status", "--json"]), 0), 4, 1, 3);
    std::fs::create_dir_all(wt.join("sub")).unwrap();
    assert_status_totals(&json_of(r.cmd_in(&wt.join("sub")).args(["status", "--json"]), 0), 4, 1, 3);
    run(r.cmd_in(&wt).args(["sync"]), 0);
    assert!(std::fs::read_to_string(wt.join(CATALOG)).unwrap().contains("| E-03 |"));
    assert!(!r.read(CATALOG).contains("| E-03 |"), "sync in the worktree wrote the main catalog");
    assert_status_totals(&json_of(r.cmd().args(["status", "--json"]), 0), 3, 1, 2);
    // GIT_DIR + GIT_WORK_TREE, started outside.
    let doc = json_of(r.cmd_in(&r.outside()).env("GIT_DIR", r.path(".git")).env("GIT_WORK_TREE", r.root()).args(["status", "--json"]), 0);
    assert_status_totals(&doc, 3, 1, 2);
    // --repo, started outside (also pointing into a subdirectory).
    assert_status_totals(&json_of(r.cmd_in(&r.outside()).arg("--repo").arg(r.root()).args(["status", "--json"]), 0), 3, 1, 2);
    assert_status_totals(&json_of(r.cmd_in(&r.outside()).arg("--repo").arg(r.path("issues")).args(["status", "--json"]), 0), 3, 1, 2);
    assert_status_totals(&json_of(r.cmd_in(&r.outside()).args(["status", "--json", "--repo"]).arg(&wt), 0), 4, 1, 3);
}

#[test]
fn outside_any_repository_exits_2_with_a_hint() {
    let r = TestRepo::new();
    let (out, err) = run(r.cmd_in(&r.outside()).arg("status"), 2);
    assert!(out.is_empty());
    assert!(err.contains("not a git repository") && err.contains("hint:") && err.contains("--repo"), "{err}");
    let (_, err) = run(r.cmd_in(&r.outside()).args(["status", "--repo"]).arg(r.outside().join("nope")), 2);
    assert!(err.contains("not a git repository"), "{err}");
}

#[test]
fn json_errors_go_to_stderr_as_json_and_stdout_stays_empty() {
    let r = TestRepo::new();
    let cases: Vec<(Vec<&str>, PathBuf, i32)> = vec![
        (vec!["status", "--json"], r.outside(), 2),
        (vec!["sync", "--json"], r.root().to_path_buf(), 5), // no catalog: state
        (vec!["new", "../x", "t", "--json"], r.root().to_path_buf(), 2),
    ];
    for (args, dir, code) in cases {
        let out = r.cmd_in(&dir).args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(code), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(out.stdout.is_empty(), "{args:?}: stdout {:?}", String::from_utf8_lossy(&out.stdout));
        let doc: Value = serde_json::from_slice(&out.stderr)
            .unwrap_or_else(|e| panic!("{args:?}: stderr is not JSON ({e}): {}", String::from_utf8_lossy(&out.stderr)));
        assert_eq!(doc["schema_version"], 1);
        assert_eq!(doc["error"]["exit_code"], code);
        assert!(!doc["error"]["message"].as_str().unwrap().is_empty());
    }
    // A malformed issue: the problem with its path and line is in the JSON.
    r.write(CATALOG, PROSE_CATALOG);
    r.write("issues/E/E-01.md", "---\nissue_id: E-01\nlane: E\n---\n");
    let out = r.cmd().args(["sync", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let doc: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(doc["error"]["problems"][0]["path"], "issues/E/E-01.md");
    assert_eq!(doc["error"]["problems"][0]["line"], 2);
}

// ---------------------------------------------------------------------------------------------
// reset, signal

const SIGNALS: &str = "LogBook/issue-fixing/signals";
const STATE: &str = "LogBook/issue-fixing/orchestrator-state.yaml";

#[test]
fn reset_clears_signal_files_and_writes_a_fresh_state_file() {
    let r = TestRepo::new();
    r.write(&format!("{SIGNALS}/E.status"), "COMPLETE: fixed 2\n");
    r.write(&format!("{SIGNALS}/E.done"), "");
    r.write(&format!("{SIGNALS}/M.status"), "WORKING\r\n");
    r.write(&format!("{SIGNALS}/.gitkeep"), "");
    r.write(&format!("{SIGNALS}/notes.txt"), "not a signal\n");
    r.write(STATE, "run_id: \"20260101_000000\"\nstatus: running\nlanes:\n  E:\n    status: working\n");
    let doc = json_of(r.cmd().args(["reset", "--json"]), 0);
    assert_eq!(doc["signals_removed"], 3);
    let mut left: Vec<String> =
        std::fs::read_dir(r.path(SIGNALS)).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    left.sort();
    assert_eq!(left, [".gitkeep", "notes.txt"]);
    let state = r.read(STATE);
    assert!(!state.contains("20260101_000000") && !state.contains("running"), "{state}");
    assert!(state.contains("status: idle"), "a fresh state is idle:\n{state}");
    // The fresh state reads back: status shows no last run.
    let (out, _) = run(r.cmd().arg("status"), 0);
    assert!(out.contains("last run: none"), "{out}");
    run(r.cmd().arg("reset"), 0);
}

#[test]
fn signal_writes_status_and_done_atomically_from_the_environment() {
    let r = TestRepo::new();
    let dir = r.outside().join("sig");
    let sig = |args: &[&str]| {
        let mut c = r.cmd();
        c.env("LANES_LANE", "E").env("LANES_SIGNAL_DIR", &dir).arg("signal").args(args);
        c
    };
    run(&mut sig(&["status", "STARTING"]), 0);
    assert_eq!(std::fs::read_to_string(dir.join("E.status")).unwrap(), "STARTING\n");
    run(&mut sig(&["status", "NORMAL: x"]), 0);
    assert_eq!(std::fs::read_to_string(dir.join("E.status")).unwrap(), "NORMAL: x\n");
    run(&mut sig(&["status", "COMPLEX:", "E-07", "(HIGH - 8 files)"]), 0);
    assert_eq!(std::fs::read_to_string(dir.join("E.status")).unwrap(), "COMPLEX: E-07 (HIGH - 8 files)\n");
    assert!(!dir.join("E.done").exists());
    run(&mut sig(&["done"]), 0);
    assert!(dir.join("E.done").exists());
    let mut names: Vec<String> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(names, ["E.done", "E.status"], "temp files left behind");
    // Without LANES_SIGNAL_DIR: the repository's configured folder; status shows the signal.
    r.issue("M-01", "M", "OPEN", "", "true\n");
    run(r.cmd().env("LANES_LANE", "M").args(["signal", "status", "WORKING: M-01"]), 0);
    assert_eq!(r.read(&format!("{SIGNALS}/M.status")), "WORKING: M-01\n");
    let (out, _) = run(r.cmd().arg("status"), 0);
    assert!(out.contains("M WORKING: M-01"), "{out}");
}

#[test]
fn signal_refuses_a_lane_that_escapes() {
    let r = TestRepo::new();
    let dir = r.outside().join("sig");
    for lane in ["../x", "a/b", ""] {
        let (_, err) = run(r.cmd().env("LANES_LANE", lane).env("LANES_SIGNAL_DIR", &dir).args(["signal", "status", "NORMAL: x"]), 2);
        assert!(err.contains("lane"), "{lane}: {err}");
        run(r.cmd().env("LANES_SIGNAL_DIR", &dir).args(["signal", "--lane", lane, "done"]), 2);
    }
    assert!(!dir.exists(), "the signal folder was created");
    assert!(!r.outside().join("x.status").exists() && !r.outside().join("x.done").exists());
    // No lane at all is a usage error too.
    run(r.cmd().env("LANES_SIGNAL_DIR", &dir).args(["signal", "done"]), 2);
}

// ---------------------------------------------------------------------------------------------
// completions, man, broken pipe, usage errors

#[test]
fn completions_and_man_page() {
    let r = TestRepo::new();
    let (out, _) = run(r.cmd().args(["completions", "bash"]), 0);
    assert!(out.contains("complete -F _git__lanes") && out.contains("_git__lanes()"), "{}", &out[..out.len().min(400)]);
    assert!(out.contains("sync") && out.contains("--check"));
    let (out, _) = run(r.cmd().args(["completions", "zsh"]), 0);
    assert!(out.starts_with("#compdef git-lanes"), "{}", &out[..out.len().min(200)]);
    let (out, _) = run(r.cmd().arg("man"), 0);
    // roff: requests only (clap_mangen's `.ie`/`.el` quote-string preamble) up to the `.TH` title.
    let th = out.lines().position(|l| l.starts_with(".TH git-lanes ")).unwrap_or_else(|| panic!("no .TH: {}", &out[..out.len().min(300)]));
    assert!(out.lines().take(th).all(|l| l.starts_with('.')), "{}", &out[..out.len().min(300)]);
    assert!(out.contains("git\\-lanes") || out.contains("git-lanes"));
    // Neither needs a repository.
    run(r.cmd_in(&r.outside()).args(["completions", "fish"]), 0);
    run(r.cmd_in(&r.outside()).arg("man"), 0);
}

/// Start the binary with stdout piped, close the read end at once (or after one byte, like
/// `| head -c 1`), and return its exit code and stderr.
fn with_closed_stdout(r: &TestRepo, args: &[&str], read_one: bool) -> (Option<i32>, String) {
    #[allow(clippy::disallowed_methods)] // spawning the binary under test
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("git-lanes"))
        .args(args)
        .current_dir(r.root())
        .env_clear()
        .envs(r.env())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    if read_one {
        let mut b = [0u8; 1];
        let _ = stdout.read(&mut b);
    }
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn a_closed_stdout_exits_0_without_a_panic() {
    let r = synced_repo();
    // Enough lanes that status writes more than one pipe buffer after the first byte is read.
    for k in 0..300 {
        r.write(&format!("issues/L{k}/.gitkeep"), "");
    }
    for args in [&["status"][..], &["status", "--json"], &["validate"], &["man"], &["completions", "bash"], &["sync", "--check"]] {
        for read_one in [false, true] {
            let (code, err) = with_closed_stdout(&r, args, read_one);
            assert!(!err.contains("panicked"), "{args:?}: {err}");
            assert!(matches!(code, Some(0 | 4)), "{args:?} (read_one {read_one}): exit {code:?}\n{err}");
            assert!(!err.contains("Broken pipe") && !err.contains("could not write"), "{args:?}: {err}");
        }
    }
}

#[test]
fn usage_errors_exit_2() {
    let r = TestRepo::new();
    for args in
        [&["frobnicate"][..], &["sync", "--bogus"], &["new", "E"], &["new", "E", "t", "--severity", "11"], &["completions", "tcsh"], &[]]
    {
        let (out, err) = run(r.cmd().args(args), 2);
        assert!(out.is_empty(), "{args:?}: {out}");
        assert!(err.contains("error:") || err.starts_with("Run many"), "{args:?}: {err}");
    }
    // --help and --version are not errors.
    run(r.cmd().arg("--version"), 0);
    run(r.cmd().args(["sync", "--help"]), 0);
}

// ---------------------------------------------------------------------------------------------
// exit codes by kind (docs/formats.md#exit-codes)

/// Run with `--json`; assert the exit code, that stdout is empty and that the JSON error on
/// stderr names `kind` and the same code; return the error object.
fn json_error(cmd: &mut assert_cmd::Command, code: i32, kind: &str) -> Value {
    let out = cmd.arg("--json").output().unwrap();
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(code), "stdout:\n{o}\nstderr:\n{e}");
    assert!(o.is_empty(), "{o}");
    let doc: Value = serde_json::from_str(&e).unwrap_or_else(|err| panic!("stderr is not JSON ({err}): {e}"));
    assert_eq!((doc["error"]["kind"].as_str(), doc["error"]["exit_code"].as_i64()), (Some(kind), Some(code as i64)), "{doc}");
    doc["error"].clone()
}

#[test]
fn a_usage_error_exits_2_with_kind_usage() {
    let r = synced_repo();
    let (_, err) = run(r.cmd().args(["verify", "E-01", "--all"]), 2);
    assert!(err.contains("error:"), "{err}");
    json_error(r.cmd().args(["verify", "E-99"]), 2, "usage");
}

#[test]
fn an_input_error_exits_1_with_path_line() {
    let r = synced_repo();
    r.write("issues/E/E-01.md", "---\nissue_id: E-01\nlane: E\nstatus: BOGUS\n---\n");
    let (_, err) = run(r.cmd().arg("sync"), 1);
    assert!(err.contains("issues/E/E-01.md:4:"), "{err}");
    let e = json_error(r.cmd().arg("sync"), 1, "input");
    assert_eq!((e["problems"][0]["path"].as_str(), e["problems"][0]["line"].as_u64()), (Some("issues/E/E-01.md"), Some(4)), "{e}");
}

#[test]
fn a_state_error_exits_5_with_kind_state() {
    let r = synced_repo();
    // Nothing to resume.
    let (_, err) = run(r.cmd().args(["run", "--resume"]), 5);
    assert!(err.contains("there is no interrupted run to resume") && err.contains("hint:"), "{err}");
    json_error(r.cmd().args(["run", "--resume"]), 5, "state");
    // No set-up at all.
    let bare = TestRepo::new();
    let (_, err) = run(bare.cmd().arg("status"), 5);
    assert!(err.contains("no git-lanes set-up") && err.contains("git lanes init"), "{err}");
    // A run holds the lock (an exclusive lock on `.git/lanes/lock`, as a run takes it): `reset`
    // will not clear what it is using.
    let lock = r.root().join(".git/lanes/lock");
    std::fs::create_dir_all(lock.parent().unwrap()).unwrap();
    std::fs::write(&lock, "pid: 1\nrun_id: R1\n").unwrap();
    let held = std::fs::File::open(&lock).unwrap();
    held.lock().unwrap();
    let e = json_error(r.cmd().arg("reset"), 5, "state");
    assert!(e["message"].as_str().unwrap().contains("a run is in progress"), "{e}");
    drop(held);
}

#[test]
fn a_git_failure_exits_6_with_kind_git() {
    let r = synced_repo();
    // A repository git cannot read: its configuration is garbage.
    std::fs::write(r.root().join(".git/config"), "[core\nbroken = = =\n").unwrap();
    let e = json_error(r.cmd().arg("status"), 6, "git");
    assert!(e["message"].as_str().unwrap().contains("config"), "{e}");
}

/// Whatever text a lane description, title, tag or path holds, what `init` and `new` write reads
/// back as that text: every spec and issue file parses, with the values given.
#[test]
fn init_and_new_write_yaml_that_reads_back_whatever_the_text() {
    use git_lanes::files::issue::Issue;
    use git_lanes::files::spec::AgentSpec;
    let r = TestRepo::new();
    let hostile = "Quotes \"double\" and 'single' #not-a-comment: [x] {y} & *z";
    run(r.cmd().args(["init", "--yes", "--lane", "E=Billing: invoices", "--lane", &format!("M={hostile}")]), 0);
    let (out, err) = run(r.cmd().arg("validate"), 0);
    assert!(!out.contains("error:") && !err.contains("error:"), "{out}{err}");
    for (lane, desc) in [("E", "Billing: invoices"), ("M", hostile)] {
        for (dir, kind) in [("issue-fixers", "IF"), ("issue-hunters", "IH")] {
            let rel = PathBuf::from(format!(".claude/agents/{dir}/{kind}-Lane-{lane}.md"));
            let spec = AgentSpec::parse(&rel, lane, r.read(rel.to_str().unwrap()).into_bytes())
                .unwrap_or_else(|p| panic!("{} does not parse: {}", rel.display(), p.message));
            let d = spec.description.unwrap();
            assert!(d.contains(&format!("Lane {lane} - {desc}")), "{d}");
        }
    }
    assert!(r.read(CATALOG).contains("### Lane E - Billing: invoices"));
    let title = "Totals: wrong when \"net\" is 'gross' #1";
    let (out, err) = run(
        r.cmd().args([
            "new",
            "E",
            title,
            "--tag",
            "a: b",
            "--path",
            "src/a: b.py",
            "--check",
            "grep -q 'x: y' src/a.py && echo PASS || echo FAIL",
        ]),
        0,
    );
    assert!(!err.contains("not synced"), "{err}");
    let rel = PathBuf::from(out.trim());
    let issue = Issue::parse(&rel, r.read(out.trim()).into_bytes()).unwrap_or_else(|p| panic!("new issue does not parse: {}", p.message));
    assert_eq!(issue.title, title);
    assert_eq!(issue.meta.affected_paths, vec!["src/a: b.py".to_string()]);
    assert_eq!(issue.meta.type_tags, vec!["a: b".to_string()]);
    run(r.cmd().arg("validate"), 0);
}

/// A spec that does not parse is reported where it breaks, with the parser's message — fixer or
/// hunter spec — and never as a missing spec.
#[test]
fn validate_reports_broken_fixer_and_hunter_specs_where_they_break() {
    let r = TestRepo::new();
    run(r.cmd().args(["init", "--yes", "--lane", "E"]), 0);
    run(r.cmd().args(["new", "E", "something", "--check", "true"]), 0);
    let broken = "---\nname: IF-Lane-E\ndescription: Billing: invoices\n---\nbody\n";
    r.write(".claude/agents/issue-fixers/IF-Lane-E.md", broken);
    r.write(".claude/agents/issue-hunters/IH-Lane-E.md", &broken.replace("IF-", "IH-"));
    let (out, err) = run(r.cmd().arg("validate"), 4);
    let text = format!("{out}{err}");
    assert!(text.contains(".claude/agents/issue-fixers/IF-Lane-E.md:3:"), "{text}");
    assert!(text.contains(".claude/agents/issue-hunters/IH-Lane-E.md:3:"), "{text}");
    assert!(text.contains("mapping values are not allowed"), "the parser's message is missing:\n{text}");
    assert!(!text.contains("no fixer spec"), "a broken spec is reported as missing:\n{text}");
    // `new` names the broken file instead of blaming the issue files.
    let (_, err) = run(r.cmd().args(["new", "E", "another"]), 0);
    assert!(err.contains("IF-Lane-E.md:3"), "{err}");
}

/// One list of presets feeds every place that names them: `--help` and the `lanes.yaml` comment
/// `init` writes.
#[test]
fn every_place_that_names_the_presets_names_them_all() {
    use git_lanes::agents::presets::Preset;
    let list = Preset::NAMES.join(", ");
    let r = TestRepo::new();
    run(r.cmd().args(["init", "--yes", "--lane", "E", "--config"]), 0);
    let yaml = r.read("lanes.yaml");
    assert!(yaml.contains(&format!("a preset ({list})")), "{yaml}");
    for cmd in ["run", "hunt"] {
        let (help, _) = run(r.cmd().args([cmd, "--help"]), 0);
        let flat = help.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(flat.contains(&format!("a preset ({list})")), "{cmd} --help:\n{help}");
    }
    for (p, name) in Preset::ALL.iter().zip(Preset::NAMES) {
        assert_eq!(p.name(), name);
    }
}
