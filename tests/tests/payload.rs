//! Payloads own their attachments: they can be sent again after any failed,
//! refused or dropped send; they print placeholders, never content or local
//! paths; a plain `serde_json::json!` holding an attachment fails at the
//! first send with a message naming `flowflex::json!`; a send is `'static`;
//! a derived event is serialized once per send, and a payload (owned,
//! borrowed or nested) once, never copied into a tree first.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use flowflex::{Attachment, AttachmentErrorKind, Error, FlowFlexEvent, Mime};
use flowflex_emulator::{Endpoint, Fault};
use tests::{Harness, sample};

fn reader(bytes: Vec<u8>, name: &str) -> Attachment {
    Attachment::from_reader(std::io::Cursor::new(bytes), name)
}

/// A payload with every kind of source: a file, bytes, a buffered reader
/// and a sized (streamed) one.
fn every_source(h: &Harness) -> flowflex::Payload {
    let pdf = sample(Mime::Pdf, 2_000);
    flowflex::json!({
        "file": Attachment::from_path(h.sample_file("label.png", Mime::Png, 1_000)),
        "bytes": Attachment::from_bytes(pdf.clone(), "invoice.pdf"),
        "buffered": reader(pdf.clone(), "buffered.pdf"),
        "streamed": reader(pdf.clone(), "streamed.pdf").with_size(pdf.len() as u64),
    })
}

async fn assert_sent_whole(h: &Harness, sent: &flowflex::SendEventResult) {
    assert_eq!(sent.uploaded_assets.len(), 4);
    for id in sent.uploaded_assets.values() {
        let asset = h.emulator.asset(id.as_str()).expect("the asset exists");
        assert!(asset.uploaded, "{id} was uploaded");
        assert_eq!(Some(asset.size), asset.declared_size, "{id} is whole");
    }
}

#[tokio::test]
async fn a_payload_is_sent_again_after_a_retryable_failure_before_any_byte() {
    let h = Harness::with(|b| b.max_retries(0)).await;
    let payload = every_source(&h);
    h.emulator
        .inject(Fault::on(Endpoint::UploadUrl).status(503).times(4));
    let err = h
        .client
        .send_event("e", &payload)
        .await
        .expect_err("the upload URL is refused");
    assert!(err.is_retryable(), "{err}");
    assert!(h.emulator.events().is_empty());
    // The same value, readers included, goes through on the next try.
    let sent = h.client.send_event("e", &payload).await.expect("resent");
    assert_sent_whole(&h, &sent).await;
    assert_eq!(h.emulator.events().len(), 1);
}

#[tokio::test]
async fn a_payload_is_sent_again_after_a_refused_or_dropped_send() {
    let h = Harness::start().await;
    let payload = every_source(&h);
    // Refused locally: a bad event name; nothing is read or sent.
    let err = h
        .client
        .send_event("bad\nname", &payload)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::EventName { .. }), "{err}");
    // Built and dropped unawaited.
    drop(h.client.send_event("e", &payload));
    drop(h.client.send_event("e", payload.clone()));
    assert!(h.emulator.requests().is_empty());
    let sent = h.client.send_event("e", payload).await.expect("sent");
    assert_sent_whole(&h, &sent).await;
}

#[tokio::test]
async fn a_streamed_reader_is_refused_once_an_upload_consumed_it() {
    let h = Harness::with(|b| b.max_retries(0)).await;
    let pdf = sample(Mime::Pdf, 1 << 20);
    let size = pdf.len() as u64;
    let payload = flowflex::json!({"doc": reader(pdf, "doc.pdf").with_size(size)});
    h.emulator.inject(Fault::on(Endpoint::Storage).status(500));
    let first = h.client.send_event("e", &payload).await.unwrap_err();
    assert!(matches!(first, Error::Upload { .. }), "{first}");
    let again = h.client.send_event("e", &payload).await.unwrap_err();
    assert_eq!(
        again.attachment_kind(),
        Some(AttachmentErrorKind::Consumed),
        "{again}"
    );
    assert_eq!(again.path(), Some("doc"));
    assert!(
        again
            .to_string()
            .contains("already streamed by an earlier send"),
        "says exactly what happened: {again}"
    );
}

#[tokio::test]
async fn plain_serde_json_values_with_attachments_fail_at_the_first_send() {
    let h = Harness::start().await;
    // Never a panic in user code: the plain macro builds the value.
    let plain = serde_json::json!({
        "invoice": Attachment::from_bytes(sample(Mime::Pdf, 10), "invoice.pdf"),
    });
    let err = h.client.send_event("e", &plain).await.unwrap_err();
    assert!(matches!(err, Error::Payload { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("flowflex::json!"),
        "names the replacement: {text}"
    );
    assert!(text.contains("at `invoice`"), "names the place: {text}");
    assert!(h.emulator.requests().is_empty(), "nothing was sent");
}

#[test]
fn debug_and_display_show_placeholders_never_content_or_paths() {
    let dir = tempfile::tempdir().unwrap();
    let secret_path = dir.path().join("home-of-another-user").join("scan.png");
    std::fs::create_dir_all(secret_path.parent().unwrap()).unwrap();
    std::fs::write(&secret_path, sample(Mime::Png, 10)).unwrap();
    let content = b"%PDF-1.7 TOP-SECRET-CONTENT".to_vec();
    let payload = flowflex::json!({
        "scan": Attachment::from_path(&secret_path),
        "invoice": Attachment::from_bytes(content, "invoice.pdf"),
        "note": "passes through",
    });
    for text in [
        format!("{payload}"),
        format!("{payload:?}"),
        format!("{payload:#?}"),
        format!("{:?}", payload.attachments()),
    ] {
        assert!(!text.contains("TOP-SECRET"), "no content: {text}");
        assert!(!text.contains("home-of-another-user"), "no path: {text}");
        assert!(text.contains("invoice.pdf"), "the file name: {text}");
    }
    assert_eq!(
        payload.preview(),
        serde_json::json!({
            "scan": {"$attachment": {"filename": "scan.png", "mime": "image/png", "size": 26}},
            "invoice": {"$attachment": {"filename": "invoice.pdf", "mime": "application/pdf", "size": 27}},
            "note": "passes through",
        })
    );
}

#[tokio::test]
async fn a_send_is_static_and_can_be_spawned() {
    #[derive(serde::Serialize, FlowFlexEvent)]
    #[flowflex(event = "label.printed")]
    struct LabelPrinted {
        label: Attachment,
    }

    let h = Harness::start().await;
    let send = {
        // The event and the payload die before the send runs.
        let event = LabelPrinted {
            label: Attachment::from_bytes(sample(Mime::Png, 100), "label.png"),
        };
        event.send(&h.client).idempotency_key("spawned-1")
    };
    let dynamic = h
        .client
        .send_event("e", flowflex::json!({"n": 1}))
        .idempotency_key("spawned-2");
    let a = tokio::spawn(send.send());
    let b = tokio::spawn(std::future::IntoFuture::into_future(dynamic));
    let a = a.await.unwrap().expect("the typed send");
    b.await.unwrap().expect("the dynamic send");
    assert!(
        h.emulator
            .asset(a.uploaded_assets["label"].as_str())
            .unwrap()
            .uploaded
    );
    assert_eq!(h.emulator.events().len(), 2);
}

static SERIALIZED: AtomicUsize = AtomicUsize::new(0);

/// A field that counts how often it is serialized.
#[derive(Debug)]
struct Counted;

impl serde::Serialize for Counted {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        SERIALIZED.fetch_add(1, Ordering::SeqCst);
        s.serialize_str("counted")
    }
}

#[derive(serde::Serialize, FlowFlexEvent)]
#[flowflex(event = "order.shipped")]
struct Shipped {
    #[flowflex(mime = "application/pdf")]
    invoice: Attachment,
    gallery: Vec<Attachment>,
    counted: Counted,
}

#[tokio::test]
async fn a_derived_event_is_serialized_once_per_send() {
    let h = Harness::start().await;
    let event = Shipped {
        invoice: Attachment::from_bytes(sample(Mime::Pdf, 100), "invoice.pdf"),
        gallery: vec![
            Attachment::from_bytes(sample(Mime::Jpeg, 100), "a.jpg"),
            Attachment::from_bytes(sample(Mime::Jpeg, 100), "b.jpg"),
        ],
        counted: Counted,
    };
    let before = SERIALIZED.load(Ordering::SeqCst);
    let sent = event.send(&h.client).await.expect("sent");
    assert_eq!(SERIALIZED.load(Ordering::SeqCst) - before, 1, "one pass");
    let keys: Vec<_> = sent.uploaded_assets.keys().cloned().collect();
    assert_eq!(keys, ["gallery[0]", "gallery[1]", "invoice"]);
    let recorded = &h.emulator.events()[0].payload;
    assert_eq!(recorded["counted"], "counted");
    assert_eq!(
        recorded["invoice"],
        sent.uploaded_assets["invoice"].as_str()
    );
    // The field rule comes from the derive: a PNG in the PDF-only field is
    // refused before any request, and the struct was still serialized once.
    let wrong = Shipped {
        invoice: Attachment::from_bytes(sample(Mime::Png, 100), "invoice.png"),
        gallery: Vec::new(),
        counted: Counted,
    };
    h.emulator.clear_requests();
    let before = SERIALIZED.load(Ordering::SeqCst);
    let err = wrong.send(&h.client).await.unwrap_err();
    assert_eq!(
        err.attachment_kind(),
        Some(AttachmentErrorKind::TypeNotAllowed)
    );
    assert_eq!(err.path(), Some("invoice"));
    assert_eq!(SERIALIZED.load(Ordering::SeqCst) - before, 1);
    assert!(h.emulator.requests().is_empty());
}

/// A payload nested in a struct of the caller's.
#[derive(serde::Serialize)]
struct Wrapped<'a> {
    order: &'a flowflex::Payload,
    counted: Counted,
}

#[tokio::test]
async fn a_payload_reaches_the_wire_serialized_once_and_never_copied() {
    use flowflex::__fuzz::{Copies, take_copies};

    let h = Harness::start().await;
    let payload = flowflex::json!({
        "invoice": Attachment::from_bytes(sample(Mime::Pdf, 100), "invoice.pdf"),
        "n": 1.5,
    });
    let once = Copies {
        payload_serializations: 1,
        value_trees: 0,
    };
    // The encode runs when the send is made, on this thread.
    let _ = take_copies();
    let owned = h.client.send_event("owned", payload.clone());
    assert_eq!(take_copies(), once, "owned");
    let borrowed = h.client.send_event("borrowed", &payload);
    assert_eq!(take_copies(), once, "borrowed");
    let before = SERIALIZED.load(Ordering::SeqCst);
    let wrapped = Wrapped {
        order: &payload,
        counted: Counted,
    };
    let nested = h.client.send_event("nested", &wrapped);
    assert_eq!(take_copies(), once, "nested");
    assert_eq!(SERIALIZED.load(Ordering::SeqCst) - before, 1);
    for (send, path) in [
        (owned, "invoice"),
        (borrowed, "invoice"),
        (nested, "order.invoice"),
    ] {
        let sent = send.await.expect("sent");
        assert_eq!(sent.uploaded_assets.keys().collect::<Vec<_>>(), [path]);
    }
    let events = h.emulator.events();
    assert_eq!(events.len(), 3);
    for event in &events {
        let order = event.payload.get("order").unwrap_or(&event.payload);
        assert_eq!(order["n"], 1.5);
        let id = order["invoice"].as_str().expect("an asset id");
        assert!(h.emulator.asset(id).is_some_and(|a| a.uploaded), "{id}");
    }
    // Building a payload from a value is the one copy, and it is the caller's.
    let _ = flowflex::Payload::from_serialize(&wrapped).expect("a payload");
    assert_eq!(
        take_copies(),
        Copies {
            payload_serializations: 1,
            value_trees: 1
        }
    );
}

#[tokio::test]
async fn timeouts_do_not_consume_a_buffered_reader() {
    // A buffered reader (no with_size) is read once into memory: a send that
    // times out can be repeated with the same value.
    let h = Harness::with(|b| b.max_retries(0).timeout(Duration::from_millis(300))).await;
    let payload = flowflex::json!({"doc": reader(sample(Mime::Pdf, 5_000), "doc.pdf")});
    h.emulator.inject(Fault::on(Endpoint::Storage).hang());
    let err = h.client.send_event("e", &payload).await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    // Resent by a client with the usual timeout: a loaded machine may take
    // longer than 300 ms over three requests, and the value is what counts.
    let client = tests::builder_for(&h.emulator).build().unwrap();
    let sent = client.send_event("e", &payload).await.expect("resent");
    let id = sent.uploaded_assets["doc"].as_str();
    assert!(h.emulator.asset(id).unwrap().uploaded);
}
