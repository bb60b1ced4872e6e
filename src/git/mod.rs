//! git: opening the repository, the one gateway to the git command line, lane worktrees and their
//! pool, stale lock files, commits built in memory (snapshot) and a sandboxed worker's own commits (confine). Uses base, exec and files
//! (config).

pub mod confine;
pub mod gitcli;
pub mod locks;
pub mod pool;
pub mod repo;
pub mod snapshot;
pub mod treemerge;
pub mod worktree;
