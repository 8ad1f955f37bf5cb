//! The one error type of the SDK.

use std::fmt;
use std::time::Duration;

/// `Result` with [`Error`] as the default error type.
///
/// ```
/// use flowflex::Mime;
///
/// fn parse(essence: &str) -> flowflex::Result<Mime> {
///     Ok(essence.parse()?)
/// }
/// assert_eq!(parse("application/pdf").unwrap(), Mime::Pdf);
/// assert!(parse("image/gif").is_err());
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while configuring the client or sending an event.
///
/// Every message says what happened and what to do about it. No variant ever
/// carries the API secret, the `Authorization` value or a presigned URL's
/// token, in `Display` or in `Debug`.
///
/// Use the accessors ([`status`](Error::status), [`code`](Error::code),
/// [`retry_after`](Error::retry_after), [`is_retryable`](Error::is_retryable),
/// [`path`](Error::path), [`idempotency_key`](Error::idempotency_key))
/// rather than matching deeply: new variants and fields may be added.
///
/// ```
/// # async fn demo(client: flowflex::Client) {
/// match client.send_event("order.shipped", flowflex::json!({"id": 1})).await {
///     Ok(sent) => println!("sent with key {}", sent.idempotency_key),
///     Err(err) if err.code() == Some("ASSET_FILE_MISSING") => eprintln!("re-upload: {err}"),
///     Err(err) => eprintln!("{err}"),
/// }
/// # }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The client configuration or an argument is invalid. Nothing was sent.
    #[error("invalid configuration: {message}")]
    Config {
        /// What is wrong and how to fix it.
        message: String,
    },

    /// The event name is not one FlowFlex takes (empty, blank, surrounding
    /// whitespace, control or non-ASCII characters, too long). Nothing was
    /// sent.
    #[error("invalid event name: {message}")]
    EventName {
        /// What is wrong with it and what a name may hold.
        message: String,
    },

    /// An attachment cannot be sent as it is: the file is missing or
    /// unreadable, its type is unknown or disagrees with its bytes, it is too
    /// large, or it changed while being read. Detected before any request
    /// where that can be known locally.
    #[error("attachment {}: {message}", subject(.path.as_deref(), .file))]
    Attachment {
        /// The payload path of the attachment (`invoice`, `gallery[2]`), when
        /// it came from a payload.
        path: Option<String>,
        /// The file's name or path, as given.
        file: String,
        /// What kind of problem this is.
        kind: AttachmentErrorKind,
        /// What is wrong and how to fix it.
        message: String,
        /// The idempotency key of the send this error ended, once it was
        /// settled; read it with [`Error::idempotency_key`].
        idempotency_key: Option<Box<str>>,
    },

    /// A request made to upload an attachment failed; `source` is the
    /// underlying [`Error::Api`], [`Error::Network`] or [`Error::Timeout`].
    /// The event was not sent.
    #[error("uploading {} failed{}: {source}", subject(.path.as_deref(), .file), .note.map(|n| format!(" ({n})")).unwrap_or_default())]
    Upload {
        /// The payload path of the attachment, when it came from a payload.
        path: Option<String>,
        /// The file's name or path, as given.
        file: String,
        /// Extra context, e.g. why it was not retried.
        note: Option<&'static str>,
        /// The failure of the upload-url request or of the storage PUT.
        #[source]
        source: Box<Error>,
    },

    /// FlowFlex (or its storage) answered with an error status.
    #[error(
        "{endpoint} failed with HTTP {status}{}: {message}{}. {}",
        .code.as_deref().map(|c| format!(" {c}")).unwrap_or_default(),
        attempts_note(*.attempts),
        api_hint(*.endpoint, *.status, .code.as_deref()),
    )]
    Api {
        /// Which request failed.
        endpoint: Endpoint,
        /// The HTTP status.
        status: u16,
        /// The machine-readable code (`"MIME_NOT_ALLOWED"`,
        /// `"ASSET_FILE_MISSING"`, ...), from the body's `code` or `name`.
        code: Option<String>,
        /// The server's message (`error` or `message`), or a description.
        message: String,
        /// The delay the server asked for with `Retry-After`.
        retry_after: Option<Duration>,
        /// How many times the request was sent.
        attempts: u32,
        /// The JSON error body, when there was one.
        details: Option<Box<serde_json::Value>>,
        /// The idempotency key of the send this error ended, once it was
        /// settled; read it with [`Error::idempotency_key`].
        idempotency_key: Option<Box<str>>,
    },

    /// The request could not be completed: connection refused or reset, DNS
    /// failure, TLS failure.
    #[error(
        "{endpoint} failed: {message}{}. Check that the base URL is reachable from this machine{}",
        attempts_note(*.attempts),
        if *.retryable { "; the error is transient and safe to retry" } else { "" }
    )]
    Network {
        /// Which request failed.
        endpoint: Endpoint,
        /// What failed, without any URL.
        message: String,
        /// How many times the request was sent.
        attempts: u32,
        /// Whether another attempt could succeed.
        retryable: bool,
        /// The transport error (its URL removed).
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
        /// The idempotency key of the send this error ended, once it was
        /// settled; read it with [`Error::idempotency_key`].
        idempotency_key: Option<Box<str>>,
    },

    /// A request did not complete within the configured timeout.
    #[error(
        "{endpoint} timed out after {after:?}{}. Raise the client's timeout for slow networks or large files, or check the service's status",
        attempts_note(*.attempts)
    )]
    Timeout {
        /// Which request timed out.
        endpoint: Endpoint,
        /// The per-request timeout that elapsed.
        after: Duration,
        /// How many times the request was sent.
        attempts: u32,
        /// The idempotency key of the send this error ended, once it was
        /// settled; read it with [`Error::idempotency_key`].
        idempotency_key: Option<Box<str>>,
    },

    /// The payload cannot be sent as an event: it does not serialize to a
    /// JSON object, or it holds an attachment where no value can go.
    #[error("invalid payload: {message}")]
    Payload {
        /// What is wrong and how to fix it.
        message: String,
    },

    /// The server answered with a success status but a body the SDK cannot
    /// use (e.g. no `assetId`, or an upload URL that is not https).
    #[error(
        "unexpected response to the {endpoint} (HTTP {status}): {message}. Check that the base URL points at FlowFlex"
    )]
    InvalidResponse {
        /// Which request got the response.
        endpoint: Endpoint,
        /// The HTTP status.
        status: u16,
        /// What is wrong with it.
        message: String,
        /// The idempotency key of the send this error ended, once it was
        /// settled; read it with [`Error::idempotency_key`].
        idempotency_key: Option<Box<str>>,
    },
}

/// The kind of an [`Error::Attachment`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use flowflex::{Attachment, AttachmentErrorKind};
///
/// let notes = Attachment::from_bytes(b"hello, flows".to_vec(), "notes.txt");
/// let err = notes.check(10).await.unwrap_err(); // 12 bytes, over a 10-byte cap
/// assert_eq!(err.attachment_kind(), Some(AttachmentErrorKind::TooLarge));
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AttachmentErrorKind {
    /// The file does not exist.
    NotFound,
    /// The path names a directory or something else that is not a file.
    NotAFile,
    /// The file or reader could not be read.
    Unreadable,
    /// The file is larger than the client's or the field's size cap.
    TooLarge,
    /// No MIME type was given and the file name has no known extension.
    UnknownType,
    /// The bytes do not match the MIME type (a PNG named `.pdf`).
    TypeMismatch,
    /// The MIME type is not one a `#[flowflex(mime = ..)]` field allows.
    TypeNotAllowed,
    /// The file changed size between the check and the upload.
    Changed,
    /// A reader that was already consumed by an earlier send.
    Consumed,
    /// The file name is empty or contains control characters or `/`.
    InvalidFilename,
    /// The file or reader gave no byte within the client's timeout.
    Stalled,
}

/// The request an error comes from.
///
/// ```
/// use flowflex::{Endpoint, Error};
///
/// fn failed_at(err: &Error) -> Option<Endpoint> {
///     match err {
///         Error::Api { endpoint, .. } | Error::Timeout { endpoint, .. } => Some(*endpoint),
///         Error::Upload { source, .. } => failed_at(source),
///         _ => None,
///     }
/// }
/// assert_eq!(failed_at(&flowflex::Client::builder().build().unwrap_err()), None);
/// assert!(Endpoint::Storage.to_string().starts_with("storage upload"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Endpoint {
    /// `POST /v1/assets/upload-url`.
    UploadUrl,
    /// The `PUT` to the presigned storage URL.
    Storage,
    /// `POST /v1/events/{integration_code}`.
    Event,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Endpoint::UploadUrl => "upload-url request (POST /v1/assets/upload-url)",
            Endpoint::Storage => "storage upload (PUT to the presigned URL)",
            Endpoint::Event => "event request (POST /v1/events/<integration code>)",
        })
    }
}

impl Error {
    /// The HTTP status of the failed request, if the server answered.
    ///
    /// ```
    /// use std::time::Duration;
    /// use flowflex::{Endpoint, Error};
    ///
    /// let err = Error::Api {
    ///     endpoint: Endpoint::Event, status: 429, code: Some("RATE_LIMITED".into()),
    ///     message: "slow down".into(), retry_after: Some(Duration::from_secs(5)),
    ///     attempts: 4, details: None, idempotency_key: None,
    /// };
    /// assert_eq!(err.status(), Some(429));
    /// assert_eq!(flowflex::Client::builder().build().unwrap_err().status(), None);
    /// ```
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } | Error::InvalidResponse { status, .. } => Some(*status),
            Error::Upload { source, .. } => source.status(),
            _ => None,
        }
    }

    /// The service's machine-readable error code, e.g. `"ASSET_FILE_MISSING"`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use flowflex::{Endpoint, Error};
    ///
    /// let err = Error::Api {
    ///     endpoint: Endpoint::Event, status: 429, code: Some("RATE_LIMITED".into()),
    ///     message: "slow down".into(), retry_after: Some(Duration::from_secs(5)),
    ///     attempts: 4, details: None, idempotency_key: None,
    /// };
    /// assert_eq!(err.code(), Some("RATE_LIMITED"));
    /// ```
    #[must_use]
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Api { code, .. } => code.as_deref(),
            Error::Upload { source, .. } => source.code(),
            _ => None,
        }
    }

    /// The delay the server asked for (`Retry-After`) on the last attempt.
    ///
    /// ```
    /// use std::time::Duration;
    /// use flowflex::{Endpoint, Error};
    ///
    /// let err = Error::Api {
    ///     endpoint: Endpoint::Event, status: 429, code: Some("RATE_LIMITED".into()),
    ///     message: "slow down".into(), retry_after: Some(Duration::from_secs(5)),
    ///     attempts: 4, details: None, idempotency_key: None,
    /// };
    /// assert_eq!(err.retry_after(), Some(Duration::from_secs(5)));
    /// ```
    #[must_use]
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Api { retry_after, .. } => *retry_after,
            Error::Upload { source, .. } => source.retry_after(),
            _ => None,
        }
    }

    /// Whether sending again later could succeed without changing anything:
    /// rate limits, server errors, timeouts and dropped connections.
    ///
    /// The SDK already retried these as its [`RetryConfig`](crate::RetryConfig)
    /// allows; this tells the caller whether a later retry of the whole send
    /// makes sense.
    ///
    /// ```
    /// use std::time::Duration;
    /// use flowflex::{Endpoint, Error};
    ///
    /// let err = Error::Api {
    ///     endpoint: Endpoint::Event, status: 429, code: Some("RATE_LIMITED".into()),
    ///     message: "slow down".into(), retry_after: Some(Duration::from_secs(5)),
    ///     attempts: 4, details: None, idempotency_key: None,
    /// };
    /// assert!(err.is_retryable()); // 429: later may work
    /// assert!(!flowflex::Client::builder().build().unwrap_err().is_retryable());
    /// ```
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Api { status, .. } => crate::retry::is_retryable_status(*status),
            Error::Network { retryable, .. } => *retryable,
            Error::Timeout { .. } => true,
            Error::Upload { source, .. } => source.is_retryable(),
            _ => false,
        }
    }

    /// The payload path of the attachment this error concerns (`invoice`,
    /// `gallery[2]`, `order.receipt`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let client = flowflex::Client::builder().api_key("cik_xxx").api_secret("yyy")
    /// #     .integration_code("ic_abc123").base_url("http://127.0.0.1:9").build().unwrap();
    /// let fake = flowflex::Attachment::from_bytes(b"not a png".to_vec(), "label.png");
    /// let err = client
    ///     .send_event("order.shipped", flowflex::json!({ "order": { "label": fake } }))
    ///     .await
    ///     .unwrap_err(); // checked before any request: nothing was sent
    /// assert_eq!(err.path(), Some("order.label"));
    /// # }
    /// ```
    #[must_use]
    pub fn path(&self) -> Option<&str> {
        match self {
            Error::Attachment { path, .. } | Error::Upload { path, .. } => path.as_deref(),
            _ => None,
        }
    }

    /// The [`AttachmentErrorKind`] of an [`Error::Attachment`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use flowflex::{Attachment, AttachmentErrorKind};
    ///
    /// let fake = Attachment::from_bytes(b"not a png".to_vec(), "x.png");
    /// let err = fake.check(flowflex::MAX_FILE_BYTES).await.unwrap_err();
    /// assert_eq!(err.attachment_kind(), Some(AttachmentErrorKind::TypeMismatch));
    /// # }
    /// ```
    #[must_use]
    pub fn attachment_kind(&self) -> Option<AttachmentErrorKind> {
        match self {
            Error::Attachment { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    /// The idempotency key of the send that failed: the one given to
    /// [`SendEvent::idempotency_key`](crate::SendEvent::idempotency_key), or
    /// the UUID generated for it.
    ///
    /// A send settles its key after checking the event name, the payload
    /// and the key itself; every error after that carries it: refused
    /// files, failed uploads, and every failure of the event request.
    /// `None` means the event was certainly not sent: the send was refused
    /// before (an [`Error::Config`] or [`Error::Payload`]), or the error did
    /// not come from a send ([`Client::upload`](crate::Client::upload),
    /// [`ClientBuilder::build`](crate::ClientBuilder::build)).
    ///
    /// After an ambiguous failure (a timeout or a dropped connection on the
    /// event request: the event may have been recorded), send again with
    /// this key: FlowFlex answers a key it has seen with the first answer
    /// instead of firing the flow twice.
    ///
    /// ```no_run
    /// # async fn demo(client: flowflex::Client) -> flowflex::Result<()> {
    /// let payload = flowflex::json!({"order_id": 42});
    /// let sent = match client.send_event("order.shipped", &payload).await {
    ///     Ok(sent) => sent,
    ///     Err(err) if err.is_retryable() && err.idempotency_key().is_some() => {
    ///         // Maybe sent, maybe not: the same key makes the resend safe.
    ///         let key = err.idempotency_key().unwrap();
    ///         client.send_event("order.shipped", &payload).idempotency_key(key).await?
    ///     }
    ///     Err(err) => return Err(err),
    /// };
    /// # let _ = sent; Ok(()) }
    /// ```
    ///
    /// ```
    /// use std::time::Duration;
    /// use flowflex::{Endpoint, Error};
    ///
    /// let err = Error::Timeout {
    ///     endpoint: Endpoint::Event, after: Duration::from_secs(30), attempts: 4,
    ///     idempotency_key: Some("order-42-shipped".into()),
    /// };
    /// assert_eq!(err.idempotency_key(), Some("order-42-shipped"));
    /// assert_eq!(flowflex::Client::builder().build().unwrap_err().idempotency_key(), None);
    /// ```
    #[must_use]
    pub fn idempotency_key(&self) -> Option<&str> {
        match self {
            Error::Attachment {
                idempotency_key, ..
            }
            | Error::Api {
                idempotency_key, ..
            }
            | Error::Network {
                idempotency_key, ..
            }
            | Error::Timeout {
                idempotency_key, ..
            }
            | Error::InvalidResponse {
                idempotency_key, ..
            } => idempotency_key.as_deref(),
            Error::Upload { source, .. } => source.idempotency_key(),
            Error::Config { .. } | Error::EventName { .. } | Error::Payload { .. } => None,
        }
    }

    /// Records the idempotency key of the send this error ends (see
    /// [`Error::idempotency_key`] for which variants hold it).
    pub(crate) fn with_idempotency_key(mut self, key: &str) -> Self {
        self.set_idempotency_key(key);
        self
    }

    fn set_idempotency_key(&mut self, key: &str) {
        match self {
            Error::Attachment {
                idempotency_key, ..
            }
            | Error::Api {
                idempotency_key, ..
            }
            | Error::Network {
                idempotency_key, ..
            }
            | Error::Timeout {
                idempotency_key, ..
            }
            | Error::InvalidResponse {
                idempotency_key, ..
            } => *idempotency_key = Some(key.into()),
            Error::Upload { source, .. } => source.set_idempotency_key(key),
            // Refused before a key is settled; see `idempotency_key`.
            Error::Config { .. } | Error::EventName { .. } | Error::Payload { .. } => {}
        }
    }

    /// Whether FlowFlex refused the credentials: a 401 or 403 from any of
    /// the three requests (the upload URL, the storage upload, the event),
    /// whether the payload had files or not. Fix the API key, secret or
    /// integration code; sending again as it is cannot succeed.
    ///
    /// ```
    /// use flowflex::{Endpoint, Error};
    ///
    /// let denied = Error::Api {
    ///     endpoint: Endpoint::UploadUrl, status: 401, code: None,
    ///     message: "invalid credentials".into(), retry_after: None,
    ///     attempts: 1, details: None, idempotency_key: None,
    /// };
    /// assert!(denied.is_auth());
    /// let upload = Error::Upload {
    ///     path: Some("invoice".into()), file: "invoice.pdf".into(), note: None,
    ///     source: Box::new(denied),
    /// };
    /// assert!(upload.is_auth(), "the same failure, seen through an upload");
    /// ```
    #[must_use]
    pub fn is_auth(&self) -> bool {
        match self {
            Error::Api {
                status: 401 | 403, ..
            } => true,
            Error::Upload { source, .. } => source.is_auth(),
            _ => false,
        }
    }

    pub(crate) fn event_name(message: impl Into<String>) -> Self {
        Error::EventName {
            message: message.into(),
        }
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        Error::Config {
            message: message.into(),
        }
    }

    pub(crate) fn payload(message: impl Into<String>) -> Self {
        Error::Payload {
            message: message.into(),
        }
    }

    /// Adds the payload path to an attachment-related error.
    pub(crate) fn at_path(mut self, at: &str) -> Self {
        if let Error::Attachment { path, .. } | Error::Upload { path, .. } = &mut self {
            if path.is_none() {
                *path = Some(at.to_owned());
            }
        }
        self
    }
}

fn subject(path: Option<&str>, file: &str) -> String {
    match path {
        Some(path) => format!("at `{path}` ({file})"),
        None => format!("\"{file}\""),
    }
}

fn attempts_note(attempts: u32) -> String {
    if attempts > 1 {
        format!(" (after {attempts} attempts)")
    } else {
        String::new()
    }
}

fn api_hint(endpoint: Endpoint, status: u16, code: Option<&str>) -> &'static str {
    match (endpoint, status, code) {
        (_, _, Some("ASSET_FILE_MISSING")) => {
            "An asset id in the payload is unknown or expired (assets are deleted 48 h after upload): put the file in the payload as an Attachment so each send uploads it afresh, and never reuse stored asset ids"
        }
        (_, _, Some("MIME_NOT_ALLOWED")) => {
            "FlowFlex accepts only the 16 types of flowflex::Mime: convert the file or set the right type with Attachment::with_mime"
        }
        (_, _, Some("REQUEST_EXPIRED")) => {
            "The presigned upload URL expired (it lives 2 h): send the event again to get a fresh one"
        }
        (Endpoint::Storage, 401 | 403, _) => {
            "Storage refused the presigned URL: it expired or was altered; send again to get a fresh one"
        }
        (_, 401, _) => {
            "Check the API key and secret (FLOWFLEX_API_KEY and FLOWFLEX_API_SECRET) of your custom integration"
        }
        (_, 403, _) => {
            "The credentials are valid but not allowed to do this: check the integration's permissions"
        }
        (Endpoint::Event, 404, _) => {
            "Check the integration code (FLOWFLEX_INTEGRATION_CODE) and the base URL"
        }
        (_, 404, _) => "Check the base URL (FLOWFLEX_BASE_URL): it should be the FlowFlex API host",
        (_, 413, _) => {
            "The file is over the server's size limit (FlowFlex's is 25 MiB (26,214,400 bytes)): send a smaller file"
        }
        (_, 300..=399, _) => {
            "Redirects are not followed, so credentials never reach another host: set the base URL to the final address"
        }
        (_, 408 | 429, _) => {
            "The service is busy: it was retried as the retry policy allows; send again later or raise the client's retry limits"
        }
        (_, 500..=599, _) => {
            "The service had a problem; it was retried as the retry policy allows: send again later"
        }
        _ => "Check the request against the message above",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_stays_small() {
        assert!(
            std::mem::size_of::<Result<()>>() <= 128,
            "{}",
            std::mem::size_of::<Result<()>>()
        );
        // 80 bytes before the idempotency key (a boxed `str`, 16 bytes).
        assert!(
            std::mem::size_of::<Result<()>>() <= 96,
            "{}",
            std::mem::size_of::<Result<()>>()
        );
    }

    #[test]
    fn accessors_see_through_upload_errors() {
        let api = Error::Api {
            endpoint: Endpoint::Storage,
            status: 503,
            code: Some("SLOW_DOWN".into()),
            message: "busy".into(),
            retry_after: Some(Duration::from_secs(2)),
            attempts: 4,
            details: None,
            idempotency_key: None,
        };
        let err = Error::Upload {
            path: Some("gallery[1]".into()),
            file: "b.jpg".into(),
            note: None,
            source: Box::new(api),
        };
        assert_eq!(err.status(), Some(503));
        assert_eq!(err.code(), Some("SLOW_DOWN"));
        assert_eq!(err.retry_after(), Some(Duration::from_secs(2)));
        assert!(err.is_retryable());
        assert_eq!(err.path(), Some("gallery[1]"));
        let text = err.to_string();
        assert!(
            text.contains("gallery[1]") && text.contains("b.jpg"),
            "{text}"
        );
        assert!(text.contains("after 4 attempts"), "{text}");
        assert!(text.contains("503 SLOW_DOWN"), "{text}");
        assert_eq!(err.idempotency_key(), None);
        let err = err.with_idempotency_key("order-42");
        assert_eq!(err.idempotency_key(), Some("order-42"));
        assert!(!err.to_string().contains("order-42"), "Display unchanged");
    }

    #[test]
    fn only_config_and_payload_errors_never_hold_a_key() {
        let endpoint = Endpoint::Event;
        let all = [
            Error::config("x"),
            Error::payload("x"),
            Error::Attachment {
                path: None,
                file: "f".into(),
                kind: AttachmentErrorKind::Changed,
                message: "x".into(),
                idempotency_key: None,
            },
            Error::Api {
                endpoint,
                status: 500,
                code: None,
                message: "x".into(),
                retry_after: None,
                attempts: 1,
                details: None,
                idempotency_key: None,
            },
            Error::Network {
                endpoint,
                message: "x".into(),
                attempts: 1,
                retryable: true,
                source: None,
                idempotency_key: None,
            },
            Error::Timeout {
                endpoint,
                after: Duration::from_secs(1),
                attempts: 1,
                idempotency_key: None,
            },
            Error::InvalidResponse {
                endpoint,
                status: 200,
                message: "x".into(),
                idempotency_key: None,
            },
        ];
        for err in all {
            let keeps = !matches!(err, Error::Config { .. } | Error::Payload { .. });
            let err = err.with_idempotency_key("k");
            assert_eq!(err.idempotency_key().is_some(), keeps, "{err:?}");
            let upload = Error::Upload {
                path: None,
                file: "f".into(),
                note: None,
                source: Box::new(err),
            };
            assert_eq!(upload.idempotency_key().is_some(), keeps);
        }
    }

    #[test]
    fn every_api_message_says_what_to_do() {
        for status in [300, 400, 401, 403, 404, 408, 413, 422, 429, 500, 503] {
            for endpoint in [Endpoint::UploadUrl, Endpoint::Storage, Endpoint::Event] {
                let hint = api_hint(endpoint, status, None);
                assert!(hint.len() > 20, "{status} {endpoint}");
            }
        }
        assert!(api_hint(Endpoint::Event, 422, Some("ASSET_FILE_MISSING")).contains("48 h"));
    }
}
