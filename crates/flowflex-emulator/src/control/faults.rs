//! `GET`, `POST` and `DELETE /_emulator/faults`: faults as JSON, with the
//! `Fault` builder's names as fields.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use super::json_body;
use crate::error::ApiError;
use crate::fault::FaultSpec;
use crate::state::Shared;

pub(super) async fn list(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let faults = shared.state().faults.in_force();
    Json(json!({ "faults": faults }))
}

pub(super) async fn add(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let spec: FaultSpec = match json_body(&headers, body, "INVALID_FAULT").await {
        Ok(spec) => spec,
        Err(err) => return err.into_response(),
    };
    match spec.into_fault() {
        Ok(fault) => {
            let shown = fault.to_json();
            tracing::debug!(fault = %shown, "fault injected through the control API");
            shared.inject(fault);
            (StatusCode::CREATED, Json(shown)).into_response()
        }
        Err(message) => {
            ApiError::new(StatusCode::BAD_REQUEST, "INVALID_FAULT", message).into_response()
        }
    }
}

pub(super) async fn clear(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.clear_faults();
    StatusCode::NO_CONTENT
}
