//! What the emulator's test binaries share: a started emulator with a
//! plain HTTP client, and the FlowFlex calls spelled out.

#![allow(dead_code, unreachable_pub)] // Each test binary uses a part.

use std::time::Duration;

use flowflex_emulator::Emulator;
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};

/// A started emulator and an HTTP client for it.
pub struct Ctx {
    pub emu: Emulator,
    pub http: Client,
    /// Where requests go, when not the emulator's own base URL (an
    /// emulator on 0.0.0.0 is reached on 127.0.0.1).
    pub base: Option<String>,
}

/// An upload URL as the API answered it.
pub struct Issued {
    pub asset_id: String,
    pub upload_url: String,
    pub token: String,
}

impl Ctx {
    pub async fn start() -> Ctx {
        Ctx::with(Emulator::start().await.expect("emulator starts")).await
    }

    pub async fn with(emu: Emulator) -> Ctx {
        install_tls_provider();
        let http = Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("client builds");
        Ctx {
            emu,
            http,
            base: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        match &self.base {
            Some(base) => format!("{base}{path}"),
            None => format!("{}{path}", self.emu.base_url()),
        }
    }

    /// `POST /v1/assets/upload-url` with good credentials.
    pub async fn upload_url(&self, body: Value) -> Response {
        self.http
            .post(self.url("/v1/assets/upload-url"))
            .basic_auth(self.emu.api_key(), Some(self.emu.api_secret()))
            .json(&body)
            .send()
            .await
            .expect("upload-url answers")
    }

    /// A fresh upload URL for `mime` with a declared `size`.
    pub async fn issue(&self, filename: &str, mime: &str, size: Option<usize>) -> Issued {
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
    pub async fn put(&self, url: &str, mime: &str, bytes: &[u8]) -> Response {
        self.http
            .put(url)
            .header("content-type", mime)
            .body(bytes.to_vec())
            .send()
            .await
            .expect("storage answers")
    }

    /// The whole upload dance; returns the asset id.
    pub async fn upload(&self, filename: &str, mime: &str, bytes: &[u8]) -> String {
        let issued = self.issue(filename, mime, Some(bytes.len())).await;
        let response = self.put(&issued.upload_url, mime, bytes).await;
        assert_eq!(response.status(), StatusCode::OK);
        issued.asset_id
    }

    /// A request to the events endpoint with good credentials, not yet sent.
    pub fn event_request(&self, event: &str, payload: &Value) -> reqwest::RequestBuilder {
        self.http
            .post(self.url(&format!("/v1/events/{}", self.emu.integration_code())))
            .basic_auth(self.emu.api_key(), Some(self.emu.api_secret()))
            .header("x-event", event)
            .json(payload)
    }

    pub async fn send_event(&self, event: &str, payload: &Value) -> Response {
        self.event_request(event, payload)
            .send()
            .await
            .expect("events answers")
    }
}

/// Asserts a JSON error answer and returns its body.
pub async fn assert_error(response: Response, status: u16, code: &str) -> Value {
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

/// Waits until `condition` holds; panics naming `what` after 60 s, a
/// deadline that catches a hang, not a slow machine.
pub async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        // Not a wait for the condition: the pause between two looks at it.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// In `cargo test --workspace`, `flowflex` turns on reqwest's rustls without
/// a crypto provider (it hands its own to reqwest), so a plain
/// `reqwest::Client` here would panic without one installed. These tests
/// speak plain http, but the client is built with TLS support all the same.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl Ctx {
    /// `GET` a path.
    pub async fn get(&self, path: &str) -> Response {
        self.http.get(self.url(path)).send().await.expect("answers")
    }

    /// `GET` a control API path; the answer must be JSON.
    pub async fn get_json(&self, path: &str) -> (StatusCode, Value) {
        let response = self.get(path).await;
        let status = response.status();
        (status, response.json().await.expect("a JSON answer"))
    }

    /// `POST` JSON to a control API path.
    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.http
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("answers")
    }

    /// A file uploaded and an event naming it, as a client sends them:
    /// returns the event's id.
    pub async fn send_with_files(&self, event: &str, payload: Value) -> String {
        let response = self.send_event(event, &payload).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        let body: Value = response.json().await.expect("JSON");
        body["eventId"].as_str().expect("eventId").to_owned()
    }
}

/// A tiny valid PNG (1x1, opaque), and a PDF, for previews.
pub const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x00, 0x00, 0x00, 0x90, 0x77, 0x53,
    0xde, 0x00, 0x00, 0x00, 0x0c, 0x49, 0x44, 0x41, 0x54, 0x08, 0xd7, 0x63, 0xf8, 0xcf, 0xc0, 0x00,
    0x00, 0x03, 0x01, 0x01, 0x00, 0x18, 0xdd, 0x8d, 0xb0, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e,
    0x44, 0xae, 0x42, 0x60, 0x82,
];
pub const PDF: &[u8] = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n";
