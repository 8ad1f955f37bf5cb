-- A blob's chunks, in order (streamed, one at a time in memory).
SELECT data FROM flowflex_outbox_chunks WHERE blob = $1 ORDER BY seq
