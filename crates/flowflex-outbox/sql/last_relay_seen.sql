-- When a relay was last seen (wall ms): a relay's heartbeat, alive or
-- not, or the last sighting of those gone.
SELECT MAX(t) FROM (SELECT MAX(last_seen) AS t FROM flowflex_outbox_relays
                    UNION ALL SELECT last_seen FROM flowflex_outbox_relays_seen) s
