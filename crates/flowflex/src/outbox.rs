//! Support for `flowflex-outbox`, which stores an event at enqueue and posts
//! it later, from another process perhaps. Not public API: no stability
//! promise; the outbox pins this crate's exact version.

use bytes::Bytes;
use futures_util::Stream;
use serde_json::Value;

use crate::api::AssetId;
use crate::attachment::{Attachment, FileInfo};
use crate::client::Client;
use crate::encode::Encoded;
use crate::encode::IntoPayload;
use crate::error::{Error, Result};
use crate::event::FlowFlexEvent;
use crate::slots::Slots;
use crate::transport::BodyFault;

/// An event encoded once: its body with a token where each attachment
/// stands, the attachments (each file once), and every place one stands.
#[derive(Debug, Clone)]
pub struct Template {
    encoded: Encoded,
}

impl Template {
    /// A payload's template, as `Client::send_event` encodes it.
    ///
    /// # Errors
    ///
    /// [`Error::Payload`] as a send would refuse it.
    pub fn from_payload(payload: impl IntoPayload) -> Result<Template> {
        let encoded = payload.__into_encoded()?.0;
        Ok(Template { encoded })
    }

    /// A derived event's template, with its field rules.
    ///
    /// # Errors
    ///
    /// [`Error::Payload`] as a send would refuse it.
    pub fn from_event<E: FlowFlexEvent + ?Sized>(event: &E) -> Result<Template> {
        Ok(Template {
            encoded: Encoded::from_event(event)?,
        })
    }

    /// A stored template: `marked_body` as [`marked_body`](Self::marked_body)
    /// gave it, the attachments rebuilt in the same order, and the slots as
    /// [`slots`](Self::slots) gave them.
    ///
    /// # Errors
    ///
    /// [`Error::Payload`] if a slot or a token names no attachment.
    pub fn from_parts(
        marked_body: Bytes,
        attachments: Vec<Attachment>,
        slots: Vec<(String, usize)>,
    ) -> Result<Template> {
        if slots.iter().any(|(_, i)| *i >= attachments.len()) {
            return Err(Error::payload("a stored slot names no attachment"));
        }
        let mut places = Slots::default();
        for (path, index) in &slots {
            places.push(path, *index, &[]);
        }
        let slots = places;
        // Every token must name an attachment: proved now, not at delivery.
        let encoded = Encoded::from_parts(marked_body.to_vec(), attachments, slots)?;
        Ok(Template { encoded })
    }

    /// The body to store: JSON, each attachment as a token naming it by
    /// its index in [`attachments`](Self::attachments) (a token's key lives
    /// only as long as the process).
    #[must_use]
    pub fn marked_body(&self) -> Bytes {
        self.encoded.indexed()
    }

    /// The attachments, each file once; a stored token and a slot name one by index.
    #[must_use]
    pub fn attachments(&self) -> &[Attachment] {
        &self.encoded.attachments
    }

    /// Every place an attachment stands: its flow path and index.
    #[must_use]
    pub fn slots(&self) -> Vec<(String, usize)> {
        self.encoded
            .slots
            .iter()
            .map(|s| (s.path.to_owned(), s.index))
            .collect()
    }

    /// Whether the attachment at `index` stands anywhere in the body.
    #[must_use]
    pub fn is_used(&self, index: usize) -> bool {
        self.encoded.is_used(index)
    }

    /// Runs every check a send runs before its first request (file name,
    /// type, magic bytes, size cap, each field's rules), for every
    /// attachment the body holds; `None` for one it does not. Sends nothing.
    ///
    /// # Errors
    ///
    /// The [`Error::Attachment`] a send would return, with its path.
    pub async fn check(&self, max_file_bytes: u64) -> Result<Vec<Option<FileInfo>>> {
        let cap = max_file_bytes.min(crate::MAX_FILE_BYTES);
        let mut out = Vec::with_capacity(self.encoded.attachments.len());
        for (i, a) in self.encoded.attachments.iter().enumerate() {
            if !self.encoded.is_used(i) {
                out.push(None);
                continue;
            }
            let prepared = a
                .prepare(cap, crate::DEFAULT_TIMEOUT)
                .await
                .map_err(|e| e.at_path(self.encoded.first_path(i)))?;
            for slot in self.encoded.slots.iter().filter(|s| s.index == i) {
                for rule in slot.rules {
                    crate::send::check_rule(&prepared, rule).map_err(|e| e.at_path(slot.path))?;
                }
            }
            out.push(Some(FileInfo {
                filename: prepared.filename,
                mime: prepared.mime,
                size: prepared.size,
            }));
        }
        Ok(out)
    }

    /// The body to post, each asset id in its place; `ids[i]` is the id of
    /// `attachments()[i]`.
    ///
    /// # Errors
    ///
    /// [`Error::Payload`] if an attachment the body holds has no id.
    pub fn body(&self, ids: &[Option<AssetId>]) -> Result<Bytes> {
        self.encoded.body(ids)
    }
}

/// An attachment's bytes as a send would upload them, after the same checks:
/// streamed (constant memory), failing if the source changes size.
///
/// # Errors
///
/// The [`Error::Attachment`] a send would return.
pub async fn open(
    attachment: &Attachment,
    max_file_bytes: u64,
) -> Result<(
    FileInfo,
    impl Stream<Item = std::io::Result<Bytes>> + Send + Unpin + 'static,
)> {
    let prepared = attachment
        .prepare(
            max_file_bytes.min(crate::MAX_FILE_BYTES),
            crate::DEFAULT_TIMEOUT,
        )
        .await?;
    let stream = prepared.stream(&BodyFault::default(), None).await?;
    Ok((
        FileInfo {
            filename: prepared.filename,
            mime: prepared.mime,
            size: prepared.size,
        },
        stream,
    ))
}

/// Posts an event body as a send does: the client's retries and deadline,
/// this idempotency key on every attempt.
///
/// # Errors
///
/// As the event POST of a send.
pub async fn post_event(
    client: &Client,
    event: &str,
    idempotency_key: &str,
    body: Bytes,
) -> Result<Value> {
    flowflex_core::check_event_name(event).map_err(|e| Error::event_name(e.to_string()))?;
    client.api().post_event(event, idempotency_key, body).await
}

/// Checks an event name as a send does, with the same error.
///
/// # Errors
///
/// [`Error::EventName`] naming what is wrong with it.
pub fn check_event_name(event: &str) -> Result<()> {
    flowflex_core::check_event_name(event).map_err(|e| Error::event_name(e.to_string()))
}

/// An asset id read back from storage.
#[must_use]
pub fn asset_id(id: impl Into<String>) -> AssetId {
    AssetId::new(id)
}
