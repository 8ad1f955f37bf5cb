//! Scripted faults.

use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use flowflex_emulator::{Emulator, Endpoint, Fault};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{Ctx, assert_error, eventually};

#[tokio::test]
async fn status_with_retry_after_seconds_skips_processing_once() {
    let ctx = Ctx::start().await;
    ctx.emu
        .inject(Fault::on(Endpoint::Events).status(503).retry_after_secs(2));
    let response = ctx.send_event("e", &json!({})).await;
    assert_eq!(
        response.headers().get("retry-after").map(|v| v.as_bytes()),
        Some(&b"2"[..])
    );
    let body = assert_error(response, 503, "SERVICE_UNAVAILABLE").await;
    assert_eq!(
        body,
        json!({"error": "injected", "code": "SERVICE_UNAVAILABLE"})
    );
    assert!(ctx.emu.events().is_empty(), "not processed");

    let next = ctx.send_event("e", &json!({})).await;
    assert_eq!(
        next.status(),
        StatusCode::ACCEPTED,
        "applies once by default"
    );
    assert_eq!(ctx.emu.events().len(), 1);
}

#[tokio::test]
async fn retry_after_can_be_an_http_date() {
    let ctx = Ctx::start().await;
    let at = SystemTime::now() + Duration::from_secs(30);
    ctx.emu.inject(
        Fault::on(Endpoint::UploadUrl)
            .status(429)
            .retry_after_date(at),
    );
    let response = ctx
        .upload_url(json!({"filename": "a.pdf", "mime": "application/pdf"}))
        .await;
    let header = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .expect("retry-after")
        .to_owned();
    let parsed = httpdate::parse_http_date(&header).expect("an HTTP date");
    let drift = parsed.duration_since(at).unwrap_or_else(|e| e.duration());
    assert!(drift < Duration::from_secs(1), "{header}");
    assert_error(response, 429, "TOO_MANY_REQUESTS").await;
    assert!(ctx.emu.assets().is_empty());
}

#[tokio::test]
async fn a_raw_body_and_content_type_replace_the_json() {
    let ctx = Ctx::start().await;
    let html = "<html><body>502 Bad Gateway</body></html>".repeat(1000);
    ctx.emu.inject(
        Fault::on(Endpoint::Events)
            .status(502)
            .body(html.clone())
            .content_type("text/html"),
    );
    ctx.emu
        .inject(Fault::on(Endpoint::Events).status(500).body("oops"));
    let response = ctx.send_event("e", &json!({})).await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(
        response.headers().get("content-type").map(|v| v.as_bytes()),
        Some(&b"text/html"[..])
    );
    assert_eq!(response.text().await.expect("body"), html);
    let response = ctx.send_event("e", &json!({})).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/plain"))
    );
    assert_eq!(response.text().await.expect("body"), "oops");
}

#[tokio::test]
async fn the_json_code_can_be_chosen() {
    let ctx = Ctx::start().await;
    ctx.emu
        .inject(Fault::on(Endpoint::Events).status(429).code("RATE_LIMITED"));
    let response = ctx.send_event("e", &json!({})).await;
    assert_error(response, 429, "RATE_LIMITED").await;
}

#[tokio::test]
async fn times_applies_to_the_next_n_matching_requests_only() {
    let ctx = Ctx::start().await;
    ctx.emu
        .inject(Fault::on(Endpoint::Events).status(500).times(2));
    // Other endpoints are not affected and do not consume the fault.
    let issued = ctx.issue("a.txt", "text/plain", None).await;
    assert_eq!(
        ctx.put(&issued.upload_url, "text/plain", b"x")
            .await
            .status(),
        200
    );
    let statuses = [
        ctx.send_event("e", &json!({})).await.status(),
        ctx.send_event("e", &json!({})).await.status(),
        ctx.send_event("e", &json!({})).await.status(),
    ];
    assert_eq!(statuses, [500, 500, 202]);
    assert_eq!(ctx.emu.events().len(), 1);
}

#[tokio::test]
async fn delay_postpones_normal_handling() {
    let ctx = Ctx::start().await;
    ctx.emu
        .inject(Fault::on(Endpoint::Events).delay(Duration::from_millis(300)));
    let started = Instant::now();
    let response = ctx.send_event("e", &json!({})).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(ctx.emu.events().len(), 1);
}

#[tokio::test]
async fn delay_combines_with_status() {
    let ctx = Ctx::start().await;
    ctx.emu.inject(
        Fault::on(Endpoint::UploadUrl)
            .delay(Duration::from_millis(200))
            .status(503),
    );
    let started = Instant::now();
    let response = ctx
        .upload_url(json!({"filename": "a.pdf", "mime": "application/pdf"}))
        .await;
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_error(response, 503, "SERVICE_UNAVAILABLE").await;
}

#[tokio::test]
async fn drop_connection_answers_nothing_and_processes_nothing() {
    let ctx = Ctx::start().await;
    ctx.emu
        .inject(Fault::on(Endpoint::Events).drop_connection());
    let result = ctx.event_request("e", &json!({})).send().await;
    let err = result.expect_err("no answer");
    assert!(!err.is_timeout(), "{err}");
    assert!(ctx.emu.events().is_empty());
    let request = ctx.emu.requests().pop().expect("recorded");
    assert_eq!(request.endpoint, Endpoint::Events);
    assert_eq!(request.status, None);
}

#[tokio::test]
async fn drop_connection_on_storage_cuts_the_upload_mid_body() {
    let ctx = Ctx::start().await;
    let bytes = vec![7u8; 3 * 1024 * 1024];
    let issued = ctx.issue("v.mp4", "video/mp4", Some(bytes.len())).await;
    ctx.emu
        .inject(Fault::on(Endpoint::Storage).drop_connection());
    let result = ctx
        .http
        .put(&issued.upload_url)
        .header("content-type", "video/mp4")
        .body(bytes.clone())
        .send()
        .await;
    assert!(result.is_err(), "the upload fails");
    let asset = ctx.emu.asset(&issued.asset_id).expect("asset");
    assert!(!asset.uploaded);
    assert_eq!(asset.put_count, 0);
    // The same URL works on retry.
    assert_eq!(
        ctx.put(&issued.upload_url, "video/mp4", &bytes)
            .await
            .status(),
        200
    );
    assert!(ctx.emu.asset(&issued.asset_id).expect("asset").uploaded);
}

#[tokio::test]
async fn drop_after_processing_records_the_event_but_loses_the_answer() {
    let ctx = Ctx::start().await;
    ctx.emu
        .inject(Fault::on(Endpoint::Events).drop_after_processing());
    let send = || {
        ctx.event_request("e", &json!({"n": 1}))
            .header("x-idempotency-key", "lost-answer")
            .send()
    };
    let err = send().await.expect_err("the answer is lost");
    assert!(!err.is_timeout(), "{err}");
    let events = ctx.emu.events();
    assert_eq!(events.len(), 1, "processed all the same");
    assert_eq!(ctx.emu.requests().pop().expect("recorded").status, None);

    // A retry with the same key learns the outcome without a second event.
    let retried = send().await.expect("answer");
    assert_eq!(retried.status(), StatusCode::ACCEPTED);
    assert_eq!(
        retried
            .headers()
            .get("x-idempotent-replay")
            .map(|v| v.as_bytes()),
        Some(&b"true"[..])
    );
    let body: Value = retried.json().await.expect("JSON");
    assert_eq!(body["eventId"], events[0].event_id.as_str());
    assert_eq!(ctx.emu.events().len(), 1);
}

#[tokio::test]
async fn drop_after_processing_on_storage_stores_the_file() {
    let ctx = Ctx::start().await;
    let issued = ctx.issue("a.txt", "text/plain", Some(5)).await;
    ctx.emu
        .inject(Fault::on(Endpoint::Storage).drop_after_processing());
    let result = ctx
        .http
        .put(&issued.upload_url)
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await;
    assert!(result.is_err());
    let asset = ctx.emu.asset(&issued.asset_id).expect("asset");
    assert!(asset.uploaded);
    assert_eq!(asset.put_count, 1);
}

#[tokio::test]
async fn hang_never_answers_until_the_client_gives_up() {
    let ctx = Ctx::start().await;
    ctx.emu.inject(Fault::on(Endpoint::Events).hang());
    let started = Instant::now();
    let err = ctx
        .event_request("e", &json!({}))
        .timeout(Duration::from_millis(300))
        .send()
        .await
        .expect_err("no answer");
    assert!(err.is_timeout(), "{err}");
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(ctx.emu.events().is_empty());
    assert_eq!(ctx.emu.requests().pop().expect("recorded").status, None);
    // The server notices the client leaving and frees the connection.
    eventually("the hung connection to close", || {
        ctx.emu.connections_open() == 0
    })
    .await;
    // And it serves the next request normally.
    assert_eq!(
        ctx.send_event("e", &json!({})).await.status(),
        StatusCode::ACCEPTED
    );
}

#[tokio::test]
async fn hang_after_processing_records_the_event_and_never_answers() {
    let ctx = Ctx::start().await;
    ctx.emu
        .inject(Fault::on(Endpoint::Events).hang_after_processing());
    let send = |timeout| {
        ctx.event_request("e", &json!({"n": 1}))
            .header("x-idempotency-key", "silent")
            .timeout(timeout)
            .send()
    };
    let err = send(Duration::from_millis(300))
        .await
        .expect_err("no answer");
    assert!(err.is_timeout(), "{err}");
    let events = ctx.emu.events();
    assert_eq!(events.len(), 1, "processed before the silence");
    assert_eq!(ctx.emu.requests().pop().expect("recorded").status, None);
    eventually("the hung connection to close", || {
        ctx.emu.connections_open() == 0
    })
    .await;
    // The same key learns the outcome: a replay, not a second event.
    let replay = send(Duration::from_secs(10)).await.expect("answer");
    assert_eq!(replay.status(), StatusCode::ACCEPTED);
    let body: Value = replay.json().await.expect("JSON");
    assert_eq!(body["eventId"], events[0].event_id.as_str());
    assert_eq!(ctx.emu.events().len(), 1);
}

#[tokio::test]
async fn echo_auth_reflects_the_request_credentials() {
    // A quote and a backslash, which a JSON answer must escape.
    let secret = r#"se"cr\et"#;
    let emu = Emulator::builder()
        .api_secret(secret)
        .start()
        .await
        .expect("start");
    let ctx = Ctx::with(emu).await;
    let key = ctx.emu.api_key().to_owned();
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{key}:{secret}"));
    ctx.emu.inject(
        Fault::on(Endpoint::Events)
            .status(401)
            .body("[{authorization}] [{basic_credentials}] [{basic_secret}]")
            .header("x-echo", "{authorization}")
            .echo_auth(),
    );
    ctx.emu.inject(
        Fault::on(Endpoint::UploadUrl)
            .respond_json(
                400,
                json!({"error": "{basic_secret}", "details": {"{authorization}": "{basic_credentials}"}}),
            )
            .echo_auth(),
    );
    ctx.emu.inject(
        Fault::on(Endpoint::Events)
            .body("{authorization}")
            .echo_auth(),
    );
    ctx.emu
        .inject(Fault::on(Endpoint::Events).body("{basic_secret}"));

    let response = ctx.send_event("e", &json!({})).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()["x-echo"].as_bytes(),
        format!("Basic {token}").as_bytes()
    );
    assert_eq!(
        response.text().await.expect("body"),
        format!("[Basic {token}] [{key}:{secret}] [{secret}]")
    );

    let response = ctx
        .upload_url(json!({"filename": "a.pdf", "mime": "application/pdf"}))
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.expect("still JSON");
    assert_eq!(
        body,
        json!({"error": secret, "details": {format!("Basic {token}"): format!("{key}:{secret}")}})
    );

    // No credentials, nothing to echo; and without echo_auth, no echo.
    let response = ctx
        .http
        .post(ctx.url(&format!("/v1/events/{}", ctx.emu.integration_code())))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.text().await.expect("body"), "");
    let response = ctx.send_event("e", &json!({})).await;
    assert_eq!(response.text().await.expect("body"), "{basic_secret}");
    assert!(ctx.emu.events().is_empty(), "nothing processed");
}

#[tokio::test]
async fn shutdown_ends_a_hanging_request() {
    let emu = Emulator::start().await.expect("start");
    let ctx = Ctx::with(emu.clone()).await;
    ctx.emu.inject(Fault::on(Endpoint::Events).hang());
    let pending = tokio::spawn({
        let request = ctx.event_request("e", &json!({}));
        async move { request.send().await }
    });
    eventually("the request to arrive", || !emu.requests().is_empty()).await;
    // A generous deadline: it catches a shutdown stuck on the hang, not a
    // slow machine.
    tokio::time::timeout(Duration::from_secs(60), emu.shutdown())
        .await
        .expect("shutdown is not stuck on the hang");
    let result = pending.await.expect("task");
    assert!(result.is_err(), "the hung request gets no answer");
}

#[tokio::test]
async fn every_nth_request_fails_until_cleared() {
    let ctx = Ctx::start().await;
    ctx.emu
        .inject(Fault::on(Endpoint::Events).status(500).every(3));
    let mut statuses = Vec::new();
    for _ in 0..7 {
        statuses.push(ctx.send_event("e", &json!({})).await.status().as_u16());
    }
    assert_eq!(statuses, [202, 202, 500, 202, 202, 500, 202]);
    ctx.emu.clear_faults();
    for _ in 0..3 {
        assert_eq!(ctx.send_event("e", &json!({})).await.status(), 202);
    }
    assert_eq!(ctx.emu.events().len(), 8);
}

#[tokio::test]
async fn rate_is_deterministic_for_a_seed() {
    async fn pattern(seed: u64) -> Vec<u16> {
        let ctx = Ctx::start().await;
        ctx.emu
            .inject(Fault::on(Endpoint::Events).status(503).rate(0.5).seed(seed));
        let mut statuses = Vec::new();
        for _ in 0..40 {
            statuses.push(ctx.send_event("e", &json!({})).await.status().as_u16());
        }
        statuses
    }
    let first = pattern(11).await;
    assert_eq!(first, pattern(11).await);
    let failed = first.iter().filter(|s| **s == 503).count();
    assert!((5..35).contains(&failed), "{failed} of 40 failed");
    assert!(first.iter().all(|s| *s == 503 || *s == 202));
}

#[tokio::test]
async fn faults_apply_in_injection_order() {
    let ctx = Ctx::start().await;
    ctx.emu.inject(Fault::on(Endpoint::Events).status(500));
    ctx.emu.inject(Fault::on(Endpoint::Events).status(503));
    let statuses = [
        ctx.send_event("e", &json!({})).await.status(),
        ctx.send_event("e", &json!({})).await.status(),
        ctx.send_event("e", &json!({})).await.status(),
    ];
    assert_eq!(statuses, [500, 503, 202]);
}

#[tokio::test]
async fn injected_answers_keep_the_connection_alive() {
    let ctx = Ctx::start().await;
    ctx.emu
        .inject(Fault::on(Endpoint::Events).status(503).times(3));
    for _ in 0..3 {
        assert_eq!(ctx.send_event("e", &json!({"x": 1})).await.status(), 503);
    }
    assert_eq!(ctx.send_event("e", &json!({})).await.status(), 202);
    assert_eq!(ctx.emu.connections_opened(), 1);
}

#[tokio::test]
async fn respond_json_scripts_any_answer_without_processing() {
    let ctx = Ctx::start().await;
    let hostile =
        json!({"assetId": "asset_x", "uploadUrl": "http://example.com/put?token=t", "token": "t"});
    ctx.emu
        .inject(Fault::on(Endpoint::UploadUrl).respond_json(200, hostile.clone()));
    let response = ctx
        .upload_url(json!({"filename": "a.pdf", "mime": "application/pdf"}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "application/json",
        "sent as JSON"
    );
    assert_eq!(response.json::<Value>().await.expect("json"), hostile);
    assert!(ctx.emu.assets().is_empty(), "nothing was processed");
}

#[tokio::test]
async fn redirect_answers_307_with_a_location_and_extra_headers() {
    let ctx = Ctx::start().await;
    let no_follow = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    ctx.emu.inject(
        Fault::on(Endpoint::Events)
            .redirect("http://127.0.0.2:9/elsewhere")
            .header("x-trace", "abc"),
    );
    let response = no_follow
        .post(ctx.url(&format!("/v1/events/{}", ctx.emu.integration_code())))
        .basic_auth(ctx.emu.api_key(), Some(ctx.emu.api_secret()))
        .header("x-event", "e")
        .json(&json!({}))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(
        response.headers()["location"],
        "http://127.0.0.2:9/elsewhere"
    );
    assert_eq!(response.headers()["x-trace"], "abc");
    assert!(ctx.emu.events().is_empty());
}

#[tokio::test]
async fn in_flight_counts_requests_being_handled_now() {
    let ctx = Ctx::start().await;
    ctx.emu.inject(Fault::on(Endpoint::Events).hang());
    assert_eq!(ctx.emu.in_flight(Endpoint::Events), 0);
    let pending = tokio::spawn({
        let request = ctx
            .event_request("e", &json!({}))
            .timeout(Duration::from_millis(400));
        async move { request.send().await }
    });
    eventually("the hanging request to be in flight", || {
        ctx.emu.in_flight(Endpoint::Events) == 1
    })
    .await;
    assert_eq!(ctx.emu.in_flight(Endpoint::Storage), 0);
    assert!(pending.await.expect("task").is_err(), "timed out");
    eventually("the abandoned request to end", || {
        ctx.emu.in_flight(Endpoint::Events) == 0
    })
    .await;
    assert_eq!(ctx.emu.peak_in_flight(Endpoint::Events), 1);
}

#[tokio::test]
async fn peak_connections_open_remembers_the_most_at_once() {
    let ctx = Ctx::start().await;
    ctx.emu.inject(
        Fault::on(Endpoint::Events)
            .delay(Duration::from_millis(200))
            .times(3),
    );
    let payload = json!({});
    let sends = (0..3).map(|_| ctx.send_event("e", &payload));
    for response in futures_util::future::join_all(sends).await {
        assert_eq!(response.status(), StatusCode::ACCEPTED);
    }
    assert_eq!(ctx.emu.peak_connections_open(), 3, "three at once");
    assert_eq!(ctx.emu.connections_opened(), 3);
}
