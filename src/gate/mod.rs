//! The gate: what keeps a repository honest — the pre-push check over pushed commits, the installed
//! hook, and `doctor` (duplicate ids, stale evidence, what dead runs left). Uses every layer below
//! it, the run's reports and records included.

pub mod check;
pub mod doctor;
mod earned;
pub mod hook;
