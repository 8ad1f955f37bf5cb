//! The messages of the errors a first day meets, pinned by snapshots: a
//! refused secret (with a file and without one: one kind either way,
//! `Error::is_auth`), an event name with a trailing space (not
//! "configuration"), a file that is not there (the absolute path it
//! tried), and the event request's own name.

use flowflex::{Attachment, Error, Mime};
use tests::{Harness, builder_for, sample};

/// `message` with what varies from run to run (the emulator's port, the
/// temporary directory, the idempotency key) replaced by a name.
fn stable(message: &str, h: &Harness) -> String {
    let mut out = message.replace(h.emulator.base_url().as_str(), "<base-url>");
    out = out.replace(&h.dir.path().display().to_string(), "<dir>");
    out
}

#[tokio::test]
async fn a_refused_secret_is_one_kind_with_or_without_a_file() {
    let h = Harness::start().await;
    let wrong = builder_for(&h.emulator)
        .api_secret("not-the-secret")
        .build()
        .expect("a client");
    let with_file = wrong
        .send_event(
            "order.shipped",
            flowflex::json!({"invoice": Attachment::from_bytes(sample(Mime::Pdf, 100), "invoice.pdf")}),
        )
        .await
        .expect_err("refused");
    let without = wrong
        .send_event("order.shipped", flowflex::json!({"order": 42}))
        .await
        .expect_err("refused");
    assert!(with_file.is_auth(), "{with_file:?}");
    assert!(without.is_auth(), "{without:?}");
    assert_eq!(with_file.status(), Some(401));
    assert_eq!(without.status(), Some(401));
    assert!(!with_file.is_retryable() && !without.is_retryable());
    insta::assert_snapshot!(
        "refused_secret_with_a_file",
        stable(&with_file.to_string(), &h)
    );
    insta::assert_snapshot!(
        "refused_secret_without_a_file",
        stable(&without.to_string(), &h)
    );
    // Any other failure is not an auth failure.
    let fine = h
        .client
        .send_event("order.shipped", flowflex::json!({}))
        .await;
    assert!(fine.is_ok());
}

#[tokio::test]
async fn an_event_name_with_a_trailing_space_is_an_event_name_error() {
    let h = Harness::start().await;
    let err = h
        .client
        .send_event("order.shipped ", flowflex::json!({}))
        .await
        .expect_err("refused");
    assert!(matches!(err, Error::EventName { .. }), "{err:?}");
    assert!(!err.is_auth());
    insta::assert_snapshot!("event_name_trailing_space", err.to_string());
    assert!(h.emulator.requests().is_empty());
}

#[tokio::test]
async fn a_missing_file_names_the_absolute_path_it_tried() {
    let h = Harness::start().await;
    let missing = h.dir.path().join("invoices").join("missing.pdf");
    let err = h
        .client
        .send_event(
            "order.shipped",
            flowflex::json!({"invoice": Attachment::from_path(&missing)}),
        )
        .await
        .expect_err("no such file");
    assert!(
        err.to_string().contains(&missing.display().to_string()),
        "{err}"
    );
    insta::assert_snapshot!("missing_file_absolute", stable(&err.to_string(), &h));
    // A relative path is shown as the absolute one the process tried.
    let relative = std::path::Path::new("no-such-dir/relative.pdf");
    let err = h
        .client
        .send_event(
            "order.shipped",
            flowflex::json!({"invoice": Attachment::from_path(relative)}),
        )
        .await
        .expect_err("no such file");
    let tried = std::env::current_dir().unwrap().join(relative);
    assert!(
        err.to_string().contains(&tried.display().to_string()),
        "{err}"
    );
    assert!(err.to_string().contains("relative path"), "{err}");
}

#[test]
fn the_event_request_is_named_by_its_path() {
    insta::assert_snapshot!("event_endpoint", flowflex::Endpoint::Event.to_string());
}
