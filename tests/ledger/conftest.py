"""Fixtures of the ledger service's tests: the fed ledger behind its query API, read by an
auditor's login, and a client of it."""

import asyncio
import contextlib
import json
import subprocess
import uuid
from collections.abc import AsyncIterator

import asyncpg
import grpc
import pytest

from subsidy.api.v1 import api_pb2_grpc
from subsidy.harness.databases import with_search_path
from subsidy.ledger.bootstrap import ledger_api
from tests.ledger.api import SUBSIDY, Ledger, api_settings, feed, known_events
from tests.ledger.database import as_role, assert_sound, migrated_ledger_schema
from tests.ledger.events import CATALOG, jsonl


@pytest.fixture(scope="session")
async def auditor_role(database_url: str) -> str:
    """The cluster's subsidy_auditor group role, created as the devstack superuser when missing
    (the migrating role `subsidy` may not create roles), before any ledger is migrated."""
    conn = await asyncpg.connect(as_role(database_url, "postgres"))
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = 'subsidy_auditor'"):
            # Another test session may create it meanwhile.
            with contextlib.suppress(asyncpg.DuplicateObjectError, asyncpg.UniqueViolationError):
                await conn.execute("CREATE ROLE subsidy_auditor NOLOGIN")
    finally:
        await conn.close()
    return "subsidy_auditor"


@pytest.fixture(scope="session")
async def ledger(
    fresh_database_url: str, auditor_role: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Ledger]:
    login = f"ledger_api_test_{uuid.uuid4().hex[:12]}"
    # Migrated as `subsidy`: grants SELECT to the existing group role.
    schema, owner = await migrated_ledger_schema(fresh_database_url, "ledger_api")
    admin = await asyncpg.connect(as_role(fresh_database_url, "postgres"))
    try:
        await admin.execute(f'CREATE ROLE "{login}" LOGIN IN ROLE {auditor_role}')
    finally:
        await admin.close()
    events = known_events()
    await feed(owner, events)
    path = tmp_path_factory.mktemp("api") / "events.jsonl"
    path.write_text("\n".join(jsonl(events)) + "\n", encoding="utf-8")
    done = await asyncio.to_thread(
        subprocess.run,
        [str(SUBSIDY), "simulate", "--events", str(path), "--format", "json"],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    reader = with_search_path(as_role(fresh_database_url, login), schema)
    try:
        async with ledger_api(api_settings(reader), CATALOG, grace=1.0) as api:
            yield Ledger(
                owner, reader, api, f"127.0.0.1:{api.port}", events, json.loads(done.stdout)
            )
    finally:
        await assert_sound(owner)
        admin = await asyncpg.connect(as_role(fresh_database_url, "postgres"))
        try:
            await admin.execute(f'DROP ROLE "{login}"')
        finally:
            await admin.close()


@pytest.fixture
async def stub(ledger: Ledger) -> AsyncIterator["api_pb2_grpc.LedgerServiceAsyncStub"]:
    """A client of the fed ledger's API."""
    async with grpc.aio.insecure_channel(ledger.address) as channel:
        yield api_pb2_grpc.LedgerServiceStub(channel)  # type: ignore[misc]
