//! `flowflex`: send FlowFlex events with files from a shell, check files,
//! run a local emulator. See `flowflex --help` and docs/cli.md.

fn main() -> std::process::ExitCode {
    flowflex_cli::run(std::env::args_os())
}
