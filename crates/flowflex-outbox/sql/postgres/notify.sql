-- Wakes the relays when the enqueuing transaction commits (never if it
-- rolls back). $1: the outbox's channel (one per schema); $2: "<first id>
-- <count>", which relays use to decide which of them goes.
SELECT pg_notify($1, $2)
