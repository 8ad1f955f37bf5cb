//! `flowflex outbox`: status, dead letters, requeue and drain of a real
//! SQLite outbox, delivering to a real emulator.

mod common;

use common::{Local, asset, flowflex, run};

/// Runs `f` on the SQLite outbox at `path`, opened by the library, on a
/// runtime of its own (the tests themselves are synchronous).
fn with_outbox<F: std::future::Future<Output = ()>>(
    path: &std::path::Path,
    f: impl FnOnce(flowflex_outbox::Outbox) -> F,
) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let outbox = flowflex_outbox::Outbox::open_sqlite(path)
            .await
            .expect("outbox");
        f(outbox).await;
    });
}

fn enqueue(path: &std::path::Path, n: usize) {
    for i in 0..n {
        enqueue_one(path, &format!("cli-{i}"));
    }
}

fn enqueue_one(path: &std::path::Path, key: &str) {
    with_outbox(path, |outbox| async move {
        outbox
            .enqueue(
                "order.shipped",
                flowflex::json!({
                    "key": key,
                    "invoice": flowflex::Attachment::from_path(asset("invoice.pdf")),
                }),
            )
            .idempotency_key(key)
            .await
            .expect("enqueued");
    });
}

/// Makes every delivered event of the outbox at `path` look delivered long
/// ago (at the Unix epoch).
fn age_delivered(path: &std::path::Path) {
    with_outbox(path, |outbox| async move {
        let pool = outbox.sqlite_pool().expect("a SQLite outbox");
        sqlx::query(
            "UPDATE flowflex_outbox_events SET finished_at = 0, next_attempt_at = 0 \
             WHERE status = 'delivered'",
        )
        .execute(pool)
        .await
        .expect("aged");
    });
}

#[test]
fn status_drain_dead_and_requeue() {
    let local = Local::start();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("outbox.db");
    let db_arg = db.to_str().unwrap();
    enqueue(&db, 3);

    let r = run(flowflex().args(["outbox", "status", "--sqlite", db_arg]));
    assert_eq!(r.code, 0, "{r:#?}");
    assert!(r.stdout.starts_with("pending: 3 ("), "{r:#?}");
    assert!(r.stdout.contains("delivered: 0\ndead: 0"), "{r:#?}");

    // Wrong credentials: FlowFlex answers 401, a permanent failure.
    let r = run(local
        .flowflex()
        .args(["outbox", "drain", "--sqlite", db_arg, "--max-wait", "20"])
        .env("FLOWFLEX_API_SECRET", "wrong"));
    assert_eq!(r.code, 0, "{r:#?}");
    assert!(r.stderr.contains("draining:"), "progress on stderr: {r:#?}");
    assert!(r.stdout.contains("drained: 0 delivered, 3 dead"), "{r:#?}");
    assert!(
        !r.stderr.contains("wrong") && !r.stdout.contains("wrong"),
        "{r:#?}"
    );

    let r = run(flowflex().args(["outbox", "dead", "--sqlite", db_arg]));
    assert_eq!(r.code, 0, "{r:#?}");
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{r:#?}");
    assert!(
        lines[0].contains("cli-0") && lines[0].contains("HTTP 401"),
        "{r:#?}"
    );
    let first_id = lines[0].split('\t').next().unwrap();

    let r = run(flowflex().args(["outbox", "requeue", first_id, "--sqlite", db_arg]));
    assert_eq!(
        (r.code, r.stdout.trim()),
        (0, format!("requeued {first_id}").as_str()),
        "{r:#?}"
    );
    let r = run(flowflex().args(["outbox", "requeue", first_id, "--sqlite", db_arg]));
    assert_eq!(r.code, 2, "not dead any more: {r:#?}");
    assert!(r.stderr.contains("not dead"), "{r:#?}");

    let r = run(local
        .flowflex()
        .args(["outbox", "drain", "--sqlite", db_arg]));
    assert_eq!(r.code, 0, "{r:#?}");
    assert!(r.stdout.contains("drained: 1 delivered, 2 dead"), "{r:#?}");
    assert_eq!(local.emulator.events().len(), 1);

    let r = run(flowflex().args(["outbox", "status", "--sqlite", db_arg]));
    assert!(
        r.stdout.contains("pending: 0") && r.stdout.contains("delivered: 1\ndead: 2"),
        "{r:#?}"
    );

    // A delivered event older than any service would keep it: a drain from
    // the CLI deletes nothing (how long they stay is the services' setting).
    age_delivered(&db);
    enqueue_one(&db, "cli-late");
    let r = run(local
        .flowflex()
        .args(["outbox", "drain", "--sqlite", db_arg]));
    assert!(r.stdout.contains("drained: 1 delivered"), "{r:#?}");
    let r = run(flowflex().args(["outbox", "status", "--sqlite", db_arg]));
    assert!(r.stdout.contains("delivered: 2\ndead: 2"), "{r:#?}");
}

#[test]
fn outbox_needs_one_store() {
    let r = run(flowflex().args(["outbox", "status"]));
    assert_eq!(r.code, 2, "{r:#?}");
    assert!(
        r.stderr.contains("--sqlite PATH or --postgres URL"),
        "{r:#?}"
    );
    let r = run(flowflex().args(["outbox", "status", "--sqlite", "/nonexistent/outbox.db"]));
    assert_eq!(r.code, 2, "{r:#?}");
    assert!(r.stderr.contains("no database at"), "{r:#?}");
}
