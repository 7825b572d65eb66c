-- Reviews that arrived before the event they refer to (docs/rules.md, step 6). A parked
-- review has taken its id in the inbox (outcome 'parked', so a resend is a no-op) and waits
-- here until its event is applied ('released': the inbox says 'applied' or 'rejected' then)
-- or until it has waited longer than the ledger's parking time ('expired': recorded as a
-- rejected event). Rows are kept after they settle, for audits.
ALTER TABLE inbox DROP CONSTRAINT inbox_outcome_check;
ALTER TABLE inbox ADD CONSTRAINT inbox_outcome_check
    CHECK (outcome IN ('applied', 'rejected', 'parked'));

CREATE TABLE parked_reviews (
    -- Arrival order: a book's waiting reviews are restored, and released, in it.
    seq             bigint      GENERATED ALWAYS AS IDENTITY UNIQUE,
    event_id        text        PRIMARY KEY REFERENCES inbox,
    enterprise_id   text        NOT NULL REFERENCES enterprises,
    event_ref       text        NOT NULL,
    -- The review event as protobuf (subsidy.events.v1.EnterpriseEvent), applied when released.
    event           bytea       NOT NULL,
    catalog_version text        NOT NULL,
    parked_at       timestamptz NOT NULL,
    state           text        NOT NULL DEFAULT 'waiting'
                                CHECK (state IN ('waiting', 'released', 'expired')),
    settled_at      timestamptz,
    CHECK ((state = 'waiting') = (settled_at IS NULL))
);
-- Loading a book restores its waiting reviews; the expiry sweep reads them oldest first.
CREATE INDEX parked_reviews_waiting ON parked_reviews (enterprise_id) WHERE state = 'waiting';
CREATE INDEX parked_reviews_waiting_since ON parked_reviews (parked_at) WHERE state = 'waiting';

-- Auditors read it like every other ledger table (0002_query_api.sql).
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'subsidy_auditor') THEN
        GRANT SELECT ON parked_reviews TO subsidy_auditor;
    END IF;
END
$$;
