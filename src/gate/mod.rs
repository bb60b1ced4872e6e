//! The gate: what keeps a repository honest — the pre-push check over pushed commits, the installed
//! hook, and `doctor` (duplicate ids, stale evidence, what dead runs left). Uses every layer below
//! it, the run's reports and records included.
//!
//! The check's rules are one table, [`rules::RULES`]: `check --help` and the hook's comment are
//! rendered from it, and a test compares the other lists (the module doc of [`check`],
//! docs/design.md) with it. To add a rule, add a row there and its function in [`check`] (which
//! reports its failures with the row); the test tells you what else to update.

pub mod check;
pub mod doctor;
mod earned;
pub mod hook;
pub mod rules;
