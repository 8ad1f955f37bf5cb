-- Per-key order, and an enqueue any PostgreSQL client can call.
--
-- `ordering_key`: events with one key are delivered one at a time, in id
-- order; a pending or dead event holds back the later events of its key.
-- `body_format`: 0, the body the Rust SDK stored (attachments as tokens);
-- 1, plain JSON from flowflex_outbox_enqueue (attachments by payload
-- path, in `slots`, set by the relay at delivery).
ALTER TABLE flowflex_outbox_events ADD COLUMN IF NOT EXISTS ordering_key TEXT;
ALTER TABLE flowflex_outbox_events ADD COLUMN IF NOT EXISTS body_format SMALLINT NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS flowflex_outbox_ordering
    ON flowflex_outbox_events (ordering_key, id) WHERE ordering_key IS NOT NULL;

-- One file of flowflex_outbox_enqueue: where it stands in the payload
-- (`invoice`, `gallery[0]`, `order.receipt`), its name, its type, its bytes.
DO $$ BEGIN
    CREATE TYPE flowflex_outbox_file AS (path TEXT, filename TEXT, mime TEXT, content BYTEA);
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;

-- Enqueues an event in the caller's transaction, from any client (psql,
-- diesel, tokio-postgres, another language): stored if and only if that
-- transaction commits; its id. The same idempotency key again stores
-- nothing and returns the stored event's id. What only the SDK can check
-- (each file's content against its type, the allowed types) the relay
-- checks before uploading: a bad file becomes a dead letter saying why.
-- The outbox's caps (max_pending_events, max_pending_bytes) are the
-- Rust side's and are not checked here.
CREATE OR REPLACE FUNCTION flowflex_outbox_enqueue(
    event TEXT,
    payload JSONB,
    files flowflex_outbox_file[] DEFAULT '{}',
    idempotency_key TEXT DEFAULT NULL,
    ordering_key TEXT DEFAULT NULL
) RETURNS BIGINT
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
#variable_conflict use_column
DECLARE
    key TEXT := COALESCE(idempotency_key, gen_random_uuid()::TEXT);
    now_ms BIGINT := (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT;
    new_id BIGINT;
    slots JSONB := '[]'::JSONB;
    body BYTEA;
    total BIGINT := 0;
    f flowflex_outbox_file;
    i INTEGER := 0;
    blob TEXT;
    seq INTEGER;
BEGIN
    IF event IS NULL OR event !~ '^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$' OR octet_length(event) > 256 THEN
        RAISE EXCEPTION 'flowflex_outbox_enqueue: the event name % is not valid: 1 to 256 printable ASCII characters, no space at either end', quote_nullable(event)
            USING ERRCODE = '22023';
    END IF;
    IF payload IS NULL OR jsonb_typeof(payload) <> 'object' THEN
        RAISE EXCEPTION 'flowflex_outbox_enqueue: the payload must be a JSON object'
            USING ERRCODE = '22023';
    END IF;
    IF key !~ '^[\x20-\x7e]{1,255}$' OR btrim(key) = '' THEN
        RAISE EXCEPTION 'flowflex_outbox_enqueue: an idempotency key must be 1 to 255 printable ASCII characters'
            USING ERRCODE = '22023';
    END IF;
    FOREACH f IN ARRAY COALESCE(files, '{}') LOOP
        IF f.path IS NULL OR f.path = '' OR f.filename IS NULL OR btrim(f.filename) = ''
           OR f.mime IS NULL OR f.content IS NULL THEN
            RAISE EXCEPTION 'flowflex_outbox_enqueue: file % needs a path, a file name, a type and content', i
                USING ERRCODE = '22023';
        END IF;
        IF octet_length(f.content) > 26214400 THEN
            RAISE EXCEPTION 'flowflex_outbox_enqueue: % (%) is % bytes, over FlowFlex''s 25 MiB (26,214,400 bytes)',
                f.path, f.filename, octet_length(f.content)
                USING ERRCODE = '22023';
        END IF;
        slots := slots || jsonb_build_array(jsonb_build_array(f.path, i));
        total := total + octet_length(f.content);
        i := i + 1;
    END LOOP;
    IF (SELECT COUNT(DISTINCT s->>0) FROM jsonb_array_elements(slots) s) <> jsonb_array_length(slots) THEN
        RAISE EXCEPTION 'flowflex_outbox_enqueue: two files stand at one payload path'
            USING ERRCODE = '22023';
    END IF;
    body := convert_to(payload::TEXT, 'UTF8');
    INSERT INTO flowflex_outbox_events
        (event, idempotency_key, body, slots, bytes, attachments, status, attempts,
         created_at, next_attempt_at, ordering_key, body_format)
    VALUES (event, key, body, slots::TEXT, octet_length(body) + total, i, 'pending', 0,
            now_ms, now_ms, ordering_key, 1)
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id INTO new_id;
    IF new_id IS NULL THEN
        SELECT e.id INTO new_id FROM flowflex_outbox_events e WHERE e.idempotency_key = key;
        RETURN new_id;
    END IF;
    i := 0;
    FOREACH f IN ARRAY COALESCE(files, '{}') LOOP
        blob := replace(gen_random_uuid()::TEXT, '-', '');
        seq := 0;
        WHILE seq * 1048576 < octet_length(f.content) LOOP
            INSERT INTO flowflex_outbox_chunks (blob, seq, data, created_at)
            VALUES (blob, seq, substring(f.content FROM seq * 1048576 + 1 FOR 1048576), now_ms);
            seq := seq + 1;
        END LOOP;
        INSERT INTO flowflex_outbox_attachments (event_id, idx, filename, mime, size, used, blob)
        VALUES (new_id, i, f.filename, f.mime, octet_length(f.content), true, blob);
        i := i + 1;
    END LOOP;
    PERFORM pg_notify('flowflex_outbox_' || left(md5(current_schema()), 16), new_id || ' 1');
    RETURN new_id;
END
$$;
