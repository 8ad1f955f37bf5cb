//! `flowflex_outbox_enqueue`, the PostgreSQL function any client can call
//! in its own transaction: from psql and from Python (psycopg), committed
//! and rolled back; the same idempotency key; the checks it makes, and the
//! one only the relay can make (a file's content against its type), which
//! ends in a dead letter that says why and holds back its ordering key.
//!
//! Python comes from a virtualenv under `target/` with psycopg from PyPI;
//! without python3 the Python part prints one "skipped" line, unless
//! `FLOWFLEX_REQUIRE_PYTHON=1` (CI) makes that a failure.
#![allow(clippy::print_stdout)]

mod common;

use flowflex_outbox::sqlx;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::{PgSchema, client, pdf, sha256, until};
use flowflex_emulator::Emulator;
use flowflex_outbox::Outbox;

/// Runs `sql` through psql on `url` (on its standard input, as a script
/// would); its output, or its error.
fn psql(url: &str, sql: &str) -> Result<String, String> {
    use std::io::Write as _;
    let mut child = Command::new("psql")
        .args([
            url,
            "-v",
            "ON_ERROR_STOP=1",
            "-X",
            "-q",
            "-t",
            "-A",
            "-f",
            "-",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("psql cannot run: {e}"))?;
    child
        .stdin
        .take()
        .ok_or("psql has no stdin")?
        .write_all(sql.as_bytes())
        .map_err(|e| format!("writing to psql: {e}"))?;
    let out = child.wait_with_output().map_err(|e| format!("psql: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
    }
}

/// psql takes the schema's search path as a libpq option in the URL.
fn psql_url(schema: &PgSchema) -> String {
    schema.schema_url()
}

fn file_sql(path: &str, name: &str, mime: &str, content: &[u8]) -> String {
    format!(
        "ROW('{path}', '{name}', '{mime}', decode('{}', 'hex'))::flowflex_outbox_file",
        hex::encode(content)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_enqueues_in_its_transaction_and_the_relay_delivers_with_the_file() {
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    let emulator = Emulator::start().await.expect("emulator");
    let outbox = Outbox::connect_postgres(&schema.schema_url())
        .await
        .expect("outbox");
    let url = psql_url(&schema);
    let doc = pdf(7, 3 << 20); // several chunks
    let file = file_sql("order.invoice", "invoice.pdf", "application/pdf", &doc);

    // Rolled back: nothing.
    psql(
        &url,
        &format!(
            "BEGIN; SELECT flowflex_outbox_enqueue('order.placed', '{{\"order\": {{\"id\": 1}}}}', \
             ARRAY[{file}], 'psql-rolled-back'); ROLLBACK;"
        ),
    )
    .expect("psql runs");
    assert_eq!(outbox.stats().await.expect("stats").pending, 0);

    // Committed: stored, with the file; the same key again is that event.
    let first = psql(
        &url,
        &format!(
            "BEGIN; SELECT flowflex_outbox_enqueue('order.placed', '{{\"order\": {{\"id\": 1}}}}', \
             ARRAY[{file}], 'psql-1', 'order-1'); COMMIT;"
        ),
    )
    .expect("psql runs");
    let again = psql(
        &url,
        "SELECT flowflex_outbox_enqueue('order.placed', '{}', idempotency_key => 'psql-1')",
    )
    .expect("psql runs");
    assert_eq!(first, again, "one key, one event");
    let plain = psql(
        &url,
        "SELECT flowflex_outbox_enqueue('order.shipped', '{\"order\": 1}', ordering_key => 'order-1')",
    )
    .expect("psql runs");
    assert_ne!(plain, first);
    assert_eq!(outbox.stats().await.expect("stats").pending, 2);

    // Refused where it can be known in SQL, with a message that says why.
    for (call, says) in [
        (
            "flowflex_outbox_enqueue('order placed ', '{}')",
            "event name",
        ),
        ("flowflex_outbox_enqueue('e', '[1]')", "JSON object"),
        (
            "flowflex_outbox_enqueue('e', '{}', idempotency_key => '')",
            "idempotency key",
        ),
        (
            "flowflex_outbox_enqueue('e', '{}', ARRAY[ROW('a', 'a.pdf', 'application/pdf', NULL)::flowflex_outbox_file])",
            "needs a path",
        ),
    ] {
        let err = psql(&url, &format!("SELECT {call}")).expect_err(call);
        assert!(err.contains(says), "{call}: {err}");
    }

    let relay = outbox
        .relay(client(&emulator))
        .poll_interval(Duration::from_millis(20))
        .spawn();
    let report = relay
        .flush(Duration::from_secs(30))
        .await
        .expect("delivered");
    relay.shutdown().await;
    assert_eq!(report.pending, 0);
    let events = emulator.events();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].idempotency_key.as_deref(), Some("psql-1"));
    assert_eq!(events[0].event, "order.placed");
    let asset = events[0].payload["order"]["invoice"]
        .as_str()
        .expect("the file's asset id at its path");
    assert_eq!(events[0].payload["order"]["id"], 1, "the rest as given");
    let stored = emulator.asset(asset).expect("the asset");
    assert_eq!(stored.sha256, sha256(&doc), "the file whole");
    assert_eq!(stored.filename, "invoice.pdf");
    assert_eq!(events[1].event, "order.shipped", "after its key's first");
    drop(outbox);
    schema.drop_schema().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_only_the_relay_can_judge_is_a_dead_letter_that_holds_back_its_key() {
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    let emulator = Emulator::start().await.expect("emulator");
    let outbox = Outbox::connect_postgres(&schema.schema_url())
        .await
        .expect("outbox");
    let url = psql_url(&schema);
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    let file = file_sql("invoice", "invoice.pdf", "application/pdf", &png);
    psql(
        &url,
        &format!(
            "SELECT flowflex_outbox_enqueue('order.placed', '{{}}', ARRAY[{file}], 'bad-file', 'order-9')"
        ),
    )
    .expect("stored: SQL cannot see inside the file");
    psql(
        &url,
        "SELECT flowflex_outbox_enqueue('order.shipped', '{}', idempotency_key => 'after-bad', ordering_key => 'order-9')",
    )
    .expect("stored");
    let relay = outbox
        .relay(client(&emulator))
        .poll_interval(Duration::from_millis(20))
        .spawn();
    until("the bad file to die", 30, || async {
        outbox.stats().await.expect("stats").dead == 1
    })
    .await;
    relay.shutdown().await;
    let dead = outbox.dead_letters().await.expect("dead letters");
    let error = &dead[0].error;
    assert!(error.contains("`invoice` (invoice.pdf)"), "{error}");
    assert!(
        error.to_lowercase().contains("png"),
        "says what it is: {error}"
    );
    let stats = outbox.stats().await.expect("stats");
    assert_eq!((stats.pending, stats.held_back), (1, 1));
    assert!(emulator.events().is_empty(), "nothing went past it");
    drop(outbox);
    schema.drop_schema().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sql_event_name_rule_is_the_sdks() {
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    let outbox = Outbox::connect_postgres(&schema.schema_url())
        .await
        .expect("outbox");
    let pool = outbox.pg_pool().expect("pool");
    let long = "e".repeat(256);
    let too_long = "e".repeat(257);
    for name in [
        "order.shipped",
        "order shipped",
        "a",
        "~!@#$%^&*()",
        long.as_str(),
        "",
        " ",
        " order",
        "order ",
        "order\tshipped",
        "order\nshipped",
        "ordér",
        "order\u{7f}",
        too_long.as_str(),
    ] {
        let sql: Result<(i64,), _> =
            sqlx::query_as("SELECT flowflex_outbox_enqueue($1, '{}'::jsonb)")
                .bind(name)
                .fetch_one(pool)
                .await;
        let rust = flowflex::__outbox::check_event_name(name);
        assert_eq!(
            sql.is_ok(),
            rust.is_ok(),
            "{name:?}: SQL {sql:?}, SDK {rust:?}"
        );
    }
    drop(outbox);
    schema.drop_schema().await;
}

/// A virtualenv with psycopg, under `target/`; `None` (after one skipped
/// line) without python3, unless `FLOWFLEX_REQUIRE_PYTHON=1`.
fn python_with_psycopg() -> Option<PathBuf> {
    if Command::new("python3").arg("--version").output().is_err() {
        assert!(
            std::env::var("FLOWFLEX_REQUIRE_PYTHON").as_deref() != Ok("1"),
            "FLOWFLEX_REQUIRE_PYTHON=1 but python3 is not installed"
        );
        println!("skipped: python3 is not installed");
        return None;
    }
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"),
        PathBuf::from,
    );
    let venv = target.join("outbox-python").join("venv");
    let python = venv.join("bin").join("python");
    let ready = Command::new(&python)
        .args(["-c", "import psycopg"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ready {
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .expect("python3 -m venv runs");
        assert!(made.success(), "python3 -m venv {}", venv.display());
        let installed = Command::new(&python)
            .args(["-m", "pip", "install", "--quiet", "psycopg[binary]==3.2.*"])
            .status()
            .expect("pip runs");
        assert!(installed.success(), "pip install psycopg");
    }
    Some(python)
}

const PYTHON: &str = r#"
import sys, psycopg
url, schema = sys.argv[1], sys.argv[2]
pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + bytes(range(256)) * 40
with psycopg.connect(url) as conn:
    conn.execute("SET search_path TO " + schema)
    conn.commit()
    # One that rolls back, one that commits: in the service's own transaction.
    for key, commit in (("py-rolled-back", False), ("py-1", True)):
        with conn.cursor() as cur:
            cur.execute("INSERT INTO orders VALUES (%s)", (key,))
            cur.execute(
                "SELECT flowflex_outbox_enqueue(%s, %s::jsonb, "
                "ARRAY[ROW(%s, %s, %s, %s)::flowflex_outbox_file], %s)",
                ("order.placed", '{"order": "%s"}' % key, "doc", "doc.pdf",
                 "application/pdf", pdf, key),
            )
            print(key, cur.fetchone()[0])
        if commit:
            conn.commit()
        else:
            conn.rollback()
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_enqueues_in_its_transaction_with_psycopg() {
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    let Some(python) = python_with_psycopg() else {
        schema.drop_schema().await;
        return;
    };
    let emulator = Emulator::start().await.expect("emulator");
    let outbox = Outbox::connect_postgres(&schema.schema_url())
        .await
        .expect("outbox");
    let pool = outbox.pg_pool().expect("pool");
    sqlx::query("CREATE TABLE orders (key TEXT PRIMARY KEY)")
        .execute(pool)
        .await
        .expect("orders");
    let out = Command::new(&python)
        .args(["-c", PYTHON, &schema.url, &schema.name])
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "python: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (orders,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM orders")
        .fetch_one(pool)
        .await
        .expect("orders");
    assert_eq!(orders, 1, "the rolled-back order went with its event");
    assert_eq!(outbox.stats().await.expect("stats").pending, 1);
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
    assert_eq!(events[0].idempotency_key.as_deref(), Some("py-1"));
    let asset = events[0].payload["doc"].as_str().expect("an asset id");
    let mut pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec();
    for _ in 0..40 {
        pdf.extend(0..=255u8);
    }
    assert_eq!(emulator.asset(asset).expect("asset").sha256, sha256(&pdf));
    drop(outbox);
    schema.drop_schema().await;
}
