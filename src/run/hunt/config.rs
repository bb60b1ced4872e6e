//! The configuration a hunt runs with: the fixing paths moved to their hunting twins (what
//! `runs.rs` also reads to find a hunt's report).

use std::path::{Path, PathBuf};

use crate::files::config::Config;

/// The configuration of a hunt: the fixing paths' `issue-fixing` becomes `issue-hunting`
/// (signals, state, reports), everything else stays.
pub fn hunting_config(c: &Config) -> Config {
    let hunt = |p: &Path| PathBuf::from(p.to_string_lossy().replace("issue-fixing", "issue-hunting"));
    let mut h = c.clone();
    h.signals = hunt(&c.signals);
    h.state = hunt(&c.state);
    h.runs = hunt(&c.runs);
    h
}
