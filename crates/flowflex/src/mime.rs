//! The closed set of file types FlowFlex storage accepts.
//!
//! The table lives in `flowflex-core`, where `#[derive(FlowFlexEvent)]` and
//! `include_attachment!` read it too; this crate re-exports it as
//! `flowflex::Mime`.

use crate::error::Error;

#[doc(inline)]
pub use flowflex_core::{Mime, ParseMimeError};

/// `?` on `"..".parse::<Mime>()` in code that returns [`crate::Result`]: a
/// configuration error, as before the type moved.
impl From<ParseMimeError> for Error {
    fn from(err: ParseMimeError) -> Self {
        Error::config(err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parse_error_becomes_a_config_error() {
        fn parse(s: &str) -> crate::Result<Mime> {
            Ok(s.parse::<Mime>()?)
        }
        assert_eq!(parse("image/png").unwrap(), Mime::Png);
        let err = parse("image/gif").unwrap_err();
        assert!(matches!(err, Error::Config { .. }), "{err:?}");
        assert!(
            err.to_string()
                .starts_with("invalid configuration: \"image/gif\" is not a MIME type FlowFlex accepts; use one of: application/pdf, "),
            "{err}"
        );
    }

    #[test]
    fn serde_writes_and_reads_the_essence() {
        for m in Mime::ALL {
            let json = serde_json::to_string(&m).unwrap();
            assert_eq!(json, format!("\"{}\"", m.as_str()));
            assert_eq!(serde_json::from_str::<Mime>(&json).unwrap(), m);
        }
        assert_eq!(
            serde_json::from_str::<Mime>("\"Text/Plain; charset=utf-8\"").unwrap(),
            Mime::Txt
        );
        let err = serde_json::from_str::<Mime>("\"image/gif\"").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("\"image/gif\" is not a MIME type FlowFlex accepts"),
            "{err}"
        );
    }
}
