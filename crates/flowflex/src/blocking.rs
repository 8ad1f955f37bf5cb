//! A blocking client, for code that is not async: scripts, CLIs, sync web
//! frameworks, build tools.
//!
//! [`blocking::Client`](Client) has the async [`Client`](crate::Client)'s API
//! without `.await`: the same builder, the same checks, retries, parallel
//! uploads and errors. It owns a small Tokio runtime (one thread, the
//! caller's) and runs each call to completion on it.
//!
//! ```no_run
//! use flowflex::Attachment;
//! use flowflex::blocking::Client;
//!
//! # fn main() -> flowflex::Result<()> {
//! let client = Client::from_env()?;
//! let sent = client
//!     .send_event("order.shipped", flowflex::json!({
//!         "invoice": Attachment::from_path("./invoice.pdf"),
//!         "note": "passes through",
//!     }))
//!     .idempotency_key("order-42-shipped")
//!     .send()?;
//! println!("{}", sent.uploaded_assets["invoice"]);
//! # Ok(()) }
//! ```
//!
//! Called where a Tokio runtime is current (a `spawn_blocking` closure, or
//! async code by mistake), each call runs on a thread of its own rather than
//! panicking as a nested `block_on` would. In async code use the async
//! [`Client`](crate::Client) instead: a blocking call holds the runtime's
//! thread until it returns.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::{AssetId, Attachment, Mime, Progress, RetryConfig, SendEventResult, UploadTicket};

/// A blocking FlowFlex client: [`crate::Client`] without `async`.
///
/// Cheap to clone (the clones share the runtime and the connection pool).
/// `Debug` shows no secret.
///
/// ```no_run
/// use std::time::Duration;
/// use flowflex::Attachment;
/// use flowflex::blocking::Client;
///
/// # fn main() -> flowflex::Result<()> {
/// let client = Client::builder()
///     .api_key("cik_xxx")
///     .api_secret("yyy")
///     .integration_code("ic_abc123")
///     .timeout(Duration::from_secs(30))
///     .build()?;
/// let sent = client
///     .send_event("invoice.created", flowflex::json!({
///         "invoice": Attachment::from_path("./invoice.pdf"),
///     }))
///     .send()?;
/// println!("{:?}", sent.uploaded_assets);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    client: crate::Client,
    /// Always `Some` until dropped; an `Option` so that `Drop` can take it.
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Dropping a runtime inside another one panics; shutting it down in
        // the background does not, and leaves nothing of ours running.
        if let Some(runtime) = self.runtime.take() {
            if tokio::runtime::Handle::try_current().is_ok() {
                runtime.shutdown_background();
            }
        }
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("blocking::Client")
            .field(&self.inner.client)
            .finish()
    }
}

impl Client {
    /// A builder with nothing set; the setters are those of
    /// [`crate::ClientBuilder`].
    ///
    /// ```
    /// let client = flowflex::blocking::Client::builder()
    ///     .api_key("cik_xxx")
    ///     .api_secret("yyy")
    ///     .integration_code("ic_abc123")
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(client.integration_code(), "ic_abc123");
    /// ```
    #[must_use]
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client configured from `FLOWFLEX_API_KEY`, `FLOWFLEX_API_SECRET`,
    /// `FLOWFLEX_INTEGRATION_CODE` and `FLOWFLEX_BASE_URL`, as
    /// [`crate::Client::from_env`].
    ///
    /// ```no_run
    /// # fn main() -> flowflex::Result<()> {
    /// let client = flowflex::blocking::Client::from_env()?;
    /// # let _ = client; Ok(()) }
    /// ```
    pub fn from_env() -> Result<Client> {
        ClientBuilder::default().from_env().build()
    }

    /// Wraps an async client, sharing its configuration and connection pool.
    /// Pooled connections are driven by the runtime that opened them, so
    /// prefer a client that is not also used on another runtime.
    ///
    /// ```
    /// let async_client = flowflex::Client::builder()
    ///     .api_key("cik_xxx")
    ///     .api_secret("yyy")
    ///     .integration_code("ic_abc123")
    ///     .build()
    ///     .unwrap();
    /// let client = flowflex::blocking::Client::from_async(async_client).unwrap();
    /// assert_eq!(client.as_async().integration_code(), "ic_abc123");
    /// ```
    pub fn from_async(client: crate::Client) -> Result<Client> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| {
                Error::config(format!(
                    "the blocking client's runtime could not be started: {e}"
                ))
            })?;
        Ok(Client {
            inner: Arc::new(Inner {
                client,
                runtime: Some(runtime),
            }),
        })
    }

    /// The async client inside, for code that has both worlds.
    ///
    /// ```
    /// let client = flowflex::blocking::Client::builder()
    ///     .api_key("cik_xxx")
    ///     .api_secret("yyy")
    ///     .integration_code("ic_abc123")
    ///     .build()
    ///     .unwrap();
    /// let async_client: &flowflex::Client = client.as_async();
    /// assert_eq!(async_client.integration_code(), "ic_abc123");
    /// ```
    #[must_use]
    pub fn as_async(&self) -> &crate::Client {
        &self.inner.client
    }

    /// The base URL requests go to.
    ///
    /// ```
    /// let client = flowflex::blocking::Client::builder()
    ///     .api_key("cik_xxx")
    ///     .api_secret("yyy")
    ///     .integration_code("ic_abc123")
    ///     .base_url("https://flowflex.example.com/api")
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(client.base_url().as_str(), "https://flowflex.example.com/");
    /// ```
    #[must_use]
    pub fn base_url(&self) -> &url::Url {
        self.inner.client.base_url()
    }

    /// The integration code events are sent to.
    ///
    /// ```
    /// let client = flowflex::blocking::Client::builder()
    ///     .api_key("cik_xxx")
    ///     .api_secret("yyy")
    ///     .integration_code("ic_abc123")
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(client.integration_code(), "ic_abc123");
    /// ```
    #[must_use]
    pub fn integration_code(&self) -> &str {
        self.inner.client.integration_code()
    }

    /// The largest file this client accepts, in bytes.
    ///
    /// ```
    /// let client = flowflex::blocking::Client::builder()
    ///     .api_key("cik_xxx")
    ///     .api_secret("yyy")
    ///     .integration_code("ic_abc123")
    ///     .max_file_bytes(5_000_000)
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(client.max_file_bytes(), 5_000_000);
    /// ```
    #[must_use]
    pub fn max_file_bytes(&self) -> u64 {
        self.inner.client.max_file_bytes()
    }

    /// Sends an event, as [`crate::Client::send_event`]: set an idempotency
    /// key or a progress callback on the returned [`SendEvent`] if you like,
    /// then call [`send`](SendEvent::send).
    ///
    /// ```no_run
    /// # fn demo(client: flowflex::blocking::Client) -> flowflex::Result<()> {
    /// use flowflex::Attachment;
    ///
    /// let sent = client
    ///     .send_event("order.shipped", flowflex::json!({
    ///         "gallery": [Attachment::from_path("a.jpg"), Attachment::from_path("b.jpg")],
    ///     }))
    ///     .idempotency_key("order-42-shipped")
    ///     .send()?;
    /// assert!(sent.uploaded_assets.contains_key("gallery[1]"));
    /// # Ok(()) }
    /// ```
    pub fn send_event(
        &self,
        event: impl Into<String>,
        payload: impl crate::IntoPayload,
    ) -> SendEvent<'_> {
        SendEvent {
            client: self,
            inner: self.inner.client.send_event(event, payload),
        }
    }

    /// Sends a derived event (`#[flowflex(event = "..")]`) with each field's
    /// `mime` and `max_size` checked before any request, as
    /// `event.send(&async_client)` does.
    ///
    /// ```no_run
    /// # fn demo(client: flowflex::blocking::Client) -> flowflex::Result<()> {
    /// use flowflex::{Attachment, FlowFlexEvent};
    ///
    /// #[derive(serde::Serialize, FlowFlexEvent)]
    /// #[flowflex(event = "invoice.created")]
    /// struct InvoiceCreated {
    ///     #[flowflex(mime = "application/pdf", max_size = "10 MB")]
    ///     invoice: Attachment,
    /// }
    ///
    /// let event = InvoiceCreated { invoice: Attachment::from_path("./invoice.pdf") };
    /// let sent = client.send_named(&event).idempotency_key("invoice-7").send()?;
    /// println!("{}", sent.uploaded_assets["invoice"]);
    /// # Ok(()) }
    /// ```
    pub fn send_named<E: crate::NamedEvent>(&self, event: &E) -> SendEvent<'_> {
        SendEvent {
            client: self,
            inner: crate::NamedEvent::send(event, &self.inner.client),
        }
    }

    /// Uploads one attachment and returns its asset id (valid for 48 h), as
    /// [`crate::Client::upload`].
    ///
    /// ```no_run
    /// # fn demo(client: flowflex::blocking::Client) -> flowflex::Result<()> {
    /// let id = client.upload(&flowflex::Attachment::from_path("./invoice.pdf"))?;
    /// println!("{id}");
    /// # Ok(()) }
    /// ```
    pub fn upload(&self, attachment: &Attachment) -> Result<AssetId> {
        self.block_on(self.inner.client.upload(attachment))
    }

    /// Asks for a presigned upload URL, as
    /// [`crate::Client::create_upload_url`].
    ///
    /// ```no_run
    /// # fn demo(client: flowflex::blocking::Client) -> flowflex::Result<()> {
    /// let ticket = client.create_upload_url("x.pdf", flowflex::Mime::Pdf, 1024)?;
    /// println!("{}", ticket.asset_id);
    /// # Ok(()) }
    /// ```
    pub fn create_upload_url(&self, filename: &str, mime: Mime, size: u64) -> Result<UploadTicket> {
        self.block_on(self.inner.client.create_upload_url(filename, mime, size))
    }

    fn block_on<F, T>(&self, future: F) -> Result<T>
    where
        F: Future<Output = Result<T>> + Send,
        T: Send,
    {
        let Some(runtime) = &self.inner.runtime else {
            return Err(Error::config("the blocking client was shut down"));
        };
        if tokio::runtime::Handle::try_current().is_err() {
            return runtime.block_on(future);
        }
        // Tokio refuses to start a runtime on a thread that drives another
        // (it panics); a thread of our own has none.
        std::thread::scope(|scope| {
            scope
                .spawn(|| runtime.block_on(future))
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }
}

/// A pending blocking send, from [`Client::send_event`]: configure it, then
/// call [`send`](Self::send).
///
/// ```no_run
/// # fn demo(client: flowflex::blocking::Client) -> flowflex::Result<()> {
/// let send = client.send_event("order.shipped", flowflex::json!({"order_id": 42}));
/// let sent = send.idempotency_key("order-42-shipped").send()?; // sent only by .send()
/// println!("{}", sent.response);
/// # Ok(()) }
/// ```
#[must_use = "a send does nothing until .send() is called"]
pub struct SendEvent<'a> {
    client: &'a Client,
    inner: crate::SendEvent,
}

impl fmt::Debug for SendEvent<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

impl SendEvent<'_> {
    /// The idempotency key (default: a fresh UUID v4); see
    /// [`crate::SendEvent::idempotency_key`].
    ///
    /// ```no_run
    /// # fn demo(client: flowflex::blocking::Client) -> flowflex::Result<()> {
    /// let sent = client
    ///     .send_event("order.shipped", flowflex::json!({"order_id": 42}))
    ///     .idempotency_key("order-42-shipped")
    ///     .send()?;
    /// assert_eq!(sent.idempotency_key, "order-42-shipped");
    /// # Ok(()) }
    /// ```
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.inner = self.inner.idempotency_key(key);
        self
    }

    /// Calls `f` as each attachment's bytes go out; see
    /// [`crate::SendEvent::on_progress`].
    ///
    /// ```no_run
    /// # fn demo(client: flowflex::blocking::Client) -> flowflex::Result<()> {
    /// client
    ///     .send_event("order.shipped", flowflex::json!({
    ///         "invoice": flowflex::Attachment::from_path("./invoice.pdf"),
    ///     }))
    ///     .on_progress(|p| eprintln!("{} {}/{}", p.path, p.sent, p.total))
    ///     .send()?;
    /// # Ok(()) }
    /// ```
    pub fn on_progress(mut self, f: impl Fn(&Progress) + Send + Sync + 'static) -> Self {
        self.inner = self.inner.on_progress(f);
        self
    }

    /// Uploads the attachments, posts the event, and returns what the async
    /// send would: blocks until done.
    ///
    /// ```no_run
    /// # fn demo(client: flowflex::blocking::Client) -> flowflex::Result<()> {
    /// let sent = client.send_event("ping", flowflex::json!({})).send()?;
    /// println!("{}", sent.response);
    /// # Ok(()) }
    /// ```
    pub fn send(self) -> Result<SendEventResult> {
        self.client.block_on(self.inner.into_future())
    }
}

/// Builds a blocking [`Client`]: the setters of [`crate::ClientBuilder`],
/// and a [`build`](Self::build) that returns a blocking client.
///
/// ```
/// use std::time::Duration;
/// use flowflex::RetryConfig;
///
/// let client = flowflex::blocking::Client::builder()
///     .api_key("cik_xxx")
///     .api_secret("yyy")
///     .integration_code("ic_abc123")
///     .base_url("https://api.flowflex.ai")
///     .retry(RetryConfig::default().max_retries(5))
///     .build()
///     .unwrap();
/// # let _ = client;
/// ```
#[derive(Clone, Default, Debug)]
pub struct ClientBuilder {
    inner: crate::ClientBuilder,
}

/// Each setter forwards to the async builder's setter of the same name.
macro_rules! forward {
    ($($(#[$doc:meta])* $name:ident($arg:ident: $ty:ty);)+) => {$(
        $(#[$doc])*
        #[doc = concat!("\n\nSee [`crate::ClientBuilder::", stringify!($name), "`].")]
        #[must_use]
        pub fn $name(self, $arg: $ty) -> Self {
            ClientBuilder { inner: self.inner.$name($arg) }
        }
    )+};
}

impl ClientBuilder {
    forward! {
        /// The custom integration's API key (`cik_...`).
        api_key(key: impl Into<String>);
        /// The custom integration's API secret. Never printed or logged.
        api_secret(secret: impl Into<String>);
        /// The integration code, the `<code>` in `/v1/events/<code>`.
        integration_code(code: impl Into<String>);
        /// The FlowFlex host (default [`DEFAULT_BASE_URL`](crate::DEFAULT_BASE_URL)).
        base_url(url: impl Into<String>);
        /// The timeout of each request (default 30 s).
        timeout(timeout: Duration);
        /// The timeout for establishing a connection.
        connect_timeout(timeout: Duration);
        /// The largest file accepted, in bytes.
        max_file_bytes(bytes: u64);
        /// How many uploads of one send run at once.
        max_concurrent_uploads(n: usize);
        /// The retry policy (default [`RetryConfig::default`]).
        retry(retry: RetryConfig);
        /// The number of retries, on the current policy.
        max_retries(n: u32);
        /// A ready `reqwest::Client` (proxies, custom TLS roots, middleware).
        http_client(client: reqwest::Client);
    }

    /// Fills unset values from `FLOWFLEX_API_KEY`, `FLOWFLEX_API_SECRET`,
    /// `FLOWFLEX_INTEGRATION_CODE` and `FLOWFLEX_BASE_URL`.
    ///
    /// ```no_run
    /// # fn main() -> flowflex::Result<()> {
    /// let client = flowflex::blocking::Client::builder()
    ///     .max_retries(5)
    ///     .from_env()
    ///     .build()?;
    /// # let _ = client; Ok(()) }
    /// ```
    #[must_use]
    pub fn from_env(self) -> Self {
        ClientBuilder {
            inner: self.inner.from_env(),
        }
    }

    /// Checks the configuration and builds the client, as
    /// [`crate::ClientBuilder::build`]. Sends nothing.
    ///
    /// ```
    /// let err = flowflex::blocking::Client::builder().build().unwrap_err();
    /// assert!(err.to_string().contains("FLOWFLEX_API_KEY"));
    /// ```
    pub fn build(self) -> Result<Client> {
        Client::from_async(self.inner.build()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A loopback address nothing listens on.
    fn closed_port_url() -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    }

    fn client() -> Client {
        Client::builder()
            .api_key("cik_test")
            .api_secret("very-secret-value")
            .integration_code("ic_abc123")
            .base_url(closed_port_url())
            .max_retries(0)
            .build()
            .unwrap()
    }

    /// In async code and in `spawn_blocking` alike: an answer, no panic.
    #[test]
    fn inside_a_runtime_it_runs_on_a_thread_of_its_own() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let client = client();
        let in_task = client.clone();
        let err = runtime.block_on(async move {
            let err = in_task
                .send_event("ping", crate::json!({}))
                .send()
                .unwrap_err();
            drop(in_task);
            err
        });
        assert!(matches!(err, Error::Network { .. }), "{err}");
        let err = runtime
            .block_on(async {
                tokio::task::spawn_blocking(move || {
                    let err = client.upload(&Attachment::from_bytes(&b"hi"[..], "hi.txt"));
                    // The last handle, dropped where a runtime is current.
                    drop(client);
                    err
                })
                .await
            })
            .unwrap()
            .unwrap_err();
        assert!(matches!(err, Error::Upload { .. }), "{err}");
    }

    #[test]
    fn debug_shows_no_secret() {
        let client = client();
        let text = format!(
            "{client:?} {:?}",
            Client::builder().api_secret("very-secret-value")
        );
        assert!(!text.contains("very-secret-value"), "{text}");
        assert!(text.contains("ic_abc123"), "{text}");
    }

    #[test]
    fn errors_come_back_typed() {
        let err = client()
            .send_event("ping", crate::json!({}))
            .send()
            .unwrap_err();
        assert!(matches!(err, Error::Network { .. }), "{err}");
    }
}
