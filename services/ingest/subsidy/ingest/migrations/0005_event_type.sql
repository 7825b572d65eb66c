-- Which payload each accepted event carries (reviewDecided, objectionFiled, …): a correction
-- keeps its original's type (docs/contract.md §1), and the ingest API checks that before it
-- produces anything, instead of the ledger refusing the correction after its revision is used
-- up. Set with the original and never changed (the ingest group's UPDATE grant of 0004 leaves
-- it out). NULL for events accepted before this migration: their type is not known here, and
-- the ledger still refuses a correction that changes it.
ALTER TABLE ingest_accepted_events ADD COLUMN event_type text;
