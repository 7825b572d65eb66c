-- Indexes for two reads a batch makes, each of which walked a whole table growing with the
-- ledger (found by the bench's scale run; tests/ledger/test_batch_plans.py keeps every batch
-- statement on an index).
--
-- An enterprise's events in the inbox, whatever their outcome. A correction replays its
-- enterprise's history (subsidy.ledger.corrections.load_histories reads every event in force:
-- applied, rejected or parked), and a batch of a real feed almost always holds a correction;
-- the only index by enterprise covered applied events, so that read scanned the whole inbox
-- once per batch. This index serves it and the book's restore of applied event ids alike, so
-- it replaces the partial one: still one index by enterprise to keep up per inbox row.
--
-- The appeal decisions of an entitlement: restoring a book with entitlements awaiting review
-- looks up who reopened them (subsidy.ledger.appeals._restore_reopenings).
--
-- Built in the migration's transaction; on a large ledger, build them CONCURRENTLY by hand
-- first (IF NOT EXISTS then skips them).
CREATE INDEX IF NOT EXISTS inbox_enterprise ON inbox (enterprise_id);
DROP INDEX IF EXISTS inbox_enterprise_applied;
CREATE INDEX IF NOT EXISTS appeal_decisions_entitlement ON appeal_decisions (entitlement_id);
