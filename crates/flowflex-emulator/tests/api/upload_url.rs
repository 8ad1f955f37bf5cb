//! `POST /v1/assets/upload-url`.

use flowflex_emulator::{ALLOWED_MIME_TYPES, DEFAULT_MAX_FILE_BYTES, Emulator};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{Ctx, assert_error};

#[tokio::test]
async fn issues_an_asset_and_a_presigned_url() {
    let ctx = Ctx::start().await;
    let response = ctx
        .upload_url(json!({"filename": "invoice.pdf", "mime": "application/pdf", "size": 42}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("JSON");
    let asset_id = body["assetId"].as_str().expect("assetId");
    let suffix = asset_id.strip_prefix("asset_").expect("asset_ prefix");
    assert_eq!(suffix.len(), 24);
    assert!(suffix.chars().all(|c| c.is_ascii_alphanumeric()));
    let token = body["token"].as_str().expect("token");
    assert!(!token.is_empty());
    assert_eq!(
        body["uploadUrl"],
        format!("{}/storage/{asset_id}?token={token}", ctx.emu.base_url())
    );

    let asset = ctx.emu.asset(asset_id).expect("asset recorded");
    assert_eq!(asset.filename, "invoice.pdf");
    assert_eq!(asset.mime, "application/pdf");
    assert_eq!(asset.declared_size, Some(42));
    assert!(!asset.uploaded);
    assert_eq!(asset.put_count, 0);
    assert_eq!(ctx.emu.assets(), vec![asset]);
}

#[tokio::test]
async fn ids_and_tokens_differ_between_assets() {
    let ctx = Ctx::start().await;
    let a = ctx.issue("a.txt", "text/plain", None).await;
    let b = ctx.issue("a.txt", "text/plain", None).await;
    assert_ne!(a.asset_id, b.asset_id);
    assert_ne!(a.token, b.token);
    let ids: Vec<String> = ctx.emu.assets().into_iter().map(|a| a.asset_id).collect();
    assert_eq!(ids, [a.asset_id, b.asset_id], "creation order");
}

#[tokio::test]
async fn size_is_optional() {
    let ctx = Ctx::start().await;
    let issued = ctx.issue("photo.png", "image/png", None).await;
    let asset = ctx.emu.asset(&issued.asset_id).expect("asset");
    assert_eq!(asset.declared_size, None);
}

#[tokio::test]
async fn rejects_missing_or_wrong_credentials() {
    let ctx = Ctx::start().await;
    let body = json!({"filename": "a.pdf", "mime": "application/pdf"});
    let url = ctx.url("/v1/assets/upload-url");
    let key = ctx.emu.api_key();
    let attempts = [
        ctx.http.post(&url).json(&body),
        ctx.http
            .post(&url)
            .basic_auth(key, Some("wrong"))
            .json(&body),
        ctx.http
            .post(&url)
            .basic_auth("cik_other", Some(ctx.emu.api_secret()))
            .json(&body),
        ctx.http
            .post(&url)
            .basic_auth(key, None::<&str>)
            .json(&body),
        ctx.http
            .post(&url)
            .bearer_auth(ctx.emu.api_secret())
            .json(&body),
        ctx.http
            .post(&url)
            .header("authorization", "Basic not-base64!")
            .json(&body),
    ];
    for attempt in attempts {
        let response = attempt.send().await.expect("answer");
        assert_eq!(
            response
                .headers()
                .get("www-authenticate")
                .map(|v| v.as_bytes()),
            Some(&b"Basic"[..])
        );
        assert_error(response, 401, "UNAUTHORIZED").await;
    }
    assert!(ctx.emu.assets().is_empty());
}

#[tokio::test]
async fn checks_auth_before_the_body() {
    let ctx = Ctx::start().await;
    let response = ctx
        .http
        .post(ctx.url("/v1/assets/upload-url"))
        .body("not json")
        .send()
        .await
        .expect("answer");
    assert_error(response, 401, "UNAUTHORIZED").await;
}

#[tokio::test]
async fn custom_credentials_are_enforced() {
    let emu = Emulator::builder()
        .api_key("cik_custom")
        .api_secret("pa:ss")
        .start()
        .await
        .expect("start");
    let ctx = Ctx::with(emu).await;
    let response = ctx
        .http
        .post(ctx.url("/v1/assets/upload-url"))
        .basic_auth("cik_custom", Some("pa:ss"))
        .json(&json!({"filename": "a.pdf", "mime": "application/pdf"}))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), StatusCode::OK);
    let response = ctx
        .http
        .post(ctx.url("/v1/assets/upload-url"))
        .basic_auth("cik_emulator", Some("emulator-secret"))
        .json(&json!({"filename": "a.pdf", "mime": "application/pdf"}))
        .send()
        .await
        .expect("answer");
    assert_error(response, 401, "UNAUTHORIZED").await;
}

#[tokio::test]
async fn rejects_invalid_bodies() {
    let ctx = Ctx::start().await;
    let cases = [
        json!({"mime": "application/pdf"}),
        json!({"filename": "a.pdf"}),
        json!({"filename": "", "mime": "application/pdf"}),
        json!({"filename": 7, "mime": "application/pdf"}),
        json!({"filename": "a.pdf", "mime": ""}),
        json!({"filename": "dir/a.pdf", "mime": "application/pdf"}),
        json!({"filename": "a\r\nb.pdf", "mime": "application/pdf"}),
        json!({"filename": "a\u{0}.pdf", "mime": "application/pdf"}),
        json!({"filename": "a.pdf", "mime": "application/pdf", "size": -1}),
        json!({"filename": "a.pdf", "mime": "application/pdf", "size": 1.5}),
        json!({"filename": "a.pdf", "mime": "application/pdf", "size": "10"}),
        json!(["a.pdf", "application/pdf"]),
    ];
    for case in cases {
        let response = ctx.upload_url(case.clone()).await;
        let body = assert_error(response, 400, "INVALID_REQUEST").await;
        assert!(body.get("assetId").is_none(), "{case}: {body}");
    }
    assert!(ctx.emu.assets().is_empty());
}

#[tokio::test]
async fn rejects_a_body_that_is_not_json() {
    let ctx = Ctx::start().await;
    let request = |body: &'static str, content_type: &'static str| {
        ctx.http
            .post(ctx.url("/v1/assets/upload-url"))
            .basic_auth(ctx.emu.api_key(), Some(ctx.emu.api_secret()))
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let not_json = request("{filename: a.pdf", "application/json")
        .await
        .expect("answer");
    assert_error(not_json, 400, "INVALID_REQUEST").await;
    // JSON sent without a JSON content type is what a form parser would drop.
    let untyped = request(
        r#"{"filename": "a.pdf", "mime": "application/pdf"}"#,
        "text/plain",
    )
    .await
    .expect("answer");
    assert_error(untyped, 400, "INVALID_REQUEST").await;
}

#[tokio::test]
async fn accepts_exactly_the_sixteen_mime_types() {
    let ctx = Ctx::start().await;
    assert_eq!(ALLOWED_MIME_TYPES.len(), 16);
    for mime in ALLOWED_MIME_TYPES {
        let response = ctx.upload_url(json!({"filename": "f", "mime": mime})).await;
        assert_eq!(response.status(), StatusCode::OK, "{mime}");
    }
    for mime in [
        "image/gif",
        "application/octet-stream",
        "application/PDF",
        "text/plain; charset=utf-8",
        "application/json",
    ] {
        let response = ctx.upload_url(json!({"filename": "f", "mime": mime})).await;
        assert_error(response, 400, "MIME_NOT_ALLOWED").await;
    }
}

#[tokio::test]
async fn size_over_the_limit_is_too_large() {
    let ctx = Ctx::start().await;
    let at_limit = ctx
        .upload_url(
            json!({"filename": "v.mp4", "mime": "video/mp4", "size": DEFAULT_MAX_FILE_BYTES}),
        )
        .await;
    assert_eq!(at_limit.status(), StatusCode::OK);
    let over = ctx
        .upload_url(
            json!({"filename": "v.mp4", "mime": "video/mp4", "size": DEFAULT_MAX_FILE_BYTES + 1}),
        )
        .await;
    assert_error(over, 413, "FILE_TOO_LARGE").await;
    assert_eq!(ctx.emu.assets().len(), 1);
}

#[tokio::test]
async fn the_limit_is_configurable() {
    let emu = Emulator::builder()
        .max_file_bytes(10)
        .start()
        .await
        .expect("start");
    let ctx = Ctx::with(emu).await;
    assert_eq!(ctx.emu.max_file_bytes(), 10);
    let ok = ctx
        .upload_url(json!({"filename": "a.txt", "mime": "text/plain", "size": 10}))
        .await;
    assert_eq!(ok.status(), StatusCode::OK);
    let over = ctx
        .upload_url(json!({"filename": "a.txt", "mime": "text/plain", "size": 11}))
        .await;
    assert_error(over, 413, "FILE_TOO_LARGE").await;
}

#[tokio::test]
async fn is_served_under_the_api_prefix_too() {
    let ctx = Ctx::start().await;
    let response = ctx
        .http
        .post(ctx.url("/api/v1/assets/upload-url"))
        .basic_auth(ctx.emu.api_key(), Some(ctx.emu.api_secret()))
        .json(&json!({"filename": "a.pdf", "mime": "application/pdf"}))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("JSON");
    let url = body["uploadUrl"].as_str().expect("uploadUrl");
    assert!(
        url.starts_with(&format!("{}/storage/asset_", ctx.emu.base_url())),
        "storage is not under /api: {url}"
    );
}
