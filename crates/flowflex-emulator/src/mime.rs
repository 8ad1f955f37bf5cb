//! The MIME types the FlowFlex assets API accepts.

/// The MIME types `POST /v1/assets/upload-url` accepts, exactly as compared
/// (no parameters, lowercase).
pub const ALLOWED_MIME_TYPES: [&str; 16] = [
    "application/pdf",
    "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "text/plain",
    "image/jpeg",
    "image/png",
    "video/mp4",
    "video/3gpp",
    "audio/aac",
    "audio/amr",
    "audio/mpeg",
    "audio/ogg",
];

/// Whether the assets API accepts this MIME type (exact match, as the API does).
pub(crate) fn is_allowed(mime: &str) -> bool {
    ALLOWED_MIME_TYPES.contains(&mime)
}

/// The essence of a `Content-Type` value: the type/subtype without
/// parameters, trimmed and lowercased.
pub(crate) fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn essence_drops_parameters_and_case() {
        assert_eq!(essence("Text/Plain; charset=UTF-8"), "text/plain");
        assert_eq!(essence(" image/png "), "image/png");
        assert_eq!(essence(""), "");
    }

    #[test]
    fn allowlist_is_exact() {
        assert!(is_allowed("application/pdf"));
        assert!(!is_allowed("application/PDF"));
        assert!(!is_allowed("text/plain; charset=utf-8"));
        assert!(!is_allowed("image/gif"));
    }
}
