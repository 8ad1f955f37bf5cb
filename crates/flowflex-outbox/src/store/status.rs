//! An event's status, as stored: the one place its spelling lives (the
//! statements bind it; the migrations' triggers and the PostgreSQL
//! function name it too, and a test holds them to this).

/// Where an event is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Status {
    /// Waiting for delivery: due, backing off, or claimed by a relay.
    Pending,
    /// FlowFlex accepted it.
    Delivered,
    /// A dead letter: it will not be delivered without help.
    Dead,
}

impl Status {
    pub(crate) const ALL: [Status; 3] = [Status::Pending, Status::Delivered, Status::Dead];

    /// The stored spelling.
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Delivered => "delivered",
            Status::Dead => "dead",
        }
    }

    /// A stored spelling read back; `None` for anything else.
    pub(crate) fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|status| status.as_str() == s)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Status;

    #[test]
    fn every_status_reads_back_as_itself_and_nothing_else_reads() {
        for status in Status::ALL {
            assert_eq!(Status::parse(status.as_str()), Some(status));
            assert_eq!(status.to_string(), status.as_str());
        }
        assert_eq!(Status::parse("Pending"), None);
        assert_eq!(Status::parse(""), None);
    }

    /// The migrations name the statuses in their triggers: only these.
    #[test]
    fn the_migrations_spell_statuses_as_the_enum_does() {
        let migrations = [
            include_str!("../../migrations/postgres/20250601000001_flowflex_outbox_counts.sql"),
            include_str!("../../migrations/postgres/20251201000001_flowflex_outbox_fleet.sql"),
            include_str!("../../migrations/sqlite/20250601000001_flowflex_outbox_counts.sql"),
            include_str!(
                "../../migrations/postgres/20251202000001_flowflex_outbox_order_and_sql.sql"
            ),
        ];
        for text in migrations {
            for quoted in text.split('\'').skip(1).step_by(2) {
                let looks_like_status = quoted.chars().all(|c| c.is_ascii_lowercase());
                if looks_like_status && !quoted.is_empty() {
                    assert!(
                        Status::parse(quoted).is_some() || ["e", "object"].contains(&quoted),
                        "a migration names status {quoted:?}, which Status does not know"
                    );
                }
            }
        }
    }
}
