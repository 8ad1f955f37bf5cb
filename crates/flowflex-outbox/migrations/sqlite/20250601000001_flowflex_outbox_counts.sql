-- What a relay and an enqueue need without reading every row:
-- - `attachments` on each event (its attachment rows), so that a claim says
--   whether a delivery has attachment rows to read;
-- - the pending events and their bytes, kept by triggers in the same
--   transactions as the rows they count, so that the caps are checked
--   against one row instead of a count of the whole queue.
ALTER TABLE flowflex_outbox_events ADD COLUMN attachments INTEGER NOT NULL DEFAULT 0;
UPDATE flowflex_outbox_events SET attachments =
    (SELECT COUNT(*) FROM flowflex_outbox_attachments a WHERE a.event_id = flowflex_outbox_events.id)
    WHERE EXISTS (SELECT 1 FROM flowflex_outbox_attachments a WHERE a.event_id = flowflex_outbox_events.id);

-- One row: SQLite has one writer at a time, so it is never contended.
CREATE TABLE IF NOT EXISTS flowflex_outbox_pending (
    slot INTEGER PRIMARY KEY CHECK (slot = 0),
    events INTEGER NOT NULL,
    bytes INTEGER NOT NULL
);
INSERT INTO flowflex_outbox_pending (slot, events, bytes)
    SELECT 0, COUNT(*), COALESCE(SUM(bytes), 0) FROM flowflex_outbox_events WHERE status = 'pending';

CREATE TRIGGER IF NOT EXISTS flowflex_outbox_pending_insert
AFTER INSERT ON flowflex_outbox_events WHEN NEW.status = 'pending'
BEGIN
    UPDATE flowflex_outbox_pending SET events = events + 1, bytes = bytes + NEW.bytes;
END;

CREATE TRIGGER IF NOT EXISTS flowflex_outbox_pending_update
AFTER UPDATE OF status, bytes ON flowflex_outbox_events
WHEN OLD.status = 'pending' OR NEW.status = 'pending'
BEGIN
    UPDATE flowflex_outbox_pending SET
        events = events + (NEW.status = 'pending') - (OLD.status = 'pending'),
        bytes = bytes
            + CASE WHEN NEW.status = 'pending' THEN NEW.bytes ELSE 0 END
            - CASE WHEN OLD.status = 'pending' THEN OLD.bytes ELSE 0 END;
END;

CREATE TRIGGER IF NOT EXISTS flowflex_outbox_pending_delete
AFTER DELETE ON flowflex_outbox_events WHEN OLD.status = 'pending'
BEGIN
    UPDATE flowflex_outbox_pending SET events = events - 1, bytes = bytes - OLD.bytes;
END;
