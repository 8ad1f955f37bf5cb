-- The attachment rows of a batch of new events.
INSERT INTO flowflex_outbox_attachments (event_id, idx, filename, mime, size, used, blob)
SELECT * FROM UNNEST($1::BIGINT[], $2::INTEGER[], $3::TEXT[], $4::TEXT[], $5::BIGINT[],
                     $6::BOOLEAN[], $7::TEXT[])
