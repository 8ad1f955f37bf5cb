//! Sending an event: check everything local, upload in parallel, post.

use std::collections::BTreeMap;
use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;

use futures_util::{StreamExt as _, TryStreamExt as _};
use serde_json::Value;
use tracing::Instrument as _;

use crate::api::{Api, AssetId};
use flowflex_core::size::describe;

use crate::attachment::{Attachment, BodyProgress, Completion, OnChunk, Prepared};
use crate::encode::Encoded;
use crate::error::{AttachmentErrorKind, Error, Result};
use crate::redact::printable;
use crate::transport::BodyFault;
use crate::visit::FieldRules;

/// What a successful send returns.
///
/// ```no_run
/// # async fn demo(client: flowflex::Client) -> flowflex::Result<()> {
/// let sent = client
///     .send_event("order.shipped", flowflex::json!({
///         "invoice": flowflex::Attachment::from_path("./invoice.pdf"),
///     }))
///     .await?;
/// println!("{} {} {}", sent.idempotency_key, sent.uploaded_assets["invoice"], sent.response);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SendEventResult {
    /// The events endpoint's response body (JSON, or a string if it was not).
    pub response: Value,
    /// Each attachment's payload path (`invoice`, `gallery[0]`,
    /// `order.receipt`) and the asset id put there.
    pub uploaded_assets: BTreeMap<String, AssetId>,
    /// The idempotency key used: the one given, or a fresh UUID v4.
    pub idempotency_key: String,
}

/// A progress report for one attachment's upload.
///
/// ```no_run
/// # async fn demo(client: flowflex::Client) -> flowflex::Result<()> {
/// client
///     .send_event("order.shipped", flowflex::json!({
///         "video": flowflex::Attachment::from_path("./unboxing.mp4"),
///     }))
///     .on_progress(|p| eprintln!("{} ({}): {}/{} bytes", p.path, p.filename, p.sent, p.total))
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Progress {
    /// The attachment's first payload path.
    pub path: String,
    /// Its file name.
    pub filename: String,
    /// Bytes sent so far; back to 0 when a failed upload is retried.
    pub sent: u64,
    /// The file's size.
    pub total: u64,
}

type ProgressFn = std::sync::Arc<dyn Fn(&Progress) + Send + Sync>;

/// A pending send, from [`Client::send_event`](crate::Client::send_event) or
/// a derived event's `send`: configure it, then `.await` it (or call
/// [`send`](Self::send)).
///
/// It owns everything it needs (the client's shared state, the encoded
/// payload), so it can be spawned:
///
/// ```no_run
/// # async fn demo(client: flowflex::Client) -> flowflex::Result<()> {
/// let send = client.send_event("order.shipped", flowflex::json!({"order_id": 42}));
/// let task = tokio::spawn(send.idempotency_key("order-42-shipped").send());
/// let sent = task.await.expect("the send task ran")?;
/// println!("{}", sent.response);
/// # Ok(()) }
/// ```
#[must_use = "a send does nothing until it is awaited"]
pub struct SendEvent {
    api: Arc<Api>,
    event: String,
    encoded: Result<Encoded>,
    idempotency_key: Option<String>,
    progress: Option<ProgressFn>,
}

impl fmt::Debug for SendEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendEvent")
            .field("event", &self.event)
            .field("idempotency_key", &self.idempotency_key)
            .field(
                "attachments",
                &self
                    .encoded
                    .as_ref()
                    .map(|e| e.attachments.len())
                    .unwrap_or(0),
            )
            .finish_non_exhaustive()
    }
}

impl SendEvent {
    pub(crate) fn new(api: Arc<Api>, event: String, encoded: Result<Encoded>) -> Self {
        SendEvent {
            api,
            event,
            encoded,
            idempotency_key: None,
            progress: None,
        }
    }

    /// The idempotency key (default: a fresh UUID v4). FlowFlex answers a
    /// repeated key with the first response instead of firing the flow again,
    /// so a key derived from your own ids (`"order-42-shipped"`) makes a
    /// whole send safe to repeat.
    ///
    /// ```no_run
    /// # async fn demo(client: flowflex::Client) -> flowflex::Result<()> {
    /// let sent = client
    ///     .send_event("order.shipped", flowflex::json!({"order_id": 42}))
    ///     .idempotency_key("order-42-shipped")
    ///     .await?;
    /// assert_eq!(sent.idempotency_key, "order-42-shipped");
    /// # Ok(()) }
    /// ```
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    /// Calls `f` as each attachment's bytes go out (from the upload tasks,
    /// so keep it quick).
    ///
    /// ```no_run
    /// # async fn demo(client: flowflex::Client) -> flowflex::Result<()> {
    /// client
    ///     .send_event("order.shipped", flowflex::json!({
    ///         "invoice": flowflex::Attachment::from_path("./invoice.pdf"),
    ///     }))
    ///     .on_progress(|p| eprintln!("{} {}/{}", p.path, p.sent, p.total))
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn on_progress(mut self, f: impl Fn(&Progress) + Send + Sync + 'static) -> Self {
        self.progress = Some(std::sync::Arc::new(f));
        self
    }

    /// Sends the event: the same as `.await`ing this builder, as a method
    /// (for `tokio::spawn(send.send())` or a combinator chain).
    ///
    /// ```no_run
    /// # async fn demo(client: flowflex::Client) -> flowflex::Result<()> {
    /// let sent = client
    ///     .send_event("order.shipped", flowflex::json!({"order_id": 42}))
    ///     .send()
    ///     .await?;
    /// # let _ = sent; Ok(()) }
    /// ```
    pub async fn send(self) -> Result<SendEventResult> {
        self.run().await
    }

    async fn run(self) -> Result<SendEventResult> {
        let started = std::time::Instant::now();
        let sent = self.run_unmeasured().await;
        crate::metrics::sent(sent.is_ok(), started.elapsed());
        sent
    }

    async fn run_unmeasured(self) -> Result<SendEventResult> {
        // Refusals before the key is settled send nothing and carry no key
        // (`Error::idempotency_key`): the event name, the payload, the key.
        // One rule with the derive's compile-time check (flowflex-core).
        flowflex_core::check_event_name(&self.event)
            .map_err(|e| Error::event_name(e.to_string()))?;
        let mut encoded = self.encoded?;
        let idempotency_key = match self.idempotency_key {
            Some(key) => {
                check_header_text("idempotency key", &key, 255)?;
                key
            }
            None => uuid::Uuid::new_v4().to_string(),
        };
        let span = tracing::info_span!(
            "flowflex.send",
            event = %printable(&self.event, 256),
            idempotency_key = %idempotency_key,
            attachments = encoded.attachments.len(),
        );
        let api = self.api;
        let progress = self.progress;
        let event = self.event;
        let sent: Result<_> = async {
            let ids = upload_all(&api, &encoded, progress).await?;
            let body = encoded.take_body(&ids)?;
            let response = api.post_event(&event, &idempotency_key, body).await?;
            let uploaded_assets: BTreeMap<String, AssetId> = encoded
                .slots
                .iter()
                .filter_map(|s| Some((s.path.to_owned(), ids.get(s.index)?.clone()?)))
                .collect();
            tracing::info!(uploaded = uploaded_assets.len(), "event sent");
            Ok((response, uploaded_assets))
        }
        .instrument(span)
        .await;
        match sent {
            Ok((response, uploaded_assets)) => Ok(SendEventResult {
                response,
                uploaded_assets,
                idempotency_key,
            }),
            // The caller needs the key to resend safely after an ambiguous
            // failure (the event may have been recorded).
            Err(err) => Err(err.with_idempotency_key(&idempotency_key)),
        }
    }
}

impl IntoFuture for SendEvent {
    type Output = Result<SendEventResult>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<SendEventResult>> + Send + 'static>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

fn check_header_text(what: &str, value: &str, max: usize) -> Result<()> {
    if value.trim().is_empty() {
        return Err(Error::config(format!(
            "the {what} is empty: give a non-blank one"
        )));
    }
    if value.chars().any(char::is_control) {
        return Err(Error::config(format!(
            "the {what} \"{}\" contains control characters (CR, LF, ...), which would break the request's headers: remove them",
            printable(value, 80)
        )));
    }
    if !value.is_ascii() {
        // Header values are bytes: servers read non-ASCII as Latin-1 (the
        // flow would not match) or refuse the header outright.
        return Err(Error::config(format!(
            "the {what} \"{}\" contains non-ASCII characters, which request headers cannot carry intact: use ASCII only (letters, digits, '.', '-', '_')",
            printable(value, 80)
        )));
    }
    if value.len() > max {
        return Err(Error::config(format!(
            "the {what} is {} bytes long; at most {max} are allowed",
            value.len()
        )));
    }
    Ok(())
}

/// Checks every attachment the body holds, then uploads them all; returns
/// the asset ids by index into `encoded.attachments`.
async fn upload_all(
    api: &Api,
    encoded: &Encoded,
    progress: Option<ProgressFn>,
) -> Result<Vec<Option<AssetId>>> {
    let used: Vec<(usize, &Attachment)> = encoded
        .attachments
        .iter()
        .enumerate()
        .filter(|(i, _)| encoded.is_used(*i))
        .collect();
    let mut ids = vec![None; encoded.attachments.len()];
    if used.is_empty() {
        return Ok(ids);
    }
    let concurrency = api.max_concurrent_uploads;
    let cap = api.max_file_bytes;
    // Every read of a file or reader must make progress within this.
    let read_timeout = api.transport.timeout;
    // Everything that can be known locally is checked before the first request.
    // (The futures are built up front: a closure inside the stream would
    // trip the compiler's higher-ranked lifetime inference for `Send`.)
    let checks: Vec<_> = used
        .iter()
        .map(|&(i, a)| async move {
            a.prepare(cap, read_timeout)
                .await
                .map(|p| (i, p))
                .map_err(|e| e.at_path(encoded.first_path(i)))
        })
        .collect();
    let prepared: Vec<(usize, Prepared)> = futures_util::stream::iter(checks)
        .buffered(concurrency)
        .try_collect()
        .await?;
    for slot in encoded.slots.iter() {
        if let Some((_, p)) = prepared.iter().find(|(i, _)| *i == slot.index) {
            for rule in slot.rules {
                check_rule(p, rule).map_err(|e| e.at_path(slot.path))?;
            }
        }
    }
    let uploads: Vec<_> = prepared
        .iter()
        .map(|(i, p)| {
            let path = encoded.first_path(*i);
            let on_chunk = progress.as_ref().map(|f| reporter(f, path, p));
            async move {
                upload_prepared(api, p, on_chunk)
                    .await
                    .map(|id| (*i, id))
                    .map_err(|e| e.at_path(path))
            }
        })
        .collect();
    // The first failure ends the stream and drops (cancels) the uploads
    // still running: the event is not sent.
    let done: Vec<(usize, AssetId)> = futures_util::stream::iter(uploads)
        .buffer_unordered(concurrency)
        .try_collect()
        .await?;
    for (i, id) in done {
        ids[i] = Some(id);
    }
    Ok(ids)
}

/// Checks and uploads one attachment, as [`Client::upload`](crate::Client::upload).
pub(crate) async fn upload_one(api: &Api, attachment: &Attachment) -> Result<AssetId> {
    let prepared = attachment
        .prepare(api.max_file_bytes, api.transport.timeout)
        .await?;
    upload_prepared(api, &prepared, None).await
}

/// Uploads a checked attachment: upload URL, then the storage PUT.
async fn upload_prepared(
    api: &Api,
    prepared: &Prepared,
    progress: Option<OnChunk>,
) -> Result<AssetId> {
    let file = printable(&prepared.attachment.display_name(), 200);
    let span = tracing::debug_span!(
        "flowflex.upload",
        filename = %prepared.filename,
        mime = %prepared.mime,
        size = prepared.size,
    );
    let uploaded = async {
        let wrap = |source: Error, note| Error::Upload {
            path: None,
            file: file.clone(),
            note,
            source: Box::new(source),
        };
        let ticket = api
            .create_upload_url(&prepared.filename, prepared.mime, prepared.size)
            .await
            .map_err(|e| wrap(e, None))?;
        let fault = BodyFault::default();
        let complete = Completion::default();
        let rewindable = prepared.rewindable();
        let result = api
            .put(&ticket, prepared.mime, prepared.size, rewindable, &fault, || {
                prepared.body(&fault, progress.clone(), &complete)
            })
            .await;
        match result {
            Ok(()) if !complete.load(std::sync::atomic::Ordering::SeqCst) => {
                // Storage answered before the HTTP stack took the whole
                // body: the bytes may never have arrived. Not posted.
                Err(wrap(
                    Error::Network {
                        endpoint: crate::error::Endpoint::Storage,
                        message: "storage answered before the whole file was sent, so it may not have stored it; nothing was posted: send again".to_owned(),
                        attempts: 1,
                        retryable: true,
                        source: None,
                        idempotency_key: None,
                    },
                    None,
                ))
            }
            Ok(()) => {
                tracing::debug!(asset_id = %ticket.asset_id, "uploaded");
                Ok(ticket.asset_id)
            }
            Err(e @ Error::Attachment { .. }) => Err(e),
            Err(e) => {
                let note = (!rewindable && e.is_retryable()).then_some(
                    "not retried: it streams from a one-shot reader; use Attachment::from_path or from_bytes, or from_reader without with_size, to get retries",
                );
                Err(wrap(e, note))
            }
        }
    }
    .instrument(span)
    .await;
    crate::metrics::uploaded(uploaded.is_ok(), prepared.size);
    uploaded
}

fn reporter(f: &ProgressFn, path: &str, p: &Prepared) -> OnChunk {
    let f = std::sync::Arc::clone(f);
    let sent = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let (path, filename, total) = (path.to_owned(), p.filename.clone(), p.size);
    std::sync::Arc::new(move |event| {
        let now = match event {
            BodyProgress::Restart => {
                sent.store(0, std::sync::atomic::Ordering::Relaxed);
                0
            }
            BodyProgress::Sent(n) => sent.fetch_add(n, std::sync::atomic::Ordering::Relaxed) + n,
        };
        f(&Progress {
            path: path.clone(),
            filename: filename.clone(),
            sent: now.min(total),
            total,
        });
    })
}

pub(crate) fn check_rule(p: &Prepared, rule: &FieldRules) -> Result<()> {
    let error = |kind, message: String| Error::Attachment {
        path: None,
        file: printable(&p.attachment.display_name(), 200),
        kind,
        message,
        idempotency_key: None,
    };
    if !rule.mimes.is_empty() && !rule.mimes.contains(&p.mime) {
        return Err(error(
            AttachmentErrorKind::TypeNotAllowed,
            format!(
                "is {} ({}), but this field accepts only {}: send a file of an allowed type",
                p.mime.label(),
                p.mime,
                rule.mimes
                    .iter()
                    .map(|m| m.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    if let Some(max) = rule.max_size {
        if p.size > max {
            return Err(error(
                AttachmentErrorKind::TooLarge,
                format!(
                    "is {}, over this field's limit of {}: send a smaller file",
                    describe(p.size),
                    describe(max)
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_refuse_injection() {
        for bad in [
            "a\r\nX-Injected: 1",
            "a\nb",
            "a\rb",
            "nul\0",
            "tab\tinside",
            "del\u{7f}",
            "c1\u{85}",
            "x-ünïcödé",
            "",
            " \t ",
        ] {
            let err = check_header_text("idempotency key", bad, 256).unwrap_err();
            assert!(matches!(err, Error::Config { .. }), "{bad:?}");
            assert!(err.to_string().contains("idempotency key"), "{err}");
            assert!(
                !err.to_string().contains('\n'),
                "the message itself stays one line"
            );
        }
        for good in ["order.shipped", "pedido.enviado", "a b", "k~!@#$%^&*()"] {
            check_header_text("idempotency key", good, 256).unwrap();
        }
        assert!(check_header_text("idempotency key", &"k".repeat(256), 255).is_err());
    }
}
