//! How failures reach the user: one line saying what went wrong, one line
//! saying what to do, and an exit code. Never a backtrace, never a secret
//! (the SDK's errors carry none, and nothing here adds one).

use std::io::{IsTerminal as _, Write as _};

use crate::exit;

/// Why a command failed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// An error from the SDK.
    Sdk(flowflex::Error),
    /// The command line is wrong beyond what clap checks.
    Usage(String),
    /// Anything else, with what to do about it.
    Other { message: String, hint: String },
}

impl From<flowflex::Error> for Failure {
    fn from(err: flowflex::Error) -> Self {
        Failure::Sdk(err)
    }
}

impl Failure {
    /// Prints the failure on stderr and returns its exit code.
    pub(crate) fn report(self) -> u8 {
        let (code, message, hint) = match self {
            Failure::Sdk(err) => {
                let code = exit::of(&err);
                (code, err.to_string(), sdk_hint(code).to_owned())
            }
            Failure::Usage(message) => (
                exit::USAGE,
                message,
                "see `flowflex send --help` for the flags and examples".to_owned(),
            ),
            Failure::Other { message, hint } => (exit::FAILURE, message, hint),
        };
        print_error(&message, &hint);
        code
    }
}

fn sdk_hint(code: u8) -> &'static str {
    match code {
        exit::CONFIG => {
            "flowflex send reads --api-key, --api-secret, --integration-code and --base-url, or FLOWFLEX_API_KEY, FLOWFLEX_API_SECRET, FLOWFLEX_INTEGRATION_CODE and FLOWFLEX_BASE_URL; `flowflex emulator` prints a set that works locally"
        }
        exit::ATTACHMENT => "`flowflex check FILE` tells what FlowFlex makes of a file",
        exit::USAGE => "--data takes a JSON object, or @FILE holding one",
        exit::API => "run again with --verbose to see each request and retry",
        exit::NETWORK => {
            "check --base-url (or FLOWFLEX_BASE_URL) and the network; to work locally, start `flowflex emulator` and use the URL it prints"
        }
        _ => "run again with --verbose for details",
    }
}

/// `error: ...` and `hint: ...`, each on one line.
pub(crate) fn print_error(message: &str, hint: &str) {
    let one_line = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "error: {}", one_line(message));
    let _ = writeln!(stderr, "hint: {}", one_line(hint));
}

/// A bug shows as one line too, not as a panic message and backtrace.
pub(crate) fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_owned());
        print_error(
            &format!("flowflex hit a bug: {what}"),
            "please report it at https://github.com/flowflex/flowflex-rs/issues with the command you ran (leave out its secrets)",
        );
    }));
}

/// `--verbose`: the SDK's tracing events on stderr; RUST_LOG, when set,
/// chooses what is logged.
pub(crate) fn init_tracing(verbose: bool) {
    if !verbose {
        return;
    }
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("flowflex=debug,flowflex_cli=debug")
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_exit_code_has_a_hint() {
        for code in [
            exit::CONFIG,
            exit::ATTACHMENT,
            exit::USAGE,
            exit::API,
            exit::NETWORK,
        ] {
            assert!(sdk_hint(code).len() > 20, "{code}");
        }
    }
}
