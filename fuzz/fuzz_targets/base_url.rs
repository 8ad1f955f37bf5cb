//! Base URL and integration code checks: whatever is accepted sends its
//! credentials only over https (or to loopback), only to the base URL's own
//! origin, under its path, with no query; whatever is refused is a
//! configuration error. Input: the base URL, a NUL byte, the integration code.
#![no_main]

use flowflex::__fuzz::endpoints;
use libfuzzer_sys::fuzz_target;

fn loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (raw, code) = text.split_once('\0').unwrap_or((text, "ic_fuzz"));
    match endpoints(raw, code) {
        Ok(e) => {
            let base = &e.base;
            assert!(matches!(base.scheme(), "http" | "https"), "{raw:?}");
            assert!(
                base.scheme() == "https" || loopback(base),
                "clear text off loopback: {raw:?}"
            );
            assert!(
                base.username().is_empty() && base.password().is_none(),
                "{raw:?}"
            );
            assert!(
                base.query().is_none() && base.fragment().is_none(),
                "{raw:?}"
            );
            // The endpoints stay under the base path (empty segments
            // aside: `https://h//x/` keeps its own) and end with the route.
            let prefix = base.path().trim_end_matches('/');
            for (url, tail) in [
                (&e.upload_url, "/v1/assets/upload-url".to_owned()),
                (&e.events, format!("/v1/events/{code}")),
            ] {
                assert_eq!(url.origin(), base.origin(), "{raw:?} -> {url}");
                assert!(url.path().starts_with(prefix), "{raw:?} -> {url}");
                assert!(url.path().ends_with(&tail), "{raw:?} -> {url}");
                assert!(url.query().is_none() && url.fragment().is_none(), "{url}");
            }
        }
        Err(err) => assert!(matches!(err, flowflex::Error::Config { .. }), "{err:?}"),
    }
});
