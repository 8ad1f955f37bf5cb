//! The `metrics` feature of `flowflex`: sends, uploads and retries as a
//! recorder sees them, against the emulator. Its own binary: it installs
//! the process's recorder, and one test keeps the counts its own.
//!
//! Run with `cargo test -p tests --features metrics --test metrics`.

use std::collections::BTreeMap;

use flowflex::{Attachment, Mime};
use flowflex_emulator::{Endpoint, Fault};
use metrics_util::MetricKind;
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use tests::Harness;

/// A metric as `name{label="value",...}`, labels sorted.
fn key(name: &str, labels: &[(&str, &str)]) -> String {
    let mut labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    labels.sort();
    format!("{name}{{{}}}", labels.join(","))
}

/// Counters by key, and each histogram's number of samples by key.
fn read(snapshotter: &metrics_util::debugging::Snapshotter) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for (composite, _, _, value) in snapshotter.snapshot().into_vec() {
        let k = composite.key();
        let labels: Vec<(&str, &str)> = k.labels().map(|l| (l.key(), l.value())).collect();
        for (label, _) in &labels {
            assert!(
                ["outcome", "endpoint"].contains(label),
                "{}: label {label} is not one of the bounded ones",
                k.name()
            );
        }
        let n = match (composite.kind(), value) {
            (MetricKind::Counter, DebugValue::Counter(n)) => n,
            (MetricKind::Histogram, DebugValue::Histogram(samples)) => samples.len() as u64,
            (kind, value) => panic!("{}: unexpected {kind:?} {value:?}", k.name()),
        };
        out.insert(key(k.name(), &labels), n);
    }
    out
}

#[tokio::test]
async fn sends_uploads_and_retries_are_counted_with_bounded_labels() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder
        .install()
        .expect("the only recorder of this process");
    let h = Harness::start().await;
    let sizes: Vec<u64> = [10_000, 20_000, 30_000, 40_000]
        .iter()
        .map(|&n| tests::sample(Mime::Pdf, n).len() as u64)
        .collect();
    let file = |i: usize| {
        h.sample_file(
            &format!("secret-name-{i}.pdf"),
            Mime::Pdf,
            [10_000, 20_000, 30_000, 40_000][i],
        )
    };

    // Delivered after the event POST is refused once with a 503.
    h.emulator.inject(Fault::on(Endpoint::Events).status(503));
    h.client
        .send_event("a", flowflex::json!({"f": Attachment::from_path(file(0))}))
        .await
        .expect("sent after a retry");
    // Delivered after the storage PUT fails once.
    h.emulator.inject(Fault::on(Endpoint::Storage).status(500));
    h.client
        .send_event("b", flowflex::json!({"f": Attachment::from_path(file(1))}))
        .await
        .expect("sent after a retry");
    // Refused by FlowFlex for good: not retried.
    h.emulator
        .inject(Fault::on(Endpoint::Events).status(400).code("BAD_PAYLOAD"));
    h.client
        .send_event("c", flowflex::json!({"order": 1}))
        .await
        .expect_err("a 400 fails the send");
    // Storage refuses the file: the upload fails, and so does the send.
    h.emulator.inject(Fault::on(Endpoint::Storage).status(403));
    h.client
        .send_event("d", flowflex::json!({"f": Attachment::from_path(file(2))}))
        .await
        .expect_err("a refused upload fails the send");
    // Refused before any request: still a send that ended in an error.
    h.client
        .send_event("no spaces at the end ", flowflex::json!({}))
        .await
        .expect_err("a bad event name");
    // An upload alone is an upload, not a send.
    h.client
        .upload(&Attachment::from_path(file(3)))
        .await
        .expect("uploaded");

    let got = read(&snapshotter);
    let want: BTreeMap<String, u64> = [
        (key("flowflex_events_sent_total", &[("outcome", "ok")]), 2),
        (
            key("flowflex_events_sent_total", &[("outcome", "error")]),
            3,
        ),
        (key("flowflex_send_seconds", &[("outcome", "ok")]), 2),
        (key("flowflex_send_seconds", &[("outcome", "error")]), 3),
        (key("flowflex_uploads_total", &[("outcome", "ok")]), 3),
        (key("flowflex_uploads_total", &[("outcome", "error")]), 1),
        (
            key("flowflex_upload_bytes_total", &[]),
            sizes[0] + sizes[1] + sizes[3],
        ),
        (key("flowflex_retries_total", &[("endpoint", "event")]), 1),
        (key("flowflex_retries_total", &[("endpoint", "storage")]), 1),
    ]
    .into_iter()
    .collect();
    assert_eq!(got, want);
    // The emulator saw what the counts say: two events, five PUTs (three
    // stored, one failed and retried, one refused).
    assert_eq!(h.emulator.events().len(), 2);
}
