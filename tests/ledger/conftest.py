"""Fixtures of the ledger service's tests."""

# The fed ledger behind its query API, read by an auditor's login, and a client of it.

import asyncio
import json
import subprocess
from collections.abc import AsyncIterator

import asyncpg
import pytest

from subsidy.api.v1 import api_pb2_grpc
from subsidy.ledger.bootstrap import ledger_api
from tests.ledger.api import SUBSIDY, Ledger, api_settings, feed, known_events
from tests.ledger.database import as_role, assert_sound, migrated_ledger_schema
from tests.ledger.events import CATALOG, jsonl
from tests.support.grpc_tls import GrpcTls


@pytest.fixture(scope="session")
async def auditor_role(database_url: str) -> str:
    """The cluster's subsidy_auditor group role, which `subsidy dev up` made (with the
    `ledger_api` login in it) before any ledger is migrated."""
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = 'subsidy_auditor'")
    finally:
        await conn.close()
    return "subsidy_auditor"


@pytest.fixture(scope="session")
async def ledger(
    fresh_database_url: str,
    auditor_role: str,
    tmp_path_factory: pytest.TempPathFactory,
    grpc_tls: GrpcTls,
) -> AsyncIterator[Ledger]:
    # Migrated as `subsidy`: grants SELECT to the existing group role.
    _, owner = await migrated_ledger_schema(fresh_database_url, "ledger_api")
    events = known_events()
    await feed(owner, events)
    path = tmp_path_factory.mktemp("api") / "events.jsonl"
    path.write_text("\n".join(jsonl(events)) + "\n", encoding="utf-8")
    done = await asyncio.to_thread(
        subprocess.run,
        [str(SUBSIDY), "simulate", "--events", str(path), "--format", "json"],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    reader = as_role(owner, "ledger_api")
    try:
        async with ledger_api(api_settings(reader, grpc_tls), CATALOG, grace=1.0) as api:
            address = f"127.0.0.1:{api.port}"
            yield Ledger(owner, reader, api, address, events, json.loads(done.stdout), grpc_tls)
    finally:
        await assert_sound(owner)


@pytest.fixture
async def stub(ledger: Ledger) -> AsyncIterator["api_pb2_grpc.LedgerServiceAsyncStub"]:
    """A client of the fed ledger's API, checking its certificate against the CA."""
    async with ledger.tls.channel(ledger.address) as channel:
        yield api_pb2_grpc.LedgerServiceStub(channel)  # type: ignore[misc]
