//! Tracing output at every level, ours and our dependencies', holds no
//! secret and no presigned URL; what is logged when a request fails. (In a
//! test binary of their own: tracing caches per-callsite interest
//! globally, so a concurrent test without a subscriber could hide spans.)

use std::io::Write;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use flowflex::{Attachment, Mime};
use flowflex_emulator::{Emulator, Endpoint, Fault};
use tests::{builder_for, sample};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn trace_logs_of_a_send_with_retries_hold_no_secret_and_no_presigned_url() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let secret = "s3cr3t-do-not-log";
    let emulator = Emulator::builder()
        .api_secret(secret)
        .start()
        .await
        .unwrap();
    emulator.inject(Fault::on(Endpoint::Storage).status(503));
    emulator.inject(Fault::on(Endpoint::Events).drop_connection());
    let client = builder_for(&emulator).build().unwrap();
    let sent = client
        .send_event(
            "order.shipped",
            flowflex::json!({"invoice": Attachment::from_bytes(sample(Mime::Pdf, 5000), "invoice.pdf")}),
        )
        .await
        .unwrap();
    let bad = builder_for(&emulator)
        .api_secret("another-secret-1")
        .build()
        .unwrap();
    let err = bad.send_event("x", flowflex::json!({})).await.unwrap_err();
    tracing::error!(%err, "logged by the application");

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("flowflex.send"), "sends have a span:\n{logs}");
    assert!(
        logs.contains("flowflex.upload"),
        "uploads have a span:\n{logs}"
    );
    assert!(logs.contains("retrying"), "retries are logged:\n{logs}");
    let token = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{secret}", emulator.api_key()));
    for needle in [
        secret,
        token.as_str(),
        "another-secret-1",
        "token=",
        "?token",
    ] {
        assert!(
            !logs.contains(needle),
            "{needle:?} leaked into the logs:\n{logs}"
        );
    }
    let asset_id = sent.uploaded_assets["invoice"].as_str();
    let upload_tokens: Vec<_> = emulator
        .requests()
        .iter()
        .filter(|r| r.endpoint == Endpoint::Storage && r.path.contains(asset_id))
        .map(|r| r.path.clone())
        .collect();
    assert!(!upload_tokens.is_empty());
}

/// A failed request is logged at debug once it is the request's last word:
/// a refusal that is not retried at once, every attempt after the first,
/// never a first attempt that will be retried (that one is a "retrying"
/// warning).
#[tokio::test(flavor = "current_thread")]
async fn a_failed_request_is_logged_at_debug_unless_it_is_a_first_attempt_to_be_retried() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let emulator = Emulator::start().await.unwrap();
    let client = builder_for(&emulator)
        .retry(
            flowflex::RetryConfig::default()
                .max_retries(2)
                .initial_backoff(std::time::Duration::from_millis(1))
                .jitter_seed(1),
        )
        .build()
        .unwrap();
    let failed_lines = || {
        let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
        logs.lines()
            .filter(|l| l.contains("request failed"))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };

    // Retried once, then accepted: no "request failed".
    emulator.inject(Fault::on(Endpoint::Events).status(503));
    client.send_event("e", flowflex::json!({})).await.unwrap();
    assert_eq!(failed_lines(), Vec::<String>::new());

    // Refused for good at the first attempt: one line.
    emulator.inject(Fault::on(Endpoint::Events).status(400));
    client
        .send_event("e", flowflex::json!({}))
        .await
        .unwrap_err();
    let lines = failed_lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("status=400"), "{lines:?}");

    // 503 on all three attempts: the second and the third are logged.
    emulator.inject(Fault::on(Endpoint::Events).status(503).times(3));
    client
        .send_event("e", flowflex::json!({}))
        .await
        .unwrap_err();
    let lines = failed_lines();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(
        lines[1..].iter().all(|l| l.contains("status=503")),
        "{lines:?}"
    );
}
