//! Three-way merges of trees that touch disjoint paths, without opening what neither side changed.
//!
//! libgit2's `merge_trees` walks every entry of all three trees, so merging two lanes of a
//! 2,000-file repository costs a walk of 6,000 entries even when each lane changed two files.
//! Lanes of one run nearly always change disjoint paths, and then the merge is the union of both
//! sides' changes. [`merge_commits`] finds that union by descending only into subtrees whose ids differ
//! (as git's own `merge-ort` resolves trivial trees first) and answers `None` as soon as one path
//! is changed on both sides in different ways: the caller then merges with libgit2, which merges
//! file contents, detects renames and reports conflicts. So a `Some` answer is exactly what
//! libgit2 would give, and anything harder is left to it.

use std::collections::BTreeMap;

use git2::{Commit, Oid, Repository};

/// What one side holds at a name: the object id and the file mode.
type TreeEntry = (Oid, i32);

const TREE_MODE: i32 = 0o040000;

/// The merged tree of commits `ours` and `theirs`, written to the object database; `None` when
/// some path is changed differently on both sides, or when they have more than one merge base
/// (libgit2 then merges the bases first).
pub fn merge_commits(repo: &Repository, ours: &Commit<'_>, theirs: &Commit<'_>) -> Result<Option<Oid>, git2::Error> {
    match merge_base_tree(repo, ours, theirs)? {
        Some(base) => walk(repo, Some(base), ours.tree_id(), theirs.tree_id(), true),
        None => Ok(None),
    }
}

/// Whether commits `ours` and `theirs` change disjoint paths since their one merge base, so
/// that they merge cleanly without a content merge. Writes nothing.
pub fn disjoint(repo: &Repository, ours: &Commit<'_>, theirs: &Commit<'_>) -> Result<bool, git2::Error> {
    Ok(match merge_base_tree(repo, ours, theirs)? {
        Some(base) => walk(repo, Some(base), ours.tree_id(), theirs.tree_id(), false)?.is_some(),
        None => false,
    })
}

/// The tree of the one merge base of two commits (`None` when they have none or several).
fn merge_base_tree(repo: &Repository, a: &Commit<'_>, b: &Commit<'_>) -> Result<Option<Oid>, git2::Error> {
    let bases = match repo.merge_bases(a.id(), b.id()) {
        Ok(bases) => bases,
        Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    match &*bases {
        [one] => Ok(Some(repo.find_commit(*one)?.tree_id())),
        _ => Ok(None),
    }
}

/// One level of the merge: `Some` when the two sides change disjoint paths, `None` when they
/// overlap. With `write`, the merged tree is written and `Some` holds its id; without, nothing is
/// written and `Some` holds `ours` (the caller asks only whether the merge is clean).
fn walk(repo: &Repository, base: Option<Oid>, ours: Oid, theirs: Oid, write: bool) -> Result<Option<Oid>, git2::Error> {
    if ours == theirs || base == Some(theirs) {
        return Ok(Some(ours));
    }
    if base == Some(ours) {
        return Ok(Some(theirs));
    }
    let base_tree = match base {
        Some(id) => Some(repo.find_tree(id)?),
        None => None,
    };
    let (ours_tree, theirs_tree) = (repo.find_tree(ours)?, repo.find_tree(theirs)?);
    // name -> (base, ours, theirs)
    let mut names: BTreeMap<Vec<u8>, [Option<TreeEntry>; 3]> = BTreeMap::new();
    for (side, tree) in [base_tree.as_ref(), Some(&ours_tree), Some(&theirs_tree)].into_iter().enumerate() {
        for e in tree.into_iter().flat_map(|t| t.iter()) {
            names.entry(e.name_bytes().to_vec()).or_default()[side] = Some((e.id(), e.filemode()));
        }
    }
    let mut builder = if write { Some(repo.treebuilder(Some(&ours_tree))?) } else { None };
    for (name, [b, o, t]) in names {
        if o == t || b == t {
            continue; // both sides agree, or only ours changed it: ours has it already
        }
        let merged = if b == o {
            t // only theirs changed it
        } else {
            match (b, o, t) {
                (b, Some((o_id, TREE_MODE)), Some((t_id, TREE_MODE))) if b.is_none_or(|(_, m)| m == TREE_MODE) => {
                    match walk(repo, b.map(|(id, _)| id), o_id, t_id, write)? {
                        Some(id) if write && repo.find_tree(id)?.is_empty() => None,
                        Some(id) => Some((id, TREE_MODE)),
                        None => return Ok(None),
                    }
                }
                _ => return Ok(None), // one path changed on both sides: libgit2's to merge
            }
        };
        if let Some(builder) = builder.as_mut() {
            match merged {
                Some((id, mode)) => {
                    builder.insert(name, id, mode)?;
                }
                None => builder.remove(name)?,
            }
        }
    }
    match builder {
        Some(builder) => builder.write().map(Some),
        None => Ok(Some(ours)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tree of `files` (path → content) written to `repo`.
    fn tree(repo: &Repository, files: &BTreeMap<String, String>) -> Oid {
        let mut index = git2::Index::new().unwrap();
        for (path, text) in files {
            let id = repo.blob(text.as_bytes()).unwrap();
            index.add(&crate::git::snapshot::index_entry(path, id, 0o100644)).unwrap();
        }
        index.write_tree_to(repo).unwrap()
    }

    /// A small deterministic generator (no dependency for a test's dice).
    struct Dice(u64);
    impl Dice {
        fn roll(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    /// One side's edit of `base`: some files changed, removed or added, among `paths`.
    fn edit(base: &BTreeMap<String, String>, paths: &[String], dice: &mut Dice, tag: &str) -> BTreeMap<String, String> {
        let mut out = base.clone();
        for _ in 0..dice.roll(4) {
            let p = &paths[dice.roll(paths.len() as u64) as usize];
            match dice.roll(3) {
                0 => {
                    out.remove(p);
                }
                _ => {
                    out.insert(p.clone(), format!("{tag} {}\n", dice.roll(3)));
                }
            }
        }
        out
    }

    #[test]
    fn a_clean_answer_is_the_tree_libgit2_merges_and_overlaps_are_left_to_it() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init_bare(dir.path()).unwrap();
        let paths: Vec<String> = ["a", "b", "d/x", "d/y", "d/e/z", "f/g/h", "f/g/i", "k"].iter().map(|s| s.to_string()).collect();
        let mut dice = Dice(0x9E37_79B9_7F4A_7C15);
        let (mut clean, mut overlapping) = (0, 0);
        for _ in 0..600 {
            let base: BTreeMap<String, String> =
                paths.iter().filter(|_| dice.roll(4) != 0).map(|p| (p.clone(), format!("base {p}\n"))).collect();
            let ours = edit(&base, &paths, &mut dice, "ours");
            let theirs = edit(&base, &paths, &mut dice, "theirs");
            let (b, o, t) = (tree(&repo, &base), tree(&repo, &ours), tree(&repo, &theirs));
            let fast = walk(&repo, Some(b), o, t, true).unwrap();
            let checked = walk(&repo, Some(b), o, t, false).unwrap();
            assert_eq!(fast.is_some(), checked.is_some(), "writing or not, the same answer");
            let (bt, ot, tt) = (repo.find_tree(b).unwrap(), repo.find_tree(o).unwrap(), repo.find_tree(t).unwrap());
            let mut full = repo.merge_trees(&bt, &ot, &tt, None).unwrap();
            match fast {
                Some(id) => {
                    clean += 1;
                    assert!(!full.has_conflicts(), "a clean answer where libgit2 conflicts: {base:?} {ours:?} {theirs:?}");
                    assert_eq!(id, full.write_tree_to(&repo).unwrap(), "{base:?} {ours:?} {theirs:?}");
                }
                None => overlapping += 1,
            }
        }
        assert!(clean > 100 && overlapping > 100, "both kinds are exercised ({clean} clean, {overlapping} not)");
    }

    #[test]
    fn a_folder_emptied_by_the_two_sides_together_goes() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init_bare(dir.path()).unwrap();
        let files = |list: &[&str]| list.iter().map(|p| (p.to_string(), format!("{p}\n"))).collect::<BTreeMap<_, _>>();
        let b = tree(&repo, &files(&["keep", "d/x", "d/y"]));
        let o = tree(&repo, &files(&["keep", "d/y"]));
        let t = tree(&repo, &files(&["keep", "d/x"]));
        let merged = walk(&repo, Some(b), o, t, true).unwrap().unwrap();
        assert_eq!(merged, tree(&repo, &files(&["keep"])));
    }
}
