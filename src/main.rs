fn main() -> std::process::ExitCode {
    git_lanes::cli::main()
}
