//! The base every layer uses: errors with their place, atomic and symlink-safe file writes, secret
//! redaction, and the fault points of the fault suite. It uses nothing of the crate but the process
//! error type of `exec`, which an [`error::Error`] can carry.

pub mod error;
pub mod fault;
pub mod fsutil;
pub mod redact;
