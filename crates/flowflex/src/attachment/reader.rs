//! The state of a reader attachment: read once for its type check, then
//! streamed by one upload or buffered for many.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};

use super::Attachment;
use super::body::Body;
use super::check::human_size;
use crate::error::{AttachmentErrorKind, Error, Result};
use crate::sniff;

pub(super) type BoxReader = Box<dyn AsyncRead + Send + Unpin>;

pub(crate) struct ReaderSlot {
    state: Mutex<ReaderState>,
}

pub(super) enum ReaderState {
    Fresh(BoxReader),
    /// The first bytes were read for the type check; `rest` follows them.
    Peeked {
        head: Bytes,
        rest: BoxReader,
    },
    /// A reader of unknown length, read whole (up to the size cap): reusable.
    Buffered(Bytes),
    /// Taken by an upload that streams it.
    Taken,
    /// It failed or stalled while being read: its position is unknown.
    Broken,
}

impl ReaderSlot {
    pub(super) fn new(state: Mutex<ReaderState>) -> Self {
        ReaderSlot { state }
    }

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, ReaderState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Attachment {
    pub(super) async fn prepare_reader(
        &self,
        slot: &Arc<ReaderSlot>,
        cap: u64,
        read_timeout: Duration,
    ) -> Result<(u64, Bytes, Body)> {
        let state = std::mem::replace(&mut *slot.lock(), ReaderState::Taken);
        match state {
            ReaderState::Buffered(bytes) => {
                *slot.lock() = ReaderState::Buffered(bytes.clone());
                let size = bytes.len() as u64;
                self.check_cap(size, cap)?;
                let head = bytes.slice(..bytes.len().min(sniff::SNIFF_LEN));
                Ok((size, head, Body::Bytes(bytes)))
            }
            ReaderState::Taken => Err(self.consumed()),
            ReaderState::Broken => {
                *slot.lock() = ReaderState::Broken;
                Err(self.error(
                    AttachmentErrorKind::Consumed,
                    "this reader failed or stalled in an earlier send and cannot be read again: build the attachment again from its source",
                ))
            }
            ReaderState::Peeked { head, rest } => {
                *slot.lock() = ReaderState::Peeked {
                    head: head.clone(),
                    rest,
                };
                let size = self.inner.size.unwrap_or(head.len() as u64);
                self.check_cap(size, cap)?;
                Ok((size, head, Body::Reader(Arc::clone(slot))))
            }
            ReaderState::Fresh(mut reader) => match self.inner.size {
                Some(size) => {
                    if let Err(e) = self.check_cap(size, cap) {
                        *slot.lock() = ReaderState::Fresh(reader);
                        return Err(e);
                    }
                    let want = size.min(sniff::SNIFF_LEN as u64);
                    let mut head = BytesMut::with_capacity(want as usize);
                    let read = fill(&mut reader, &mut head, want as usize, read_timeout).await;
                    let head = head.freeze();
                    if let Err(e) = read {
                        *slot.lock() = ReaderState::Broken;
                        return Err(self.io_error(&e));
                    }
                    *slot.lock() = ReaderState::Peeked {
                        head: head.clone(),
                        rest: reader,
                    };
                    if (head.len() as u64) < want {
                        return Err(self.error(
                            AttachmentErrorKind::Changed,
                            format!(
                                "with_size({size}) was given but the reader ended after {} bytes: correct with_size or drop it",
                                head.len()
                            ),
                        ));
                    }
                    Ok((size, head, Body::Reader(Arc::clone(slot))))
                }
                None => {
                    let mut buf = BytesMut::new();
                    let result = fill(
                        &mut reader,
                        &mut buf,
                        usize::try_from(cap + 1).unwrap_or(usize::MAX),
                        read_timeout,
                    )
                    .await;
                    let bytes = buf.freeze();
                    if let Err(e) = result {
                        *slot.lock() = ReaderState::Broken;
                        return Err(self.io_error(&e));
                    }
                    if bytes.len() as u64 > cap {
                        *slot.lock() = ReaderState::Peeked {
                            head: bytes,
                            rest: reader,
                        };
                        return Err(self.error(
                            AttachmentErrorKind::TooLarge,
                            format!(
                                "the reader holds more than the {} limit: send a smaller file",
                                human_size(cap)
                            ),
                        ));
                    }
                    *slot.lock() = ReaderState::Buffered(bytes.clone());
                    let size = bytes.len() as u64;
                    let head = bytes.slice(..bytes.len().min(sniff::SNIFF_LEN));
                    Ok((size, head, Body::Bytes(bytes)))
                }
            },
        }
    }

    /// A one-shot reader taken by an earlier send.
    pub(super) fn consumed(&self) -> Error {
        self.error(
            AttachmentErrorKind::Consumed,
            "this reader was already streamed by an earlier send and cannot be read again: use Attachment::from_path or from_bytes to send the same content more than once",
        )
    }
}

/// Reads until `buf` holds `want` bytes or the reader ends, growing `buf` a
/// chunk at a time (a reader of unknown length may be far below `want`).
/// Each read must make progress within `read_timeout`.
pub(super) async fn fill<R: tokio::io::AsyncRead + Unpin + ?Sized>(
    reader: &mut R,
    buf: &mut BytesMut,
    want: usize,
    read_timeout: Duration,
) -> std::io::Result<()> {
    while buf.len() < want {
        buf.reserve((want - buf.len()).min(64 * 1024));
        let mut limited = (&mut *reader).take((want - buf.len()) as u64);
        let n = tokio::time::timeout(read_timeout, limited.read_buf(buf))
            .await
            .map_err(|_| stalled(read_timeout))??;
        if n == 0 {
            break;
        }
    }
    Ok(())
}

/// The error of a read that made no progress within its deadline.
pub(super) fn stalled(after: Duration) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        format!("no byte came within {after:?}"),
    )
}
