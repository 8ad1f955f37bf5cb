//! The state of a reader attachment: read once for its type check, then
//! streamed by one upload or buffered for many.

use std::sync::{Arc, Mutex, PoisonError};

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
                    let read = fill(&mut reader, &mut head, want as usize).await;
                    let head = head.freeze();
                    *slot.lock() = ReaderState::Peeked {
                        head: head.clone(),
                        rest: reader,
                    };
                    read.map_err(|e| self.io_error(&e))?;
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
                    )
                    .await;
                    let bytes = buf.freeze();
                    if let Err(e) = result {
                        *slot.lock() = ReaderState::Taken;
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
async fn fill(reader: &mut BoxReader, buf: &mut BytesMut, want: usize) -> std::io::Result<()> {
    while buf.len() < want {
        buf.reserve((want - buf.len()).min(64 * 1024));
        let n = reader.take((want - buf.len()) as u64).read_buf(buf).await?;
        if n == 0 {
            break;
        }
    }
    Ok(())
}
