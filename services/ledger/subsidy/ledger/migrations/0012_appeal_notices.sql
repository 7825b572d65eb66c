-- The appeals' outbox (docs/contract.md §4, appeals.v1): what the enterprise or the rule's
-- bureaus are told of an appeal that changes no decision (filed, dismissed, upheld with the
-- source's correction as the remedy) and of one that reopened its entitlement. Written by the
-- ledger worker in the transaction that records the appeal or its decision, only when that row
-- is recorded for the first time, and at most once per appeal and kind (the unique key), so a
-- correction that decides the enterprise's history again never announces an old filing anew.
-- The relay publishes the unsent rows, signed, and sets sent_at; nothing else changes a row.
CREATE TABLE appeal_notices (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    notice_id     text        NOT NULL UNIQUE,                    -- <appealId>#<kind>
    appeal_id     text        NOT NULL REFERENCES appeals,
    kind          text        NOT NULL CHECK (kind IN ('APPEAL_FILED', 'APPEAL_DISMISSED',
                                                       'APPEAL_UPHELD_BY_CORRECTION',
                                                       'APPEAL_REOPENED')),
    enterprise_id text        NOT NULL REFERENCES enterprises,
    message       bytea       NOT NULL,                           -- the AppealNotice as published
    created_at    timestamptz NOT NULL DEFAULT now(),
    sent_at       timestamptz,
    UNIQUE (appeal_id, kind)
);
CREATE INDEX appeal_notices_unsent ON appeal_notices (id) WHERE sent_at IS NULL;

-- The writer adds notices and the relay marks them sent, as for the decisions' outbox
-- (0007_service_roles.sql); auditors read them like every other ledger table.
DO $$
BEGIN
    GRANT SELECT, INSERT, UPDATE ON appeal_notices TO subsidy_ledger_writer;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'subsidy_auditor') THEN
        GRANT SELECT ON appeal_notices TO subsidy_auditor;
    END IF;
END
$$;
