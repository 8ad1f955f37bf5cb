//! PostgreSQL outboxes shared by relays in other processes and in fleets:
//! notifications wake an idle relay at once (and a rolled-back enqueue
//! none), a relay survives its listening connection and its turns' backends
//! being killed, and 32 relays drain a queue exactly once while one event
//! wakes one of them, not all.
//!
//! Every relay here polls once an hour, so an event delivered within the
//! test's deadline was found by a wake-up, not by a poll. The tests of this
//! file run one at a time (they open up to 70 connections).
#![allow(clippy::print_stdout)]

mod common;

use flowflex_outbox::sqlx;
use std::collections::HashMap;
use std::time::Duration;

use common::{Captured, PgSchema, client, client_for, until};
use flowflex_emulator::{Emulator, Endpoint, Fault};
use flowflex_outbox::Outbox;
use flowflex_outbox::sqlx::postgres::{PgListener, PgPoolOptions};
use tokio::process::{Child, Command};

const CHILD: &str = "FLOWFLEX_OUTBOX_FLEET_CHILD";
const NEVER: Duration = Duration::from_secs(3600);

/// One test of this file at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// What every test of this file starts from: its turn (one at a time), a
/// schema of its own and its URL, an emulator. `None` in the child
/// process, and where no PostgreSQL server answers and none is required
/// (after `PgSchema`'s one skip line).
struct Fleet {
    _turn: tokio::sync::MutexGuard<'static, ()>,
    schema: PgSchema,
    emulator: Emulator,
    url: String,
}

impl Fleet {
    async fn start() -> Option<Fleet> {
        if std::env::var_os(CHILD).is_some() {
            return None;
        }
        let turn = SERIAL.lock().await;
        let schema = PgSchema::create().await?;
        let emulator = Emulator::start().await.expect("emulator");
        let url = schema.schema_url();
        Some(Fleet {
            _turn: turn,
            schema,
            emulator,
            url,
        })
    }
}

/// The child: a relay that polls once an hour on the outbox at
/// `FLOWFLEX_OUTBOX_FLEET_CHILD`, delivering to the emulator at
/// `FLOWFLEX_OUTBOX_FLEET_EMULATOR` until killed. Without the variable (a
/// plain test run) it returns at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_child_relay() {
    let Ok(url) = std::env::var(CHILD) else {
        return;
    };
    let base = std::env::var("FLOWFLEX_OUTBOX_FLEET_EMULATOR").expect("emulator url");
    let outbox = Outbox::connect_postgres(&url)
        .await
        .expect("the child opens the outbox");
    let client = client_for(
        &base,
        flowflex_emulator::DEFAULT_API_KEY,
        flowflex_emulator::DEFAULT_API_SECRET,
        flowflex_emulator::DEFAULT_INTEGRATION_CODE,
    );
    let _relay = outbox
        .relay(client)
        .poll_interval(NEVER)
        .name("child")
        .spawn();
    // Until killed: not a wait, the child's way of doing nothing else.
    loop {
        tokio::time::sleep(NEVER).await;
    }
}

fn spawn_child(url: &str, emulator: &Emulator) -> Child {
    Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "fleet_child_relay",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, url)
        .env("FLOWFLEX_OUTBOX_FLEET_EMULATOR", emulator.base_url())
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("child starts")
}

/// The event POSTs the emulator received, by idempotency key.
fn posts(emulator: &Emulator) -> HashMap<String, usize> {
    let mut posts = HashMap::new();
    for r in emulator.requests() {
        if r.endpoint == Endpoint::Events {
            if let Some(key) = r.header("x-idempotency-key") {
                *posts.entry(key.to_owned()).or_insert(0) += 1;
            }
        }
    }
    posts
}

fn arrived(emulator: &Emulator, key: &str) -> bool {
    emulator
        .events()
        .iter()
        .any(|e| e.idempotency_key.as_deref() == Some(key))
}

/// The outbox's notification channel, as the store names it.
async fn channel(pool: &sqlx::PgPool) -> String {
    sqlx::query_scalar("SELECT 'flowflex_outbox_' || left(md5(current_schema()), 16)")
        .fetch_one(pool)
        .await
        .expect("channel")
}

async fn enqueue(outbox: &Outbox, key: &str) -> flowflex_outbox::OutboxId {
    outbox
        .enqueue("fleet.test", flowflex::json!({"key": key}))
        .idempotency_key(key)
        .await
        .expect("enqueued")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_wakes_a_relay_in_another_process_and_a_rollback_wakes_nobody() {
    let Some(Fleet {
        _turn,
        schema,
        emulator,
        url,
    }) = Fleet::start().await
    else {
        return;
    };
    let outbox = Outbox::connect_postgres(&url).await.expect("outbox");
    let pool = outbox.pg_pool().expect("a pool").clone();
    let mut child = spawn_child(&url, &emulator);
    until("the child's relay to listen", 30, || async {
        outbox.stats().await.expect("stats").relays == 1
    })
    .await;

    // The first event may be found by the relay's first look; once it is
    // recorded, the relay has looked again, found nothing, and sleeps for
    // an hour unless woken.
    enqueue(&outbox, "first").await;
    until("the first event", 30, || async {
        outbox.stats().await.expect("stats").delivered == 1
    })
    .await;

    // A rolled-back enqueue, then a committed one: notices arrive in
    // commit order, so if the rollback had notified, its notice would come
    // first.
    let mut listener = PgListener::connect(&url).await.expect("listener");
    listener
        .listen(&channel(&pool).await)
        .await
        .expect("listen");
    let mut tx = pool.begin().await.expect("begin");
    outbox
        .enqueue("fleet.test", flowflex::json!({"key": "rolled-back"}))
        .idempotency_key("rolled-back")
        .in_transaction(&mut tx)
        .await
        .expect("enqueued in the transaction");
    tx.rollback().await.expect("rollback");
    let second = enqueue(&outbox, "second").await;
    let notice = tokio::time::timeout(Duration::from_secs(30), listener.recv())
        .await
        .expect("a notice")
        .expect("a notice");
    assert_eq!(
        notice.payload(),
        format!("{second} 1"),
        "the commit's notice, and only it"
    );

    until("the second event, woken by its notice", 30, || async {
        arrived(&emulator, "second")
    })
    .await;
    until("its delivery recorded", 30, || async {
        outbox.stats().await.expect("stats").delivered == 2
    })
    .await;
    let keys: Vec<_> = emulator
        .events()
        .into_iter()
        .filter_map(|e| e.idempotency_key)
        .collect();
    assert_eq!(
        keys,
        ["first", "second"],
        "the rolled-back event never existed"
    );
    assert_eq!(outbox.stats().await.expect("stats").pending, 0);
    child.kill().await.expect("SIGKILL");
    drop(outbox);
    schema.drop_schema().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_whose_listening_connection_is_killed_delivers_everything_once() {
    let Some(Fleet {
        _turn,
        schema,
        emulator,
        url,
    }) = Fleet::start().await
    else {
        return;
    };
    // The service's enqueues and the relay through handles of their own,
    // as two replicas: only notices carry the one's enqueues to the other.
    let service = Outbox::connect_postgres(&url).await.expect("outbox");
    let replica = Outbox::connect_postgres(&url).await.expect("outbox");
    let relay = replica
        .relay(client(&emulator))
        .poll_interval(NEVER)
        .name("listener-killed")
        .spawn();
    let pool = service.pg_pool().expect("pool").clone();
    let listener = || async {
        sqlx::query_scalar::<_, Option<i32>>("SELECT listener FROM flowflex_outbox_relays")
            .fetch_optional(&pool)
            .await
            .expect("relays")
            .flatten()
    };
    until("the relay to listen", 30, || async {
        listener().await.is_some()
    })
    .await;

    for i in 0..10 {
        enqueue(&service, &format!("before-{i}")).await;
    }
    until("the events before", 30, || async {
        (0..10).all(|i| arrived(&emulator, &format!("before-{i}")))
    })
    .await;

    let killed = listener().await.expect("a listener");
    let (terminated,): (bool,) = sqlx::query_as("SELECT pg_terminate_backend($1)")
        .bind(killed)
        .fetch_one(&pool)
        .await
        .expect("terminate");
    assert!(terminated);
    // Enqueued while it may not listen: found by its look after listening
    // again.
    for i in 0..10 {
        enqueue(&service, &format!("during-{i}")).await;
    }
    until("the relay to listen again", 30, || async {
        listener().await.is_some_and(|pid| pid != killed)
    })
    .await;
    for i in 0..10 {
        enqueue(&service, &format!("after-{i}")).await;
    }
    until("every event", 30, || async {
        service.stats().await.expect("stats").delivered == 30
    })
    .await;
    let posts = posts(&emulator);
    assert_eq!(posts.len(), 30);
    assert!(
        posts.values().all(|&c| c == 1),
        "each posted once: {posts:?}"
    );
    relay.shutdown().await;
    drop((service, replica));
    schema.drop_schema().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backends_terminated_mid_turn_lose_and_double_nothing() {
    let captured = Captured::get();
    let Some(Fleet {
        _turn,
        schema,
        emulator,
        url,
    }) = Fleet::start().await
    else {
        return;
    };
    // Slow posts keep the relay turning while it delivers.
    emulator.inject(
        Fault::on(Endpoint::Events)
            .delay(Duration::from_millis(5))
            .every(1),
    );
    let relay_url = format!("{url}&application_name={}_relay", schema.name);
    let service = Outbox::connect_postgres(&url).await.expect("outbox");
    let replica = Outbox::connect_postgres(&relay_url).await.expect("outbox");
    let n = 300;
    service
        .enqueue_many((0..n).map(|i| {
            service
                .enqueue("fleet.test", flowflex::json!({"i": i}))
                .idempotency_key(format!("turn-{i}"))
        }))
        .await
        .expect("enqueued");
    let mark = captured.mark();
    let relay = replica
        .relay(client(&emulator))
        .poll_interval(NEVER)
        .concurrency(8)
        .name("terminated")
        .spawn();
    let pool = service.pg_pool().expect("pool").clone();
    let failed_turns = || {
        captured
            .by("terminated", mark)
            .iter()
            .filter(|s| s.message == "claiming or recording failed")
            .count()
    };
    // Kill every backend of the relay's, each time a few more events have
    // gone out, until a turn has failed for it.
    let mut kills = 0;
    while failed_turns() == 0 && kills < 200 {
        let seen = emulator.events().len();
        until("more deliveries", 30, || async {
            emulator.events().len() > seen || service.stats().await.expect("stats").pending == 0
        })
        .await;
        if service.stats().await.expect("stats").pending == 0 {
            break;
        }
        sqlx::query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
        )
        .bind(format!("{}_relay", schema.name))
        .execute(&pool)
        .await
        .expect("terminate");
        kills += 1;
    }
    assert!(failed_turns() > 0, "no turn failed in {kills} kills");
    until("every event", 60, || async {
        service.stats().await.expect("stats").delivered == n
    })
    .await;
    let posts = posts(&emulator);
    assert_eq!(posts.len() as u64, n);
    assert!(
        posts.values().all(|&c| c == 1),
        "a recorded outcome is never posted again: {:?}",
        posts.iter().filter(|(_, n)| **n > 1).collect::<Vec<_>>()
    );
    relay.shutdown().await;
    drop((service, replica));
    schema.drop_schema().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_two_relays_drain_exactly_once_and_one_event_wakes_one_of_them() {
    let captured = Captured::get();
    let Some(Fleet {
        _turn,
        schema,
        emulator,
        url,
    }) = Fleet::start().await
    else {
        return;
    };
    let service = Outbox::connect_postgres(&url).await.expect("outbox");
    // 32 replicas, each with a pool of its own (one connection, and its
    // listener: 64 connections in all).
    let mut relays = Vec::new();
    for i in 0..32 {
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await
            .expect("pool");
        let replica = Outbox::from_pg_pool(pool).await.expect("outbox");
        relays.push(
            replica
                .relay(client(&emulator))
                .poll_interval(NEVER)
                .concurrency(4)
                .name(format!("herd-{i:02}"))
                .spawn(),
        );
    }
    until("32 relays to know of each other", 60, || async {
        let said = captured.by("herd-", 0);
        (0..32).all(|i| {
            let name = format!("herd-{i:02}");
            said.iter()
                .rev()
                .find(|s| s.message == "relays changed" && s.field("relay") == Some(name.as_str()))
                .is_some_and(|s| s.field("relays") == Some("32"))
        })
    })
    .await;
    assert_eq!(service.stats().await.expect("stats").relays, 32);

    // One event at a time: each wakes the relay it falls to.
    let mark = captured.mark();
    let singles = 8;
    for i in 0..singles {
        let key = format!("single-{i}");
        enqueue(&service, &key).await;
        until("a single event", 30, || async { arrived(&emulator, &key) }).await;
        until("its delivery recorded", 30, || async {
            service.stats().await.expect("stats").delivered == i + 1
        })
        .await;
    }
    let claims: Vec<_> = captured
        .by("herd-", mark)
        .into_iter()
        .filter(|s| s.message == "claimed")
        .collect();
    let empty = claims
        .iter()
        .filter(|s| s.field("claimed") == Some("0"))
        .count();
    let woken: std::collections::HashSet<_> =
        claims.iter().filter_map(|s| s.field("relay")).collect();
    println!(
        "{singles} events one at a time: {} claims, {empty} of them empty, by {} relays",
        claims.len(),
        woken.len()
    );
    // A herd would make 31 empty claims or more per event; each event here
    // costs its relay a claim that takes it and one, after it, that finds
    // nothing.
    assert!(
        claims.len() <= 3 * singles as usize && empty <= 2 * singles as usize,
        "{} claims, {empty} of them empty, for {singles} events (relays woken: {woken:?})",
        claims.len()
    );

    // A backlog: every relay wakes, and each event goes out once.
    let n = 2000;
    for batch in 0..4 {
        service
            .enqueue_many((0..n / 4).map(|i| {
                let key = format!("backlog-{batch}-{i}");
                service
                    .enqueue("fleet.test", flowflex::json!({"key": key.clone()}))
                    .idempotency_key(key)
            }))
            .await
            .expect("enqueued");
    }
    until("the backlog to drain", 120, || async {
        service.stats().await.expect("stats").pending == 0
    })
    .await;
    let stats = service.stats().await.expect("stats");
    assert_eq!((stats.delivered, stats.dead), (n + singles, 0));
    let posts = posts(&emulator);
    assert_eq!(posts.len() as u64, n + singles);
    assert!(posts.values().all(|&c| c == 1), "each posted once");
    let busy: std::collections::HashSet<_> = captured
        .by("herd-", mark)
        .into_iter()
        .filter(|s| s.message == "claimed" && s.field("claimed") != Some("0"))
        .filter_map(|s| s.field("relay").map(str::to_owned))
        .collect();
    assert!(
        busy.len() > 16,
        "the backlog spread over the fleet: {}",
        busy.len()
    );

    for relay in relays {
        relay.shutdown().await;
    }
    assert_eq!(service.stats().await.expect("stats").relays, 0);
    drop(service);
    schema.drop_schema().await;
}

/// Four relays on one outbox, two of them in other processes: four live;
/// the two children SIGKILLed, two within a lease (their listening
/// connections closed with them: their rows are still within their
/// lease); the others shut down, none, and the outbox still knows when a
/// relay was last seen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_relays_two_killed_drop_out_within_a_lease_and_shutdown_leaves_none() {
    let Some(Fleet {
        _turn,
        schema,
        emulator,
        url,
    }) = Fleet::start().await
    else {
        return;
    };
    let outbox = Outbox::connect_postgres(&url).await.expect("outbox");
    let stats = outbox.stats().await.expect("stats");
    assert_eq!((stats.relays, stats.last_relay_seen), (0, None));

    let mut children = [spawn_child(&url, &emulator), spawn_child(&url, &emulator)];
    let here: Vec<_> = (0..2)
        .map(|i| {
            outbox
                .relay(client(&emulator))
                .poll_interval(NEVER)
                .name(format!("here-{i}"))
                .spawn()
        })
        .collect();
    until("four live relays", 60, || async {
        outbox.stats().await.expect("stats").relays == 4
    })
    .await;
    let relays = outbox.relays().await.expect("relays");
    let names: Vec<&str> = relays.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["child", "child", "here-0", "here-1"]);
    let pids: Vec<u32> = children.iter().map(|c| c.id().expect("running")).collect();
    for relay in &relays[..2] {
        assert!(
            pids.contains(&relay.pid),
            "{relay:?} is a child's ({pids:?})"
        );
    }
    assert!(relays[2..].iter().all(|r| r.pid == std::process::id()));

    // The children's lease is the default, 60 s.
    let lease = Duration::from_secs(60);
    for child in &mut children {
        child.kill().await.expect("SIGKILL");
    }
    until(
        "two live relays after two SIGKILLs",
        lease.as_secs(),
        || async { outbox.stats().await.expect("stats").relays == 2 },
    )
    .await;
    let names: Vec<String> = outbox
        .relays()
        .await
        .expect("relays")
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, ["here-0", "here-1"]);
    // Out because their connections closed, not because a lease lapsed.
    let within: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM flowflex_outbox_relays WHERE name = 'child' \
         AND last_seen + lease_ms > (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT",
    )
    .fetch_one(outbox.pg_pool().expect("a PostgreSQL outbox"))
    .await
    .expect("the killed relays' rows");
    assert_eq!(within, 2, "the killed relays' rows are within their lease");

    let before = std::time::SystemTime::now();
    for relay in here {
        relay.shutdown().await;
    }
    let stats = outbox.stats().await.expect("stats");
    assert_eq!(stats.relays, 0);
    let seen = stats.last_relay_seen.expect("a relay was seen");
    let ms = |t: std::time::SystemTime| {
        t.duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_millis()
    };
    assert!(
        ms(seen) >= ms(before),
        "last seen as it shut down: {seen:?} vs {before:?}"
    );
    drop(outbox);
    schema.drop_schema().await;
}
