//! `POST /v1/events/{integration_code}`: accept a custom-integration event.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use serde_json::{Value, json};

use super::{
    BodyError, EVENT_BODY_LIMIT, check_basic_auth, parse_json, random_alphanumeric, read_body,
};
use crate::ASSET_TTL;
use crate::error::{ApiError, drop_connection};
use crate::model::RecordedEvent;
use crate::paths::is_asset_id;
use crate::state::{Replay, Shared, State as Stored};

/// Header set on an answer replayed for a repeated idempotency key.
const REPLAY_HEADER: &str = "x-idempotent-replay";

pub(super) async fn create(
    State(shared): State<Arc<Shared>>,
    integration_code: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let body = match read_body(body, EVENT_BODY_LIMIT).await {
        Err(BodyError::Broken) => return drop_connection(),
        other => other,
    };
    let result = check_basic_auth(&headers, &shared.config).and_then(|()| {
        let body = body.map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                format!("Event payload is over the {EVENT_BODY_LIMIT}-byte limit"),
            )
        });
        accept(&shared, integration_code, &headers, body)
    });
    result.unwrap_or_else(|err| {
        tracing::debug!(code = err.code(), "event rejected");
        err.into_response()
    })
}

fn accept(
    shared: &Shared,
    integration_code: Result<Path<String>, PathRejection>,
    headers: &HeaderMap,
    body: Result<Bytes, ApiError>,
) -> Result<Response, ApiError> {
    let integration_code = match integration_code {
        Ok(Path(code)) if code == shared.config.integration_code => code,
        _ => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "INTEGRATION_NOT_FOUND",
                "No custom integration with this code",
            ));
        }
    };
    let event = match headers.get("x-event").map(HeaderValue::to_str) {
        Some(Ok(event)) if !event.trim().is_empty() => event.to_owned(),
        _ => return Err(ApiError::invalid_request("x-event header is required")),
    };
    let idempotency_key = match headers.get("x-idempotency-key").map(HeaderValue::to_str) {
        None => None,
        Some(Ok(key)) if !key.trim().is_empty() => Some(key.to_owned()),
        Some(_) => {
            return Err(ApiError::invalid_request(
                "x-idempotency-key must be a non-empty string",
            ));
        }
    };
    let payload = parse_json(headers, &body?)?;

    let now = shared.clock.now();
    let mut state = shared.state();
    if let Some(key) = &idempotency_key {
        let replay = state.replays.get(&(integration_code.clone(), key.clone()));
        if let Some(replay) = replay {
            tracing::debug!("idempotent replay");
            let mut response = json_response(replay.status, replay.body.clone());
            response.headers_mut().insert(
                HeaderName::from_static(REPLAY_HEADER),
                HeaderValue::from_static("true"),
            );
            return Ok(response);
        }
    }
    if let Some(asset_id) = first_missing_asset(&payload, &state, now) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "ASSET_FILE_MISSING",
            format!("Asset {asset_id} was not uploaded, or has expired"),
        )
        .with_field("assetId", asset_id));
    }

    let event_id = format!("evt_{}", random_alphanumeric(24));
    let status = StatusCode::ACCEPTED;
    let body =
        Bytes::from(json!({ "success": true, "eventId": event_id, "event": event }).to_string());
    tracing::debug!(%event_id, %event, "event recorded");
    state.events.push(RecordedEvent {
        event,
        integration_code: integration_code.clone(),
        idempotency_key: idempotency_key.clone(),
        payload,
        event_id,
        received_at: shared.clock.wall(now),
    });
    shared.changed();
    if let Some(key) = idempotency_key {
        let replay = Replay {
            status,
            body: body.clone(),
        };
        state.replays.insert((integration_code, key), replay);
    }
    Ok(json_response(status, body))
}

fn json_response(status: StatusCode, body: Bytes) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// The first asset reference (in any string value, at any depth) that names
/// no asset uploaded within [`ASSET_TTL`].
fn first_missing_asset(payload: &Value, state: &Stored, now: Duration) -> Option<String> {
    match payload {
        Value::String(s) if is_asset_id(s) => {
            let upload = state.assets.get(s).and_then(|a| a.upload.as_ref());
            match upload {
                Some(upload) if now.saturating_sub(upload.at) <= ASSET_TTL => None,
                _ => Some(s.clone()),
            }
        }
        Value::Array(items) => items
            .iter()
            .find_map(|v| first_missing_asset(v, state, now)),
        Value::Object(map) => map
            .values()
            .find_map(|v| first_missing_asset(v, state, now)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_assets_are_found_at_any_depth() {
        let state = Stored::default();
        let now = Duration::ZERO;
        assert_eq!(
            first_missing_asset(&json!({"a": "asset_x"}), &state, now).as_deref(),
            Some("asset_x")
        );
        assert_eq!(
            first_missing_asset(&json!({"a": [1, {"b": ["asset_deep"]}]}), &state, now).as_deref(),
            Some("asset_deep")
        );
        assert_eq!(
            first_missing_asset(&json!({"asset_key": "text", "n": 1}), &state, now),
            None
        );
        assert_eq!(
            first_missing_asset(&json!("asset_top"), &state, now).as_deref(),
            Some("asset_top")
        );
    }
}
