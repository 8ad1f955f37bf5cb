//! The blocking client against the emulator: the same sends, no async.

use flowflex::{Attachment, AttachmentErrorKind, FlowFlexEvent, Mime};
use tests::sample;

#[derive(serde::Serialize, FlowFlexEvent)]
#[flowflex(event = "invoice.created")]
struct InvoiceCreated {
    #[flowflex(mime = "application/pdf", max_size = "1 KB")]
    invoice: Attachment,
    customer_id: String,
}

fn start() -> (
    tokio::runtime::Runtime,
    flowflex_emulator::Emulator,
    flowflex::blocking::Client,
) {
    // The emulator needs a runtime of its own; the client brings its own.
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let emulator = runtime
        .block_on(flowflex_emulator::Emulator::start())
        .expect("emulator");
    let client = tests::builder_for(&emulator).build().expect("client");
    let client = flowflex::blocking::Client::from_async(client).expect("blocking client");
    (runtime, emulator, client)
}

#[test]
fn derived_events_send_with_their_field_limits() {
    let (_runtime, emulator, client) = start();
    let ok = InvoiceCreated {
        invoice: Attachment::from_bytes(sample(Mime::Pdf, 100), "invoice.pdf"),
        customer_id: "cust_123".into(),
    };
    let sent = client
        .send_named(&ok)
        .idempotency_key("inv-1")
        .send()
        .unwrap();
    let events = emulator.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event, "invoice.created");
    assert_eq!(
        events[0].payload["invoice"],
        sent.uploaded_assets["invoice"].as_str()
    );

    let too_big = InvoiceCreated {
        invoice: Attachment::from_bytes(sample(Mime::Pdf, 2000), "big.pdf"),
        customer_id: "cust_123".into(),
    };
    emulator.clear_requests();
    let err = client.send_named(&too_big).send().unwrap_err();
    assert_eq!(
        err.attachment_kind(),
        Some(AttachmentErrorKind::TooLarge),
        "{err}"
    );
    assert_eq!(err.path(), Some("invoice"));
    assert!(
        emulator.requests().is_empty(),
        "the field limit is checked before any request"
    );
}

#[test]
fn dynamic_payloads_and_uploads() {
    let (_runtime, emulator, client) = start();
    let png = sample(Mime::Png, 50);
    let id = client
        .upload(&Attachment::from_bytes(png.clone(), "a.png"))
        .unwrap();
    assert_eq!(
        emulator.asset(id.as_str()).unwrap().sha256,
        tests::sha256(&png)
    );
    let sent = client
        .send_event(
            "e",
            flowflex::json!({"img": Attachment::from_bytes(png, "b.png")}),
        )
        .send()
        .unwrap();
    assert_eq!(sent.uploaded_assets.len(), 1);
    assert_eq!(emulator.events().len(), 1);
}
