//! Issue 10, items 4 to 7: secrets cut by truncation, credentials in a base
//! URL that does not parse, extreme retry settings, and the idempotency key
//! of a failed send. Each test failed before its fix.

use std::time::Duration;

use base64::Engine as _;
use flowflex::{Attachment, Client, Error, Mime, RetryConfig};
use flowflex_emulator::{Emulator, Endpoint, Fault};
use serde_json::{Value, json};
use tests::{Harness, builder_for, events_with_key, sample};

// ------------------------------------------- item 4: secrets cut by truncation

/// The API secret of these tests: mixed case and digits, so that its
/// windows cannot be mistaken for the fixed words of a message.
const SECRET: &str = "Zq7vXw9KpL3mRt5N";

/// The shortest run of a secret's characters that counts as a leak. Shorter
/// runs (one to three characters) occur by chance in any English message;
/// the control run of [`secrets_cut_at_any_point_never_show`] proves that
/// none of the windows of this length occurs in the messages without an
/// echo, so every window found with an echo came from the echo. Four is
/// also the shortest secret the scrubber looks for.
const LEAK: usize = 4;

/// One way a server can echo the credentials: the placeholder of the
/// emulator's `echo_auth`, the text it becomes, and how many of its leading
/// bytes are public (`Basic `, or the API key and `:`).
struct Form {
    placeholder: &'static str,
    value: String,
    public: usize,
}

fn forms(api_key: &str) -> Vec<Form> {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{api_key}:{SECRET}"));
    vec![
        Form {
            placeholder: "{basic_secret}",
            value: SECRET.to_owned(),
            public: 0,
        },
        Form {
            placeholder: "{authorization}",
            value: format!("Basic {token}"),
            public: "Basic ".len(),
        },
        Form {
            placeholder: "{basic_credentials}",
            value: format!("{api_key}:{SECRET}"),
            public: api_key.len() + 1,
        },
    ]
}

/// An emulator whose API secret is [`SECRET`], and a client for it that
/// sends each request once.
async fn echo_target() -> (Emulator, Client) {
    let emulator = Emulator::builder()
        .api_secret(SECRET)
        .start()
        .await
        .expect("emulator starts");
    let client = builder_for(&emulator)
        .retry(RetryConfig::disabled())
        .build()
        .expect("client builds");
    (emulator, client)
}

/// Every window of [`LEAK`] characters of a form that holds at least one
/// secret character (so every window of the secret and of the Basic token,
/// every prefix of at least [`LEAK`] characters included).
fn forbidden(forms: &[Form]) -> Vec<String> {
    let mut windows = Vec::new();
    for form in forms {
        let bytes = form.value.as_bytes();
        for start in 0..=bytes.len().saturating_sub(LEAK) {
            if start + LEAK > form.public {
                windows.push(form.value[start..start + LEAK].to_owned());
            }
        }
    }
    windows.sort();
    windows.dedup();
    windows
}

/// `Display`, `Debug` and the `source()` chain of an error.
fn shown(err: &Error) -> Vec<String> {
    let mut texts = vec![err.to_string(), format!("{err:?}"), format!("{err:#?}")];
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        texts.push(s.to_string());
        texts.push(format!("{s:?}"));
        source = s.source();
    }
    texts
}

/// The first text holding `window`, from 40 characters before it.
fn around(texts: &[String], window: &str) -> String {
    let text = texts
        .iter()
        .find(|t| t.contains(window))
        .map_or("", String::as_str);
    let at = text.find(window).unwrap_or(0);
    let from = text[..at]
        .char_indices()
        .rev()
        .nth(39)
        .map_or(0, |(i, _)| i);
    text[from..].chars().take(100).collect()
}

/// A message the client truncates, and where.
#[derive(Clone, Copy, Debug)]
enum Cut {
    /// The JSON body's `error`, shown up to 500 characters.
    ErrorField,
    /// The JSON body's `message` (no `error`), up to 500 characters.
    MessageField,
    /// The JSON body's `code`, up to 64 characters.
    Code,
    /// The JSON body's `name` (no `code`), up to 64 characters.
    Name,
    /// A non-JSON body, up to 200 characters.
    Text,
    /// A body cut at the 64 KiB read limit, blanks before the cut.
    ReadLimit,
    /// A malformed `uploadUrl` of an upload-url answer, up to 100 characters.
    UploadUrl,
}

impl Cut {
    const ALL: [Cut; 7] = [
        Cut::ErrorField,
        Cut::MessageField,
        Cut::Code,
        Cut::Name,
        Cut::Text,
        Cut::ReadLimit,
        Cut::UploadUrl,
    ];

    /// Where the cut falls, in characters (bytes: all of it is ASCII).
    fn limit(self) -> usize {
        match self {
            Cut::ErrorField | Cut::MessageField => 500,
            Cut::Code | Cut::Name => 64,
            Cut::Text => 200,
            Cut::ReadLimit => 64 * 1024,
            Cut::UploadUrl => 100,
        }
    }

    /// The fault answering with `echo` (padding and a placeholder).
    fn fault(self, echo: &str) -> Fault {
        let json = |body: Value| Fault::on(Endpoint::Events).respond_json(400, body);
        match self {
            Cut::ErrorField => json(json!({"error": echo, "code": "BAD_REQUEST"})),
            Cut::MessageField => json(json!({"message": echo})),
            Cut::Code => json(json!({"error": "refused", "code": echo})),
            Cut::Name => json(json!({"error": "refused", "name": echo})),
            Cut::Text | Cut::ReadLimit => Fault::on(Endpoint::Events).status(400).body(echo),
            Cut::UploadUrl => Fault::on(Endpoint::UploadUrl).respond_json(
                200,
                json!({"assetId": "asset_x", "uploadUrl": echo, "token": "t0k3n-value"}),
            ),
        }
    }

    /// `placeholder` placed so that the cut falls after `before` of the
    /// `len` bytes it becomes.
    fn echo(self, placeholder: &str, before: usize) -> String {
        // Blanks are trimmed from a text body, so the bytes kept before the
        // read limit are what is shown; elsewhere the padding is shown.
        let pad = if matches!(self, Cut::ReadLimit) {
            " "
        } else {
            "~"
        };
        format!("{}{placeholder}", pad.repeat(self.limit() - before))
    }

    async fn error(self, client: &Client) -> Error {
        match self {
            Cut::UploadUrl => client.create_upload_url("a.pdf", Mime::Pdf, 1).await,
            _ => client
                .send_event("e", flowflex::json!({}))
                .await
                .map(|_| unreachable!("the fault answers an error")),
        }
        .expect_err("the fault fails the request")
    }
}

/// A server that echoes the `Authorization` header, the decoded `key:secret`
/// or the secret, placed so that each truncated message of an error is cut
/// at every byte of it: no run of [`LEAK`] characters of the secret or the
/// Basic token shows in `Display` or `Debug`.
#[tokio::test]
async fn secrets_cut_at_any_point_never_show() {
    let (emulator, client) = echo_target().await;
    let forms = forms(emulator.api_key());
    let windows = forbidden(&forms);
    let leaks = |texts: &[String]| -> Vec<String> {
        windows
            .iter()
            .filter(|w| texts.iter().any(|t| t.contains(w.as_str())))
            .cloned()
            .collect()
    };

    // Control: the same messages without an echo hold none of the windows,
    // so the rule cannot be tripped by the messages' own words.
    for cut in Cut::ALL {
        emulator.inject(cut.fault(&cut.echo("", 0)));
        let texts = shown(&cut.error(&client).await);
        assert_eq!(leaks(&texts), Vec::<String>::new(), "control {cut:?}");
    }

    let mut failures = Vec::new();
    let mut cases = 0;
    for cut in Cut::ALL {
        for form in &forms {
            for before in 0..=form.value.len() {
                let echo = cut.echo(form.placeholder, before);
                emulator.inject(cut.fault(&echo).echo_auth());
                let texts = shown(&cut.error(&client).await);
                cases += 1;
                let found = leaks(&texts);
                if let Some(window) = found.first() {
                    failures.push(format!(
                        "{cut:?}, {} cut after {before} bytes: {found:?}, e.g. \"{}\"",
                        form.placeholder,
                        around(&texts, window)
                    ));
                }
            }
        }
    }
    assert!(cases > 600, "{cases}");
    let per_cut: Vec<_> = Cut::ALL
        .iter()
        .map(|cut| {
            let name = format!("{cut:?},");
            let n = failures.iter().filter(|f| f.starts_with(&name)).count();
            format!("{cut:?}: {n}")
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {cases} cases leak ({}); the first: {:#?}",
        failures.len(),
        per_cut.join(", "),
        &failures[..failures.len().min(3)]
    );
}

/// The JSON error body is kept whole in `details` (shown by `Debug`): the
/// credentials are scrubbed from its keys as from its values.
#[tokio::test]
async fn secrets_in_error_details_never_show() {
    let (emulator, client) = echo_target().await;
    let forms = forms(emulator.api_key());
    let windows = forbidden(&forms);
    for form in &forms {
        let p = form.placeholder;
        emulator.inject(
            Fault::on(Endpoint::Events)
                .respond_json(
                    400,
                    json!({
                        "error": "refused",
                        "code": "BAD_REQUEST",
                        "details": {"echo": [p, {"nested": format!("x{p}x")}]},
                        p: {"as a key": true},
                    }),
                )
                .echo_auth(),
        );
        let err = client
            .send_event("e", flowflex::json!({}))
            .await
            .unwrap_err();
        let texts = shown(&err);
        assert!(
            texts.iter().any(|t| t.contains("as a key")),
            "the details are shown: {texts:?}"
        );
        for w in &windows {
            for t in &texts {
                assert!(!t.contains(w.as_str()), "{p}: {w:?} leaked: {t}");
            }
        }
    }
}

// --------------------------------------- item 5: credentials in a bad base URL

#[test]
fn base_urls_that_do_not_parse_never_show_their_credentials() {
    let password = "Hq7-Pa55w0rdXz9";
    let long_password = format!("{password}{}", "x".repeat(150));
    let user_token = "tok_9fQ2kZ7wLm4X";
    let cases = [
        // Refused by the URL parser.
        format!("https://admin:{password}@api.flow flex.ai"),
        format!("https://admin:{password}@[::1"),
        format!("https://admin:{password}@api.flowflex.ai:99999"),
        format!("https://admin:{password}@"),
        format!("https://{user_token}@bad host.example"),
        format!("https://{user_token}:{password}@bad host.example"),
        // A '/' in the password ends the authority early: the parser reads
        // the password as a port.
        format!("https://admin:{password}/x@api.flowflex.ai"),
        // Past the 120 characters a message shows.
        format!("https://admin:{long_password}@bad host.example"),
        // Parsed, refused for another reason.
        format!("ftp://admin:{password}@api.flowflex.ai"),
        format!("admin:{password}@api.flowflex.ai"),
        format!("https:admin:{password}@api.flowflex.ai"),
        format!("mailto:{user_token}:{password}@example.com"),
        // Parsed with credentials: refused without echo.
        format!("https://admin:{password}@api.flowflex.ai"),
        format!("http://{user_token}@localhost:8080"),
    ];
    let shown = |raw: &str| {
        let builder = Client::builder()
            .api_key("cik_xxx")
            .api_secret("yyy")
            .integration_code("ic_abc123")
            .base_url(raw);
        let err = builder.clone().build().unwrap_err();
        assert!(matches!(err, Error::Config { .. }), "{raw}: {err:?}");
        assert!(err.to_string().contains("base_url"), "{raw}: {err}");
        [err.to_string(), format!("{err:?}"), format!("{builder:?}")]
    };
    let windows: Vec<&str> = [password, user_token]
        .iter()
        .flat_map(|s| (0..=s.len() - LEAK).map(move |i| &s[i..i + LEAK]))
        .collect();
    // Control: with other credentials, no message holds a window by chance.
    for raw in &cases {
        let other = raw.replace(password, "pw").replace(user_token, "user");
        for text in shown(&other) {
            for window in &windows {
                assert!(!text.contains(window), "control: {window:?} in {text}");
            }
        }
    }
    for raw in &cases {
        for text in shown(raw) {
            for window in &windows {
                assert!(!text.contains(window), "{raw}: {window:?} in {text}");
            }
        }
    }
    // The message still says which URL, with the credentials replaced.
    let err = Client::builder()
        .api_key("cik_xxx")
        .api_secret("yyy")
        .integration_code("ic_abc123")
        .base_url(format!("https://admin:{password}@api.flow flex.ai/x"))
        .build()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("\"https://<redacted>@api.flow flex.ai/x\""),
        "{err}"
    );
}

// ----------------------------------------------- item 6: extreme retry settings

/// Multipliers too large for a `Duration` saturate at `max_backoff` instead
/// of panicking at the first retry.
#[tokio::test]
async fn huge_multipliers_retry_without_panicking() {
    let quick = RetryConfig::default()
        .max_retries(3)
        .initial_backoff(Duration::from_millis(10))
        .jitter_seed(5);
    let policies = [
        quick
            .clone()
            .multiplier(1e300)
            .max_backoff(Duration::from_millis(50)),
        // Only one retry happens below: its wait is the initial one, and
        // the next wait (unbounded) is computed, never waited.
        quick.multiplier(f64::MAX).max_backoff(Duration::MAX),
    ];
    for (policy, failures) in policies.into_iter().zip([3, 1]) {
        let h = Harness::with(|b| b.retry(policy.clone())).await;
        h.emulator
            .inject(Fault::on(Endpoint::Events).status(503).times(failures));
        let sent = h
            .client
            .send_event("e", flowflex::json!({"n": 1}))
            .await
            .unwrap_or_else(|e| panic!("{policy:?}: {e}"));
        let statuses: Vec<_> = h.emulator.requests().iter().map(|r| r.status).collect();
        let mut expected = vec![Some(503); failures as usize];
        expected.push(Some(202));
        assert_eq!(statuses, expected, "{policy:?}");
        assert_eq!(h.emulator.events().len(), 1);
        assert_eq!(
            h.emulator.events()[0].idempotency_key.as_deref(),
            Some(sent.idempotency_key.as_str())
        );
    }
}

#[test]
fn multipliers_that_are_not_numbers_are_refused_at_build() {
    let builder = Client::builder()
        .api_key("cik_xxx")
        .api_secret("yyy")
        .integration_code("ic_abc123");
    for bad in [
        f64::NAN,
        -f64::NAN,
        -1.0,
        -1e-9,
        f64::NEG_INFINITY,
        f64::INFINITY,
    ] {
        let err = builder
            .clone()
            .retry(RetryConfig::default().multiplier(bad))
            .build()
            .unwrap_err();
        assert!(matches!(err, Error::Config { .. }), "{bad}: {err:?}");
        let text = err.to_string();
        assert!(text.contains("multiplier"), "{bad}: {text}");
        assert!(text.contains("at least 1"), "says what to do: {text}");
        // Kept by the shorthand that edits the policy in place.
        let err = builder
            .clone()
            .retry(RetryConfig::default().multiplier(bad))
            .max_retries(1)
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("multiplier"), "{err}");
    }
    for good in [0.0, 0.5, 1.0, 2.0, 1e300, f64::MAX] {
        builder
            .clone()
            .retry(RetryConfig::default().multiplier(good))
            .build()
            .unwrap_or_else(|e| panic!("{good}: {e}"));
    }
}

// ------------------------------------- item 7: the idempotency key of a failure

/// A UUID v4 in its hyphenated form.
fn is_uuid_v4(key: &str) -> bool {
    let parts: Vec<_> = key.split('-').map(str::len).collect();
    parts == [8, 4, 4, 4, 12]
        && key.chars().all(|c| c == '-' || c.is_ascii_hexdigit())
        && key.as_bytes()[14] == b'4'
}

/// The event POST took effect but its answer never came (a timeout) or the
/// connection dropped, on every attempt: the error carries the generated
/// key, and resending with it fires the event once in all.
#[tokio::test]
async fn an_ambiguous_failure_can_be_resent_with_its_key() {
    for (name, fault) in [
        (
            "timeout",
            Fault::on(Endpoint::Events).hang_after_processing(),
        ),
        (
            "dropped",
            Fault::on(Endpoint::Events).drop_after_processing(),
        ),
    ] {
        let h = Harness::with(|b| {
            b.timeout(Duration::from_millis(300)).retry(
                RetryConfig::default()
                    .max_retries(1)
                    .initial_backoff(Duration::from_millis(10))
                    .jitter_seed(2),
            )
        })
        .await;
        h.emulator.inject(fault.times(2));
        let file = h.sample_file("r.pdf", Mime::Pdf, 2000);
        let payload = flowflex::json!({"receipt": Attachment::from_path(&file)});
        let err = h.client.send_event("e", &payload).await.unwrap_err();
        match name {
            "timeout" => assert!(matches!(err, Error::Timeout { .. }), "{err:?}"),
            _ => assert!(matches!(err, Error::Network { .. }), "{err:?}"),
        }
        assert!(err.is_retryable(), "{err}");
        let key = err
            .idempotency_key()
            .unwrap_or_else(|| panic!("{name}: no key on {err:?}"))
            .to_owned();
        assert!(is_uuid_v4(&key), "{key}");
        let sent_with: Vec<_> = h
            .emulator
            .requests()
            .iter()
            .filter(|r| r.endpoint == Endpoint::Events)
            .map(|r| r.header("x-idempotency-key").map(str::to_owned))
            .collect();
        assert_eq!(sent_with, [Some(key.clone()), Some(key.clone())], "{name}");
        assert_eq!(events_with_key(&h.emulator, &key), 1, "{name}: took effect");

        let resent = h
            .client
            .send_event("e", &payload)
            .idempotency_key(err.idempotency_key().unwrap())
            .await
            .unwrap_or_else(|e| panic!("{name}: resend: {e}"));
        assert_eq!(resent.idempotency_key, key);
        assert_eq!(h.emulator.events().len(), 1, "{name}: one event in all");
        assert_eq!(
            resent.response["eventId"],
            h.emulator.events()[0].event_id.as_str(),
            "{name}: the first event's answer, replayed"
        );
    }
}

/// Every error of a send carries its key once the key is settled: refused
/// files, failed uploads (their URL request or their PUT), failed or
/// malformed answers; the caller's key as given, or the generated one.
#[tokio::test]
async fn every_failure_after_the_key_is_settled_carries_it() {
    let h = Harness::with(|b| b.retry(RetryConfig::disabled())).await;
    let png_named_pdf = || Attachment::from_bytes(sample(Mime::Png, 10), "x.pdf");
    let pdf = || Attachment::from_bytes(sample(Mime::Pdf, 10), "x.pdf");
    // What fails, the fault, the payload, and the error (its `Debug`).
    let cases: Vec<(&str, Option<Fault>, flowflex::Payload, &str)> = vec![
        (
            "refused file",
            None,
            flowflex::json!({"f": png_named_pdf()}),
            "Attachment",
        ),
        (
            "upload-url status",
            Some(Fault::on(Endpoint::UploadUrl).status(500)),
            flowflex::json!({"f": pdf()}),
            "Upload { path: Some(\"f\"), file: \"x.pdf\", note: None, source: Api",
        ),
        (
            "upload-url answer malformed",
            Some(Fault::on(Endpoint::UploadUrl).respond_json(200, json!({"uploadUrl": "x"}))),
            flowflex::json!({"f": pdf()}),
            "Upload { path: Some(\"f\"), file: \"x.pdf\", note: None, source: InvalidResponse",
        ),
        (
            "storage dropped",
            Some(Fault::on(Endpoint::Storage).drop_connection()),
            flowflex::json!({"f": pdf()}),
            "Upload { path: Some(\"f\"), file: \"x.pdf\", note: None, source: Network",
        ),
        (
            "event status",
            Some(Fault::on(Endpoint::Events).status(422)),
            flowflex::json!({"n": 1}),
            "Api",
        ),
        (
            "event answer too large",
            Some(
                Fault::on(Endpoint::Events)
                    .status(202)
                    .body("x".repeat(5 << 20)),
            ),
            flowflex::json!({"n": 1}),
            "InvalidResponse",
        ),
    ];
    for (name, fault, payload, kind) in cases {
        for given in [None, Some(format!("order-{}", name.replace(' ', "-")))] {
            h.emulator.clear_faults();
            if let Some(fault) = fault.clone() {
                h.emulator.inject(fault);
            }
            let mut send = h.client.send_event("e", &payload);
            if let Some(key) = &given {
                send = send.idempotency_key(key);
            }
            let err = send.await.unwrap_err();
            assert!(format!("{err:?}").starts_with(kind), "{name}: {err:?}");
            let key = err
                .idempotency_key()
                .unwrap_or_else(|| panic!("{name}: no key on {err:?}"));
            match &given {
                Some(given) => assert_eq!(key, given, "{name}"),
                None => assert!(is_uuid_v4(key), "{name}: {key}"),
            }
        }
    }
    // Refused before the key is settled: nothing was sent, no key.
    let no_key = [
        h.client
            .send_event("bad\nname", flowflex::json!({}))
            .await
            .unwrap_err(),
        h.client
            .send_event("e", flowflex::json!({}))
            .idempotency_key("bad\nkey")
            .await
            .unwrap_err(),
        h.client
            .send_event("e", flowflex::json!([1]))
            .idempotency_key("k")
            .await
            .unwrap_err(),
    ];
    for err in &no_key {
        assert!(
            matches!(
                err,
                Error::Config { .. } | Error::EventName { .. } | Error::Payload { .. }
            ),
            "{err:?}"
        );
        assert_eq!(err.idempotency_key(), None, "{err:?}");
    }
}
