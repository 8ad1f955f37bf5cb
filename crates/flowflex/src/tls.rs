//! The TLS of the HTTP client the SDK builds for itself.
//!
//! With the default `rustls` feature, TLS is rustls with the *ring* crypto
//! provider and the platform's certificate verifier. The provider is handed
//! to reqwest explicitly, in a ready `rustls::ClientConfig`, rather than
//! taken from rustls' crate features:
//!
//! - a program whose dependency graph also enables rustls' `aws-lc-rs`
//!   feature does not panic ("no process-level CryptoProvider"), as it would
//!   if rustls had to choose between two compiled-in providers;
//! - a provider the program installed itself
//!   (`CryptoProvider::install_default`) is used, so one choice holds
//!   process-wide;
//! - nothing process-wide is changed: the SDK never installs a default.
//!
//! Why *ring* and not rustls' default, aws-lc-rs: aws-lc-sys builds the
//! AWS-LC C library, about 51 s of a 111 s cold build on 2 cores, and
//! cross-compiling it needs that C build to work for the target; ring
//! builds a few C and assembly files with `cc`. Both are providers the
//! rustls project supports; aws-lc-rs adds FIPS and post-quantum key
//! exchange.
//! A program that wants those installs the aws-lc-rs provider as the
//! process default, and the SDK follows it (docs/security.md).

/// Sets up `builder`'s TLS as the SDK's own client has it.
#[cfg(all(feature = "rustls", not(feature = "native-tls")))]
pub(crate) fn configure(builder: reqwest::ClientBuilder) -> crate::Result<reqwest::ClientBuilder> {
    use std::sync::Arc;

    use rustls::crypto::CryptoProvider;

    use crate::error::Error;

    let provider = CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
    let verifier = rustls_platform_verifier::Verifier::new(Arc::clone(&provider)).map_err(|e| {
        Error::config(format!(
            "the platform's certificate verifier could not be set up ({e}): check the system's root certificates, or pass a ready reqwest::Client with http_client"
        ))
    })?;
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::config(format!("the TLS provider cannot be used ({e})")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    // reqwest uses a ready config as it is: offer HTTP/2 and HTTP/1.1, as
    // it would.
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(builder.tls_backend_preconfigured(config))
}

/// `native-tls`, or no TLS at all: reqwest's own choice.
#[cfg(not(all(feature = "rustls", not(feature = "native-tls"))))]
#[allow(clippy::unnecessary_wraps)] // The same signature as with rustls.
pub(crate) fn configure(builder: reqwest::ClientBuilder) -> crate::Result<reqwest::ClientBuilder> {
    Ok(builder)
}

#[cfg(all(test, feature = "rustls", not(feature = "native-tls")))]
mod tests {
    /// The SDK's client builds with no process default installed, and
    /// installs none.
    #[test]
    fn builds_without_touching_the_process_default() {
        assert!(rustls::crypto::CryptoProvider::get_default().is_none());
        let client = super::configure(reqwest::Client::builder())
            .expect("configured")
            .build();
        assert!(client.is_ok(), "{client:?}");
        assert!(rustls::crypto::CryptoProvider::get_default().is_none());
    }
}
