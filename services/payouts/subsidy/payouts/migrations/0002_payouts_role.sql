-- Least privilege (docs/security.md, Database roles): the payouts commands log in as members of
-- the NOLOGIN group role `subsidy_payouts`. It reads what the ledger decided (never writes it),
-- adds transfers (the balances follow by trigger, never by its hand), moves orders, receivables,
-- batch lines and envelopes through their states, and only adds to the append-only tables.
-- Auditors read everything here. Created here if the migrating role may create roles;
-- otherwise a DBA must have created it first, or the migration fails.
DO $$
DECLARE
    may_create boolean;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'subsidy_payouts') THEN
        SELECT rolsuper OR rolcreaterole INTO may_create FROM pg_roles
            WHERE rolname = current_user;
        IF NOT coalesce(may_create, false) THEN
            RAISE EXCEPTION 'role subsidy_payouts does not exist and % may not create roles:'
                ' create it first (docs/security.md, Database roles)', current_user;
        END IF;
        BEGIN
            CREATE ROLE subsidy_payouts NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;
        END;
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO subsidy_payouts', current_schema());
    GRANT SELECT ON schema_migrations, decisions, entries, entitlements, inbox, payee_accounts,
        objections TO subsidy_payouts;
    GRANT SELECT, UPDATE ON payout_desk TO subsidy_payouts;
    GRANT SELECT ON payout_accounts TO subsidy_payouts;
    GRANT SELECT, INSERT ON transfers, payout_intake, payment_order_history, budget_loads,
        budget_alerts, receivable_refunds, payout_return_files, objection_dismissals
        TO subsidy_payouts;
    GRANT SELECT, INSERT, UPDATE ON payment_orders, receivables, budget_envelopes,
        payout_batches, payout_batch_lines, write_off_approvals TO subsidy_payouts;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'subsidy_auditor') THEN
        GRANT SELECT ON payout_desk, payout_accounts, transfers, payout_intake, payment_orders,
            payment_order_history, receivables, budget_loads, budget_envelopes, budget_alerts,
            payout_batches, payout_batch_lines, payout_return_files, objection_dismissals,
            receivable_refunds, write_off_approvals TO subsidy_auditor;
    END IF;
END
$$;
