//! MIME sniffing: `check` and `detect` on any bytes never panic, agree with
//! each other, and `Mime` parsing of any text is sound.
#![no_main]

use flowflex::__fuzz::{Detected, sniff_check, sniff_detect, sniff_len};
use flowflex::Mime;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let head = &data[..data.len().min(sniff_len())];
    let detected = sniff_detect(head);
    if head.is_empty() {
        assert_eq!(detected, None);
    }
    for mime in Mime::ALL {
        match sniff_check(mime, head) {
            Ok(()) => assert!(
                mime == Mime::Txt || !head.is_empty(),
                "{mime} accepted an empty file"
            ),
            Err(mismatch) => {
                assert_eq!(mismatch.empty, head.is_empty());
                assert_ne!(
                    mismatch.detected,
                    Some(Detected::Accepted(mime)),
                    "a mismatch cannot say the bytes are what was declared"
                );
            }
        }
    }
    // What the error message suggests ("name it .png") must then pass.
    if let Some(Detected::Accepted(mime)) = detected {
        assert_eq!(
            sniff_check(mime, head),
            Ok(()),
            "detected as {mime} but the {mime} check refuses it"
        );
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(mime) = text.parse::<Mime>() {
            assert!(
                text.to_ascii_lowercase().contains(mime.as_str()),
                "{text:?}"
            );
        }
        if let Some(mime) = Mime::from_filename(text) {
            let ext = text.rsplit_once('.').map(|(_, e)| e).unwrap_or_default();
            assert!(
                mime.extensions()
                    .iter()
                    .any(|e| e.eq_ignore_ascii_case(ext))
            );
        }
    }
});
