-- Event ids the ingest API accepted, recorded only after Kafka acknowledged the record: the
-- idempotency key of contract §1 (same id + same content = no-op, different content = conflict).
CREATE TABLE ingest_accepted_events (
    event_id      text        PRIMARY KEY,
    content_hash  text        NOT NULL,
    enterprise_id text        NOT NULL,
    source        text        NOT NULL,
    topic         text        NOT NULL,
    kafka_partition integer   NOT NULL,
    kafka_offset  bigint      NOT NULL,
    accepted_at   timestamptz NOT NULL DEFAULT now()
);

-- Events the ingest API rejected (contract violations and conflicts), for the platform's export
-- (`rejectedEvents`). `error` is str(InvalidEvent): "field: message; field: message".
-- One row per distinct (submitted message, error): re-sending the same bad event adds nothing.
-- The key is a hash because error texts can outgrow a btree entry.
CREATE TABLE ingest_rejections (
    rejection_id  bigserial   PRIMARY KEY,
    event_id      text,
    error         text        NOT NULL,
    field_errors  jsonb       NOT NULL,
    fingerprint   text        NOT NULL UNIQUE,
    rejected_at   timestamptz NOT NULL DEFAULT now()
);

-- Feed files the watcher processed, by content: a renamed copy of one is not ingested again.
CREATE TABLE ingest_feed_files (
    sha256        text        PRIMARY KEY,
    file_name     text        NOT NULL,
    status        text        NOT NULL CHECK (status IN ('done', 'failed')),
    rows_read     integer     NOT NULL,
    accepted      integer     NOT NULL,
    duplicates    integer     NOT NULL,
    rejected      integer     NOT NULL,
    processed_at  timestamptz NOT NULL DEFAULT now()
);
