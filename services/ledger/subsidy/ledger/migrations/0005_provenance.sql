-- Who submitted each event the ledger took (docs/security.md, Provenance): the principal and
-- channel the ingest API recorded, carried on the event's protobuf outside its content hash
-- (subsidy.events.v1.Provenance, in the contract's JSON mapping). The inbox keeps one row per
-- event id, so a resubmission by another principal keeps the first provenance. NULL for events
-- taken before this migration, or that arrived without one. The auditor role already reads
-- inbox (0002_query_api), so `subsidy ledger explain` can show it.
ALTER TABLE inbox ADD COLUMN submitted_by jsonb;
