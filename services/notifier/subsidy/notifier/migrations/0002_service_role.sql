-- Least privilege (docs/security.md, Database roles): the notifier's worker, admin API and
-- commands log in as members of the NOLOGIN group role `subsidy_notifier`, never as the
-- tables' owner. It keeps its own tables (subscriptions are replaced, deliveries move through
-- their states) and has no grant on any other component's table. Created here if the
-- migrating role may create roles; otherwise a DBA must have created it first, or the
-- migration fails.
DO $$
DECLARE
    may_create boolean;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'subsidy_notifier') THEN
        SELECT rolsuper OR rolcreaterole INTO may_create FROM pg_roles
            WHERE rolname = current_user;
        IF NOT coalesce(may_create, false) THEN
            RAISE EXCEPTION 'role subsidy_notifier does not exist and % may not create roles:'
                ' create it first (docs/security.md, Database roles)', current_user;
        END IF;
        BEGIN
            CREATE ROLE subsidy_notifier NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;
        END;
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO subsidy_notifier', current_schema());
    GRANT SELECT ON schema_migrations TO subsidy_notifier;
    GRANT SELECT, INSERT, UPDATE ON notifier_subscriptions, notifier_decisions,
        notifier_deliveries TO subsidy_notifier;
    GRANT SELECT, INSERT ON notifier_attempts TO subsidy_notifier;
    GRANT USAGE ON SEQUENCE notifier_deliveries_id_seq TO subsidy_notifier;
END
$$;
