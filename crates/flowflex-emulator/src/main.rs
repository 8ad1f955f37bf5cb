//! `flowflex-emulator`: run the FlowFlex emulator as a standalone server.
// The binary's job is to print where it listens.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::net::IpAddr;
use std::process::ExitCode;

use clap::Parser;
use flowflex_emulator::{
    DEFAULT_API_KEY, DEFAULT_API_SECRET, DEFAULT_INTEGRATION_CODE, DEFAULT_MAX_FILE_BYTES,
    Emulator, stop_signal,
};

/// A local FlowFlex API and presigned storage, for development and tests.
#[derive(Debug, Parser)]
#[command(name = "flowflex-emulator", version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "FLOWFLEX_EMULATOR_HOST", default_value = "127.0.0.1")]
    host: IpAddr,
    /// Port to listen on (0 picks a free one).
    #[arg(long, env = "FLOWFLEX_EMULATOR_PORT", default_value_t = 0)]
    port: u16,
    /// API key to accept.
    #[arg(long, env = "FLOWFLEX_API_KEY", default_value = DEFAULT_API_KEY)]
    api_key: String,
    /// API secret to accept (never printed). Default: emulator-secret.
    #[arg(long, env = "FLOWFLEX_API_SECRET", hide_env_values = true)]
    api_secret: Option<String>,
    /// Integration code to accept events for.
    #[arg(long, env = "FLOWFLEX_INTEGRATION_CODE", default_value = DEFAULT_INTEGRATION_CODE)]
    integration_code: String,
    /// Largest file storage accepts, in bytes.
    #[arg(long, env = "FLOWFLEX_MAX_FILE_BYTES", default_value_t = DEFAULT_MAX_FILE_BYTES)]
    max_file_bytes: u64,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let secret_given = args.api_secret.is_some();
    let builder = Emulator::builder()
        .host(args.host)
        .port(args.port)
        .api_key(args.api_key)
        .api_secret(
            args.api_secret
                .unwrap_or_else(|| DEFAULT_API_SECRET.to_owned()),
        )
        .integration_code(args.integration_code)
        .max_file_bytes(args.max_file_bytes);
    let emulator = match builder.start().await {
        Ok(emulator) => emulator,
        Err(err) => {
            eprintln!("flowflex-emulator: cannot start: {err}");
            return ExitCode::FAILURE;
        }
    };
    // Listen for signals before announcing readiness, so that a supervisor
    // that stops us right after reading the address gets a clean exit.
    let stop = match stop_signal() {
        Ok(stop) => stop,
        Err(err) => {
            eprintln!("flowflex-emulator: cannot listen for stop signals: {err}");
            return ExitCode::FAILURE;
        }
    };
    // The secret is never printed; stderr says which one is in force, before
    // stdout announces readiness.
    if secret_given {
        eprintln!("api secret: the value you passed");
    } else {
        // Named in --help and the docs; never printed, so that no log
        // teaches anyone to look for secrets in this output.
        eprintln!("api secret: the default (flowflex-emulator --help names it)");
    }
    print!("{}", emulator.announcement());

    stop.await;
    emulator.shutdown().await;
    ExitCode::SUCCESS
}
