//! The emulator's protocol, checked over real HTTP with a plain client.

mod accounting;
mod events;
mod faults;
mod storage;
mod upload_url;

use std::time::Duration;

use flowflex_emulator::Emulator;
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};

/// A started emulator and an HTTP client for it.
pub(crate) struct Ctx {
    pub(crate) emu: Emulator,
    pub(crate) http: Client,
}

/// An upload URL as the API answered it.
pub(crate) struct Issued {
    pub(crate) asset_id: String,
    pub(crate) upload_url: String,
    pub(crate) token: String,
}

impl Ctx {
    pub(crate) async fn start() -> Ctx {
        Ctx::with(Emulator::start().await.expect("emulator starts")).await
    }

    pub(crate) async fn with(emu: Emulator) -> Ctx {
        install_tls_provider();
        let http = Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("client builds");
        Ctx { emu, http }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.emu.base_url())
    }

    /// `POST /v1/assets/upload-url` with good credentials.
    pub(crate) async fn upload_url(&self, body: Value) -> Response {
        self.http
            .post(self.url("/v1/assets/upload-url"))
            .basic_auth(self.emu.api_key(), Some(self.emu.api_secret()))
            .json(&body)
            .send()
            .await
            .expect("upload-url answers")
    }

    /// A fresh upload URL for `mime` with a declared `size`.
    pub(crate) async fn issue(&self, filename: &str, mime: &str, size: Option<usize>) -> Issued {
        let mut body = json!({ "filename": filename, "mime": mime });
        if let Some(size) = size {
            body["size"] = json!(size);
        }
        let response = self.upload_url(body).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.expect("JSON body");
        Issued {
            asset_id: body["assetId"].as_str().expect("assetId").to_owned(),
            upload_url: body["uploadUrl"].as_str().expect("uploadUrl").to_owned(),
            token: body["token"].as_str().expect("token").to_owned(),
        }
    }

    /// A plain presigned `PUT`.
    pub(crate) async fn put(&self, url: &str, mime: &str, bytes: &[u8]) -> Response {
        self.http
            .put(url)
            .header("content-type", mime)
            .body(bytes.to_vec())
            .send()
            .await
            .expect("storage answers")
    }

    /// The whole upload dance; returns the asset id.
    pub(crate) async fn upload(&self, filename: &str, mime: &str, bytes: &[u8]) -> String {
        let issued = self.issue(filename, mime, Some(bytes.len())).await;
        let response = self.put(&issued.upload_url, mime, bytes).await;
        assert_eq!(response.status(), StatusCode::OK);
        issued.asset_id
    }

    /// A request to the events endpoint with good credentials, not yet sent.
    pub(crate) fn event_request(&self, event: &str, payload: &Value) -> reqwest::RequestBuilder {
        self.http
            .post(self.url(&format!("/v1/events/{}", self.emu.integration_code())))
            .basic_auth(self.emu.api_key(), Some(self.emu.api_secret()))
            .header("x-event", event)
            .json(payload)
    }

    pub(crate) async fn send_event(&self, event: &str, payload: &Value) -> Response {
        self.event_request(event, payload)
            .send()
            .await
            .expect("events answers")
    }
}

/// Asserts a JSON error answer and returns its body.
pub(crate) async fn assert_error(response: Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status().as_u16(), status, "status");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "content-type {content_type}"
    );
    let body: Value = response.json().await.expect("JSON error body");
    assert_eq!(body["code"], code, "body {body}");
    assert!(
        body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "error message in {body}"
    );
    body
}

/// Waits (up to 5 s) until `condition` holds.
pub(crate) async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    for _ in 0..500 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

/// In `cargo test --workspace`, `flowflex` turns on reqwest's rustls without
/// a crypto provider (it hands its own to reqwest), so a plain
/// `reqwest::Client` here would panic without one installed. These tests
/// speak plain http, but the client is built with TLS support all the same.
pub(crate) fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
