-- Four eyes (docs/rules.md): a first approval at or above its rule's threshold, recorded while
-- the entitlement awaits a second approval by another reviewer principal. 'waiting' until a
-- second approval acts on it, or a rejection or revocation ends the wait ('settled', by the
-- event that settled it). Rows are kept after they settle, for audits; a book restores the
-- waiting ones.
CREATE TABLE review_approvals (
    entitlement_id  text        PRIMARY KEY REFERENCES entitlements,
    enterprise_id   text        NOT NULL REFERENCES enterprises,
    -- The review that gave the first approval, and who submitted it.
    event_id        text        NOT NULL REFERENCES inbox,
    principal       text        NOT NULL CHECK (principal <> ''),
    amount_fen      bigint      NOT NULL CHECK (amount_fen > 0),
    approved_at     timestamptz NOT NULL,
    state           text        NOT NULL DEFAULT 'waiting' CHECK (state IN ('waiting', 'settled')),
    settled_by      text        REFERENCES inbox,
    settled_at      timestamptz,
    CHECK ((state = 'waiting') = (settled_at IS NULL)),
    CHECK ((state = 'waiting') = (settled_by IS NULL))
);
CREATE INDEX review_approvals_waiting ON review_approvals (enterprise_id) WHERE state = 'waiting';

-- Auditors read it like every other ledger table (0002_query_api.sql).
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'subsidy_auditor') THEN
        GRANT SELECT ON review_approvals TO subsidy_auditor;
    END IF;
END
$$;
