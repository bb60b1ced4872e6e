//! The judge: runs verification commands in the sandbox, keeps evidence, computes verdicts; the
//! lane guard decides what a lane may change. Uses base, files, exec and git.

pub mod evidence;
pub mod guard;
pub mod protect;
pub mod verdict;
pub mod verify;
