//! `GET /_emulator/assets`, `GET /_emulator/assets/{asset_id}` and its
//! `/content`: the files, as stored.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::model::StoredAsset;
use crate::state::Shared;

/// How a browser may show a file inline. Only types a browser does not run
/// as a page are previewed; the rest (Office documents) are downloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Preview {
    Image,
    Video,
    Audio,
    Pdf,
    Text,
    /// Download only.
    None,
}

impl Preview {
    pub(crate) fn of(mime: &str) -> Preview {
        match mime {
            "image/png" | "image/jpeg" => Preview::Image,
            "video/mp4" | "video/3gpp" => Preview::Video,
            "audio/aac" | "audio/amr" | "audio/mpeg" | "audio/ogg" => Preview::Audio,
            "application/pdf" => Preview::Pdf,
            "text/plain" => Preview::Text,
            _ => Preview::None,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Preview::Image => "image",
            Preview::Video => "video",
            Preview::Audio => "audio",
            Preview::Pdf => "pdf",
            Preview::Text => "text",
            Preview::None => "none",
        }
    }
}

/// An asset as the control API shows it.
pub(crate) fn asset_json(asset: &StoredAsset) -> Value {
    json!({
        "asset_id": asset.asset_id,
        "filename": asset.filename,
        "mime": asset.mime,
        "size": asset.uploaded.then_some(asset.size),
        "sha256": asset.uploaded.then_some(&asset.sha256),
        "uploaded": asset.uploaded,
        "created_at": crate::time::rfc3339(asset.created_at),
        "expires_at": asset.expires_at.map(crate::time::rfc3339),
    })
}

pub(super) async fn list(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let assets: Vec<Value> = shared.assets().iter().map(asset_json).collect();
    Json(json!({ "assets": assets }))
}

fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "ASSET_NOT_FOUND",
        "No asset with this id (asset_..., from an upload URL or an event's \"assets\"); it may have been reset",
    )
}

pub(super) async fn one(
    State(shared): State<Arc<Shared>>,
    Path(asset_id): Path<String>,
) -> Response {
    match shared.asset(&asset_id) {
        Some(asset) => Json(asset_json(&asset)).into_response(),
        None => not_found().into_response(),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ContentQuery {
    download: Option<String>,
}

/// The stored bytes, typed as declared, never sniffed; inline only for the
/// types [`Preview`] allows, and as a download on `?download=1`.
pub(super) async fn content(
    State(shared): State<Arc<Shared>>,
    Path(asset_id): Path<String>,
    query: Result<Query<ContentQuery>, QueryRejection>,
) -> Response {
    let download = match query {
        Ok(Query(ContentQuery { download })) => download.is_some_and(|d| d != "0"),
        Err(rejection) => {
            return ApiError::invalid_request(format!(
                "{}; the query takes download=1 only",
                rejection.body_text()
            ))
            .into_response();
        }
    };
    let Some(asset) = shared.asset(&asset_id) else {
        return not_found().into_response();
    };
    if !asset.uploaded {
        return ApiError::new(
            StatusCode::CONFLICT,
            "ASSET_NOT_UPLOADED",
            "This asset has no file yet: its upload URL was issued, but no PUT to storage succeeded",
        )
        .into_response();
    }
    if asset.bytes.len() as u64 != asset.size {
        return ApiError::new(
            StatusCode::GONE,
            "ASSET_BYTES_NOT_KEPT",
            "This emulator keeps only each file's size and SHA-256 (retain_bytes(false))",
        )
        .into_response();
    }
    let preview = Preview::of(&asset.mime);
    let disposition = if download || preview == Preview::None {
        "attachment"
    } else {
        "inline"
    };
    let mut response = Response::new(Body::from(asset.bytes.clone()));
    let headers = response.headers_mut();
    if let Ok(mime) = HeaderValue::from_str(&asset.mime) {
        headers.insert(header::CONTENT_TYPE, mime);
    }
    let disposition = format!(
        "{disposition}; filename=\"{}\"; filename*=UTF-8''{}",
        ascii_filename(&asset.filename),
        utf8_percent_encode(&asset.filename, NON_ALPHANUMERIC)
    );
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    // A file shown on its own is a sandboxed document that may load
    // nothing; PDF is left to the browser's viewer, which a sandbox stops.
    let policy = if preview == Preview::Pdf {
        "frame-ancestors 'self'"
    } else {
        "default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'self'; sandbox"
    };
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(policy),
    );
    response
}

/// The filename for `filename="..."`: printable ASCII, quotes and
/// backslashes replaced (`filename*` carries the real one).
fn ascii_filename(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            '"' | '\\' => '_',
            c if c.is_ascii_graphic() || c == ' ' => c,
            _ => '_',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filenames_fit_a_quoted_header() {
        assert_eq!(ascii_filename("a \"b\"\\c.pdf"), "a _b__c.pdf");
        assert_eq!(ascii_filename("facture-été.pdf"), "facture-_t_.pdf");
    }

    #[test]
    fn only_types_a_browser_does_not_run_are_previewed() {
        assert_eq!(Preview::of("image/png"), Preview::Image);
        assert_eq!(Preview::of("text/plain"), Preview::Text);
        assert_eq!(Preview::of("application/pdf"), Preview::Pdf);
        assert_eq!(Preview::of("application/msword"), Preview::None);
        assert_eq!(Preview::of("text/html"), Preview::None);
        assert_eq!(Preview::of("image/svg+xml"), Preview::None);
    }
}
