//! Every statement of the outbox, from `sql/` (one file each; see
//! sql/README.md): those both databases run as they are, then each
//! database's own.

/// A statement built at run time (tables qualified with a schema, a
/// schema's name) as the sqlx in use takes it: sqlx 0.9 asks that such
/// text be marked as audited (these are built only from our own statements
/// and a schema name the caller configured, quoted).
#[cfg(not(feature = "sqlx-0_9"))]
macro_rules! dynamic {
    ($text:expr) => {
        &*$text
    };
}
#[cfg(feature = "sqlx-0_9")]
macro_rules! dynamic {
    ($text:expr) => {
        sqlx::AssertSqlSafe($text)
    };
}
pub(crate) use dynamic;

macro_rules! statements {
    ($($(#[$doc:meta])* $name:ident = $file:literal;)*) => {
        $($(#[$doc])* pub(crate) const $name: &str = include_str!(concat!("../../sql/", $file));)*
        /// Every statement, for the tests.
        #[cfg(test)]
        pub(crate) const ALL: &[(&str, &str)] = &[$(($file, $name)),*];
    };
}

statements! {
    RENEW = "renew.sql";
    RELEASE = "release.sql";
    RETRY = "retry.sql";
    DEAD = "dead.sql";
    SET_ASSET = "set_asset.sql";
    CLEAR_ASSETS = "clear_assets.sql";
    PENDING = "pending.sql";
    STATS = "stats.sql";
    DEAD_LETTERS = "dead_letters.sql";
    REQUEUE = "requeue.sql";
    STATUS_OF = "status_of.sql";
    PRUNE_DELIVERED = "prune_delivered.sql";
    EXISTING_KEY = "existing_key.sql";
    NEXT_DUE = "next_due.sql";
    /// SQLite's as it is; PostgreSQL's is [`pg_claim`].
    CLAIM = "claim.sql";
    HEARTBEAT = "heartbeat.sql";
    UNREGISTER = "unregister.sql";
    FORGET_RELAYS = "forget_relays.sql";
    HELD_BACK = "held_back.sql";
    DISCARD = "discard.sql";
    GAUGES = "gauges.sql";
    RELAYS_GONE = "relays_gone.sql";
    RELAYS_FORGOTTEN = "relays_forgotten.sql";
    LAST_RELAY_SEEN = "last_relay_seen.sql";

    SQLITE_DELIVERED = "sqlite/delivered.sql";
    SQLITE_FREE_ATTACHMENTS = "sqlite/free_attachments.sql";
    SQLITE_ATTACHMENTS = "sqlite/attachments.sql";
    SQLITE_INSERT_EVENT = "sqlite/insert_event.sql";
    SQLITE_INSERT_ATTACHMENT = "sqlite/insert_attachment.sql";
    SQLITE_TAKE_BACK = "sqlite/take_back.sql";
    SQLITE_RELAYS = "sqlite/relays.sql";

    PG_DELIVERED = "postgres/delivered.sql";
    PG_FREE_ATTACHMENTS = "postgres/free_attachments.sql";
    PG_ATTACHMENTS = "postgres/attachments.sql";
    PG_INSERT_EVENTS = "postgres/insert_events.sql";
    PG_EXISTING_KEYS = "postgres/existing_keys.sql";
    PG_INSERT_CHUNK = "postgres/insert_chunk.sql";
    PG_READ_CHUNKS = "postgres/read_chunks.sql";
    PG_DELETE_BLOBS = "postgres/delete_blobs.sql";
    PG_ORPHAN_CHUNKS = "postgres/orphan_chunks.sql";
    PG_NOTIFY = "postgres/notify.sql";
    PG_CHANNEL = "postgres/channel.sql";
    PG_RELAYS = "postgres/relays.sql";
}

/// The claim on PostgreSQL: [`CLAIM`] with its `-- lock` line as
/// `FOR UPDATE SKIP LOCKED`.
pub(crate) fn pg_claim() -> &'static str {
    static PG: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| CLAIM.replace("    -- lock\n", "    FOR UPDATE SKIP LOCKED\n"));
    &PG
}

#[cfg(test)]
mod tests {
    use super::ALL;

    #[test]
    fn postgres_claims_with_skip_locked_and_sqlite_without() {
        assert!(super::pg_claim().contains("LIMIT $5\n    FOR UPDATE SKIP LOCKED\n    )"));
        let statement = |sql: &str| {
            sql.lines()
                .filter(|l| !l.trim_start().starts_with("--"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert!(!statement(super::CLAIM).contains("FOR UPDATE"));
        assert!(statement(super::pg_claim()).contains("FOR UPDATE SKIP LOCKED"));
    }
    use crate::store::Status;

    /// Statuses are bound from `Status`, never spelled in a statement;
    /// but for the predicate of a partial index, which a query must state
    /// as the index does (see the next test).
    #[test]
    fn no_statement_spells_a_status() {
        for (file, sql) in ALL {
            for status in Status::ALL {
                if *file == "gauges.sql" && status == Status::Pending {
                    continue;
                }
                assert!(
                    !sql.contains(&format!("'{}'", status.as_str())),
                    "{file} spells the status {status}; bind it instead"
                );
            }
        }
    }

    /// The pending-age index and the query that reads it say the same
    /// predicate, with the status `Status::Pending` stores.
    #[test]
    fn the_oldest_pending_query_states_the_index_predicate() {
        let predicate = format!("WHERE status = '{}'", Status::Pending.as_str());
        assert!(super::GAUGES.contains(&predicate), "{predicate}");
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        for db in ["sqlite", "postgres"] {
            let migration = root
                .join(db)
                .join("20251203000001_flowflex_outbox_watch.sql");
            let text = std::fs::read_to_string(&migration).expect("the migration");
            assert!(text.contains(&predicate), "{}", migration.display());
        }
    }

    /// Every file in sql/ is one of the statements above (none forgotten).
    #[test]
    fn every_file_is_a_statement() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sql");
        let mut files = Vec::new();
        for dir in ["", "sqlite", "postgres"] {
            for entry in std::fs::read_dir(root.join(dir)).expect("sql/ is readable") {
                let path = entry.expect("an entry").path();
                if path.extension().is_some_and(|e| e == "sql") {
                    let rel = path.strip_prefix(&root).expect("under sql/");
                    files.push(rel.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        for file in &files {
            assert!(
                ALL.iter().any(|(name, _)| name == file),
                "sql/{file} is not included by src/store/sql.rs"
            );
        }
        assert_eq!(files.len(), ALL.len());
    }
}
