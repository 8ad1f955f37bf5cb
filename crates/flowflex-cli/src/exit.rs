//! The exit codes of `flowflex`, one per kind of failure, so a script can
//! tell a bad file from an outage.
//!
//! ```
//! use flowflex_cli::exit;
//!
//! assert_eq!(exit::NETWORK, 6);
//! assert!(exit::HELP.contains("6  network"));
//! ```

/// Everything worked (for `check`: every file passes).
pub const OK: u8 = 0;
/// An unexpected failure: the emulator could not start, the output could not
/// be written.
pub const FAILURE: u8 = 1;
/// The command line is wrong: an unknown flag, `--data` that is not a JSON
/// object, a malformed `--attach`.
pub const USAGE: u8 = 2;
/// The configuration is missing or invalid: credentials, base URL, event
/// name, idempotency key. Nothing was sent.
pub const CONFIG: u8 = 3;
/// A file cannot be sent: missing, unreadable, of a type FlowFlex refuses,
/// content that disagrees with its name, or too large. Nothing was sent.
pub const ATTACHMENT: u8 = 4;
/// FlowFlex (or its storage) answered with an error, after the retries the
/// error allows.
pub const API: u8 = 5;
/// FlowFlex could not be reached: connection refused or dropped, DNS, TLS,
/// timeout, after retries.
pub const NETWORK: u8 = 6;

/// The table printed at the end of `flowflex --help`.
pub const HELP: &str = "\
Exit codes:
  0  success (check: every file passes)
  1  unexpected failure (emulator cannot start, output cannot be written)
  2  usage: bad flags, --data not a JSON object, malformed --attach
  3  configuration: missing or invalid credentials, base URL, event name or key
  4  attachment: a file is missing, unreadable, refused or too large (nothing sent)
  5  API: FlowFlex answered with an error
  6  network: FlowFlex could not be reached, or timed out";

/// The exit code for an SDK error.
pub(crate) fn of(err: &flowflex::Error) -> u8 {
    use flowflex::Error;
    match err {
        Error::Config { .. } | Error::EventName { .. } => CONFIG,
        Error::Attachment { .. } => ATTACHMENT,
        Error::Payload { .. } => USAGE,
        Error::Upload { source, .. } => of(source),
        Error::Api { .. } | Error::InvalidResponse { .. } => API,
        Error::Network { .. } | Error::Timeout { .. } => NETWORK,
        _ => FAILURE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_help_table_matches_the_constants() {
        for (code, word) in [
            (OK, "success"),
            (FAILURE, "unexpected"),
            (USAGE, "usage"),
            (CONFIG, "configuration"),
            (ATTACHMENT, "attachment"),
            (API, "API"),
            (NETWORK, "network"),
        ] {
            assert!(HELP.contains(&format!("  {code}  {word}")), "{code} {word}");
        }
    }
}
