//! The bad-input matrix: each input a test, each answered with a typed error
//! that says what to do, none sending a request it should not. The rows
//! already covered elsewhere (failures.rs, the client's unit tests) are listed
//! in docs/reliability.md with the test that covers them; this file holds the
//! rest.

use std::collections::BTreeMap;
use std::time::Duration;

use flowflex::{Attachment, AttachmentErrorKind, Error, Mime};
use flowflex_emulator::{Endpoint, Fault};
use serde_json::{Value, json};
use tests::{Harness, builder_for, sample, sha256};

/// Asserts a configuration error whose message names `what` and says `fix`.
fn config_error(result: flowflex::Result<flowflex::Client>, what: &str, fix: &str) {
    let err = result.expect_err("the builder refuses it");
    assert!(matches!(err, Error::Config { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains(what), "names {what:?}: {text}");
    assert!(text.contains(fix), "says what to do ({fix:?}): {text}");
}

/// Sends `payload`, expects an attachment error of `kind` at `path` whose
/// message says `fix`, and checks that no request at all was made.
async fn refused_locally(
    h: &Harness,
    payload: flowflex::Payload,
    kind: AttachmentErrorKind,
    path: &str,
    fix: &str,
) -> Error {
    let err = h
        .client
        .send_event("e", payload)
        .await
        .expect_err("the send is refused");
    assert_eq!(err.attachment_kind(), Some(kind), "{err}");
    assert_eq!(err.path(), Some(path), "{err}");
    let text = err.to_string();
    assert!(text.contains(fix), "says what to do ({fix:?}): {text}");
    assert!(h.emulator.requests().is_empty(), "no request: {text}");
    err
}

/// Expects a payload error saying `fix`, with no request made.
async fn payload_refused(h: &Harness, payload: impl serde::Serialize, fix: &str) {
    let err = h
        .client
        .send_event("e", payload)
        .await
        .expect_err("the send is refused");
    assert!(matches!(err, Error::Payload { .. }), "{err:?}");
    assert!(err.to_string().contains(fix), "says {fix:?}: {err}");
    assert!(h.emulator.requests().is_empty());
}

/// Expects an `Error::EventName` (a bad event name) or `Error::Config` (a
/// bad key), with no request made.
async fn header_refused(h: &Harness, event: &str, key: Option<&str>, fix: &str) {
    let mut send = h.client.send_event(event, flowflex::json!({"a": 1}));
    if let Some(key) = key {
        send = send.idempotency_key(key);
    }
    let err = send.await.expect_err("the send is refused");
    if key.is_some() {
        assert!(matches!(err, Error::Config { .. }), "{err:?}");
    } else {
        assert!(matches!(err, Error::EventName { .. }), "{err:?}");
        assert!(
            err.to_string().starts_with("invalid event name: "),
            "never \"configuration\": {err}"
        );
    }
    assert!(err.to_string().contains(fix), "says {fix:?}: {err}");
    assert!(h.emulator.requests().is_empty());
}

/// Kinds of the requests the emulator saw, in order.
fn seen(h: &Harness) -> Vec<Endpoint> {
    h.emulator.requests().iter().map(|r| r.endpoint).collect()
}

fn pdf(name: &str) -> Attachment {
    Attachment::from_bytes(sample(Mime::Pdf, 100), name)
}

// ------------------------------------------------------------ configuration

#[tokio::test]
async fn blank_api_secret() {
    let h = Harness::start().await;
    config_error(
        builder_for(&h.emulator).api_secret("   ").build(),
        "api_secret",
        "FLOWFLEX_API_SECRET",
    );
}

#[tokio::test]
async fn api_key_with_a_control_character() {
    let h = Harness::start().await;
    config_error(
        builder_for(&h.emulator).api_key("cik_\u{7}bell").build(),
        "api_key",
        "copy it again",
    );
}

#[tokio::test]
async fn api_secret_with_surrounding_blanks() {
    let h = Harness::start().await;
    config_error(
        builder_for(&h.emulator)
            .api_secret(format!("{} ", h.emulator.api_secret()))
            .build(),
        "api_secret",
        "without the blanks",
    );
}

#[tokio::test]
async fn integration_code_too_long() {
    let h = Harness::start().await;
    config_error(
        builder_for(&h.emulator)
            .integration_code("a".repeat(129))
            .build(),
        "integration_code",
        "copy it from the event URL",
    );
}

#[tokio::test]
async fn integration_code_with_a_space() {
    let h = Harness::start().await;
    config_error(
        builder_for(&h.emulator).integration_code("ic abc").build(),
        "integration_code",
        "only ASCII letters",
    );
}

#[tokio::test]
async fn base_url_with_a_space_in_the_host() {
    let h = Harness::start().await;
    config_error(
        builder_for(&h.emulator)
            .base_url("https://api.flow flex.ai")
            .build(),
        "base_url",
        "use a full URL such as",
    );
}

#[tokio::test]
async fn base_url_with_a_broken_ipv6_literal() {
    let h = Harness::start().await;
    config_error(
        builder_for(&h.emulator).base_url("https://[::1").build(),
        "base_url",
        "use a full URL such as",
    );
}

#[tokio::test]
async fn base_url_with_a_port_out_of_range() {
    let h = Harness::start().await;
    config_error(
        builder_for(&h.emulator)
            .base_url("https://api.flowflex.ai:99999")
            .build(),
        "base_url",
        "use a full URL such as",
    );
}

#[tokio::test]
async fn base_url_http_on_a_private_network_address() {
    let h = Harness::start().await;
    config_error(
        builder_for(&h.emulator)
            .base_url("http://192.168.1.20:8080")
            .build(),
        "https",
        "plain http is allowed only for localhost",
    );
}

// ------------------------------------------------------- event name and key

#[tokio::test]
async fn event_name_over_256_bytes() {
    let h = Harness::start().await;
    header_refused(&h, &"e".repeat(257), None, "at most 256").await;
}

#[tokio::test]
async fn idempotency_key_of_blanks() {
    let h = Harness::start().await;
    header_refused(&h, "e", Some("   "), "give a non-blank one").await;
}

#[tokio::test]
async fn event_name_with_a_unicode_line_separator() {
    let h = Harness::start().await;
    // U+0085 (NEL) is a control character that some stacks treat as a newline.
    header_refused(&h, "order\u{85}shipped", None, "remove it").await;
}

#[tokio::test]
async fn non_ascii_event_name() {
    let h = Harness::start().await;
    header_refused(&h, "pedido.enviado-ñ", None, "ASCII").await;
}

#[tokio::test]
async fn non_ascii_idempotency_key() {
    let h = Harness::start().await;
    header_refused(&h, "e", Some("clé-42"), "ASCII").await;
}

// ---------------------------------------------------------------- filenames

#[tokio::test]
async fn filename_over_255_bytes() {
    let h = Harness::start().await;
    let name = format!("{}.pdf", "n".repeat(252));
    refused_locally(
        &h,
        flowflex::json!({"f": pdf(&name)}),
        AttachmentErrorKind::InvalidFilename,
        "f",
        "give a shorter one",
    )
    .await;
}

#[tokio::test]
async fn filename_of_blanks() {
    let h = Harness::start().await;
    refused_locally(
        &h,
        flowflex::json!({"f": pdf("   ")}),
        AttachmentErrorKind::InvalidFilename,
        "f",
        "with_filename",
    )
    .await;
}

#[tokio::test]
async fn filename_with_a_c1_control_character() {
    let h = Harness::start().await;
    refused_locally(
        &h,
        flowflex::json!({"f": pdf("in\u{9b}voice.pdf")}),
        AttachmentErrorKind::InvalidFilename,
        "f",
        "give a plain name",
    )
    .await;
}

#[cfg(unix)]
#[tokio::test]
async fn non_utf8_path() {
    use std::os::unix::ffi::OsStrExt as _;
    let h = Harness::start().await;
    let name = std::ffi::OsStr::from_bytes(b"facture-\xE9t\xE9.pdf");
    let path = h.dir.path().join(name);
    std::fs::write(&path, sample(Mime::Pdf, 50)).unwrap();
    refused_locally(
        &h,
        flowflex::json!({"f": Attachment::from_path(&path)}),
        AttachmentErrorKind::InvalidFilename,
        "f",
        "set one with .with_filename",
    )
    .await;
    // What the message says to do works: the file itself is readable.
    let fixed = Attachment::from_path(&path).with_filename("facture.pdf");
    let asset = h.send_one("f", fixed).await.unwrap();
    assert_eq!(asset.sha256, sha256(&sample(Mime::Pdf, 50)));
}

#[tokio::test]
async fn path_without_a_file_name() {
    let h = Harness::start().await;
    refused_locally(
        &h,
        flowflex::json!({"f": Attachment::from_path(h.dir.path().join(".."))}),
        AttachmentErrorKind::NotAFile,
        "f",
        "point it at a file",
    )
    .await;
}

// -------------------------------------------------------------------- files

#[cfg(unix)]
#[tokio::test]
async fn unreadable_file() {
    use std::os::unix::fs::PermissionsExt as _;
    let h = Harness::start().await;
    let path = h.sample_file("locked.pdf", Mime::Pdf, 10);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::read(&path).is_ok() {
        // Running as root, which reads anything: a path through a regular
        // file is unreadable for everyone.
        let through_file = path.join("child.pdf");
        refused_locally(
            &h,
            flowflex::json!({"f": Attachment::from_path(through_file)}),
            AttachmentErrorKind::Unreadable,
            "f",
            "check the file",
        )
        .await;
    } else {
        refused_locally(
            &h,
            flowflex::json!({"f": Attachment::from_path(&path)}),
            AttachmentErrorKind::Unreadable,
            "f",
            "make the file readable",
        )
        .await;
    }
}

#[cfg(unix)]
#[tokio::test]
async fn named_pipe_is_not_a_file() {
    let h = Harness::start().await;
    let fifo = h.dir.path().join("pipe.txt");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    refused_locally(
        &h,
        flowflex::json!({"f": Attachment::from_path(&fifo)}),
        AttachmentErrorKind::NotAFile,
        "f",
        "use Attachment::from_reader",
    )
    .await;
}

#[cfg(unix)]
#[tokio::test]
async fn dangling_symlink() {
    let h = Harness::start().await;
    let link = h.dir.path().join("gone.pdf");
    std::os::unix::fs::symlink(h.dir.path().join("never-existed.pdf"), &link).unwrap();
    refused_locally(
        &h,
        flowflex::json!({"f": Attachment::from_path(&link)}),
        AttachmentErrorKind::NotFound,
        "f",
        "check the path",
    )
    .await;
}

#[tokio::test]
async fn exactly_25_mib_is_accepted_and_stored_whole() {
    let h = Harness::start().await;
    let size = usize::try_from(flowflex::MAX_FILE_BYTES).unwrap();
    let bytes = sample(Mime::Mp4, size - sample(Mime::Mp4, 0).len());
    assert_eq!(bytes.len(), size);
    let path = h.file("max.mp4", &bytes);
    let asset = h.send_one("v", Attachment::from_path(&path)).await.unwrap();
    assert_eq!(asset.size, flowflex::MAX_FILE_BYTES);
    assert_eq!(asset.sha256, sha256(&bytes));
}

#[tokio::test]
async fn one_byte_over_25_mib_is_refused_before_any_request() {
    let h = Harness::start().await;
    let path = h.dir.path().join("over.txt");
    // A sparse file: the size is all that is checked before reading.
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(flowflex::MAX_FILE_BYTES + 1).unwrap();
    let err = refused_locally(
        &h,
        flowflex::json!({"big": Attachment::from_path(&path)}),
        AttachmentErrorKind::TooLarge,
        "big",
        "send a smaller file",
    )
    .await;
    assert!(
        err.to_string()
            .contains("25.0 MiB (26,214,401 bytes) is over the 25 MiB (26,214,400 bytes) limit"),
        "{err}"
    );
}

#[tokio::test]
async fn declared_size_that_disagrees_with_the_file() {
    let h = Harness::start().await;
    let path = h.sample_file("a.pdf", Mime::Pdf, 100);
    refused_locally(
        &h,
        flowflex::json!({"f": Attachment::from_path(&path).with_size(5)}),
        AttachmentErrorKind::Changed,
        "f",
        "drop with_size or correct it",
    )
    .await;
}

/// Appends to or truncates `path` as soon as its storage PUT has arrived
/// (the emulator holds it for a while before reading the body).
async fn change_file_mid_upload(h: &Harness, path: std::path::PathBuf, grow: bool) -> Error {
    h.emulator
        .inject(Fault::on(Endpoint::Storage).delay(Duration::from_millis(300)));
    let emulator = h.emulator.clone();
    let file = path.clone();
    let changer = tokio::spawn(async move {
        tests::eventually("the PUT to arrive", || {
            emulator
                .requests()
                .iter()
                .any(|r| r.endpoint == Endpoint::Storage)
        })
        .await;
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .expect("the file opens");
        let len = file.metadata().expect("metadata").len();
        if grow {
            std::io::Write::write_all(&mut &file, b"late bytes").expect("append");
        } else {
            file.set_len(len / 2).expect("truncate");
        }
    });
    let err = h
        .client
        .send_event(
            "e",
            flowflex::json!({"video": Attachment::from_path(&file)}),
        )
        .await
        .expect_err("the send is refused");
    changer.await.expect("the changer task");
    err
}

#[tokio::test]
async fn file_growing_while_streamed() {
    let h = Harness::start().await;
    let path = h.sample_file("grow.mp4", Mime::Mp4, 24 * 1024 * 1024);
    let err = change_file_mid_upload(&h, path, true).await;
    assert_eq!(
        err.attachment_kind(),
        Some(AttachmentErrorKind::Changed),
        "{err}"
    );
    assert_eq!(err.path(), Some("video"));
    assert!(
        err.to_string()
            .contains("send again once the file is complete"),
        "{err}"
    );
    assert!(
        h.emulator.assets().iter().all(|a| !a.uploaded),
        "nothing stored"
    );
    assert!(h.emulator.events().is_empty());
    assert!(!seen(&h).contains(&Endpoint::Events));
}

#[tokio::test]
async fn file_shrinking_while_streamed() {
    let h = Harness::start().await;
    let path = h.sample_file("shrink.mp4", Mime::Mp4, 24 * 1024 * 1024);
    let err = change_file_mid_upload(&h, path, false).await;
    assert_eq!(
        err.attachment_kind(),
        Some(AttachmentErrorKind::Changed),
        "{err}"
    );
    assert_eq!(err.path(), Some("video"));
    assert!(
        h.emulator.assets().iter().all(|a| !a.uploaded),
        "nothing truncated was stored"
    );
    assert!(h.emulator.events().is_empty());
    assert!(!seen(&h).contains(&Endpoint::Events));
}

// -------------------------------------------------------------------- types

#[tokio::test]
async fn png_bytes_named_txt() {
    let h = Harness::start().await;
    let err = refused_locally(
        &h,
        flowflex::json!({"notes": Attachment::from_bytes(sample(Mime::Png, 20), "notes.txt")}),
        AttachmentErrorKind::TypeMismatch,
        "notes",
        "name it .png or set .with_mime(Mime::Png)",
    )
    .await;
    assert!(err.to_string().contains("PNG image"), "{err}");
}

#[tokio::test]
async fn plain_text_named_pdf() {
    let h = Harness::start().await;
    refused_locally(
        &h,
        flowflex::json!({"doc": Attachment::from_bytes(&b"just some words\n"[..], "doc.pdf")}),
        AttachmentErrorKind::TypeMismatch,
        "doc",
        "check that this is the file you meant to send",
    )
    .await;
}

#[tokio::test]
async fn spreadsheet_named_docx() {
    let h = Harness::start().await;
    refused_locally(
        &h,
        flowflex::json!({"report": Attachment::from_bytes(sample(Mime::Xlsx, 20), "report.docx")}),
        AttachmentErrorKind::TypeMismatch,
        "report",
        "name it .xlsx",
    )
    .await;
}

#[tokio::test]
async fn gif_named_png() {
    let h = Harness::start().await;
    let gif = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!";
    let err = refused_locally(
        &h,
        flowflex::json!({"img": Attachment::from_bytes(&gif[..], "img.png")}),
        AttachmentErrorKind::TypeMismatch,
        "img",
        "check that this is the file you meant to send",
    )
    .await;
    assert!(err.to_string().contains("GIF image"), "{err}");
}

#[tokio::test]
async fn unaccepted_type_without_extension() {
    let h = Harness::start().await;
    let gif = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!";
    let err = refused_locally(
        &h,
        flowflex::json!({"img": Attachment::from_bytes(&gif[..], "img")}),
        AttachmentErrorKind::UnknownType,
        "img",
        "convert it to one of the accepted types",
    )
    .await;
    assert!(err.to_string().contains("GIF image"), "{err}");
}

// ----------------------------------------------------------------- payloads

/// A map whose key is an attachment: serde_json cannot write it.
struct AttachmentKey(Attachment);

impl serde::Serialize for AttachmentKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let mut map = s.serialize_map(Some(1))?;
        map.serialize_entry(&self.0, "value")?;
        map.end()
    }
}

#[tokio::test]
async fn attachment_as_a_map_key() {
    let h = Harness::start().await;
    payload_refused(&h, AttachmentKey(pdf("k.pdf")), "never map keys").await;
}

#[tokio::test]
async fn map_with_non_string_keys() {
    let h = Harness::start().await;
    let mut map = BTreeMap::new();
    map.insert((1u8, 2u8), "pair key");
    payload_refused(&h, map, "does not serialize to JSON").await;
}

/// A payload whose own `Serialize` fails.
struct Failing;

impl serde::Serialize for Failing {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom("the order is not loaded"))
    }
}

#[tokio::test]
async fn payload_whose_serialize_fails() {
    let h = Harness::start().await;
    payload_refused(&h, Failing, "the order is not loaded").await;
}

fn nest(depth: usize, leaf: Value) -> Value {
    (0..depth).fold(
        leaf,
        |inner, i| json!({ format!("k{}", depth - 1 - i): inner }),
    )
}

#[tokio::test]
async fn payload_nested_deeper_than_256_levels() {
    let h = Harness::start().await;
    payload_refused(&h, nest(300, json!(1)), "flatten it").await;
}

#[tokio::test]
async fn attachment_at_depth_64_in_map_values_is_found_and_sent() {
    let h = Harness::start().await;
    let payload = flowflex::json!(nest(64, json!(pdf("deep.pdf"))));
    let sent = h.client.send_event("e", &payload).await.unwrap();
    let path = (0..64)
        .map(|i| format!("k{i}"))
        .collect::<Vec<_>>()
        .join(".");
    let id = sent.uploaded_assets[&path].as_str();
    let pointer: String = (0..64).map(|i| format!("/k{i}")).collect();
    assert_eq!(
        h.emulator.events()[0].payload.pointer(&pointer),
        Some(&json!(id))
    );
    assert!(h.emulator.asset(id).unwrap().uploaded);
}

#[tokio::test]
async fn two_attachments_with_the_same_flow_path() {
    let h = Harness::start().await;
    // `{{trigger.x.y}}` would name both: refuse rather than lose one.
    payload_refused(
        &h,
        flowflex::json!({"x.y": pdf("a.pdf"), "x": {"y": pdf("b.pdf")}}),
        "rename",
    )
    .await;
}

// ------------------------------------------------------------------ readers

/// Yields `good` bytes of `chunk`, then errors (or ends, if `then_fail` is false).
struct Limited {
    left: usize,
    chunk: Vec<u8>,
    then_fail: bool,
}

impl tokio::io::AsyncRead for Limited {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if self.left == 0 {
            return std::task::Poll::Ready(if self.then_fail {
                Err(std::io::Error::other("the socket was reset"))
            } else {
                Ok(())
            });
        }
        let n = self.left.min(self.chunk.len()).min(buf.remaining());
        buf.put_slice(&self.chunk[..n]);
        self.left -= n;
        std::task::Poll::Ready(Ok(()))
    }
}

fn text_reader(len: usize, then_fail: bool) -> Limited {
    Limited {
        left: len,
        chunk: vec![b'a'; 8192],
        then_fail,
    }
}

#[tokio::test]
async fn sized_reader_that_ends_early() {
    let h = Harness::start().await;
    let reader = Attachment::from_reader(text_reader(100, false), "r.txt").with_size(1000);
    refused_locally(
        &h,
        flowflex::json!({"r": reader}),
        AttachmentErrorKind::Changed,
        "r",
        "correct with_size or drop it",
    )
    .await;
}

#[tokio::test]
async fn sized_reader_that_fails_while_streamed() {
    let h = Harness::start().await;
    // The first 16 KiB are read for the type check; the error comes later,
    // during the upload.
    let reader = Attachment::from_reader(text_reader(100_000, true), "r.txt").with_size(200_000);
    let err = h
        .client
        .send_event("e", flowflex::json!({"r": reader}))
        .await
        .unwrap_err();
    assert_eq!(
        err.attachment_kind(),
        Some(AttachmentErrorKind::Unreadable),
        "{err}"
    );
    assert_eq!(err.path(), Some("r"));
    assert!(err.to_string().contains("the socket was reset"), "{err}");
    assert!(
        h.emulator.assets().iter().all(|a| !a.uploaded),
        "nothing stored"
    );
    assert!(!seen(&h).contains(&Endpoint::Events), "no event request");
}

#[tokio::test]
async fn sized_reader_longer_than_declared() {
    let h = Harness::start().await;
    let reader = Attachment::from_reader(text_reader(50_000, false), "r.txt").with_size(40_000);
    let err = h
        .client
        .send_event("e", flowflex::json!({"r": reader}))
        .await
        .unwrap_err();
    assert_eq!(
        err.attachment_kind(),
        Some(AttachmentErrorKind::Changed),
        "{err}"
    );
    assert!(
        h.emulator.assets().iter().all(|a| !a.uploaded),
        "nothing truncated stored"
    );
    assert!(!seen(&h).contains(&Endpoint::Events));
}

#[tokio::test]
async fn streamed_reader_sent_twice() {
    let h = Harness::start().await;
    let reader = Attachment::from_reader(text_reader(100, false), "r.txt").with_size(100);
    h.client
        .send_event("first", flowflex::json!({"r": reader.clone()}))
        .await
        .unwrap();
    h.emulator.clear_requests();
    refused_locally(
        &h,
        flowflex::json!({"r": reader}),
        AttachmentErrorKind::Consumed,
        "r",
        "use Attachment::from_path or from_bytes",
    )
    .await;
    assert_eq!(h.emulator.events().len(), 1);
}

// ---------------------------------------------------------- server answers

/// Scripts the next upload-url answer and sends one file: the send must stop
/// at that answer with an `InvalidResponse` saying `says` (and what to
/// check), no PUT and no event made, and no `token` of the answer shown.
async fn upload_url_answer_refused(answer: Fault, says: &str, token: Option<&str>) {
    let h = Harness::start().await;
    h.emulator.inject(answer);
    let err = h
        .client
        .send_event("e", flowflex::json!({"f": pdf("f.pdf")}))
        .await
        .expect_err("the send is refused");
    assert_eq!(seen(&h), [Endpoint::UploadUrl], "no PUT, no event: {err}");
    assert_eq!(err.path(), Some("f"), "{err}");
    let Error::Upload { source, .. } = &err else {
        panic!("an upload error: {err:?}");
    };
    assert!(
        matches!(**source, Error::InvalidResponse { .. }),
        "{source:?}"
    );
    let text = err.to_string();
    assert!(text.contains(says), "says {says:?}: {text}");
    assert!(
        text.contains("Check that the base URL points at FlowFlex"),
        "{text}"
    );
    if let Some(token) = token {
        assert!(
            !format!("{err} {err:?}").contains(token),
            "token shown: {err}"
        );
    }
}

/// An upload-url answer (status 200) with this ticket.
fn ticket(asset_id: &str, upload_url: &str, token: &str) -> Fault {
    Fault::on(Endpoint::UploadUrl).respond_json(
        200,
        json!({"assetId": asset_id, "uploadUrl": upload_url, "token": token}),
    )
}

#[tokio::test]
async fn upload_url_answer_that_is_not_json() {
    let html = Fault::on(Endpoint::UploadUrl)
        .status(200)
        .body("<html>captive portal</html>")
        .content_type("text/html");
    upload_url_answer_refused(html, "not JSON", None).await;
}

#[tokio::test]
async fn upload_url_answer_without_an_asset_id() {
    let answer = Fault::on(Endpoint::UploadUrl).respond_json(
        200,
        json!({"uploadUrl": "https://s.example/put", "token": "t"}),
    );
    upload_url_answer_refused(answer, "no \"assetId\"", None).await;
}

#[tokio::test]
async fn upload_url_answer_with_a_malformed_asset_id() {
    let answer = ticket("asset_\r\nx", "https://s.example/put", "t");
    upload_url_answer_refused(answer, "\"assetId\" is malformed", None).await;
}

#[tokio::test]
async fn upload_url_that_is_http_off_loopback() {
    let url = "http://storage.example.com/tok123456/put?token=tok123456";
    let answer = ticket("asset_abc", url, "tok123456");
    upload_url_answer_refused(answer, "is not https", Some("tok123456")).await;
}

#[tokio::test]
async fn upload_url_with_another_scheme() {
    let answer = ticket("asset_abc", "ftp://127.0.0.1/put", "t");
    upload_url_answer_refused(answer, "is not https", None).await;
}

#[tokio::test]
async fn upload_url_that_is_not_a_url() {
    let answer = ticket("asset_abc", "storage/put/tok987654321", "tok987654321");
    upload_url_answer_refused(answer, "is not a URL", Some("tok987654321")).await;
}

#[tokio::test]
async fn success_body_over_4_mib() {
    let h = Harness::start().await;
    h.emulator.inject(
        Fault::on(Endpoint::Events)
            .status(202)
            .body("x".repeat(5 * 1024 * 1024)),
    );
    let err = h
        .client
        .send_event("e", flowflex::json!({"a": 1}))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidResponse { .. }), "{err:?}");
    assert!(err.to_string().contains("over 4194304 bytes"), "{err}");
    assert_eq!(
        seen(&h),
        [Endpoint::Events],
        "not retried: the server answered"
    );
}

#[tokio::test]
async fn error_body_with_non_string_fields() {
    let h = Harness::start().await;
    h.emulator
        .inject(Fault::on(Endpoint::Events).respond_json(400, json!({"error": 5, "code": ["X"]})));
    let err = h
        .client
        .send_event("e", flowflex::json!({"a": 1}))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert_eq!(err.code(), None, "no code made up from a non-string: {err}");
    assert!(err.to_string().contains("Check the request"), "{err}");
    assert_eq!(seen(&h), [Endpoint::Events]);
}

#[tokio::test]
async fn error_body_with_a_huge_message_field() {
    let h = Harness::start().await;
    h.emulator.inject(Fault::on(Endpoint::Events).respond_json(
        422,
        json!({"error": "y".repeat(60_000), "code": "TOO_MUCH"}),
    ));
    let err = h
        .client
        .send_event("e", flowflex::json!({"a": 1}))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("TOO_MUCH"));
    assert!(err.to_string().len() < 2_000, "{}", err.to_string().len());
}

/// Answers the next request to `endpoint` with a redirect to another host
/// (the rest of 127.0.0.0/8 is loopback too) and sends one file: the send
/// fails with the 307 and what to do, and nothing reaches the other host.
async fn redirect_refused(endpoint: Endpoint, path: &str) -> Harness {
    let h = Harness::start().await;
    let elsewhere = flowflex_emulator::Emulator::builder()
        .host([127, 0, 0, 2].into())
        .start()
        .await
        .expect("a second emulator on 127.0.0.2");
    let to = format!("{}{path}", elsewhere.base_url());
    h.emulator.inject(Fault::on(endpoint).redirect(to));
    let err = h
        .client
        .send_event("e", flowflex::json!({"f": pdf("f.pdf")}))
        .await
        .expect_err("the send is refused");
    assert_eq!(err.status(), Some(307), "{err}");
    assert!(
        err.to_string().contains("Redirects are not followed"),
        "{err}"
    );
    assert!(
        elsewhere.requests().is_empty(),
        "nothing reached the other host"
    );
    h
}

#[tokio::test]
async fn redirect_from_the_api_is_not_followed() {
    let h = redirect_refused(Endpoint::Events, "/v1/events/x").await;
    let seen = seen(&h);
    assert_eq!(seen.last(), Some(&Endpoint::Events));
    assert_eq!(seen.len(), 3, "upload-url, storage, one event request");
}

#[tokio::test]
async fn redirect_from_storage_is_not_followed() {
    let h = redirect_refused(Endpoint::Storage, "/storage/x?token=y").await;
    assert_eq!(seen(&h), [Endpoint::UploadUrl, Endpoint::Storage]);
    assert!(h.emulator.events().is_empty());
}
