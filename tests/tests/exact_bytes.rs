//! The exact bytes or an error: files whose size the file system does not
//! tell, sources that yield more than announced at a chunk boundary,
//! sources that stall, and storage that answers before it has the body.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use flowflex::{Attachment, AttachmentErrorKind, Error, Mime};
use flowflex_emulator::{Endpoint, Fault};
use tests::{Harness, sample, sha256};

/// A reader that hands out `content` at most `step` bytes per read, then
/// either ends or (with `stall_after`) never answers again.
struct Chunky {
    content: Vec<u8>,
    at: usize,
    step: usize,
    stall_after: Option<usize>,
}

impl Chunky {
    fn new(content: Vec<u8>, step: usize) -> Chunky {
        Chunky {
            content,
            at: 0,
            step,
            stall_after: None,
        }
    }

    fn stalling_after(mut self, n: usize) -> Chunky {
        self.stall_after = Some(n);
        self
    }
}

impl tokio::io::AsyncRead for Chunky {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let limit = self.stall_after.unwrap_or(usize::MAX);
        if self.at >= limit {
            // Never ready, never wakes: a hung pipe or network file system.
            return Poll::Pending;
        }
        let end = (self.at + self.step)
            .min(self.content.len())
            .min(limit)
            .min(self.at + buf.remaining());
        buf.put_slice(&self.content[self.at..end]);
        self.at = end;
        Poll::Ready(Ok(()))
    }
}

#[tokio::test]
async fn a_file_whose_stat_size_is_zero_sends_its_real_content() {
    let path = std::path::Path::new("/proc/version");
    let Ok(expected) = std::fs::read(path) else {
        eprintln!("skipped: no /proc/version on this system");
        return;
    };
    assert_eq!(std::fs::metadata(path).unwrap().len(), 0, "stat says 0");
    assert!(!expected.is_empty());
    let h = Harness::start().await;
    let sent = h
        .client
        .send_event(
            "e",
            flowflex::json!({"kernel": Attachment::from_path(path).with_filename("version.txt")}),
        )
        .await
        .expect("sent");
    let asset = h
        .emulator
        .asset(sent.uploaded_assets["kernel"].as_str())
        .unwrap();
    assert!(asset.uploaded);
    assert_eq!(asset.size, expected.len() as u64, "the real length");
    assert_eq!(sha256(&asset.bytes), sha256(&expected), "the real content");
}

#[tokio::test]
async fn a_sized_reader_with_one_byte_more_at_a_chunk_boundary_is_changed() {
    let h = Harness::with(|b| b.max_retries(0)).await;
    let content = sample(Mime::Pdf, 10_000 - 15 + 1); // 10_001 bytes
    assert_eq!(content.len(), 10_001);
    // Reads of 1000 bytes: the 10th read ends exactly at the announced size,
    // where the HTTP body stops asking.
    let reader = Chunky::new(content, 1000);
    let err = h
        .client
        .send_event(
            "e",
            flowflex::json!({"doc": Attachment::from_reader(reader, "doc.pdf").with_size(10_000)}),
        )
        .await
        .expect_err("a source longer than announced fails");
    assert_eq!(
        err.attachment_kind(),
        Some(AttachmentErrorKind::Changed),
        "{err}"
    );
    assert_eq!(err.path(), Some("doc"));
    assert!(h.emulator.events().is_empty(), "nothing was posted");
}

/// Sends `attachment` with a short client timeout and expects a `Stalled`
/// attachment error well before the test's own deadline.
async fn stalls(attachment: Attachment) -> Error {
    let h = Harness::with(|b| b.max_retries(0).timeout(Duration::from_millis(400))).await;
    let send = h
        .client
        .send_event("e", flowflex::json!({"slow": attachment}));
    let err = tokio::time::timeout(Duration::from_secs(20), send)
        .await
        .expect("the send ends: it does not hang")
        .expect_err("a stalled source fails the send");
    assert_eq!(
        err.attachment_kind(),
        Some(AttachmentErrorKind::Stalled),
        "{err}"
    );
    assert_eq!(err.path(), Some("slow"));
    assert!(!err.is_retryable(), "{err}");
    assert!(h.emulator.events().is_empty());
    err
}

#[tokio::test]
async fn a_reader_that_stalls_before_the_type_check_fails_in_time() {
    let reader = Chunky::new(sample(Mime::Pdf, 100), 10).stalling_after(0);
    let err = stalls(Attachment::from_reader(reader, "slow.pdf").with_size(115)).await;
    assert!(err.to_string().contains("stalled"), "{err}");
}

#[tokio::test]
async fn a_reader_that_stalls_while_buffered_fails_in_time() {
    let reader = Chunky::new(sample(Mime::Pdf, 100_000), 1000).stalling_after(5_000);
    stalls(Attachment::from_reader(reader, "slow.pdf")).await;
}

#[tokio::test]
async fn a_reader_that_stalls_mid_stream_fails_in_time() {
    let content = sample(Mime::Pdf, 1 << 20);
    let size = content.len() as u64;
    let reader = Chunky::new(content, 64 * 1024).stalling_after(300 * 1024);
    stalls(Attachment::from_reader(reader, "slow.pdf").with_size(size)).await;
}

#[tokio::test]
async fn storage_that_answers_before_reading_the_body_fails_the_upload() {
    let h = Harness::with(|b| b.max_retries(0)).await;
    let path = h.sample_file("big.pdf", Mime::Pdf, 8 << 20);
    // 200 at once, without reading the request body.
    h.emulator
        .inject(Fault::on(Endpoint::Storage).answer_before_body());
    let err = h
        .client
        .send_event("e", flowflex::json!({"doc": Attachment::from_path(&path)}))
        .await
        .expect_err("the upload is not reported done");
    assert!(matches!(err, Error::Upload { .. }), "{err:?}");
    assert!(err.is_retryable(), "{err}");
    assert_eq!(err.path(), Some("doc"));
    assert!(
        h.emulator
            .requests()
            .iter()
            .all(|r| r.endpoint != Endpoint::Events),
        "the event was not posted"
    );
    // Sent again, it goes through whole.
    let sent = h
        .client
        .send_event("e", flowflex::json!({"doc": Attachment::from_path(&path)}))
        .await
        .expect("resent");
    let asset = h
        .emulator
        .asset(sent.uploaded_assets["doc"].as_str())
        .unwrap();
    assert_eq!(sha256(&asset.bytes), tests::sha256_file(&path));
}
