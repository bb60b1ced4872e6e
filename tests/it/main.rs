//! The integration tests, one binary: each module drives the `git-lanes` binary (or the library)
//! against real temporary git repositories built in the test, with git's configuration isolated
//! and a fixed author and date ([`common::hermetic_env`] is the one place that environment is
//! written). One binary links once, so the suite builds in one step instead of one per file.
//!
//! Run one module with `cargo test --test it <module>::` (for example `cargo test --test it run::`).
//! `agents_real` is opt-in: `LANES_REAL_AGENTS=1 cargo test --test it agents_real::`.

mod common;
mod common_run;

mod agents;
mod agents_real;
mod attempts;
mod cache;
mod check;
mod faults;
mod foundation;
mod hunt;
mod integration_checks;
mod layers;
mod operator;
mod plan;
mod pool;
mod refs;
mod repos;
mod run;
mod seed;
mod verify;
mod workers_sandbox;
