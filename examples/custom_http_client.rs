//! Your own `reqwest::Client`: a proxy, timeouts, extra root certificates,
//! or one client shared with the rest of your program.
//!
//! ```text
//! cargo run --example custom_http_client
//! ```
//!
//! Sends through a client with a corporate proxy for https and shorter
//! timeouts. The emulator is plain http on loopback, so the proxy (which
//! does not exist here) is bypassed; against FlowFlex every request would
//! go through it.

#![allow(clippy::print_stdout)] // An example shows its results.

mod report;

use std::process::ExitCode;
use std::time::Duration;

use flowflex::{Attachment, Client};

#[tokio::main]
async fn main() -> ExitCode {
    report::exit(run().await)
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let emulator = flowflex_emulator::Emulator::start().await?;

    // Start from the SDK's builder: its TLS (rustls with ring), and
    // redirects off, so credentials never follow one to another host.
    let http = flowflex::http_client_builder()?
        // https requests go through the proxy; loopback never does.
        .proxy(
            reqwest::Proxy::https("http://proxy.internal.example:3128")?
                .no_proxy(reqwest::NoProxy::from_string("localhost,127.0.0.1")),
        )
        .connect_timeout(Duration::from_secs(5))
        .pool_idle_timeout(Duration::from_secs(30))
        .user_agent("my-service/1.0")
        .build()?;

    let client = Client::builder()
        .http_client(http)
        // The per-request timeout is the SDK's: it applies to each attempt.
        .timeout(Duration::from_secs(20))
        .max_retries(2)
        .api_key(emulator.api_key())
        .api_secret(emulator.api_secret())
        .integration_code(emulator.integration_code())
        .base_url(emulator.base_url())
        .build()?;

    let label = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/label.png");
    let sent = client
        .send_event(
            "label.printed",
            flowflex::json!({ "label": Attachment::from_path(label) }),
        )
        .await?;
    println!("sent through the custom client: {:?}", sent.uploaded_assets);
    let seen: Vec<String> = emulator
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    println!("requests the emulator saw: {seen:?}");
    Ok(())
}
