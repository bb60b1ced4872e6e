//! The `git-lanes` binary (run as `git lanes`): a doorway into [`git_lanes::cli`].

/// mimalloc, not glibc's malloc: loading ten thousand issue files on every core, glibc's
/// per-thread arenas grew a page at a time (an `mprotect` each) and contended on their locks, so a
/// cold catalog command took 60 or 100 ms by luck. Without transparent huge pages
/// (`no_thp`), which zeroed 2 MB at a time and doubled the peak memory.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    git_lanes::cli::app::main()
}
