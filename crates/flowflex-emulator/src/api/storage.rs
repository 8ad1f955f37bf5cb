//! `PUT /storage/{assetId}?token=...`: the presigned upload, with the checks
//! a real object store makes.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use bytes::BytesMut;
use futures_util::StreamExt;
use http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::{drain, drain_limit};
use crate::UPLOAD_TOKEN_TTL;
use crate::error::{ApiError, drop_connection};
use crate::headers::{content_length, content_type_essence, is_chunked};
use crate::state::{Shared, Upload};

#[derive(Debug, Deserialize)]
struct Presigned {
    token: Option<String>,
}

/// An upload that passed every check on its head.
#[derive(Debug)]
struct Accepted {
    asset_id: String,
    content_length: u64,
}

pub(super) async fn put(
    State(shared): State<Arc<Shared>>,
    asset_id: Result<Path<String>, PathRejection>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let asset_id = asset_id.ok().map(|Path(id)| id);
    match check(&shared, asset_id, &uri, &headers) {
        Ok(accepted) => receive(&shared, accepted, body).await,
        Err(err) => {
            tracing::debug!(code = err.code(), "storage upload rejected");
            if !headers.contains_key(header::EXPECT) {
                drain(body, drain_limit(&shared.config)).await;
            }
            err.into_response()
        }
    }
}

fn check(
    shared: &Shared,
    asset_id: Option<String>,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<Accepted, ApiError> {
    if headers.contains_key(header::AUTHORIZATION) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "AUTHORIZATION_NOT_ALLOWED",
            "Only one auth mechanism allowed: the presigned URL carries its own token, \
             do not send an Authorization header",
        ));
    }
    let content_length = match content_length(headers) {
        Some(length) if !is_chunked(headers) => length,
        _ => {
            return Err(ApiError::new(
                StatusCode::LENGTH_REQUIRED,
                "LENGTH_REQUIRED",
                "Content-Length is required; chunked uploads are not supported",
            ));
        }
    };

    let token = Query::<Presigned>::try_from_uri(uri)
        .ok()
        .and_then(|Query(q)| q.token);
    let state = shared.state();
    let asset = asset_id.as_deref().and_then(|id| state.assets.get(id));
    let asset = match (asset, token) {
        (Some(asset), Some(token)) if token == asset.token => asset,
        _ => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "SIGNATURE_DOES_NOT_MATCH",
                "The request signature does not match: unknown asset or wrong token",
            ));
        }
    };
    if shared.clock.now().saturating_sub(asset.token_issued_at) > UPLOAD_TOKEN_TTL {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "REQUEST_EXPIRED",
            "The upload URL has expired; request a new one",
        ));
    }

    let max = shared.config.max_file_bytes;
    if content_length > max {
        return Err(ApiError::file_too_large(content_length, max));
    }
    if let Some(declared) = asset.declared_size.filter(|d| *d != content_length) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "SIZE_MISMATCH",
            format!("Content-Length {content_length} differs from the declared size {declared}"),
        ));
    }
    let content_type = content_type_essence(headers);
    if content_type != asset.mime.to_ascii_lowercase() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "CONTENT_TYPE_MISMATCH",
            format!(
                "Content-Type \"{content_type}\" differs from the declared MIME type \"{}\"",
                asset.mime
            ),
        ));
    }
    Ok(Accepted {
        asset_id: asset.id.clone(),
        content_length,
    })
}

/// Streams the body in, hashing as it goes, and stores it if it came whole.
async fn receive(shared: &Shared, accepted: Accepted, body: Body) -> Response {
    let retain = shared.config.retain_bytes;
    let capacity = if retain {
        usize::try_from(accepted.content_length).unwrap_or(0)
    } else {
        0
    };
    let mut bytes = BytesMut::with_capacity(capacity);
    let mut received = 0u64;
    let mut hasher = Sha256::new();
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else {
            tracing::debug!(
                received,
                expected = accepted.content_length,
                "upload interrupted; nothing stored"
            );
            return drop_connection();
        };
        hasher.update(&chunk);
        received += chunk.len() as u64;
        if retain {
            bytes.extend_from_slice(&chunk);
        }
    }
    if received != accepted.content_length {
        // hyper enforces Content-Length, so this is a defence only.
        return drop_connection();
    }
    let sha256 = hex::encode(hasher.finalize());
    let etag = HeaderValue::from_str(&format!("\"{sha256}\""));
    let mut state = shared.state();
    let Some(asset) = state.assets.get_mut(&accepted.asset_id) else {
        return drop_connection();
    };
    asset.upload = Some(Upload {
        bytes: bytes.freeze(),
        size: received,
        sha256,
        at: shared.clock.now(),
    });
    asset.put_count += 1;
    tracing::debug!(
        asset_id = %accepted.asset_id,
        size = accepted.content_length,
        put_count = asset.put_count,
        "asset stored"
    );
    drop(state);
    shared.changed();
    let mut response = StatusCode::OK.into_response();
    if let Ok(etag) = etag {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response
}
