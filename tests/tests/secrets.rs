//! Secrets never show in errors or in Debug, whatever went wrong.

use base64::Engine as _;
use flowflex::{Attachment, Mime};
use flowflex_emulator::{Emulator, Endpoint, Fault};
use serde_json::json;
use tests::{builder_for, sample};

#[tokio::test]
async fn every_error_and_config_type_formats_without_secrets() {
    let secret = "sup3r-secret-value";
    let emulator = Emulator::builder()
        .api_secret(secret)
        .start()
        .await
        .unwrap();
    let builder = builder_for(&emulator);
    let client = builder.clone().build().unwrap();
    let token = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{secret}", emulator.api_key()));

    let mut shown = vec![
        format!("{builder:?}"),
        format!("{client:?}"),
        format!("{client:#?}"),
    ];
    // An error of every kind the client produces here.
    emulator.inject(Fault::on(Endpoint::Events).status(500).times(10));
    emulator.inject(
        Fault::on(Endpoint::Storage)
            .status(403)
            .body(format!("echo {secret} {token}")),
    );
    let file_err = client
        .send_event(
            "e",
            flowflex::json!({"f": Attachment::from_bytes(sample(Mime::Png, 1), "x.pdf")}),
        )
        .await
        .unwrap_err();
    let upload_err = client
        .send_event(
            "e",
            flowflex::json!({"f": Attachment::from_bytes(sample(Mime::Png, 1), "x.png")}),
        )
        .await
        .unwrap_err();
    let api_err = client
        .send_event("e", flowflex::json!({}))
        .await
        .unwrap_err();
    let config_err = builder
        .clone()
        .base_url("http://example.com")
        .build()
        .unwrap_err();
    let payload_err = client
        .send_event("e", flowflex::json!([1]))
        .await
        .unwrap_err();
    let timeout_err = builder_for(&emulator)
        .timeout(std::time::Duration::from_millis(200))
        .retry(flowflex::RetryConfig::disabled())
        .build()
        .unwrap();
    emulator.clear_faults();
    emulator.inject(Fault::on(Endpoint::Events).hang());
    let timeout_err = timeout_err
        .send_event("e", flowflex::json!({}))
        .await
        .unwrap_err();
    let network_err = builder_for(&emulator)
        .base_url(tests::closed_port_url())
        .retry(flowflex::RetryConfig::disabled())
        .build()
        .unwrap()
        .send_event("e", flowflex::json!({}))
        .await
        .unwrap_err();
    // A hostile upload-url answer: plain http off loopback, token in the path.
    let fake_token = "tok-in-path-0123456789";
    emulator.clear_faults();
    emulator.inject(Fault::on(Endpoint::UploadUrl).respond_json(
        200,
        json!({
            "assetId": "asset_x",
            "uploadUrl": format!("http://storage.example.com/{fake_token}/put?sig={fake_token}"),
            "token": fake_token,
        }),
    ));
    let hostile_url_err = client
        .send_event(
            "e",
            flowflex::json!({"f": Attachment::from_bytes(sample(Mime::Png, 1), "x.png")}),
        )
        .await
        .unwrap_err();
    let flowflex::Error::Upload { source, .. } = hostile_url_err else {
        panic!("an upload error: {hostile_url_err:?}");
    };
    let invalid_response_err = *source;
    let ticket = client
        .create_upload_url("a.pdf", Mime::Pdf, 1)
        .await
        .unwrap();
    let upload_token = ticket.expose_token().to_owned();
    shown.push(format!("{ticket:?}"));
    shown.push(ticket.upload_url.to_string());

    let kinds = [
        (&file_err, "Attachment"),
        (&upload_err, "Upload"),
        (&api_err, "Api"),
        (&config_err, "Config"),
        (&payload_err, "Payload"),
        (&timeout_err, "Timeout"),
        (&network_err, "Network"),
        (&invalid_response_err, "InvalidResponse"),
    ];
    for (err, kind) in kinds {
        let debug = format!("{err:?}");
        assert!(debug.starts_with(kind), "{kind}: {debug}");
        shown.push(format!("{err}"));
        shown.push(debug);
        let mut source = std::error::Error::source(err);
        while let Some(s) = source {
            shown.push(s.to_string());
            source = s.source();
        }
    }
    assert!(
        shown.iter().any(|s| s.contains("<redacted>")),
        "server echo was scrubbed"
    );
    for text in &shown {
        for needle in [secret, token.as_str(), upload_token.as_str(), fake_token] {
            assert!(!text.contains(needle), "{needle:?} leaked: {text}");
        }
    }
}
