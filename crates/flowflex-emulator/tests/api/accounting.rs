//! Request recording, connection accounting, unknown routes and lifecycle.

use std::time::Duration;

use flowflex_emulator::{Emulator, Endpoint, Fault};
use reqwest::StatusCode;
use serde_json::json;

use crate::{Ctx, assert_error, eventually};

#[tokio::test]
async fn every_request_is_recorded_in_order_without_secrets() {
    let ctx = Ctx::start().await;
    let issued = ctx.issue("a.txt", "text/plain", Some(2)).await;
    ctx.put(&issued.upload_url, "text/plain", b"hi").await;
    // A rejected one, a faulted one and an unknown route.
    let bad = ctx.put(&issued.upload_url, "image/png", b"hi").await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    ctx.emu
        .inject(Fault::on(Endpoint::Events).drop_connection());
    let _ = ctx.event_request("e", &json!({})).send().await;
    let _ = ctx.event_request("e", &json!({})).send().await;
    let _ = ctx.http.get(ctx.url("/nope?token=abc")).send().await;

    let requests = ctx.emu.requests();
    let summary: Vec<(&str, &str, Endpoint, Option<u16>)> = requests
        .iter()
        .map(|r| (r.method.as_str(), r.path.as_str(), r.endpoint, r.status))
        .collect();
    let storage_path = format!("/storage/{}", issued.asset_id);
    assert_eq!(
        summary,
        [
            (
                "POST",
                "/v1/assets/upload-url",
                Endpoint::UploadUrl,
                Some(200)
            ),
            ("PUT", storage_path.as_str(), Endpoint::Storage, Some(200)),
            ("PUT", storage_path.as_str(), Endpoint::Storage, Some(400)),
            ("POST", "/v1/events/ic_emulator", Endpoint::Events, None),
            (
                "POST",
                "/v1/events/ic_emulator",
                Endpoint::Events,
                Some(202)
            ),
            ("GET", "/nope", Endpoint::Other, Some(404)),
        ]
    );

    let everything = format!("{requests:?}");
    assert!(
        !everything.contains(&issued.token),
        "token leaked: {everything}"
    );
    assert!(!everything.contains(ctx.emu.api_secret()), "secret leaked");
    let first = &requests[0];
    assert_eq!(first.header("authorization"), Some("<redacted>"));
    assert_eq!(first.header("Content-Type"), Some("application/json"));
    assert!(
        first
            .headers
            .iter()
            .all(|(name, _)| *name == name.to_ascii_lowercase())
    );
    assert_eq!(requests[1].header("content-type"), Some("text/plain"));
    assert_eq!(requests[1].content_length, Some(2));
    assert!(!requests[1].chunked);
    assert_eq!(requests[1].header("authorization"), None);
}

#[tokio::test]
async fn clear_requests_starts_over() {
    let ctx = Ctx::start().await;
    ctx.send_event("e", &json!({})).await;
    assert_eq!(ctx.emu.requests().len(), 1);
    ctx.emu.clear_requests();
    assert!(ctx.emu.requests().is_empty());
    ctx.send_event("e", &json!({})).await;
    let requests = ctx.emu.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].status, Some(202));
}

#[tokio::test]
async fn an_answer_after_clear_requests_lands_nowhere() {
    let ctx = Ctx::start().await;
    ctx.emu
        .inject(Fault::on(Endpoint::Events).delay(Duration::from_millis(300)));
    let slow = tokio::spawn(ctx.event_request("slow", &json!({})).send());
    eventually("the slow request to arrive", || {
        !ctx.emu.requests().is_empty()
    })
    .await;
    ctx.emu.clear_requests();
    ctx.http
        .get(ctx.url("/later"))
        .send()
        .await
        .expect("answer");
    assert_eq!(slow.await.expect("task").expect("answer").status(), 202);
    let requests = ctx.emu.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        (requests[0].path.as_str(), requests[0].status),
        ("/later", Some(404))
    );
}

#[tokio::test]
async fn unknown_routes_and_methods_are_json_404s() {
    let ctx = Ctx::start().await;
    let auth = (ctx.emu.api_key(), Some(ctx.emu.api_secret()));
    let attempts = [
        ctx.http.get(ctx.url("/v1")),
        ctx.http
            .get(ctx.url("/v1/assets/upload-url"))
            .basic_auth(auth.0, auth.1),
        ctx.http
            .post(ctx.url("/v1/assets/upload-url/"))
            .basic_auth(auth.0, auth.1),
        ctx.http
            .put(ctx.url("/v1/events/ic_emulator"))
            .basic_auth(auth.0, auth.1),
        ctx.http
            .post(ctx.url("/v1/events/"))
            .basic_auth(auth.0, auth.1),
        ctx.http.get(ctx.url("/storage/asset_x")),
        ctx.http.put(ctx.url("/api/storage/asset_x")),
        ctx.http
            .post(ctx.url("/v2/events/ic_emulator"))
            .basic_auth(auth.0, auth.1),
    ];
    for attempt in attempts {
        let response = attempt.send().await.expect("answer");
        assert_error(response, 404, "NOT_FOUND").await;
    }
    assert!(
        ctx.emu
            .requests()
            .iter()
            .all(|r| r.endpoint == Endpoint::Other)
    );
}

#[tokio::test]
async fn a_pooled_client_reuses_one_connection() {
    let ctx = Ctx::start().await;
    assert_eq!(ctx.emu.connections_opened(), 0);
    let asset_id = ctx.upload("a.txt", "text/plain", b"abc").await;
    ctx.send_event("e", &json!({"file": asset_id})).await;
    ctx.send_event("e", &json!({})).await;
    assert_eq!(ctx.emu.requests().len(), 4);
    assert_eq!(ctx.emu.connections_opened(), 1, "keep-alive");
    assert_eq!(ctx.emu.connections_open(), 1);

    let second = reqwest::Client::new();
    second.get(ctx.url("/x")).send().await.expect("answer");
    assert_eq!(ctx.emu.connections_opened(), 2);
    drop(second);
    drop(ctx.http);
    eventually("both connections to close", || {
        ctx.emu.connections_open() == 0
    })
    .await;
    assert_eq!(ctx.emu.connections_opened(), 2);
}

#[tokio::test]
async fn a_client_without_pooling_opens_one_connection_per_request() {
    let ctx = Ctx::start().await;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client");
    for _ in 0..3 {
        client.get(ctx.url("/x")).send().await.expect("answer");
    }
    assert_eq!(ctx.emu.connections_opened(), 3);
    eventually("connections to close", || ctx.emu.connections_open() == 0).await;
}

#[tokio::test]
async fn shutdown_stops_serving() {
    let emu = Emulator::start().await.expect("start");
    let addr = emu.addr();
    let inspector = emu.clone();
    tokio::net::TcpStream::connect(addr)
        .await
        .expect("listening");
    emu.shutdown().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    // Other handles still answer questions.
    assert!(inspector.events().is_empty());
}

#[tokio::test]
async fn dropping_the_last_handle_stops_the_server() {
    let emu = Emulator::start().await.expect("start");
    let addr = emu.addr();
    let clone = emu.clone();
    drop(emu);
    tokio::net::TcpStream::connect(addr)
        .await
        .expect("a clone keeps it up");
    drop(clone);
    // Polls until the listener is gone; 60 s catches a listener that stays.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while tokio::net::TcpStream::connect(addr).await.is_ok() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "still listening after the last handle dropped"
        );
        // Not a wait for the condition: the pause between two looks at it.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn base_url_and_credentials() {
    let emu = Emulator::start().await.expect("start");
    assert_eq!(
        emu.base_url(),
        format!("http://127.0.0.1:{}", emu.addr().port())
    );
    assert!(!emu.base_url().ends_with('/'));
    assert_eq!(emu.api_key(), "cik_emulator");
    assert_eq!(emu.api_secret(), "emulator-secret");
    assert_eq!(emu.integration_code(), "ic_emulator");
    let invalid = Emulator::builder().api_key("a:b").start().await;
    assert_eq!(
        invalid.map(|_| ()).map_err(|e| e.kind()),
        Err(std::io::ErrorKind::InvalidInput)
    );
}
