-- Corrections (docs/contract.md §1, Corrections and retractions): an accepted eventId is taken
-- again with a higher revision, which replaces its content. ingest_accepted_events keeps the
-- revision in force (its hash, where Kafka stored it); the first submitter stays, as before.
-- Every event accepted before this migration is its own original, revision 1.
ALTER TABLE ingest_accepted_events ADD COLUMN revision integer NOT NULL DEFAULT 1
    CHECK (revision >= 1);

-- Every revision of every event the ingest API accepted, append-only: who sent which content
-- when. A re-delivery of a revision since replaced is known here as a duplicate, where the
-- accepted row alone (the revision in force) would take it for a conflict.
CREATE TABLE ingest_event_revisions (
    event_id      text        NOT NULL REFERENCES ingest_accepted_events (event_id),
    revision      integer     NOT NULL CHECK (revision >= 1),
    content_hash  text        NOT NULL,
    accepted_at   timestamptz NOT NULL DEFAULT now(),
    submitted_by  text,
    PRIMARY KEY (event_id, revision)
);

INSERT INTO ingest_event_revisions (event_id, revision, content_hash, accepted_at, submitted_by)
SELECT event_id, revision, content_hash, accepted_at, submitted_by FROM ingest_accepted_events;

-- Least privilege, as in 0003: the ingest group adds revisions and may rewrite only what says
-- which revision is in force; the history it may read and add to, never change.
GRANT SELECT, INSERT ON ingest_event_revisions TO subsidy_ingest;
GRANT UPDATE (content_hash, revision, topic, kafka_partition, kafka_offset)
    ON ingest_accepted_events TO subsidy_ingest;
