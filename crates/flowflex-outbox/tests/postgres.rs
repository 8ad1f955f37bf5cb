//! The PostgreSQL outbox against the emulator: transactional enqueue in the
//! service's own pool, attachments through the chunk store, several relays.

mod common;

use flowflex_outbox::sqlx;
use std::time::Duration;

use common::{PgSchema, client, pdf, sha256};
use flowflex::Attachment;
use flowflex_emulator::Emulator;
use flowflex_outbox::{ManualClock, Outbox};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enqueue_in_the_callers_transaction_is_stored_only_if_it_commits() {
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    let emulator = Emulator::start().await.unwrap();
    let pool = schema.pool(4).await;
    sqlx::query("CREATE TABLE orders (id BIGINT PRIMARY KEY, status TEXT NOT NULL)")
        .execute(&pool)
        .await
        .unwrap();
    let outbox = Outbox::from_pg_pool(pool.clone()).await.expect("outbox");
    let big = pdf(3, 3 << 20); // several chunks

    let mut tx = pool.begin().await.unwrap();
    sqlx::query("INSERT INTO orders VALUES (1, 'shipped')")
        .execute(&mut *tx)
        .await
        .unwrap();
    outbox
        .enqueue(
            "order.shipped",
            flowflex::json!({"order": 1, "doc": Attachment::from_bytes(big.clone(), "a.pdf")}),
        )
        .idempotency_key("order-1")
        .in_transaction(&mut tx)
        .await
        .expect("enqueued in tx");
    tx.rollback().await.unwrap();
    assert_eq!(
        outbox.stats().await.unwrap().pending,
        0,
        "rolled back: nothing"
    );
    let (chunks,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM flowflex_outbox_chunks")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(chunks, 0, "no content left behind");

    let mut tx = pool.begin().await.unwrap();
    sqlx::query("INSERT INTO orders VALUES (2, 'shipped')")
        .execute(&mut *tx)
        .await
        .unwrap();
    outbox
        .enqueue(
            "order.shipped",
            flowflex::json!({"order": 2, "doc": Attachment::from_bytes(big.clone(), "a.pdf")}),
        )
        .idempotency_key("order-2")
        .in_transaction(&mut tx)
        .await
        .expect("enqueued in tx");
    tx.commit().await.unwrap();

    let relay = outbox
        .relay(client(&emulator))
        .poll_interval(Duration::from_millis(20))
        .spawn();
    relay
        .flush(Duration::from_secs(30))
        .await
        .expect("delivered");
    relay.shutdown().await;
    let events = emulator.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].idempotency_key.as_deref(), Some("order-2"));
    let asset = emulator
        .asset(events[0].payload["doc"].as_str().unwrap())
        .unwrap();
    assert_eq!(asset.sha256, sha256(&big));
    let (chunks,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM flowflex_outbox_chunks")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(chunks, 0, "content freed once delivered");
    drop(outbox);
    pool.close().await;
    schema.drop_schema().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relays_sharing_an_outbox_deliver_each_event_once() {
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    let emulator = Emulator::start().await.unwrap();
    let url = schema.schema_url();
    let outbox = Outbox::connect_postgres(&url).await.expect("outbox");
    for i in 0..60 {
        outbox
            .enqueue(
                "e",
                flowflex::json!({"i": i, "doc": Attachment::from_bytes(pdf(i, 100), "d.pdf")}),
            )
            .idempotency_key(format!("k-{i}"))
            .await
            .unwrap();
    }
    // Three replicas, each with its own pool.
    let mut relays = Vec::new();
    for _ in 0..3 {
        let replica = Outbox::connect_postgres(&url).await.unwrap();
        relays.push((
            replica
                .relay(client(&emulator))
                .poll_interval(Duration::from_millis(10))
                .spawn(),
            replica,
        ));
    }
    relays[0].0.flush(Duration::from_secs(30)).await.unwrap();
    for (relay, _) in relays {
        relay.shutdown().await;
    }
    assert_eq!(emulator.events().len(), 60);
    // Each event was posted once: no two relays held it at the same time.
    let posts = emulator
        .requests()
        .iter()
        .filter(|r| r.endpoint == flowflex_emulator::Endpoint::Events)
        .count();
    assert_eq!(posts, 60);
    assert_eq!(emulator.assets().len(), 60, "each file uploaded once");
    drop(outbox);
    schema.drop_schema().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pending_count_follows_enqueue_delivery_dead_letters_requeue_and_rollback() {
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    let emulator = Emulator::start().await.unwrap();
    let outbox = Outbox::connect_postgres(&schema.schema_url())
        .await
        .expect("outbox");
    let pool = outbox.pg_pool().unwrap().clone();
    let mut tx = pool.begin().await.unwrap();
    outbox
        .enqueue("count.test", flowflex::json!({"rolled": "back"}))
        .in_transaction(&mut tx)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    common::assert_pending(&outbox, 0, "after a rolled back enqueue").await;
    // Enqueues from 16 tasks at once, each transaction adding to a slot of
    // its own: the slots' sum is still every event.
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..16 {
        let outbox = outbox.clone();
        tasks.spawn(async move {
            for i in 0..5 {
                outbox
                    .enqueue("count.test", flowflex::json!({"t": t, "i": i}))
                    .await
                    .unwrap();
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    common::assert_pending(&outbox, 80, "after 80 concurrent enqueues").await;
    let relay = outbox.relay(client(&emulator)).spawn();
    relay.flush(Duration::from_secs(20)).await.unwrap();
    relay.shutdown().await;
    common::assert_pending(&outbox, 0, "after 80 deliveries").await;
    emulator.clear_requests();
    common::pending_count_follows_every_change(&outbox, &emulator).await;
    drop(outbox);
    pool.close().await;
    schema.drop_schema().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivered_events_are_deleted_after_keep_delivered() {
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    let emulator = Emulator::start().await.unwrap();
    let clock = ManualClock::new();
    let keep = Duration::from_secs(3600);
    let outbox = Outbox::builder()
        .clock(clock.clone())
        .keep_delivered(keep)
        .connect_postgres(&schema.schema_url())
        .await
        .expect("outbox");
    common::delivered_events_are_deleted_after_keep_delivered(&outbox, &emulator, &clock, keep)
        .await;
    outbox.pg_pool().unwrap().close().await;
    drop(outbox);
    schema.drop_schema().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enqueue_many_stores_all_or_nothing() {
    let (Some(schema), Some(capped_schema)) = (PgSchema::create().await, PgSchema::create().await)
    else {
        return;
    };
    let outbox = Outbox::connect_postgres(&schema.schema_url())
        .await
        .expect("outbox");
    let capped = Outbox::builder()
        .max_pending_events(5)
        .connect_postgres(&capped_schema.schema_url())
        .await
        .expect("outbox");
    common::enqueue_many_stores_all_or_nothing(&outbox, &capped).await;

    // In the caller's transaction: stored if and only if it commits.
    let pool = outbox.pg_pool().expect("pool").clone();
    let batch = |tag: &'static str| {
        let outbox = &outbox;
        (0..3).map(move |i| {
            outbox
                .enqueue("many.test", flowflex::json!({"i": i}))
                .idempotency_key(format!("{tag}-{i}"))
        })
    };
    let before = outbox.stats().await.expect("stats").pending;
    let mut tx = pool.begin().await.expect("begin");
    outbox
        .enqueue_many(batch("rolled-back"))
        .in_transaction(&mut tx)
        .await
        .expect("stored in the transaction");
    tx.rollback().await.expect("rollback");
    assert_eq!(outbox.stats().await.expect("stats").pending, before);
    let mut tx = pool.begin().await.expect("begin");
    let ids = outbox
        .enqueue_many(batch("committed"))
        .in_transaction(&mut tx)
        .await
        .expect("stored in the transaction");
    tx.commit().await.expect("commit");
    assert_eq!(ids.len(), 3);
    assert_eq!(outbox.stats().await.expect("stats").pending, before + 3);
    drop((outbox, capped));
    schema.drop_schema().await;
    capped_schema.drop_schema().await;
}

/// Four relays, each on a pool of its own, with FlowFlex refusing and
/// losing answers: the events of each ordering key reach it one at a time,
/// in enqueue order, while events without a key go side by side.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_relays_under_faults_keep_each_ordering_key_in_order() {
    use flowflex_emulator::{Endpoint, Fault};
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    let emulator = Emulator::start().await.unwrap();
    emulator.inject(Fault::on(Endpoint::Events).status(503).rate(0.2).seed(21));
    emulator.inject(
        Fault::on(Endpoint::Events)
            .drop_after_processing()
            .rate(0.1)
            .seed(22),
    );
    let url = schema.schema_url();
    let service = Outbox::builder()
        .initial_backoff(Duration::from_millis(10))
        .max_backoff(Duration::from_millis(40))
        .connect_postgres(&url)
        .await
        .expect("outbox");
    let mut chains: Vec<Vec<String>> = vec![Vec::new(); 10];
    for seq in 0..8 {
        let batch: Vec<_> = (0..10)
            .map(|k| {
                let key = format!("k{k}-{seq}");
                chains[k].push(key.clone());
                service
                    .enqueue("order.test", flowflex::json!({"k": k, "seq": seq}))
                    .idempotency_key(key)
                    .ordering_key(format!("order-{k}"))
            })
            .chain((0..5).map(|i| {
                service
                    .enqueue("free.test", flowflex::json!({"i": i}))
                    .idempotency_key(format!("free-{seq}-{i}"))
            }))
            .collect();
        service.enqueue_many(batch).await.expect("enqueued");
    }
    let mut relays = Vec::new();
    for i in 0..4 {
        let replica = Outbox::builder()
            .initial_backoff(Duration::from_millis(10))
            .max_backoff(Duration::from_millis(40))
            .connect_postgres(&url)
            .await
            .expect("outbox");
        relays.push(
            replica
                .relay(client(&emulator))
                .concurrency(4)
                .poll_interval(Duration::from_millis(20))
                .name(format!("ordered-{i}"))
                .spawn(),
        );
    }
    let report = relays[0]
        .flush(Duration::from_secs(120))
        .await
        .expect("drained");
    assert!(report.dead.is_empty(), "{:?}", report.dead);
    for relay in relays {
        relay.shutdown().await;
    }
    let stats = service.stats().await.expect("stats");
    assert_eq!((stats.delivered, stats.pending), (120, 0));
    common::assert_in_order_one_at_a_time(&emulator, &chains);
    drop(service);
    schema.drop_schema().await;
}

/// `OutboxBuilder::schema`: the tables go in that schema (created), and
/// the outbox is found from any connection: an enqueue in a transaction
/// whose search path does not name the schema, the SQL function called by
/// its qualified name, a relay on a URL with no search path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schema_option_keeps_the_outbox_in_its_own_schema() {
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    let emulator = Emulator::start().await.unwrap();
    // Its own schema, named here (not the test's, which is the search
    // path only of the URL below, and which the outbox does not use).
    let own = format!("{}_own", schema.name);
    let plain = common::pg_url();
    let outbox = Outbox::builder()
        .schema(own.clone())
        .connect_postgres(&plain)
        .await
        .expect("outbox");
    let pool = outbox.pg_pool().expect("pool").clone();
    let tables: Vec<(String,)> = sqlx::query_as(
        "SELECT table_name::TEXT FROM information_schema.tables \
         WHERE table_schema = $1 ORDER BY 1",
    )
    .bind(&own)
    .fetch_all(&pool)
    .await
    .unwrap();
    let tables: Vec<String> = tables.into_iter().map(|(t,)| t).collect();
    for table in [
        "flowflex_outbox_events",
        "flowflex_outbox_relays",
        "_sqlx_migrations",
    ] {
        assert!(
            tables.iter().any(|t| t == table),
            "{table} in {own}: {tables:?}"
        );
    }

    // A transaction on a connection whose search path is the test's
    // schema, where there is no outbox.
    let elsewhere = schema.pool(2).await;
    let mut tx = elsewhere.begin().await.unwrap();
    outbox
        .enqueue("schema.test", flowflex::json!({"from": "a transaction"}))
        .idempotency_key("in-tx")
        .in_transaction(&mut tx)
        .await
        .expect("enqueued in a transaction with another search path");
    tx.commit().await.unwrap();
    let (_,): (i64,) = sqlx::query_as(common::dynamic!(format!(
        "SELECT \"{own}\".flowflex_outbox_enqueue('schema.test', '{{}}', idempotency_key => 'by-sql')"
    )))
    .fetch_one(&elsewhere)
    .await
    .expect("the function by its qualified name");
    let relay = outbox
        .relay(client(&emulator))
        .poll_interval(Duration::from_millis(20))
        .spawn();
    relay
        .flush(Duration::from_secs(30))
        .await
        .expect("delivered");
    relay.shutdown().await;
    let mut keys: Vec<String> = emulator
        .events()
        .into_iter()
        .filter_map(|e| e.idempotency_key)
        .collect();
    keys.sort();
    assert_eq!(keys, ["by-sql", "in-tx"]);
    let (outbox_in_test_schema,): (Option<String>,) =
        sqlx::query_as("SELECT to_regclass('flowflex_outbox_events')::TEXT")
            .fetch_one(&elsewhere)
            .await
            .unwrap();
    assert_eq!(outbox_in_test_schema, None, "nothing outside its schema");
    sqlx::query(common::dynamic!(format!("DROP SCHEMA \"{own}\" CASCADE")))
        .execute(&elsewhere)
        .await
        .unwrap();
    drop(outbox);
    schema.drop_schema().await;
}

/// A plain `&mut PgConnection` (as code that runs its own `BEGIN` has, or
/// a pooled connection as `&mut *conn`): the event joins the transaction
/// open on it, or, with none open, is stored at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enqueue_on_a_plain_connection_joins_its_open_transaction() {
    use sqlx::Connection as _;
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    let outbox = Outbox::connect_postgres(&schema.schema_url())
        .await
        .expect("outbox");
    let mut conn = sqlx::PgConnection::connect(&schema.schema_url())
        .await
        .expect("a connection of the service's own");
    let enqueue = |key: &'static str| {
        outbox
            .enqueue("conn.test", flowflex::json!({"key": key}))
            .idempotency_key(key)
    };
    sqlx::query("BEGIN").execute(&mut conn).await.unwrap();
    enqueue("rolled-back")
        .in_transaction(&mut conn)
        .await
        .expect("enqueued");
    sqlx::query("ROLLBACK").execute(&mut conn).await.unwrap();
    assert_eq!(outbox.stats().await.unwrap().pending, 0);
    sqlx::query("BEGIN").execute(&mut conn).await.unwrap();
    enqueue("committed")
        .in_transaction(&mut conn)
        .await
        .expect("enqueued");
    assert_eq!(
        outbox.stats().await.unwrap().pending,
        0,
        "not visible before the commit"
    );
    sqlx::query("COMMIT").execute(&mut conn).await.unwrap();
    assert_eq!(outbox.stats().await.unwrap().pending, 1);
    // No transaction open: stored at once.
    let mut pooled = outbox.pg_pool().expect("pool").acquire().await.unwrap();
    enqueue("at-once")
        .in_transaction(&mut *pooled)
        .await
        .expect("enqueued");
    assert_eq!(outbox.stats().await.unwrap().pending, 2);
    drop(pooled);
    conn.close().await.unwrap();
    drop(outbox);
    schema.drop_schema().await;
}

/// `create(false)` on PostgreSQL: an empty schema stays empty, an outbox at
/// an older migration is named as such, one at this version opens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opening_without_create_leaves_an_empty_schema_empty() {
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    let url = schema.schema_url();
    let err = Outbox::builder()
        .create(false)
        .connect_postgres(&url)
        .await
        .expect_err("no outbox");
    assert!(err.to_string().contains("no outbox in"), "{err}");
    let pool = schema.pool(1).await;
    let (tables,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = $1")
            .bind(&schema.name)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(tables, 0, "the schema stays empty");

    drop(Outbox::connect_postgres(&url).await.expect("created"));
    Outbox::builder()
        .create(false)
        .connect_postgres(&url)
        .await
        .expect("at this version");
    sqlx::query(
        "DELETE FROM _sqlx_migrations WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)",
    )
    .execute(&pool)
    .await
    .unwrap();
    let err = Outbox::builder()
        .create(false)
        .connect_postgres(&url)
        .await
        .expect_err("older");
    assert!(err.to_string().contains("is at migration"), "{err}");
    schema.drop_schema().await;
}

/// Every connection of the outbox's pool dies (a server restart, a
/// failover): the next enqueue still succeeds, on a fresh connection,
/// though the pool hands out the dead ones first (it does not ping them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enqueues_go_on_after_every_pooled_connection_dies() {
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    let app = format!("{}_service", schema.name);
    let url = format!("{}&application_name={app}", schema.schema_url());
    let outbox = Outbox::connect_postgres(&url).await.expect("outbox");
    // Open several connections: enqueues from many tasks at once.
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..32 {
        let outbox = outbox.clone();
        tasks.spawn(async move {
            outbox
                .enqueue("restart.test", flowflex::json!({"i": i}))
                .await
                .expect("enqueued");
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    let admin = schema.pool(1).await;
    let (killed,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = $1) t",
    )
    .bind(&app)
    .fetch_one(&admin)
    .await
    .unwrap();
    assert!(killed >= 2, "several pooled connections to kill: {killed}");
    for i in 0..3 {
        outbox
            .enqueue("restart.test", flowflex::json!({"after": i}))
            .await
            .expect("an enqueue after the restart");
    }
    assert_eq!(outbox.stats().await.unwrap().pending, 35);
    drop(outbox);
    schema.drop_schema().await;
}
