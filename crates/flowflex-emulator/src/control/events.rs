//! `GET /_emulator/events` (with `event`, `count` and `wait_ms`) and
//! `GET /_emulator/events/{id}`.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::model::RecordedEvent;
use crate::state::Shared;

/// The longest `wait_ms`: a test waits for a condition, with a deadline of
/// its own, never longer than this.
pub(crate) const MAX_WAIT: Duration = Duration::from_secs(60);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ListQuery {
    event: Option<String>,
    count: Option<String>,
    wait_ms: Option<String>,
}

/// An event as the control API shows it.
pub(crate) fn event_json(event: &RecordedEvent) -> Value {
    json!({
        "id": event.event_id,
        "event": event.event,
        "integration_code": event.integration_code,
        "idempotency_key": event.idempotency_key,
        "received_at": crate::time::rfc3339(event.received_at),
        "payload": event.payload,
        "assets": event.assets(),
    })
}

pub(super) async fn list(
    State(shared): State<Arc<Shared>>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Response {
    let query = match query {
        Ok(Query(query)) => query,
        Err(rejection) => {
            return ApiError::invalid_request(format!(
                "{}; the query takes event=NAME, count=N and wait_ms=MS",
                rejection.body_text()
            ))
            .into_response();
        }
    };
    let number = |name: &str, text: Option<&str>| -> Result<Option<u64>, ApiError> {
        text.map(|text| {
            text.parse::<u64>().map_err(|_| {
                ApiError::invalid_request(format!(
                    "{name}={text:?} is not a whole number of at least 0"
                ))
            })
        })
        .transpose()
    };
    let count = match number("count", query.count.as_deref()) {
        Ok(count) => count,
        Err(err) => return err.into_response(),
    };
    let wait_ms = match number("wait_ms", query.wait_ms.as_deref()) {
        Ok(wait) => wait,
        Err(err) => return err.into_response(),
    };
    let wanted = |event: &RecordedEvent| {
        query
            .event
            .as_deref()
            .is_none_or(|name| event.event == name)
    };
    let matching = |events: &[RecordedEvent]| -> Vec<Value> {
        events
            .iter()
            .filter(|e| wanted(e))
            .map(event_json)
            .collect()
    };
    let events = match wait_ms {
        None => matching(&shared.events()),
        Some(ms) => {
            let within = Duration::from_millis(ms);
            if within > MAX_WAIT {
                return ApiError::invalid_request(format!(
                    "wait_ms={ms} is over the longest wait, {} ms; wait again if you need longer",
                    MAX_WAIT.as_millis()
                ))
                .into_response();
            }
            let count = usize::try_from(count.unwrap_or(1)).unwrap_or(usize::MAX);
            shared
                .wait_until(within, |state| {
                    let seen = state.events.iter().filter(|e| wanted(e)).count();
                    (seen >= count, ())
                })
                .await;
            matching(&shared.events())
        }
    };
    Json(json!({ "events": events })).into_response()
}

pub(super) async fn one(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let found = shared
        .state()
        .events
        .iter()
        .find(|event| event.event_id == id)
        .cloned();
    match found {
        Some(event) => Json(event_json(&event)).into_response(),
        None => ApiError::new(
            StatusCode::NOT_FOUND,
            "EVENT_NOT_FOUND",
            "No event with this id (the eventId a send answered with, evt_...); it may have been reset",
        )
        .into_response(),
    }
}
