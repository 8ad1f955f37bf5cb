//! Times as the control API and the inspector write them: RFC 3339, UTC,
//! to the millisecond.

use std::time::SystemTime;

/// `2026-05-04T09:30:00.123Z`.
pub(crate) fn rfc3339(at: SystemTime) -> String {
    humantime::format_rfc3339_millis(at).to_string()
}

/// An RFC 3339 time (`2026-05-04T09:30:00Z`) or an HTTP date
/// (`Mon, 04 May 2026 09:30:00 GMT`).
pub(crate) fn parse(text: &str) -> Option<SystemTime> {
    humantime::parse_rfc3339_weak(text)
        .ok()
        .or_else(|| httpdate::parse_http_date(text).ok())
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn writes_and_reads_both_forms() {
        let at = UNIX_EPOCH + Duration::from_millis(1_777_887_000_123);
        assert_eq!(rfc3339(at), "2026-05-04T09:30:00.123Z");
        let whole = UNIX_EPOCH + Duration::from_secs(1_777_887_000);
        assert_eq!(parse("2026-05-04T09:30:00Z"), Some(whole));
        assert_eq!(parse("Mon, 04 May 2026 09:30:00 GMT"), Some(whole));
        assert_eq!(parse("tomorrow"), None);
    }
}
