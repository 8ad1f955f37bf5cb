//! The real client against the real emulator over loopback: the wire
//! protocol, attachments, dedupe, and the Python SDK's README payloads.

use std::collections::BTreeSet;

use flowflex::{Attachment, Mime};
use flowflex_emulator::Endpoint;
use serde_json::json;
use tests::{Harness, sample, sha256, sha256_file};

/// The Python SDK README's "Multiple files" example, sent from Rust: same
/// JSON shape on the wire, each file stored whole.
#[tokio::test]
async fn python_readme_multiple_files_example() {
    let h = Harness::start().await;
    let invoice = h.sample_file("invoice.pdf", Mime::Pdf, 5000);
    let label = h.sample_file("label.png", Mime::Png, 3000);
    let a = h.sample_file("a.jpg", Mime::Jpeg, 2000);
    let b = h.sample_file("b.jpg", Mime::Jpeg, 2100);
    let receipt = h.sample_file("receipt.pdf", Mime::Pdf, 100);

    let sent = h
        .client
        .send_event(
            "order.shipped",
            flowflex::json!({
                "invoice": Attachment::from_path(&invoice),
                "label":   Attachment::from_path(&label),
                "gallery": [Attachment::from_path(&a), Attachment::from_path(&b)],
                "order":   {"receipt": Attachment::from_path(&receipt)},
                "note":    "non-file values pass through untouched",
            }),
        )
        .await
        .expect("send succeeds");

    let paths: BTreeSet<&str> = sent.uploaded_assets.keys().map(String::as_str).collect();
    assert_eq!(
        paths,
        BTreeSet::from([
            "invoice",
            "label",
            "gallery[0]",
            "gallery[1]",
            "order.receipt"
        ])
    );

    let events = h.emulator.events();
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(event.event, "order.shipped");
    assert_eq!(event.integration_code, h.emulator.integration_code());
    assert_eq!(
        event.idempotency_key.as_deref(),
        Some(sent.idempotency_key.as_str())
    );
    let id = |p: &str| sent.uploaded_assets[p].to_string();
    assert_eq!(
        event.payload,
        json!({
            "invoice": id("invoice"),
            "label": id("label"),
            "gallery": [id("gallery[0]"), id("gallery[1]")],
            "order": {"receipt": id("order.receipt")},
            "note": "non-file values pass through untouched",
        })
    );
    for (path, file, mime) in [
        ("invoice", &invoice, "application/pdf"),
        ("label", &label, "image/png"),
        ("gallery[0]", &a, "image/jpeg"),
        ("gallery[1]", &b, "image/jpeg"),
        ("order.receipt", &receipt, "application/pdf"),
    ] {
        let asset = h.emulator.asset(&id(path)).expect("asset stored");
        assert!(asset.uploaded, "{path}");
        assert_eq!(asset.sha256, sha256_file(file), "{path} stored whole");
        assert_eq!(asset.mime, mime);
        assert_eq!(asset.filename, file.file_name().unwrap().to_str().unwrap());
        assert_eq!(asset.put_count, 1, "{path} uploaded once");
    }
    assert!(id("invoice").starts_with("asset_"));
    assert_eq!(
        sent.response["event"], "order.shipped",
        "the events endpoint's body is returned: {}",
        sent.response
    );
    uuid_v4(&sent.idempotency_key);
}

fn uuid_v4(key: &str) {
    assert_eq!(key.len(), 36, "{key}");
    assert_eq!(&key[14..15], "4", "a v4 UUID: {key}");
}

/// README quick start: a plain event goes through byte for byte.
#[tokio::test]
async fn python_readme_plain_event() {
    let h = Harness::start().await;
    let payload = json!({"name": "Ada", "order_id": "ord_42", "n": 1.5, "tags": [null, true]});
    let sent = h
        .client
        .send_event("order.placed", payload.clone())
        .await
        .unwrap();
    assert!(sent.uploaded_assets.is_empty());
    assert_eq!(h.emulator.events()[0].payload, payload);
    let kinds: Vec<_> = h.emulator.requests().iter().map(|r| r.endpoint).collect();
    assert_eq!(
        kinds,
        [Endpoint::Events],
        "no upload requests for a plain event"
    );
}

/// README "Attaching a private file": the key is the path.
#[tokio::test]
async fn python_readme_asset_id_example() {
    let h = Harness::start().await;
    let invoice = h.sample_file("invoice.pdf", Mime::Pdf, 64);
    let sent = h
        .client
        .send_event(
            "invoice.created",
            flowflex::json!({"assetId": Attachment::from_path(&invoice), "customer_id": "cust_123"}),
        )
        .await
        .unwrap();
    let id = sent.uploaded_assets["assetId"].to_string();
    assert_eq!(
        h.emulator.events()[0].payload,
        json!({"assetId": id, "customer_id": "cust_123"})
    );
}

/// README "Reusing one file across nodes": one upload, the same id twice;
/// a later send uploads again.
#[tokio::test]
async fn reused_attachment_uploads_once_per_send() {
    let h = Harness::start().await;
    let banner = Attachment::from_path(h.sample_file("banner.png", Mime::Png, 500));
    let payload =
        flowflex::json!({"header": banner.clone(), "footer": banner.clone(), "again": [banner]});
    let first = h.client.send_event("promo.sent", &payload).await.unwrap();
    assert_eq!(first.uploaded_assets.len(), 3);
    let ids: BTreeSet<_> = first.uploaded_assets.values().collect();
    assert_eq!(
        ids.len(),
        1,
        "one asset id everywhere: {:?}",
        first.uploaded_assets
    );
    assert_eq!(h.emulator.assets().len(), 1);

    let second = h.client.send_event("promo.sent", &payload).await.unwrap();
    assert_ne!(
        first.uploaded_assets["header"], second.uploaded_assets["header"],
        "asset ids expire: every send uploads afresh"
    );
    assert_eq!(h.emulator.assets().len(), 2);
    assert_eq!(h.emulator.events().len(), 2);
}

/// Attachments inside a typed payload (no `json!`) are collected too, and
/// distinct attachments with the same content are distinct uploads.
#[derive(serde::Serialize)]
struct Shipment<'a> {
    id: u32,
    documents: Vec<Attachment>,
    cover: Option<&'a Attachment>,
}

#[tokio::test]
async fn attachments_in_plain_serialize_structs() {
    let h = Harness::start().await;
    let bytes = sample(Mime::Pdf, 10);
    let cover = Attachment::from_bytes(bytes.clone(), "cover.pdf");
    let shipment = Shipment {
        id: 7,
        documents: vec![
            Attachment::from_bytes(bytes.clone(), "one.pdf"),
            Attachment::from_bytes(bytes.clone(), "two.pdf"),
            cover.clone(),
        ],
        cover: Some(&cover),
    };
    let sent = h
        .client
        .send_event("shipment.ready", &shipment)
        .await
        .unwrap();
    assert_eq!(sent.uploaded_assets.len(), 4);
    assert_eq!(
        sent.uploaded_assets["documents[2]"],
        sent.uploaded_assets["cover"]
    );
    assert_ne!(
        sent.uploaded_assets["documents[0]"],
        sent.uploaded_assets["documents[1]"]
    );
    assert_eq!(h.emulator.assets().len(), 3);
    assert_eq!(h.emulator.events()[0].payload["id"], 7);
}

#[tokio::test]
async fn every_source_kind_uploads_whole() {
    let h = Harness::start().await;
    let pdf = sample(Mime::Pdf, 200_000);
    let png = sample(Mime::Png, 70_000);
    let txt = sample(Mime::Txt, 3000);
    let ogg = sample(Mime::Ogg, 90_000);
    let sent = h
        .client
        .send_event(
            "sources",
            flowflex::json!({
                "bytes": Attachment::from_bytes(pdf.clone(), "doc.pdf"),
                "reader": Attachment::from_reader(std::io::Cursor::new(png.clone()), "img.png"),
                "streamed": Attachment::from_reader(std::io::Cursor::new(ogg.clone()), "a.ogg")
                    .with_size(ogg.len() as u64),
                "static": Attachment::from_bytes(&b"static text\n"[..], "s.txt"),
                "path": Attachment::from_path(h.file("notes", &txt)).with_mime(Mime::Txt),
            }),
        )
        .await
        .unwrap();
    for (path, bytes) in [
        ("bytes", &pdf[..]),
        ("reader", &png[..]),
        ("streamed", &ogg[..]),
        ("static", b"static text\n"),
        ("path", &txt[..]),
    ] {
        let asset = h
            .emulator
            .asset(sent.uploaded_assets[path].as_str())
            .unwrap();
        assert_eq!(asset.sha256, sha256(bytes), "{path}");
        assert_eq!(asset.size, bytes.len() as u64, "{path}");
    }
    let path_asset = h
        .emulator
        .asset(sent.uploaded_assets["path"].as_str())
        .unwrap();
    assert_eq!(path_asset.filename, "notes");
    assert_eq!(path_asset.mime, "text/plain");
}

/// Presigned storage refuses chunked bodies: every PUT carries an exact
/// Content-Length (0 for an empty file), and never an Authorization header.
#[tokio::test]
async fn storage_puts_have_exact_length_and_no_authorization() {
    let h = Harness::start().await;
    let big = h.sample_file("big.mp4", Mime::Mp4, 3 * 1024 * 1024);
    let empty = h.file("empty.txt", b"");
    let sent = h
        .client
        .send_event(
            "lengths",
            flowflex::json!({"big": Attachment::from_path(&big), "empty": Attachment::from_path(&empty)}),
        )
        .await
        .unwrap();
    let empty_asset = h
        .emulator
        .asset(sent.uploaded_assets["empty"].as_str())
        .unwrap();
    assert!(empty_asset.uploaded);
    assert_eq!(empty_asset.size, 0);
    let puts: Vec<_> = h
        .emulator
        .requests()
        .into_iter()
        .filter(|r| r.endpoint == Endpoint::Storage)
        .collect();
    assert_eq!(puts.len(), 2);
    let mut lengths: Vec<_> = puts.iter().map(|r| r.content_length).collect();
    lengths.sort();
    assert_eq!(
        lengths,
        [Some(0), Some(std::fs::metadata(&big).unwrap().len())]
    );
    for put in &puts {
        assert!(!put.chunked, "no chunked PUT");
        assert_eq!(
            put.header("authorization"),
            None,
            "no Authorization to storage"
        );
        assert_eq!(put.status, Some(200));
    }
    for r in h
        .emulator
        .requests()
        .iter()
        .filter(|r| r.endpoint != Endpoint::Storage)
    {
        assert_eq!(
            r.header("authorization"),
            Some("<redacted>"),
            "API calls carry Basic auth"
        );
    }
}

#[tokio::test]
async fn upload_url_request_matches_the_wire_protocol() {
    let h = Harness::start().await;
    let path = h.sample_file("Q3 report.xlsx", Mime::Xlsx, 100);
    let id = h
        .client
        .upload(&Attachment::from_path(&path))
        .await
        .unwrap();
    let asset = h.emulator.asset(id.as_str()).unwrap();
    assert_eq!(asset.filename, "Q3 report.xlsx");
    assert_eq!(
        asset.mime,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    assert_eq!(
        asset.declared_size,
        Some(std::fs::metadata(&path).unwrap().len())
    );
    let first = &h.emulator.requests()[0];
    assert_eq!(first.method, "POST");
    assert_eq!(first.path, "/v1/assets/upload-url");
    assert_eq!(first.header("content-type"), Some("application/json"));
}

#[tokio::test]
async fn low_level_upload_ticket_hides_its_token() {
    let h = Harness::start().await;
    let ticket = h
        .client
        .create_upload_url("x.pdf", Mime::Pdf, 10)
        .await
        .unwrap();
    let token = ticket.expose_token().to_owned();
    assert!(token.len() >= 8);
    assert!(ticket.upload_url.expose().as_str().contains(&token));
    for shown in [format!("{ticket:?}"), ticket.upload_url.to_string()] {
        assert!(!shown.contains(&token), "{shown}");
    }
    assert!(ticket.asset_id.as_str().starts_with("asset_"));
}

#[tokio::test]
async fn base_url_with_api_suffix_reaches_the_same_routes() {
    let emulator = flowflex_emulator::Emulator::start().await.unwrap();
    let client = tests::builder_for(&emulator)
        .base_url(format!("{}/api/", emulator.base_url()))
        .build()
        .unwrap();
    client
        .send_event("e", flowflex::json!({"a": 1}))
        .await
        .unwrap();
    assert_eq!(
        emulator.requests()[0].path,
        format!("/v1/events/{}", emulator.integration_code())
    );
}

#[tokio::test]
async fn given_idempotency_key_is_sent_and_replayed() {
    let h = Harness::start().await;
    let first = h
        .client
        .send_event("order.placed", flowflex::json!({"n": 1}))
        .idempotency_key("order-42")
        .await
        .unwrap();
    let second = h
        .client
        .send_event("order.placed", flowflex::json!({"n": 1}))
        .idempotency_key("order-42")
        .await
        .unwrap();
    assert_eq!(first.idempotency_key, "order-42");
    assert_eq!(
        first.response, second.response,
        "the service replays the first answer"
    );
    assert_eq!(h.emulator.events().len(), 1, "fired once");
}

#[tokio::test]
async fn preview_shows_placeholders_not_ids_or_paths() {
    let h = Harness::start().await;
    let path = h.sample_file("invoice.pdf", Mime::Pdf, 90);
    let payload = flowflex::json!({
        "invoice": Attachment::from_path(&path),
        "gallery": [Attachment::from_bytes(sample(Mime::Jpeg, 5), "a.jpg")],
        "note": "x",
    });
    let preview = flowflex::preview(&payload).unwrap();
    let text = preview.to_string();
    assert!(!text.contains(h.dir.path().to_str().unwrap()), "{text}");
    assert_eq!(
        preview,
        json!({
            "invoice": {"$attachment": {"filename": "invoice.pdf", "mime": "application/pdf", "size": std::fs::metadata(&path).unwrap().len()}},
            "gallery": [{"$attachment": {"filename": "a.jpg", "mime": "image/jpeg", "size": sample(Mime::Jpeg, 5).len()}}],
            "note": "x",
        })
    );
    assert!(h.emulator.requests().is_empty());
}

/// Attachments nested deep in arrays of objects get full paths.
#[tokio::test]
async fn deep_paths() {
    let h = Harness::start().await;
    let f = || Attachment::from_bytes(sample(Mime::Txt, 1), "n.txt");
    let sent = h
        .client
        .send_event(
            "deep",
            flowflex::json!({"a": [{"b": [[f()]]}, {"c": {"d e": f()}}], "x.y": f()}),
        )
        .await
        .unwrap();
    let paths: Vec<&str> = sent.uploaded_assets.keys().map(String::as_str).collect();
    assert_eq!(paths, ["a[0].b[0][0]", "a[1].c.d e", "x.y"]);
    let payload = &h.emulator.events()[0].payload;
    assert_eq!(payload["x.y"], json!(sent.uploaded_assets["x.y"].as_str()));
    assert_eq!(
        payload["a"][1]["c"]["d e"],
        json!(sent.uploaded_assets["a[1].c.d e"].as_str())
    );
}

/// Uploads run in parallel, up to the configured bound and no further.
#[tokio::test]
async fn uploads_run_in_parallel_within_the_bound() {
    for (limit, files) in [(4u64, 12usize), (1, 3)] {
        let h = Harness::with(|b| b.max_concurrent_uploads(limit as usize)).await;
        h.emulator.inject(
            flowflex_emulator::Fault::on(Endpoint::Storage)
                .delay(std::time::Duration::from_millis(150))
                .times(files as u32),
        );
        let gallery: Vec<_> = (0..files)
            .map(|i| Attachment::from_bytes(sample(Mime::Jpeg, i), format!("{i}.jpg")))
            .collect();
        let sent = h
            .client
            .send_event("e", flowflex::json!({"gallery": gallery}))
            .await
            .unwrap();
        assert_eq!(sent.uploaded_assets.len(), files);
        assert_eq!(
            h.emulator.peak_in_flight(Endpoint::Storage),
            limit,
            "storage saw exactly {limit} uploads at once"
        );
        assert_eq!(h.emulator.peak_in_flight(Endpoint::Events), 1);
    }
}

/// Progress reaches each file's size, and starts over when an upload is retried.
#[tokio::test]
async fn progress_reports_every_byte_and_restarts_on_retry() {
    let h = Harness::start().await;
    h.emulator
        .inject(flowflex_emulator::Fault::on(Endpoint::Storage).status(500));
    let big = h.sample_file("big.mp4", Mime::Mp4, 1_000_000);
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = std::sync::Arc::clone(&seen);
    h.client
        .send_event(
            "e",
            flowflex::json!({"video": Attachment::from_path(&big), "doc": Attachment::from_bytes(sample(Mime::Pdf, 10), "d.pdf")}),
        )
        .on_progress(move |p| log.lock().unwrap().push((p.path.clone(), p.sent, p.total)))
        .await
        .unwrap();
    let seen = seen.lock().unwrap();
    let size = std::fs::metadata(&big).unwrap().len();
    for path in ["video", "doc"] {
        let events: Vec<_> = seen.iter().filter(|(p, ..)| p == path).collect();
        let last = events.last().unwrap();
        assert_eq!(last.1, last.2, "{path} ends complete");
        assert!(events.iter().all(|(_, sent, total)| sent <= total));
    }
    let video: Vec<u64> = seen
        .iter()
        .filter(|(p, ..)| p == "video")
        .map(|e| e.1)
        .collect();
    assert_eq!(*video.last().unwrap(), size);
    assert!(
        video.len() > 4,
        "a 1 MB file reports in chunks: {}",
        video.len()
    );
    let restarts =
        video.windows(2).filter(|w| w[1] < w[0]).count() + usize::from(video.first() == Some(&0));
    assert!(
        restarts >= 1,
        "the retried upload started again from 0: {video:?}"
    );
}
