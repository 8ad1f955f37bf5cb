//! Reading the few request headers that matter to more than one route.

use http::{HeaderMap, header};

/// `Content-Length`, if present and a number.
pub(crate) fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Whether the body is sent with `Transfer-Encoding: chunked`.
pub(crate) fn is_chunked(headers: &HeaderMap) -> bool {
    headers.get_all(header::TRANSFER_ENCODING).iter().any(|v| {
        v.to_str()
            .is_ok_and(|v| v.to_ascii_lowercase().contains("chunked"))
    })
}

/// The essence of `Content-Type` (lowercase, no parameters); empty if absent.
pub(crate) fn content_type_essence(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(crate::mime::essence)
        .unwrap_or_default()
}
