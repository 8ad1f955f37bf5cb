//! Shared by the outbox tests: an emulator and a client for it, sample
//! files, a fresh PostgreSQL schema per test.
#![allow(dead_code, unreachable_pub, unused_imports, clippy::print_stdout)]

use flowflex_outbox::sqlx;
use std::time::Duration;

use flowflex::{Client, RetryConfig};
use flowflex_emulator::Emulator;
use flowflex_outbox::sqlx::postgres::PgPoolOptions;
use sha2::Digest as _;

/// SQL built at run time, as the sqlx in use takes it (0.9 asks that it be
/// marked as audited).
#[cfg(not(feature = "sqlx-0_9"))]
macro_rules! dynamic {
    ($text:expr) => {
        &*$text
    };
}
#[cfg(feature = "sqlx-0_9")]
macro_rules! dynamic {
    ($text:expr) => {
        flowflex_outbox::sqlx::AssertSqlSafe($text)
    };
}
pub(crate) use dynamic;

/// A client for `emulator` with quick, seeded retries.
pub fn client(emulator: &Emulator) -> Client {
    client_for(
        emulator.base_url().as_str(),
        emulator.api_key(),
        emulator.api_secret(),
        emulator.integration_code(),
    )
}

pub fn client_for(base_url: &str, key: &str, secret: &str, code: &str) -> Client {
    Client::builder()
        .api_key(key)
        .api_secret(secret)
        .integration_code(code)
        .base_url(base_url)
        .timeout(Duration::from_secs(10))
        .retry(
            RetryConfig::default()
                .max_retries(2)
                .initial_backoff(Duration::from_millis(5))
                .max_backoff(Duration::from_millis(20))
                .max_retry_after(Duration::from_millis(50))
                .jitter_seed(1),
        )
        .build()
        .expect("client builds")
}

/// A PDF-looking file of `extra + 14` bytes, different per `seed`.
pub fn pdf(seed: u64, extra: usize) -> Vec<u8> {
    let mut v = b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n".to_vec();
    let mut rng = fastrand::Rng::with_seed(seed);
    v.extend((0..extra).map(|_| rng.u8(..)));
    v
}

/// Lowercase hex SHA-256.
pub fn sha256(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Waits up to `secs` seconds for `condition`, polling every 10 ms.
pub async fn eventually(what: &str, secs: u64, mut condition: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    while !condition() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        // Not a wait for the condition: the pause between two looks at it.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits (up to 60 s, which only a hang exceeds) until the relays of a
/// SQLite outbox have caught up with `clock`: no pending event is due at
/// its time, so every event that was due has been attempted and the
/// outcome recorded (a claimed event stays due until its outcome is).
pub async fn caught_up(outbox: &flowflex_outbox::Outbox, clock: &flowflex_outbox::ManualClock) {
    use flowflex_outbox::Clock as _;
    let pool = outbox.sqlite_pool().expect("a SQLite outbox").clone();
    let now = clock
        .now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970");
    let now = i64::try_from(now.as_millis()).expect("milliseconds");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (due,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM flowflex_outbox_events \
             WHERE status = 'pending' AND next_attempt_at <= ?",
        )
        .bind(now)
        .fetch_one(&pool)
        .await
        .expect("count due events");
        if due == 0 {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{due} event(s) still due at the outbox's time after 60 s"
        );
        // Not a wait for the relays: the pause between two looks at the table.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The PostgreSQL server tests use.
pub fn pg_url() -> String {
    std::env::var("FLOWFLEX_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A fresh schema on the test server, dropped by [`PgSchema::drop_schema`].
/// `None` (after printing the one skip line) when no server answers, unless
/// `FLOWFLEX_REQUIRE_POSTGRES=1`.
pub struct PgSchema {
    pub url: String,
    pub name: String,
    admin: sqlx::PgPool,
}

impl PgSchema {
    pub async fn create() -> Option<PgSchema> {
        let url = pg_url();
        let admin = match PgPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(Duration::from_secs(3))
            .connect(&url)
            .await
        {
            Ok(pool) => pool,
            Err(e) => {
                if std::env::var("FLOWFLEX_REQUIRE_POSTGRES").as_deref() == Ok("1") {
                    panic!("FLOWFLEX_REQUIRE_POSTGRES=1 but no PostgreSQL at {url}: {e}");
                }
                println!("skipped: no PostgreSQL at {url}");
                return None;
            }
        };
        let name = format!("outbox_test_{}", uuid_like());
        sqlx::query(dynamic!(format!("CREATE SCHEMA {name}")))
            .execute(&admin)
            .await
            .expect("create schema");
        Some(PgSchema { url, name, admin })
    }

    /// The URL with this schema as the search path of every connection.
    pub fn schema_url(&self) -> String {
        let sep = if self.url.contains('?') { '&' } else { '?' };
        format!("{}{sep}options=-c%20search_path%3D{}", self.url, self.name)
    }

    /// A pool whose connections use this schema.
    pub async fn pool(&self, max: u32) -> sqlx::PgPool {
        PgPoolOptions::new()
            .max_connections(max)
            .connect(&self.schema_url())
            .await
            .expect("pool connects")
    }

    pub async fn drop_schema(self) {
        sqlx::query(dynamic!(format!("DROP SCHEMA {} CASCADE", self.name)))
            .execute(&self.admin)
            .await
            .expect("drop schema");
    }
}

fn uuid_like() -> String {
    let mut rng = fastrand::Rng::new();
    (0..12)
        .map(|_| rng.alphanumeric().to_ascii_lowercase())
        .collect()
}

/// The pending events and bytes as the outbox's triggers keep them, and as
/// the rows themselves count them.
pub async fn pending_counts(outbox: &flowflex_outbox::Outbox) -> ((i64, i64), (i64, i64)) {
    const KEPT: &str = "SELECT CAST(COALESCE(SUM(events), 0) AS BIGINT), \
         CAST(COALESCE(SUM(bytes), 0) AS BIGINT) FROM flowflex_outbox_pending";
    const ROWS: &str = "SELECT COUNT(*), CAST(COALESCE(SUM(bytes), 0) AS BIGINT) \
         FROM flowflex_outbox_events WHERE status = 'pending'";
    if let Some(pool) = outbox.sqlite_pool() {
        let kept = sqlx::query_as(KEPT)
            .fetch_one(pool)
            .await
            .expect("kept count");
        let rows = sqlx::query_as(ROWS)
            .fetch_one(pool)
            .await
            .expect("row count");
        (kept, rows)
    } else {
        let pool = outbox.pg_pool().expect("a PostgreSQL outbox");
        let kept = sqlx::query_as(KEPT)
            .fetch_one(pool)
            .await
            .expect("kept count");
        let rows = sqlx::query_as(ROWS)
            .fetch_one(pool)
            .await
            .expect("row count");
        (kept, rows)
    }
}

/// Asserts the kept count equals the rows' count and holds `events`;
/// returns the bytes.
pub async fn assert_pending(outbox: &flowflex_outbox::Outbox, events: i64, when: &str) -> i64 {
    let (kept, rows) = pending_counts(outbox).await;
    assert_eq!(
        kept, rows,
        "{when}: the kept count (left) drifted from the rows"
    );
    assert_eq!(kept.0, events, "{when}: pending events");
    kept.1
}

/// Runs a relay (polling every 10 ms) until nothing is pending, within
/// `secs` seconds, then shuts it down; fails with `what` otherwise.
pub async fn drain(outbox: &flowflex_outbox::Outbox, emulator: &Emulator, secs: u64, what: &str) {
    let relay = outbox
        .relay(client(emulator))
        .poll_interval(Duration::from_millis(10))
        .spawn();
    relay.flush(Duration::from_secs(secs)).await.expect(what);
    relay.shutdown().await;
}

/// Enqueue (a repeated key too), retry, dead letters, requeue, delivery:
/// after each, the pending count the triggers keep is the rows' count.
pub async fn pending_count_follows_every_change(
    outbox: &flowflex_outbox::Outbox,
    emulator: &Emulator,
) {
    use flowflex::Attachment;
    use flowflex_emulator::{Endpoint, Fault};

    assert_pending(outbox, 0, "at first").await;
    let delivered = outbox.stats().await.expect("stats").delivered;
    for i in 0..4u64 {
        let payload = if i % 2 == 0 {
            flowflex::json!({"i": i, "pad": "x".repeat(100 * i as usize)})
        } else {
            flowflex::json!({"i": i, "doc": Attachment::from_bytes(pdf(i, 1000 * i as usize), "d.pdf")})
        };
        outbox
            .enqueue("count.test", payload)
            .idempotency_key(format!("count-{i}"))
            .await
            .expect("enqueued");
    }
    outbox
        .enqueue("count.test", flowflex::json!({"again": true}))
        .idempotency_key("count-0")
        .await
        .expect("a repeated key");
    let bytes = assert_pending(outbox, 4, "after 4 enqueues and a repeated key").await;
    assert!(bytes > 3000, "the files count: {bytes} bytes");
    assert_eq!(
        outbox.stats().await.expect("stats").pending_bytes,
        u64::try_from(bytes).expect("bytes are positive")
    );

    emulator.inject(Fault::on(Endpoint::Events).status(403).every(1));
    drain(outbox, emulator, 20, "all dead").await;
    assert_pending(outbox, 0, "after 4 dead letters").await;
    let dead = outbox.dead_letters().await.expect("dead letters");
    assert_eq!(dead.len(), 4);

    outbox.requeue(dead[0].id).await.expect("requeued");
    outbox.requeue(dead[1].id).await.expect("requeued");
    assert_pending(outbox, 2, "after 2 requeues").await;

    // Three 503s: the client's own retries give up once, so the outbox
    // schedules a retry (no change of status), then delivers.
    emulator.clear_faults();
    emulator.inject(Fault::on(Endpoint::Events).status(503).times(3));
    drain(outbox, emulator, 20, "delivered").await;
    assert_pending(outbox, 0, "after 2 deliveries").await;
    let stats = outbox.stats().await.expect("stats");
    assert_eq!((stats.delivered - delivered, stats.dead), (2, 2));
}

/// Delivered events stay for `keep` of the outbox's clock, then go, by
/// `prune()` or by a relay on its own, and their keys with them: the same
/// key enqueued again is a new event. `outbox` runs on `clock`, with
/// `keep_delivered(keep)`, and holds no delivered event yet.
pub async fn delivered_events_are_deleted_after_keep_delivered(
    outbox: &flowflex_outbox::Outbox,
    emulator: &Emulator,
    clock: &flowflex_outbox::ManualClock,
    keep: Duration,
) {
    let enqueue = |key: String| async move {
        outbox
            .enqueue("kept", flowflex::json!({"key": key.clone()}))
            .idempotency_key(key)
            .await
            .expect("enqueued")
    };
    // Posts, not events: the emulator answers a key it has seen with the
    // first answer (FlowFlex's replay) and records the event once.
    let posts_of = |key: &str| {
        emulator
            .requests()
            .iter()
            .filter(|r| r.endpoint == flowflex_emulator::Endpoint::Events)
            .filter(|r| {
                r.headers
                    .iter()
                    .any(|(name, v)| name == "x-idempotency-key" && v == key)
            })
            .count()
    };
    let first = enqueue("kept-0".to_owned()).await;
    for i in 1..3 {
        enqueue(format!("kept-{i}")).await;
    }
    drain(outbox, emulator, 10, "delivered").await;
    assert_eq!(outbox.stats().await.expect("stats").delivered, 3);
    // Kept while young; the key still stands for the delivered event.
    assert_eq!(outbox.prune().await.expect("pruned"), 0);
    assert_eq!(enqueue("kept-0".to_owned()).await, first);
    clock.advance(keep + Duration::from_secs(1));
    assert_eq!(outbox.prune().await.expect("pruned"), 3);
    assert_eq!(outbox.stats().await.expect("stats").delivered, 0);
    // Past it, the same key is a new event, delivered again.
    assert_ne!(enqueue("kept-0".to_owned()).await, first);
    drain(outbox, emulator, 10, "delivered again").await;
    assert_eq!(posts_of("kept-0"), 2);
    // A relay deletes them on its own.
    clock.advance(keep + Duration::from_secs(1));
    let relay = outbox.relay(client(emulator)).spawn();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while outbox.stats().await.expect("stats").delivered > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the relay did not delete the old delivered event"
        );
        // Not a wait for the deletion: the pause between two looks at it.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    relay.shutdown().await;
}

/// What the relays of this test process said through `tracing` (target
/// `flowflex_outbox`): each event's message and fields, in order. Tests
/// tell their relays apart by name.
pub struct Captured {
    events: std::sync::Mutex<Vec<Said>>,
}

/// One event a relay said.
#[derive(Debug, Clone)]
pub struct Said {
    pub message: String,
    pub fields: std::collections::HashMap<String, String>,
}

impl Said {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }
}

impl Captured {
    /// The process's capture, installed as the global subscriber on first
    /// use.
    pub fn get() -> &'static Captured {
        static CAPTURED: std::sync::OnceLock<&'static Captured> = std::sync::OnceLock::new();
        CAPTURED.get_or_init(|| {
            use tracing_subscriber::layer::SubscriberExt as _;
            let captured: &'static Captured = Box::leak(Box::new(Captured {
                events: std::sync::Mutex::new(Vec::new()),
            }));
            let subscriber = tracing_subscriber::registry().with(Layer(captured));
            tracing::subscriber::set_global_default(subscriber)
                .expect("no other subscriber in the outbox tests");
            captured
        })
    }

    /// Everything said so far.
    pub fn all(&self) -> Vec<Said> {
        self.events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// How many events have been said so far (a mark to count from).
    pub fn mark(&self) -> usize {
        self.events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }

    /// What relays whose name starts with `prefix` said since `mark`.
    pub fn by(&self, prefix: &str, mark: usize) -> Vec<Said> {
        self.all()
            .into_iter()
            .skip(mark)
            .filter(|s| s.field("relay").is_some_and(|r| r.starts_with(prefix)))
            .collect()
    }
}

struct Layer(&'static Captured);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Layer {
    fn register_callsite(
        &self,
        m: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        if m.target() == "flowflex_outbox" && m.is_event() {
            tracing::subscriber::Interest::always()
        } else {
            tracing::subscriber::Interest::never()
        }
    }

    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        let mut said = Said {
            message: String::new(),
            fields: std::collections::HashMap::new(),
        };
        event.record(&mut said);
        self.0
            .events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(said);
    }
}

impl tracing::field::Visit for Said {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        let text = format!("{value:?}");
        if field.name() == "message" {
            self.message = text;
        } else {
            self.fields.insert(field.name().to_owned(), text);
        }
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.fields
            .insert(field.name().to_owned(), value.to_owned());
    }
}

/// `enqueue_many`: ids in order, one per key (a key twice in the batch, or
/// stored already, is the stored event), and all or nothing: a bad file or
/// the caps refuse the whole batch. `capped` holds at most 5 pending events.
pub async fn enqueue_many_stores_all_or_nothing(
    outbox: &flowflex_outbox::Outbox,
    capped: &flowflex_outbox::Outbox,
) {
    use flowflex::Attachment;
    let event = |key: &str| {
        outbox
            .enqueue("many.test", flowflex::json!({"key": key}))
            .idempotency_key(key)
    };
    let ids = outbox
        .enqueue_many([event("m-1"), event("m-2"), event("m-1"), event("m-3")])
        .await
        .expect("stored");
    assert_eq!(ids.len(), 4);
    assert_eq!(ids[0], ids[2], "one key, one event");
    assert!(ids[0] != ids[1] && ids[1] != ids[3] && ids[0] != ids[3]);
    assert_eq!(outbox.stats().await.expect("stats").pending, 3);
    // A key stored already is that event.
    let again = outbox
        .enqueue_many([event("m-2"), event("m-4")])
        .await
        .expect("stored");
    assert_eq!(again[0], ids[1]);
    assert_eq!(outbox.stats().await.expect("stats").pending, 4);

    // One bad file: nothing stored, the send's own error.
    let png = Attachment::from_bytes(&b"\x89PNG\r\n\x1a\n...."[..], "invoice.pdf");
    let err = outbox
        .enqueue_many([
            event("m-5"),
            outbox
                .enqueue("many.test", flowflex::json!({"invoice": png}))
                .idempotency_key("m-6"),
        ])
        .await
        .expect_err("a PNG named .pdf");
    assert_eq!(
        err.as_event_error().and_then(|e| e.attachment_kind()),
        Some(flowflex::AttachmentErrorKind::TypeMismatch),
        "{err}"
    );
    assert_eq!(
        outbox.stats().await.expect("stats").pending,
        4,
        "none of it"
    );

    // Over the caps: nothing stored.
    let six = (0..6).map(|i| {
        capped
            .enqueue("many.test", flowflex::json!({"i": i}))
            .idempotency_key(format!("cap-{i}"))
    });
    let err = capped.enqueue_many(six).await.expect_err("over the cap");
    assert!(
        matches!(err, flowflex_outbox::Error::Full { max_events: 5, .. }),
        "{err:?}"
    );
    assert_eq!(capped.stats().await.expect("stats").pending, 0);
    let five = (0..5).map(|i| capped.enqueue("many.test", flowflex::json!({"i": i})));
    assert_eq!(
        capped.enqueue_many(five).await.expect("at the cap").len(),
        5
    );
    assert_eq!(
        capped
            .enqueue_many(std::iter::empty())
            .await
            .expect("nothing")
            .len(),
        0
    );
}

/// The event POSTs the emulator received, in order: (idempotency key,
/// payload field `field`, answered status).
pub fn posts_in_order(emulator: &Emulator) -> Vec<(String, Option<u16>)> {
    emulator
        .requests()
        .into_iter()
        .filter(|r| r.endpoint == flowflex_emulator::Endpoint::Events)
        .filter_map(|r| {
            r.header("x-idempotency-key")
                .map(|k| (k.to_owned(), r.status))
        })
        .collect()
}

/// Events of one ordering key reach FlowFlex one at a time, in order:
/// `keys[k]` lists key k's idempotency keys in enqueue order; each must be
/// recorded once, in that order, and every POST of one must come before
/// the first POST of the next.
pub fn assert_in_order_one_at_a_time(emulator: &Emulator, keys: &[Vec<String>]) {
    let recorded: Vec<String> = emulator
        .events()
        .into_iter()
        .filter_map(|e| e.idempotency_key)
        .collect();
    let posts = posts_in_order(emulator);
    for chain in keys {
        let seen: Vec<&String> = recorded.iter().filter(|k| chain.contains(k)).collect();
        assert_eq!(
            seen,
            chain.iter().collect::<Vec<_>>(),
            "recorded once each, in enqueue order"
        );
        for pair in chain.windows(2) {
            let last_of_earlier = posts.iter().rposition(|(k, _)| *k == pair[0]);
            let first_of_later = posts.iter().position(|(k, _)| *k == pair[1]);
            assert!(
                last_of_earlier < first_of_later,
                "{} was posted before {} was done",
                pair[1],
                pair[0]
            );
        }
    }
}

/// Waits up to `secs` seconds for an async condition, checking every 10 ms.
pub async fn until<F, Fut>(what: &str, secs: u64, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    while !condition().await {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        // Not a wait for the condition: the pause between two looks at it.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
