//! `#[derive(FlowFlexEvent)]` events sent by the real client to the real
//! emulator: the issue's example end to end, and field limits enforced
//! before any request.

use std::collections::BTreeSet;

use flowflex::{Attachment, AttachmentErrorKind, Error, FlowFlexEvent, Mime};
use serde::Serialize;
use serde_json::json;
use tests::{Harness, sample};

#[derive(Serialize, FlowFlexEvent)]
struct Order {
    receipt: Attachment,
}

#[derive(Serialize, FlowFlexEvent)]
#[flowflex(event = "order.shipped")]
#[serde(rename_all = "camelCase")]
struct OrderShipped {
    #[flowflex(mime = "application/pdf", max_size = "10 MB")]
    invoice_file: Attachment,
    #[serde(rename = "shippingLabel")]
    label: Attachment,
    #[flowflex(mime("image/jpeg", "image/png"))]
    gallery: Vec<Attachment>,
    order: Order,
    extra: Option<Attachment>,
    note: String,
}

fn order_shipped(h: &Harness) -> OrderShipped {
    OrderShipped {
        invoice_file: Attachment::from_path(h.sample_file("invoice.pdf", Mime::Pdf, 4000)),
        label: Attachment::from_path(h.sample_file("label.png", Mime::Png, 1000)),
        gallery: vec![
            Attachment::from_path(h.sample_file("a.jpg", Mime::Jpeg, 2000)),
            Attachment::from_bytes(sample(Mime::Png, 500), "b.png"),
        ],
        order: Order {
            receipt: Attachment::from_bytes(sample(Mime::Pdf, 100), "receipt.pdf"),
        },
        extra: None,
        note: "fragile".into(),
    }
}

fn paths_of<T: FlowFlexEvent>(event: &T) -> BTreeSet<String> {
    event
        .attachments()
        .into_iter()
        .map(|(path, _)| path)
        .collect()
}

#[tokio::test]
async fn the_issue_example_sends() {
    let h = Harness::start().await;
    let event = order_shipped(&h);

    let sent = event
        .send(&h.client)
        .idempotency_key("order-42-shipped")
        .await
        .expect("send succeeds");

    let expected: BTreeSet<String> = [
        "invoiceFile",
        "shippingLabel",
        "gallery[0]",
        "gallery[1]",
        "order.receipt",
    ]
    .map(String::from)
    .into();
    let uploaded: BTreeSet<String> = sent.uploaded_assets.keys().cloned().collect();
    assert_eq!(uploaded, expected);
    assert_eq!(
        paths_of(&event),
        expected,
        "the derive's paths are the wire's"
    );
    assert_eq!(sent.idempotency_key, "order-42-shipped");

    let events = h.emulator.events();
    assert_eq!(events.len(), 1);
    let recorded = &events[0];
    assert_eq!(recorded.event, "order.shipped");
    assert_eq!(recorded.event, OrderShipped::EVENT);
    assert_eq!(
        recorded.idempotency_key.as_deref(),
        Some("order-42-shipped")
    );
    let id = |p: &str| sent.uploaded_assets[p].to_string();
    assert_eq!(
        recorded.payload,
        json!({
            "invoiceFile": id("invoiceFile"),
            "shippingLabel": id("shippingLabel"),
            "gallery": [id("gallery[0]"), id("gallery[1]")],
            "order": {"receipt": id("order.receipt")},
            "extra": null,
            "note": "fragile",
        })
    );

    let stored: BTreeSet<(String, String)> = h
        .emulator
        .assets()
        .into_iter()
        .filter(|a| a.uploaded)
        .map(|a| (a.filename, a.mime))
        .collect();
    assert_eq!(
        stored,
        [
            ("invoice.pdf", "application/pdf"),
            ("label.png", "image/png"),
            ("a.jpg", "image/jpeg"),
            ("b.png", "image/png"),
            ("receipt.pdf", "application/pdf"),
        ]
        .map(|(f, m)| (f.to_owned(), m.to_owned()))
        .into()
    );
}

#[tokio::test]
async fn an_optional_attachment_is_sent_when_present() {
    let h = Harness::start().await;
    let mut event = order_shipped(&h);
    event.extra = Some(Attachment::from_bytes(&b"extra notes"[..], "extra.txt"));
    let sent = event.send(&h.client).await.expect("send succeeds");
    assert!(sent.uploaded_assets.contains_key("extra"));
    assert_eq!(
        paths_of(&event),
        sent.uploaded_assets.keys().cloned().collect()
    );
}

/// A field limit is checked before the first request: the emulator sees
/// nothing, and the error names the attachment's path.
async fn refused(h: &Harness, event: &OrderShipped) -> (String, AttachmentErrorKind, String) {
    let err = event
        .send(&h.client)
        .await
        .expect_err("a field limit is exceeded");
    assert!(
        h.emulator.requests().is_empty(),
        "requests were made: {:?}",
        h.emulator.requests()
    );
    assert!(h.emulator.events().is_empty());
    let message = err.to_string();
    match err {
        Error::Attachment { path, kind, .. } => (path.expect("a path"), kind, message),
        other => panic!("expected Error::Attachment, got {other:?}"),
    }
}

#[tokio::test]
async fn a_type_outside_the_field_set_is_refused_before_any_request() {
    let h = Harness::start().await;
    let mut event = order_shipped(&h);
    event
        .gallery
        .push(Attachment::from_bytes(sample(Mime::Pdf, 10), "scan.pdf"));
    let (path, kind, message) = refused(&h, &event).await;
    assert_eq!(path, "gallery[2]");
    assert_eq!(kind, AttachmentErrorKind::TypeNotAllowed);
    assert!(message.contains("image/jpeg, image/png"), "{message}");
}

#[tokio::test]
async fn a_file_over_the_field_cap_is_refused_before_any_request() {
    let h = Harness::start().await;
    let mut event = order_shipped(&h);
    // "10 MB" is 10 000 000 bytes: one more is too many.
    event.invoice_file = Attachment::from_bytes(sample(Mime::Pdf, 10_000_001 - 15), "big.pdf");
    assert_eq!(event.invoice_file.size_hint(), Some(10_000_001));
    let (path, kind, _) = refused(&h, &event).await;
    assert_eq!(path, "invoiceFile");
    assert_eq!(kind, AttachmentErrorKind::TooLarge);

    // Exactly at the cap is fine.
    event.invoice_file = Attachment::from_bytes(sample(Mime::Pdf, 10_000_000 - 15), "ok.pdf");
    assert_eq!(event.invoice_file.size_hint(), Some(10_000_000));
    event.send(&h.client).await.expect("at the cap is allowed");
}

#[tokio::test]
async fn limits_of_nested_structs_apply() {
    #[derive(Serialize, FlowFlexEvent)]
    struct Receipt {
        #[flowflex(mime = "application/pdf")]
        file: Attachment,
    }

    #[derive(Serialize, FlowFlexEvent)]
    #[flowflex(event = "receipts.filed")]
    struct Filed {
        receipts: Vec<Receipt>,
    }

    let h = Harness::start().await;
    let event = Filed {
        receipts: vec![
            Receipt {
                file: Attachment::from_bytes(sample(Mime::Pdf, 10), "a.pdf"),
            },
            Receipt {
                file: Attachment::from_bytes(sample(Mime::Png, 10), "b.png"),
            },
        ],
    };
    let err = event.send(&h.client).await.expect_err("b.png is refused");
    assert_eq!(err.path(), Some("receipts[1].file"));
    assert_eq!(
        err.attachment_kind(),
        Some(AttachmentErrorKind::TypeNotAllowed)
    );
    assert!(h.emulator.requests().is_empty());
}

#[tokio::test]
async fn included_files_send() {
    #[derive(Serialize, FlowFlexEvent)]
    #[flowflex(event = "brand.updated")]
    struct BrandUpdated {
        #[flowflex(mime = "image/png")]
        logo: Attachment,
    }

    let h = Harness::start().await;
    let event = BrandUpdated {
        logo: flowflex::include_attachment!("tests/derive_fixtures/logo.png"),
    };
    let sent = event.send(&h.client).await.expect("send succeeds");
    let id = sent.uploaded_assets["logo"].to_string();
    let asset = h.emulator.asset(&id).expect("stored");
    assert_eq!(asset.filename, "logo.png");
    assert_eq!(asset.mime, "image/png");
    assert_eq!(&asset.bytes[..], include_bytes!("derive_fixtures/logo.png"));
}
