-- Where the relay's anchoring stands (subsidy.ledger.anchoring): for each hash chain (an
-- enterprise's journal, or '~payouts', the transfers'), the last seq an anchor appended to the
-- anchor log covers. The relay writes a mark after the anchor is in the file and on the topic,
-- so a crash in between only anchors the same entries again. It replaces the position every
-- relay kept in memory for every chain (read from the anchor file at start), which grew with
-- the ledger.
--
-- The marks are not trusted: the database's owner can change them like anything else here.
-- A lowered mark makes the relay anchor the same hashes again (or, after a rewrite, sign a
-- different hash for an anchored seq, which `ledger verify --anchors` reports as two anchors
-- that contradict each other); a raised one makes it skip entries, which `verify --anchors`
-- names as the first entry never anchored although later ones were (each chain's anchors
-- start at 1 and at the previous anchor's seq + 1).
--
-- No foreign key to enterprises: '~payouts' is no enterprise.
CREATE TABLE anchor_marks (
    chain text   PRIMARY KEY,
    seq   bigint NOT NULL CHECK (seq >= 1)
);

-- The relay logs in as a member of subsidy_ledger_writer (0007_service_roles.sql), the group
-- it shares with the worker: it reads, adds and moves marks, never deletes them. Auditors read
-- them like every other ledger table; the payouts get nothing.
DO $$
BEGIN
    GRANT SELECT, INSERT, UPDATE ON anchor_marks TO subsidy_ledger_writer;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'subsidy_auditor') THEN
        GRANT SELECT ON anchor_marks TO subsidy_auditor;
    END IF;
END
$$;
