//! Workload 6, the durable outbox (`flowflex-outbox`, issue 11): how fast
//! events become durable, how fast a relay delivers a backlog next to
//! sending the same events directly, PostgreSQL with one and with four
//! relays, and the memory an attachment of the service's largest size costs
//! on its way in and out.
//!
//! SQLite outboxes live under `target/bench-data/outbox/` (the disk a
//! service would use, not a tmpfs: every enqueue waits for an fsync), one
//! fresh database per run, removed after it. PostgreSQL runs each use a
//! fresh schema, dropped at the end; without a server they are reported
//! `n/a` with the reason.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use flowflex::{Attachment, Client};
use flowflex_outbox::Outbox;
use serde_json::{Value, json};
use sqlx::postgres::PgPoolOptions;
use tokio::runtime::Runtime;

use crate::data::{Files, size, target_dir};
use crate::probe::Memory;
use crate::server::Server;
use crate::workloads::{Outcome, Results};
use crate::{BoxError, Plan};

/// The event every outbox measurement stores and delivers.
const EVENT: &str = "bench.outbox";
/// Tasks enqueueing at once in the concurrent measurement.
pub(crate) const ENQUEUE_TASKS: usize = 64;
/// Deliveries in flight: the relay's `concurrency`, and the direct sends'
/// tasks it is compared with.
pub(crate) const IN_FLIGHT: usize = 64;
/// Relays sharing one PostgreSQL outbox in the second measurement.
pub(crate) const PG_RELAYS: usize = 4;
/// How long a backlog may take to drain before the run is called broken.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(300);

/// Runs every outbox measurement into `r`.
pub(crate) fn run(runtime: &Runtime, plan: &Plan, files: &Files, r: &mut Results) {
    eprintln!("6. outbox: durable enqueues per second on SQLite, 1 and {ENQUEUE_TASKS} tasks");
    r.outbox_enqueue1 = Outcome::of(runtime.block_on(enqueue_rate(plan, 1, 0)));
    r.outbox_enqueue64 = Outcome::of(runtime.block_on(enqueue_rate(plan, ENQUEUE_TASKS, 0)));
    eprintln!(
        "6. outbox: the same with {} events already pending",
        plan.outbox_backlog
    );
    r.outbox_enqueue1_backlog =
        Outcome::of(runtime.block_on(enqueue_rate(plan, 1, plan.outbox_backlog)));
    r.outbox_enqueue64_backlog =
        Outcome::of(runtime.block_on(enqueue_rate(plan, ENQUEUE_TASKS, plan.outbox_backlog)));

    eprintln!(
        "6. outbox: a relay delivering {} events (SQLite) vs send_event, {IN_FLIGHT} in flight",
        plan.outbox_events
    );
    let (relay, direct) = crate::workloads::split(runtime.block_on(relay_vs_direct(plan)));
    (r.outbox_relay, r.outbox_direct) = (relay, direct);

    eprintln!(
        "6. outbox: PostgreSQL, {} events delivered by 1 and by {PG_RELAYS} relays",
        plan.outbox_events
    );
    match runtime.block_on(postgres(plan)) {
        Ok(Pg::Unavailable(why)) => {
            eprintln!("  PostgreSQL: n/a ({why})");
            r.outbox_pg_unavailable = Some(why);
        }
        Ok(Pg::Measured {
            enqueue,
            one,
            several,
        }) => {
            r.outbox_pg_enqueue = Outcome::of(Ok(enqueue));
            r.outbox_pg1 = Outcome::of(Ok(one));
            r.outbox_pg4 = Outcome::of(Ok(several));
        }
        Err(err) => r.outbox_pg1 = Outcome::of(Err(err)),
    }

    eprintln!(
        "6. outbox: peak memory, enqueueing and delivering {} vs no file",
        size(plan.big_file)
    );
    let (growth, base) = crate::workloads::split(memory(plan, files));
    (r.outbox_rss, r.outbox_rss_base) = (growth, base);
}

/// A fresh directory for one SQLite outbox, removed when dropped.
pub(crate) struct Scratch(PathBuf);

impl Scratch {
    pub(crate) fn new(label: &str) -> Result<Scratch, BoxError> {
        let mut rng = fastrand::Rng::new();
        let tag: String = (0..10).map(|_| rng.alphanumeric()).collect();
        let dir = target_dir()?
            .join("bench-data")
            .join("outbox")
            .join(format!("{label}-{tag}"));
        std::fs::create_dir_all(&dir)?;
        Ok(Scratch(dir))
    }

    pub(crate) fn db(&self) -> PathBuf {
        self.0.join("outbox.db")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Closes an outbox's pool, so that its files can go.
pub(crate) async fn close(outbox: Outbox) {
    if let Some(pool) = outbox.sqlite_pool() {
        pool.close().await;
    }
    if let Some(pool) = outbox.pg_pool() {
        pool.close().await;
    }
}

// ---------------------------------------------------------------- enqueue

/// Durable enqueues per second (each `enqueue(..).await` returned, so
/// committed and fsynced) from `tasks` tasks for `plan.event_duration`, one
/// sample per run, each run on a fresh SQLite outbox holding `backlog`
/// pending events first.
async fn enqueue_rate(plan: &Plan, tasks: usize, backlog: usize) -> Result<Vec<f64>, BoxError> {
    let payload = crate::encode::order_json();
    let mut rates = Vec::new();
    for _ in 0..plan.runs {
        let scratch = Scratch::new("enqueue")?;
        let outbox = Outbox::open_sqlite(scratch.db()).await?;
        // The backlog in one transaction of the caller's: quick to set up.
        if backlog > 0 {
            let pool = outbox.sqlite_pool().ok_or("a SQLite outbox has a pool")?;
            let mut tx = pool.begin().await?;
            for _ in 0..backlog {
                outbox
                    .enqueue(EVENT, &payload)
                    .in_transaction(&mut tx)
                    .await?;
            }
            tx.commit().await?;
        }
        // Warm: the pool's connections, the writer, the file's first pages.
        for _ in 0..10 {
            outbox.enqueue(EVENT, &payload).await?;
        }
        let stored = Arc::new(AtomicU64::new(0));
        let start = Instant::now();
        let deadline = start + plan.event_duration;
        let workers: Vec<_> = (0..tasks)
            .map(|_| {
                let (outbox, payload, stored) =
                    (outbox.clone(), payload.clone(), Arc::clone(&stored));
                tokio::spawn(async move {
                    while Instant::now() < deadline {
                        outbox.enqueue(EVENT, &payload).await?;
                        stored.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok::<_, BoxError>(())
                })
            })
            .collect();
        for worker in workers {
            worker.await??;
        }
        let elapsed = start.elapsed().as_secs_f64();
        let stored = stored.load(Ordering::Relaxed);
        let pending = outbox.stats().await?.pending;
        let expected = stored + 10 + backlog as u64;
        if pending != expected {
            return Err(format!("{expected} events enqueued but {pending} are pending").into());
        }
        close(outbox).await;
        #[allow(clippy::cast_precision_loss)]
        rates.push(stored as f64 / elapsed);
    }
    Ok(rates)
}

/// Stores `n` events in `outbox` from [`ENQUEUE_TASKS`] tasks; returns
/// events per second.
async fn fill(outbox: &Outbox, n: usize) -> Result<f64, BoxError> {
    let payload = crate::encode::order_json();
    let outbox = outbox.clone();
    rate(ENQUEUE_TASKS, n, move || {
        let (outbox, payload) = (outbox.clone(), payload.clone());
        async move {
            outbox.enqueue(EVENT, &payload).await?;
            Ok(())
        }
    })
    .await
}

/// Events per second doing `n` jobs from `tasks` tasks, each taking the
/// next job as it finishes one.
async fn rate<F, Fut>(tasks: usize, n: usize, job: F) -> Result<f64, BoxError>
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<(), BoxError>> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let workers: Vec<_> = (0..tasks)
        .map(|_| {
            let (job, next) = (job.clone(), Arc::clone(&next));
            tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < n {
                    job().await?;
                }
                Ok::<_, BoxError>(())
            })
        })
        .collect();
    for worker in workers {
        worker.await??;
    }
    #[allow(clippy::cast_precision_loss)]
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

// ------------------------------------------------------------------ relay

/// Events per second: relays (each on its own `Outbox` handle, as replicas
/// would be; `outboxes[0]` holds the backlog) delivering everything
/// pending, from their start to `flush` returning.
async fn drain(outboxes: &[Outbox], client: &Client, expected: u64) -> Result<f64, BoxError> {
    let start = Instant::now();
    let relays: Vec<_> = outboxes
        .iter()
        .map(|o| o.relay(client.clone()).concurrency(IN_FLIGHT).spawn())
        .collect();
    let flushed = relays[0].flush(DRAIN_TIMEOUT).await;
    let elapsed = start.elapsed().as_secs_f64();
    for relay in relays {
        relay.shutdown().await;
    }
    flushed?;
    let stats = outboxes[0].stats().await?;
    if stats.delivered != expected || stats.dead != 0 {
        return Err(format!(
            "{} of {expected} events delivered, {} dead",
            stats.delivered, stats.dead
        )
        .into());
    }
    #[allow(clippy::cast_precision_loss)]
    Ok(expected as f64 / elapsed)
}

/// Events per second delivering `plan.outbox_events` events: a relay from
/// a SQLite outbox, and `send_event` from [`IN_FLIGHT`] tasks, alternated.
async fn relay_vs_direct(plan: &Plan) -> Result<(Vec<f64>, Vec<f64>), BoxError> {
    let server = Server::start(Duration::ZERO)?;
    let client = server.client()?;
    let payload = crate::encode::order_json();
    for _ in 0..20 {
        client.send_event(EVENT, &payload).await?;
    }
    let n = plan.outbox_events;
    let (mut relayed, mut direct) = (Vec::new(), Vec::new());
    for _ in 0..plan.runs {
        let scratch = Scratch::new("relay")?;
        let outbox = Outbox::open_sqlite(scratch.db()).await?;
        fill(&outbox, n).await?;
        relayed.push(drain(std::slice::from_ref(&outbox), &client, n as u64).await?);
        close(outbox).await;
        direct.push(send_all(&client, &payload, n).await?);
    }
    Ok((relayed, direct))
}

/// Events per second sending `n` events from [`IN_FLIGHT`] tasks.
async fn send_all(client: &Client, payload: &Value, n: usize) -> Result<f64, BoxError> {
    let (client, payload) = (client.clone(), payload.clone());
    rate(IN_FLIGHT, n, move || {
        let (client, payload) = (client.clone(), payload.clone());
        async move {
            client.send_event(EVENT, &payload).await?;
            Ok(())
        }
    })
    .await
}

// -------------------------------------------------------------- postgres

enum Pg {
    Unavailable(String),
    Measured {
        /// Events per second stored from [`ENQUEUE_TASKS`] tasks.
        enqueue: Vec<f64>,
        /// Events per second delivered by one relay, and by [`PG_RELAYS`].
        one: Vec<f64>,
        several: Vec<f64>,
    },
}

/// The server the outbox's PostgreSQL tests use.
fn pg_url() -> String {
    std::env::var("FLOWFLEX_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// `url` with the search path set to `schema` on every connection.
fn schema_url(url: &str, schema: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-c%20search_path%3D{schema}")
}

/// The URL with any password replaced, for messages.
fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let user = &url[scheme + 3..at];
            match user.find(':') {
                Some(colon) => {
                    format!("{}{}:***{}", &url[..scheme + 3], &user[..colon], &url[at..])
                }
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// The PostgreSQL server of the outbox's tests, through an admin pool that
/// makes and drops a fresh schema for each measurement.
pub(crate) struct PgServer {
    url: String,
    admin: sqlx::PgPool,
}

impl PgServer {
    /// Connects, or says why not (no server: reported, not a failure).
    pub(crate) async fn connect() -> Result<PgServer, String> {
        let url = pg_url();
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(3))
            .connect(&url)
            .await
            .map_err(|e| format!("no PostgreSQL at {} ({e})", redacted(&url)))?;
        Ok(PgServer { url, admin })
    }

    /// A fresh schema, and a URL whose connections use it.
    pub(crate) async fn schema(&self) -> Result<crate::fleet::Schema, BoxError> {
        let mut rng = fastrand::Rng::new();
        let name = format!(
            "flowflex_bench_{}",
            (0..12)
                .map(|_| rng.alphanumeric().to_ascii_lowercase())
                .collect::<String>()
        );
        sqlx::query(&format!("CREATE SCHEMA {name}"))
            .execute(&self.admin)
            .await?;
        Ok(crate::fleet::Schema {
            url: schema_url(&self.url, &name),
            name,
        })
    }

    pub(crate) async fn drop_schema(&self, name: &str) -> Result<(), BoxError> {
        sqlx::query(&format!("DROP SCHEMA {name} CASCADE"))
            .execute(&self.admin)
            .await?;
        Ok(())
    }

    /// The tuples written in `schema`'s tables, the transactions committed
    /// in the database and the WAL position. The statistics of closed
    /// connections reach the collector within a second or so: it waits
    /// that long first.
    pub(crate) async fn activity(&self, schema: &str) -> Result<crate::fleet::Activity, BoxError> {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        sqlx::query("SELECT pg_stat_clear_snapshot()")
            .execute(&self.admin)
            .await?;
        let (tuples,): (i64,) = sqlx::query_as(
            "SELECT CAST(COALESCE(SUM(n_tup_ins + n_tup_upd + n_tup_del), 0) AS BIGINT) \
             FROM pg_stat_user_tables WHERE schemaname = $1",
        )
        .bind(schema)
        .fetch_one(&self.admin)
        .await?;
        let (commits,): (i64,) = sqlx::query_as(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()",
        )
        .fetch_one(&self.admin)
        .await?;
        let (wal,): (i64,) =
            sqlx::query_as("SELECT CAST(pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0') AS BIGINT)")
                .fetch_one(&self.admin)
                .await?;
        Ok(crate::fleet::Activity {
            tuples,
            commits,
            wal,
        })
    }

    pub(crate) async fn close(self) {
        self.admin.close().await;
    }
}

async fn postgres(plan: &Plan) -> Result<Pg, BoxError> {
    let pg = match PgServer::connect().await {
        Ok(pg) => pg,
        Err(why) => return Ok(Pg::Unavailable(why)),
    };
    let server = Server::start(Duration::ZERO)?;
    let client = server.client()?;
    let (mut enqueue, mut one, mut several) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..plan.runs {
        for relays in [1, PG_RELAYS] {
            let schema = pg.schema().await?;
            let measured = pg_run(&schema.url, plan, &client, relays).await;
            let dropped = pg.drop_schema(&schema.name).await;
            let (stored, delivered) = measured?;
            dropped?;
            if relays == 1 {
                enqueue.push(stored);
                one.push(delivered);
            } else {
                several.push(delivered);
            }
        }
    }
    pg.close().await;
    Ok(Pg::Measured {
        enqueue,
        one,
        several,
    })
}

/// One measurement in a fresh schema: fill, then drain with `relays`
/// relays, each on an outbox (and pool) of its own as replicas would have.
async fn pg_run(
    url: &str,
    plan: &Plan,
    client: &Client,
    relays: usize,
) -> Result<(f64, f64), BoxError> {
    let n = plan.outbox_events;
    // One at a time: the first creates the tables, the others find them.
    let mut outboxes = Vec::with_capacity(relays);
    for _ in 0..relays {
        outboxes.push(Outbox::connect_postgres(url).await?);
    }
    let measured = async {
        let stored = fill(&outboxes[0], n).await?;
        let delivered = drain(&outboxes, client, n as u64).await?;
        Ok::<_, BoxError>((stored, delivered))
    }
    .await;
    for outbox in outboxes {
        close(outbox).await;
    }
    measured
}

// ----------------------------------------------------------------- memory

/// Growth of peak RSS (MiB) of enqueueing and delivering the large file
/// against the same without a file, and that baseline (MiB), per run, each
/// in a fresh `outbox-probe` process.
fn memory(plan: &Plan, files: &Files) -> Result<(Vec<f64>, Vec<f64>), BoxError> {
    let server = Server::start(Duration::ZERO)?;
    let exe = std::env::current_exe()?;
    let probe = |file: Option<&Path>| -> Result<f64, BoxError> {
        let scratch = Scratch::new("memory")?;
        let mut command = Command::new(&exe);
        command
            .args(["outbox-probe", "--base-url", server.base_url()])
            .arg("--db")
            .arg(scratch.db());
        if let Some(file) = file {
            command.arg("--file").arg(file);
        }
        let out = command.output()?;
        if !out.status.success() {
            return Err(format!(
                "the outbox probe failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )
            .into());
        }
        let value: Value = serde_json::from_slice(&out.stdout)?;
        let hwm = value
            .get("hwm_kib")
            .and_then(Value::as_f64)
            .ok_or_else(|| format!("no hwm_kib in {value}"))?;
        Ok(hwm / 1024.0)
    };
    crate::workloads::paired(plan.runs, || probe(None), || probe(Some(&files.big)))
}

/// The `outbox-probe` subcommand: in a fresh process, opens a SQLite
/// outbox at `db`, enqueues one event (with `file` attached, if given),
/// delivers it with a relay, and prints the process's peak memory as JSON.
pub(crate) fn probe(base_url: &str, db: &Path, file: Option<&Path>) -> Result<(), BoxError> {
    // The runtime a service would use: multi-threaded, one worker per core.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let client = crate::server::client(base_url)?;
        let outbox = Outbox::open_sqlite(db).await?;
        let payload = match file {
            Some(path) => {
                flowflex::json!({"order_id": "ord_1", "invoice": Attachment::from_path(path)})
            }
            None => flowflex::json!({"order_id": "ord_1", "invoice": null}),
        };
        outbox.enqueue(EVENT, payload).await?;
        let relay = outbox.relay(client).spawn();
        relay.flush(Duration::from_secs(120)).await?;
        relay.shutdown().await;
        let stats = outbox.stats().await?;
        if stats.delivered != 1 {
            return Err(format!("the event was not delivered: {stats:?}").into());
        }
        close(outbox).await;
        Ok::<_, BoxError>(())
    })?;
    let memory = Memory::current()?;
    println!(
        "{}",
        json!({"hwm_kib": memory.hwm_kib, "rss_kib": memory.rss_kib})
    );
    Ok(())
}
