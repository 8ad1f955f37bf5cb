//! Who may reach the inspector page and the `/_emulator/` control API: they
//! show every event and file and can reset or fault the emulator, so they
//! answer only when the emulator listens on loopback, unless
//! [`EmulatorBuilder::inspector`](crate::EmulatorBuilder::inspector) says
//! otherwise. On loopback a web page elsewhere must not reach them through
//! the browser either: `Host` must be an address or `localhost` (a DNS
//! rebinding attack names the attacker's domain), and a request that
//! changes something must not come from another origin.

use http::{HeaderMap, HeaderName, HeaderValue, Method, header};
use http::{StatusCode, request::Parts};

use crate::error::ApiError;
use crate::state::Config;

/// Whether a path belongs to the inspector or the control API.
pub(crate) fn is_local_path(path: &str) -> bool {
    path == "/" || path == "/_emulator" || path.starts_with("/_emulator/")
}

/// Whether this request may reach the inspector or the control API.
pub(crate) fn admit(config: &Config, request: &Parts) -> Result<(), ApiError> {
    if !config.inspector {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "INSPECTOR_OFF",
            "The inspector and /_emulator/ answer only when the emulator listens on loopback; \
             start it with `flowflex emulator --inspector` (EmulatorBuilder::inspector(true)) \
             to serve them on this address",
        ));
    }
    let foreign = host_name(&request.headers).is_some_and(|host| !is_local_host(host));
    if config.loopback && foreign {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "HOST_NOT_ALLOWED",
            "The inspector answers on loopback only to an IP address or localhost in the Host \
             header; open it as http://127.0.0.1:PORT/",
        ));
    }
    let safe = matches!(request.method, Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe && from_another_site(&request.headers) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "CROSS_ORIGIN",
            "The control API takes changes only from its own page or from clients that are \
             not browsers (no Origin header, or this server's own)",
        ));
    }
    Ok(())
}

/// The host part of `Host` (no port, no brackets).
fn host_name(headers: &HeaderMap) -> Option<&str> {
    let host = headers.get(header::HOST)?.to_str().ok()?;
    Some(match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(rest),
        None => host.split(':').next().unwrap_or(host),
    })
}

fn is_local_host(host: &str) -> bool {
    host.parse::<std::net::IpAddr>().is_ok()
        || host.eq_ignore_ascii_case("localhost")
        || host.to_ascii_lowercase().ends_with(".localhost")
}

/// Whether a browser says the request comes from another origin.
fn from_another_site(headers: &HeaderMap) -> bool {
    let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if matches!(site, Some("cross-site" | "same-site")) {
        return true;
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return false;
    };
    let own = headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .map(|host| format!("http://{host}"));
    own.is_none_or(|own| origin.as_bytes() != own.as_bytes())
}

/// Headers every inspector and control API answer carries: nothing is
/// sniffed into another type, cached, or told where it was linked from.
pub(crate) fn harden(headers: &mut HeaderMap) {
    let fixed: [(HeaderName, &'static str); 3] = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::CACHE_CONTROL, "no-store"),
        (header::REFERRER_POLICY, "no-referrer"),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(method: Method, headers: &[(&str, &str)]) -> Parts {
        let mut request = http::Request::builder()
            .method(method)
            .uri("/_emulator/reset");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(()).expect("request").into_parts().0
    }

    fn config(inspector: bool, loopback: bool) -> Config {
        Config {
            api_key: "k".into(),
            api_secret: "s".into(),
            integration_code: "ic".into(),
            max_file_bytes: 1,
            base_url: "http://127.0.0.1:1".into(),
            retain_bytes: true,
            inspector,
            loopback,
        }
    }

    fn code(config: &Config, request: &Parts) -> &'static str {
        admit(config, request).map_or_else(|e| e.code(), |()| "OK")
    }

    #[test]
    fn off_loopback_only_when_asked() {
        let get = parts(Method::GET, &[("host", "10.1.2.3:8080")]);
        assert_eq!(code(&config(false, false), &get), "INSPECTOR_OFF");
        assert_eq!(code(&config(true, false), &get), "OK");
    }

    #[test]
    fn loopback_answers_addresses_and_localhost_only() {
        let on = config(true, true);
        for host in [
            "127.0.0.1:80",
            "[::1]:9",
            "localhost:1",
            "app.localhost",
            "127.0.0.1",
        ] {
            assert_eq!(
                code(&on, &parts(Method::GET, &[("host", host)])),
                "OK",
                "{host}"
            );
        }
        for host in [
            "evil.example:8080",
            "localhost.evil.example",
            "127.0.0.1.nip.io",
        ] {
            let request = parts(Method::GET, &[("host", host)]);
            assert_eq!(code(&on, &request), "HOST_NOT_ALLOWED", "{host}");
        }
    }

    #[test]
    fn changes_come_from_the_page_or_from_non_browsers() {
        let on = config(true, true);
        let host = ("host", "127.0.0.1:5000");
        assert_eq!(code(&on, &parts(Method::POST, &[host])), "OK");
        let own = ("origin", "http://127.0.0.1:5000");
        assert_eq!(code(&on, &parts(Method::POST, &[host, own])), "OK");
        let other = ("origin", "http://127.0.0.1:6000");
        assert_eq!(
            code(&on, &parts(Method::POST, &[host, other])),
            "CROSS_ORIGIN"
        );
        let site = ("sec-fetch-site", "cross-site");
        assert_eq!(
            code(&on, &parts(Method::DELETE, &[host, site])),
            "CROSS_ORIGIN"
        );
        // Reading is harmless: a page elsewhere cannot read the answer
        // (no CORS headers are ever sent).
        assert_eq!(code(&on, &parts(Method::GET, &[host, other])), "OK");
    }
}
