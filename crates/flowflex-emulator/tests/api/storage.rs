//! `PUT /storage/{assetId}?token=...`.

use std::time::Duration;

use bytes::Bytes;
use flowflex_emulator::{Emulator, Endpoint, UPLOAD_TOKEN_TTL};
use futures_util::stream;
use reqwest::StatusCode;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::{Ctx, assert_error};

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[tokio::test]
async fn stores_the_bytes_and_answers_an_etag() {
    let ctx = Ctx::start().await;
    let bytes = b"%PDF-1.7 hello".to_vec();
    let issued = ctx
        .issue("a.pdf", "application/pdf", Some(bytes.len()))
        .await;
    let response = ctx.put(&issued.upload_url, "application/pdf", &bytes).await;
    assert_eq!(response.status(), StatusCode::OK);
    let etag = response.headers().get("etag").cloned();
    assert_eq!(response.bytes().await.expect("body"), Bytes::new());
    assert_eq!(
        etag.as_ref().and_then(|v| v.to_str().ok()),
        Some(format!("\"{}\"", sha256_hex(&bytes)).as_str())
    );

    let asset = ctx.emu.asset(&issued.asset_id).expect("asset");
    assert!(asset.uploaded);
    assert_eq!(asset.bytes, Bytes::from(bytes.clone()));
    assert_eq!(asset.size, bytes.len() as u64);
    assert_eq!(asset.sha256, sha256_hex(&bytes));
    assert_eq!(asset.put_count, 1);
}

#[tokio::test]
async fn a_second_put_overwrites() {
    let ctx = Ctx::start().await;
    let issued = ctx.issue("a.txt", "text/plain", None).await;
    assert_eq!(
        ctx.put(&issued.upload_url, "text/plain", b"first")
            .await
            .status(),
        200
    );
    assert_eq!(
        ctx.put(&issued.upload_url, "text/plain", b"second!")
            .await
            .status(),
        200
    );
    let asset = ctx.emu.asset(&issued.asset_id).expect("asset");
    assert_eq!(asset.bytes, Bytes::from_static(b"second!"));
    assert_eq!(asset.put_count, 2);
}

#[tokio::test]
async fn an_empty_file_is_valid() {
    let ctx = Ctx::start().await;
    let issued = ctx.issue("empty.txt", "text/plain", Some(0)).await;
    let response = ctx
        .http
        .put(&issued.upload_url)
        .header("content-type", "text/plain")
        .header("content-length", "0")
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), StatusCode::OK);
    let asset = ctx.emu.asset(&issued.asset_id).expect("asset");
    assert!(asset.uploaded);
    assert_eq!(asset.size, 0);
    assert_eq!(asset.sha256, sha256_hex(b""));
    let put = ctx.emu.requests().into_iter().last().expect("request");
    assert_eq!(put.content_length, Some(0));
}

/// Sends a `PUT` to a presigned URL over a bare socket, with `head_lines`
/// (each ending in CRLF) and `body`, stops writing if `stop_writing`, and
/// returns everything the server wrote until it closed the connection.
async fn raw_put(
    ctx: &Ctx,
    upload_url: &str,
    head_lines: &str,
    body: &[u8],
    stop_writing: bool,
) -> String {
    let path_and_query = upload_url
        .strip_prefix(&ctx.emu.base_url())
        .expect("same base");
    let mut socket = TcpStream::connect(ctx.emu.addr()).await.expect("connect");
    let head = format!(
        "PUT {path_and_query} HTTP/1.1\r\nhost: {}\r\ncontent-type: text/plain\r\n{head_lines}\r\n",
        ctx.emu.addr()
    );
    socket.write_all(head.as_bytes()).await.expect("write head");
    socket.write_all(body).await.expect("write body");
    if stop_writing {
        socket.shutdown().await.expect("half-close");
    }
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), socket.read_to_end(&mut answer))
        .await
        .expect("the server closes the connection")
        .expect("read");
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn an_empty_body_without_content_length_needs_a_length() {
    // HTTP/1.1 allows leaving out `Content-Length: 0`; object stores insist on it.
    let ctx = Ctx::start().await;
    let issued = ctx.issue("empty.txt", "text/plain", Some(0)).await;
    let answer = raw_put(
        &ctx,
        &issued.upload_url,
        "connection: close\r\n",
        b"",
        false,
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 411 "), "{answer}");
    assert!(answer.contains(r#""code":"LENGTH_REQUIRED""#), "{answer}");
    assert!(!ctx.emu.asset(&issued.asset_id).expect("asset").uploaded);
}

#[tokio::test]
async fn a_multi_megabyte_file_arrives_intact() {
    let ctx = Ctx::start().await;
    let bytes: Vec<u8> = (0..5 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let asset_id = ctx.upload("video.mp4", "video/mp4", &bytes).await;
    let asset = ctx.emu.asset(&asset_id).expect("asset");
    assert_eq!(asset.sha256, sha256_hex(&bytes));
    assert_eq!(asset.size, bytes.len() as u64);
}

#[tokio::test]
async fn a_wrong_or_missing_token_or_unknown_asset_does_not_match() {
    let ctx = Ctx::start().await;
    let issued = ctx.issue("a.txt", "text/plain", None).await;
    let base = ctx.emu.base_url();
    let other = ctx.issue("b.txt", "text/plain", None).await;
    let urls = [
        format!("{base}/storage/{}?token=wrong", issued.asset_id),
        format!("{base}/storage/{}", issued.asset_id),
        format!("{base}/storage/{}?token=", issued.asset_id),
        format!("{base}/storage/asset_doesnotexist?token={}", issued.token),
        // Another asset's valid token.
        format!("{base}/storage/{}?token={}", issued.asset_id, other.token),
    ];
    for url in urls {
        let response = ctx.put(&url, "text/plain", b"x").await;
        assert_error(response, 403, "SIGNATURE_DOES_NOT_MATCH").await;
    }
    assert!(!ctx.emu.asset(&issued.asset_id).expect("asset").uploaded);
}

#[tokio::test]
async fn the_token_expires_after_two_hours() {
    let ctx = Ctx::start().await;
    let early = ctx.issue("a.txt", "text/plain", None).await;
    let late = ctx.issue("b.txt", "text/plain", None).await;
    ctx.emu
        .advance_clock(UPLOAD_TOKEN_TTL - Duration::from_secs(60));
    assert_eq!(
        ctx.put(&early.upload_url, "text/plain", b"in time")
            .await
            .status(),
        200
    );
    ctx.emu.advance_clock(Duration::from_secs(61));
    let response = ctx.put(&late.upload_url, "text/plain", b"too late").await;
    assert_error(response, 403, "REQUEST_EXPIRED").await;
    assert!(!ctx.emu.asset(&late.asset_id).expect("asset").uploaded);
    // A fresh URL works again.
    let fresh = ctx.issue("b.txt", "text/plain", None).await;
    assert_eq!(
        ctx.put(&fresh.upload_url, "text/plain", b"ok")
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn expiry_is_two_hours_and_one_second_later() {
    let ctx = Ctx::start().await;
    let issued = ctx.issue("a.txt", "text/plain", None).await;
    ctx.emu.advance_clock(Duration::from_secs(2 * 3600 + 1));
    let response = ctx.put(&issued.upload_url, "text/plain", b"x").await;
    assert_error(response, 403, "REQUEST_EXPIRED").await;
}

#[tokio::test]
async fn an_authorization_header_is_refused() {
    let ctx = Ctx::start().await;
    let issued = ctx.issue("a.txt", "text/plain", Some(1)).await;
    let response = ctx
        .http
        .put(&issued.upload_url)
        .basic_auth(ctx.emu.api_key(), Some(ctx.emu.api_secret()))
        .header("content-type", "text/plain")
        .body("x")
        .send()
        .await
        .expect("answer");
    assert_error(response, 400, "AUTHORIZATION_NOT_ALLOWED").await;
    assert!(!ctx.emu.asset(&issued.asset_id).expect("asset").uploaded);
}

#[tokio::test]
async fn a_chunked_upload_needs_a_length() {
    let ctx = Ctx::start().await;
    let issued = ctx.issue("a.txt", "text/plain", None).await;
    let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
        Ok(Bytes::from_static(b"hello ")),
        Ok(Bytes::from_static(b"world")),
    ];
    let response = ctx
        .http
        .put(&issued.upload_url)
        .header("content-type", "text/plain")
        .body(reqwest::Body::wrap_stream(stream::iter(chunks)))
        .send()
        .await
        .expect("answer");
    assert_error(response, 411, "LENGTH_REQUIRED").await;
    assert!(!ctx.emu.asset(&issued.asset_id).expect("asset").uploaded);
    let put = ctx
        .emu
        .requests()
        .into_iter()
        .find(|r| r.endpoint == Endpoint::Storage)
        .expect("recorded");
    assert!(put.chunked);
    assert_eq!(put.content_length, None);
    assert_eq!(put.status, Some(411));
}

#[tokio::test]
async fn the_length_must_match_the_declared_size() {
    let ctx = Ctx::start().await;
    let issued = ctx.issue("a.txt", "text/plain", Some(5)).await;
    for body in [&b"four"[..], &b"sixsix"[..]] {
        let response = ctx.put(&issued.upload_url, "text/plain", body).await;
        assert_error(response, 400, "SIZE_MISMATCH").await;
    }
    assert!(!ctx.emu.asset(&issued.asset_id).expect("asset").uploaded);
    assert_eq!(
        ctx.put(&issued.upload_url, "text/plain", b"five!")
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn an_undeclared_size_is_still_capped() {
    let emu = Emulator::builder()
        .max_file_bytes(8)
        .start()
        .await
        .expect("start");
    let ctx = Ctx::with(emu).await;
    let issued = ctx.issue("a.txt", "text/plain", None).await;
    let response = ctx
        .put(&issued.upload_url, "text/plain", b"123456789")
        .await;
    assert_error(response, 413, "FILE_TOO_LARGE").await;
    assert!(!ctx.emu.asset(&issued.asset_id).expect("asset").uploaded);
    assert_eq!(
        ctx.put(&issued.upload_url, "text/plain", b"12345678")
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn the_content_type_must_match_the_declared_mime() {
    let ctx = Ctx::start().await;
    let issued = ctx.issue("a.txt", "text/plain", None).await;
    let response = ctx.put(&issued.upload_url, "application/pdf", b"x").await;
    assert_error(response, 400, "CONTENT_TYPE_MISMATCH").await;
    let missing = ctx
        .http
        .put(&issued.upload_url)
        .body("x")
        .send()
        .await
        .expect("answer");
    assert_error(missing, 400, "CONTENT_TYPE_MISMATCH").await;
    assert!(!ctx.emu.asset(&issued.asset_id).expect("asset").uploaded);
    // Parameters and case do not matter: only the essence is compared.
    for content_type in ["text/plain; charset=utf-8", "TEXT/Plain"] {
        let response = ctx.put(&issued.upload_url, content_type, b"x").await;
        assert_eq!(response.status(), StatusCode::OK, "{content_type}");
    }
}

#[tokio::test]
async fn a_body_cut_short_is_not_stored() {
    let ctx = Ctx::start().await;
    let issued = ctx.issue("a.txt", "text/plain", Some(100)).await;
    let answer = raw_put(
        &ctx,
        &issued.upload_url,
        "content-length: 100\r\n",
        &[b'x'; 40],
        true,
    )
    .await;
    assert!(
        answer.is_empty(),
        "no answer to a cut-off upload: {answer:?}"
    );

    let asset = ctx.emu.asset(&issued.asset_id).expect("asset");
    assert!(!asset.uploaded);
    assert_eq!(asset.put_count, 0);
    let put = ctx
        .emu
        .requests()
        .into_iter()
        .find(|r| r.endpoint == Endpoint::Storage)
        .expect("recorded");
    assert_eq!(put.status, None);
    assert_eq!(put.content_length, Some(100));
}

#[tokio::test]
async fn without_retained_bytes_only_size_and_hash_are_kept() {
    let emu = Emulator::builder()
        .retain_bytes(false)
        .start()
        .await
        .expect("start");
    let ctx = Ctx::with(emu).await;
    let bytes = b"%PDF-1.7 not kept".to_vec();
    let issued = ctx
        .issue("a.pdf", "application/pdf", Some(bytes.len()))
        .await;
    let response = ctx.put(&issued.upload_url, "application/pdf", &bytes).await;
    assert_eq!(response.status(), StatusCode::OK);
    let asset = ctx.emu.asset(&issued.asset_id).expect("asset");
    assert!(asset.uploaded);
    assert!(asset.bytes.is_empty(), "bytes not kept");
    assert_eq!(asset.size, bytes.len() as u64);
    assert_eq!(asset.sha256, sha256_hex(&bytes));
}
