//! Shared by the outbox tests: an emulator and a client for it, sample
//! files, a fresh PostgreSQL schema per test.
#![allow(dead_code, unreachable_pub, clippy::print_stdout)]

use std::time::Duration;

use flowflex::{Client, RetryConfig};
use flowflex_emulator::Emulator;
use sha2::Digest as _;
use sqlx::postgres::PgPoolOptions;

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
        sqlx::query(&format!("CREATE SCHEMA {name}"))
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
        sqlx::query(&format!("DROP SCHEMA {} CASCADE", self.name))
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
