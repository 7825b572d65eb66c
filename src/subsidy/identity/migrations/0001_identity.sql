-- People's identities (docs/security.md, People: credentials and sessions): who they are
-- (principals, bound to one enterprise or one bureau), the credentials they sign in with
-- (only the SHA-256 of each secret is kept) and an audit of every issue, rotation and
-- revocation, written by triggers so that no change to a credential escapes it.

CREATE TABLE identity_principals (
    -- The PrincipalName pattern of subsidy.infra.principals: it is stored as submittedBy.
    name          text        PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9._-]{0,63}$'),
    role          text        NOT NULL
        CHECK (role IN ('enterprise', 'reviewer', 'approver', 'auditor', 'admin')),
    -- 统一社会信用代码 (its check digit is checked by `subsidy identity issue`).
    enterprise_id text        CHECK (enterprise_id ~ '^[0-9A-HJ-NPQRTUWXY]{18}$'),
    -- A responsible unit of the policy catalog (checked against it by the command).
    bureau        text        CHECK (length(bureau) BETWEEN 1 AND 100),
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT identity_enterprise_binding
        CHECK ((role = 'enterprise') = (enterprise_id IS NOT NULL)),
    CONSTRAINT identity_bureau_binding
        CHECK ((role IN ('reviewer', 'approver')) = (bureau IS NOT NULL))
);

CREATE TABLE identity_credentials (
    credential_id  text        PRIMARY KEY CHECK (credential_id ~ '^cred_[0-9a-f]{16}$'),
    principal      text        NOT NULL REFERENCES identity_principals (name),
    -- Never the secret: a stolen table signs no one in.
    secret_sha256  text        NOT NULL UNIQUE CHECK (secret_sha256 ~ '^[0-9a-f]{64}$'),
    issued_at      timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL,
    -- Set once (a rotation's grace may set it ahead, and a later revocation bring it nearer),
    -- never cleared: the trigger below refuses.
    revoked_at     timestamptz,
    revoked_reason text        CHECK (length(revoked_reason) BETWEEN 1 AND 500),
    CHECK (expires_at > issued_at),
    CHECK ((revoked_at IS NULL) = (revoked_reason IS NULL))
);
CREATE INDEX identity_credentials_principal ON identity_credentials (principal);

CREATE TABLE identity_audit (
    seq           bigserial   PRIMARY KEY,
    at            timestamptz NOT NULL DEFAULT now(),
    action        text        NOT NULL CHECK (action IN ('issue', 'rotate', 'revoke')),
    principal     text        NOT NULL,
    credential_id text        NOT NULL,
    -- The database login that made the change, and the person the command named (--actor).
    session_login text        NOT NULL,
    actor         text        NOT NULL CHECK (length(actor) BETWEEN 1 AND 100),
    detail        text        NOT NULL DEFAULT ''
);

-- Principals are never changed nor removed; credentials never removed, and of a credential
-- only its revocation may be set (or brought nearer); the audit is append-only. For every
-- role, the owner too unless he disables the triggers.
CREATE FUNCTION identity_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% on % refused: identity records are never changed or removed',
        TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE FUNCTION identity_revocation_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.credential_id IS DISTINCT FROM OLD.credential_id
        OR NEW.principal IS DISTINCT FROM OLD.principal
        OR NEW.secret_sha256 IS DISTINCT FROM OLD.secret_sha256
        OR NEW.issued_at IS DISTINCT FROM OLD.issued_at
        OR NEW.expires_at IS DISTINCT FROM OLD.expires_at THEN
        RAISE EXCEPTION 'credential %: only its revocation may change', OLD.credential_id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF OLD.revoked_at IS NOT NULL
        AND (NEW.revoked_at IS NULL OR NEW.revoked_at > OLD.revoked_at) THEN
        RAISE EXCEPTION 'credential % is revoked: a revocation is never undone or put off',
            OLD.credential_id USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;

-- Every issue, rotation and revocation is audited here, as the tables' owner (the admin's
-- group may not write the audit itself), with the login that made it and the actor the
-- command set for its transaction (subsidy.identity_actor); none is made without an actor.
CREATE FUNCTION identity_audit_change() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path FROM CURRENT AS $$
DECLARE
    actor  text := nullif(current_setting('subsidy.identity_actor', true), '');
    action text := coalesce(nullif(current_setting('subsidy.identity_action', true), ''),
                            CASE TG_OP WHEN 'INSERT' THEN 'issue' ELSE 'revoke' END);
BEGIN
    IF actor IS NULL THEN
        RAISE EXCEPTION 'credential %: no actor named (subsidy identity … --actor NAME)',
            NEW.credential_id USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.revoked_at IS NOT DISTINCT FROM OLD.revoked_at
        AND NEW.revoked_reason IS NOT DISTINCT FROM OLD.revoked_reason THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'UPDATE' AND action = 'issue' THEN
        action := 'revoke';
    END IF;
    INSERT INTO identity_audit (action, principal, credential_id, session_login, actor, detail)
    VALUES (action, NEW.principal, NEW.credential_id, session_user, actor,
            CASE WHEN TG_OP = 'INSERT' THEN 'expires ' || NEW.expires_at::text
                 ELSE 'revoked from ' || NEW.revoked_at::text || ': ' || NEW.revoked_reason END);
    RETURN NEW;
END
$$;

CREATE TRIGGER identity_principals_immutable BEFORE UPDATE OR DELETE ON identity_principals
    FOR EACH ROW EXECUTE FUNCTION identity_immutable();
CREATE TRIGGER identity_principals_no_truncate BEFORE TRUNCATE ON identity_principals
    FOR EACH STATEMENT EXECUTE FUNCTION identity_immutable();
CREATE TRIGGER identity_credentials_no_delete BEFORE DELETE ON identity_credentials
    FOR EACH ROW EXECUTE FUNCTION identity_immutable();
CREATE TRIGGER identity_credentials_no_truncate BEFORE TRUNCATE ON identity_credentials
    FOR EACH STATEMENT EXECUTE FUNCTION identity_immutable();
CREATE TRIGGER identity_credentials_revocation_only BEFORE UPDATE ON identity_credentials
    FOR EACH ROW EXECUTE FUNCTION identity_revocation_only();
CREATE TRIGGER identity_credentials_audited AFTER INSERT OR UPDATE ON identity_credentials
    FOR EACH ROW EXECUTE FUNCTION identity_audit_change();
CREATE TRIGGER identity_audit_append_only BEFORE UPDATE OR DELETE ON identity_audit
    FOR EACH ROW EXECUTE FUNCTION identity_immutable();
CREATE TRIGGER identity_audit_no_truncate BEFORE TRUNCATE ON identity_audit
    FOR EACH STATEMENT EXECUTE FUNCTION identity_immutable();

-- Least privilege (docs/security.md, Database roles). subsidy_identity_admin: what `subsidy
-- identity` needs and nothing else (add principals and credentials, set a revocation; the
-- audit is written by the trigger, never by it). The services that verify sessions (the
-- ingest API; the ledger API through subsidy_auditor) and the portal that signs them read
-- principals and credentials. No DELETE anywhere. Group roles are created here if the
-- migrating role may create roles; otherwise a DBA must have created them first, or the
-- migration fails.
DO $$
DECLARE
    may_create boolean;
    grp text;
BEGIN
    FOREACH grp IN ARRAY ARRAY['subsidy_identity_admin', 'subsidy_portal', 'subsidy_auditor',
                               'subsidy_ingest'] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = grp) THEN
            SELECT rolsuper OR rolcreaterole INTO may_create FROM pg_roles
                WHERE rolname = current_user;
            IF NOT coalesce(may_create, false) THEN
                RAISE EXCEPTION 'role % does not exist and % may not create roles:'
                    ' create it first (docs/security.md, Database roles)', grp, current_user;
            END IF;
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', grp);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;
            END;
        END IF;
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', current_schema(), grp);
        EXECUTE format('GRANT SELECT ON schema_migrations TO %I', grp);
        EXECUTE format('GRANT SELECT ON identity_principals, identity_credentials TO %I', grp);
    END LOOP;
    GRANT INSERT ON identity_principals, identity_credentials TO subsidy_identity_admin;
    GRANT UPDATE (revoked_at, revoked_reason) ON identity_credentials
        TO subsidy_identity_admin;
    GRANT SELECT ON identity_audit TO subsidy_identity_admin, subsidy_auditor;
END
$$;
