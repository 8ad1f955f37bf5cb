//! `GET` and `POST /_emulator/clock`: the emulator's time, moved forward
//! to expire upload URLs (2 h) and assets (48 h) without waiting.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::HeaderMap;
use serde::Deserialize;
use serde_json::{Value, json};

use super::json_body;
use crate::error::ApiError;
use crate::state::Shared;

/// The largest single move: ten years is past every expiry there is.
const MAX_ADVANCE_SECS: u64 = 10 * 365 * 24 * 60 * 60;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Advance {
    advance_secs: u64,
}

/// The clock as the control API shows it.
pub(crate) fn clock_json(shared: &Shared) -> Value {
    json!({
        "now": crate::time::rfc3339(shared.clock.wall(shared.clock.now())),
        "advanced_secs": shared.clock.advanced().as_secs(),
    })
}

pub(super) async fn show(State(shared): State<Arc<Shared>>) -> Json<Value> {
    Json(clock_json(&shared))
}

pub(super) async fn advance(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let advance: Advance = match json_body(&headers, body, "INVALID_REQUEST").await {
        Ok(advance) => advance,
        Err(err) => return err.into_response(),
    };
    if advance.advance_secs > MAX_ADVANCE_SECS {
        return ApiError::invalid_request(format!(
            "advance_secs {} is over ten years ({MAX_ADVANCE_SECS}); every expiry is shorter",
            advance.advance_secs
        ))
        .into_response();
    }
    shared.advance_clock(Duration::from_secs(advance.advance_secs));
    Json(clock_json(&shared)).into_response()
}
