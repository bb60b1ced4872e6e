//! Link the `git-lanes` binary as a position-dependent executable on Linux: a PIE's eighteen
//! thousand relative relocations are applied at every start (each page they touch faulted and
//! copied), about a millisecond of a command that answers in a few.
fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "linux" && env == "gnu" {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
