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
    /// The command line is wrong beyond what clap checks (`flowflex send`).
    Usage(String),
    /// `flowflex outbox` cannot go on: a wrong id, no outbox where the
    /// flags point (exit 2, its own hint).
    #[cfg_attr(not(feature = "outbox"), allow(dead_code))]
    Outbox { message: String, hint: String },
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
                let message = crate::terms::cli_terms(&err.to_string());
                (code, message, sdk_hint(&err, code))
            }
            Failure::Usage(message) => (
                exit::USAGE,
                message,
                "see `flowflex send --help` for the flags and examples".to_owned(),
            ),
            Failure::Outbox { message, hint } => (exit::USAGE, message, hint),
            Failure::Other { message, hint } => (exit::FAILURE, message, hint),
        };
        print_error(&message, &hint);
        code
    }
}

/// What to do next, for the kind of failure `err` is: a configuration
/// error about the event name gets advice on event names, not on
/// credentials.
fn sdk_hint(err: &flowflex::Error, code: u8) -> String {
    if err.is_auth() {
        return "FlowFlex refused the credentials: check --api-key, --api-secret and --integration-code (or FLOWFLEX_API_KEY, FLOWFLEX_API_SECRET, FLOWFLEX_INTEGRATION_CODE) against your FlowFlex integration".to_owned();
    }
    let hint = match code {
        exit::CONFIG => return config_hint(&err.to_string()),
        exit::ATTACHMENT => "`flowflex check FILE` tells what FlowFlex makes of a file",
        exit::USAGE => "--data takes a JSON object, or @FILE holding one",
        exit::API => "run again with --verbose to see each request and retry",
        exit::NETWORK => {
            "check --base-url (or FLOWFLEX_BASE_URL) and the network; to work locally, start `flowflex emulator` and use the URL it prints"
        }
        _ => "run again with --verbose for details",
    };
    hint.to_owned()
}

/// The hint for an `Error::Config`, by what it is about.
fn config_hint(message: &str) -> String {
    let hint = if message.contains("event name") {
        return format!(
            "an event name is what your flow's trigger listens for, e.g. order.shipped: ASCII, at most {} bytes, no control characters or surrounding blanks",
            flowflex_core::EVENT_NAME_MAX_BYTES
        );
    } else if message.contains("idempotency key") {
        "--idempotency-key takes ASCII text without control characters; leave it out and a fresh UUID is used"
    } else if message.contains("base_url") {
        "--base-url (or FLOWFLEX_BASE_URL) takes https://..., or http:// on loopback; `flowflex emulator` prints one that works locally"
    } else if message.contains("timeout") {
        "--timeout takes a whole number of seconds, at least 1"
    } else {
        "flowflex send reads --api-key, --api-secret, --integration-code and --base-url, or FLOWFLEX_API_KEY, FLOWFLEX_API_SECRET, FLOWFLEX_INTEGRATION_CODE and FLOWFLEX_BASE_URL; `flowflex emulator` prints a set that works locally"
    };
    hint.to_owned()
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
        let err = flowflex::Error::Config {
            message: "x".to_owned(),
        };
        for code in [
            exit::CONFIG,
            exit::ATTACHMENT,
            exit::USAGE,
            exit::API,
            exit::NETWORK,
        ] {
            assert!(sdk_hint(&err, code).len() > 20, "{code}");
        }
    }

    #[test]
    fn each_configuration_error_gets_its_own_hint() {
        let event_name = event_name_error();
        assert!(
            config_hint(&event_name).starts_with("an event name is"),
            "{event_name}"
        );
        assert!(
            config_hint("invalid configuration: the idempotency key is empty")
                .starts_with("--idempotency-key")
        );
        assert!(config_hint("base_url must use https").starts_with("--base-url"));
        assert!(config_hint("no API key: pass --api-key").contains("FLOWFLEX_API_KEY"));
    }

    /// The message the SDK gives for a bad event name.
    fn event_name_error() -> String {
        let client = flowflex::blocking::Client::builder()
            .api_key("cik_x")
            .api_secret("s")
            .integration_code("ic")
            .base_url("http://127.0.0.1:1")
            .build()
            .expect("client");
        client
            .send_event("bad\u{1}name", flowflex::json!({}))
            .send()
            .expect_err("refused")
            .to_string()
    }
}
