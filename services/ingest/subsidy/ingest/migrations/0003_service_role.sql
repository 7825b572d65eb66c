-- Least privilege (docs/security.md, Database roles): the ingest API and the feed watcher log
-- in as members of the NOLOGIN group role `subsidy_ingest`, never as the tables' owner. It may
-- read and add to the ingest tables (and update nothing, delete nothing), and has no grant on
-- any other component's table. Created here if the migrating role may create roles; otherwise
-- a DBA must have created it first, or the migration fails.
DO $$
DECLARE
    may_create boolean;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'subsidy_ingest') THEN
        SELECT rolsuper OR rolcreaterole INTO may_create FROM pg_roles
            WHERE rolname = current_user;
        IF NOT coalesce(may_create, false) THEN
            RAISE EXCEPTION 'role subsidy_ingest does not exist and % may not create roles:'
                ' create it first (docs/security.md, Database roles)', current_user;
        END IF;
        BEGIN
            CREATE ROLE subsidy_ingest NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;
        END;
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO subsidy_ingest', current_schema());
    GRANT SELECT ON schema_migrations TO subsidy_ingest;
    GRANT SELECT, INSERT ON ingest_accepted_events, ingest_rejections, ingest_feed_files
        TO subsidy_ingest;
    GRANT USAGE ON SEQUENCE ingest_rejections_rejection_id_seq TO subsidy_ingest;
END
$$;
