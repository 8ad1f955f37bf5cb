//! Every hint matches its error: credentials for a 401, `flowflex outbox
//! --help` for the outbox's usage errors, and a read-only `flowflex outbox`
//! that finds no outbox exits 2 saying what it found, creating nothing.
//! The messages are pinned by snapshots (ports and paths replaced).

mod common;

use common::{Local, flowflex, run};

/// stderr with what varies from run to run replaced by a name.
fn stable(stderr: &str, replace: &[(&str, &str)]) -> String {
    let mut out = stderr.to_owned();
    for (from, to) in replace {
        out = out.replace(from, to);
    }
    out
}

#[test]
fn a_refused_secret_points_at_the_credentials() {
    let local = Local::start();
    let base = local.emulator.base_url().to_string();
    for (name, args) in [
        ("send_401_without_file", vec!["send", "order.shipped"]),
        (
            "send_401_with_file",
            vec![
                "send",
                "order.shipped",
                "--attach",
                "invoice=examples/assets/invoice.pdf",
            ],
        ),
    ] {
        let r = run(local
            .flowflex()
            .args(&args)
            .env("FLOWFLEX_API_SECRET", "not-the-secret"));
        assert_eq!(r.code, 5, "{r:#?}");
        assert!(
            r.stderr.contains("hint: FlowFlex refused the credentials"),
            "{r:#?}"
        );
        assert!(!r.stderr.contains("--verbose"), "{r:#?}");
        assert!(!r.stderr.contains("not-the-secret"), "{r:#?}");
        insta::assert_snapshot!(
            name,
            stable(&r.stderr, &[(base.trim_end_matches('/'), "<base-url>")])
        );
    }
}

#[test]
fn outbox_errors_point_at_the_outbox_help() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("outbox.db");
    let missing_arg = missing.to_str().unwrap();
    let here = dir.path().display().to_string();
    for (name, args) in [
        ("outbox_no_store", vec!["outbox", "status"]),
        (
            "outbox_no_database",
            vec!["outbox", "status", "--sqlite", missing_arg],
        ),
        (
            "outbox_schema_without_postgres",
            vec!["outbox", "dead", "--sqlite", missing_arg, "--schema", "s"],
        ),
    ] {
        let r = run(flowflex().args(&args));
        assert_eq!(r.code, 2, "{r:#?}");
        assert!(!r.stderr.contains("flowflex send --help"), "{r:#?}");
        insta::assert_snapshot!(name, stable(&r.stderr, &[(&here, "<dir>")]));
    }
    assert!(!missing.exists(), "status created nothing");
    // A bad id is the outbox's usage error too (on a real outbox).
    let db = dir.path().join("real.db");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        drop(flowflex_outbox::Outbox::open_sqlite(&db).await.unwrap());
    });
    let r = run(flowflex().args(["outbox", "requeue", "x42", "--sqlite", db.to_str().unwrap()]));
    assert_eq!(r.code, 2, "{r:#?}");
    insta::assert_snapshot!("outbox_bad_id", r.stderr);
}

/// `status` on a PostgreSQL schema without an outbox: exit 2, and the
/// schema stays empty (no tables, no `_sqlx_migrations`).
#[test]
fn status_on_a_database_without_an_outbox_changes_nothing() {
    let url = std::env::var("FLOWFLEX_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let admin = match runtime.block_on(
        sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(std::time::Duration::from_secs(3))
            .connect(&url),
    ) {
        Ok(pool) => pool,
        Err(e) => {
            assert!(
                std::env::var("FLOWFLEX_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "FLOWFLEX_REQUIRE_POSTGRES=1 but no PostgreSQL at {url}: {e}"
            );
            eprintln!("skipped: no PostgreSQL at {url}");
            return;
        }
    };
    let schema = format!("cli_empty_{}", std::process::id());
    let count = |schema: String| {
        runtime.block_on(async {
            let (n,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = $1",
            )
            .bind(schema)
            .fetch_one(&admin)
            .await
            .unwrap();
            n
        })
    };
    runtime.block_on(async {
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&admin)
            .await
            .unwrap();
    });
    let in_schema = format!("{url}?options=-c%20search_path%3D{schema}");
    let r = run(flowflex()
        .args(["outbox", "status"])
        .env("FLOWFLEX_OUTBOX_POSTGRES", &in_schema));
    assert_eq!(r.code, 2, "{r:#?}");
    assert!(r.stderr.contains("no outbox in"), "{r:#?}");
    assert_eq!(count(schema.clone()), 0, "nothing created");
    let r = run(flowflex()
        .args(["outbox", "status", "--schema", &format!("{schema}_missing")])
        .env("FLOWFLEX_OUTBOX_POSTGRES", &url));
    assert_eq!(r.code, 2, "{r:#?}");
    let (created,): (Option<String>,) = runtime.block_on(async {
        sqlx::query_as("SELECT to_regnamespace($1)::TEXT")
            .bind(format!("{schema}_missing"))
            .fetch_one(&admin)
            .await
            .unwrap()
    });
    assert_eq!(created, None, "no schema created");
    runtime.block_on(async {
        sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
            .execute(&admin)
            .await
            .unwrap();
    });
}
