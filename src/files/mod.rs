//! The repository's files: issue files, frontmatter, markdown, the catalog, agent specs, the
//! configuration (with the hunting folders derived from the fixing ones), signal files and their
//! kinds, the workspace that loads them all (with its summary cache and remembered
//! answers), byte-minimal
//! rewrites, the issue lifecycle by hand (wontfix, reopen, the catalog re-synced after an edit),
//! validation, and the static reading of check commands (safety). Uses only base.

pub mod answers;
pub mod catalog;
pub mod config;
pub mod example;
pub mod fastyaml;
pub mod frontmatter;
pub mod issue;
pub mod issue_cache;
pub mod lifecycle;
pub mod markdown;
pub mod names;
pub mod overview;
pub mod rewrite;
pub mod safety;
pub mod scaffold;
pub mod signal;
pub mod spec;
pub mod text;
pub mod validate;
pub mod workspace;
pub mod yaml;
