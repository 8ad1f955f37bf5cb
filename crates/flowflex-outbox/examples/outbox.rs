//! Store events durably, then deliver them: the outbox.
//!
//! ```text
//! cargo run --example outbox
//! ```
//!
//! Opens a SQLite outbox in a temporary directory, enqueues three events
//! (one with a PDF, one in a transaction that commits, one in a transaction
//! that rolls back), starts the FlowFlex emulator in-process while it is
//! "down" for a moment, then lets a relay deliver the backlog and prints
//! what arrived. With `FLOWFLEX_BASE_URL` (and the other `FLOWFLEX_*`
//! settings) it delivers to that server instead.

#![allow(clippy::print_stdout)] // An example shows its results.

// The examples' shared ending: errors as `error:` and `hint:` lines.
#[path = "../../../examples/report.rs"]
mod report;

use flowflex_outbox::sqlx;
use std::process::ExitCode;
use std::time::Duration;

use flowflex::{Attachment, Client};
use flowflex_emulator::{Emulator, Endpoint, Fault};
use flowflex_outbox::Outbox;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    report::exit(run().await)
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("outbox.db");
    let outbox = Outbox::open_sqlite(&path).await?;
    println!("Outbox at {}", path.display());

    let invoice =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/assets/invoice.pdf");
    // Durable once this returns: the PDF was copied into the outbox.
    let id = outbox
        .enqueue(
            "invoice.created",
            flowflex::json!({
                "invoice": Attachment::from_path(&invoice),
                "customer_id": "cust_123",
            }),
        )
        .idempotency_key("example-invoice-1")
        .await?;
    println!("Enqueued invoice.created as #{id}");

    // Your own table and the event, in one transaction.
    let pool = outbox.sqlite_pool().ok_or("a SQLite outbox has a pool")?;
    sqlx::query("CREATE TABLE orders (id INTEGER PRIMARY KEY, status TEXT)")
        .execute(pool)
        .await?;
    for (order, commit) in [(42, true), (43, false)] {
        let mut tx = pool.begin().await?;
        sqlx::query("INSERT INTO orders VALUES ($1, 'shipped')")
            .bind(order)
            .execute(&mut *tx)
            .await?;
        outbox
            .enqueue("order.shipped", flowflex::json!({"order_id": order}))
            .idempotency_key(format!("example-order-{order}-shipped"))
            .in_transaction(&mut tx)
            .await?;
        if commit {
            tx.commit().await?;
            println!("Order {order} shipped: committed, its event is stored");
        } else {
            tx.rollback().await?;
            println!("Order {order}: rolled back, its event is gone with it");
        }
    }
    let stats = outbox.stats().await?;
    println!("Pending before delivery: {}", stats.pending);

    let (client, emulator) = if std::env::var_os("FLOWFLEX_BASE_URL").is_some() {
        (Client::from_env()?, None)
    } else {
        let emulator = Emulator::start().await?;
        // FlowFlex is "down" for the first few requests: the outbox retries.
        emulator.inject(Fault::on(Endpoint::Events).status(503).times(3));
        let client = Client::builder()
            .api_key(emulator.api_key())
            .api_secret(emulator.api_secret())
            .integration_code(emulator.integration_code())
            .base_url(emulator.base_url())
            .max_retries(0)
            .build()?;
        eprintln!("Started the FlowFlex emulator at {}", emulator.base_url());
        (client, Some(emulator))
    };

    let relay = outbox.relay(client).spawn();
    relay.flush(Duration::from_secs(60)).await?;
    relay.shutdown().await;
    let stats = outbox.stats().await?;
    println!(
        "Delivered: {}, pending: {}, dead letters: {}",
        stats.delivered, stats.pending, stats.dead
    );

    if let Some(emulator) = emulator {
        for event in emulator.events() {
            println!(
                "FlowFlex received {} (key {}): {}",
                event.event,
                event.idempotency_key.as_deref().unwrap_or("-"),
                event.payload
            );
        }
    }
    Ok(())
}
