//! Agents: the worker presets, one file per agent CLI (its command line, its output parser, its
//! known failure shapes). Uses base and exec.

pub mod presets;
pub mod resume;
