"""Red team: each service's own PostgreSQL login cannot do more than the service needs."""

# The ledger writer cannot rewrite or unprotect the journal, ingest and the notifier cannot reach
# the ledger, auditors cannot write even with read-only sessions switched off, no role gets in over
# TCP without its password, and a service refuses to start as a role that can do too much.

from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from subsidy.harness.databases import create_schema, drop_schema, migrate_platform
from subsidy.infra.db_roles import LEDGER_TABLES, DatabaseRoleError, RoleNeeds, check_role
from subsidy.ingest.store import ROLE as INGEST
from subsidy.ledger.db import WRITER
from subsidy.notifier.repository import ROLE as NOTIFIER
from tests.ledger.database import as_role

DENIED = asyncpg.InsufficientPrivilegeError


@pytest.fixture(scope="module")
async def owner_url(fresh_database_url: str) -> AsyncIterator[str]:
    """Every component migrated (as the owner) in a schema of this module's own."""
    schema, url = await create_schema(fresh_database_url, "roles")
    await migrate_platform(url)
    yield url
    await drop_schema(fresh_database_url, schema)


async def _refused(url: str, *statements: str, setup: str = "") -> None:
    """Each statement, on a connection of its own, fails with a permission error."""
    for statement in statements:
        conn = await asyncpg.connect(url)
        try:
            if setup:
                await conn.execute(setup)
            with pytest.raises(DENIED):
                await conn.execute(statement)
        finally:
            await conn.close()


async def test_the_ledger_writer_cannot_rewrite_or_unprotect_the_journal(owner_url: str) -> None:
    writer = as_role(owner_url, "ledger_worker")
    conn = await asyncpg.connect(writer)
    try:  # it may add to the journal: what it needs
        assert await conn.fetchval("SELECT has_table_privilege('entries', 'INSERT')")
    finally:
        await conn.close()
    await _refused(
        writer,
        "ALTER TABLE entries DISABLE TRIGGER entries_append_only",
        "ALTER TABLE decisions DISABLE TRIGGER ALL",
        "UPDATE entries SET amount_fen = amount_fen + 100",
        "DELETE FROM entries",
        "UPDATE decisions SET granted_fen = 0",
        "DELETE FROM decisions",
        "TRUNCATE entries",
        "DROP TABLE entries CASCADE",
        "ALTER TABLE entries DROP CONSTRAINT entries_kind_sign",
        # What an event said before it was corrected stays as taken.
        "UPDATE event_revisions SET reason = 'nothing'",
        "DELETE FROM event_revisions",
        "ALTER TABLE event_revisions DISABLE TRIGGER ALL",
        "CREATE TABLE mine (x int)",
    )


@pytest.mark.parametrize("login", ["ingest_server", "notifier_worker"])
async def test_ingest_and_the_notifier_cannot_touch_the_ledger(owner_url: str, login: str) -> None:
    url = as_role(owner_url, login)
    statements = [f"SELECT * FROM {table}" for table in LEDGER_TABLES]
    statements += [
        "INSERT INTO enterprises (enterprise_id) VALUES ('91320500MA9999999X')",
        "UPDATE entitlements SET granted_fen = 0",
        "DELETE FROM outbox",
        "TRUNCATE inbox",
        "ALTER TABLE entries DISABLE TRIGGER entries_append_only",
    ]
    await _refused(url, *statements)


@pytest.mark.parametrize("login", ["ledger_api", "dashboard"])
async def test_auditors_cannot_write_even_with_read_only_sessions_off(
    owner_url: str, login: str
) -> None:
    url = as_role(owner_url, login)
    conn = await asyncpg.connect(url)
    try:  # they read every ledger table
        assert await conn.fetchval("SELECT count(*) FROM entries") == 0
    finally:
        await conn.close()
    await _refused(
        url,
        "INSERT INTO enterprises (enterprise_id) VALUES ('91320500MA9999999X')",
        "UPDATE entitlements SET granted_fen = granted_fen + 1",
        "DELETE FROM decisions",
        "TRUNCATE inbox",
        "ALTER TABLE entries DISABLE TRIGGER entries_append_only",
        setup="SET default_transaction_read_only = off",
    )


def _without_password(url: str, role: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{role}@{parts.netloc.rpartition('@')[2]}"))


@pytest.mark.parametrize(
    "role", ["subsidy", "postgres", "ledger_worker", "ingest_server", "ledger_api"]
)
async def test_no_role_gets_in_over_tcp_without_its_password(
    owner_url: str, role: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("PGPASSWORD", "PGPASSFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PGPASSFILE", "/nonexistent")
    for url in (
        _without_password(owner_url, role),
        _without_password(owner_url, f"{role}:not-the-password"),
    ):
        with pytest.raises(asyncpg.InvalidAuthorizationSpecificationError):
            await asyncpg.connect(url, timeout=10)


@pytest.mark.parametrize(
    ("login", "needs", "refusal"),
    [
        ("subsidy", WRITER, "owns"),  # the owner could disable the journal's triggers
        ("subsidy", INGEST, "owns"),
        ("subsidy", NOTIFIER, "owns"),
        ("ledger_worker", INGEST, "cannot read ingest_accepted_events"),  # the wrong group
        ("ledger_worker", NOTIFIER, "cannot read notifier_subscriptions"),
    ],
)
async def test_services_refuse_to_start_as_a_role_that_can_do_too_much(
    owner_url: str, login: str, needs: RoleNeeds, refusal: str
) -> None:
    conn = await asyncpg.connect(as_role(owner_url, login))
    try:
        with pytest.raises(DatabaseRoleError, match=refusal):
            await check_role(conn, needs)
    finally:
        await conn.close()


@pytest.mark.parametrize(
    ("login", "needs"), [("ingest_server", INGEST), ("notifier_worker", NOTIFIER)]
)
async def test_ingest_and_the_notifier_refuse_to_start_if_granted_a_ledger_table(
    owner_url: str, login: str, needs: RoleNeeds
) -> None:
    group = {"ingest_server": "subsidy_ingest", "notifier_worker": "subsidy_notifier"}[login]
    owner = await asyncpg.connect(owner_url)
    try:
        await owner.execute(f"GRANT SELECT ON entries TO {group}")  # a careless grant
        conn = await asyncpg.connect(as_role(owner_url, login))
        try:
            with pytest.raises(DatabaseRoleError, match="has privileges on entries"):
                await check_role(conn, needs)
        finally:
            await conn.close()
    finally:
        await owner.execute(f"REVOKE SELECT ON entries FROM {group}")
        await owner.close()


@pytest.mark.parametrize(
    ("login", "needs"),
    [("ledger_worker", WRITER), ("ingest_server", INGEST), ("notifier_worker", NOTIFIER)],
)
async def test_each_service_starts_as_its_own_login_and_only_when_migrated(
    owner_url: str, fresh_database_url: str, login: str, needs: RoleNeeds
) -> None:
    conn = await asyncpg.connect(as_role(owner_url, login))
    try:
        await check_role(conn, needs)
    finally:
        await conn.close()
    schema, empty = await create_schema(fresh_database_url, "unmigrated")
    try:
        conn = await asyncpg.connect(as_role(empty, login))
        try:
            with pytest.raises(DatabaseRoleError, match="subsidy db migrate"):
                await check_role(conn, needs)
        finally:
            await conn.close()
    finally:
        await drop_schema(fresh_database_url, schema)
