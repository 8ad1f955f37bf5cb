//! The payload walker on untrusted JSON: nothing in JSON can become an
//! attachment (a token names a file only to the payload holding it; one
//! that reads like a token is refused), nothing panics, and previews and
//! substitutions leave such JSON as it was.
#![no_main]

use flowflex::__fuzz::{substitute, walk};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    match walk(&value) {
        Ok(walked) => {
            assert!(walked.slots.is_empty(), "an attachment from untrusted JSON");
            assert_eq!(walked.unique, 0);
            assert_eq!(walked.value, value);
            let (sent, ids) = substitute(&value).expect("walked once, walks again");
            assert_eq!(sent, value);
            assert!(ids.is_empty());
        }
        Err(err) => assert!(matches!(err, flowflex::Error::Payload { .. }), "{err:?}"),
    }
    match flowflex::preview(&value) {
        Ok(preview) => assert_eq!(preview, value),
        Err(err) => assert!(matches!(err, flowflex::Error::Payload { .. }), "{err:?}"),
    }
});
