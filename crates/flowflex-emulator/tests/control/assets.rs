use std::time::{Duration, SystemTime};

use flowflex_emulator::{ASSET_TTL, Emulator};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{Ctx, PDF, PNG, assert_error};

fn time(value: &Value) -> SystemTime {
    humantime::parse_rfc3339(value.as_str().expect("a time")).expect("RFC 3339")
}

#[tokio::test]
async fn assets_show_each_field_before_and_after_upload() {
    let ctx = Ctx::start().await;
    let issued = ctx.issue("label.png", "image/png", Some(PNG.len())).await;
    let (status, body) = ctx.get_json("/_emulator/assets").await;
    assert_eq!(status, StatusCode::OK);
    let listed = &body["assets"][0];
    assert_eq!(listed["asset_id"], issued.asset_id.as_str());
    assert_eq!(listed["filename"], "label.png");
    assert_eq!(listed["mime"], "image/png");
    assert_eq!(listed["uploaded"], false);
    assert_eq!(listed["size"], Value::Null);
    assert_eq!(listed["sha256"], Value::Null);
    assert_eq!(listed["expires_at"], Value::Null);
    let created = time(&listed["created_at"]);
    assert!(created <= SystemTime::now());

    let response = ctx.put(&issued.upload_url, "image/png", PNG).await;
    assert_eq!(response.status(), StatusCode::OK);
    let (status, asset) = ctx
        .get_json(&format!("/_emulator/assets/{}", issued.asset_id))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(asset["uploaded"], true);
    assert_eq!(asset["size"], PNG.len());
    assert_eq!(asset["sha256"], hex::encode(Sha256::digest(PNG)));
    assert_eq!(time(&asset["created_at"]), created);
    let expires = time(&asset["expires_at"]);
    let ttl = expires.duration_since(created).expect("after creation");
    assert!(
        ttl >= ASSET_TTL && ttl < ASSET_TTL + Duration::from_secs(60),
        "expires {ttl:?} after creation"
    );
    let fields: Vec<&String> = asset.as_object().expect("object").keys().collect();
    assert_eq!(
        fields,
        [
            "asset_id",
            "created_at",
            "expires_at",
            "filename",
            "mime",
            "sha256",
            "size",
            "uploaded"
        ]
    );

    // In creation order.
    let second = ctx.upload("invoice.pdf", "application/pdf", PDF).await;
    let (_, body) = ctx.get_json("/_emulator/assets").await;
    let ids: Vec<&Value> = body["assets"]
        .as_array()
        .expect("assets")
        .iter()
        .map(|a| &a["asset_id"])
        .collect();
    assert_eq!(ids, [&json!(issued.asset_id), &json!(second)]);

    let missing = ctx.get("/_emulator/assets/asset_nope").await;
    assert_error(missing, 404, "ASSET_NOT_FOUND").await;
}

#[tokio::test]
async fn content_is_the_bytes_with_their_type_never_sniffed() {
    let ctx = Ctx::start().await;
    let png = ctx.upload("label.png", "image/png", PNG).await;
    let response = ctx.get(&format!("/_emulator/assets/{png}/content")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(header("content-type"), "image/png");
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert_eq!(
        header("content-disposition"),
        "inline; filename=\"label.png\"; filename*=UTF-8''label%2Epng"
    );
    assert!(header("content-security-policy").contains("sandbox"));
    assert_eq!(response.bytes().await.expect("bytes").as_ref(), PNG);

    // Text that looks like a page is still text, shown in a sandbox.
    let page = b"<html><script>alert(1)</script></html>";
    let text = ctx.upload("notes \"1\".txt", "text/plain", page).await;
    let response = ctx.get(&format!("/_emulator/assets/{text}/content")).await;
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "text/plain");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(
        headers["content-security-policy"]
            .to_str()
            .expect("ascii")
            .contains("sandbox")
    );
    assert_eq!(
        headers["content-disposition"],
        "inline; filename=\"notes _1_.txt\"; filename*=UTF-8''notes%20%221%22%2Etxt"
    );
    assert_eq!(response.bytes().await.expect("bytes").as_ref(), page);

    // A type a browser would not preview is always a download, and
    // ?download=1 makes any file one.
    let doc = ctx
        .upload(
            "terms.doc",
            "application/msword",
            b"\xd0\xcf\x11\xe0 not really",
        )
        .await;
    for path in [
        format!("/_emulator/assets/{doc}/content"),
        format!("/_emulator/assets/{png}/content?download=1"),
    ] {
        let response = ctx.get(&path).await;
        let disposition = response.headers()["content-disposition"]
            .to_str()
            .expect("ascii")
            .to_owned();
        assert!(
            disposition.starts_with("attachment; "),
            "{path}: {disposition}"
        );
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    }
}

#[tokio::test]
async fn content_that_is_not_there_says_why() {
    let ctx = Ctx::start().await;
    let issued = ctx.issue("later.pdf", "application/pdf", None).await;
    let response = ctx
        .get(&format!("/_emulator/assets/{}/content", issued.asset_id))
        .await;
    assert_error(response, 409, "ASSET_NOT_UPLOADED").await;
    let response = ctx.get("/_emulator/assets/asset_nope/content").await;
    assert_error(response, 404, "ASSET_NOT_FOUND").await;
    let response = ctx
        .http
        .get(ctx.url(&format!(
            "/_emulator/assets/{}/content?inline=1",
            issued.asset_id
        )))
        .send()
        .await
        .expect("answer");
    assert_error(response, 400, "INVALID_REQUEST").await;

    let lean = Ctx::with(
        Emulator::builder()
            .retain_bytes(false)
            .start()
            .await
            .expect("starts"),
    )
    .await;
    let id = lean.upload("a.pdf", "application/pdf", PDF).await;
    let response = lean.get(&format!("/_emulator/assets/{id}/content")).await;
    assert_error(response, 410, "ASSET_BYTES_NOT_KEPT").await;
}
