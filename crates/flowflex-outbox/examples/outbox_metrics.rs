//! The outbox's metrics in Prometheus text on `/metrics`.
//!
//! ```text
//! cargo run -p flowflex-outbox --example outbox_metrics --features metrics
//! ```
//!
//! Installs `metrics-exporter-prometheus` (the application's choice: the
//! library only speaks to the `metrics` facade), opens a SQLite outbox in a
//! temporary directory, enqueues six events and lets a relay deliver them
//! to the in-process FlowFlex emulator, which refuses one for good (a dead
//! letter). Then it reads its own `/metrics` and prints the outbox's lines.
//! With `-- --serve` it keeps serving them until stopped (Ctrl-C); the
//! address is `METRICS_ADDR` (default: a free port on 127.0.0.1).
//! docs/operations.md says what to alert on.

#![allow(clippy::print_stdout)] // An example shows its results.

// The examples' shared ending: errors as `error:` and `hint:` lines.
#[path = "../../../examples/report.rs"]
mod report;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use flowflex::{Attachment, Client, RetryConfig};
use flowflex_emulator::{Emulator, Endpoint, Fault};
use flowflex_outbox::Outbox;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

#[tokio::main]
async fn main() -> ExitCode {
    report::exit(run().await)
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let addr: SocketAddr = match std::env::var("METRICS_ADDR") {
        Ok(addr) => addr.parse()?,
        // Any free port, so that the example runs beside anything.
        Err(_) => std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?,
    };
    // Histograms as Prometheus histograms (buckets add up across
    // replicas; the exporter's default, a summary, does not).
    PrometheusBuilder::new()
        .with_http_listener(addr)
        .set_buckets_for_metric(
            Matcher::Full("flowflex_outbox_delivery_seconds".into()),
            &[
                0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 14_400.0,
                86_400.0,
            ],
        )?
        .set_buckets_for_metric(
            Matcher::Full("flowflex_send_seconds".into()),
            &[0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0],
        )?
        .install()?;
    println!("Prometheus metrics on http://{addr}/metrics");

    let dir = tempfile::tempdir()?;
    let outbox = Outbox::open_sqlite(dir.path().join("outbox.db")).await?;
    let invoice =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/assets/invoice.pdf");
    outbox
        .enqueue(
            "invoice.created",
            flowflex::json!({"invoice": Attachment::from_path(&invoice)}),
        )
        .idempotency_key("metrics-example-invoice")
        .await?;
    for order in 1..=5 {
        outbox
            .enqueue("order.shipped", flowflex::json!({"order_id": order}))
            .idempotency_key(format!("metrics-example-order-{order}"))
            .await?;
    }

    let emulator = Emulator::start().await?;
    // FlowFlex refuses one event for good: it becomes a dead letter.
    emulator.inject(
        Fault::on(Endpoint::Events)
            .status(422)
            .code("EXAMPLE_REFUSED"),
    );
    let client = Client::builder()
        .api_key(emulator.api_key())
        .api_secret(emulator.api_secret())
        .integration_code(emulator.integration_code())
        .base_url(emulator.base_url())
        .retry(RetryConfig::disabled())
        .build()?;
    let relay = outbox.relay(client).spawn();
    let report = relay.flush(Duration::from_secs(60)).await?;
    println!(
        "Delivered {}, dead letters {}",
        report.delivered,
        report.dead.len()
    );

    // The gauges come from the database at each relay heartbeat (every
    // 5 s at most): wait for the one after the deliveries.
    let stats = outbox.stats().await?;
    let settled = format!("flowflex_outbox_dead {}", stats.dead);
    let mut text = scrape(addr).await?;
    for _ in 0..100 {
        if text.lines().any(|l| l == settled) && text.contains("flowflex_outbox_pending 0") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        text = scrape(addr).await?;
    }
    for line in text.lines().filter(|l| l.starts_with("flowflex_")) {
        println!("{line}");
    }

    if std::env::args().any(|a| a == "--serve") {
        println!("Serving http://{addr}/metrics until stopped (Ctrl-C)");
        std::future::pending::<()>().await;
    }
    relay.shutdown().await;
    Ok(())
}

/// `GET /metrics`, as Prometheus would scrape it.
async fn scrape(addr: SocketAddr) -> Result<String, Box<dyn std::error::Error>> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await?;
    let mut response = String::new();
    tokio::time::timeout(
        Duration::from_secs(10),
        stream.read_to_string(&mut response),
    )
    .await??;
    let (head, body) = response.split_once("\r\n\r\n").ok_or("no HTTP response")?;
    if !head.starts_with("HTTP/1.1 200") {
        return Err(format!("/metrics answered {head}").into());
    }
    Ok(body.to_owned())
}
