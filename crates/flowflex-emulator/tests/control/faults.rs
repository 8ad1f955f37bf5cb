use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{Ctx, assert_error};

#[tokio::test]
async fn a_posted_fault_fires_is_listed_and_counts_down() {
    let ctx = Ctx::start().await;
    let fault = json!({"on": "events", "status": 503, "retry_after_secs": 2, "times": 2});
    let response = ctx.post_json("/_emulator/faults", &fault).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.json::<Value>().await.expect("JSON"), fault);
    let (_, listed) = ctx.get_json("/_emulator/faults").await;
    assert_eq!(listed, json!({"faults": [fault]}));

    let response = ctx.send_event("order.placed", &json!({})).await;
    assert_eq!(response.headers()["retry-after"], "2");
    assert_error(response, 503, "SERVICE_UNAVAILABLE").await;
    let (_, listed) = ctx.get_json("/_emulator/faults").await;
    assert_eq!(listed["faults"][0]["times"], 1);

    let response = ctx.send_event("order.placed", &json!({})).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let (_, listed) = ctx.get_json("/_emulator/faults").await;
    assert_eq!(listed, json!({"faults": []}));
    let response = ctx.send_event("order.placed", &json!({})).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
}

#[tokio::test]
async fn faults_on_each_endpoint_and_their_outcomes() {
    let ctx = Ctx::start().await;
    let faults = [
        json!({"on": "upload_url", "status": 429, "body": "slow down", "times": 1}),
        json!({"on": "storage", "drop_connection": true, "times": 1}),
        json!({"on": "events", "drop_after_processing": true, "times": 1}),
    ];
    for fault in &faults {
        let response = ctx.post_json("/_emulator/faults", fault).await;
        assert_eq!(response.status(), StatusCode::CREATED, "{fault}");
    }
    let response = ctx
        .upload_url(json!({"filename": "a.pdf", "mime": "application/pdf"}))
        .await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.text().await.expect("text"), "slow down");

    let issued = ctx.issue("a.pdf", "application/pdf", Some(4)).await;
    let cut = ctx
        .http
        .put(&issued.upload_url)
        .header("content-type", "application/pdf")
        .body(b"%PDF".to_vec())
        .send()
        .await;
    assert!(cut.is_err(), "the storage fault drops the connection");
    assert!(ctx.emu.asset(&issued.asset_id).is_some_and(|a| !a.uploaded));

    let lost = ctx.event_request("order.placed", &json!({})).send().await;
    assert!(lost.is_err(), "the answer is lost");
    let (_, events) = ctx.get_json("/_emulator/events").await;
    assert_eq!(
        events["events"].as_array().map(Vec::len),
        Some(1),
        "but processed"
    );
}

#[tokio::test]
async fn a_delay_holds_the_answer() {
    let ctx = Ctx::start().await;
    let fault = json!({"on": "events", "delay_ms": 20, "hang": true, "times": 1});
    ctx.post_json("/_emulator/faults", &fault).await;
    let hung = ctx
        .event_request("order.placed", &json!({}))
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(hung.expect_err("never answered").is_timeout());
}

#[tokio::test]
async fn delete_clears_every_fault() {
    let ctx = Ctx::start().await;
    ctx.post_json(
        "/_emulator/faults",
        &json!({"on": "events", "status": 500, "every": 1}),
    )
    .await;
    ctx.post_json(
        "/_emulator/faults",
        &json!({"on": "storage", "hang": true, "rate": 0.5, "seed": 3}),
    )
    .await;
    let (_, listed) = ctx.get_json("/_emulator/faults").await;
    assert_eq!(listed["faults"].as_array().map(Vec::len), Some(2));
    let response = ctx
        .http
        .delete(ctx.url("/_emulator/faults"))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let (_, listed) = ctx.get_json("/_emulator/faults").await;
    assert_eq!(listed, json!({"faults": []}));
    let response = ctx.send_event("order.placed", &json!({})).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
}

#[tokio::test]
async fn faults_injected_from_rust_are_listed_too() {
    let ctx = Ctx::start().await;
    ctx.emu.inject(
        flowflex_emulator::Fault::on(flowflex_emulator::Endpoint::UploadUrl)
            .redirect("http://127.0.0.2:9/x")
            .times(3),
    );
    let (_, listed) = ctx.get_json("/_emulator/faults").await;
    assert_eq!(
        listed["faults"][0],
        json!({"on": "upload_url", "status": 307, "body": "", "headers": {"location": "http://127.0.0.2:9/x"}, "times": 3})
    );
}

#[tokio::test]
async fn a_bad_fault_is_refused_with_the_reason() {
    let ctx = Ctx::start().await;
    for (fault, says) in [
        (
            json!({"on": "event", "status": 503}),
            "expected one of \"events\", \"upload_url\", \"storage\"",
        ),
        (
            json!({"on": "events", "stauts": 503}),
            "unknown field `stauts`",
        ),
        (
            json!({"on": "events", "hang": true, "status": 503}),
            "\"status\" shapes an injected answer, and \"hang\" sends none",
        ),
        (
            json!({"on": "events", "times": 1, "rate": 0.5}),
            "two schedules",
        ),
        (json!(["events"]), "expected struct FaultSpec"),
    ] {
        let response = ctx.post_json("/_emulator/faults", &fault).await;
        let body = assert_error(response, 400, "INVALID_FAULT").await;
        let error = body["error"].as_str().expect("error");
        assert!(error.contains(says), "{fault}: {error}");
    }
    let response = ctx
        .http
        .post(ctx.url("/_emulator/faults"))
        .body(r#"{"on": "events", "status": 503}"#)
        .send()
        .await
        .expect("answer");
    let body = assert_error(response, 400, "INVALID_REQUEST").await;
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("application/json"))
    );
    let (_, listed) = ctx.get_json("/_emulator/faults").await;
    assert_eq!(listed, json!({"faults": []}), "nothing was injected");
}
