-- The query API (LedgerService): keyset pagination of decisions, and the read-only role it
-- connects as (docs/security.md).

-- ListDecisions pages through decisions in (decided_at, decision_id) order.
CREATE INDEX decisions_decided ON decisions (decided_at, decision_id);

-- `subsidy_auditor`: a NOLOGIN group role with SELECT on the ledger's tables and nothing else.
-- The API logs in as a role that is a member of it (CREATE ROLE ledger_api LOGIN … IN ROLE
-- subsidy_auditor). Roles belong to the whole cluster: this migration creates it only if the
-- migrating role may create roles; otherwise a DBA creates it (CREATE ROLE subsidy_auditor
-- NOLOGIN), and the grants below are made now if it already exists, or else run by hand as
-- written in docs/security.md. Grants are explicit, table by table, and never by ALTER DEFAULT
-- PRIVILEGES: other components' tables share the schema and are none of the auditors' business.
-- A later migration that adds a ledger table grants SELECT on it the same way.
DO $$
DECLARE
    may_create boolean;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'subsidy_auditor') THEN
        SELECT rolsuper OR rolcreaterole INTO may_create FROM pg_roles
            WHERE rolname = current_user;
        IF NOT coalesce(may_create, false) THEN
            RAISE WARNING 'role subsidy_auditor does not exist and % may not create roles:'
                ' create it and run the GRANTs of docs/security.md', current_user;
            RETURN;
        END IF;
        BEGIN
            CREATE ROLE subsidy_auditor NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;  -- created meanwhile by a migration of another database of the cluster
        END;
    END IF;
    BEGIN
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO subsidy_auditor', current_schema());
    EXCEPTION WHEN insufficient_privilege THEN
        RAISE WARNING 'cannot grant USAGE on schema % to subsidy_auditor (not its owner):'
            ' its owner must', current_schema();
    END;
    GRANT SELECT ON enterprises, inbox, entitlements, decisions, entries, annual_usage,
        item_usage, other_support, rejected_events, outbox TO subsidy_auditor;
END
$$;
