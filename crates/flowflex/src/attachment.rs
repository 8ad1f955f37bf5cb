//! Files to attach to an event, read lazily at send time: the public type.
//!
//! Its jobs live beside it, each using only the ones after it: `check`
//! (name, type, magic bytes, size, before any request), `body` (a prepared
//! upload and the streamed request body of one attempt), `reader` (the
//! state of a reader source, reads with a deadline, read errors).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::io::AsyncRead;

use crate::error::{AttachmentErrorKind, Error, Result};
use crate::mime::Mime;
use crate::token;

mod body;
mod check;
mod reader;

pub(crate) use body::{BodyProgress, Completion, OnChunk, Prepared};
use reader::{ReaderSlot, ReaderState};

/// A file to attach to an event: a path, bytes in memory, or a reader.
///
/// Put it anywhere in an event payload; when the event is sent, the SDK
/// uploads it through a presigned URL and the event carries its asset id in
/// its place. Nothing is read until a send.
///
/// Clones are the same file: used in several places of one payload, an
/// attachment is uploaded once and the same asset id appears everywhere.
/// Every send uploads afresh (asset ids expire 48 h after upload).
///
/// ```no_run
/// use flowflex::{Attachment, Mime};
///
/// let invoice = Attachment::from_path("./invoice.pdf");
/// let receipt = Attachment::from_bytes(vec![b'%', b'P', b'D', b'F'], "receipt.pdf");
/// let scan = Attachment::from_path("./scan-7f3a")
///     .with_filename("scan.png")
///     .with_mime(Mime::Png);
/// ```
#[derive(Clone)]
pub struct Attachment {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    /// Identity: clones share it, edits of a shared attachment get a new
    /// one. Random, so that no payload text can guess it (token.rs).
    key: u64,
    /// What it serializes to: its key as a token (token.rs).
    token: Box<str>,
    source: Source,
    filename: Option<String>,
    mime: Option<Mime>,
    size: Option<u64>,
}

#[derive(Clone)]
pub(crate) enum Source {
    Path(PathBuf),
    Bytes(Bytes),
    Reader(Arc<ReaderSlot>),
}

impl Attachment {
    /// A file on disk. Its name (for the upload and the MIME type) is the
    /// path's last component, unless [`with_filename`](Self::with_filename)
    /// sets another. The file is streamed, never read whole into memory.
    ///
    /// ```
    /// use flowflex::{Attachment, Mime};
    ///
    /// // Nothing is read yet: the file need not exist until a send.
    /// let invoice = Attachment::from_path("./invoices/2024-07.pdf");
    /// assert_eq!(invoice.filename(), Some("2024-07.pdf"));
    /// assert_eq!(invoice.mime(), Some(Mime::Pdf));
    /// ```
    pub fn from_path(path: impl AsRef<Path>) -> Self {
        Self::new(Source::Path(path.as_ref().to_path_buf()), None)
    }

    /// Bytes in memory, with the file name to store them under.
    ///
    /// ```
    /// use flowflex::{Attachment, Mime};
    ///
    /// let notes = Attachment::from_bytes("hello, flows".as_bytes().to_vec(), "notes.txt");
    /// assert_eq!(notes.filename(), Some("notes.txt"));
    /// assert_eq!(notes.mime(), Some(Mime::Txt));
    /// assert_eq!(notes.size_hint(), Some(12));
    /// ```
    pub fn from_bytes(bytes: impl Into<Bytes>, filename: impl Into<String>) -> Self {
        Self::new(Source::Bytes(bytes.into()), Some(filename.into()))
    }

    /// Bytes read from an async reader, with the file name to store them under.
    ///
    /// Without [`with_size`](Self::with_size) the reader is read into memory
    /// at send time, up to the size cap (an oversized reader fails before any
    /// upload), and the upload can be retried. With `with_size` it is streamed
    /// as it is read: no copy, but a one-shot body that is not retried and
    /// cannot be sent by a second send.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let reader = std::io::Cursor::new(b"hello, flows".to_vec());
    /// let notes = flowflex::Attachment::from_reader(reader, "notes.txt");
    /// assert_eq!(notes.size_hint(), None); // known once read
    /// let info = notes.check(flowflex::MAX_FILE_BYTES).await.unwrap();
    /// assert_eq!(info.size, 12);
    /// # }
    /// ```
    pub fn from_reader(
        reader: impl AsyncRead + Send + Unpin + 'static,
        filename: impl Into<String>,
    ) -> Self {
        let slot = ReaderSlot::new(Mutex::new(ReaderState::Fresh(Box::new(reader))));
        Self::new(Source::Reader(Arc::new(slot)), Some(filename.into()))
    }

    #[doc(hidden)]
    /// Used by `include_attachment!`: bytes compiled into the binary.
    pub fn __from_static(bytes: &'static [u8], filename: &'static str, mime: Mime) -> Self {
        Self::from_bytes(Bytes::from_static(bytes), filename).with_mime(mime)
    }

    fn new(source: Source, filename: Option<String>) -> Self {
        let key = token::new_key();
        Attachment {
            inner: Arc::new(Inner {
                key,
                token: token::text(key),
                source,
                filename,
                mime: None,
                size: None,
            }),
        }
    }

    fn edit(mut self, f: impl FnOnce(&mut Inner)) -> Self {
        // Editing a shared attachment makes a new file: the other clones keep
        // their settings and identity.
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            f(inner);
            self
        } else {
            let mut inner = (*self.inner).clone();
            inner.key = token::new_key();
            inner.token = token::text(inner.key);
            f(&mut inner);
            Attachment {
                inner: Arc::new(inner),
            }
        }
    }

    /// The name the file is stored under; also decides its MIME type when
    /// none is set.
    ///
    /// ```
    /// use flowflex::{Attachment, Mime};
    ///
    /// let scan = Attachment::from_path("/tmp/upload-7f3a").with_filename("scan.png");
    /// assert_eq!(scan.filename(), Some("scan.png"));
    /// assert_eq!(scan.mime(), Some(Mime::Png));
    /// assert_eq!(scan.path(), Some(std::path::Path::new("/tmp/upload-7f3a")));
    /// ```
    #[must_use]
    pub fn with_filename(self, filename: impl Into<String>) -> Self {
        let filename = filename.into();
        self.edit(|i| i.filename = Some(filename))
    }

    /// The MIME type, instead of the one the file name's extension implies.
    /// The file's bytes are still checked against it.
    ///
    /// ```
    /// use flowflex::{Attachment, Mime};
    ///
    /// let png = &b"\x89PNG\r\n\x1a\n...."[..];
    /// let label = Attachment::from_bytes(png, "label").with_mime(Mime::Png);
    /// assert_eq!(label.filename(), Some("label"));
    /// assert_eq!(label.mime(), Some(Mime::Png));
    /// ```
    #[must_use]
    pub fn with_mime(self, mime: Mime) -> Self {
        self.edit(|i| i.mime = Some(mime))
    }

    /// The size in bytes. For a reader this makes the upload stream as it
    /// reads (see [`from_reader`](Self::from_reader)); for a path or bytes it
    /// must equal the actual size, or the send fails.
    ///
    /// ```
    /// use flowflex::Attachment;
    ///
    /// let reader = std::io::Cursor::new(b"hello, flows".to_vec());
    /// let notes = Attachment::from_reader(reader, "notes.txt").with_size(12);
    /// assert_eq!(notes.size_hint(), Some(12));
    /// ```
    #[must_use]
    pub fn with_size(self, size: u64) -> Self {
        self.edit(|i| i.size = Some(size))
    }

    /// The file name, as set or taken from the path.
    ///
    /// ```
    /// use flowflex::Attachment;
    ///
    /// assert_eq!(Attachment::from_path("docs/Invoice 7.pdf").filename(), Some("Invoice 7.pdf"));
    /// assert_eq!(Attachment::from_path("/").filename(), None);
    /// ```
    #[must_use]
    pub fn filename(&self) -> Option<&str> {
        match (&self.inner.filename, &self.inner.source) {
            (Some(name), _) => Some(name),
            (None, Source::Path(path)) => path.file_name().and_then(|n| n.to_str()),
            (None, _) => None,
        }
    }

    /// The MIME type, as set or implied by the file name.
    ///
    /// ```
    /// use flowflex::{Attachment, Mime};
    ///
    /// assert_eq!(Attachment::from_path("photo.JPG").mime(), Some(Mime::Jpeg));
    /// assert_eq!(Attachment::from_path("anim.gif").mime(), None);
    /// ```
    #[must_use]
    pub fn mime(&self) -> Option<Mime> {
        self.inner
            .mime
            .or_else(|| self.filename().and_then(Mime::from_filename))
    }

    /// The size, when known without reading: set, or the length of bytes.
    ///
    /// ```
    /// use flowflex::Attachment;
    ///
    /// assert_eq!(Attachment::from_bytes(vec![b'a'; 10], "a.txt").size_hint(), Some(10));
    /// assert_eq!(Attachment::from_path("a.txt").size_hint(), None);
    /// assert_eq!(Attachment::from_path("a.txt").with_size(10).size_hint(), Some(10));
    /// ```
    #[must_use]
    pub fn size_hint(&self) -> Option<u64> {
        match &self.inner.source {
            Source::Bytes(bytes) => Some(bytes.len() as u64),
            _ => self.inner.size,
        }
    }

    /// The path of a file attachment.
    ///
    /// ```
    /// use std::path::Path;
    /// use flowflex::Attachment;
    ///
    /// assert_eq!(Attachment::from_path("./a.pdf").path(), Some(Path::new("./a.pdf")));
    /// assert_eq!(Attachment::from_bytes(vec![b'a'], "a.txt").path(), None);
    /// ```
    #[must_use]
    pub fn path(&self) -> Option<&Path> {
        match &self.inner.source {
            Source::Path(path) => Some(path),
            _ => None,
        }
    }

    /// Whether two attachments are the same file (one is a clone of the other).
    ///
    /// ```
    /// use flowflex::Attachment;
    ///
    /// let invoice = Attachment::from_path("./invoice.pdf");
    /// assert!(invoice.same_file(&invoice.clone())); // uploaded once per send
    /// assert!(!invoice.same_file(&Attachment::from_path("./invoice.pdf")));
    /// ```
    #[must_use]
    pub fn same_file(&self, other: &Attachment) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner) || self.inner.key == other.inner.key
    }

    /// The identity shared by clones; what a payload's token names.
    pub(crate) fn key(&self) -> u64 {
        self.inner.key
    }

    /// The text it serializes to: its key as a token (token.rs).
    pub(crate) fn token(&self) -> &str {
        &self.inner.token
    }

    /// How the file is named in messages: its path or its name.
    pub(crate) fn display_name(&self) -> String {
        match (&self.inner.source, self.filename()) {
            (Source::Path(path), _) => path.display().to_string(),
            (_, Some(name)) => name.to_owned(),
            _ => "<unnamed attachment>".to_owned(),
        }
    }

    fn error(&self, kind: AttachmentErrorKind, message: impl Into<String>) -> Error {
        Error::Attachment {
            path: None,
            file: crate::redact::printable(&self.display_name(), 200),
            kind,
            message: message.into(),
            idempotency_key: None,
        }
    }

    /// Runs every check a send makes before its first request (file name,
    /// MIME type, magic bytes, size against `max_file_bytes` and the
    /// service's limit) and says what the file is. Sends nothing.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use flowflex::{Attachment, Mime};
    ///
    /// let png = Attachment::from_bytes(&b"\x89PNG\r\n\x1a\n...."[..], "label.png");
    /// let info = png.check(flowflex::MAX_FILE_BYTES).await.unwrap();
    /// assert_eq!((info.mime, info.size), (Mime::Png, 12));
    ///
    /// let fake = Attachment::from_bytes(&b"\x89PNG\r\n\x1a\n...."[..], "invoice.pdf");
    /// let err = fake.check(flowflex::MAX_FILE_BYTES).await.unwrap_err();
    /// assert!(err.to_string().contains("PNG image"));
    /// # }
    /// ```
    pub async fn check(&self, max_file_bytes: u64) -> Result<FileInfo> {
        let prepared = self
            .prepare(
                max_file_bytes.min(crate::MAX_FILE_BYTES),
                crate::DEFAULT_TIMEOUT,
            )
            .await?;
        Ok(FileInfo {
            filename: prepared.filename,
            mime: prepared.mime,
            size: prepared.size,
        })
    }
}

impl fmt::Debug for Attachment {
    /// Name, type and size, never the content or the local path: payloads
    /// end up in logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = match &self.inner.source {
            Source::Path(_) => "file",
            Source::Bytes(_) => "bytes",
            Source::Reader(_) => "reader",
        };
        f.debug_struct("Attachment")
            .field("source", &source)
            .field("filename", &self.filename())
            .field("mime", &self.mime())
            .field("size", &self.size_hint())
            .finish()
    }
}

/// What [`Attachment::check`] found: the file as a send would upload it.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use flowflex::{Attachment, Mime};
///
/// let label = Attachment::from_bytes(&b"\x89PNG\r\n\x1a\n...."[..], "label.png");
/// let info = label.check(flowflex::MAX_FILE_BYTES).await.unwrap();
/// assert_eq!((info.filename.as_str(), info.mime, info.size), ("label.png", Mime::Png, 12));
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FileInfo {
    /// The name it is stored under.
    pub filename: String,
    /// Its type, checked against its bytes.
    pub mime: Mime,
    /// Its size in bytes.
    pub size: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::BodyFault;

    #[test]
    fn clones_are_the_same_file_and_edits_of_shared_ones_are_not() {
        let a = Attachment::from_bytes(&b"x"[..], "a.txt");
        let b = a.clone();
        assert!(a.same_file(&b));
        let c = b.clone().with_filename("c.txt");
        assert!(!a.same_file(&c));
        assert_eq!(a.filename(), Some("a.txt"));
        assert_eq!(c.filename(), Some("c.txt"));
        let unique = Attachment::from_bytes(&b"x"[..], "u.txt");
        let id = unique.key();
        assert_eq!(
            unique.with_mime(Mime::Txt).key(),
            id,
            "edit of an unshared one keeps identity"
        );
    }

    #[tokio::test]
    async fn unknown_length_reader_is_buffered_once_and_reusable() {
        let a = Attachment::from_reader(&b"hello"[..], "h.txt");
        let p1 = a
            .prepare(100, std::time::Duration::from_secs(5))
            .await
            .unwrap();
        assert!(p1.rewindable());
        let p2 = a
            .clone()
            .prepare(100, std::time::Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(p2.size, 5);
    }

    #[tokio::test]
    async fn sized_reader_is_one_shot() {
        let a = Attachment::from_reader(&b"hello"[..], "h.txt").with_size(5);
        let p = a
            .prepare(100, std::time::Duration::from_secs(5))
            .await
            .unwrap();
        assert!(!p.rewindable());
        let fault = BodyFault::default();
        let _body = p.body(&fault, None, &Completion::default()).await.unwrap();
        let again = a
            .prepare(100, std::time::Duration::from_secs(5))
            .await
            .unwrap_err();
        assert_eq!(again.attachment_kind(), Some(AttachmentErrorKind::Consumed));
    }

    #[tokio::test]
    async fn reader_over_the_cap_is_refused_before_upload() {
        let a = Attachment::from_reader(&[b'a'; 11][..], "big.txt");
        let err = a
            .prepare(10, std::time::Duration::from_secs(5))
            .await
            .unwrap_err();
        assert_eq!(err.attachment_kind(), Some(AttachmentErrorKind::TooLarge));
    }
}
