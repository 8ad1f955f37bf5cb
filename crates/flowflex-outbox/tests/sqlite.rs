//! The SQLite outbox against the emulator: delivery, checks at enqueue,
//! transactions, outages, the asset lifetime, dead letters, backpressure.

mod common;

use flowflex_outbox::sqlx;
use std::time::Duration;

use common::{caught_up, client, drain, eventually, pdf, sha256};
use flowflex::Attachment;
use flowflex_emulator::{Emulator, Endpoint, Fault};
use flowflex_outbox::{Error, ManualClock, Outbox, OutboxBuilder};

fn fast() -> OutboxBuilder {
    Outbox::builder()
        .initial_backoff(Duration::from_millis(10))
        .max_backoff(Duration::from_millis(50))
        .jitter_seed(7)
}

struct Setup {
    emulator: Emulator,
    outbox: Outbox,
    _dir: tempfile::TempDir,
}

async fn setup(builder: OutboxBuilder) -> Setup {
    let emulator = Emulator::start().await.expect("emulator");
    let dir = tempfile::tempdir().expect("tempdir");
    let outbox = builder
        .open_sqlite(dir.path().join("outbox.db"))
        .await
        .expect("outbox opens");
    Setup {
        emulator,
        outbox,
        _dir: dir,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivers_each_event_once_with_whole_attachments() {
    let s = setup(fast()).await;
    let bytes = pdf(1, 300_000);
    let id = s
        .outbox
        .enqueue(
            "order.shipped",
            flowflex::json!({
                "invoice": Attachment::from_bytes(bytes.clone(), "invoice.pdf"),
                "copies": [Attachment::from_reader(std::io::Cursor::new(bytes.clone()), "copy.pdf")],
                "order_id": 42,
            }),
        )
        .idempotency_key("order-42-shipped")
        .await
        .expect("enqueued");
    let again = s
        .outbox
        .enqueue("order.shipped", flowflex::json!({"order_id": 42}))
        .idempotency_key("order-42-shipped")
        .await
        .expect("same key");
    assert_eq!(id, again, "a key already stored is not stored twice");
    assert_eq!(s.outbox.stats().await.unwrap().pending, 1);

    let relay = s
        .outbox
        .relay(client(&s.emulator))
        .poll_interval(Duration::from_millis(20))
        .spawn();
    relay.flush(Duration::from_secs(20)).await.expect("flushed");
    relay.shutdown().await;

    let events = s.emulator.events();
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(event.event, "order.shipped");
    assert_eq!(event.idempotency_key.as_deref(), Some("order-42-shipped"));
    assert_eq!(event.payload["order_id"], 42);
    for id in [&event.payload["invoice"], &event.payload["copies"][0]] {
        let asset = s
            .emulator
            .asset(id.as_str().expect("asset id"))
            .expect("asset");
        assert_eq!(asset.sha256, sha256(&bytes));
    }
    let stats = s.outbox.stats().await.unwrap();
    assert_eq!((stats.pending, stats.delivered, stats.dead), (0, 1, 0));
    assert_eq!(stats.oldest_pending_age, None);
    // Delivered, its files are no longer kept.
    let spool = s._dir.path().join("outbox.db.spool");
    let left: Vec<_> = std::fs::read_dir(&spool)
        .map(|dir| dir.map(|e| e.expect("entry").path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "spool files left: {left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enqueue_refuses_what_a_send_would_refuse_and_stores_nothing() {
    let s = setup(fast()).await;
    let png_named_pdf = Attachment::from_bytes(&b"\x89PNG\r\n\x1a\n...."[..], "invoice.pdf");
    let err = s
        .outbox
        .enqueue("order.shipped", flowflex::json!({"invoice": png_named_pdf}))
        .await
        .unwrap_err();
    assert_eq!(
        err.as_event_error()
            .and_then(flowflex::Error::attachment_kind),
        Some(flowflex::AttachmentErrorKind::TypeMismatch),
        "{err}"
    );
    let err = s
        .outbox
        .enqueue(" padded ", flowflex::json!({}))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Event(flowflex::Error::EventName { .. })),
        "{err:?}"
    );
    let err = s
        .outbox
        .enqueue("e", flowflex::json!([1, 2]))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Event(flowflex::Error::Payload { .. })),
        "{err:?}"
    );
    let err = s
        .outbox
        .enqueue("e", flowflex::json!({}))
        .idempotency_key("")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err:?}");
    let missing = Attachment::from_path("/nonexistent/file.pdf");
    let err = s
        .outbox
        .enqueue("e", flowflex::json!({"f": missing}))
        .await
        .unwrap_err();
    assert_eq!(
        err.as_event_error()
            .and_then(flowflex::Error::attachment_kind),
        Some(flowflex::AttachmentErrorKind::NotFound)
    );
    assert_eq!(s.outbox.stats().await.unwrap(), Default::default());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enqueue_in_a_transaction_is_stored_only_if_it_commits() {
    let s = setup(fast()).await;
    let pool = s.outbox.sqlite_pool().expect("sqlite").clone();
    sqlx::query("CREATE TABLE orders (id INTEGER PRIMARY KEY, status TEXT)")
        .execute(&pool)
        .await
        .unwrap();

    let mut tx = pool.begin().await.unwrap();
    sqlx::query("INSERT INTO orders VALUES (1, 'shipped')")
        .execute(&mut *tx)
        .await
        .unwrap();
    s.outbox
        .enqueue(
            "order.shipped",
            flowflex::json!({"order": 1, "f": Attachment::from_bytes(pdf(2, 100), "a.pdf")}),
        )
        .idempotency_key("order-1")
        .in_transaction(&mut tx)
        .await
        .expect("enqueued in tx");
    tx.rollback().await.unwrap();
    assert_eq!(
        s.outbox.stats().await.unwrap().pending,
        0,
        "rolled back: nothing"
    );

    let mut tx = pool.begin().await.unwrap();
    sqlx::query("INSERT INTO orders VALUES (2, 'shipped')")
        .execute(&mut *tx)
        .await
        .unwrap();
    s.outbox
        .enqueue("order.shipped", flowflex::json!({"order": 2}))
        .idempotency_key("order-2")
        .in_transaction(&mut tx)
        .await
        .expect("enqueued in tx");
    tx.commit().await.unwrap();
    assert_eq!(s.outbox.stats().await.unwrap().pending, 1);

    let relay = s
        .outbox
        .relay(client(&s.emulator))
        .poll_interval(Duration::from_millis(20))
        .spawn();
    relay.flush(Duration::from_secs(20)).await.expect("flushed");
    relay.shutdown().await;
    let keys: Vec<_> = s
        .emulator
        .events()
        .into_iter()
        .map(|e| e.idempotency_key)
        .collect();
    assert_eq!(keys, [Some("order-2".to_owned())]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_of_minutes_loses_nothing_and_the_backlog_drains() {
    let clock = ManualClock::new();
    let s = setup(Outbox::builder().clock(clock.clone()).jitter_seed(3)).await;
    s.emulator
        .inject(Fault::on(Endpoint::Events).status(503).every(1));
    s.emulator
        .inject(Fault::on(Endpoint::UploadUrl).status(503).every(1));
    let relay = s
        .outbox
        .relay(client(&s.emulator))
        .poll_interval(Duration::from_millis(10))
        .spawn();
    for i in 0..20 {
        s.outbox
            .enqueue(
                "tick",
                flowflex::json!({"i": i, "f": Attachment::from_bytes(pdf(i, 50), "t.pdf")}),
            )
            .idempotency_key(format!("tick-{i}"))
            .await
            .expect("enqueued during the outage");
    }
    // Ten minutes of the emulator's (and the outbox's) clock, refusing;
    // each minute, every event then due is tried before the next.
    caught_up(&s.outbox, &clock).await;
    for _ in 0..10 {
        clock.advance(Duration::from_secs(60));
        s.emulator.advance_clock(Duration::from_secs(60));
        caught_up(&s.outbox, &clock).await;
    }
    let refused = s
        .emulator
        .requests()
        .iter()
        .filter(|r| r.status == Some(503))
        .count();
    assert!(refused >= 20, "the relay kept trying: {refused} refusals");
    let stats = s.outbox.stats().await.unwrap();
    assert_eq!((stats.pending, stats.delivered, stats.dead), (20, 0, 0));
    assert!(stats.pending_bytes > 20 * 64);
    assert!(
        stats.oldest_pending_age.unwrap() >= Duration::from_secs(600),
        "{stats:?}"
    );
    assert!(s.emulator.events().is_empty());

    s.emulator.clear_faults();
    // The service is back, and no attempt is in flight (caught up above):
    // an hour on, past any backoff (max_backoff is an hour), all are due.
    clock.advance(Duration::from_secs(3600));
    relay
        .flush(Duration::from_secs(60))
        .await
        .expect("the backlog drains");
    relay.shutdown().await;
    let mut keys: Vec<_> = s
        .emulator
        .events()
        .into_iter()
        .filter_map(|e| e.idempotency_key)
        .collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 20);
    assert_eq!(s.outbox.stats().await.unwrap().delivered, 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_older_than_the_asset_lifetime_is_replaced_before_the_post() {
    let clock = ManualClock::new();
    let s = setup(Outbox::builder().clock(clock.clone()).jitter_seed(3)).await;
    s.emulator
        .inject(Fault::on(Endpoint::Events).status(503).every(1));
    let bytes = pdf(9, 1000);
    s.outbox
        .enqueue(
            "late",
            flowflex::json!({"doc": Attachment::from_bytes(bytes.clone(), "doc.pdf")}),
        )
        .idempotency_key("late-1")
        .await
        .unwrap();
    let relay = s
        .outbox
        .relay(client(&s.emulator))
        .poll_interval(Duration::from_millis(10))
        .spawn();
    let e = s.emulator.clone();
    eventually("the upload and a refused post", 10, || {
        e.assets().iter().any(|a| a.uploaded)
            && e.requests()
                .iter()
                .any(|r| r.endpoint == Endpoint::Events && r.status == Some(503))
    })
    .await;
    let first = s.emulator.assets()[0].asset_id.clone();
    relay.shutdown().await;

    // FlowFlex is back two days later: the first upload has expired.
    let two_days = Duration::from_secs(48 * 3600 + 60);
    clock.advance(two_days);
    s.emulator.advance_clock(two_days);
    s.emulator.clear_faults();
    drain(&s.outbox, &s.emulator, 20, "delivered").await;

    let events = s.emulator.events();
    assert_eq!(events.len(), 1);
    let sent = events[0].payload["doc"].as_str().unwrap().to_owned();
    assert_ne!(sent, first, "the event carries a fresh upload");
    let asset = s.emulator.asset(&sent).unwrap();
    assert_eq!(asset.sha256, sha256(&bytes));
    let stale_posts = s
        .emulator
        .requests()
        .iter()
        .filter(|r| r.endpoint == Endpoint::Events && r.status == Some(422))
        .count();
    assert_eq!(stale_posts, 0, "the stale id was never posted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_upload_is_reused_across_attempts() {
    let s = setup(fast()).await;
    s.emulator
        .inject(Fault::on(Endpoint::Events).status(503).times(6));
    s.outbox
        .enqueue(
            "e",
            flowflex::json!({"doc": Attachment::from_bytes(pdf(4, 10), "d.pdf")}),
        )
        .await
        .unwrap();
    drain(&s.outbox, &s.emulator, 20, "flushed").await;
    assert_eq!(s.emulator.events().len(), 1);
    assert_eq!(
        s.emulator.assets().len(),
        1,
        "uploaded once, reused while fresh"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_failure_is_a_dead_letter_until_requeued() {
    let s = setup(fast()).await;
    s.emulator
        .inject(Fault::on(Endpoint::Events).status(403).every(1));
    let id = s
        .outbox
        .enqueue(
            "e",
            flowflex::json!({"doc": Attachment::from_bytes(pdf(5, 10), "d.pdf")}),
        )
        .idempotency_key("dead-1")
        .await
        .unwrap();
    let relay = s
        .outbox
        .relay(client(&s.emulator))
        .poll_interval(Duration::from_millis(10))
        .spawn();
    let err = relay.flush(Duration::from_secs(10)).await;
    assert!(err.is_ok(), "a dead letter is not pending: {err:?}");
    let dead = s.outbox.dead_letters().await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].id, id);
    assert_eq!(dead[0].attempts, 1, "dead at once, not retried");
    assert_eq!(dead[0].idempotency_key, "dead-1");
    assert!(dead[0].error.contains("HTTP 403"), "{}", dead[0].error);
    assert_eq!(s.outbox.stats().await.unwrap().dead, 1);
    let not_dead = s
        .outbox
        .requeue(flowflex_outbox::OutboxId::from(999))
        .await
        .unwrap_err();
    assert!(matches!(not_dead, Error::NotFound(_)), "{not_dead}");

    s.emulator.clear_faults(); // the cause is fixed
    s.outbox.requeue(id).await.unwrap();
    relay.flush(Duration::from_secs(10)).await.unwrap();
    relay.shutdown().await;
    assert_eq!(s.emulator.events().len(), 1);
    let stats = s.outbox.stats().await.unwrap();
    assert_eq!((stats.delivered, stats.dead), (1, 0));
    let again = s.outbox.requeue(id).await.unwrap_err();
    assert!(matches!(again, Error::NotDead { .. }), "{again}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_the_service_refuses_is_a_dead_letter_with_its_error() {
    let emulator = Emulator::builder()
        .max_file_bytes(500)
        .start()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let outbox = fast().open_sqlite(dir.path().join("o.db")).await.unwrap();
    outbox
        .enqueue(
            "e",
            flowflex::json!({"doc": Attachment::from_bytes(pdf(6, 1000), "d.pdf")}),
        )
        .await
        .unwrap();
    let relay = outbox
        .relay(client(&emulator))
        .poll_interval(Duration::from_millis(10))
        .spawn();
    relay.flush(Duration::from_secs(10)).await.unwrap();
    relay.shutdown().await;
    let dead = outbox.dead_letters().await.unwrap();
    assert_eq!(dead.len(), 1);
    let error = &dead[0].error;
    assert!(error.contains("HTTP 4"), "{error}");
    // In the payload's terms: its path and file name, never the outbox's
    // own copy of the file.
    assert!(error.contains("at `doc` (d.pdf)"), "{error}");
    assert!(!error.contains(".spool"), "{error}");
    assert!(
        !error.contains(&dir.path().display().to_string()),
        "{error}"
    );
    assert!(emulator.events().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_stop_at_the_maximum_age() {
    let clock = ManualClock::new();
    let s = setup(
        Outbox::builder()
            .clock(clock.clone())
            .max_age(Duration::from_secs(3600))
            .jitter_seed(1),
    )
    .await;
    s.emulator
        .inject(Fault::on(Endpoint::Events).status(503).every(1));
    s.outbox
        .enqueue("e", flowflex::json!({"a": 1}))
        .await
        .unwrap();
    let relay = s
        .outbox
        .relay(client(&s.emulator))
        .poll_interval(Duration::from_millis(10))
        .spawn();
    // Two hours in steps of 15 minutes, each step's due attempt made
    // before the next; the one past max_age (an hour) buries it.
    caught_up(&s.outbox, &clock).await;
    for _ in 0..8 {
        clock.advance(Duration::from_secs(900));
        caught_up(&s.outbox, &clock).await;
    }
    relay.flush(Duration::from_secs(60)).await.unwrap();
    relay.shutdown().await;
    let dead = s.outbox.dead_letters().await.unwrap();
    assert_eq!(dead.len(), 1);
    assert!(
        dead[0].error.starts_with("undelivered after"),
        "{}",
        dead[0].error
    );
    assert!(dead[0].error.contains("HTTP 503"), "{}", dead[0].error);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_honoured() {
    let clock = ManualClock::new();
    let s = setup(
        Outbox::builder()
            .clock(clock.clone())
            .initial_backoff(Duration::from_millis(1))
            .jitter_seed(1),
    )
    .await;
    // More refusals than the client's own retries: the outbox must wait.
    s.emulator.inject(
        Fault::on(Endpoint::Events)
            .status(429)
            .retry_after_secs(600)
            .times(3),
    );
    s.outbox
        .enqueue("e", flowflex::json!({"a": 1}))
        .await
        .unwrap();
    let relay = s
        .outbox
        .relay(client(&s.emulator))
        .poll_interval(Duration::from_millis(10))
        .spawn();
    let e = s.emulator.clone();
    eventually("three refusals", 60, || e.requests().len() >= 3).await;
    // The refused attempt is recorded, its next one put off.
    caught_up(&s.outbox, &clock).await;
    clock.advance(Duration::from_secs(300));
    // Halfway through the wait the relay is at work: an event enqueued now
    // is delivered, and every event due by then has been tried. Only then
    // does "nothing sent" say something.
    s.outbox
        .enqueue("probe", flowflex::json!({"b": 2}))
        .idempotency_key("probe")
        .await
        .unwrap();
    eventually("the probe's delivery", 60, || e.events().len() == 1).await;
    caught_up(&s.outbox, &clock).await;
    assert_eq!(
        e.events()[0].idempotency_key.as_deref(),
        Some("probe"),
        "not before Retry-After"
    );
    assert_eq!(s.emulator.requests().len(), 4, "3 refusals and the probe");
    // Past the wait.
    clock.advance(Duration::from_secs(301));
    relay.flush(Duration::from_secs(60)).await.unwrap();
    relay.shutdown().await;
    assert_eq!(s.emulator.events().len(), 2);
    assert_eq!(s.emulator.requests().len(), 5, "one attempt after the wait");
}

/// The waits each pending event of a SQLite outbox has before its next
/// attempt, by the outbox's clock.
async fn stored_waits(outbox: &Outbox, clock: &ManualClock) -> Vec<Duration> {
    use flowflex_outbox::Clock as _;
    let now = clock
        .now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis();
    let pool = outbox.sqlite_pool().expect("sqlite");
    let next: Vec<(i64,)> = sqlx::query_as(
        "SELECT next_attempt_at FROM flowflex_outbox_events WHERE status = 'pending'",
    )
    .fetch_all(pool)
    .await
    .expect("read the next attempts");
    next.into_iter()
        .map(|(at,)| {
            let at = u128::try_from(at).expect("after 1970");
            assert!(at >= now, "an event due at {at} is not waiting at {now}");
            Duration::from_millis(u64::try_from(at - now).expect("a wait in range"))
        })
        .collect()
}

/// The outbox's own backoff: from `initial_backoff`, doubling up to
/// `max_backoff`, each wait drawn from the upper half of its base ("equal
/// jitter"), as the next attempt each failure stores says.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_waits_double_up_to_max_backoff_each_in_the_upper_half_of_its_base() {
    let clock = ManualClock::new();
    let s = setup(
        Outbox::builder()
            .clock(clock.clone())
            .initial_backoff(Duration::from_secs(8))
            .max_backoff(Duration::from_secs(32))
            .jitter_seed(5),
    )
    .await;
    s.emulator
        .inject(Fault::on(Endpoint::Events).status(503).every(1));
    for i in 0..8 {
        s.outbox
            .enqueue("w", flowflex::json!({"i": i}))
            .idempotency_key(format!("wait-{i}"))
            .await
            .unwrap();
    }
    let relay = s
        .outbox
        .relay(client(&s.emulator))
        .poll_interval(Duration::from_millis(10))
        .spawn();
    let mut all = Vec::new();
    for base in [8, 16, 32, 32].map(Duration::from_secs) {
        // Every event has failed once more and stored its next attempt.
        caught_up(&s.outbox, &clock).await;
        let waits = stored_waits(&s.outbox, &clock).await;
        assert_eq!(waits.len(), 8);
        for wait in &waits {
            assert!(
                *wait >= base / 2 && *wait <= base,
                "{wait:?} is outside the upper half of {base:?}"
            );
        }
        all.extend(waits);
        clock.advance(base); // past every wait of this round
    }
    relay.shutdown().await;
    let distinct: std::collections::BTreeSet<_> = all.iter().collect();
    assert!(distinct.len() > 16, "jittered: {all:?}");
    assert!(s.emulator.events().is_empty());
}

/// A stored row that cannot be read back (edited by hand here) is a dead
/// letter at its first attempt, saying so; the other events go.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_that_cannot_be_read_back_is_a_dead_letter_at_once() {
    let s = setup(fast()).await;
    let bad = s
        .outbox
        .enqueue(
            "e",
            flowflex::json!({"doc": Attachment::from_bytes(pdf(2, 10), "d.pdf")}),
        )
        .idempotency_key("corrupt-1")
        .await
        .unwrap();
    s.outbox
        .enqueue("e", flowflex::json!({"n": 2}))
        .idempotency_key("fine-2")
        .await
        .unwrap();
    let pool = s.outbox.sqlite_pool().expect("sqlite");
    sqlx::query(
        "UPDATE flowflex_outbox_events SET slots = 'not json' WHERE idempotency_key = 'corrupt-1'",
    )
    .execute(pool)
    .await
    .unwrap();
    let relay = s
        .outbox
        .relay(client(&s.emulator))
        .poll_interval(Duration::from_millis(10))
        .spawn();
    relay.flush(Duration::from_secs(60)).await.unwrap();
    relay.shutdown().await;
    let dead = s.outbox.dead_letters().await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].id, bad);
    assert_eq!(dead[0].attempts, 1, "dead at once, not retried");
    assert!(
        dead[0].error.contains("cannot be read back"),
        "{}",
        dead[0].error
    );
    let events = s.emulator.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].idempotency_key.as_deref(), Some("fine-2"));
}

/// `err` is `Error::Full` with these pending events and event cap.
fn assert_full(err: &Error, events: u64, max: u64) {
    match err {
        Error::Full {
            pending_events,
            max_events,
            ..
        } => assert_eq!((*pending_events, *max_events), (events, max)),
        other => panic!("expected Full, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_the_caps_enqueue_fails_with_a_typed_error() {
    let s = setup(fast().max_pending_events(3).max_pending_bytes(10_000)).await;
    for i in 0..3 {
        s.outbox
            .enqueue("e", flowflex::json!({"i": i}))
            .await
            .unwrap();
    }
    let err = s
        .outbox
        .enqueue("e", flowflex::json!({"i": 3}))
        .await
        .unwrap_err();
    assert_full(&err, 3, 3);
    let s = setup(fast().max_pending_bytes(5_000)).await;
    s.outbox
        .enqueue(
            "e",
            flowflex::json!({"f": Attachment::from_bytes(pdf(1, 3000), "a.pdf")}),
        )
        .await
        .unwrap();
    let err = s
        .outbox
        .enqueue(
            "e",
            flowflex::json!({"f": Attachment::from_bytes(pdf(2, 3000), "b.pdf")}),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Full { .. }), "{err:?}");
    assert!(err.to_string().starts_with("the outbox is full"), "{err}");
    assert_eq!(s.outbox.stats().await.unwrap().pending, 1);
    // Once delivered, there is room again.
    drain(&s.outbox, &s.emulator, 10, "flushed").await;
    s.outbox
        .enqueue(
            "e",
            flowflex::json!({"f": Attachment::from_bytes(pdf(2, 3000), "b.pdf")}),
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_claimed_ahead_are_posted_once_even_when_deliveries_are_slow() {
    // Two slots, 400 ms a delivery, a 300 ms lease, and only 8 events: the
    // ready ones wait past their lease, and the relay's own next claims
    // take them again (they are the only due rows) while the first copies
    // still wait or are being delivered. Each event must be posted once.
    let s = setup(fast()).await;
    s.emulator.inject(
        Fault::on(Endpoint::Events)
            .delay(Duration::from_millis(400))
            .every(1),
    );
    for i in 0..8 {
        s.outbox
            .enqueue("slow", flowflex::json!({"i": i}))
            .idempotency_key(format!("slow-{i}"))
            .await
            .unwrap();
    }
    let relay = s
        .outbox
        .relay(client(&s.emulator))
        .concurrency(2)
        .lease(Duration::from_millis(300))
        .poll_interval(Duration::from_millis(20))
        .spawn();
    relay.flush(Duration::from_secs(30)).await.unwrap();
    relay.shutdown().await;
    assert_eq!(s.emulator.events().len(), 8);
    let mut posts = std::collections::BTreeMap::<String, usize>::new();
    for r in s.emulator.requests() {
        if r.endpoint != Endpoint::Events {
            continue;
        }
        let key = r
            .headers
            .iter()
            .find(|(name, _)| name == "x-idempotency-key")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        *posts.entry(key).or_default() += 1;
    }
    assert_eq!(posts.len(), 8, "{posts:?}");
    assert!(
        posts.values().all(|n| *n == 1),
        "posted more than once: {posts:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_caps_hold_inside_the_callers_transaction_too() {
    let s = setup(fast().max_pending_events(2)).await;
    let pool = s.outbox.sqlite_pool().unwrap().clone();
    sqlx::query("CREATE TABLE orders (id INTEGER PRIMARY KEY)")
        .execute(&pool)
        .await
        .unwrap();
    let mut tx = pool.begin().await.unwrap();
    for i in 0..2 {
        sqlx::query("INSERT INTO orders VALUES ($1)")
            .bind(i)
            .execute(&mut *tx)
            .await
            .unwrap();
        s.outbox
            .enqueue("e", flowflex::json!({"order": i}))
            .in_transaction(&mut tx)
            .await
            .unwrap();
    }
    // The third, without attachments (no file to copy first), is over the
    // cap of 2: refused with the counts, and taken back out of the
    // transaction, which stays usable and keeps the caller's own writes.
    let err = s
        .outbox
        .enqueue("e", flowflex::json!({"order": 2}))
        .in_transaction(&mut tx)
        .await
        .unwrap_err();
    assert_full(&err, 2, 2);
    sqlx::query("INSERT INTO orders VALUES (2)")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let (orders,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM orders")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(orders, 3, "the caller's writes are untouched");
    common::assert_pending(&s.outbox, 2, "the refused event left no trace").await;
    let stored: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM flowflex_outbox_events")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stored.0, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pending_count_follows_enqueue_delivery_dead_letters_requeue_and_rollback() {
    let s = setup(fast()).await;
    let pool = s.outbox.sqlite_pool().unwrap().clone();
    let mut tx = pool.begin().await.unwrap();
    s.outbox
        .enqueue("count.test", flowflex::json!({"rolled": "back"}))
        .in_transaction(&mut tx)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    common::assert_pending(&s.outbox, 0, "after a rolled back enqueue").await;
    let mut tx = pool.begin().await.unwrap();
    s.outbox
        .enqueue("count.test", flowflex::json!({"committed": true}))
        .in_transaction(&mut tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    common::assert_pending(&s.outbox, 1, "after a committed enqueue").await;
    // The rest from an empty queue.
    let relay = s.outbox.relay(client(&s.emulator)).spawn();
    relay.flush(Duration::from_secs(10)).await.unwrap();
    relay.shutdown().await;
    s.emulator.clear_requests();
    common::pending_count_follows_every_change(&s.outbox, &s.emulator).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivered_events_are_deleted_after_keep_delivered() {
    let clock = ManualClock::new();
    let keep = Duration::from_secs(3600);
    let s = setup(fast().clock(clock.clone()).keep_delivered(keep)).await;
    common::delivered_events_are_deleted_after_keep_delivered(&s.outbox, &s.emulator, &clock, keep)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enqueue_many_stores_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = fast().open_sqlite(dir.path().join("o.db")).await.unwrap();
    let capped = fast()
        .max_pending_events(5)
        .open_sqlite(dir.path().join("capped.db"))
        .await
        .unwrap();
    common::enqueue_many_stores_all_or_nothing(&outbox, &capped).await;
}

/// An enqueue that lands while the relay's turn is running (its claim may
/// have started before the enqueue committed) still wakes it: with a poll
/// of an hour, every event must arrive by wake-ups alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enqueues_during_a_turn_are_not_missed_by_an_idle_relay() {
    let s = setup(fast()).await;
    let relay = s
        .outbox
        .relay(client(&s.emulator))
        .poll_interval(Duration::from_secs(3600))
        .spawn();
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..4 {
        let outbox = s.outbox.clone();
        tasks.spawn(async move {
            for i in 0..50 {
                outbox
                    .enqueue("wake.test", flowflex::json!({"t": t, "i": i}))
                    .await
                    .expect("enqueued");
                tokio::task::yield_now().await;
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("enqueue task");
    }
    let emulator = &s.emulator;
    eventually("200 events by wake-ups alone", 30, || {
        emulator.events().len() == 200
    })
    .await;
    relay.shutdown().await;
}

/// Events of one ordering key reach FlowFlex one at a time, in enqueue
/// order; a dead letter holds back the rest of its key (and only its key)
/// until it is discarded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ordering_key_keeps_order_and_a_dead_letter_holds_back_its_key() {
    let s = setup(fast()).await;
    let mut chains = [Vec::new(), Vec::new()];
    for i in 0..5 {
        for (k, name) in ["a", "b"].iter().enumerate() {
            let key = format!("{name}{i}");
            s.outbox
                .enqueue("order.test", flowflex::json!({"key": key.clone()}))
                .idempotency_key(key.clone())
                .ordering_key(format!("key-{name}"))
                .await
                .expect("enqueued");
            chains[k].push(key);
        }
        s.outbox
            .enqueue("order.test", flowflex::json!({"free": i}))
            .idempotency_key(format!("free{i}"))
            .await
            .expect("enqueued");
    }
    // The first POST is refused for good: one slot, so it is a0's (the
    // lowest id).
    s.emulator
        .inject(Fault::on(Endpoint::Events).status(400).times(1));
    let relay = s
        .outbox
        .relay(client(&s.emulator))
        .concurrency(1)
        .poll_interval(Duration::from_millis(10))
        .spawn();
    let outbox = &s.outbox;
    let emulator = &s.emulator;
    common::until("all but a's recorded", 30, || async {
        let stats = outbox.stats().await.expect("stats");
        (stats.delivered, stats.dead) == (10, 1)
    })
    .await;
    let stats = outbox.stats().await.expect("stats");
    assert_eq!((stats.pending, stats.held_back), (4, 4), "{stats:?}");
    let dead = outbox.dead_letters().await.expect("dead letters");
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].idempotency_key, "a0");
    assert_eq!(dead[0].ordering_key.as_deref(), Some("key-a"));
    assert!(
        emulator.events().iter().all(|e| !e
            .idempotency_key
            .as_deref()
            .unwrap_or("")
            .starts_with('a')),
        "nothing of key a went past its dead letter"
    );
    common::assert_in_order_one_at_a_time(emulator, &chains[1..]);

    // Discarded: the rest of key a goes, in order.
    outbox.discard(dead[0].id).await.expect("discarded");
    assert!(matches!(
        outbox.discard(dead[0].id).await,
        Err(flowflex_outbox::Error::NotFound(_))
    ));
    relay.flush(Duration::from_secs(30)).await.expect("drained");
    relay.shutdown().await;
    let stats = outbox.stats().await.expect("stats");
    assert_eq!((stats.pending, stats.dead, stats.held_back), (0, 0, 0));
    common::assert_in_order_one_at_a_time(emulator, &[chains[0][1..].to_vec(), chains[1].clone()]);
}

/// `create(false)` looks without touching: no database, or one without an
/// outbox, is `Error::NoOutbox` saying so, and nothing is created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opening_without_create_changes_nothing_and_says_what_it_found() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.db");
    let err = Outbox::builder()
        .create(false)
        .open_sqlite(&missing)
        .await
        .expect_err("no database");
    assert!(
        matches!(&err, flowflex_outbox::Error::NoOutbox { found } if found.contains("no database")),
        "{err}"
    );
    assert!(!missing.exists(), "nothing created");

    // A database that is not an outbox.
    let other = dir.path().join("other.db");
    {
        use sqlx::Connection as _;
        let url = format!("sqlite://{}?mode=rwc", other.display());
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query("CREATE TABLE orders (id INTEGER)")
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
    }
    let err = Outbox::builder()
        .create(false)
        .open_sqlite(&other)
        .await
        .expect_err("not an outbox");
    assert!(err.to_string().contains("no outbox in"), "{err}");
    assert!(!dir.path().join("other.db.spool").exists(), "no spool made");

    // An outbox: opened as it is.
    let path = dir.path().join("outbox.db");
    drop(Outbox::open_sqlite(&path).await.unwrap());
    let outbox = Outbox::builder()
        .create(false)
        .open_sqlite(&path)
        .await
        .expect("an outbox at this version");
    assert_eq!(outbox.stats().await.unwrap().pending, 0);
}

/// A relay stays alive in the outbox's eyes for as long as it runs: its
/// heartbeat moves `last_seen` on, lease after lease.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_relay_stays_alive_lease_after_lease() {
    let s = setup(fast()).await;
    let lease = Duration::from_millis(300);
    let relay = s
        .outbox
        .relay(client(&s.emulator))
        .lease(lease)
        .name("beating")
        .spawn();
    let outbox = &s.outbox;
    common::until("the relay to record itself", 30, || async {
        outbox.relays().await.expect("relays").len() == 1
    })
    .await;
    let first = outbox.relays().await.expect("relays")[0].clone();
    assert_eq!(first.name, "beating");
    assert_eq!(first.pid, std::process::id());
    // Three leases on, it has said so since, and still counts.
    common::until("three leases of heartbeats", 30, || async {
        outbox
            .relays()
            .await
            .expect("relays")
            .first()
            .is_some_and(|r| r.last_seen >= first.last_seen + 3 * lease)
    })
    .await;
    assert_eq!(outbox.stats().await.expect("stats").relays, 1);
    assert_eq!(
        outbox.relays().await.expect("relays")[0].started_at,
        first.started_at
    );
    relay.shutdown().await;
    assert_eq!(outbox.stats().await.expect("stats").relays, 0);
}
