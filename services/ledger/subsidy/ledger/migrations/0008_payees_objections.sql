-- What the payouts read besides entitlements (docs/contract.md §1, "Payee accounts and
-- objections"): every payee account an enterprise registered and every objection filed against
-- an entitlement, one row per applied event, written by the ledger worker in the transaction
-- that applies the event. Both are append-only: a new registration is a new row (the current
-- account of an enterprise is its row with the highest seq), an objection stays as filed.

CREATE TABLE payee_accounts (
    event_id       text        PRIMARY KEY REFERENCES inbox,
    enterprise_id  text        NOT NULL REFERENCES enterprises,
    -- Registration order across the ledger: an enterprise's latest registration is current.
    seq            bigint      GENERATED ALWAYS AS IDENTITY UNIQUE,
    bank_name      text        NOT NULL,                          -- 开户银行
    account_number text        NOT NULL CHECK (account_number ~ '^[0-9]{8,32}$'),  -- 银行账号
    account_name   text        NOT NULL,                          -- 户名 (= the enterprise's name)
    registered_on  date        NOT NULL,                          -- the event's occurredOn
    recorded_at    timestamptz NOT NULL DEFAULT now()
);
-- The current account of an enterprise: its row with the highest seq.
CREATE INDEX payee_accounts_enterprise_seq ON payee_accounts (enterprise_id, seq);

CREATE TABLE objections (
    event_id       text        PRIMARY KEY REFERENCES inbox,
    enterprise_id  text        NOT NULL REFERENCES enterprises,
    entitlement_id text        NOT NULL REFERENCES entitlements,
    reason         text        NOT NULL,
    filed_on       date        NOT NULL,                          -- the event's occurredOn
    recorded_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX objections_entitlement ON objections (entitlement_id);

CREATE TRIGGER payee_accounts_append_only BEFORE UPDATE OR DELETE ON payee_accounts
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER payee_accounts_no_truncate BEFORE TRUNCATE ON payee_accounts
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER objections_append_only BEFORE UPDATE OR DELETE ON objections
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER objections_no_truncate BEFORE TRUNCATE ON objections
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();

-- The writer adds rows and reads them, never changes them (0007_service_roles.sql made the
-- group, or failed). Auditors read them like every other ledger table (0002_query_api.sql).
-- The payouts read them as the group role subsidy_payouts: granted here if it exists already;
-- a payouts migration that makes it later must grant SELECT on both tables itself.
DO $$
BEGIN
    GRANT SELECT, INSERT ON payee_accounts, objections TO subsidy_ledger_writer;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'subsidy_auditor') THEN
        GRANT SELECT ON payee_accounts, objections TO subsidy_auditor;
    END IF;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'subsidy_payouts') THEN
        GRANT SELECT ON payee_accounts, objections TO subsidy_payouts;
    END IF;
END
$$;
