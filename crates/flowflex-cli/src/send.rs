//! `flowflex send`: build the payload, send it with the blocking client,
//! print the result.

use std::io::{IsTerminal as _, Write as _};
use std::sync::Arc;
use std::time::Duration;

use flowflex::blocking::Client;
use indicatif::ProgressDrawTarget;
use serde_json::json;

use crate::args::{ConfigArgs, SendArgs};
use crate::exit;
use crate::payload;
use crate::progress::Bars;
use crate::report::Failure;

pub(crate) fn run(args: &SendArgs, verbose: bool) -> Result<u8, Failure> {
    let data = payload::read_data(args.data.as_deref()).map_err(Failure::Usage)?;
    let payload = payload::attach(data, &args.attach).map_err(Failure::Usage)?;
    let client = client(&args.config)?;

    let mut send = client.send_event(&args.event, payload);
    if let Some(key) = &args.idempotency_key {
        send = send.idempotency_key(key);
    }
    // Bars only for a person watching: not in a pipe or a CI log, and not
    // mixed into --verbose's log lines.
    let bars = (std::io::stderr().is_terminal() && !verbose)
        .then(|| Arc::new(Bars::new(ProgressDrawTarget::stderr())));
    if let Some(bars) = &bars {
        let bars = Arc::clone(bars);
        send = send.on_progress(move |p| bars.update(p));
    }
    let sent = send.send().inspect_err(|_| {
        if let Some(bars) = &bars {
            bars.abandon();
        }
    })?;

    let result = json!({
        "response": sent.response,
        "uploaded_assets": sent.uploaded_assets,
        "idempotency_key": sent.idempotency_key,
    });
    let text = serde_json::to_string_pretty(&result).unwrap_or_else(|_| result.to_string());
    writeln!(std::io::stdout().lock(), "{text}").map_err(|e| Failure::Other {
        message: format!("the event was sent, but its result could not be written to stdout: {e}"),
        hint: "its idempotency key makes sending it again safe".to_owned(),
    })?;
    Ok(exit::OK)
}

/// A client from the flags and environment; says which flag or variable is
/// missing in the CLI's words.
pub(crate) fn client(config: &ConfigArgs) -> Result<Client, flowflex::Error> {
    let required = |value: &Option<String>, what: &str, flag: &str, env: &str| {
        value.clone().ok_or_else(|| flowflex::Error::Config {
            message: format!("no {what}: pass --{flag} or set {env}"),
        })
    };
    Client::builder()
        .api_key(required(
            &config.api_key,
            "API key",
            "api-key",
            "FLOWFLEX_API_KEY",
        )?)
        .api_secret(required(
            &config.api_secret,
            "API secret",
            "api-secret",
            "FLOWFLEX_API_SECRET",
        )?)
        .integration_code(required(
            &config.integration_code,
            "integration code",
            "integration-code",
            "FLOWFLEX_INTEGRATION_CODE",
        )?)
        .base_url(&config.base_url)
        .timeout(Duration::from_secs(config.timeout))
        .build()
}
