-- Least privilege (docs/security.md, Database roles): the ledger's worker and relay log in as
-- members of the NOLOGIN group role `subsidy_ledger_writer`, never as the tables' owner. It may
-- read and add to every ledger table and update the state it keeps (the enterprise rows and
-- their chain heads, the inbox's outcomes, entitlements, cap counters, the outbox's sent_at,
-- parked reviews, first approvals awaiting a second), but it may not UPDATE, DELETE or TRUNCATE entries, decisions, other
-- support or rejected events, and, not being their owner, may not ALTER or DISABLE TRIGGER.
-- Roles belong to the cluster: the migration creates the group if the migrating role may
-- create roles; otherwise a DBA must have created it (CREATE ROLE subsidy_ledger_writer
-- NOLOGIN) before this runs, or the migration fails, so that no grant is ever silently lost.
-- Auditors (0002) may also read schema_migrations, so a read-only service can check that the
-- schema is migrated before it serves.
DO $$
DECLARE
    may_create boolean;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'subsidy_ledger_writer') THEN
        SELECT rolsuper OR rolcreaterole INTO may_create FROM pg_roles
            WHERE rolname = current_user;
        IF NOT coalesce(may_create, false) THEN
            RAISE EXCEPTION 'role subsidy_ledger_writer does not exist and % may not create'
                ' roles: create it first (docs/security.md, Database roles)', current_user;
        END IF;
        BEGIN
            CREATE ROLE subsidy_ledger_writer NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;  -- created meanwhile by a migration of another database of the cluster
        END;
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO subsidy_ledger_writer', current_schema());
    GRANT SELECT ON schema_migrations TO subsidy_ledger_writer;
    GRANT SELECT, INSERT ON enterprises, inbox, entitlements, decisions, entries, annual_usage,
        item_usage, other_support, rejected_events, outbox, parked_reviews, review_approvals
        TO subsidy_ledger_writer;
    GRANT UPDATE ON enterprises, inbox, entitlements, annual_usage, item_usage, outbox,
        parked_reviews, review_approvals TO subsidy_ledger_writer;
    GRANT USAGE ON SEQUENCE inbox_arrival_seq TO subsidy_ledger_writer;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'subsidy_auditor') THEN
        GRANT SELECT ON schema_migrations TO subsidy_auditor;
    END IF;
END
$$;
