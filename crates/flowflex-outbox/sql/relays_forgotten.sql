-- The latest sighting of the relays about to be forgotten (not seen since
-- $1, wall ms), if any.
SELECT MAX(last_seen) FROM flowflex_outbox_relays WHERE last_seen < $1
