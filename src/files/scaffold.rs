//! Files `init` and `new` write: the catalog, folders, agent-spec templates, `.gitignore` lines,
//! and new issue files. Nothing here overwrites an existing file.

use std::path::{Path, PathBuf};

use crate::base::error::{Error, Result};
use crate::base::fsutil;
use crate::files::catalog;
use crate::files::config::{CONFIG_FILE, Config};
use crate::files::names;
use crate::files::signal;
use crate::files::workspace::Workspace;
use crate::files::yaml;

/// What `init` did with one path.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PathAction {
    pub path: PathBuf,
    /// `created`, `kept` (already there, untouched), `appended` (.gitignore lines added).
    pub what: &'static str,
}

/// Options for `init`.
#[derive(Debug, Clone)]
pub struct InitOptions {
    /// Lanes with their descriptions.
    pub lanes: Vec<(String, String)>,
    pub catalog_title: String,
    pub write_config: bool,
    /// The worker presets, as `lanes.yaml`'s comment lists them (`script, claude, …`).
    pub worker_presets: String,
}

/// Scaffold a repository for git-lanes under `root`.
pub fn init(root: &Path, config: &Config, opts: &InitOptions) -> Result<Vec<PathAction>> {
    for (lane, _) in &opts.lanes {
        names::check_lane(lane)
            .map_err(|m| Error::usage(m, Some("lane names are 1-32 letters, digits, `_` or `-`, starting with a letter".into())))?;
    }
    let now = now_stamp();
    let mut out = Vec::new();
    let mut file = |rel: PathBuf, content: String| -> Result<()> {
        let created = fsutil::create_new(&root.join(&rel), content.as_bytes())?;
        out.push(PathAction { path: rel, what: if created { "created" } else { "kept" } });
        Ok(())
    };
    if opts.write_config {
        file(CONFIG_FILE.into(), config_template(&opts.worker_presets))?;
    }
    let lanes: Vec<(String, String)> = opts.lanes.iter().map(|(l, d)| (l.clone(), one_line(d))).collect();
    file(config.catalog.clone(), catalog::fresh(&opts.catalog_title, &lanes, &now))?;
    for (lane, desc) in &lanes {
        file(config.issues.join(lane).join(".gitkeep"), String::new())?;
        file(config.fixer_specs.join(format!("IF-Lane-{lane}.md")), fixer_spec(lane, desc))?;
        file(config.hunter_specs.join(format!("IH-Lane-{lane}.md")), hunter_spec(lane, desc))?;
    }
    let hunt_signals = config.hunting().signals;
    for dir in [&config.signals, &hunt_signals, &config.runs, &config.evidence] {
        file(dir.join(".gitkeep"), String::new())?;
    }
    out.push(ensure_gitignore(root, &signal::ignore_lines(config))?);
    Ok(out)
}

/// Append missing lines to `.gitignore` (creating it if needed); never removes anything.
pub fn ensure_gitignore(root: &Path, lines: &[String]) -> Result<PathAction> {
    let path = root.join(".gitignore");
    let existing = fsutil::read_optional(&path)?.map(|b| String::from_utf8_lossy(&b).into_owned());
    let have = existing.clone().unwrap_or_default();
    let missing: Vec<&String> = lines.iter().filter(|l| !have.lines().any(|h| h.trim() == l.as_str())).collect();
    if missing.is_empty() {
        return Ok(PathAction { path: ".gitignore".into(), what: "kept" });
    }
    let mut text = have.clone();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(signal::IGNORE_HEADER);
    for l in &missing {
        text.push_str(l);
        text.push('\n');
    }
    fsutil::write_atomic(&path, text.as_bytes())?;
    Ok(PathAction { path: ".gitignore".into(), what: if existing.is_some() { "appended" } else { "created" } })
}

/// A fixer spec template for a lane.
pub fn fixer_spec(lane: &str, desc: &str) -> String {
    let desc = one_line(desc);
    let description = yaml::scalar(&format!("Fixes issues in Lane {lane} - {desc} (max 5 per run, oldest first)"));
    format!(
        r#"---
name: IF-Lane-{lane}
description: {description}
model: {{claude: sonnet}}
color: blue
tools: ["Read", "Write", "Edit", "Grep", "Glob", "Bash"]
---

# Issue Fixer: Lane {lane} - {desc}

You fix the issues listed in your work order, in order, one at a time. The work order follows this
prompt; its `issues` list is your queue and its acceptance criteria are the commands that will be
run to judge your work. You are done when they pass, not when you think they should.

## Protocol

1. `git lanes signal status "STARTING"` (or write `$LANES_SIGNAL_DIR/{lane}.status`).
2. Read each issue file; assess complexity and signal it:
   `git lanes signal status "NORMAL: fixing 3 issues"` or
   `git lanes signal status "COMPLEX: {lane}-07 (HIGH - 8 files)"`.
3. Fix the issue inside its `affected_paths`. Run its verification commands yourself.
4. Leave your changes in the worktree: git-lanes commits them on this lane's branch when you
   finish (you need not commit; commits of your own are kept too). Do not edit the catalog, the
   LogBook, or other lanes' issue files, and never mark an issue RESOLVED: git-lanes does that
   after its verification commands pass.
5. `git lanes signal status "COMPLETE: fixed N"`, then `git lanes signal done`.

## Rules

- No stubs: no placeholder code, no TODO/FIXME, no `todo!()`. Finish a fix or revert it.
- One perfect fix beats five broken ones. An EXTREME issue is worked alone.
"#
    )
}

/// A hunter spec template for a lane (`git lanes hunt` runs it; the seed's `IH-Lane-<X>.md` shape).
pub fn hunter_spec(lane: &str, desc: &str) -> String {
    let desc = one_line(desc);
    let description = yaml::scalar(&format!("Hunts for Lane {lane} - {desc} issues (max 5 per run)"));
    format!(
        r#"---
name: IH-Lane-{lane}
description: {description}
model: {{claude: sonnet}}
color: purple
tools: ["Read", "Grep", "Glob", "Bash"]
# paths: [src/]          # where this lane's problems live (the work order lists them)
---

# Issue Hunter: Lane {lane} - {desc}

You look for real, reproducible problems in this lane's scope and file each one as a new issue
file. The work order follows this prompt: its `hunt` block gives the scope, the folder and id to
file under, the issues already known (do not file them again) and the issue template.

## Protocol

1. `git lanes signal status "STARTING"` (or write `$LANES_SIGNAL_DIR/{lane}.status`).
2. Search the paths in scope. For each problem, write `issues/{lane}/<ID>.md` from the template:
   frontmatter, what is wrong, the evidence (`file:line` and a quote), what a fix must do, and
   under `## Verification Commands` a `bash` block with commands that FAIL now and pass once it
   is fixed (`grep -q "x" path && echo "PASS" || echo "FAIL"`).
3. Run each of your checks yourself: a check that passes today is not a finding.
4. `git lanes signal status "COMPLETE: filed N"`, then `git lanes signal done`. Your new files may
   stay uncommitted: git-lanes takes them from your worktree.

## What git-lanes does with your work

Each new file is kept only if it is a valid issue file of lane {lane}, its checks are safe
(no deleting outside the worktree, no network, no sudo) and all fail on the code as it was when
the hunt started, and it repeats no known issue. Kept files get the lane's next free ids. Any
other change (code, other lanes, the catalog, the LogBook) is dropped.

## Rules

- Never fabricate: no evidence, no issue. Finding fewer is fine.
- Never fix: document only.
- Do not edit existing issue files, the catalog or the LogBook.
"#
    )
}

const CONFIG_TEMPLATE: &str = r#"# git-lanes configuration. Every key is optional; the values shown are the defaults.
# Command-line flags override this file.

# catalog: SAF_ISSUE_CATALOG.md
# issues: issues
# fixer_specs: .claude/agents/issue-fixers
# hunter_specs: .claude/agents/issue-hunters
# signals: LogBook/issue-fixing/signals
# lanes: [E, M]            # pin the lane list (default: discovered)
# worker: claude           # a preset (PRESETS) or a command line
# max_parallel: 8          # default: all lanes at once
# max_issues: 5            # issues per lane per run
# timeout: 1h              # per lane
# stall_after: 10m         # end a lane whose worker shows no sign of life for this long
# done_grace: 30s          # after .done, how long a worker may keep running before it is ended
# integration: merge       # merge | branches | squash
# worktree_pool: true      # keep finished runs' clean worktrees (and their ignored build output) for the next run
# worktree_pool_size: 32   # how many worktrees the pool keeps at most
# sandbox_workers: true   # workers write only their worktree, their temp and their agent's folders
# sandbox_writable: []     # more folders sandboxed workers may write, e.g. [~/.cargo]
# verify:
#   timeout: 30s           # per verification command
#   env: []                # extra environment variable names checks may see
# setup:
#   copy: [.env]           # untracked files copied into each lane worktree
#   run: []                # commands run in each worktree before its worker starts
"#;

/// The commented `lanes.yaml`, its worker line listing `presets`.
pub fn config_template(presets: &str) -> String {
    CONFIG_TEMPLATE.replace("PRESETS", presets)
}

/// The next id in a lane: one more than the highest `<LANE>-<n>` there, same zero padding
/// (at least 2 digits): `E-04` after `E-03`.
pub fn next_id(ws: &Workspace, lane: &str) -> String {
    let prefix = format!("{lane}-");
    let (mut max, mut width) = (0, 2);
    for i in ws.issues.iter().filter(|i| i.id().starts_with(&prefix)) {
        if let Some((n, w)) = names::trailing_number(i.id()) {
            max = max.max(n);
            width = width.max(w);
        }
    }
    format!("{prefix}{:0width$}", max + 1)
}

/// Fields of a new issue.
#[derive(Debug, Clone, Default)]
pub struct NewIssue {
    pub lane: String,
    pub title: String,
    pub severity: u8,
    pub tags: Vec<String>,
    pub affected_paths: Vec<String>,
    pub depends_on: Vec<String>,
    /// Verification commands, one per line of the `bash` block.
    pub checks: Vec<String>,
}

/// Severity level from a 1–10 severity.
pub fn severity_level(s: u8) -> &'static str {
    match s {
        0..=2 => "TRIVIAL",
        3..=4 => "LOW",
        5..=6 => "MEDIUM",
        7..=8 => "HIGH",
        _ => "CRITICAL",
    }
}

/// Render a new issue file from the template.
pub fn issue_text(id: &str, n: &NewIssue, today: &str) -> String {
    let list = |v: &[String]| {
        if v.is_empty() { "[]".to_string() } else { format!("[{}]", v.iter().map(|s| yaml_quote(s)).collect::<Vec<_>>().join(", ")) }
    };
    let level = severity_level(n.severity);
    // A blank line first, so the template's comment does not become the first check's name.
    let mut checks: String = n.checks.iter().filter(|c| !c.trim().is_empty()).map(|c| format!("{}\n", c.trim())).collect();
    if !checks.is_empty() {
        checks.insert(0, '\n');
    }
    let paths_section =
        if n.affected_paths.is_empty() { String::new() } else { n.affected_paths.iter().map(|p| format!("  - {p}\n")).collect() };
    format!(
        "---\nissue_id: \"{id}\"\nlane: \"{lane}\"\nseverity: {sev}\nseverity_level: \"{level}\"\ntype_tags: {tags}\nstatus: \"OPEN\"\naffected_paths: {paths}\ndepends_on: {deps}\nblocks: []\nrelated: []\ntime_box: \"PT30M\"\n---\n\n# [LANE {lane}] Issue {id}: {title}\n\n- Date Discovered: {today}\n\n## Problem Description\n\nWhat is wrong, where, and how it shows.\n\n## Evidence\n\nThe command output or file excerpt that proves it.\n\n## affected_paths\n{paths_section}\n## Fix Requirements\n\n- [ ] What a correct fix must do.\n\n## Verification Commands\n\n```bash\n# One check per line: it passes when it exits 0 and prints no FAIL.\n# An issue without checks is UNVERIFIABLE and is never resolved by a run.\n{checks}```\n\n- **Status:** OPEN\n",
        lane = n.lane,
        sev = n.severity,
        tags = list(&n.tags),
        paths = list(&n.affected_paths),
        deps = list(&n.depends_on),
        title = one_line(&n.title),
    )
}

fn yaml_quote(s: &str) -> String {
    yaml::quoted(s)
}

/// A lane description as one line (it goes into YAML values, headings and catalog rows).
pub fn one_line(desc: &str) -> String {
    desc.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Create the next issue of a lane; returns its id and repository-relative path.
pub fn new_issue(ws: &Workspace, n: &NewIssue) -> Result<(String, PathBuf)> {
    names::check_lane(&n.lane).map_err(|m| Error::usage(m, None))?;
    if n.title.trim().is_empty() {
        return Err(Error::usage("the title is empty", Some("git lanes new E \"Missing retention policy\"".into())));
    }
    for d in &n.depends_on {
        if ws.issue(d).is_none() {
            return Err(Error::usage(format!("--depends-on names `{d}`, which is not an issue"), None));
        }
    }
    let id = next_id(ws, &n.lane);
    let rel = ws.config.issues.join(&n.lane).join(format!("{id}.md"));
    let text = issue_text(&id, n, &today());
    if !fsutil::create_new(&ws.root.join(&rel), text.as_bytes())? {
        return Err(Error::State { message: format!("{} already exists", rel.display()), hint: Some("run `git lanes doctor`".into()) });
    }
    Ok((id, rel))
}

/// Local time as the catalog writes it: `2026-01-07 18:37:18`.
pub fn now_stamp() -> String {
    chrono::Local::now().format("%Y-%m-%d %H:%M:%S").to_string()
}

/// UTC, RFC 3339 to the second with `Z` (`2026-01-07T17:37:18Z`): the one timestamp format of
/// the state file, verdicts and work orders (the seed's demo files use it too).
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Today's date, `2026-01-07`.
pub fn today() -> String {
    chrono::Local::now().format("%Y-%m-%d").to_string()
}
