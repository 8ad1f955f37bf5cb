//! Sending an event: validate, upload in parallel, substitute, post.

use std::collections::BTreeMap;
use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;

use bytes::Bytes;
use futures_util::{StreamExt as _, TryStreamExt as _};
use serde_json::Value;
use tracing::Instrument as _;
use url::Url;

use crate::attachment::{Attachment, BodyProgress, OnChunk, Prepared};
use crate::client::Client;
use crate::error::{AttachmentErrorKind, Error, Result};
use crate::mime::Mime;
use crate::payload::Collected;
use crate::redact::{Secret, printable, url_without_query};

/// The opaque id of an uploaded file, as it appears in the event payload
/// (`"asset_..."`). It expires 48 h after upload: never store it to reuse.
///
/// ```
/// use flowflex::AssetId;
///
/// let id: AssetId = serde_json::from_str(r#""asset_7f3a""#).unwrap();
/// assert_eq!(id, "asset_7f3a");
/// assert_eq!(serde_json::to_string(&id).unwrap(), r#""asset_7f3a""#);
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct AssetId(String);

impl AssetId {
    pub(crate) fn new(id: impl Into<String>) -> Self {
        AssetId(id.into())
    }

    /// The id as a string slice.
    ///
    /// ```
    /// let id: flowflex::AssetId = serde_json::from_str(r#""asset_7f3a""#).unwrap();
    /// assert_eq!(id.as_str(), "asset_7f3a");
    /// ```
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id as an owned string.
    ///
    /// ```
    /// let id: flowflex::AssetId = serde_json::from_str(r#""asset_7f3a""#).unwrap();
    /// let owned: String = id.into_string();
    /// assert_eq!(owned, "asset_7f3a");
    /// ```
    #[must_use]
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for AssetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for AssetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl AsRef<str> for AssetId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for AssetId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for AssetId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// A presigned upload URL, from [`Client::create_upload_url`].
///
/// Its URL carries a token that lets anyone upload: `Debug` and `Display`
/// hide the query.
///
/// ```no_run
/// # async fn demo(client: flowflex::Client) -> flowflex::Result<()> {
/// let ticket = client.create_upload_url("invoice.pdf", flowflex::Mime::Pdf, 48_213).await?;
/// println!("{ticket:?}"); // the asset id and the URL, without the token
/// println!("upload {} to {}", ticket.asset_id, ticket.upload_url);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct UploadTicket {
    /// The id the file will have once uploaded.
    pub asset_id: AssetId,
    /// Where to `PUT` the bytes (valid 2 h).
    pub upload_url: UploadUrl,
    pub(crate) token: Secret,
}

impl UploadTicket {
    /// The upload token. Secret: keep it out of logs.
    ///
    /// ```no_run
    /// # async fn demo(client: flowflex::Client) -> flowflex::Result<()> {
    /// let ticket = client.create_upload_url("invoice.pdf", flowflex::Mime::Pdf, 48_213).await?;
    /// assert!(format!("{ticket:?}").contains("token: <redacted>"));
    /// let token: &str = ticket.expose_token(); // the real value
    /// # let _ = token; Ok(()) }
    /// ```
    #[must_use]
    pub fn expose_token(&self) -> &str {
        self.token.expose()
    }
}

impl fmt::Debug for UploadTicket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UploadTicket")
            .field("asset_id", &self.asset_id)
            .field("upload_url", &self.upload_url)
            .field("token", &self.token)
            .finish()
    }
}

/// A presigned URL; shown without its query (the token).
///
/// ```no_run
/// # async fn demo(client: flowflex::Client) -> flowflex::Result<()> {
/// let ticket = client.create_upload_url("invoice.pdf", flowflex::Mime::Pdf, 48_213).await?;
/// println!("uploading to {}", ticket.upload_url); // `https://host/path?<redacted>`
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct UploadUrl {
    pub(crate) url: Url,
}

impl UploadUrl {
    /// The full URL, token included. Secret: keep it out of logs.
    ///
    /// ```no_run
    /// # async fn demo(client: flowflex::Client) -> flowflex::Result<()> {
    /// let ticket = client.create_upload_url("invoice.pdf", flowflex::Mime::Pdf, 48_213).await?;
    /// // Your own PUT, to the full URL:
    /// let request = reqwest::Client::new().put(ticket.upload_url.expose().clone());
    /// # let _ = request; Ok(()) }
    /// ```
    #[must_use]
    pub fn expose(&self) -> &Url {
        &self.url
    }
}

impl fmt::Debug for UploadUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UploadUrl({:?})", url_without_query(&self.url))
    }
}

impl fmt::Display for UploadUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&url_without_query(&self.url))
    }
}

/// What a successful send returns.
///
/// ```no_run
/// # async fn demo(client: flowflex::Client) -> flowflex::Result<()> {
/// let sent = client
///     .send_event("order.shipped", serde_json::json!({
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

/// Limits a `#[flowflex(..)]` field puts on its attachments. Used by the
/// derive; not part of the stable API.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldRules {
    /// The allowed types; empty means any of the 16.
    pub mimes: &'static [Mime],
    /// The largest size allowed, in bytes.
    pub max_size: Option<u64>,
}

/// A progress report for one attachment's upload.
///
/// ```no_run
/// # async fn demo(client: flowflex::Client) -> flowflex::Result<()> {
/// client
///     .send_event("order.shipped", serde_json::json!({
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

/// A pending send, from [`Client::send_event`]: configure it, then `.await`.
///
/// ```no_run
/// # async fn demo(client: flowflex::Client) -> flowflex::Result<()> {
/// let send = client.send_event("order.shipped", serde_json::json!({"order_id": 42}));
/// let sent = send.idempotency_key("order-42-shipped").await?; // sent only when awaited
/// println!("{}", sent.response);
/// # Ok(()) }
/// ```
#[must_use = "a send does nothing until it is awaited"]
pub struct SendEvent<'a> {
    client: &'a Client,
    event: String,
    payload: Result<Collected>,
    idempotency_key: Option<String>,
    rules: Vec<(String, Attachment, FieldRules)>,
    progress: Option<ProgressFn>,
}

impl fmt::Debug for SendEvent<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendEvent")
            .field("event", &self.event)
            .field("idempotency_key", &self.idempotency_key)
            .field(
                "attachments",
                &self.payload.as_ref().map(|c| c.unique.len()).unwrap_or(0),
            )
            .finish_non_exhaustive()
    }
}

impl<'a> SendEvent<'a> {
    pub(crate) fn new<T: serde::Serialize + ?Sized>(
        client: &'a Client,
        event: String,
        payload: &T,
    ) -> Self {
        SendEvent {
            client,
            event,
            payload: Collected::from_payload(payload),
            idempotency_key: None,
            rules: Vec::new(),
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
    ///     .send_event("order.shipped", serde_json::json!({"order_id": 42}))
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
    ///     .send_event("order.shipped", serde_json::json!({
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

    #[doc(hidden)]
    /// Adds a field's limits for an attachment (used by the derive).
    pub fn __field_rules(
        mut self,
        path: String,
        attachment: &Attachment,
        rules: FieldRules,
    ) -> Self {
        self.rules.push((path, attachment.clone(), rules));
        self
    }

    async fn run(self) -> Result<SendEventResult> {
        let client = self.client;
        check_header_text("event name", &self.event, 256)?;
        let idempotency_key = match self.idempotency_key {
            Some(key) => {
                check_header_text("idempotency key", &key, 255)?;
                key
            }
            None => uuid::Uuid::new_v4().to_string(),
        };
        let mut collected = self.payload?;
        let span = tracing::info_span!(
            "flowflex.send",
            event = %printable(&self.event, 256),
            idempotency_key = %idempotency_key,
            attachments = collected.unique.len(),
        );
        let rules = self.rules;
        let progress = self.progress;
        let event = self.event;
        async move {
            let ids = upload_all(client, &collected, &rules, progress).await?;
            let uploaded_assets = collected.substitute(&ids);
            let body = Bytes::from(
                serde_json::to_vec(&collected.value).map_err(|e| Error::payload(e.to_string()))?,
            );
            let response = client.post_event(&event, &idempotency_key, body).await?;
            tracing::info!(uploaded = uploaded_assets.len(), "event sent");
            Ok(SendEventResult {
                response,
                uploaded_assets,
                idempotency_key,
            })
        }
        .instrument(span)
        .await
    }
}

impl<'a> IntoFuture for SendEvent<'a> {
    type Output = Result<SendEventResult>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<SendEventResult>> + Send + 'a>>;

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

/// Checks every attachment, then uploads them all; returns the asset ids in
/// the order of `collected.unique`.
async fn upload_all(
    client: &Client,
    collected: &Collected,
    rules: &[(String, Attachment, FieldRules)],
    progress: Option<ProgressFn>,
) -> Result<Vec<crate::AssetId>> {
    let unique = &collected.unique;
    if unique.is_empty() {
        return Ok(Vec::new());
    }
    let first_path = |i: usize| {
        collected
            .slots
            .iter()
            .find(|s| s.unique == i)
            .map(|s| s.path.as_str())
            .unwrap_or_default()
    };
    let concurrency = client.max_concurrent_uploads();
    let cap = client.max_file_bytes();
    // Everything that can be known locally is checked before the first request.
    // (The futures are built up front: a closure inside the stream would
    // trip the compiler's higher-ranked lifetime inference for `Send`.)
    let checks: Vec<_> = unique
        .iter()
        .enumerate()
        .map(|(i, a)| async move { a.prepare(cap).await.map_err(|e| e.at_path(first_path(i))) })
        .collect();
    let prepared: Vec<Prepared> = futures_util::stream::iter(checks)
        .buffered(concurrency)
        .try_collect()
        .await?;
    for (path, attachment, rule) in rules {
        if let Some(p) = prepared.iter().find(|p| p.attachment.same_file(attachment)) {
            check_rule(p, rule).map_err(|e| e.at_path(path))?;
        }
    }
    let uploads: Vec<_> = prepared
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let on_chunk = progress.as_ref().map(|f| reporter(f, first_path(i), p));
            async move {
                client
                    .upload_prepared(p, on_chunk)
                    .await
                    .map(|id| (i, id))
                    .map_err(|e| e.at_path(first_path(i)))
            }
        })
        .collect();
    // The first failure ends the stream and drops (cancels) the uploads
    // still running: the event is not sent.
    let mut ids: Vec<(usize, crate::AssetId)> = futures_util::stream::iter(uploads)
        .buffer_unordered(concurrency)
        .try_collect()
        .await?;
    ids.sort_by_key(|(i, _)| *i);
    Ok(ids.into_iter().map(|(_, id)| id).collect())
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

fn check_rule(p: &Prepared, rule: &FieldRules) -> Result<()> {
    let error = |kind, message: String| Error::Attachment {
        path: None,
        file: printable(&p.attachment.display_name(), 200),
        kind,
        message,
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
                    crate::attachment::human_size(p.size),
                    crate::attachment::human_size(max)
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
            let err = check_header_text("event name", bad, 256).unwrap_err();
            assert!(matches!(err, Error::Config { .. }), "{bad:?}");
            assert!(err.to_string().contains("event name"), "{err}");
            assert!(
                !err.to_string().contains('\n'),
                "the message itself stays one line"
            );
        }
        for good in ["order.shipped", "pedido.enviado", "a b", "k~!@#$%^&*()"] {
            check_header_text("event name", good, 256).unwrap();
        }
        assert!(check_header_text("idempotency key", &"k".repeat(256), 255).is_err());
    }
}
