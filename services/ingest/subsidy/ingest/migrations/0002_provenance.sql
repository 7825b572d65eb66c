-- Who submitted each accepted event and through which channel (docs/security.md, Provenance):
-- the principal of the credential the ingest API checked, and the channel its client declared
-- (GRPC_API, FEED_WATCHER, CLI_FILE). A resubmission of the same event is a duplicate and adds
-- no row, so the first submitter stays. NULL for events accepted before this migration.
ALTER TABLE ingest_accepted_events ADD COLUMN submitted_by text;
ALTER TABLE ingest_accepted_events ADD COLUMN channel text;
