SELECT data FROM flowflex_outbox_chunks WHERE blob = $1 AND seq = $2
