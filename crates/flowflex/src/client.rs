//! The client: the handle users hold, and the calls it offers.

use std::fmt;
use std::sync::Arc;

use url::Url;

use crate::api::{Api, AssetId, UploadTicket};
use crate::attachment::Attachment;
use crate::builder::ClientBuilder;
use crate::encode::IntoPayload;
use crate::error::Result;
use crate::mime::Mime;
use crate::send::SendEvent;

/// A FlowFlex custom-integration client.
///
/// Cheap to clone (an `Arc` inside); share one per process so connections
/// are pooled. `Debug` shows no secret.
///
/// ```no_run
/// # async fn demo() -> flowflex::Result<()> {
/// use std::time::Duration;
/// use flowflex::{Attachment, Client};
///
/// let client = Client::builder()
///     .api_key("cik_xxx")
///     .api_secret("yyy")
///     .integration_code("ic_abc123")
///     .base_url("https://api.flowflex.ai")
///     .timeout(Duration::from_secs(30))
///     .build()?;
///
/// let sent = client
///     .send_event("invoice.created", flowflex::json!({
///         "invoice": Attachment::from_path("./invoice.pdf"),
///         "customer_id": "cust_123",
///     }))
///     .await?;
/// println!("{:?}", sent.uploaded_assets);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Api>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        f.debug_struct("Client")
            .field("base_url", &i.base_url.as_str())
            .field("api_key", &i.api_key)
            .field("api_secret", &"<redacted>")
            .field("integration_code", &i.integration_code)
            .field("timeout", &i.transport.timeout)
            .field("max_file_bytes", &i.max_file_bytes)
            .field("max_concurrent_uploads", &i.max_concurrent_uploads)
            .field("retry", &i.transport.retry)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// Checks the configuration and builds the client. Sends nothing.
    ///
    /// ```
    /// let err = flowflex::Client::builder()
    ///     .api_key("cik_xxx")
    ///     .api_secret("yyy")
    ///     .integration_code("ic_abc123")
    ///     .base_url("http://flowflex.example.com")
    ///     .build()
    ///     .unwrap_err();
    /// assert!(err.to_string().contains("must use https"));
    /// ```
    pub fn build(self) -> Result<Client> {
        Ok(Client {
            inner: Arc::new(self.into_api()?),
        })
    }
}

impl Client {
    /// A builder with nothing set.
    ///
    /// ```
    /// let client = flowflex::Client::builder()
    ///     .api_key("cik_xxx")
    ///     .api_secret("yyy")
    ///     .integration_code("ic_abc123")
    ///     .base_url("http://127.0.0.1:8080")
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(client.base_url().as_str(), "http://127.0.0.1:8080/");
    /// ```
    #[must_use]
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client configured from `FLOWFLEX_API_KEY`, `FLOWFLEX_API_SECRET`,
    /// `FLOWFLEX_INTEGRATION_CODE` and `FLOWFLEX_BASE_URL` (default
    /// [`DEFAULT_BASE_URL`](crate::DEFAULT_BASE_URL)).
    ///
    /// ```no_run
    /// # fn main() -> flowflex::Result<()> {
    /// let client = flowflex::Client::from_env()?;
    /// println!("sending to {}", client.integration_code());
    /// # Ok(()) }
    /// ```
    pub fn from_env() -> Result<Client> {
        ClientBuilder::default().from_env().build()
    }

    /// The base URL requests go to.
    ///
    /// ```
    /// let client = flowflex::Client::builder()
    ///     .api_key("cik_xxx")
    ///     .api_secret("yyy")
    ///     .integration_code("ic_abc123")
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(client.base_url().as_str(), "https://api.flowflex.ai/");
    /// ```
    #[must_use]
    pub fn base_url(&self) -> &Url {
        &self.inner.base_url
    }

    /// The integration code events are sent to.
    ///
    /// ```
    /// let client = flowflex::Client::builder()
    ///     .api_key("cik_xxx")
    ///     .api_secret("yyy")
    ///     .integration_code("ic_abc123")
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(client.integration_code(), "ic_abc123");
    /// ```
    #[must_use]
    pub fn integration_code(&self) -> &str {
        &self.inner.integration_code
    }

    /// The largest file this client accepts, in bytes.
    ///
    /// ```
    /// let client = flowflex::Client::builder()
    ///     .api_key("cik_xxx")
    ///     .api_secret("yyy")
    ///     .integration_code("ic_abc123")
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(client.max_file_bytes(), flowflex::MAX_FILE_BYTES);
    /// ```
    #[must_use]
    pub fn max_file_bytes(&self) -> u64 {
        self.inner.max_file_bytes
    }

    /// Sends an event: uploads every [`Attachment`] in `payload`, then posts
    /// the payload with each attachment replaced by its asset id.
    ///
    /// `payload` is any `Serialize` value that becomes a JSON object: a
    /// `serde_json::json!` value, a map, or your own struct. Returns a
    /// builder: set [`idempotency_key`](SendEvent::idempotency_key) if you
    /// like, then `.await` it.
    ///
    /// ```no_run
    /// # async fn demo(client: flowflex::Client, pdf: Vec<u8>) -> flowflex::Result<()> {
    /// use flowflex::Attachment;
    ///
    /// let sent = client
    ///     .send_event("order.shipped", flowflex::json!({
    ///         "invoice": Attachment::from_path("./invoice.pdf"),
    ///         "gallery": [Attachment::from_path("a.jpg"), Attachment::from_path("b.jpg")],
    ///         "order": {"receipt": Attachment::from_bytes(pdf, "receipt.pdf")},
    ///         "note": "passes through",
    ///     }))
    ///     .idempotency_key("order-42-shipped")
    ///     .await?;
    /// assert!(sent.uploaded_assets.contains_key("gallery[1]"));
    /// # Ok(()) }
    /// ```
    pub fn send_event(&self, event: impl Into<String>, payload: impl IntoPayload) -> SendEvent {
        SendEvent::new(
            Arc::clone(&self.inner),
            event.into(),
            payload.__into_encoded().map(|e| e.0),
        )
    }

    /// The shared state, for the outbox support.
    pub(crate) fn api(&self) -> &Api {
        &self.inner
    }

    /// A derived event's send: its body already encoded.
    pub(crate) fn send_encoded(
        &self,
        event: &str,
        encoded: Result<crate::encode::Encoded>,
    ) -> SendEvent {
        SendEvent::new(Arc::clone(&self.inner), event.to_owned(), encoded)
    }

    /// Asks for a presigned upload URL. Most callers never need this:
    /// [`send_event`](Self::send_event) and [`upload`](Self::upload) do it.
    ///
    /// ```no_run
    /// # async fn demo(client: flowflex::Client) -> flowflex::Result<()> {
    /// let ticket = client.create_upload_url("invoice.pdf", flowflex::Mime::Pdf, 48_213).await?;
    /// println!("PUT the bytes to {} for {}", ticket.upload_url, ticket.asset_id);
    /// # Ok(()) }
    /// ```
    pub async fn create_upload_url(
        &self,
        filename: &str,
        mime: Mime,
        size: u64,
    ) -> Result<UploadTicket> {
        self.inner.create_upload_url(filename, mime, size).await
    }

    /// Uploads one attachment and returns its asset id (valid for 48 h).
    ///
    /// The file is checked first (type, magic bytes, size), as in a send.
    ///
    /// ```no_run
    /// # async fn demo(client: flowflex::Client) -> flowflex::Result<()> {
    /// let id = client.upload(&flowflex::Attachment::from_path("./invoice.pdf")).await?;
    /// println!("{id}");
    /// # Ok(()) }
    /// ```
    pub async fn upload(&self, attachment: &Attachment) -> Result<AssetId> {
        crate::send::upload_one(&self.inner, attachment).await
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;

    use std::time::Duration;

    use super::*;
    use crate::builder::parse_base_url;
    use crate::error::Error;

    fn builder() -> ClientBuilder {
        Client::builder()
            .api_key("cik_test")
            .api_secret("very-secret-value")
            .integration_code("ic_abc123")
    }

    #[test]
    fn base_url_rules() {
        let ok = |raw: &str| parse_base_url(raw).map(|u| u.to_string());
        assert_eq!(
            ok("https://api.flowflex.ai").unwrap(),
            "https://api.flowflex.ai/"
        );
        assert_eq!(
            ok("https://api.flowflex.ai/api").unwrap(),
            "https://api.flowflex.ai/"
        );
        assert_eq!(
            ok("https://api.flowflex.ai/api/").unwrap(),
            "https://api.flowflex.ai/"
        );
        assert_eq!(
            ok("https://h.example/x/api//").unwrap(),
            "https://h.example/x"
        );
        assert_eq!(
            ok("https://h.example/apix").unwrap(),
            "https://h.example/apix"
        );
        assert!(ok("http://localhost:8080").is_ok());
        assert!(ok("http://127.0.0.1:1").is_ok());
        assert!(ok("http://127.1.2.3").is_ok());
        assert!(ok("http://[::1]:9000").is_ok());
        for bad in [
            "http://api.flowflex.ai",
            "http://10.0.0.1",
            "http://localhost.evil.com",
            "ftp://localhost",
            "api.flowflex.ai",
            "https://",
            "",
            "   ",
            "https://user:pw@api.flowflex.ai",
            "https://api.flowflex.ai/?x=1",
            "https://api.flowflex.ai/#frag",
            "not a url",
        ] {
            let err = ok(bad).unwrap_err();
            assert!(matches!(err, Error::Config { .. }), "{bad}: {err}");
        }
        let err = ok("http://api.flowflex.ai").unwrap_err().to_string();
        assert!(err.contains("https") && err.contains("clear text"), "{err}");
    }

    #[test]
    fn endpoints_are_joined_and_encoded() {
        let client = builder()
            .base_url("https://h.example/prefix/api")
            .build()
            .unwrap();
        assert_eq!(
            client.inner.events_endpoint.as_str(),
            "https://h.example/prefix/v1/events/ic_abc123"
        );
        assert_eq!(
            client.inner.upload_url_endpoint.as_str(),
            "https://h.example/prefix/v1/assets/upload-url"
        );
    }

    #[test]
    fn credentials_and_codes_are_checked() {
        for (b, what) in [
            (builder().api_key(""), "api_key"),
            (builder().api_key("  "), "api_key"),
            (builder().api_key(" cik"), "api_key"),
            (builder().api_key("a:b"), "api_key"),
            (builder().api_secret(""), "api_secret"),
            (builder().api_secret("x\ny"), "api_secret"),
            (builder().integration_code(""), "integration_code"),
            (builder().integration_code("a/b"), "integration_code"),
            (builder().integration_code(".."), "integration_code"),
            (builder().integration_code("a%2F"), "integration_code"),
            (builder().integration_code("a?b"), "integration_code"),
            (builder().integration_code("códe"), "integration_code"),
            (builder().timeout(Duration::ZERO), "timeout"),
            (builder().max_file_bytes(0), "max_file_bytes"),
            (
                builder().max_file_bytes(crate::MAX_FILE_BYTES + 1),
                "max_file_bytes",
            ),
            (
                builder().max_concurrent_uploads(0),
                "max_concurrent_uploads",
            ),
        ] {
            let err = b.build().unwrap_err();
            assert!(matches!(err, Error::Config { .. }));
            assert!(err.to_string().contains(what), "{what}: {err}");
            assert!(!err.to_string().contains("very-secret-value"));
        }
        let missing = Client::builder().build().unwrap_err().to_string();
        assert!(missing.contains("FLOWFLEX_API_KEY"), "{missing}");
    }

    #[test]
    fn debug_shows_no_secret() {
        let b = builder();
        let client = b.clone().build().unwrap();
        let token = base64::engine::general_purpose::STANDARD.encode("cik_test:very-secret-value");
        for text in [
            format!("{b:?}"),
            format!("{client:?}"),
            format!("{client:#?}"),
        ] {
            assert!(!text.contains("very-secret-value"), "{text}");
            assert!(!text.contains(&token), "{text}");
            assert!(text.contains("<redacted>"), "{text}");
        }
    }
}
