//! Failures: bad input caught before any request, server errors, retries,
//! timeouts and cancellation, against the real emulator.

use std::future::IntoFuture as _;
use std::time::{Duration, Instant, SystemTime};

use flowflex::{Attachment, AttachmentErrorKind, Error, Mime, RetryConfig};
use flowflex_emulator::{Endpoint, Fault};
use serde_json::json;
use tests::{Harness, sample};

/// Asserts that `err` is an attachment error of `kind` at `path`, and that
/// the emulator saw no request at all.
fn assert_local(h: &Harness, err: &Error, kind: AttachmentErrorKind, path: &str) {
    assert_eq!(err.attachment_kind(), Some(kind), "{err}");
    assert_eq!(err.path(), Some(path), "{err}");
    assert!(err.to_string().contains(path), "{err}");
    assert!(
        h.emulator.requests().is_empty(),
        "no request was sent: {err}"
    );
}

#[tokio::test]
async fn missing_file_fails_before_any_request() {
    let h = Harness::start().await;
    let ok = h.sample_file("ok.pdf", Mime::Pdf, 10);
    let err = h
        .client
        .send_event(
            "e",
            flowflex::json!({"ok": Attachment::from_path(ok), "gone": Attachment::from_path(h.dir.path().join("nope.pdf"))}),
        )
        .await
        .unwrap_err();
    assert_local(&h, &err, AttachmentErrorKind::NotFound, "gone");
    assert!(err.to_string().contains("nope.pdf"), "{err}");
}

#[tokio::test]
async fn directory_is_not_a_file() {
    let h = Harness::start().await;
    let dir = h.dir.path().join("folder.pdf");
    std::fs::create_dir(&dir).unwrap();
    let err = h
        .client
        .send_event("e", flowflex::json!({"d": Attachment::from_path(dir)}))
        .await
        .unwrap_err();
    assert_local(&h, &err, AttachmentErrorKind::NotAFile, "d");
}

#[tokio::test]
async fn png_named_pdf_is_rejected_by_its_magic_bytes() {
    let h = Harness::start().await;
    let fake = h.sample_file("invoice.pdf", Mime::Png, 100);
    let err = h
        .client
        .send_event(
            "e",
            flowflex::json!({"gallery": [Attachment::from_path(fake)]}),
        )
        .await
        .unwrap_err();
    assert_local(&h, &err, AttachmentErrorKind::TypeMismatch, "gallery[0]");
    let text = err.to_string();
    assert!(text.contains("PNG image"), "says what it really is: {text}");
    assert!(
        text.contains(".png") || text.contains("Mime::Png"),
        "says how to fix: {text}"
    );
}

#[tokio::test]
async fn explicit_mime_contradicting_the_bytes_is_rejected() {
    let h = Harness::start().await;
    let err = h
        .client
        .send_event(
            "e",
            flowflex::json!({"x": Attachment::from_bytes(sample(Mime::Jpeg, 10), "photo.jpg").with_mime(Mime::Mp4)}),
        )
        .await
        .unwrap_err();
    assert_local(&h, &err, AttachmentErrorKind::TypeMismatch, "x");
}

#[tokio::test]
async fn unknown_and_missing_extensions_need_a_mime() {
    let h = Harness::start().await;
    for (name, path) in [("photo.gif", "gif"), ("README", "noext")] {
        let err = h
            .client
            .send_event(
                "e",
                flowflex::json!({path: Attachment::from_bytes(sample(Mime::Png, 1), name)}),
            )
            .await
            .unwrap_err();
        assert_local(&h, &err, AttachmentErrorKind::UnknownType, path);
        assert!(
            err.to_string().contains("Mime::Png"),
            "suggests the sniffed type: {err}"
        );
    }
}

#[tokio::test]
async fn over_the_cap_is_refused_before_any_request_and_exactly_the_cap_passes() {
    let h = Harness::with(|b| b.max_file_bytes(1000)).await;
    let exact = h.file("exact.txt", &[b'a'; 1000]);
    let over = h.file("over.txt", &[b'a'; 1001]);
    let err = h
        .client
        .send_event(
            "e",
            flowflex::json!({"exact": Attachment::from_path(&exact), "over": Attachment::from_path(&over)}),
        )
        .await
        .unwrap_err();
    assert_local(&h, &err, AttachmentErrorKind::TooLarge, "over");
    h.client
        .send_event(
            "e",
            flowflex::json!({"exact": Attachment::from_path(&exact)}),
        )
        .await
        .unwrap();
    let err = h
        .client
        .send_event(
            "e",
            flowflex::json!({"r": Attachment::from_reader(std::io::Cursor::new(vec![b'a'; 1001]), "r.txt")}),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.attachment_kind(),
        Some(AttachmentErrorKind::TooLarge),
        "{err}"
    );
}

#[tokio::test]
async fn empty_file_of_a_signed_type_is_rejected() {
    let h = Harness::start().await;
    let empty = h.file("empty.pdf", b"");
    let err = h
        .client
        .send_event("e", flowflex::json!({"p": Attachment::from_path(empty)}))
        .await
        .unwrap_err();
    assert_local(&h, &err, AttachmentErrorKind::TypeMismatch, "p");
    assert!(err.to_string().contains("empty"), "{err}");
}

#[tokio::test]
async fn header_injection_in_event_name_and_key_is_refused() {
    let h = Harness::start().await;
    for event in ["order\r\nX-Evil: 1", "a\nb", "nul\0", "", "   "] {
        let err = h
            .client
            .send_event(event, flowflex::json!({}))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::EventName { .. }), "{event:?}: {err}");
        assert!(err.to_string().contains("event name"), "{err}");
    }
    for key in ["k\r\n", "k\u{7f}", ""] {
        let err = h
            .client
            .send_event("e", flowflex::json!({}))
            .idempotency_key(key)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("idempotency key"), "{err}");
    }
    let err = h
        .client
        .send_event("e", flowflex::json!({"a": 1}))
        .idempotency_key("x".repeat(300))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Config { .. }), "{err}");
    assert!(h.emulator.requests().is_empty());
}

#[tokio::test]
async fn bad_filenames_are_refused() {
    let h = Harness::start().await;
    for name in ["", "a/b.pdf", "bad\r\n.pdf", "back\\slash.pdf"] {
        let err = h
            .client
            .send_event(
                "e",
                flowflex::json!({"f": Attachment::from_bytes(sample(Mime::Pdf, 1), name)}),
            )
            .await
            .unwrap_err();
        assert_eq!(
            err.attachment_kind(),
            Some(AttachmentErrorKind::InvalidFilename),
            "{name:?}: {err}"
        );
    }
    assert!(h.emulator.requests().is_empty());
}

#[tokio::test]
async fn payloads_that_are_not_objects_are_refused() {
    let h = Harness::start().await;
    for payload in [json!([1, 2]), json!("text"), json!(null), json!(3)] {
        let err = h.client.send_event("e", &payload).await.unwrap_err();
        assert!(matches!(err, Error::Payload { .. }), "{payload}: {err}");
        assert!(err.to_string().contains("object"), "{err}");
    }
    let err = h
        .client
        .send_event("e", Attachment::from_bytes(sample(Mime::Pdf, 1), "a.pdf"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Payload { .. }), "{err}");
    assert!(h.emulator.requests().is_empty());
}

/// Markers in JSON that this process did not write (say, forwarded from a
/// request body) are refused: they cannot make the SDK upload a local file.
#[tokio::test]
async fn forged_markers_cannot_exfiltrate_local_files() {
    let h = Harness::start().await;
    let secret_file = h.file("secret.txt", b"private\n");
    let genuine = flowflex::json!({"f": Attachment::from_path(&secret_file)});
    // The payload's JSON, as it would arrive from outside: the token alone
    // names no file.
    let copied = serde_json::to_value(&genuine).unwrap();
    let err = h.client.send_event("e", &copied).await.unwrap_err();
    assert!(matches!(err, Error::Payload { .. }), "{err}");
    assert!(err.to_string().contains("does not hold"), "{err}");
    assert!(err.to_string().contains("flowflex::json!"), "{err}");
    // Nor does a guessed token, even inside a payload that holds files.
    let guessed = flowflex::json!({
        "f": Attachment::from_bytes(&b"hello"[..], "a.txt"),
        "g": "\u{0}0123456789abcdef",
    });
    let err = h.client.send_event("e", &guessed).await.unwrap_err();
    assert!(err.to_string().contains("at `g`"), "{err}");
    // The old marker shape is plain data now: sent as text, nothing uploaded.
    let old: serde_json::Value = serde_json::from_str(
        r#"{"f": {"$flowflex:attachment": {"kind": "path", "data": "/etc/hostname"}}}"#,
    )
    .unwrap();
    h.client.send_event("e", &old).await.unwrap();
    assert_eq!(h.emulator.events()[0].payload, old);
    assert!(
        h.emulator
            .requests()
            .iter()
            .all(|r| r.endpoint == Endpoint::Events),
        "only the event was posted"
    );
    // The genuine payload still sends its file.
    let sent = h.client.send_event("e", &genuine).await.unwrap();
    let id = sent.uploaded_assets["f"].as_str();
    assert!(h.emulator.asset(id).unwrap().uploaded);
}

#[tokio::test]
async fn reader_that_fails_midway_is_an_attachment_error() {
    struct Broken(usize);
    impl tokio::io::AsyncRead for Broken {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            if self.0 == 0 {
                return std::task::Poll::Ready(Err(std::io::Error::other("disk on fire")));
            }
            self.0 -= 1;
            buf.put_slice(b"abc");
            std::task::Poll::Ready(Ok(()))
        }
    }
    let h = Harness::start().await;
    let err = h
        .client
        .send_event(
            "e",
            flowflex::json!({"r": Attachment::from_reader(Broken(3), "r.txt")}),
        )
        .await
        .unwrap_err();
    assert_local(&h, &err, AttachmentErrorKind::Unreadable, "r");
    assert!(err.to_string().contains("disk on fire"), "{err}");
}

#[tokio::test]
async fn transient_failures_are_retried_and_the_event_fires_once() {
    let h = Harness::start().await;
    h.emulator
        .inject(Fault::on(Endpoint::UploadUrl).status(503));
    h.emulator.inject(Fault::on(Endpoint::Storage).status(500));
    h.emulator
        .inject(Fault::on(Endpoint::Events).status(429).retry_after_secs(1));
    h.emulator.inject(Fault::on(Endpoint::Events).status(502));
    let file = h.sample_file("a.pdf", Mime::Pdf, 70_000);
    let started = Instant::now();
    let sent = h
        .client
        .send_event("e", flowflex::json!({"f": Attachment::from_path(&file)}))
        .idempotency_key("retry-me")
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was honoured"
    );
    assert_eq!(h.emulator.events().len(), 1);
    let asset = h
        .emulator
        .asset(sent.uploaded_assets["f"].as_str())
        .unwrap();
    assert_eq!(
        asset.sha256,
        tests::sha256_file(&file),
        "the retried PUT re-read the file"
    );
    let keys: Vec<_> = h
        .emulator
        .requests()
        .iter()
        .filter(|r| r.endpoint == Endpoint::Events)
        .map(|r| r.header("x-idempotency-key").map(str::to_owned))
        .collect();
    assert_eq!(
        keys,
        vec![Some("retry-me".to_owned()); 3],
        "same key on every attempt"
    );
}

#[tokio::test]
async fn retry_after_as_http_date_is_honoured() {
    let h = Harness::start().await;
    let at = SystemTime::now() + Duration::from_secs(2);
    h.emulator
        .inject(Fault::on(Endpoint::Events).status(503).retry_after_date(at));
    let started = Instant::now();
    h.client.send_event("e", flowflex::json!({})).await.unwrap();
    // HTTP dates have one-second resolution.
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn exhausted_retries_carry_the_last_status() {
    let h = Harness::start().await;
    h.emulator
        .inject(Fault::on(Endpoint::Events).status(503).times(10));
    let err = h
        .client
        .send_event("e", flowflex::json!({}))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(503));
    assert!(err.is_retryable());
    assert!(err.to_string().contains("after 4 attempts"), "{err}");
    let attempts = h
        .emulator
        .requests()
        .iter()
        .filter(|r| r.endpoint == Endpoint::Events)
        .count();
    assert_eq!(attempts, 4, "1 + 3 retries");
    assert!(h.emulator.events().is_empty());
}

#[tokio::test]
async fn client_errors_are_not_retried_and_keep_the_service_code() {
    let h = Harness::start().await;
    h.emulator
        .inject(Fault::on(Endpoint::Events).status(400).code("BAD_PAYLOAD"));
    let err = h
        .client
        .send_event("e", flowflex::json!({}))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert_eq!(err.code(), Some("BAD_PAYLOAD"));
    assert!(!err.is_retryable());
    assert_eq!(h.emulator.requests().len(), 1);
}

#[tokio::test]
async fn response_lost_after_the_event_was_accepted_does_not_duplicate_it() {
    let h = Harness::start().await;
    h.emulator
        .inject(Fault::on(Endpoint::Events).drop_after_processing());
    let sent = h
        .client
        .send_event("e", flowflex::json!({"n": 1}))
        .await
        .unwrap();
    assert_eq!(
        h.emulator.events().len(),
        1,
        "the retry was answered by idempotent replay"
    );
    assert_eq!(sent.response["success"], true, "{}", sent.response);
}

#[tokio::test]
async fn connection_dropped_mid_upload_is_retried_and_stores_the_whole_file() {
    let h = Harness::start().await;
    h.emulator
        .inject(Fault::on(Endpoint::Storage).drop_connection());
    let file = h.sample_file("big.mp4", Mime::Mp4, 2 * 1024 * 1024);
    let sent = h
        .client
        .send_event("e", flowflex::json!({"v": Attachment::from_path(&file)}))
        .await
        .unwrap();
    let asset = h
        .emulator
        .asset(sent.uploaded_assets["v"].as_str())
        .unwrap();
    assert_eq!(asset.sha256, tests::sha256_file(&file));
}

#[tokio::test]
async fn one_permanent_upload_failure_fails_the_send_with_its_path() {
    let h = Harness::with(|b| b.max_concurrent_uploads(1)).await;
    let a = h.sample_file("a.jpg", Mime::Jpeg, 100);
    let b = h.sample_file("b.jpg", Mime::Jpeg, 100);
    // Storage refuses the first PUT for good (403 is not retried).
    h.emulator.inject(
        Fault::on(Endpoint::Storage)
            .status(403)
            .code("SIGNATURE_DOES_NOT_MATCH"),
    );
    let err = h
        .client
        .send_event(
            "e",
            flowflex::json!({"gallery": [Attachment::from_path(&b), Attachment::from_path(&a)]}),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Upload { .. }), "{err}");
    assert_eq!(err.path(), Some("gallery[0]"), "{err}");
    assert_eq!(err.status(), Some(403));
    assert!(h.emulator.events().is_empty(), "the event is not sent");
    assert!(
        h.emulator
            .requests()
            .iter()
            .all(|r| r.endpoint != Endpoint::Events),
        "no event request at all"
    );
}

#[tokio::test]
async fn a_one_shot_reader_is_not_retried_and_the_error_says_so() {
    let h = Harness::start().await;
    h.emulator.inject(Fault::on(Endpoint::Storage).status(503));
    let data = sample(Mime::Pdf, 1000);
    let err = h
        .client
        .send_event(
            "e",
            flowflex::json!({"r": Attachment::from_reader(std::io::Cursor::new(data.clone()), "r.pdf").with_size(data.len() as u64)}),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not retried"), "{err}");
    assert_eq!(err.status(), Some(503));
    let puts = h
        .emulator
        .requests()
        .iter()
        .filter(|r| r.endpoint == Endpoint::Storage)
        .count();
    assert_eq!(puts, 1);
}

/// Without the client's timeout this send would never end.
#[tokio::test]
async fn a_server_that_never_answers_is_a_timeout() {
    let h = Harness::with(|b| {
        b.timeout(Duration::from_millis(300))
            .retry(RetryConfig::disabled())
    })
    .await;
    h.emulator.inject(Fault::on(Endpoint::Events).hang());
    let err = tests::before_hang(
        "a send to a server that never answers",
        h.client.send_event("e", flowflex::json!({})).into_future(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn wrong_credentials_say_what_to_check_and_leak_nothing() {
    let h = Harness::start().await;
    let client = tests::builder_for(&h.emulator)
        .api_secret("wrong-secret-123")
        .build()
        .unwrap();
    let err = client
        .send_event("e", flowflex::json!({}))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(401));
    let text = format!("{err} {err:?}");
    assert!(text.contains("FLOWFLEX_API_SECRET"), "{text}");
    assert!(!text.contains("wrong-secret-123"), "{text}");
}

#[tokio::test]
async fn stale_asset_ids_are_asset_file_missing() {
    let h = Harness::start().await;
    let id = h
        .client
        .upload(&Attachment::from_bytes(sample(Mime::Png, 10), "p.png"))
        .await
        .unwrap();
    h.client
        .send_event("e", flowflex::json!({"img": id.as_str()}))
        .await
        .unwrap();
    h.emulator.advance_clock(Duration::from_secs(49 * 3600));
    let err = h
        .client
        .send_event("e", flowflex::json!({"img": id.as_str()}))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ASSET_FILE_MISSING"));
    assert_eq!(err.status(), Some(422));
    assert!(err.to_string().contains("48 h"), "{err}");
}

/// A network failure keeps its cause as the error's `source()`: reqwest's
/// own text, the request's URL in it (here without a token to hide).
#[tokio::test]
async fn a_network_failure_keeps_its_cause_as_the_source() {
    let h = Harness::start().await;
    let client = tests::builder_for(&h.emulator)
        .base_url(tests::closed_port_url())
        .retry(RetryConfig::disabled())
        .build()
        .unwrap();
    let err = client
        .send_event("e", flowflex::json!({}))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Network { .. }), "{err:?}");
    let source = std::error::Error::source(&err).expect("a source");
    let text = source.to_string();
    assert!(text.contains("error sending request"), "{text:?}");
    assert!(text.contains("127.0.0.1"), "{text:?}");
}

/// An error body is read up to 64 KiB: one of exactly that size is read
/// whole (its JSON gives the code), one byte more is cut (no JSON to read).
#[tokio::test]
async fn an_error_body_of_exactly_the_read_limit_is_read_whole() {
    const LIMIT: usize = 64 * 1024;
    let h = Harness::start().await;
    for (size, code) in [(LIMIT, Some("LIMIT_EXACT")), (LIMIT + 1, None)] {
        let head = r#"{"error":"refused at the limit","code":"LIMIT_EXACT","pad":""#;
        let tail = r#""}"#;
        let body = format!("{head}{}{tail}", "x".repeat(size - head.len() - tail.len()));
        assert_eq!(body.len(), size);
        h.emulator.inject(
            Fault::on(Endpoint::Events)
                .status(400)
                .body(body)
                .content_type("application/json"),
        );
        let err = h
            .client
            .send_event("e", flowflex::json!({}))
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(400), "{size}: {err}");
        assert_eq!(err.code(), code, "{size}: {err}");
        assert!(
            err.to_string().contains("refused at the limit"),
            "{size}: {err}"
        );
    }
}

#[tokio::test]
async fn non_json_and_huge_error_bodies_are_reported_briefly() {
    let h = Harness::start().await;
    h.emulator.inject(
        Fault::on(Endpoint::Events)
            .status(400)
            .body("<html>proxy says no</html>")
            .content_type("text/html"),
    );
    let err = h
        .client
        .send_event("e", flowflex::json!({}))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("proxy says no"), "{err}");
    h.emulator.inject(
        Fault::on(Endpoint::Events)
            .status(400)
            .body("x".repeat(5_000_000)),
    );
    let err = h
        .client
        .send_event("e", flowflex::json!({}))
        .await
        .unwrap_err();
    assert!(err.to_string().len() < 2000, "{}", err.to_string().len());
}

#[tokio::test]
async fn a_file_that_changes_size_before_upload_is_an_error_not_a_truncation() {
    let h = Harness::start().await;
    let path = h.sample_file("growing.txt", Mime::Txt, 10_000);
    // The send sizes the file before it asks for an upload URL and reads it
    // again for the PUT: the file grows while the upload-url request is
    // held, a window far wider than a loaded machine needs to notice it.
    h.emulator
        .inject(Fault::on(Endpoint::UploadUrl).delay(Duration::from_secs(5)));
    let emulator = h.emulator.clone();
    let grow = {
        let path = path.clone();
        tokio::spawn(async move {
            tests::eventually("the upload-url request to arrive", || {
                emulator.in_flight(Endpoint::UploadUrl) == 1
            })
            .await;
            let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
            std::io::Write::write_all(&mut f, b"more").unwrap();
            // Grown between the sizing and the PUT, or the test proves nothing.
            assert_eq!(
                emulator.in_flight(Endpoint::UploadUrl),
                1,
                "the upload-url request was no longer held when the file grew"
            );
        })
    };
    let err = h
        .client
        .send_event("e", flowflex::json!({"log": Attachment::from_path(&path)}))
        .await
        .unwrap_err();
    grow.await.unwrap();
    assert_eq!(
        err.attachment_kind(),
        Some(AttachmentErrorKind::Changed),
        "{err}"
    );
    assert_eq!(err.path(), Some("log"));
    assert!(
        h.emulator.assets().iter().all(|a| !a.uploaded),
        "nothing truncated was stored"
    );
    assert!(h.emulator.events().is_empty());
}
