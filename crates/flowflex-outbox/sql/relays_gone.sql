-- Notes that a relay was seen at $1 (wall ms) as it goes (shut down, or
-- forgotten): the latest such sighting is kept.
INSERT INTO flowflex_outbox_relays_seen (id, last_seen) VALUES (1, $1)
ON CONFLICT (id) DO UPDATE SET last_seen = CASE
    WHEN excluded.last_seen > flowflex_outbox_relays_seen.last_seen THEN excluded.last_seen
    ELSE flowflex_outbox_relays_seen.last_seen END
