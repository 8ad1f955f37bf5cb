//! The streamed request body of one upload attempt.

use std::fmt;
use std::future::Future as _;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::Stream;
use tokio::io::AsyncReadExt;

use super::Attachment;
use super::reader::{BoxReader, ReaderSlot, ReaderState};
use crate::error::{AttachmentErrorKind, Error, Result};
use crate::mime::Mime;
use crate::transport::BodyFault;

/// Each read of a file is a hop to Tokio's blocking pool: with 256 KiB reads
/// a 25 MiB upload runs at ~0.94x curl on loopback (64 KiB: ~0.90x) and
/// memory stays a few chunks (docs/performance.md).
const CHUNK: usize = 256 * 1024;

/// An attachment checked and ready to upload.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub(crate) attachment: Attachment,
    pub(crate) filename: String,
    pub(crate) mime: Mime,
    pub(crate) size: u64,
    pub(super) body: Body,
    /// How long one read of the source may take.
    pub(super) read_timeout: Duration,
}

/// Set once a body handed over its last byte and its source proved that it
/// ends there; a storage answer before that means the bytes did not all go.
pub(crate) type Completion = Arc<AtomicBool>;

#[derive(Clone)]
pub(super) enum Body {
    /// A file; `stat_sized` is false when the file system gave no size (it
    /// was read to its end instead).
    Path {
        path: PathBuf,
        stat_sized: bool,
    },
    Bytes(Bytes),
    Reader(Arc<ReaderSlot>),
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Body::Path { .. } => f.write_str("Path"),
            Body::Bytes(b) => write!(f, "Bytes({})", b.len()),
            Body::Reader(_) => f.write_str("Reader"),
        }
    }
}

/// What a body reports as it is sent.
#[derive(Debug, Clone, Copy)]
pub(crate) enum BodyProgress {
    /// An attempt starts (again) from the first byte.
    Restart,
    /// This many more bytes went out.
    Sent(u64),
}

/// Progress callback of one upload, across its attempts.
pub(crate) type OnChunk = Arc<dyn Fn(BodyProgress) + Send + Sync>;

impl Prepared {
    /// Whether the body can be produced again for another attempt.
    pub(crate) fn rewindable(&self) -> bool {
        !matches!(self.body, Body::Reader(_))
    }

    /// A fresh request body for one attempt, streamed from the source.
    pub(crate) async fn body(
        &self,
        fault: &BodyFault,
        on_chunk: Option<OnChunk>,
        complete: &Completion,
    ) -> Result<reqwest::Body> {
        complete.store(false, Ordering::SeqCst);
        if let Body::Bytes(bytes) = &self.body {
            // Handed over whole: whether it all went out, only the HTTP
            // stack knows (docs/reliability.md).
            complete.store(true, Ordering::SeqCst);
            if let Some(cb) = on_chunk {
                cb(BodyProgress::Restart);
                cb(BodyProgress::Sent(bytes.len() as u64));
            }
            return Ok(reqwest::Body::from(bytes.clone()));
        }
        let stream = self.checked(fault, on_chunk, complete).await?;
        Ok(reqwest::Body::wrap_stream(stream))
    }

    /// The file's bytes, checked against the size announced: a stream that
    /// fails (and says why in `fault`) if the source yields more or fewer.
    pub(crate) async fn stream(
        &self,
        fault: &BodyFault,
        on_chunk: Option<OnChunk>,
    ) -> Result<ByteStream> {
        Ok(Box::new(
            self.checked(fault, on_chunk, &Completion::default())
                .await?,
        ))
    }

    async fn checked(
        &self,
        fault: &BodyFault,
        on_chunk: Option<OnChunk>,
        complete: &Completion,
    ) -> Result<Checked<ByteStream>> {
        let a = &self.attachment;
        let stream: ByteStream = match &self.body {
            Body::Bytes(bytes) => Box::new(futures_util::stream::iter([Ok(bytes.clone())])),
            Body::Path { path, stat_sized } => {
                let file = tokio::fs::File::open(path)
                    .await
                    .map_err(|e| a.io_error(&e))?;
                let len = file.metadata().await.map_err(|e| a.io_error(&e))?.len();
                if *stat_sized && len != self.size {
                    return Err(changed(a, self.size, len));
                }
                Box::new(tokio_util::io::ReaderStream::with_capacity(
                    file.take(self.size + 1),
                    CHUNK,
                ))
            }
            Body::Reader(slot) => {
                let state = std::mem::replace(&mut *slot.lock(), ReaderState::Taken);
                let ReaderState::Peeked { head, rest } = state else {
                    *slot.lock() = state;
                    return Err(a.consumed());
                };
                let remaining = self.size.saturating_sub(head.len() as u64);
                Box::new(Lent {
                    slot: Arc::clone(slot),
                    state: LentState::Unpolled {
                        head,
                        rest,
                        remaining,
                    },
                })
            }
        };
        if let Some(cb) = &on_chunk {
            cb(BodyProgress::Restart);
        }
        // An empty body is never asked for: nothing to prove.
        complete.store(self.size == 0, Ordering::SeqCst);
        Ok(Checked {
            inner: stream,
            expected: self.size,
            sent: 0,
            fault: Arc::clone(fault),
            attachment: a.clone(),
            on_chunk,
            held: None,
            ended: false,
            complete: Arc::clone(complete),
            // Below the request's own deadline, so that a stalled source is
            // named as such rather than blamed on the network.
            idle: self.read_timeout.mul_f64(0.75),
            stall: None,
            done: false,
        })
    }
}

fn changed(a: &Attachment, expected: u64, actual: u64) -> Error {
    a.error(
        AttachmentErrorKind::Changed,
        format!(
            "the file changed size while being sent ({expected} bytes when checked, {actual} now): nothing truncated was stored; send again once the file is complete"
        ),
    )
}

/// Passes a body through, failing it if its source yields more or fewer
/// bytes than the `Content-Length` announced, so a file that changes size
/// while streaming fails the upload instead of storing a truncated file.
///
/// The HTTP stack stops asking once it has `Content-Length` bytes, so the
/// last chunk is held back until the source proves it ends there (a source
/// that yields even one byte more fails as `Changed`). Every read must make
/// progress within `idle`, or the body fails as `Stalled`.
struct Checked<S> {
    inner: S,
    expected: u64,
    sent: u64,
    fault: BodyFault,
    attachment: Attachment,
    on_chunk: Option<OnChunk>,
    /// The chunk that reached `expected`, until the end is proven.
    held: Option<Bytes>,
    /// The source ended.
    ended: bool,
    complete: Completion,
    idle: Duration,
    stall: Option<Pin<Box<tokio::time::Sleep>>>,
    done: bool,
}

impl<S> Checked<S> {
    fn fail(&mut self, error: Error) -> Poll<Option<std::io::Result<Bytes>>> {
        let message = error.to_string();
        *self.fault.lock().unwrap_or_else(PoisonError::into_inner) = Some(error);
        self.done = true;
        Poll::Ready(Some(Err(std::io::Error::other(message))))
    }

    fn hand_over(&mut self, chunk: Bytes) -> Poll<Option<std::io::Result<Bytes>>> {
        if let Some(cb) = &self.on_chunk {
            cb(BodyProgress::Sent(chunk.len() as u64));
        }
        Poll::Ready(Some(Ok(chunk)))
    }
}

impl<S: Stream<Item = std::io::Result<Bytes>> + Unpin> Stream for Checked<S> {
    type Item = std::io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if self.done {
                return Poll::Ready(None);
            }
            if self.ended {
                // The source ended at exactly `expected`: the held chunk goes.
                self.done = true;
                self.complete.store(true, Ordering::SeqCst);
                return match self.held.take() {
                    Some(chunk) => self.hand_over(chunk),
                    None => Poll::Ready(None),
                };
            }
            let next = match Pin::new(&mut self.inner).poll_next(cx) {
                Poll::Ready(next) => {
                    self.stall = None;
                    next
                }
                Poll::Pending => {
                    let idle = self.idle;
                    let stall = self
                        .stall
                        .get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
                    if stall.as_mut().poll(cx).is_ready() {
                        let err = self.attachment.io_error(&super::reader::stalled(self.idle));
                        return self.fail(err);
                    }
                    return Poll::Pending;
                }
            };
            match next {
                Some(Ok(chunk)) if chunk.is_empty() => {}
                Some(Ok(chunk)) => {
                    let sent = self.sent + chunk.len() as u64;
                    if sent > self.expected || self.held.is_some() {
                        let err = changed(&self.attachment, self.expected, sent);
                        return self.fail(err);
                    }
                    self.sent = sent;
                    if sent < self.expected {
                        return self.hand_over(chunk);
                    }
                    self.held = Some(chunk);
                }
                Some(Err(e)) => {
                    let err = self.attachment.io_error(&e);
                    return self.fail(err);
                }
                None if self.sent != self.expected => {
                    let err = changed(&self.attachment, self.expected, self.sent);
                    return self.fail(err);
                }
                None => self.ended = true,
            }
        }
    }
}

pub(crate) type ByteStream = Box<dyn Stream<Item = std::io::Result<Bytes>> + Send + Unpin>;

/// A one-shot reader lent to one attempt's body. Until the HTTP stack first
/// asks for its bytes nothing was consumed, so a body dropped unread (the
/// connection failed, the send was cancelled) gives the reader back and the
/// payload can be sent again.
struct Lent {
    slot: Arc<ReaderSlot>,
    state: LentState,
}

enum LentState {
    Unpolled {
        head: Bytes,
        rest: BoxReader,
        remaining: u64,
    },
    Streaming(ByteStream),
    Done,
}

impl Stream for Lent {
    type Item = std::io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let LentState::Unpolled { .. } = self.state {
            let LentState::Unpolled {
                head,
                rest,
                remaining,
            } = std::mem::replace(&mut self.state, LentState::Done)
            else {
                unreachable!("matched just above")
            };
            let head = futures_util::stream::iter([Ok(head)]);
            let rest = tokio_util::io::ReaderStream::with_capacity(rest.take(remaining + 1), CHUNK);
            self.state = LentState::Streaming(Box::new(futures_util::StreamExt::chain(head, rest)));
        }
        match &mut self.state {
            LentState::Streaming(stream) => Pin::new(stream).poll_next(cx),
            _ => Poll::Ready(None),
        }
    }
}

impl Drop for Lent {
    fn drop(&mut self) {
        if let LentState::Unpolled { head, rest, .. } =
            std::mem::replace(&mut self.state, LentState::Done)
        {
            *self.slot.lock() = ReaderState::Peeked { head, rest };
        }
    }
}
