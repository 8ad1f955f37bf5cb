use std::net::{IpAddr, Ipv4Addr};

use flowflex_emulator::{Emulator, Endpoint, Fault};
use reqwest::StatusCode;
use serde_json::json;

use crate::{Ctx, assert_error};

/// Every path of the inspector and the control API, with a method.
const PATHS: [(&str, &str); 8] = [
    ("GET", "/"),
    ("GET", "/_emulator/events"),
    ("GET", "/_emulator/assets"),
    ("GET", "/_emulator/faults"),
    ("GET", "/_emulator/clock"),
    ("POST", "/_emulator/reset"),
    ("GET", "/_emulator/inspector/app.js"),
    ("GET", "/_emulator/inspector/stream"),
];

/// An emulator on 0.0.0.0 (not a loopback bind), reached over loopback.
async fn unspecified(inspector: bool) -> Ctx {
    let emulator = Emulator::builder()
        .host(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
        .inspector(inspector)
        .start()
        .await
        .expect("starts");
    let mut ctx = Ctx::with(emulator).await;
    ctx.base = Some(format!("http://127.0.0.1:{}", ctx.emu.addr().port()));
    ctx
}

#[tokio::test]
async fn off_loopback_the_inspector_answers_only_when_asked() {
    let ctx = unspecified(false).await;
    assert_eq!(ctx.emu.inspector_url(), None);
    assert!(!ctx.emu.announcement().contains("Inspector"));
    for (method, path) in PATHS {
        let request = ctx
            .http
            .request(method.parse().expect("method"), ctx.url(path));
        let response = request.send().await.expect("answer");
        let body = assert_error(response, 403, "INSPECTOR_OFF").await;
        assert!(
            body["error"]
                .as_str()
                .is_some_and(|e| e.contains("--inspector")),
            "{body}"
        );
    }
    // FlowFlex's own endpoints are served as ever.
    let response = ctx.send_event("order.placed", &json!({})).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(ctx.emu.events().len(), 1, "and nothing was reset");

    let ctx = unspecified(true).await;
    let url = ctx.emu.inspector_url().expect("served");
    assert!(
        url.starts_with("http://0.0.0.0:") && url.ends_with('/'),
        "{url}"
    );
    let page = ctx.get("/").await;
    assert_eq!(page.status(), StatusCode::OK);
    let (status, _) = ctx.get_json("/_emulator/events").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn on_loopback_it_answers_and_says_where() {
    let ctx = Ctx::start().await;
    let url = ctx.emu.inspector_url().expect("served on loopback");
    assert_eq!(url, format!("{}/", ctx.emu.base_url()));
    assert!(ctx.emu.announcement().ends_with(&format!(
        "Inspector: {url} (events and files as they arrive; control API under {url}_emulator/)\n"
    )));
    for (method, path) in PATHS {
        if path.ends_with("/stream") {
            continue; // Never ends: inspector/stream.rs reads it.
        }
        let request = ctx
            .http
            .request(method.parse().expect("method"), ctx.url(path));
        let response = request.send().await.expect("answer");
        assert!(
            response.status().is_success(),
            "{method} {path}: {}",
            response.status()
        );
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["cache-control"], "no-store", "{path}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
    }
}

#[tokio::test]
async fn another_host_name_or_origin_is_refused() {
    let ctx = Ctx::start().await;
    // A DNS rebinding attack: the browser sends the attacker's name.
    let response = ctx
        .http
        .get(ctx.url("/_emulator/events"))
        .header("host", "evil.example")
        .send()
        .await
        .expect("answer");
    assert_error(response, 403, "HOST_NOT_ALLOWED").await;
    let response = ctx
        .http
        .get(ctx.url("/"))
        .header("host", format!("localhost:{}", ctx.emu.addr().port()))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), StatusCode::OK);

    // A page elsewhere posting through the user's browser.
    ctx.send_with_files("kept", json!({})).await;
    let response = ctx
        .http
        .post(ctx.url("/_emulator/reset"))
        .header("origin", "http://evil.example")
        .send()
        .await
        .expect("answer");
    assert_error(response, 403, "CROSS_ORIGIN").await;
    let response = ctx
        .http
        .delete(ctx.url("/_emulator/faults"))
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .expect("answer");
    assert_error(response, 403, "CROSS_ORIGIN").await;
    assert_eq!(ctx.emu.events().len(), 1, "nothing was reset");
    // Its own page may.
    let response = ctx
        .http
        .post(ctx.url("/_emulator/reset"))
        .header("origin", ctx.emu.base_url())
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn looking_is_neither_recorded_nor_faulted() {
    let ctx = Ctx::start().await;
    ctx.emu
        .inject(Fault::on(Endpoint::Other).status(500).every(1));
    for path in ["/", "/_emulator/events", "/_emulator/assets"] {
        let response = ctx.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
    assert!(ctx.emu.requests().is_empty(), "{:?}", ctx.emu.requests());
    // An API path still is.
    let response = ctx.get("/v1/nothing").await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(ctx.emu.requests().len(), 1);
}
