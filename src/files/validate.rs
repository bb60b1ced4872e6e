//! `validate`: every problem in the issue files, specs and catalog at once — parse errors,
//! misplaced files, duplicate and unknown ids, dependency cycles, a stale catalog, and checks
//! that are missing or dangerous.

use std::collections::{HashMap, HashSet};

use crate::base::error::Problem;
use crate::files::catalog::Catalog;
use crate::files::issue::{Issue, Status};
use crate::files::safety;
use crate::files::workspace::Workspace;

/// Errors fail `validate` (exit 4); warnings are reported only.
#[derive(Debug, Default, serde::Serialize)]
pub struct Report {
    pub errors: Vec<Problem>,
    pub warnings: Vec<Problem>,
    pub issues_checked: usize,
}

/// Validate the workspace and (when given) the catalog as loaded.
pub fn validate(ws: &Workspace, catalog: Option<&Result<Catalog, Problem>>) -> Report {
    let mut r = Report { errors: ws.problems.clone(), issues_checked: ws.issues.len(), ..Report::default() };
    r.errors.extend(crate::files::workspace::duplicate_ids(&ws.issues));
    let ids: HashMap<&str, &Issue> = ws.issues.iter().map(|i| (i.id(), i)).collect();
    for i in &ws.issues {
        references(i, &ids, &mut r);
        pinned_lane(ws, i, &mut r);
        affected_paths(i, &mut r);
        may_change(i, &mut r);
        verification(i, &mut r);
    }
    r.errors.extend(cycles(&ws.issues));
    catalog_in_sync(ws, catalog, &mut r);
    lanes_without_spec(ws, &mut r);
    r
}

/// `depends_on`, `blocks` and `related` name existing issues (not the issue itself), and the two
/// directions of a dependency agree.
fn references(i: &Issue, ids: &HashMap<&str, &Issue>, r: &mut Report) {
    for (key, list) in [("depends_on", &i.meta.depends_on), ("blocks", &i.meta.blocks), ("related", &i.meta.related)] {
        for dep in list {
            if !ids.contains_key(dep.as_str()) {
                r.errors.push(Problem::new(&i.path, i.key_line(key).unwrap_or(0), format!("`{key}` names `{dep}`, which is not an issue")));
            } else if dep == i.id() && key != "related" {
                r.errors.push(Problem::new(&i.path, i.key_line(key).unwrap_or(0), format!("`{key}` names the issue itself")));
            }
        }
    }
    for dep in &i.meta.depends_on {
        if let Some(other) = ids.get(dep.as_str())
            && !other.meta.blocks.is_empty()
            && !other.meta.blocks.iter().any(|b| b == i.id())
        {
            r.warnings.push(Problem::new(
                &i.path,
                i.key_line("depends_on").unwrap_or(0),
                format!("depends on {dep}, but {dep}'s `blocks` does not list {}", i.id()),
            ));
        }
    }
    for b in &i.meta.blocks {
        if let Some(other) = ids.get(b.as_str())
            && !other.meta.depends_on.iter().any(|d| d == i.id())
        {
            r.warnings.push(Problem::new(
                &i.path,
                i.key_line("blocks").unwrap_or(0),
                format!("blocks {b}, but {b}'s `depends_on` does not list {}", i.id()),
            ));
        }
    }
}

/// An issue's lane is one `lanes.yaml` pins, when it pins any.
fn pinned_lane(ws: &Workspace, i: &Issue, r: &mut Report) {
    if let Some(pinned) = &ws.config.lanes
        && !pinned.iter().any(|l| l == i.lane())
    {
        r.errors.push(Problem::new(&i.path, i.key_line("lane").unwrap_or(0), format!("lane `{}` is not in lanes.yaml `lanes:`", i.lane())));
    }
}

/// Affected paths stay inside the repository.
fn affected_paths(i: &Issue, r: &mut Report) {
    for a in &i.meta.affected_paths {
        if let Some(why) = crate::files::names::escapes_repository(a) {
            r.errors.push(
                Problem::new(
                    &i.path,
                    i.key_line("affected_paths").unwrap_or(0),
                    format!("affected path `{a}` {why}; it must name a path inside the repository"),
                )
                .with_hint("write it relative to the repository root, e.g. `src/module.rs`"),
            );
        }
    }
}

/// `may_change:` names paths inside the repository, as paths, folders or valid globs.
fn may_change(i: &Issue, r: &mut Report) {
    for m in &i.meta.may_change {
        let line = i.key_line("may_change").unwrap_or(0);
        if let Some(why) = crate::files::names::escapes_repository(m) {
            r.errors.push(
                Problem::new(&i.path, line, format!("may_change path `{m}` {why}; it must name a path inside the repository"))
                    .with_hint("write it relative to the repository root, e.g. `tests/test_parser.py`"),
            );
        } else if let Err(e) = globset::Glob::new(m) {
            r.errors.push(
                Problem::new(&i.path, line, format!("may_change pattern `{m}` is not a valid glob: {}", e.kind()))
                    .with_hint("use a path, a folder, or a glob such as `tests/test_*.py`"),
            );
        }
    }
}

/// An open issue has checks, and no check does what a check must not.
fn verification(i: &Issue, r: &mut Report) {
    let checks = i.checks();
    if checks.is_empty() && i.status() == Status::Open {
        r.warnings.push(
            Problem::new(&i.path, i.title_line, "no verification commands: the issue is UNVERIFIABLE and can never be resolved by a run")
                .with_hint("add a ```bash block under `## Verification Commands`"),
        );
    }
    for c in &checks {
        for f in safety::inspect(&c.command) {
            r.errors.push(
                Problem::new(&i.path, c.line, format!("verification command {}", f.message))
                    .with_hint("checks must only inspect the worktree; rewrite the command"),
            );
        }
    }
}

/// The catalog, when there is one, says what the issue files say.
fn catalog_in_sync(ws: &Workspace, catalog: Option<&Result<Catalog, Problem>>, r: &mut Report) {
    match catalog {
        Some(Err(p)) => r.errors.push(p.clone()),
        Some(Ok(cat)) => {
            let synced = cat.sync(ws, "");
            for d in synced.differences {
                r.errors.push(
                    Problem::new(&cat.path, d.line, format!("catalog is out of date ({}): {}", d.region, d.message))
                        .with_hint("run `git lanes sync`"),
                );
            }
        }
        None => {}
    }
}

/// A lane with open issues has a fixer spec (one that is there but does not parse is reported as
/// such, not as missing).
fn lanes_without_spec(ws: &Workspace, r: &mut Report) {
    for lane in ws.lanes(&[]) {
        let path = ws.config.fixer_specs.join(format!("IF-Lane-{lane}.md"));
        let broken = ws.problems.iter().any(|p| p.path == path);
        if !broken && !ws.specs.contains_key(&lane) && ws.lane_issues(&lane).any(|i| i.status() == Status::Open) {
            r.warnings.push(Problem::new(
                path,
                0,
                format!("lane {lane} has open issues but no fixer spec; workers get only the work order"),
            ));
        }
    }
}

/// Problems of the hunter specs (`hunter_specs`, read by `hunt` only): each that does not parse,
/// with its `path:line` and the parser's message.
pub fn hunter_specs(root: &std::path::Path, config: &crate::files::config::Config) -> crate::base::error::Result<Vec<Problem>> {
    let mut problems = Vec::new();
    crate::files::workspace::load_specs(root, &config.hunter_specs, &mut problems)?;
    Ok(problems)
}

/// Dependency cycles through `depends_on`, each reported once, as problems.
pub fn cycles(issues: &[Issue]) -> Vec<Problem> {
    let by_id: HashMap<&str, &Issue> = issues.iter().map(|i| (i.id(), i)).collect();
    dependency_cycles(issues)
        .into_iter()
        .map(|mut cycle| {
            let first = by_id[cycle[0].as_str()];
            cycle.push(cycle[0].clone());
            Problem::new(&first.path, first.key_line("depends_on").unwrap_or(0), format!("dependency cycle: {}", cycle.join(" → ")))
                .with_hint("remove one of these `depends_on` entries")
        })
        .collect()
}

/// Dependency cycles through `depends_on` (ids in dependency order, first id not repeated), each
/// reported once. Used by `validate` and by `plan`, which blocks the issues on them.
///
/// An iterative depth-first search, so a long dependency chain cannot overflow the stack.
pub fn dependency_cycles(issues: &[Issue]) -> Vec<Vec<String>> {
    let by_id: HashMap<&str, &Issue> = issues.iter().map(|i| (i.id(), i)).collect();
    let mut state: HashMap<&str, u8> = HashMap::new(); // 1 = on stack, 2 = done
    let mut seen_cycles: HashSet<Vec<String>> = HashSet::new();
    let mut out = Vec::new();
    for start in issues {
        if state.contains_key(start.id()) {
            continue;
        }
        // Iterative DFS: (id, next child index).
        let mut stack: Vec<(&str, usize)> = vec![(start.id(), 0)];
        state.insert(start.id(), 1);
        while let Some((id, idx)) = stack.last().copied() {
            let deps = by_id.get(id).map(|i| i.meta.depends_on.as_slice()).unwrap_or(&[]);
            if idx >= deps.len() {
                state.insert(id, 2);
                stack.pop();
                continue;
            }
            stack.last_mut().expect("non-empty").1 += 1;
            let Some((&dep, _)) = by_id.get_key_value(deps[idx].as_str()) else { continue };
            match state.get(dep) {
                Some(1) => {
                    let pos = stack.iter().position(|(s, _)| *s == dep).unwrap_or(0);
                    let cycle: Vec<String> = stack[pos..].iter().map(|(s, _)| s.to_string()).collect();
                    let mut key = cycle.clone();
                    key.sort();
                    if seen_cycles.insert(key) {
                        out.push(cycle);
                    }
                }
                Some(_) => {}
                None => {
                    state.insert(dep, 1);
                    stack.push((dep, 0));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn may_change_must_stay_inside_the_repository_and_be_a_valid_glob() {
        let text = "---\nissue_id: \"E-01\"\nlane: \"E\"\nstatus: \"OPEN\"\nmay_change: [\"tests/test_a.py\", \"../x\", \"tests/[a\"]\n---\n\n# [LANE E] Issue E-01: t\n";
        let i = Issue::parse(std::path::Path::new("issues/E/E-01.md"), text.as_bytes().to_vec()).unwrap();
        assert_eq!(i.meta.may_change, ["tests/test_a.py", "../x", "tests/[a"]);
        let mut r = Report::default();
        may_change(&i, &mut r);
        let errors: Vec<String> = r.errors.iter().map(ToString::to_string).collect();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].contains("issues/E/E-01.md:5") && errors[0].contains("`../x`"), "{errors:?}");
        assert!(errors[1].contains("not a valid glob"), "{errors:?}");
    }
}
