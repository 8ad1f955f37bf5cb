//! Reading a source: the state of a reader attachment (read once for its
//! type check, then streamed by one upload or buffered for many), reads
//! with a deadline, and what a failed read means in the caller's terms.
//! The lowest of `attachment/`: `body` and `check` use it, it uses neither.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};

use super::{Attachment, Source};
use crate::error::{AttachmentErrorKind, Error};

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
    /// What a failed read of the source means, in the caller's terms.
    pub(super) fn io_error(&self, e: &std::io::Error) -> Error {
        use std::io::ErrorKind as K;
        let (kind, message) = match e.kind() {
            K::NotFound => (
                AttachmentErrorKind::NotFound,
                match &self.inner.source {
                    Source::Path(path) => format!(
                        "the file does not exist: nothing at {}; check the path{}",
                        crate::redact::printable(&absolute(path).display().to_string(), 400),
                        if path.is_relative() {
                            " (a relative path starts from the process's working directory)"
                        } else {
                            ""
                        }
                    ),
                    _ => "the file does not exist".to_owned(),
                },
            ),
            K::TimedOut => (
                AttachmentErrorKind::Stalled,
                format!(
                    "stalled: {e}; check the file system or the reader (every read must make progress within the client's timeout)"
                ),
            ),
            K::PermissionDenied => (
                AttachmentErrorKind::Unreadable,
                "permission denied: make the file readable by this process".to_owned(),
            ),
            _ => (
                AttachmentErrorKind::Unreadable,
                format!("could not be read ({e}): check the file or reader"),
            ),
        };
        self.error(kind, message)
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

/// `path` as the process would open it: joined to the working directory
/// when relative (without resolving links), so that a message names the
/// file it tried.
fn absolute(path: &std::path::Path) -> std::path::PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}
