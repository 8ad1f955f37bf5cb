//! The blocking client: the same API without async, for scripts, CLIs and
//! code that is not on a runtime.
//!
//! ```text
//! cargo run --example blocking
//! ```
//!
//! Needs the `blocking` feature:
//! `flowflex = { git = "https://github.com/flowflex/flowflex-rs", features = ["blocking"] }`.
//! The emulator it sends to runs on a runtime of its own, in a background
//! thread: `main` itself is plain synchronous code.

#![allow(clippy::print_stdout)] // An example shows its results.

mod report;

use std::process::ExitCode;

use flowflex::Attachment;
use flowflex::blocking::Client;

fn main() -> ExitCode {
    report::exit(run())
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    // The emulator needs a runtime; your program would talk to FlowFlex
    // instead (`Client::from_env()`), and need none.
    let runtime = tokio::runtime::Runtime::new()?;
    let emulator = runtime.block_on(flowflex_emulator::Emulator::start())?;

    let client = Client::builder()
        .api_key(emulator.api_key())
        .api_secret(emulator.api_secret())
        .integration_code(emulator.integration_code())
        .base_url(emulator.base_url())
        .build()?;
    let invoice = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/invoice.pdf");
    let sent = client
        .send_event(
            "invoice.created",
            flowflex::json!({
                "invoice": Attachment::from_path(invoice), // {{trigger.invoice}}
                "amount": 42.5,
            }),
        )
        .idempotency_key("invoice-42-created")
        .send()?;
    println!("idempotency key {}", sent.idempotency_key);
    println!("uploaded {:?}", sent.uploaded_assets);
    println!("the emulator received {}", emulator.events()[0].payload);
    Ok(())
}
