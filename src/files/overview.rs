//! What `status` shows of the issue files — the lanes, their totals and the RESOLVED issues whose
//! evidence is looked up — as one value that can be remembered (`answers.rs`) while no input
//! changes.
#![deny(clippy::print_stdout, clippy::print_stderr)]

use serde::{Deserialize, Serialize};

use crate::files::catalog::Counts;
use crate::files::issue::Status;
use crate::files::workspace::Workspace;

/// The issue files as `status` reports them.
#[derive(Debug, Serialize, Deserialize)]
pub struct Overview {
    /// Every lane, in natural order (see [`Workspace::lanes`]).
    pub lanes: Vec<String>,
    /// The lanes that have an agent spec.
    pub with_spec: Vec<String>,
    pub counts: Counts,
    /// How many files had problems while loading.
    pub problems: usize,
    /// The ids of the RESOLVED issues by lane, in workspace order: what their evidence is
    /// looked up by.
    pub resolved: Vec<(String, Vec<String>)>,
}

impl Overview {
    /// The overview of `ws`; `catalog_lanes` are the lane sections of its catalog, if it parses.
    pub fn of(ws: &Workspace, catalog_lanes: &[String]) -> Overview {
        let lanes = ws.lanes(catalog_lanes);
        let counts = Counts::of(&ws.issues, &lanes);
        let with_spec = lanes.iter().filter(|l| ws.specs.contains_key(*l)).cloned().collect();
        let mut resolved: Vec<(String, Vec<String>)> = Vec::new();
        for i in ws.issues.iter().filter(|i| i.status() == Status::Resolved) {
            match resolved.last_mut() {
                Some((lane, ids)) if lane == i.lane() => ids.push(i.id().to_string()),
                _ => resolved.push((i.lane().to_string(), vec![i.id().to_string()])),
            }
        }
        Overview { lanes, with_spec, counts, problems: ws.problems.len(), resolved }
    }

    pub fn has_spec(&self, lane: &str) -> bool {
        self.with_spec.iter().any(|l| l == lane)
    }

    /// `(lane, id)` of every RESOLVED issue, in workspace order.
    pub fn resolved(&self) -> Vec<(&str, &str)> {
        self.resolved.iter().flat_map(|(lane, ids)| ids.iter().map(move |id| (lane.as_str(), id.as_str()))).collect()
    }
}
