-- What a relay and an enqueue need without reading every row:
-- - `attachments` on each event (its attachment rows), so that a claim says
--   whether a delivery has attachment rows to read;
-- - the pending events and their bytes, kept by triggers in the same
--   transactions as the rows they count, so that the caps are checked
--   against 64 small rows instead of a count of the whole queue.
ALTER TABLE flowflex_outbox_events ADD COLUMN IF NOT EXISTS attachments INTEGER NOT NULL DEFAULT 0;
UPDATE flowflex_outbox_events e SET attachments = a.n
    FROM (SELECT event_id, COUNT(*) AS n FROM flowflex_outbox_attachments GROUP BY event_id) a
    WHERE a.event_id = e.id;

-- The count is spread over 64 rows (slots) whose sum is the total: a
-- transaction adds its change to a slot no other transaction holds, so
-- concurrent enqueues (and relays) never queue behind one hot row.
CREATE TABLE IF NOT EXISTS flowflex_outbox_pending (
    slot INTEGER PRIMARY KEY,
    events BIGINT NOT NULL DEFAULT 0,
    bytes BIGINT NOT NULL DEFAULT 0
);
INSERT INTO flowflex_outbox_pending (slot)
    SELECT s FROM generate_series(0, 63) AS s ON CONFLICT DO NOTHING;
UPDATE flowflex_outbox_pending p SET events = t.n, bytes = t.b
    FROM (SELECT COUNT(*) AS n, COALESCE(SUM(bytes), 0) AS b
          FROM flowflex_outbox_events WHERE status = 'pending') t
    WHERE p.slot = 0;

-- Row-level, and only when a row enters or leaves 'pending' (claims,
-- renewals and retries do not fire it). The slot: this backend's own
-- (pid mod 64) unless another transaction holds it, then the next free one
-- (SKIP LOCKED: no wait, so no deadlock with the caller's other locks);
-- only when all 64 are held does it wait for its own.
CREATE OR REPLACE FUNCTION flowflex_outbox_count_pending() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    d_events BIGINT := 0;
    d_bytes BIGINT := 0;
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status = 'pending' THEN
        d_events := d_events + 1;
        d_bytes := d_bytes + NEW.bytes;
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') AND OLD.status = 'pending' THEN
        d_events := d_events - 1;
        d_bytes := d_bytes - OLD.bytes;
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
CREATE TRIGGER flowflex_outbox_pending_insert AFTER INSERT ON flowflex_outbox_events
    FOR EACH ROW WHEN (NEW.status = 'pending')
    EXECUTE FUNCTION flowflex_outbox_count_pending();
DROP TRIGGER IF EXISTS flowflex_outbox_pending_update ON flowflex_outbox_events;
CREATE TRIGGER flowflex_outbox_pending_update AFTER UPDATE OF status, bytes ON flowflex_outbox_events
    FOR EACH ROW WHEN (OLD.status = 'pending' OR NEW.status = 'pending')
    EXECUTE FUNCTION flowflex_outbox_count_pending();
DROP TRIGGER IF EXISTS flowflex_outbox_pending_delete ON flowflex_outbox_events;
CREATE TRIGGER flowflex_outbox_pending_delete AFTER DELETE ON flowflex_outbox_events
    FOR EACH ROW WHEN (OLD.status = 'pending')
    EXECUTE FUNCTION flowflex_outbox_count_pending();
