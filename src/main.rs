/// jemalloc, not glibc's malloc: loading ten thousand issue files on every core, glibc's per-thread
/// arenas grew a page at a time (an `mprotect` each) and contended on their locks, so a cold
/// catalog command took 60 or 100 ms by luck; jemalloc takes the 60 every time (issue 14).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    git_lanes::cli::main()
}
