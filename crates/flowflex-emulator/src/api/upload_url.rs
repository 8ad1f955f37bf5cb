//! `POST /v1/assets/upload-url`: create an asset and its presigned upload URL.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use super::{
    BodyError, UPLOAD_URL_BODY_LIMIT, check_basic_auth, parse_json, random_alphanumeric, read_body,
};
use crate::error::{ApiError, drop_connection};
use crate::state::{Asset, Shared};

/// What a valid request asks for.
#[derive(Debug)]
struct NewAsset {
    filename: String,
    mime: String,
    size: Option<u64>,
}

pub(super) async fn create(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let body = match read_body(body, UPLOAD_URL_BODY_LIMIT).await {
        Err(BodyError::Broken) => return drop_connection(),
        other => other,
    };
    if let Err(err) = check_basic_auth(&headers, &shared.config) {
        return err.into_response();
    }
    let Ok(body) = body else {
        return ApiError::invalid_request("Request body is too large").into_response();
    };
    match parse_json(&headers, &body).and_then(|v| validate(&v, shared.config.max_file_bytes)) {
        Ok(new) => issue(&shared, new).into_response(),
        Err(err) => {
            tracing::debug!(code = err.code(), "upload-url rejected");
            err.into_response()
        }
    }
}

fn validate(body: &Value, max_file_bytes: u64) -> Result<NewAsset, ApiError> {
    let body = body
        .as_object()
        .ok_or_else(|| ApiError::invalid_request("Body must be a JSON object"))?;
    let filename = required_string(body, "filename")?;
    if filename.chars().any(|c| c.is_control() || c == '/') {
        return Err(ApiError::invalid_request(
            "filename must not contain control characters or '/'",
        ));
    }
    let mime = required_string(body, "mime")?;
    if !crate::mime::is_allowed(mime) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "MIME_NOT_ALLOWED",
            format!("MIME type \"{mime}\" is not allowed"),
        ));
    }
    let size = match body.get("size") {
        None | Some(Value::Null) => None,
        Some(value) => Some(
            value
                .as_u64()
                .ok_or_else(|| ApiError::invalid_request("size must be a non-negative integer"))?,
        ),
    };
    if let Some(size) = size.filter(|size| *size > max_file_bytes) {
        return Err(ApiError::file_too_large(size, max_file_bytes));
    }
    Ok(NewAsset {
        filename: filename.to_owned(),
        mime: mime.to_owned(),
        size,
    })
}

fn required_string<'a>(
    body: &'a serde_json::Map<String, Value>,
    field: &str,
) -> Result<&'a str, ApiError> {
    match body.get(field) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(Value::String(_)) => Err(ApiError::invalid_request(format!(
            "{field} must not be empty"
        ))),
        Some(_) => Err(ApiError::invalid_request(format!(
            "{field} must be a string"
        ))),
        None => Err(ApiError::invalid_request(format!("{field} is required"))),
    }
}

fn issue(shared: &Shared, new: NewAsset) -> Json<Value> {
    let token = random_alphanumeric(32);
    let mut state = shared.state();
    let asset_id = loop {
        let id = format!("asset_{}", random_alphanumeric(24));
        if !state.assets.contains_key(&id) {
            break id;
        }
    };
    let upload_url = format!(
        "{}/storage/{asset_id}?token={token}",
        shared.config.base_url
    );
    tracing::debug!(%asset_id, mime = %new.mime, size = ?new.size, "asset created");
    state.insert_asset(Asset {
        id: asset_id.clone(),
        filename: new.filename,
        mime: new.mime,
        declared_size: new.size,
        token: token.clone(),
        token_issued_at: shared.clock.now(),
        upload: None,
        put_count: 0,
    });
    Json(json!({ "assetId": asset_id, "uploadUrl": upload_url, "token": token }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(body: Value) -> &'static str {
        match validate(&body, 100) {
            Ok(_) => "OK",
            Err(err) => err.code(),
        }
    }

    #[test]
    fn validation_codes() {
        assert_eq!(
            code(json!({"filename": "a.pdf", "mime": "application/pdf"})),
            "OK"
        );
        assert_eq!(
            code(json!({"filename": "a.pdf", "mime": "application/pdf", "size": 100})),
            "OK"
        );
        assert_eq!(
            code(json!({"filename": "a.pdf", "mime": "application/pdf", "size": 101})),
            "FILE_TOO_LARGE"
        );
        assert_eq!(
            code(json!({"filename": "a.pdf", "mime": "application/pdf", "size": -1})),
            "INVALID_REQUEST"
        );
        assert_eq!(
            code(json!({"filename": "a.pdf", "mime": "application/pdf", "size": 1.5})),
            "INVALID_REQUEST"
        );
        assert_eq!(
            code(json!({"filename": "a.pdf", "mime": "application/pdf", "size": "1"})),
            "INVALID_REQUEST"
        );
        assert_eq!(
            code(json!({"filename": "a.gif", "mime": "image/gif"})),
            "MIME_NOT_ALLOWED"
        );
        assert_eq!(
            code(json!({"filename": "", "mime": "application/pdf"})),
            "INVALID_REQUEST"
        );
        assert_eq!(
            code(json!({"filename": "a/b.pdf", "mime": "application/pdf"})),
            "INVALID_REQUEST"
        );
        assert_eq!(
            code(json!({"filename": "a\nb.pdf", "mime": "application/pdf"})),
            "INVALID_REQUEST"
        );
        assert_eq!(
            code(json!({"filename": "a\u{7f}.pdf", "mime": "application/pdf"})),
            "INVALID_REQUEST"
        );
        assert_eq!(code(json!({"mime": "application/pdf"})), "INVALID_REQUEST");
        assert_eq!(code(json!({"filename": "a.pdf"})), "INVALID_REQUEST");
        assert_eq!(code(json!(["a.pdf"])), "INVALID_REQUEST");
    }
}
