//! Send an event with several attachments.
//!
//! ```text
//! cargo run --example quickstart
//! ```
//!
//! Without `FLOWFLEX_BASE_URL` it starts the FlowFlex emulator in-process and
//! sends to it, then prints the payload the server received. With
//! `FLOWFLEX_BASE_URL` (and `FLOWFLEX_API_KEY`, `FLOWFLEX_API_SECRET`,
//! `FLOWFLEX_INTEGRATION_CODE`) it sends to that server instead, e.g. one
//! started with `flowflex emulator` (docs/emulator.md).
//!
//! Set `RUST_LOG=flowflex=debug` to watch the uploads and retries.

#![allow(clippy::print_stdout)] // An example shows its results.

mod report;

use std::process::ExitCode;

use flowflex::{Attachment, Client, FlowFlexEvent};
use serde::Serialize;

/// A part of the event: no event name, nested under `order`.
#[derive(Serialize, FlowFlexEvent)]
struct Order {
    id: String,
    receipt: Attachment,
}

/// The event: its name, its files with their limits (checked when this
/// builds, and again against the real files before any request), and the
/// paths a flow reads them by.
#[derive(Serialize, FlowFlexEvent)]
#[flowflex(event = "order.shipped")]
struct OrderShipped {
    #[flowflex(mime = "application/pdf", max_size = "10 MB")]
    invoice: Attachment,
    #[flowflex(mime = "image/png")]
    label: Attachment,
    #[flowflex(mime = "image/*")]
    gallery: Vec<Attachment>,
    order: Order,
    note: String,
}

/// The sample files shipped with the examples.
fn asset(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("assets")
        .join(name)
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    // Errors are printed with their advice (`Display`), not as `Debug`.
    report::exit(run().await)
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    // A real server if configured, else the emulator in this process.
    let (client, emulator) = if std::env::var_os("FLOWFLEX_BASE_URL").is_some() {
        (Client::from_env()?, None)
    } else {
        let emulator = flowflex_emulator::Emulator::start().await?;
        let client = Client::builder()
            .api_key(emulator.api_key())
            .api_secret(emulator.api_secret())
            .integration_code(emulator.integration_code())
            .base_url(emulator.base_url())
            .build()?;
        eprintln!("Started the FlowFlex emulator at {}", emulator.base_url());
        (client, Some(emulator))
    };

    // A PDF from disk, a label compiled into the binary, a gallery with the
    // same photo twice (uploaded once), a nested receipt from memory.
    let photo = Attachment::from_path(asset("photo.jpg"));
    let event = OrderShipped {
        invoice: Attachment::from_path(asset("invoice.pdf")),
        label: flowflex::include_attachment!("assets/label.png"),
        gallery: vec![photo.clone(), photo],
        order: Order {
            id: "ord_42".into(),
            receipt: Attachment::from_bytes(std::fs::read(asset("invoice.pdf"))?, "receipt.pdf"),
        },
        note: "Deliver to the back door".into(),
    };
    println!(
        "{} carries files at {:?}",
        OrderShipped::EVENT,
        OrderShipped::attachment_paths()
    );
    let sent = event
        .send(&client)
        .idempotency_key("quickstart-ord_42")
        .await?;

    println!("Uploaded assets (flow path -> asset id):");
    for (path, id) in &sent.uploaded_assets {
        println!("  {{{{trigger.{path}}}}} -> {id}");
    }
    println!("Idempotency key: {}", sent.idempotency_key);
    println!(
        "Response from the events endpoint:\n{}",
        serde_json::to_string_pretty(&sent.response)?
    );
    if let Some(emulator) = emulator {
        let events = emulator.events();
        let event = events.first().ok_or("the emulator recorded no event")?;
        println!(
            "Payload the server received for \"{}\":\n{}",
            event.event,
            serde_json::to_string_pretty(&event.payload)?
        );
        for stored in emulator.assets() {
            println!(
                "  stored {} {:>6} bytes {:<16} sha256 {}…",
                stored.asset_id,
                stored.size,
                stored.mime,
                &stored.sha256[..16]
            );
        }
    }
    Ok(())
}
