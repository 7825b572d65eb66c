-- Appeals (复核申请, docs/rules.md step 10; docs/contract.md §1, "Appeals"): every appeal an
-- enterprise filed against a denial or a reduction, and every decision a bureau took on one,
-- one row per applied event, written by the ledger worker in the transaction that applies the
-- event. Both are append-only history: an appeal stays as filed and a decision as taken. An
-- appeal is open while no decision of it is in force (its event's inbox outcome 'applied'): a
-- correction that decides the enterprise's history again may refuse an appeal or its decision
-- there (the inbox's outcome says so), and records what it applied that had no row yet; it never
-- changes a row.

CREATE TABLE appeals (
    event_id       text        PRIMARY KEY REFERENCES inbox,
    enterprise_id  text        NOT NULL REFERENCES enterprises,
    entitlement_id text        NOT NULL REFERENCES entitlements,
    reason         text        NOT NULL CHECK (char_length(reason) BETWEEN 1 AND 2000),
    attachment_ref text        CHECK (char_length(attachment_ref) BETWEEN 1 AND 200),
    filed_by       text,                                          -- submittedBy.principal
    filed_on       date        NOT NULL,                          -- the event's occurredOn
    -- Who rejected the entitlement's review, if a review did: not the appeal's decider.
    rejected_by    text,
    recorded_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX appeals_entitlement ON appeals (entitlement_id);
CREATE INDEX appeals_enterprise ON appeals (enterprise_id);

CREATE TABLE appeal_decisions (
    event_id       text        PRIMARY KEY REFERENCES inbox,      -- the appealDecided
    appeal_id      text        NOT NULL REFERENCES appeals,
    enterprise_id  text        NOT NULL REFERENCES enterprises,
    entitlement_id text        NOT NULL REFERENCES entitlements,
    upheld         boolean     NOT NULL,
    -- Upheld: REOPENED (a review's rejection, PENDING_REVIEW again) or SOURCE_CORRECTION (a
    -- rule's denial or cut, put right by the source correcting its event); dismissed: none.
    remedy         text        CHECK (remedy IN ('REOPENED', 'SOURCE_CORRECTION')),
    reason         text        NOT NULL CHECK (char_length(reason) BETWEEN 1 AND 2000),
    decided_by     text        NOT NULL,                          -- submittedBy.principal
    decided_on     date        NOT NULL,                          -- the event's occurredOn
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    CHECK ((remedy IS NOT NULL) = upheld)
);
CREATE INDEX appeal_decisions_appeal ON appeal_decisions (appeal_id);

CREATE TRIGGER appeals_append_only BEFORE UPDATE OR DELETE ON appeals
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER appeals_no_truncate BEFORE TRUNCATE ON appeals
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER appeal_decisions_append_only BEFORE UPDATE OR DELETE ON appeal_decisions
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER appeal_decisions_no_truncate BEFORE TRUNCATE ON appeal_decisions
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();

-- The writer adds rows and reads them, never changes them (0007_service_roles.sql made the
-- group, or failed). Auditors read them like every other ledger table (0002_query_api.sql).
-- The payouts read them as the group role subsidy_payouts: granted here if it exists already;
-- a payouts migration that makes it later must grant SELECT on both tables itself.
DO $$
BEGIN
    GRANT SELECT, INSERT ON appeals, appeal_decisions TO subsidy_ledger_writer;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'subsidy_auditor') THEN
        GRANT SELECT ON appeals, appeal_decisions TO subsidy_auditor;
    END IF;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'subsidy_payouts') THEN
        GRANT SELECT ON appeals, appeal_decisions TO subsidy_payouts;
    END IF;
END
$$;
