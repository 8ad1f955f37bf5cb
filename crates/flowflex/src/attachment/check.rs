//! The checks a send makes before its first request: file name, MIME type,
//! magic bytes, size.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};

use flowflex_core::size::describe;

use super::body::{Body, Prepared};
use super::reader::{ReaderSlot, ReaderState, fill};
use super::{Attachment, Source};
use crate::error::{AttachmentErrorKind, Result};
use crate::mime::Mime;
use crate::sniff;

impl Attachment {
    /// Everything that can be checked before a request: name, type, size,
    /// magic bytes. Reads at most the first [`sniff::SNIFF_LEN`] bytes of a
    /// file, or a whole reader of unknown length (up to `cap`).
    pub(crate) async fn prepare(&self, cap: u64, read_timeout: Duration) -> Result<Prepared> {
        let filename = self.checked_filename()?;
        let (size, head, body) = match &self.inner.source {
            Source::Path(path) => self.prepare_path(path, cap, read_timeout).await?,
            Source::Bytes(bytes) => {
                let size = bytes.len() as u64;
                self.check_declared_size(size)?;
                self.check_cap(size, cap)?;
                let head = bytes.slice(..bytes.len().min(sniff::SNIFF_LEN));
                (size, head, Body::Bytes(bytes.clone()))
            }
            Source::Reader(slot) => self.prepare_reader(slot, cap, read_timeout).await?,
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
            read_timeout,
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

    pub(super) fn check_cap(&self, size: u64, cap: u64) -> Result<()> {
        if size > cap {
            Err(self.error(
                AttachmentErrorKind::TooLarge,
                format!(
                    "{} is over the {} limit: send a smaller file (FlowFlex stores at most {})",
                    describe(size),
                    describe(cap),
                    flowflex_core::size::MAX_FILE_SIZE
                ),
            ))
        } else {
            Ok(())
        }
    }

    async fn prepare_path(
        &self,
        path: &Path,
        cap: u64,
        read_timeout: Duration,
    ) -> Result<(u64, Bytes, Body)> {
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
        let mut file = tokio::fs::File::open(path)
            .await
            .map_err(|e| self.io_error(&e))?;
        if meta.len() == 0 {
            // /proc and /sys files, some FUSE and network file systems: a
            // size of 0 says nothing. Read to the end to learn the length
            // (constant memory), and stream it with that length later.
            let (size, head) = self.count(&mut file, cap, read_timeout).await?;
            self.check_declared_size(size)?;
            return Ok((
                size,
                head,
                Body::Path {
                    path: path.to_path_buf(),
                    stat_sized: false,
                },
            ));
        }
        let size = meta.len();
        self.check_declared_size(size)?;
        self.check_cap(size, cap)?;
        let want = size.min(sniff::SNIFF_LEN as u64) as usize;
        let mut head = BytesMut::with_capacity(want);
        fill(&mut file, &mut head, want, read_timeout)
            .await
            .map_err(|e| self.io_error(&e))?;
        if head.len() < want {
            return Err(self.error(
                AttachmentErrorKind::Changed,
                "the file shrank while it was being checked: do not modify files while sending them",
            ));
        }
        Ok((
            size,
            head.freeze(),
            Body::Path {
                path: path.to_path_buf(),
                stat_sized: true,
            },
        ))
    }

    /// The length of a file whose size the file system does not tell, read
    /// to its end (at most `cap + 1` bytes, a chunk at a time), and its head.
    async fn count(
        &self,
        file: &mut tokio::fs::File,
        cap: u64,
        read_timeout: Duration,
    ) -> Result<(u64, Bytes)> {
        let mut head = BytesMut::with_capacity(sniff::SNIFF_LEN);
        fill(file, &mut head, sniff::SNIFF_LEN, read_timeout)
            .await
            .map_err(|e| self.io_error(&e))?;
        let mut size = head.len() as u64;
        let mut chunk = BytesMut::with_capacity(64 * 1024);
        while size <= cap {
            chunk.clear();
            fill(file, &mut chunk, 64 * 1024, read_timeout)
                .await
                .map_err(|e| self.io_error(&e))?;
            if chunk.is_empty() {
                break;
            }
            size += chunk.len() as u64;
        }
        if size > cap {
            return Err(self.error(
                AttachmentErrorKind::TooLarge,
                format!(
                    "its size is not known to the file system, and reading it passed the {} limit: send a smaller file",
                    describe(cap)
                ),
            ));
        }
        Ok((size, head.freeze()))
    }

    /// A reader's part of [`prepare`](Self::prepare): read once for its
    /// type check (whole, up to `cap`, when its size is unknown).
    async fn prepare_reader(
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
                                describe(cap)
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
}
