//! Upload progress: `on_progress` reports each file's bytes as they go out.
//!
//! ```text
//! cargo run --example progress
//! ```
//!
//! Sends a 3 MiB PDF (written to a temporary file) and a photo to the emulator, and
//! prints a line each time a file's progress crosses another quarter. The
//! `flowflex` CLI draws its progress bars from the same callback.

#![allow(clippy::print_stdout)] // An example shows its results.

mod report;

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use flowflex::{Attachment, Client};

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

    // A 3 MiB PDF on disk (a PDF may end in blanks): files stream from
    // disk a chunk at a time, so progress moves.
    let assets = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets");
    let mut big = std::fs::read(assets.join("invoice.pdf"))?;
    big.resize(3 * 1024 * 1024, b' ');
    let report = std::env::temp_dir().join(format!("flowflex-progress-{}.pdf", std::process::id()));
    std::fs::write(&report, big)?;

    // The callback runs on the upload tasks: share state through a Mutex.
    let shown: Arc<Mutex<HashMap<String, u64>>> = Arc::default();
    let seen = Arc::clone(&shown);
    let sent = client
        .send_event(
            "report.ready",
            flowflex::json!({
                "report": Attachment::from_path(&report).with_filename("report.pdf"),
                "cover": Attachment::from_path(assets.join("photo.jpg")),
            }),
        )
        .on_progress(move |p| {
            // An empty file is done from the start.
            let quarter = (p.sent * 4).checked_div(p.total).unwrap_or(4);
            let mut shown = seen
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let last = shown.entry(p.path.clone()).or_insert(u64::MAX);
            if *last != quarter {
                *last = quarter;
                println!(
                    "{:<7} {:<11} {:>3}% ({}/{} bytes)",
                    p.path,
                    p.filename,
                    quarter * 25,
                    p.sent,
                    p.total
                );
            }
        })
        .await;
    std::fs::remove_file(&report)?;
    sent?;
    println!("sent; {} files stored", emulator.assets().len());
    Ok(())
}
