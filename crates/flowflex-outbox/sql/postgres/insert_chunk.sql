INSERT INTO flowflex_outbox_chunks (blob, seq, data, created_at) VALUES ($1, $2, $3, $4)
