//! `POST /v1/events/{integration_code}`.

use std::time::Duration;

use flowflex_emulator::{ASSET_TTL, Emulator};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{Ctx, assert_error};

#[tokio::test]
async fn an_event_with_uploaded_files_is_accepted_and_recorded() {
    let ctx = Ctx::start().await;
    let invoice = ctx.upload("invoice.pdf", "application/pdf", b"%PDF").await;
    let photo = ctx.upload("a.jpg", "image/jpeg", b"\xff\xd8\xff").await;
    let payload = json!({
        "invoice": invoice,
        "gallery": [photo, {"nested": {"again": invoice}}],
        "note": "asset_ is not an id, nor is asset_a-b",
        "count": 3,
    });
    let response = ctx
        .event_request("order.shipped", &payload)
        .header("x-idempotency-key", "key-1")
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"))
    );
    assert!(response.headers().get("x-idempotent-replay").is_none());
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["success"], true);
    assert_eq!(body["event"], "order.shipped");
    let event_id = body["eventId"].as_str().expect("eventId");
    assert!(event_id.starts_with("evt_") && event_id.len() > 4);

    let events = ctx.emu.events();
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(event.event, "order.shipped");
    assert_eq!(event.integration_code, "ic_emulator");
    assert_eq!(event.idempotency_key.as_deref(), Some("key-1"));
    assert_eq!(event.payload, payload);
    assert_eq!(event.event_id, event_id);
}

#[tokio::test]
async fn events_are_recorded_in_order_without_a_key() {
    let ctx = Ctx::start().await;
    for i in 0..3 {
        let response = ctx.send_event("tick", &json!({ "i": i })).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
    }
    let events = ctx.emu.events();
    let order: Vec<&Value> = events.iter().map(|e| &e.payload["i"]).collect();
    assert_eq!(order, [&json!(0), &json!(1), &json!(2)]);
    assert!(events.iter().all(|e| e.idempotency_key.is_none()));
    assert_ne!(events[0].event_id, events[1].event_id);
}

#[tokio::test]
async fn auth_is_checked_first() {
    let ctx = Ctx::start().await;
    let unknown = ctx
        .http
        .post(ctx.url("/v1/events/ic_unknown"))
        .header("x-event", "e")
        .json(&json!({}))
        .send()
        .await
        .expect("answer");
    assert_error(unknown, 401, "UNAUTHORIZED").await;
    let wrong = ctx
        .http
        .post(ctx.url("/v1/events/ic_emulator"))
        .basic_auth(ctx.emu.api_key(), Some("nope"))
        .header("x-event", "e")
        .json(&json!({}))
        .send()
        .await
        .expect("answer");
    assert_eq!(
        wrong
            .headers()
            .get("www-authenticate")
            .map(|v| v.as_bytes()),
        Some(&b"Basic"[..])
    );
    assert_error(wrong, 401, "UNAUTHORIZED").await;
    assert!(ctx.emu.events().is_empty());
}

#[tokio::test]
async fn an_unknown_integration_is_not_found() {
    let ctx = Ctx::start().await;
    let response = ctx
        .http
        .post(ctx.url("/v1/events/ic_other"))
        .basic_auth(ctx.emu.api_key(), Some(ctx.emu.api_secret()))
        .header("x-event", "e")
        .json(&json!({}))
        .send()
        .await
        .expect("answer");
    assert_error(response, 404, "INTEGRATION_NOT_FOUND").await;
    assert!(ctx.emu.events().is_empty());
}

#[tokio::test]
async fn the_integration_code_is_percent_decoded() {
    let emu = Emulator::builder()
        .integration_code("ic a/b")
        .start()
        .await
        .expect("start");
    let ctx = Ctx::with(emu).await;
    let send = |path: &'static str| {
        ctx.http
            .post(ctx.url(path))
            .basic_auth(ctx.emu.api_key(), Some(ctx.emu.api_secret()))
            .header("x-event", "e")
            .json(&json!({}))
            .send()
    };
    let encoded = send("/v1/events/ic%20a%2Fb").await.expect("answer");
    assert_eq!(encoded.status(), StatusCode::ACCEPTED);
    assert_eq!(ctx.emu.events()[0].integration_code, "ic a/b");
    // An unencoded slash is another path altogether.
    let raw = send("/v1/events/ic%20a/b").await.expect("answer");
    assert_error(raw, 404, "NOT_FOUND").await;
}

#[tokio::test]
async fn the_event_name_header_is_required() {
    let ctx = Ctx::start().await;
    let url = ctx.url("/v1/events/ic_emulator");
    let without = ctx
        .http
        .post(&url)
        .basic_auth(ctx.emu.api_key(), Some(ctx.emu.api_secret()))
        .json(&json!({}))
        .send()
        .await
        .expect("answer");
    assert_error(without, 400, "INVALID_REQUEST").await;
    for name in ["", "   "] {
        let empty = ctx.send_event(name, &json!({})).await;
        assert_error(empty, 400, "INVALID_REQUEST").await;
    }
    assert!(ctx.emu.events().is_empty());
}

#[tokio::test]
async fn an_empty_idempotency_key_is_invalid() {
    let ctx = Ctx::start().await;
    let response = ctx
        .event_request("e", &json!({}))
        .header("x-idempotency-key", "")
        .send()
        .await
        .expect("answer");
    assert_error(response, 400, "INVALID_REQUEST").await;
    assert!(ctx.emu.events().is_empty());
}

#[tokio::test]
async fn a_payload_over_one_mebibyte_is_too_large() {
    let ctx = Ctx::start().await;
    let big = json!({ "text": "x".repeat(1024 * 1024) });
    let response = ctx.send_event("e", &big).await;
    assert_error(response, 413, "PAYLOAD_TOO_LARGE").await;
    let fits = json!({ "text": "x".repeat(1000 * 1000) });
    assert_eq!(
        ctx.send_event("e", &fits).await.status(),
        StatusCode::ACCEPTED
    );
    assert_eq!(ctx.emu.events().len(), 1);
}

#[tokio::test]
async fn the_body_must_be_json() {
    let ctx = Ctx::start().await;
    let response = ctx
        .http
        .post(ctx.url("/v1/events/ic_emulator"))
        .basic_auth(ctx.emu.api_key(), Some(ctx.emu.api_secret()))
        .header("x-event", "e")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("answer");
    assert_error(response, 400, "INVALID_REQUEST").await;
    // JSON without a JSON content type would reach the API as no body at all.
    let untyped = ctx
        .http
        .post(ctx.url("/v1/events/ic_emulator"))
        .basic_auth(ctx.emu.api_key(), Some(ctx.emu.api_secret()))
        .header("x-event", "e")
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .expect("answer");
    assert_error(untyped, 400, "INVALID_REQUEST").await;
    assert!(ctx.emu.events().is_empty());
}

#[tokio::test]
async fn an_unknown_or_unuploaded_asset_is_missing() {
    let ctx = Ctx::start().await;
    let issued = ctx.issue("a.pdf", "application/pdf", None).await;
    for (payload, missing) in [
        (json!({"assetId": "asset_nope"}), "asset_nope".to_owned()),
        (
            json!({"deep": [{"file": issued.asset_id}]}),
            issued.asset_id.clone(),
        ),
    ] {
        let response = ctx.send_event("e", &payload).await;
        let body = assert_error(response, 422, "ASSET_FILE_MISSING").await;
        assert_eq!(body["assetId"], missing.as_str());
    }
    assert!(ctx.emu.events().is_empty());
}

#[tokio::test]
async fn an_asset_expires_48_hours_after_upload() {
    let ctx = Ctx::start().await;
    let asset_id = ctx.upload("a.pdf", "application/pdf", b"%PDF").await;
    ctx.emu.advance_clock(ASSET_TTL - Duration::from_secs(3600));
    let fresh = ctx.send_event("e", &json!({"file": asset_id})).await;
    assert_eq!(fresh.status(), StatusCode::ACCEPTED);
    ctx.emu.advance_clock(Duration::from_secs(3601));
    let stale = ctx.send_event("e", &json!({"file": asset_id})).await;
    let body = assert_error(stale, 422, "ASSET_FILE_MISSING").await;
    assert_eq!(body["assetId"], asset_id.as_str());
    assert_eq!(ctx.emu.events().len(), 1);
}

#[tokio::test]
async fn the_same_idempotency_key_replays_the_first_answer() {
    let ctx = Ctx::start().await;
    let send = |key: &'static str, i: u32| {
        ctx.event_request("e", &json!({ "i": i }))
            .header("x-idempotency-key", key)
            .send()
    };
    let first = send("k1", 1).await.expect("answer");
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    let first: Value = first.json().await.expect("JSON");

    let again = send("k1", 2).await.expect("answer");
    assert_eq!(again.status(), StatusCode::ACCEPTED);
    assert_eq!(
        again
            .headers()
            .get("x-idempotent-replay")
            .map(|v| v.as_bytes()),
        Some(&b"true"[..])
    );
    let again: Value = again.json().await.expect("JSON");
    assert_eq!(again, first);

    let other = send("k2", 3).await.expect("answer");
    assert_eq!(other.status(), StatusCode::ACCEPTED);
    let other: Value = other.json().await.expect("JSON");
    assert_ne!(other["eventId"], first["eventId"]);

    let events = ctx.emu.events();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].payload, json!({"i": 1}));
    assert_eq!(events[0].event_id, first["eventId"].as_str().expect("id"));
}

#[tokio::test]
async fn a_failed_attempt_is_not_replayed() {
    let ctx = Ctx::start().await;
    let issued = ctx.issue("a.pdf", "application/pdf", Some(4)).await;
    let payload = json!({"file": issued.asset_id});
    let send = || {
        ctx.event_request("e", &payload)
            .header("x-idempotency-key", "retry-me")
            .send()
    };
    let early = send().await.expect("answer");
    assert_error(early, 422, "ASSET_FILE_MISSING").await;
    assert_eq!(
        ctx.put(&issued.upload_url, "application/pdf", b"%PDF")
            .await
            .status(),
        200
    );
    let retried = send().await.expect("answer");
    assert_eq!(retried.status(), StatusCode::ACCEPTED);
    assert!(retried.headers().get("x-idempotent-replay").is_none());
    assert_eq!(ctx.emu.events().len(), 1);
}

#[tokio::test]
async fn is_served_under_the_api_prefix_too() {
    let ctx = Ctx::start().await;
    let response = ctx
        .http
        .post(ctx.url("/api/v1/events/ic_emulator"))
        .basic_auth(ctx.emu.api_key(), Some(ctx.emu.api_secret()))
        .header("x-event", "e")
        .json(&json!({"a": 1}))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(ctx.emu.events().len(), 1);
}
