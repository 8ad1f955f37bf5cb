//! `Mime` as JSON (with the `serde` feature, which `flowflex` turns on):
//! its essence, both ways. The crate dev-depends on itself with `serde`, so
//! this runs in every test run of it, `cargo test -p flowflex-core` too.
#![cfg(feature = "serde")]

use flowflex_core::Mime;

#[test]
fn every_mime_is_its_essence_in_json_and_back() {
    for mime in Mime::ALL {
        let json = serde_json::to_string(&mime).expect("serialize");
        assert_eq!(json, format!("\"{}\"", mime.as_str()));
        assert_eq!(
            serde_json::from_str::<Mime>(&json).expect("deserialize"),
            mime
        );
    }
}

#[test]
fn a_type_flowflex_refuses_does_not_deserialize_and_says_which_it_accepts() {
    let err = serde_json::from_str::<Mime>("\"image/gif\"").expect_err("GIF is refused");
    let text = err.to_string();
    assert!(
        text.contains("\"image/gif\" is not a MIME type FlowFlex accepts"),
        "{text}"
    );
    assert!(text.contains("application/pdf"), "{text}");
    assert!(serde_json::from_str::<Mime>("17").is_err());
}
