use std::time::{Duration, SystemTime};

use flowflex_emulator::Emulator;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{Ctx, PDF, PNG, assert_error};

fn parse_time(value: &Value) -> SystemTime {
    let text = value.as_str().expect("a time string");
    humantime::parse_rfc3339(text).unwrap_or_else(|e| panic!("{text:?} is not RFC 3339: {e}"))
}

#[tokio::test]
async fn events_show_each_field_and_the_asset_at_each_path() {
    let ctx = Ctx::start().await;
    let (status, body) = ctx.get_json("/_emulator/events").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"events": []}));

    let invoice = ctx.upload("invoice.pdf", "application/pdf", PDF).await;
    let first = ctx.upload("a.png", "image/png", PNG).await;
    let second = ctx.upload("b.png", "image/png", PNG).await;
    let receipt = ctx.upload("receipt.pdf", "application/pdf", PDF).await;
    let before = SystemTime::now() - Duration::from_secs(1);
    let response = ctx
        .event_request(
            "order.shipped",
            &json!({
                "invoice": invoice,
                "gallery": [first, second],
                "order": {"receipt": receipt, "id": "ord_42"},
                "note": "asset_ is not an id on its own",
            }),
        )
        .header("x-idempotency-key", "order-42")
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let answered: Value = response.json().await.expect("JSON");
    ctx.send_with_files("order.placed", json!({"n": 1})).await;

    let (_, body) = ctx.get_json("/_emulator/events").await;
    let events = body["events"].as_array().expect("events");
    assert_eq!(events.len(), 2);
    let event = &events[0];
    assert_eq!(event["id"], answered["eventId"]);
    assert_eq!(event["event"], "order.shipped");
    assert_eq!(event["idempotency_key"], "order-42");
    assert_eq!(event["integration_code"], "ic_emulator");
    assert_eq!(event["payload"]["order"]["id"], "ord_42");
    assert_eq!(
        event["assets"],
        json!({
            "invoice": invoice,
            "gallery[0]": first,
            "gallery[1]": second,
            "order.receipt": receipt,
        })
    );
    let received = parse_time(&event["received_at"]);
    assert!(received >= before, "{received:?} before the send");
    assert!(received <= SystemTime::now(), "{received:?} in the future");
    // Oldest first, and an event with no file has an empty map.
    assert_eq!(events[1]["event"], "order.placed");
    assert_eq!(events[1]["idempotency_key"], Value::Null);
    assert_eq!(events[1]["assets"], json!({}));

    // The Rust API says the same.
    let recorded = ctx.emu.events();
    assert_eq!(recorded[0].assets()["gallery[1]"], second);

    let id = event["id"].as_str().expect("id");
    let (status, one) = ctx.get_json(&format!("/_emulator/events/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(&one, event);
    let missing = ctx.get("/_emulator/events/evt_nope").await;
    assert_error(missing, 404, "EVENT_NOT_FOUND").await;
}

#[tokio::test]
async fn a_replay_is_not_listed_twice() {
    let ctx = Ctx::start().await;
    for _ in 0..2 {
        let response = ctx
            .event_request("order.placed", &json!({}))
            .header("x-idempotency-key", "once")
            .send()
            .await
            .expect("answer");
        assert_eq!(response.status(), StatusCode::ACCEPTED);
    }
    let (_, body) = ctx.get_json("/_emulator/events").await;
    assert_eq!(body["events"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn event_filters_by_name() {
    let ctx = Ctx::start().await;
    for name in ["a.one", "b.two", "a.one"] {
        ctx.send_with_files(name, json!({})).await;
    }
    let (_, body) = ctx.get_json("/_emulator/events?event=a.one").await;
    let names: Vec<&Value> = body["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| &e["event"])
        .collect();
    assert_eq!(names, [&json!("a.one"), &json!("a.one")]);
    let (_, body) = ctx.get_json("/_emulator/events?event=c.three").await;
    assert_eq!(body, json!({"events": []}));
}

#[tokio::test]
async fn a_wait_returns_when_the_events_arrive() {
    let ctx = Ctx::start().await;
    ctx.send_with_files("noise", json!({})).await;
    // Asked before anything matches: the answer comes when the second
    // matching event arrives, long before the 60 s wait is over.
    let waiting = ctx
        .http
        .get(ctx.url("/_emulator/events?event=order.shipped&count=2&wait_ms=60000"))
        .timeout(Duration::from_secs(60))
        .send();
    let sending = async {
        ctx.send_with_files("order.shipped", json!({"n": 1})).await;
        ctx.send_with_files("other", json!({})).await;
        ctx.send_with_files("order.shipped", json!({"n": 2})).await;
    };
    let (answer, ()) = tokio::join!(waiting, sending);
    let answer = answer.expect("answers");
    assert_eq!(answer.status(), StatusCode::OK);
    let body: Value = answer.json().await.expect("JSON");
    let events = body["events"].as_array().expect("events");
    assert_eq!(events.len(), 2, "{body}");
    assert_eq!(events[1]["payload"]["n"], 2);
}

#[tokio::test]
async fn a_wait_that_runs_out_answers_what_there_is() {
    let ctx = Ctx::start().await;
    ctx.send_with_files("order.shipped", json!({})).await;
    let (status, body) = ctx
        .get_json("/_emulator/events?event=order.shipped&count=2&wait_ms=50")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["events"].as_array().map(Vec::len), Some(1));
    // Met already: no wait at all.
    let (_, body) = ctx
        .get_json("/_emulator/events?count=1&wait_ms=60000")
        .await;
    assert_eq!(body["events"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn a_wait_ends_when_the_emulator_stops() {
    let ctx = Ctx::start().await;
    let waiting = ctx
        .http
        .get(ctx.url("/_emulator/events?count=1&wait_ms=60000"))
        .send();
    let stopping = async {
        // The wait is under way once the server counts the connection.
        crate::common::eventually("the wait to connect", || ctx.emu.connections_open() == 1).await;
        ctx.emu.clone().shutdown().await;
    };
    let (answer, ()) = tokio::join!(waiting, stopping);
    let body: Value = answer.expect("answered").json().await.expect("JSON");
    assert_eq!(body, json!({"events": []}));
}

#[tokio::test]
async fn bad_queries_say_what_is_wrong() {
    let ctx = Ctx::start().await;
    for (query, says) in [
        (
            "count=two&wait_ms=10",
            "count=\"two\" is not a whole number",
        ),
        ("count=1&wait_ms=-1", "wait_ms=\"-1\" is not a whole number"),
        ("count=1&wait_ms=60001", "over the longest wait, 60000 ms"),
        ("cout=1", "unknown field `cout`"),
    ] {
        let response = ctx.get(&format!("/_emulator/events?{query}")).await;
        let body = assert_error(response, 400, "INVALID_REQUEST").await;
        let error = body["error"].as_str().expect("error");
        assert!(error.contains(says), "{query}: {error}");
    }
}

#[tokio::test]
async fn rust_tests_wait_the_same_way() {
    let emulator = Emulator::start().await.expect("starts");
    let ctx = Ctx::with(emulator.clone()).await;
    let waiting = emulator.wait_for_events(2, Duration::from_secs(60));
    let sending = async {
        ctx.send_with_files("one", json!({})).await;
        ctx.send_with_files("two", json!({})).await;
    };
    let (events, ()) = tokio::join!(waiting, sending);
    assert_eq!(events.len(), 2);
    let events = emulator.wait_for_events(3, Duration::from_millis(20)).await;
    assert_eq!(events.len(), 2);
}
