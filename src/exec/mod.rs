//! Processes: the one place that spawns children (process groups, timeouts, capped output, the
//! sandbox). Uses nothing above the base modules.

pub mod cgroup;
pub mod mountns;
pub mod process;
pub mod sandbox;
mod starter;
