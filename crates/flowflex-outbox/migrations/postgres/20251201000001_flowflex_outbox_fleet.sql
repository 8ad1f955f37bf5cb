-- For fleets of relays:
-- - every running relay's heartbeat (`flowflex_outbox_relays`): which
--   relays are alive, and for notifications, which of them wakes for an
--   event; `listener` is the backend pid of its listening connection;
-- - attachment content stored by blob (written before the rows that name
--   it, so that enqueues can share one transaction for their rows);
-- - the pending count kept by statement-level triggers: one counter
--   update per statement instead of one per event.
CREATE TABLE IF NOT EXISTS flowflex_outbox_relays (
    holder TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    host TEXT NOT NULL,
    pid BIGINT NOT NULL,
    started_at BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    lease_ms BIGINT NOT NULL,
    listener INTEGER
);

ALTER TABLE flowflex_outbox_chunks ADD COLUMN IF NOT EXISTS blob TEXT;
ALTER TABLE flowflex_outbox_chunks ADD COLUMN IF NOT EXISTS created_at BIGINT NOT NULL DEFAULT 0;
UPDATE flowflex_outbox_attachments a SET blob = 'e' || a.event_id || '.' || a.idx
    WHERE a.blob IS NULL AND EXISTS (SELECT 1 FROM flowflex_outbox_chunks c
                                     WHERE c.event_id = a.event_id AND c.idx = a.idx);
UPDATE flowflex_outbox_chunks SET blob = 'e' || event_id || '.' || idx;
-- Dropping the columns drops the old key and the foreign key with them.
ALTER TABLE flowflex_outbox_chunks DROP COLUMN event_id, DROP COLUMN idx;
ALTER TABLE flowflex_outbox_chunks ALTER COLUMN blob SET NOT NULL;
ALTER TABLE flowflex_outbox_chunks ADD PRIMARY KEY (blob, seq);
CREATE INDEX IF NOT EXISTS flowflex_outbox_attachments_blob
    ON flowflex_outbox_attachments (blob) WHERE blob IS NOT NULL;

-- The count, per statement: what entered 'pending' minus what left it.
-- (Transition tables rule out a column list, so every UPDATE fires it; a
-- claim or a renewal changes no status and returns at the first test.)
-- Its search path is the outbox's own (as it was when this ran): the
-- statement that fires it may come from any connection, yours included.
CREATE OR REPLACE FUNCTION flowflex_outbox_count_pending_rows() RETURNS trigger
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
    d_events BIGINT := 0;
    d_bytes BIGINT := 0;
    n BIGINT;
    b BIGINT;
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        SELECT COUNT(*), COALESCE(SUM(bytes), 0) INTO n, b FROM new_rows WHERE status = 'pending';
        d_events := d_events + n;
        d_bytes := d_bytes + b;
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        SELECT COUNT(*), COALESCE(SUM(bytes), 0) INTO n, b FROM old_rows WHERE status = 'pending';
        d_events := d_events - n;
        d_bytes := d_bytes - b;
    END IF;
    IF d_events = 0 AND d_bytes = 0 THEN
        RETURN NULL;
    END IF;
    UPDATE flowflex_outbox_pending SET events = events + d_events, bytes = bytes + d_bytes
        WHERE slot = (SELECT slot FROM flowflex_outbox_pending
                      ORDER BY (slot - pg_backend_pid() % 64 + 64) % 64
                      LIMIT 1 FOR UPDATE SKIP LOCKED);
    IF NOT FOUND THEN
        UPDATE flowflex_outbox_pending SET events = events + d_events, bytes = bytes + d_bytes
            WHERE slot = pg_backend_pid() % 64;
    END IF;
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS flowflex_outbox_pending_insert ON flowflex_outbox_events;
DROP TRIGGER IF EXISTS flowflex_outbox_pending_update ON flowflex_outbox_events;
DROP TRIGGER IF EXISTS flowflex_outbox_pending_delete ON flowflex_outbox_events;
CREATE TRIGGER flowflex_outbox_pending_insert AFTER INSERT ON flowflex_outbox_events
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION flowflex_outbox_count_pending_rows();
CREATE TRIGGER flowflex_outbox_pending_update AFTER UPDATE ON flowflex_outbox_events
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION flowflex_outbox_count_pending_rows();
CREATE TRIGGER flowflex_outbox_pending_delete AFTER DELETE ON flowflex_outbox_events
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION flowflex_outbox_count_pending_rows();
DROP FUNCTION IF EXISTS flowflex_outbox_count_pending();
