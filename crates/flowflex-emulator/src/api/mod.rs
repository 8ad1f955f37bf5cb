//! The HTTP routes: the FlowFlex API and the presigned storage.

mod events;
mod storage;
mod upload_url;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use axum::routing::{post, put};
use base64::Engine;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use http::{HeaderMap, header};

use crate::error::ApiError;
use crate::state::{Config, Shared};

/// Largest `upload-url` request body read.
const UPLOAD_URL_BODY_LIMIT: usize = 64 * 1024;
/// Largest event payload accepted (`413 PAYLOAD_TOO_LARGE` beyond).
pub(crate) const EVENT_BODY_LIMIT: usize = 1024 * 1024;

/// The routes, under `/` and (for the API) `/api`.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/assets/upload-url", post(upload_url::create))
        .route("/api/v1/assets/upload-url", post(upload_url::create))
        .route("/v1/events/{integration_code}", post(events::create))
        .route("/api/v1/events/{integration_code}", post(events::create))
        .route("/storage/{asset_id}", put(storage::put))
        .fallback(not_found)
        .method_not_allowed_fallback(not_found)
        .with_state(shared)
}

async fn not_found() -> Response {
    ApiError::not_found().into_response()
}

/// Checks `Authorization: Basic base64(api_key:api_secret)`.
pub(crate) fn check_basic_auth(headers: &HeaderMap, config: &Config) -> Result<(), ApiError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(ApiError::unauthorized());
    };
    let value = value.to_str().map_err(|_| ApiError::unauthorized())?;
    let (scheme, encoded) = value
        .trim()
        .split_once(' ')
        .ok_or_else(ApiError::unauthorized)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(ApiError::unauthorized());
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| ApiError::unauthorized())?;
    let decoded = String::from_utf8(decoded).map_err(|_| ApiError::unauthorized())?;
    match decoded.split_once(':') {
        Some((key, secret)) if key == config.api_key && secret == config.api_secret => Ok(()),
        _ => Err(ApiError::unauthorized()),
    }
}

/// Why a request body could not be read whole.
#[derive(Debug)]
pub(crate) enum BodyError {
    /// More than the limit.
    TooLarge,
    /// The client stopped sending (or the connection failed) mid-body.
    Broken,
}

/// Reads a whole body, up to `limit` bytes.
pub(crate) async fn read_body(body: Body, limit: usize) -> Result<Bytes, BodyError> {
    let mut stream = body.into_data_stream();
    let mut buf = BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| BodyError::Broken)?;
        if buf.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge);
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// How much of an unused body [`drain`] reads: a little more than the
/// largest file, so a rejected upload still gets its answer.
pub(crate) fn drain_limit(config: &Config) -> u64 {
    config.max_file_bytes.saturating_add(1024 * 1024)
}

/// Reads and discards up to `limit` bytes of a body that will not be used, so
/// that the client gets to read the error answer and the connection can be
/// kept alive.
pub(crate) async fn drain(body: Body, limit: u64) {
    let mut stream = body.into_data_stream();
    let mut read = 0u64;
    while let Some(Ok(chunk)) = stream.next().await {
        read += chunk.len() as u64;
        if read > limit {
            break;
        }
    }
}

/// Parses a JSON request body, insisting on a JSON content type as the API's
/// body parser does (it would otherwise see no body at all).
pub(crate) fn parse_json(headers: &HeaderMap, body: &[u8]) -> Result<serde_json::Value, ApiError> {
    let content_type = crate::headers::content_type_essence(headers);
    if content_type != "application/json" && !content_type.ends_with("+json") {
        return Err(ApiError::invalid_request(
            "Content-Type must be application/json",
        ));
    }
    serde_json::from_slice(body)
        .map_err(|err| ApiError::invalid_request(format!("Body is not valid JSON: {err}")))
}

/// `len` random ASCII letters and digits.
pub(crate) fn random_alphanumeric(len: usize) -> String {
    std::iter::repeat_with(fastrand::alphanumeric)
        .take(len)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn config() -> Config {
        Config {
            api_key: "k".into(),
            api_secret: "s:with:colons".into(),
            integration_code: "ic".into(),
            max_file_bytes: 10,
            base_url: "http://127.0.0.1:1".into(),
            retain_bytes: true,
            inspector: true,
            loopback: true,
        }
    }

    fn auth(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(value).expect("header value"),
        );
        headers
    }

    #[test]
    fn basic_auth_accepts_only_the_right_pair() {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let config = config();
        assert!(
            check_basic_auth(&auth(&format!("Basic {}", b64("k:s:with:colons"))), &config).is_ok()
        );
        assert!(
            check_basic_auth(&auth(&format!("basic {}", b64("k:s:with:colons"))), &config).is_ok()
        );
        assert!(check_basic_auth(&auth(&format!("Basic {}", b64("k:s"))), &config).is_err());
        assert!(
            check_basic_auth(
                &auth(&format!("Bearer {}", b64("k:s:with:colons"))),
                &config
            )
            .is_err()
        );
        assert!(check_basic_auth(&auth("Basic !!!"), &config).is_err());
        assert!(check_basic_auth(&HeaderMap::new(), &config).is_err());
    }

    #[test]
    fn random_ids_have_the_right_shape() {
        let id = random_alphanumeric(24);
        assert_eq!(id.len(), 24);
        assert!(id.chars().all(|c| c.is_ascii_alphanumeric()));
    }
}
