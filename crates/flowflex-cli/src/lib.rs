//! The `flowflex` command-line tool.
//!
//! ```text
//! flowflex send EVENT [--data JSON|@FILE] [--attach PATH=FILE[;type=MIME][;filename=NAME]]... [--idempotency-key KEY]
//! flowflex emulator [--port PORT] [--api-key KEY] [--api-secret SECRET] [--integration-code CODE] [-q]
//! flowflex check FILE...
//! ```
//!
//! This library is the binary's body, public so its tests (and the docs
//! test) can parse command lines with [`Cli`]. To send events from Rust,
//! use the `flowflex` crate.
//!
//! ```
//! use clap::Parser as _;
//! use flowflex_cli::{Cli, Command};
//!
//! let cli = Cli::try_parse_from([
//!     "flowflex", "send", "order.shipped", "--attach", "gallery[]=a.jpg",
//! ])
//! .unwrap();
//! let Command::Send(send) = cli.command else { unreachable!() };
//! assert_eq!(send.attach[0].path.to_string(), "gallery[]");
//! ```
#![deny(missing_docs)]

mod args;
mod check;
mod emulator;
pub mod exit;
#[cfg(feature = "outbox")]
mod outbox;
mod payload;
mod progress;
mod report;
mod send;
mod terms;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser as _;

pub use args::{
    AttachSpec, CheckArgs, Cli, Command, ConfigArgs, DrainArgs, EmulatorArgs, OutboxArgs,
    OutboxCommand, OutboxStore, SendArgs,
};
pub use payload::PayloadPath;

/// Runs the tool on `args` (the first is the program name): parses them,
/// does the work, prints the result on stdout and problems on stderr, and
/// returns the exit code (see [`exit`]).
///
/// ```
/// // A missing file: `check` says why on stdout and exits with 4.
/// let code = flowflex_cli::run(["flowflex", "check", "does-not-exist.pdf"]);
/// assert_eq!(code, std::process::ExitCode::from(flowflex_cli::exit::ATTACHMENT));
/// ```
pub fn run(args: impl IntoIterator<Item = impl Into<OsString> + Clone>) -> ExitCode {
    report::install_panic_hook();
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(err) => {
            // Help and version go to stdout with status 0; usage errors to
            // stderr with status 2, as clap prints them.
            let _ = err.print();
            return ExitCode::from(u8::try_from(err.exit_code()).unwrap_or(exit::USAGE));
        }
    };
    report::init_tracing(cli.verbose);
    let outcome = match cli.command {
        Command::Send(args) => send::run(&args, cli.verbose),
        Command::Emulator(args) => emulator::run(&args),
        Command::Check(args) => check::run(&args),
        #[cfg(feature = "outbox")]
        Command::Outbox(args) => outbox::run(&args),
        #[cfg(not(feature = "outbox"))]
        Command::Outbox(_) => Err(report::Failure::Other {
            message: "this flowflex was built without `flowflex outbox`".to_owned(),
            hint: "install it with the outbox: cargo install --locked --git https://github.com/flowflex/flowflex-rs flowflex-cli (its default features)".to_owned(),
        }),
    };
    match outcome {
        Ok(code) => ExitCode::from(code),
        Err(failure) => ExitCode::from(failure.report()),
    }
}

/// Compiles the Rust examples of the guides this crate's tools document.
#[cfg(doctest)]
mod guides {
    #[doc = include_str!("../../../docs/getting-started.md")]
    struct GettingStarted;
    #[doc = include_str!("../../../docs/attachments.md")]
    struct Attachments;
    #[doc = include_str!("../../../docs/errors-and-retries.md")]
    struct ErrorsAndRetries;
    #[doc = include_str!("../../../docs/python-sdk.md")]
    struct PythonSdk;
    #[doc = include_str!("../../../docs/architecture.md")]
    struct Architecture;
    #[doc = include_str!("../../../docs/cli.md")]
    struct CliReference;
}
