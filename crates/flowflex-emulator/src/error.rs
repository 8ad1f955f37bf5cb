//! The JSON error answers of the API and of storage.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};

/// An error answer: `{"error": "<message>", "code": "<CODE>"}` plus, for some
/// codes, one more field (`assetId` for `ASSET_FILE_MISSING`).
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    extra: Option<(&'static str, String)>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            extra: None,
        }
    }

    pub(crate) fn with_field(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.extra = Some((name, value.into()));
        self
    }

    pub(crate) fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "Missing or invalid API credentials",
        )
    }

    pub(crate) fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "INVALID_REQUEST", message)
    }

    pub(crate) fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "NOT_FOUND", "Not found")
    }

    pub(crate) fn file_too_large(size: u64, max: u64) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "FILE_TOO_LARGE",
            format!("File is {size} bytes, over the {max}-byte limit"),
        )
    }

    pub(crate) fn code(&self) -> &'static str {
        self.code
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = serde_json::Map::new();
        body.insert("error".into(), self.message.into());
        body.insert("code".into(), self.code.into());
        if let Some((name, value)) = self.extra {
            body.insert(name.into(), value.into());
        }
        let mut response = (self.status, Json(serde_json::Value::Object(body))).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic"));
        }
        response
    }
}

/// Marks a response that must not be sent: the server closes the connection
/// instead (the client stopped mid-body, so there is no one to answer).
#[derive(Debug, Clone, Copy)]
pub(crate) struct DropConnection;

/// A response carrying [`DropConnection`].
pub(crate) fn drop_connection() -> Response {
    let mut response = StatusCode::BAD_REQUEST.into_response();
    response.extensions_mut().insert(DropConnection);
    response
}
