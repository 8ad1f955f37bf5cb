//! The control API under `/_emulator/`: what arrived, the files, faults,
//! the clock and reset, as JSON, for tests in any language. Its requests
//! are neither recorded nor faulted (see `server.rs`), and the guard
//! (`guard.rs`) decides who may reach it.

mod assets;
mod clock;
mod events;
mod faults;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

use crate::api::{BodyError, parse_json, read_body};
use crate::error::ApiError;
use crate::state::Shared;

pub(crate) use assets::Preview;

/// Largest JSON body the control API reads (a fault, a clock move).
const BODY_LIMIT: usize = 64 * 1024;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/_emulator/events", get(events::list))
        .route("/_emulator/events/{id}", get(events::one))
        .route("/_emulator/assets", get(assets::list))
        .route("/_emulator/assets/{asset_id}", get(assets::one))
        .route("/_emulator/assets/{asset_id}/content", get(assets::content))
        .route(
            "/_emulator/faults",
            get(faults::list).post(faults::add).delete(faults::clear),
        )
        .route("/_emulator/clock", get(clock::show).post(clock::advance))
        .route("/_emulator/reset", post(reset))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(shared)
}

/// `POST /_emulator/reset`: events, assets (and their idempotency answers)
/// and faults are forgotten.
async fn reset(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.reset();
    tracing::debug!("emulator reset");
    StatusCode::NO_CONTENT
}

async fn not_found() -> Response {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        "No such control API path; docs/emulator.md lists them (GET /_emulator/events, /_emulator/assets, ...)",
    )
    .into_response()
}

async fn method_not_allowed() -> Response {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        "This control API path does not take that method; docs/emulator.md lists what each takes",
    )
    .into_response()
}

/// Reads a JSON body sent as `application/json` into `T`, with the reason
/// in the answer when it cannot.
async fn json_body<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Body,
    code: &'static str,
) -> Result<T, ApiError> {
    let bytes = read_body(body, BODY_LIMIT).await.map_err(|err| match err {
        BodyError::TooLarge => ApiError::invalid_request(format!(
            "The body is over the control API's {BODY_LIMIT}-byte limit"
        )),
        BodyError::Broken => ApiError::invalid_request("The body was cut off"),
    })?;
    let value = parse_json(headers, &bytes)?;
    serde_json::from_value(value)
        .map_err(|err| ApiError::new(StatusCode::BAD_REQUEST, code, err.to_string()))
}
