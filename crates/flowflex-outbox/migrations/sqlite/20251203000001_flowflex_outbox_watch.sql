-- What operators watch (the `metrics` feature's gauges, `flowflex outbox
-- status`), read without going through the queue:
-- - the pending events by age, for the oldest one: partial, so an event
--   leaves it when it is delivered or dies and it stays the size of the
--   queue (a query uses it only when it says `status = 'pending'` as
--   written here: sql/gauges.sql);
-- - when the relays that have gone were last seen: a relay that shuts
--   down removes its row, and one killed without a shutdown is forgotten
--   after a day; each leaves its last sighting here (one row), so that an
--   outbox with events pending can tell since when no relay has run.
CREATE INDEX IF NOT EXISTS flowflex_outbox_pending_age
    ON flowflex_outbox_events (created_at) WHERE status = 'pending';
CREATE TABLE IF NOT EXISTS flowflex_outbox_relays_seen (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    last_seen BIGINT NOT NULL
);
