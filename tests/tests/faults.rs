//! Fault injection over loopback: every scenario asserts what the emulator
//! recorded afterwards. Every event arrives exactly once (one idempotency
//! key, one recorded event) or the send fails loudly; every asset an event
//! references is stored whole (its hash is the source's); nothing half-sent
//! is left behind. Scenarios already in failures.rs are not repeated here
//! (docs/reliability.md lists both).

use std::future::IntoFuture as _;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use flowflex::{Attachment, Error, Mime, RetryConfig};
use flowflex_emulator::{Emulator, Endpoint, Fault, RecordedRequest};
use tests::{
    DetachedEmulator, Harness, before_hang, builder_for, events_with_key, eventually, sha256_file,
};

/// A retry policy with short, known waits.
fn quick_retry(max_retries: u32) -> RetryConfig {
    RetryConfig::default()
        .max_retries(max_retries)
        .initial_backoff(Duration::from_millis(10))
        .max_backoff(Duration::from_millis(50))
        .max_retry_after(Duration::from_millis(200))
        .jitter_seed(3)
}

fn requests_to(emulator: &Emulator, endpoint: Endpoint) -> Vec<RecordedRequest> {
    emulator
        .requests()
        .into_iter()
        .filter(|r| r.endpoint == endpoint)
        .collect()
}

/// Every asset id in every recorded event names an asset stored whole.
fn referenced_assets_are_whole(emulator: &Emulator, sources: &[(&str, &Path)]) {
    for event in emulator.events() {
        for (pointer, file) in sources {
            let Some(id) = event.payload.pointer(pointer).and_then(|v| v.as_str()) else {
                continue;
            };
            let asset = emulator.asset(id).expect("referenced asset exists");
            assert!(asset.uploaded, "{id} uploaded");
            assert_eq!(asset.sha256, sha256_file(file), "{id} stored whole");
        }
    }
}

// ------------------------------------------------------- statuses, retried

/// 408, 429 and every retried 5xx, on each of the three requests of a send:
/// retried once, the event recorded once, the file stored whole.
#[tokio::test]
async fn every_retried_status_on_every_endpoint_fires_the_event_once() {
    let h = Harness::start().await;
    let file = h.sample_file("doc.pdf", Mime::Pdf, 30_000);
    let mut sends = 0;
    for status in [408, 429, 500, 502, 503, 504] {
        for endpoint in [Endpoint::UploadUrl, Endpoint::Storage, Endpoint::Events] {
            h.emulator.clear_requests();
            h.emulator.inject(Fault::on(endpoint).status(status));
            let key = format!("status-{status}-{endpoint}");
            h.client
                .send_event("e", flowflex::json!({"doc": Attachment::from_path(&file)}))
                .idempotency_key(&key)
                .await
                .unwrap_or_else(|e| panic!("{key}: {e}"));
            sends += 1;
            let seen: Vec<_> = h
                .emulator
                .requests()
                .iter()
                .map(|r| (r.endpoint, r.status))
                .collect();
            let mut expected = vec![
                (Endpoint::UploadUrl, Some(200)),
                (Endpoint::Storage, Some(200)),
                (Endpoint::Events, Some(202)),
            ];
            let at = expected.iter().position(|(e, _)| *e == endpoint).unwrap();
            expected.insert(at, (endpoint, Some(status)));
            assert_eq!(seen, expected, "{key}");
            assert_eq!(events_with_key(&h.emulator, &key), 1, "{key}");
        }
    }
    assert_eq!(h.emulator.events().len(), sends);
    referenced_assets_are_whole(&h.emulator, &[("/doc", &file)]);
}

#[tokio::test]
async fn retry_after_longer_than_the_cap_is_cut_to_max_retry_after() {
    let h = Harness::with(|b| b.retry(quick_retry(3))).await;
    h.emulator.inject(
        Fault::on(Endpoint::Storage)
            .status(429)
            .retry_after_secs(3600),
    );
    h.emulator.inject(
        Fault::on(Endpoint::Events)
            .status(503)
            .retry_after_date(SystemTime::now() + Duration::from_secs(7200)),
    );
    let file = h.sample_file("a.png", Mime::Png, 1000);
    let started = Instant::now();
    // Waiting the hour (or two) asked for would be a hang.
    before_hang(
        "a send told to retry in an hour",
        h.client
            .send_event("e", flowflex::json!({"img": Attachment::from_path(&file)}))
            .into_future(),
    )
    .await
    .unwrap();
    // Two waits of max_retry_after (200 ms) at least: the cap is a wait,
    // not a licence to retry at once.
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(400), "{took:?}");
    assert_eq!(h.emulator.events().len(), 1);
    referenced_assets_are_whole(&h.emulator, &[("/img", &file)]);
}

/// A date in the past asks for no wait: with `max_retry_after` an hour,
/// any other reading of it (the cap, or the date's distance from the
/// epoch) would be a hang.
#[tokio::test]
async fn retry_after_date_in_the_past_is_no_wait() {
    let h =
        Harness::with(|b| b.retry(quick_retry(3).max_retry_after(Duration::from_secs(3600)))).await;
    h.emulator.inject(
        Fault::on(Endpoint::UploadUrl)
            .status(503)
            .retry_after_date(SystemTime::now() - Duration::from_secs(60)),
    );
    before_hang(
        "a retry after a date in the past",
        h.client
            .send_event(
                "e",
                flowflex::json!({"f": Attachment::from_bytes(&b"hi\n"[..], "f.txt")}),
            )
            .into_future(),
    )
    .await
    .unwrap();
    assert_eq!(requests_to(&h.emulator, Endpoint::UploadUrl).len(), 2);
    assert_eq!(h.emulator.events().len(), 1);
}

// ------------------------------------------------- statuses, retries exhausted

/// Four different failures on one request: the error is typed, carries the
/// last status and Retry-After, names the attachment's path, and nothing is
/// sent after it.
#[tokio::test]
async fn exhausted_retries_on_each_endpoint_carry_the_last_status() {
    for endpoint in [Endpoint::UploadUrl, Endpoint::Storage, Endpoint::Events] {
        let h = Harness::start().await;
        for status in [500, 502, 503] {
            h.emulator.inject(Fault::on(endpoint).status(status));
        }
        h.emulator
            .inject(Fault::on(endpoint).status(429).retry_after_secs(0));
        let file = h.sample_file("x.jpg", Mime::Jpeg, 500);
        let err = h
            .client
            .send_event(
                "e",
                flowflex::json!({"photos": [Attachment::from_path(&file)]}),
            )
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(429), "{endpoint}: {err}");
        assert_eq!(err.retry_after(), Some(Duration::ZERO), "{endpoint}");
        assert!(err.is_retryable(), "{endpoint}");
        assert!(err.to_string().contains("after 4 attempts"), "{err}");
        let statuses: Vec<_> = requests_to(&h.emulator, endpoint)
            .iter()
            .map(|r| r.status)
            .collect();
        assert_eq!(
            statuses,
            [Some(500), Some(502), Some(503), Some(429)],
            "{endpoint}"
        );
        match endpoint {
            Endpoint::Events => assert!(matches!(err, Error::Api { .. }), "{err:?}"),
            _ => {
                assert!(matches!(err, Error::Upload { .. }), "{err:?}");
                assert_eq!(err.path(), Some("photos[0]"));
                assert!(requests_to(&h.emulator, Endpoint::Events).is_empty());
                assert!(h.emulator.assets().iter().all(|a| !a.uploaded));
            }
        }
        assert!(h.emulator.events().is_empty(), "{endpoint}");
    }
}

#[tokio::test]
async fn statuses_that_retrying_cannot_fix_are_sent_once() {
    let h = Harness::start().await;
    for status in [400, 401, 403, 404, 409, 413, 422, 501, 505] {
        h.emulator.clear_requests();
        h.emulator
            .inject(Fault::on(Endpoint::Events).status(status));
        let err = h
            .client
            .send_event("e", flowflex::json!({"n": 1}))
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(status), "{err}");
        assert!(!err.is_retryable(), "{status}");
        assert_eq!(h.emulator.requests().len(), 1, "{status} sent once");
    }
    assert!(h.emulator.events().is_empty());
}

// ------------------------------------------------------- lost connections

#[tokio::test]
async fn connection_dropped_mid_event_is_retried_with_the_same_key() {
    let h = Harness::start().await;
    h.emulator
        .inject(Fault::on(Endpoint::Events).drop_connection());
    let file = h.sample_file("r.pdf", Mime::Pdf, 4000);
    let sent = h
        .client
        .send_event("e", flowflex::json!({"r": Attachment::from_path(&file)}))
        .idempotency_key("drop-mid-event")
        .await
        .unwrap();
    let attempts = requests_to(&h.emulator, Endpoint::Events);
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0].status, None, "the first was cut off");
    for a in &attempts {
        assert_eq!(a.header("x-idempotency-key"), Some("drop-mid-event"));
    }
    assert_eq!(h.emulator.events().len(), 1);
    assert_eq!(
        h.emulator.events()[0].payload["r"],
        sent.uploaded_assets["r"].as_str()
    );
    referenced_assets_are_whole(&h.emulator, &[("/r", &file)]);
}

#[tokio::test]
async fn storage_answer_lost_after_the_file_was_stored_is_put_again_whole() {
    let h = Harness::start().await;
    h.emulator
        .inject(Fault::on(Endpoint::Storage).drop_after_processing());
    let file = h.sample_file("v.mp4", Mime::Mp4, 500_000);
    let asset = h.send_one("v", Attachment::from_path(&file)).await.unwrap();
    assert_eq!(asset.put_count, 2, "the retry overwrote the same object");
    assert_eq!(asset.sha256, sha256_file(&file));
    assert_eq!(h.emulator.events().len(), 1);
}

#[tokio::test]
async fn upload_url_answer_lost_leaves_only_an_unreferenced_empty_asset() {
    let h = Harness::start().await;
    h.emulator
        .inject(Fault::on(Endpoint::UploadUrl).drop_after_processing());
    let file = h.sample_file("l.png", Mime::Png, 2000);
    let sent = h
        .client
        .send_event(
            "e",
            flowflex::json!({"label": Attachment::from_path(&file)}),
        )
        .await
        .unwrap();
    let assets = h.emulator.assets();
    assert_eq!(assets.len(), 2, "the lost answer's asset, and the retry's");
    let used = sent.uploaded_assets["label"].as_str();
    let orphan = assets.iter().find(|a| a.asset_id != used).unwrap();
    assert!(!orphan.uploaded, "no bytes went to the orphan");
    assert_eq!(h.emulator.events().len(), 1);
    assert_eq!(h.emulator.events()[0].payload["label"], used);
    referenced_assets_are_whole(&h.emulator, &[("/label", &file)]);
}

/// The first attempt is slower than the timeout but lands after the retry:
/// the idempotency key makes it a replay, not a second event.
#[tokio::test]
async fn a_late_first_attempt_is_a_replay_not_a_second_event() {
    let h = Harness::with(|b| b.timeout(Duration::from_millis(300)).retry(quick_retry(3))).await;
    h.emulator
        .inject(Fault::on(Endpoint::Events).delay(Duration::from_millis(800)));
    h.client
        .send_event("e", flowflex::json!({"n": 1}))
        .idempotency_key("late-first")
        .await
        .unwrap();
    // The held first attempt ends (answered, or dropped with its
    // connection) before anything is counted.
    eventually("the held first attempt to end", || {
        h.emulator.in_flight(Endpoint::Events) == 0
    })
    .await;
    assert_eq!(events_with_key(&h.emulator, "late-first"), 1);
    assert_eq!(h.emulator.events().len(), 1);
    assert_eq!(requests_to(&h.emulator, Endpoint::Events).len(), 2);
}

// ------------------------------------------------------ slow and silent

/// Storage, the upload-url endpoint or the events endpoint slower than the
/// timeout: every attempt times out (each after the timeout, none sooner),
/// and the send fails with a typed timeout naming the request.
#[tokio::test]
async fn each_endpoint_slower_than_the_timeout_times_out_on_every_attempt() {
    let timeout = Duration::from_millis(250);
    for endpoint in [Endpoint::UploadUrl, Endpoint::Storage, Endpoint::Events] {
        let h = Harness::with(|b| b.timeout(timeout).retry(quick_retry(2))).await;
        h.emulator
            .inject(Fault::on(endpoint).delay(Duration::from_secs(3)).times(3));
        let file = h.sample_file("slow.pdf", Mime::Pdf, 2000);
        let started = Instant::now();
        let err = before_hang(
            "a send to a slow endpoint",
            h.client
                .send_event("e", flowflex::json!({"slow": Attachment::from_path(&file)}))
                .into_future(),
        )
        .await
        .unwrap_err();
        let took = started.elapsed();
        assert!(
            took >= timeout * 3,
            "{endpoint}: all three attempts waited: {took:?}"
        );
        let timed_out = match &err {
            Error::Upload { source, .. } => &**source,
            other => other,
        };
        assert!(
            matches!(timed_out, Error::Timeout { .. }),
            "{endpoint}: {err:?}"
        );
        assert!(err.is_retryable());
        assert!(
            err.to_string().contains("Raise the client's timeout"),
            "{err}"
        );
        assert_eq!(requests_to(&h.emulator, endpoint).len(), 3, "{endpoint}");
        if endpoint != Endpoint::Events {
            assert_eq!(err.path(), Some("slow"));
            assert!(requests_to(&h.emulator, Endpoint::Events).is_empty());
        }
        assert!(h.emulator.events().is_empty(), "{endpoint}");
    }
}

/// A peer that accepts TCP connections and never reads or answers.
async fn black_hole() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = std::sync::Arc::clone(&accepted);
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            held.push(socket);
        }
    });
    (url, accepted)
}

#[tokio::test]
async fn a_server_that_accepts_and_never_answers_times_out_on_every_attempt() {
    let (url, accepted) = black_hole().await;
    let emulator = Emulator::start().await.unwrap();
    let timeout = Duration::from_millis(300);
    let client = builder_for(&emulator)
        .base_url(url)
        .timeout(timeout)
        .retry(quick_retry(2))
        .build()
        .unwrap();
    let started = Instant::now();
    let err = before_hang(
        "a send to a server that never answers",
        client
            .send_event(
                "e",
                flowflex::json!({"f": Attachment::from_bytes(&b"x\n"[..], "f.txt")}),
            )
            .into_future(),
    )
    .await
    .unwrap_err();
    let took = started.elapsed();
    assert!(took >= timeout * 3, "{took:?}");
    let Error::Upload { source, .. } = &err else {
        panic!("{err:?}");
    };
    assert!(
        matches!(
            **source,
            Error::Timeout {
                endpoint: flowflex::Endpoint::UploadUrl,
                attempts: 3,
                ..
            }
        ),
        "{source:?}"
    );
    assert_eq!(
        accepted.load(std::sync::atomic::Ordering::SeqCst),
        3,
        "one connection per attempt"
    );
}

#[tokio::test]
async fn a_slow_first_upload_attempt_is_retried_and_stored_whole() {
    let h = Harness::with(|b| b.timeout(Duration::from_millis(300)).retry(quick_retry(3))).await;
    h.emulator
        .inject(Fault::on(Endpoint::Storage).delay(Duration::from_secs(1)));
    let file = h.sample_file("big.mp4", Mime::Mp4, 200_000);
    let asset = h.send_one("v", Attachment::from_path(&file)).await.unwrap();
    // The held first PUT may still land later, with the same bytes: it
    // ends (stored, or dropped with its connection) before the check.
    eventually("the held first PUT to end", || {
        h.emulator.in_flight(Endpoint::Storage) == 0
    })
    .await;
    let asset = h.emulator.asset(&asset.asset_id).unwrap();
    assert_eq!(asset.sha256, sha256_file(&file));
    assert_eq!(h.emulator.events().len(), 1);
    referenced_assets_are_whole(&h.emulator, &[("/v", &file)]);
}

// -------------------------------------------- one of N parallel uploads fails

#[tokio::test]
async fn one_of_n_parallel_uploads_failing_for_good_stops_the_others_and_the_event() {
    const N: usize = 8;
    let h = Harness::with(|b| b.max_concurrent_uploads(N)).await;
    // The first PUT to arrive is refused for good once all have arrived;
    // the others are held open.
    h.emulator.inject(
        Fault::on(Endpoint::Storage)
            .delay(Duration::from_millis(300))
            .status(403)
            .code("ACCESS_DENIED"),
    );
    h.emulator
        .inject(Fault::on(Endpoint::Storage).hang().times(N as u32 - 1));
    let files: Vec<_> = (0..N)
        .map(|i| h.sample_file(&format!("photo-{i}.jpg"), Mime::Jpeg, 1000 + i))
        .collect();
    let gallery: Vec<_> = files.iter().map(Attachment::from_path).collect();
    let err = h
        .client
        .send_event("e", flowflex::json!({"gallery": gallery}))
        .await
        .unwrap_err();

    // The error names the path of the upload that failed.
    let refused = h
        .emulator
        .requests()
        .into_iter()
        .find(|r| r.status == Some(403))
        .expect("one PUT was refused");
    let asset_id = refused.path.trim_start_matches("/storage/");
    let filename = h.emulator.asset(asset_id).unwrap().filename;
    let index: usize = filename
        .trim_start_matches("photo-")
        .trim_end_matches(".jpg")
        .parse()
        .unwrap();
    assert_eq!(
        err.path(),
        Some(format!("gallery[{index}]").as_str()),
        "{err}"
    );
    assert_eq!(err.status(), Some(403));
    assert_eq!(err.code(), Some("ACCESS_DENIED"));
    assert!(err.to_string().contains(&filename), "{err}");

    assert_eq!(
        h.emulator.peak_in_flight(Endpoint::Storage),
        N as u64,
        "all uploads ran at once"
    );
    // No upload left running: the held PUTs were abandoned with the send.
    eventually("the other uploads to be dropped", || {
        h.emulator.in_flight(Endpoint::Storage) == 0
    })
    .await;
    assert!(
        h.emulator.assets().iter().all(|a| !a.uploaded),
        "nothing stored"
    );
    assert!(
        requests_to(&h.emulator, Endpoint::Events).is_empty(),
        "no event sent"
    );
    let requests = h.emulator.requests().len();
    // Not a wait for anything: the send has returned and every upload has
    // ended (above). A retry left scheduled would come within the client's
    // longest backoff (50 ms, `builder_for`); this gives one the time to show.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        h.emulator.requests().len(),
        requests,
        "nothing retried later"
    );
}

// ---------------------------------------------------------------- expiry

/// Starts a send of one file with `hold` on `endpoint`, and moves the
/// emulator's clock by `advance` once that request has arrived.
async fn send_while_clock_jumps(
    h: &Harness,
    endpoint: Endpoint,
    advance: Duration,
    file: &Path,
) -> flowflex::Result<flowflex::SendEventResult> {
    h.emulator
        .inject(Fault::on(endpoint).delay(Duration::from_millis(400)));
    let emulator = h.emulator.clone();
    let jump = tokio::spawn(async move {
        eventually("the request to arrive", || {
            emulator.requests().iter().any(|r| r.endpoint == endpoint)
        })
        .await;
        emulator.advance_clock(advance);
    });
    let result = h
        .client
        .send_event("e", flowflex::json!({"doc": Attachment::from_path(file)}))
        .await;
    jump.await.expect("the clock task");
    result
}

#[tokio::test]
async fn upload_url_expired_before_the_put_is_a_clear_error() {
    let h = Harness::start().await;
    let file = h.sample_file("late.pdf", Mime::Pdf, 100);
    let err = send_while_clock_jumps(
        &h,
        Endpoint::Storage,
        flowflex_emulator::UPLOAD_TOKEN_TTL + Duration::from_secs(60),
        &file,
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Some("REQUEST_EXPIRED"), "{err}");
    assert_eq!(err.status(), Some(403));
    assert_eq!(err.path(), Some("doc"));
    assert!(err.to_string().contains("send the event again"), "{err}");
    assert_eq!(
        requests_to(&h.emulator, Endpoint::Storage).len(),
        1,
        "not retried"
    );
    assert!(h.emulator.events().is_empty());
    // What the message says works: a new send gets a fresh URL.
    h.client
        .send_event("e", flowflex::json!({"doc": Attachment::from_path(&file)}))
        .await
        .unwrap();
    assert_eq!(h.emulator.events().len(), 1);
    referenced_assets_are_whole(&h.emulator, &[("/doc", &file)]);
}

#[tokio::test]
async fn asset_expired_before_the_event_is_asset_file_missing() {
    let h = Harness::start().await;
    let file = h.sample_file("old.pdf", Mime::Pdf, 100);
    let err = send_while_clock_jumps(
        &h,
        Endpoint::Events,
        flowflex_emulator::ASSET_TTL + Duration::from_secs(60),
        &file,
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Some("ASSET_FILE_MISSING"), "{err}");
    assert_eq!(err.status(), Some(422));
    assert!(err.to_string().contains("48 h"), "{err}");
    assert!(h.emulator.events().is_empty());
    h.client
        .send_event("e", flowflex::json!({"doc": Attachment::from_path(&file)}))
        .await
        .unwrap();
    assert_eq!(h.emulator.events().len(), 1);
}

// ----------------------------------------------------------- cancellation

/// Drops a send as soon as a request to `endpoint` is being handled (the
/// emulator holds it open), then checks that nothing is left: no task on the
/// client's runtime, no request in flight, no event, nothing sent later.
async fn drop_mid_flight(endpoint: Endpoint) {
    let detached = DetachedEmulator::start();
    let emulator = &detached.emulator;
    // No idle connection outlives its request, so no pool task either.
    let http = flowflex::http_client_builder()
        .expect("the SDK's TLS")
        .pool_max_idle_per_host(0)
        .build()
        .expect("reqwest client");
    let client = builder_for(emulator)
        .http_client(http)
        .build()
        .expect("client");
    emulator.inject(Fault::on(endpoint).hang());
    let metrics = tokio::runtime::Handle::current().metrics();
    let payload = flowflex::json!({
        "a": Attachment::from_bytes(tests::sample(Mime::Pdf, 300_000), "a.pdf"),
        "b": Attachment::from_bytes(tests::sample(Mime::Png, 300_000), "b.png"),
    });
    let send = client
        .send_event("e", &payload)
        .idempotency_key("dropped")
        .into_future();
    tokio::select! {
        result = send => panic!("{endpoint}: the send ended: {result:?}"),
        // The client's connection task is alive while its request is held.
        () = eventually("the held request", || {
            emulator.in_flight(endpoint) == 1 && metrics.num_alive_tasks() > 0
        }) => {}
    }
    // The send future is dropped here, mid-flight.
    eventually("every client task to end", || {
        metrics.num_alive_tasks() == 0
    })
    .await;
    eventually("the held request to be abandoned", || {
        [Endpoint::UploadUrl, Endpoint::Storage, Endpoint::Events]
            .iter()
            .all(|e| emulator.in_flight(*e) == 0)
    })
    .await;
    let requests = emulator.requests().len();
    // Not a wait for anything: no client task is left (above), so nothing
    // can send; a request already in a socket would be recorded by now.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        emulator.requests().len(),
        requests,
        "{endpoint}: nothing sent after the drop"
    );
    assert!(emulator.events().is_empty(), "{endpoint}: no event");
}

#[tokio::test]
async fn dropping_a_send_during_the_upload_url_request_leaves_nothing_running() {
    drop_mid_flight(Endpoint::UploadUrl).await;
}

#[tokio::test]
async fn dropping_a_send_mid_upload_leaves_nothing_running() {
    drop_mid_flight(Endpoint::Storage).await;
}

#[tokio::test]
async fn dropping_a_send_during_the_event_request_leaves_nothing_running() {
    drop_mid_flight(Endpoint::Events).await;
}
