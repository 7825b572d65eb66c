-- Corrections and retractions (docs/rules.md, Corrections). The inbox row of an event holds
-- the revision in force: a correction replaces its content, hash and revision but keeps its
-- arrival, which is the event's place in the enterprise's history; a retraction marks it.
-- Every revision ever taken stays in event_revisions, which only grows, so what a correction
-- replaced can always be read back, and by whom it was sent.
ALTER TABLE inbox ADD COLUMN revision integer NOT NULL DEFAULT 1 CHECK (revision >= 1);
ALTER TABLE inbox ADD COLUMN retracted_by text REFERENCES inbox;

CREATE TABLE event_revisions (
    event_id          text        NOT NULL REFERENCES inbox,
    revision          integer     NOT NULL CHECK (revision >= 1),
    payload_hash      text        NOT NULL,
    -- The event as taken, spelled as its hash is computed (0004_inbox_events).
    event             text        NOT NULL,
    reason            text        NOT NULL,  -- its correctionReason ('' for the original)
    submitted_by      jsonb,
    taken_at          timestamptz NOT NULL,
    PRIMARY KEY (event_id, revision, payload_hash)
);
CREATE INDEX event_revisions_event ON event_revisions (event_id);

CREATE TRIGGER event_revisions_append_only BEFORE UPDATE OR DELETE ON event_revisions
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER event_revisions_no_truncate BEFORE TRUNCATE ON event_revisions
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();

-- A correction books its difference as one entry of kind CORRECTION, of either sign.
ALTER TABLE entries DROP CONSTRAINT IF EXISTS entries_check;
ALTER TABLE entries ADD CONSTRAINT entries_kind_sign CHECK (
    (kind IN ('GRANT', 'CLAWBACK') AND amount_fen > 0)
    OR (kind IN ('SUPERSEDE', 'REVOKE', 'OTHER_SUPPORT') AND amount_fen < 0)
    OR (kind = 'CORRECTION' AND amount_fen <> 0)
);

-- The writer keeps the revisions and, when an otherSupportReceived is corrected, the support
-- row in step with it (0007_service_roles.sql made the group, or failed).
DO $$
BEGIN
    GRANT SELECT, INSERT ON event_revisions TO subsidy_ledger_writer;
    GRANT UPDATE ON other_support TO subsidy_ledger_writer;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'subsidy_auditor') THEN
        GRANT SELECT ON event_revisions TO subsidy_auditor;
    END IF;
END
$$;
