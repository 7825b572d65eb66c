"""The identity store on PostgreSQL."""

# Issue, sign in, rotate, revoke; only digests are kept; the triggers and grants keep a revocation
# one-way for every role, the owner included.

from typing import Any

import asyncpg
import pytest

from subsidy.identity import store
from subsidy.identity.principal import Principal, Role
from subsidy.identity.store import CredentialRejected, IdentityError
from tests.factories import bad_check, enterprise_id
from tests.identity.conftest import IdentityDb

ENTERPRISE = enterprise_id(7)


async def test_an_issued_secret_signs_its_principal_in_and_only_its_digest_is_kept(
    owner: asyncpg.Connection,
) -> None:
    issued = await store.issue(owner, "ent-7", "enterprise", enterprise_id=ENTERPRISE,
                               actor="admin-zhang")  # fmt: skip
    assert issued.secret.startswith("sbp_")
    assert len(issued.secret) >= 4 + 43
    assert await store.authenticate(owner, issued.secret) == Principal(
        "ent-7", Role.ENTERPRISE, ENTERPRISE, None, issued.credential_id
    )
    dump = await owner.fetchval(
        "SELECT string_agg(t::text, '') FROM (SELECT * FROM identity_credentials) t"
    )
    assert issued.secret not in dump
    assert issued.secret[4:] not in dump
    assert store.secret_digest(issued.secret) in dump
    reviewer = await store.issue(owner, "reviewer-wang", "reviewer", bureau="市工信局",
                                 actor="admin-zhang")  # fmt: skip
    assert (await store.authenticate(owner, reviewer.secret)).bureau == "市工信局"
    with pytest.raises(CredentialRejected) as unknown:
        await store.authenticate(owner, issued.secret + "x")
    assert unknown.value.reason == "unknown"
    listed = await store.list_credentials(owner)
    assert [(c.principal, c.state) for c in listed] == [("ent-7", "active"),
                                                        ("reviewer-wang", "active")]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "role", "kwargs", "field"),
    [
        ("ent-1", "enterprise", {"enterprise_id": bad_check(1)}, "enterprise"),
        ("ent-1", "enterprise", {"enterprise_id": enterprise_id(1).lower()}, "enterprise"),
        ("ent-1", "enterprise", {}, "enterprise"),
        (
            "ent-1",
            "enterprise",
            {"enterprise_id": enterprise_id(1), "bureau": "市工信局"},
            "bureau",
        ),
        ("rev-1", "reviewer", {"bureau": "市教委"}, "bureau"),
        ("rev-1", "approver", {}, "bureau"),
        ("rev-1", "auditor", {"enterprise_id": enterprise_id(1)}, "enterprise"),
        ("Rev 1", "reviewer", {"bureau": "市工信局"}, "name"),
        ("rev-1", "superuser", {}, "role"),
    ],
)
async def test_a_bad_principal_is_refused_naming_its_field(
    owner: asyncpg.Connection, name: str, role: str, kwargs: dict[str, Any], field: str
) -> None:
    with pytest.raises(IdentityError) as refused:
        await store.issue(owner, name, role, actor="admin-zhang", **kwargs)
    assert refused.value.field == field
    assert await owner.fetchval("SELECT count(*) FROM identity_principals") == 0


async def test_a_principal_keeps_its_role_and_binding(owner: asyncpg.Connection) -> None:
    await store.issue(owner, "rev-1", "reviewer", bureau="市工信局", actor="a")
    with pytest.raises(IdentityError) as refused:
        await store.issue(owner, "rev-1", "approver", bureau="市工信局", actor="a")
    assert refused.value.field == "role"
    with pytest.raises(IdentityError):
        await store.issue(owner, "rev-1", "reviewer", bureau="市科技局", actor="a")
    second = await store.issue(owner, "rev-1", "reviewer", bureau="市工信局", actor="a")
    assert (await store.authenticate(owner, second.secret)).name == "rev-1"


async def test_revoke_rotate_and_expiry(owner: asyncpg.Connection) -> None:
    first = await store.issue(owner, "aud-li", "auditor", actor="admin-zhang")
    rotated = await store.rotate(owner, "aud-li", "admin-zhang")
    with pytest.raises(CredentialRejected) as old:
        await store.authenticate(owner, first.secret)
    assert old.value.reason == "revoked"
    assert await store.is_active(owner, rotated.credential_id)
    assert not await store.is_active(owner, first.credential_id)
    # With a grace the old one still works, and a revocation may bring its end nearer.
    graced = await store.rotate(owner, "aud-li", "admin-zhang", grace_hours=2)
    assert await store.is_active(owner, rotated.credential_id, "aud-li")
    assert not await store.is_active(owner, rotated.credential_id, "someone-else")
    states = {c.credential_id: c.state for c in await store.list_credentials(owner)}
    assert states == {first.credential_id: "revoked", rotated.credential_id: "revoking",
                      graced.credential_id: "active"}  # fmt: skip
    assert await store.revoke(owner, "aud-li", "admin-zhang", "leaked") == sorted(
        [rotated.credential_id, graced.credential_id]
    )
    assert await store.revoke(owner, graced.credential_id, "admin-zhang", "again") == []
    with pytest.raises(IdentityError) as missing:
        await store.revoke(owner, "nobody", "admin-zhang", "leaked")
    assert missing.value.field == "principal"
    # Expired: a credential whose time is up (written by the owner, who may insert).
    async with owner.transaction():
        await owner.execute("SELECT set_config('subsidy.identity_actor', 'test', true)")
        await owner.execute(
            "INSERT INTO identity_credentials (credential_id, principal, secret_sha256,"
            " issued_at, expires_at) VALUES ('cred_00000000000000ee', 'aud-li', $1,"
            " now() - interval '2 days', now() - interval '1 day')",
            store.secret_digest("sbp_expired-secret"),
        )
    with pytest.raises(CredentialRejected) as expired:
        await store.authenticate(owner, "sbp_expired-secret")
    assert expired.value.reason == "expired"
    audit = await owner.fetch(
        "SELECT action, actor, session_login FROM identity_audit ORDER BY seq"
    )
    assert [r["action"] for r in audit] == [
        "issue", "rotate", "rotate", "rotate", "rotate", "revoke", "revoke", "issue",
    ]  # fmt: skip
    assert {r["session_login"] for r in audit} == {"subsidy"}
    assert {r["actor"] for r in audit} == {"admin-zhang", "test"}


async def test_a_digest_is_unique_and_nothing_is_written_without_an_actor(
    owner: asyncpg.Connection,
) -> None:
    issued = await store.issue(owner, "aud-li", "auditor", actor="admin-zhang")
    insert = (
        "INSERT INTO identity_credentials (credential_id, principal, secret_sha256, expires_at)"
        " VALUES ('cred_00000000000000aa', 'aud-li', $1, now() + interval '1 day')"
    )
    async with owner.transaction():
        await owner.execute("SELECT set_config('subsidy.identity_actor', 'x', true)")
        with pytest.raises(asyncpg.UniqueViolationError):
            await owner.execute(insert, store.secret_digest(issued.secret))
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="no actor"):
        await owner.execute(insert, "0" * 64)
    with pytest.raises(IdentityError) as no_actor:
        await store.issue(owner, "aud-wu", "auditor", actor=" ")
    assert no_actor.value.field == "actor"


TAMPERING = [
    ("UPDATE identity_credentials SET revoked_at = NULL, revoked_reason = NULL", "never undone"),
    ("UPDATE identity_credentials SET revoked_at = now() + interval '1 day'", "never undone"),
    ("UPDATE identity_credentials SET secret_sha256 = repeat('a', 64)", "only its revocation"),
    ("UPDATE identity_credentials SET expires_at = now() + interval '9 years'", "only its"),
    ("DELETE FROM identity_credentials", "never changed or removed"),
    ("TRUNCATE identity_credentials CASCADE", "never changed or removed"),
    ("UPDATE identity_principals SET role = 'admin'", "never changed or removed"),
    ("DELETE FROM identity_audit", "never changed or removed"),
    ("UPDATE identity_audit SET actor = 'someone-else'", "never changed or removed"),
]


async def _revoked(conn: asyncpg.Connection) -> str:
    issued = await store.issue(conn, "ent-9", "enterprise", enterprise_id=enterprise_id(9),
                               actor="admin-zhang")  # fmt: skip
    await store.revoke(conn, issued.credential_id, "admin-zhang", "left the company")
    return issued.secret


@pytest.mark.parametrize(("sql", "message"), TAMPERING, ids=[t[0][:40] for t in TAMPERING])
async def test_the_owner_cannot_undo_a_revocation_or_rewrite_identities(
    owner: asyncpg.Connection, sql: str, message: str
) -> None:
    secret = await _revoked(owner)
    async with owner.transaction():
        await owner.execute("SELECT set_config('subsidy.identity_actor', 'owner', true)")
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match=message):
            await owner.execute(sql)
    with pytest.raises(CredentialRejected):
        await store.authenticate(owner, secret)


@pytest.mark.parametrize("login", ["ingest_server", "ledger_api"])
async def test_a_service_login_reads_and_can_change_nothing(
    identity_db: IdentityDb, owner: asyncpg.Connection, login: str
) -> None:
    secret = await _revoked(owner)
    conn = await asyncpg.connect(identity_db.login(login))
    try:
        with pytest.raises(CredentialRejected) as refused:
            await store.authenticate(conn, secret)
        assert refused.value.reason == "revoked"
        for sql, _ in TAMPERING:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(sql)
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await store.issue(conn, "ent-10", "enterprise", enterprise_id=enterprise_id(10),
                              actor="thief")  # fmt: skip
    finally:
        await conn.close()


async def test_the_admin_group_may_add_and_revoke_and_nothing_else(
    owner: asyncpg.Connection,
) -> None:
    rows = await owner.fetch(
        "SELECT t, p, has_table_privilege('subsidy_identity_admin', t, p) AS granted"
        " FROM unnest(ARRAY['identity_principals', 'identity_credentials', 'identity_audit'])"
        " AS t CROSS JOIN unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE',"
        " 'TRIGGER', 'REFERENCES']) AS p"
    )
    granted = {(r["t"], r["p"]) for r in rows if r["granted"]}
    assert granted == {
        ("identity_principals", "SELECT"), ("identity_principals", "INSERT"),
        ("identity_credentials", "SELECT"), ("identity_credentials", "INSERT"),
        ("identity_audit", "SELECT"),
    }  # fmt: skip
    columns = await owner.fetch(
        "SELECT attname FROM pg_attribute WHERE attrelid = 'identity_credentials'::regclass"
        " AND attnum > 0 AND has_column_privilege('subsidy_identity_admin',"
        " 'identity_credentials', attname, 'UPDATE') ORDER BY attname"
    )
    assert [c["attname"] for c in columns] == ["revoked_at", "revoked_reason"]
    for group in ("subsidy_portal", "subsidy_ingest", "subsidy_auditor"):
        readable = await owner.fetch(
            "SELECT t FROM unnest(ARRAY['identity_principals', 'identity_credentials']) AS t"
            " WHERE has_table_privilege($1, t, 'SELECT')"
            " AND NOT has_table_privilege($1, t, 'INSERT, UPDATE, DELETE, TRUNCATE')",
            group,
        )
        assert len(readable) == 2, group
