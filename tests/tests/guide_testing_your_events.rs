//! The tests of docs/testing-your-events.md, as CI runs them: copy this file
//! into your crate's `tests/` with your own event type.
//!
//! 1. Shape tests, no network: the payload's JSON (`preview()`, pinned by an
//!    insta snapshot in `snapshots/`) and the paths flows read.
//! 2. Send tests, against the emulator: what arrived, and that a refused
//!    file makes no request at all.

// The guide's code as users write it in tests: an unwrap is the test failing.
#![allow(clippy::unwrap_used)]

use flowflex::{Attachment, AttachmentErrorKind, Client, FlowFlexEvent};
use flowflex_emulator::Emulator;
use serde::Serialize;

#[derive(Debug, Serialize, FlowFlexEvent)]
#[flowflex(event = "order.shipped")]
#[serde(rename_all = "camelCase")]
struct OrderShipped {
    #[flowflex(mime = "application/pdf", max_size = "10 MB")]
    invoice_file: Attachment,
    #[flowflex(mime = "image/*")]
    gallery: Vec<Attachment>,
    note: String,
}

fn sample() -> OrderShipped {
    OrderShipped {
        invoice_file: Attachment::from_bytes(&b"%PDF-1.7\n"[..], "invoice.pdf"),
        gallery: vec![Attachment::from_bytes(&b"\x89PNG\r\n\x1a\n"[..], "a.png")],
        note: "fragile".into(),
    }
}

// ---------------------------------------------------------------- 1. shape

#[test]
fn order_shipped_payload() {
    let event = sample();
    insta::assert_json_snapshot!(event.preview().unwrap());
}

#[test]
fn order_shipped_trigger_paths() {
    // The "Order shipped" flow reads {{trigger.invoiceFile}} and {{trigger.gallery[N]}}.
    assert_eq!(
        OrderShipped::attachment_paths(),
        ["invoiceFile", "gallery[]"]
    );
}

// ----------------------------------------------------------------- 2. send

async fn client_for(emulator: &Emulator) -> Client {
    Client::builder()
        .api_key(emulator.api_key())
        .api_secret(emulator.api_secret())
        .integration_code(emulator.integration_code())
        .base_url(emulator.base_url())
        .build()
        .unwrap()
}

#[tokio::test]
async fn order_shipped_is_delivered() {
    let emulator = Emulator::start().await.unwrap();
    let client = client_for(&emulator).await;
    let event = sample();

    let sent = event
        .send(&client)
        .idempotency_key("order-42")
        .await
        .unwrap();

    let events = emulator.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event, OrderShipped::EVENT);
    assert_eq!(
        events[0].payload["invoiceFile"],
        sent.uploaded_assets["invoiceFile"].as_str()
    );
    let invoice = emulator
        .asset(sent.uploaded_assets["invoiceFile"].as_str())
        .unwrap();
    assert_eq!(invoice.mime, "application/pdf");
    assert_eq!(&invoice.bytes[..], b"%PDF-1.7\n");
}

#[tokio::test]
async fn a_pdf_in_the_gallery_is_refused() {
    let emulator = Emulator::start().await.unwrap();
    let client = client_for(&emulator).await;
    let event = OrderShipped {
        gallery: vec![Attachment::from_bytes(&b"%PDF-1.7\n"[..], "scan.pdf")],
        ..sample()
    };

    let err = event.send(&client).await.unwrap_err();

    assert_eq!(err.path(), Some("gallery[0]"));
    assert_eq!(
        err.attachment_kind(),
        Some(AttachmentErrorKind::TypeNotAllowed)
    );
    assert!(emulator.requests().is_empty());
}
