//! Files to attach to an event, read lazily at send time.

use std::fmt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};

use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use tokio::io::{AsyncRead, AsyncReadExt};
use uuid::Uuid;

use crate::error::{AttachmentErrorKind, Error, Result};
use crate::mime::Mime;
use crate::sniff;

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
    id: Uuid,
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

type BoxReader = Box<dyn AsyncRead + Send + Unpin>;

pub(crate) struct ReaderSlot {
    state: Mutex<ReaderState>,
}

enum ReaderState {
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
    fn lock(&self) -> std::sync::MutexGuard<'_, ReaderState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
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
        let slot = ReaderSlot {
            state: Mutex::new(ReaderState::Fresh(Box::new(reader))),
        };
        Self::new(Source::Reader(Arc::new(slot)), Some(filename.into()))
    }

    #[doc(hidden)]
    /// Used by `include_attachment!`: bytes compiled into the binary.
    pub fn __from_static(bytes: &'static [u8], filename: &'static str, mime: Mime) -> Self {
        Self::from_bytes(Bytes::from_static(bytes), filename).with_mime(mime)
    }

    fn new(source: Source, filename: Option<String>) -> Self {
        Attachment {
            inner: Arc::new(Inner {
                id: Uuid::new_v4(),
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
            inner.id = Uuid::new_v4();
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
        Arc::ptr_eq(&self.inner, &other.inner) || self.inner.id == other.inner.id
    }

    pub(crate) fn id(&self) -> Uuid {
        self.inner.id
    }

    pub(crate) fn source(&self) -> &Source {
        &self.inner.source
    }

    pub(crate) fn explicit_parts(&self) -> (Option<&str>, Option<Mime>, Option<u64>) {
        (
            self.inner.filename.as_deref(),
            self.inner.mime,
            self.inner.size,
        )
    }

    pub(crate) fn from_parts(
        id: Uuid,
        source: Source,
        filename: Option<String>,
        mime: Option<Mime>,
        size: Option<u64>,
    ) -> Self {
        Attachment {
            inner: Arc::new(Inner {
                id,
                source,
                filename,
                mime,
                size,
            }),
        }
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
            .prepare(max_file_bytes.min(crate::MAX_FILE_BYTES))
            .await?;
        Ok(FileInfo {
            filename: prepared.filename,
            mime: prepared.mime,
            size: prepared.size,
        })
    }

    /// Everything that can be checked before a request: name, type, size,
    /// magic bytes. Reads at most the first [`sniff::SNIFF_LEN`] bytes of a
    /// file, or a whole reader of unknown length (up to `cap`).
    pub(crate) async fn prepare(&self, cap: u64) -> Result<Prepared> {
        let filename = self.checked_filename()?;
        let (size, head, body) = match &self.inner.source {
            Source::Path(path) => self.prepare_path(path, cap).await?,
            Source::Bytes(bytes) => {
                let size = bytes.len() as u64;
                self.check_declared_size(size)?;
                self.check_cap(size, cap)?;
                let head = bytes.slice(..bytes.len().min(sniff::SNIFF_LEN));
                (size, head, Body::Bytes(bytes.clone()))
            }
            Source::Reader(slot) => self.prepare_reader(slot, cap).await?,
        };
        let mime = self.resolve_mime(&filename, &head)?;
        if let Err(mismatch) = sniff::check(mime, &head) {
            let found = match (mismatch.empty, mismatch.detected) {
                (true, _) => "the file is empty".to_owned(),
                (false, Some(detected)) => format!("its bytes are {detected}"),
                (false, None) => "its bytes do not start with that type's signature".to_owned(),
            };
            let fix = match mismatch.detected {
                Some(sniff::Detected::Accepted(real)) => format!(
                    "; if it really is {}, name it .{} or set .with_mime(Mime::{real:?})",
                    real.label(),
                    real.extension()
                ),
                _ => "; check that this is the file you meant to send".to_owned(),
            };
            return Err(self.error(
                AttachmentErrorKind::TypeMismatch,
                format!(
                    "declared as {} ({}) but {found}{fix}",
                    mime.label(),
                    mime.as_str()
                ),
            ));
        }
        Ok(Prepared {
            attachment: self.clone(),
            filename,
            mime,
            size,
            body,
        })
    }

    fn checked_filename(&self) -> Result<String> {
        let name = match (&self.inner.filename, &self.inner.source) {
            (Some(name), _) => name.clone(),
            (None, Source::Path(path)) => match path.file_name() {
                Some(os) => os.to_str().map(str::to_owned).ok_or_else(|| {
                    self.error(
                        AttachmentErrorKind::InvalidFilename,
                        "the file name is not valid UTF-8: set one with .with_filename(..)",
                    )
                })?,
                None => {
                    return Err(self.error(
                        AttachmentErrorKind::NotAFile,
                        "the path has no file name: point it at a file",
                    ));
                }
            },
            (None, _) => String::new(),
        };
        if name.trim().is_empty() {
            return Err(self.error(
                AttachmentErrorKind::InvalidFilename,
                "the file name is empty: give one with .with_filename(..)",
            ));
        }
        if name
            .chars()
            .any(|c| c.is_control() || c == '/' || c == '\\')
        {
            return Err(self.error(
                AttachmentErrorKind::InvalidFilename,
                format!(
                    "the file name \"{}\" contains control characters or path separators: give a plain name with .with_filename(..)",
                    crate::redact::printable(&name, 100)
                ),
            ));
        }
        if name.len() > 255 {
            return Err(self.error(
                AttachmentErrorKind::InvalidFilename,
                "the file name is longer than 255 bytes: give a shorter one with .with_filename(..)",
            ));
        }
        Ok(name)
    }

    fn resolve_mime(&self, filename: &str, head: &[u8]) -> Result<Mime> {
        if let Some(mime) = self.inner.mime {
            return Ok(mime);
        }
        if let Some(mime) = Mime::from_filename(filename) {
            return Ok(mime);
        }
        let looks = match sniff::detect(head) {
            Some(sniff::Detected::Accepted(m)) => format!(
                "; its bytes look like {}: set .with_mime(Mime::{m:?}) or name it .{}",
                m.label(),
                m.extension()
            ),
            Some(other) => format!(
                "; its bytes look like {other}, which FlowFlex does not accept: convert it to one of the accepted types"
            ),
            None => {
                ": set one with .with_mime(..) or give the file an accepted extension".to_owned()
            }
        };
        let ext = filename
            .rsplit_once('.')
            .map(|(_, e)| format!("extension .{}", crate::redact::printable(e, 20)))
            .unwrap_or_else(|| "no extension".to_owned());
        Err(self.error(
            AttachmentErrorKind::UnknownType,
            format!(
                "cannot tell its MIME type (\"{}\" has {ext}, and FlowFlex accepts only {}){looks}",
                crate::redact::printable(filename, 100),
                Mime::ALL
                    .iter()
                    .map(|m| m.extension())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ))
    }

    fn check_declared_size(&self, actual: u64) -> Result<()> {
        match self.inner.size {
            Some(declared) if declared != actual => Err(self.error(
                AttachmentErrorKind::Changed,
                format!(
                    "with_size({declared}) was given but the file has {actual} bytes: drop with_size or correct it"
                ),
            )),
            _ => Ok(()),
        }
    }

    fn check_cap(&self, size: u64, cap: u64) -> Result<()> {
        if size > cap {
            Err(self.error(
                AttachmentErrorKind::TooLarge,
                format!(
                    "{} is over the {} limit: send a smaller file (FlowFlex stores at most {})",
                    human_size(size),
                    human_size(cap),
                    human_size(crate::MAX_FILE_BYTES)
                ),
            ))
        } else {
            Ok(())
        }
    }

    async fn prepare_path(&self, path: &Path, cap: u64) -> Result<(u64, Bytes, Body)> {
        let meta = tokio::fs::metadata(path)
            .await
            .map_err(|e| self.io_error(&e))?;
        if meta.is_dir() {
            return Err(self.error(
                AttachmentErrorKind::NotAFile,
                "the path is a directory: attach a file inside it",
            ));
        }
        if !meta.is_file() {
            return Err(self.error(
                AttachmentErrorKind::NotAFile,
                "the path is not a regular file (a pipe, socket or device cannot be sized): copy it to a file or use Attachment::from_reader",
            ));
        }
        let size = meta.len();
        self.check_declared_size(size)?;
        self.check_cap(size, cap)?;
        let mut file = tokio::fs::File::open(path)
            .await
            .map_err(|e| self.io_error(&e))?;
        let want = size.min(sniff::SNIFF_LEN as u64) as usize;
        let mut head = BytesMut::with_capacity(want);
        while head.len() < want {
            let n = (&mut file)
                .take((want - head.len()) as u64)
                .read_buf(&mut head)
                .await
                .map_err(|e| self.io_error(&e))?;
            if n == 0 {
                return Err(self.error(
                    AttachmentErrorKind::Changed,
                    "the file shrank while it was being checked: do not modify files while sending them",
                ));
            }
        }
        Ok((size, head.freeze(), Body::Path(path.to_path_buf())))
    }

    async fn prepare_reader(&self, slot: &Arc<ReaderSlot>, cap: u64) -> Result<(u64, Bytes, Body)> {
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
    fn consumed(&self) -> Error {
        self.error(
            AttachmentErrorKind::Consumed,
            "this reader was already streamed by an earlier send and cannot be read again: use Attachment::from_path or from_bytes to send the same content more than once",
        )
    }

    fn io_error(&self, e: &std::io::Error) -> Error {
        use std::io::ErrorKind as K;
        let (kind, message) = match e.kind() {
            K::NotFound => (
                AttachmentErrorKind::NotFound,
                "the file does not exist: check the path (relative paths start from the process's working directory)".to_owned(),
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

/// `1.2 MB`-style sizes for messages (decimal units, as the service's "25 MB").
pub(crate) fn human_size(bytes: u64) -> String {
    if bytes < 1000 {
        return format!("{bytes} B");
    }
    #[allow(clippy::cast_precision_loss)]
    let mut value = bytes as f64;
    for unit in ["KB", "MB", "GB", "TB"] {
        value /= 1000.0;
        if value < 1000.0 {
            return format!("{value:.1} {unit} ({bytes} bytes)");
        }
    }
    format!("{bytes} bytes")
}

impl fmt::Debug for Attachment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = match &self.inner.source {
            Source::Path(path) => format!("path {}", path.display()),
            Source::Bytes(bytes) => format!("{} bytes in memory", bytes.len()),
            Source::Reader(_) => "reader".to_owned(),
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

/// An attachment checked and ready to upload.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub(crate) attachment: Attachment,
    pub(crate) filename: String,
    pub(crate) mime: Mime,
    pub(crate) size: u64,
    body: Body,
}

#[derive(Clone)]
enum Body {
    Path(PathBuf),
    Bytes(Bytes),
    Reader(Arc<ReaderSlot>),
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Body::Path(p) => write!(f, "Path({})", p.display()),
            Body::Bytes(b) => write!(f, "Bytes({})", b.len()),
            Body::Reader(_) => f.write_str("Reader"),
        }
    }
}

/// What went wrong with a body while it was being streamed: the request
/// fails, and this says why.
pub(crate) type BodyFault = Arc<Mutex<Option<Error>>>;

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
    ) -> Result<reqwest::Body> {
        // Each read of a file is a hop to Tokio's blocking pool: with 256 KiB
        // reads a 25 MiB upload runs at ~0.94x curl on loopback (64 KiB:
        // ~0.90x) and memory stays a few chunks (docs/performance.md).
        const CHUNK: usize = 256 * 1024;
        let a = &self.attachment;
        let stream: Box<dyn Stream<Item = std::io::Result<Bytes>> + Send + Unpin> = match &self.body
        {
            Body::Bytes(bytes) => {
                if let Some(cb) = on_chunk {
                    cb(BodyProgress::Restart);
                    cb(BodyProgress::Sent(bytes.len() as u64));
                }
                return Ok(reqwest::Body::from(bytes.clone()));
            }
            Body::Path(path) => {
                let file = tokio::fs::File::open(path)
                    .await
                    .map_err(|e| a.io_error(&e))?;
                let len = file.metadata().await.map_err(|e| a.io_error(&e))?.len();
                if len != self.size {
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
                let head = futures_util::stream::iter([Ok(head)]);
                let rest =
                    tokio_util::io::ReaderStream::with_capacity(rest.take(remaining + 1), CHUNK);
                Box::new(futures_util::StreamExt::chain(head, rest))
            }
        };
        if let Some(cb) = &on_chunk {
            cb(BodyProgress::Restart);
        }
        let checked = Checked {
            inner: stream,
            expected: self.size,
            sent: 0,
            fault: Arc::clone(fault),
            attachment: a.clone(),
            on_chunk,
            done: false,
        };
        Ok(reqwest::Body::wrap_stream(checked))
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

/// Passes a body through, failing it if it yields more or fewer bytes than
/// the `Content-Length` announced, so a file that changes size while
/// streaming fails the upload instead of storing a truncated file.
struct Checked<S> {
    inner: S,
    expected: u64,
    sent: u64,
    fault: BodyFault,
    attachment: Attachment,
    on_chunk: Option<OnChunk>,
    done: bool,
}

impl<S> Checked<S> {
    fn fail(&mut self, error: Error) -> Poll<Option<std::io::Result<Bytes>>> {
        let message = error.to_string();
        *self.fault.lock().unwrap_or_else(PoisonError::into_inner) = Some(error);
        self.done = true;
        Poll::Ready(Some(Err(std::io::Error::other(message))))
    }
}

impl<S: Stream<Item = std::io::Result<Bytes>> + Unpin> Stream for Checked<S> {
    type Item = std::io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        match ready!(Pin::new(&mut self.inner).poll_next(cx)) {
            Some(Ok(chunk)) => {
                self.sent += chunk.len() as u64;
                if self.sent > self.expected {
                    let err = changed(&self.attachment, self.expected, self.sent);
                    return self.fail(err);
                }
                if let Some(cb) = &self.on_chunk {
                    cb(BodyProgress::Sent(chunk.len() as u64));
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Some(Err(e)) => {
                let err = self.attachment.io_error(&e);
                self.fail(err)
            }
            None if self.sent != self.expected => {
                let err = changed(&self.attachment, self.expected, self.sent);
                self.fail(err)
            }
            None => {
                self.done = true;
                Poll::Ready(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let id = unique.id();
        assert_eq!(
            unique.with_mime(Mime::Txt).id(),
            id,
            "edit of an unshared one keeps identity"
        );
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human_size(999), "999 B");
        assert_eq!(human_size(26_214_400), "26.2 MB (26214400 bytes)");
    }

    #[tokio::test]
    async fn unknown_length_reader_is_buffered_once_and_reusable() {
        let a = Attachment::from_reader(&b"hello"[..], "h.txt");
        let p1 = a.prepare(100).await.unwrap();
        assert!(p1.rewindable());
        let p2 = a.clone().prepare(100).await.unwrap();
        assert_eq!(p2.size, 5);
    }

    #[tokio::test]
    async fn sized_reader_is_one_shot() {
        let a = Attachment::from_reader(&b"hello"[..], "h.txt").with_size(5);
        let p = a.prepare(100).await.unwrap();
        assert!(!p.rewindable());
        let fault = BodyFault::default();
        let _body = p.body(&fault, None).await.unwrap();
        let again = a.prepare(100).await.unwrap_err();
        assert_eq!(again.attachment_kind(), Some(AttachmentErrorKind::Consumed));
    }

    #[tokio::test]
    async fn reader_over_the_cap_is_refused_before_upload() {
        let a = Attachment::from_reader(&[b'a'; 11][..], "big.txt");
        let err = a.prepare(10).await.unwrap_err();
        assert_eq!(err.attachment_kind(), Some(AttachmentErrorKind::TooLarge));
    }
}
