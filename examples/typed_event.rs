//! A typed event: `#[derive(FlowFlexEvent)]` on your own struct.
//!
//! ```text
//! cargo run --example typed_event
//! ```
//!
//! The derive gives the struct its event name and the rules of its files
//! (type, size), checked when the program compiles (a `max_size` over
//! FlowFlex's limit does not build) and again against the real files before
//! any request. Sends to the FlowFlex emulator, started in this process.

#![allow(clippy::print_stdout)] // An example shows its results.

mod report;

use std::process::ExitCode;

use flowflex::{Attachment, Client, FlowFlexEvent};
use serde::Serialize;

/// `{{trigger.invoice}}`, `{{trigger.photos[0]}}`, `{{trigger.customer.name}}`
/// in the flow.
#[derive(Serialize, FlowFlexEvent)]
#[flowflex(event = "order.shipped")]
struct OrderShipped {
    #[flowflex(mime = "application/pdf", max_size = "10 MB")]
    invoice: Attachment,
    #[flowflex(mime = "image/*")]
    photos: Vec<Attachment>,
    customer: Customer,
}

#[derive(Serialize)]
struct Customer {
    name: String,
}

#[tokio::main]
async fn main() -> ExitCode {
    report::exit(run().await)
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let emulator = flowflex_emulator::Emulator::start().await?;
    let client = Client::builder()
        .api_key(emulator.api_key())
        .api_secret(emulator.api_secret())
        .integration_code(emulator.integration_code())
        .base_url(emulator.base_url())
        .build()?;

    let assets = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets");
    let event = OrderShipped {
        invoice: Attachment::from_path(assets.join("invoice.pdf")),
        photos: vec![Attachment::from_path(assets.join("photo.jpg"))],
        customer: Customer { name: "Ada".into() },
    };
    // What the type promises, without sending anything.
    println!("event {:?}", OrderShipped::EVENT);
    println!("files at {:?}", OrderShipped::attachment_paths());

    let sent = event
        .send(&client)
        .idempotency_key("order-7-shipped")
        .await?;
    println!("uploaded {:?}", sent.uploaded_assets);

    // A PNG is an image: it passes `image/*`. A PNG as the invoice does not
    // pass `application/pdf`, and nothing is sent.
    let wrong = OrderShipped {
        invoice: Attachment::from_path(assets.join("label.png")),
        photos: vec![],
        customer: Customer { name: "Bob".into() },
    };
    let refused = wrong
        .send(&client)
        .await
        .err()
        .ok_or("the PNG invoice was sent")?;
    println!("refused before any request: {refused}");
    assert_eq!(emulator.events().len(), 1);
    Ok(())
}
