use std::time::{Duration, SystemTime};

use flowflex_emulator::{Emulator, Endpoint, Fault};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{Ctx, PDF, assert_error};

fn time(value: &Value) -> SystemTime {
    humantime::parse_rfc3339(value.as_str().expect("a time")).expect("RFC 3339")
}

#[tokio::test]
async fn the_clock_moves_forward_and_expires_what_it_should() {
    let ctx = Ctx::start().await;
    let (status, clock) = ctx.get_json("/_emulator/clock").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(clock["advanced_secs"], 0);
    let before = time(&clock["now"]);

    let issued = ctx
        .issue("late.pdf", "application/pdf", Some(PDF.len()))
        .await;
    let response = ctx
        .post_json("/_emulator/clock", &json!({"advance_secs": 7201}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let clock: Value = response.json().await.expect("JSON");
    assert_eq!(clock["advanced_secs"], 7201);
    let moved = time(&clock["now"]).duration_since(before).expect("later");
    assert!(moved >= Duration::from_secs(7201), "{moved:?}");

    // The upload URL (2 h) has expired on the emulator's clock.
    let response = ctx.put(&issued.upload_url, "application/pdf", PDF).await;
    assert_error(response, 403, "REQUEST_EXPIRED").await;
    // Events arriving now are stamped with the moved clock.
    ctx.send_with_files("late", json!({})).await;
    let (_, events) = ctx.get_json("/_emulator/events").await;
    let received = time(&events["events"][0]["received_at"]);
    assert!(received.duration_since(before).expect("later") >= Duration::from_secs(7201));
}

#[tokio::test]
async fn a_bad_clock_move_is_refused() {
    let ctx = Ctx::start().await;
    for (body, says) in [
        (json!({"advance_secs": -1}), "invalid value"),
        (json!({"advance": 10}), "unknown field `advance`"),
        (json!({}), "missing field `advance_secs`"),
        (json!({"advance_secs": 400_000_000u64}), "over ten years"),
    ] {
        let response = ctx.post_json("/_emulator/clock", &body).await;
        let answer = assert_error(response, 400, "INVALID_REQUEST").await;
        assert!(
            answer["error"].as_str().is_some_and(|e| e.contains(says)),
            "{body}: {answer}"
        );
    }
    let (_, clock) = ctx.get_json("/_emulator/clock").await;
    assert_eq!(clock["advanced_secs"], 0);
}

#[tokio::test]
async fn reset_forgets_events_assets_replays_and_faults() {
    let emulator = Emulator::start().await.expect("starts");
    let ctx = Ctx::with(emulator).await;
    let id = ctx.upload("a.pdf", "application/pdf", PDF).await;
    let response = ctx
        .event_request("order.placed", &json!({"invoice": id}))
        .header("x-idempotency-key", "k1")
        .send()
        .await
        .expect("answer");
    let first: Value = response.json().await.expect("JSON");
    ctx.emu
        .inject(Fault::on(Endpoint::Storage).status(500).every(1));
    ctx.post_json("/_emulator/clock", &json!({"advance_secs": 60}))
        .await;

    let response = ctx
        .http
        .post(ctx.url("/_emulator/reset"))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        ctx.get_json("/_emulator/events").await.1,
        json!({"events": []})
    );
    assert_eq!(
        ctx.get_json("/_emulator/assets").await.1,
        json!({"assets": []})
    );
    assert_eq!(
        ctx.get_json("/_emulator/faults").await.1,
        json!({"faults": []})
    );
    // The clock is not turned back.
    assert_eq!(
        ctx.get_json("/_emulator/clock").await.1["advanced_secs"],
        60
    );
    assert!(ctx.emu.events().is_empty() && ctx.emu.assets().is_empty());

    // The old asset is gone, and the idempotency key starts afresh.
    let response = ctx
        .send_event("order.placed", &json!({"invoice": id}))
        .await;
    assert_error(response, 422, "ASSET_FILE_MISSING").await;
    let response = ctx
        .event_request("order.placed", &json!({}))
        .header("x-idempotency-key", "k1")
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert!(response.headers().get("x-idempotent-replay").is_none());
    let second: Value = response.json().await.expect("JSON");
    assert_ne!(first["eventId"], second["eventId"]);
    // Uploads work again: the storage fault is gone.
    ctx.upload("b.pdf", "application/pdf", PDF).await;
}

#[tokio::test]
async fn unknown_paths_and_methods_are_json_errors() {
    let ctx = Ctx::start().await;
    let response = ctx.get("/_emulator/nothing").await;
    assert_error(response, 404, "NOT_FOUND").await;
    let response = ctx
        .http
        .put(ctx.url("/_emulator/events"))
        .send()
        .await
        .expect("answer");
    assert_error(response, 405, "METHOD_NOT_ALLOWED").await;
    let response = ctx.get("/_emulator/reset").await;
    assert_error(response, 405, "METHOD_NOT_ALLOWED").await;
}
