//! The `metrics` feature as an operator sees it: Prometheus text scraped
//! from the exporter's HTTP endpoint, checked against `stats()` and against
//! what the relay did. Its own binary: it installs the process's recorder.
//!
//! Run with `cargo test -p flowflex-outbox --features metrics --test metrics`.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use flowflex::{Client, RetryConfig};
use flowflex_emulator::{Emulator, Endpoint, Fault};
use flowflex_outbox::{ManualClock, Outbox};
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// Installs the exporter on a free port of loopback; its address.
fn install_exporter() -> SocketAddr {
    loop {
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port");
        let installed = PrometheusBuilder::new()
            .with_http_listener(addr)
            .set_buckets_for_metric(
                Matcher::Full("flowflex_outbox_delivery_seconds".into()),
                &[1.0, 60.0, 3600.0, 86_400.0],
            )
            .expect("buckets")
            .install();
        match installed {
            Ok(()) => return addr,
            // Taken between our probe and the exporter's bind: another.
            Err(BuildError::FailedToCreateHTTPListener(_)) => continue,
            Err(e) => panic!("installing the exporter: {e}"),
        }
    }
}

/// The exporter's page, fetched over HTTP as Prometheus scrapes it.
async fn scrape(addr: SocketAddr) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("the exporter listens");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .expect("request sent");
    let mut response = String::new();
    tokio::time::timeout(
        Duration::from_secs(10),
        stream.read_to_string(&mut response),
    )
    .await
    .expect("the exporter answers")
    .expect("response read");
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    body.to_owned()
}

/// The value of one series (`name` or `name{label="value"}`), if shown.
fn value(page: &str, series: &str) -> Option<f64> {
    page.lines().find_map(|line| {
        let rest = line.strip_prefix(series)?.strip_prefix(' ')?;
        Some(rest.trim().parse().expect("a number"))
    })
}

/// Scrapes until each series shows its value (the gauges change at the
/// relays' heartbeats); the page that does.
async fn scrape_until(addr: SocketAddr, want: &[(&str, f64)]) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let page = scrape(addr).await;
        if want.iter().all(|(s, v)| value(&page, s) == Some(*v)) {
            return page;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {want:?} on /metrics:\n{page}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_that_delivers_five_and_buries_one_shows_it_on_the_metrics_page() {
    let addr = install_exporter();
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = ManualClock::new();
    let outbox = Outbox::builder()
        .clock(clock.clone())
        .initial_backoff(Duration::from_secs(60))
        .jitter_seed(7)
        .open_sqlite(dir.path().join("o.db"))
        .await
        .expect("outbox");
    let emulator = Emulator::start().await.expect("emulator");
    // Every first attempt fails and is retried; then FlowFlex refuses one
    // event for good and takes the other five.
    emulator.inject(Fault::on(Endpoint::Events).status(503).times(6));
    emulator.inject(Fault::on(Endpoint::Events).status(422).code("REFUSED"));
    let client = Client::builder()
        .api_key(emulator.api_key())
        .api_secret(emulator.api_secret())
        .integration_code(emulator.integration_code())
        .base_url(emulator.base_url())
        .retry(RetryConfig::disabled())
        .build()
        .expect("client");

    let pdf = common::pdf(1, 5_000);
    let invoice = flowflex::Attachment::from_bytes(pdf.clone(), "invoice.pdf");
    outbox
        .enqueue("invoice.created", flowflex::json!({"invoice": invoice}))
        .idempotency_key("k-invoice")
        .await
        .expect("enqueued");
    for i in 1..=5 {
        outbox
            .enqueue("order.shipped", flowflex::json!({"order": i}))
            .idempotency_key(format!("k-{i}"))
            .await
            .expect("enqueued");
    }
    // A key stored already stores nothing, and counts nothing.
    outbox
        .enqueue("order.shipped", flowflex::json!({"order": 1}))
        .idempotency_key("k-1")
        .await
        .expect("enqueued");
    clock.advance(Duration::from_secs(120));

    let relay = outbox
        .relay(client)
        .poll_interval(Duration::from_millis(20))
        .lease(Duration::from_millis(300))
        .spawn();
    // The first attempts: six retries, six pending, the oldest 120 s old.
    let page = scrape_until(
        addr,
        &[
            ("flowflex_outbox_attempts_total{outcome=\"retry\"}", 6.0),
            ("flowflex_outbox_pending", 6.0),
            ("flowflex_outbox_oldest_pending_seconds", 120.0),
        ],
    )
    .await;
    let stats = outbox.stats().await.expect("stats");
    assert_eq!(stats.pending, 6);
    assert_eq!(stats.oldest_pending_age, Some(Duration::from_secs(120)));
    assert_eq!(value(&page, "flowflex_outbox_dead"), Some(0.0));
    assert_eq!(value(&page, "flowflex_outbox_enqueued_total"), Some(6.0));

    // An hour on, the retries are due.
    clock.advance(Duration::from_secs(3600));
    let report = relay.flush(Duration::from_secs(30)).await.expect("flush");
    assert_eq!((report.delivered, report.dead.len()), (5, 1));
    let page = scrape_until(
        addr,
        &[
            ("flowflex_outbox_pending", 0.0),
            ("flowflex_outbox_dead", 1.0),
        ],
    )
    .await;
    let stats = outbox.stats().await.expect("stats");
    let expected = [
        ("flowflex_outbox_attempts_total{outcome=\"delivered\"}", 5.0),
        ("flowflex_outbox_attempts_total{outcome=\"dead\"}", 1.0),
        ("flowflex_outbox_attempts_total{outcome=\"retry\"}", 6.0),
        ("flowflex_outbox_pending", stats.pending as f64),
        ("flowflex_outbox_dead", stats.dead as f64),
        ("flowflex_outbox_relays", stats.relays as f64),
        ("flowflex_outbox_oldest_pending_seconds", 0.0),
        ("flowflex_outbox_enqueued_total", 6.0),
        ("flowflex_outbox_delivery_seconds_count", 5.0),
        // Each of the five waited 120 s, then an hour, on the outbox's clock.
        ("flowflex_outbox_delivery_seconds_sum", 5.0 * 3720.0),
        ("flowflex_outbox_delivery_seconds_bucket{le=\"3600\"}", 0.0),
        ("flowflex_outbox_delivery_seconds_bucket{le=\"86400\"}", 5.0),
        // The relay's requests, through flowflex's own metrics: the
        // invoice uploaded once (its retry reused the upload).
        ("flowflex_uploads_total{outcome=\"ok\"}", 1.0),
        ("flowflex_upload_bytes_total", pdf.len() as f64),
    ];
    let shown: Vec<(&str, Option<f64>)> = expected
        .iter()
        .map(|(series, _)| (*series, value(&page, series)))
        .collect();
    let want: Vec<(&str, Option<f64>)> = expected.iter().map(|(s, v)| (*s, Some(*v))).collect();
    assert_eq!(shown, want, "{page}");
    assert_eq!((stats.pending, stats.dead, stats.relays), (0, 1, 1));
    // What the exporter describes, and no label beyond the bounded ones.
    assert!(
        page.contains("# TYPE flowflex_outbox_attempts_total counter"),
        "{page}"
    );
    assert!(page.contains("# HELP flowflex_outbox_pending "), "{page}");
    for line in page.lines().filter(|l| l.starts_with("flowflex_")) {
        if let Some((_, labels)) = line.split_once('{') {
            let label = labels.split('=').next().unwrap_or_default();
            assert!(["outcome", "endpoint", "le"].contains(&label), "{line}");
        }
    }
    relay.shutdown().await;
}
