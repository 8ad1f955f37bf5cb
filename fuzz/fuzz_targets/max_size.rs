//! `#[flowflex(max_size = "..")]` parsing, as the derive runs it from
//! `flowflex-core`: any text gives a size or a message, never a panic or an
//! overflow, and an accepted size reads back the same in bytes.
#![no_main]

use flowflex_core::{MAX_FILE_BYTES, size};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match size::parse(text) {
        Ok(bytes) => {
            assert_eq!(size::parse(&bytes.to_string()), Ok(bytes), "{text:?}");
            assert_eq!(size::parse(&format!("{bytes} B")), Ok(bytes), "{text:?}");
            match size::check(bytes, text) {
                Ok(b) => assert!(b >= 1 && b <= MAX_FILE_BYTES),
                Err(err) => assert!(!err.to_string().is_empty()),
            }
        }
        Err(err) => assert!(!err.to_string().is_empty()),
    }
    assert_eq!(
        size::parse(text).ok(),
        size::parse(&format!("  {text}\t")).ok(),
        "surrounding blanks do not matter: {text:?}"
    );
    if text.is_ascii() {
        assert_eq!(
            size::parse(text).ok(),
            size::parse(&text.to_ascii_uppercase()).ok(),
            "units ignore case: {text:?}"
        );
    }
});
