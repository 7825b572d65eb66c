"""The workbench tests' server."""

# The seeded ledger (tests/workbench/seed.py) read by the ledger API's login through
# WorkbenchService on a real gRPC server over TLS, behind the ledger API's own token and session
# check, with a clock the tests set; the people who sign in to it.

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from subsidy.api.v1 import workbench_pb2_grpc
from subsidy.harness.databases import create_schema, migrate_platform
from subsidy.identity import store
from subsidy.identity.principal import Principal
from subsidy.identity.sessions import SessionGate, issue_session, key_pair_pem, load_private_key
from subsidy.identity.settings import public_key_of
from subsidy.infra.grpc_server import start_server
from subsidy.ledger import workbench
from subsidy.ledger.api_server import auth_interceptor
from tests.ledger.api import api_settings
from tests.ledger.database import as_role
from tests.ledger.events import CATALOG
from tests.support.grpc_tls import GrpcTls
from tests.workbench.seed import BATCHES, MIIT, NOW, SCIENCE, A, decide_at, run_payouts

Metadata = tuple[tuple[str, str], ...]

# The portal's session key pair for these tests: the server checks sessions with its public half.
_PRIVATE_PEM, SESSION_PUBLIC_PEM = key_pair_pem()
SESSION_KEY = load_private_key(_PRIVATE_PEM)

# The people the tests act as, with credentials in the seeded schema: name → (role, binding).
# A principal's role and binding never change, so a bureau's reviewer and approver are two.
PEOPLE: dict[str, tuple[str, dict[str, Any]]] = {
    "reviewer-wang": ("reviewer", {"bureau": MIIT}),
    "approver-wang": ("approver", {"bureau": MIIT}),
    "reviewer-zhao": ("reviewer", {"bureau": SCIENCE}),
    "approver-zhao": ("approver", {"bureau": SCIENCE}),
    "enterprise-a": ("enterprise", {"enterprise_id": A}),
    "admin-qian": ("admin", {}),
    "auditor-sun": ("auditor", {}),
}


class SettableClock:
    """The server's now: fixed, and moved by the tests."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


@dataclass
class Workbench:
    """The seeded schema (owner's and the API login's URLs), the server and its clock."""

    owner_url: str
    reader_url: str
    address: str
    clock: SettableClock
    tls: GrpcTls
    people: dict[str, Principal]

    def session(self, name: str, key: Ed25519PrivateKey = SESSION_KEY, **more: Any) -> Metadata:
        """The metadata of a session of one of PEOPLE, issued as the portal issues it (with
        `key`; `more`: issue_session's ttl_s, now)."""
        token = issue_session(self.people[name], key, **more)
        return (("authorization", f"Bearer {token}"),)


async def _sign_people_in(owner: str) -> dict[str, Principal]:
    """PEOPLE's credentials issued, and each signed in once: their principals."""
    conn = await asyncpg.connect(owner)
    try:
        people = {}
        for name, (role, binding) in PEOPLE.items():
            issued = await store.issue(conn, name, role, actor="test-admin", **binding)
            people[name] = await store.authenticate(conn, issued.secret)
        return people
    finally:
        await conn.close()


@pytest.fixture(scope="module")
async def seeded(
    fresh_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, str]:
    """A schema with every component migrated and the seed decided and paid: (owner's URL,
    the ledger API login's URL)."""
    _, owner = await create_schema(fresh_database_url, "workbench")
    await migrate_platform(owner)
    worker = as_role(owner, "ledger_worker")
    for moment, events in BATCHES:
        await decide_at(worker, moment, events)
    out: Path = tmp_path_factory.mktemp("payouts")
    await asyncio.to_thread(run_payouts, as_role(owner, "payouts"), out)
    return owner, as_role(owner, "ledger_api")


@pytest.fixture(scope="module")
async def bench(seeded: tuple[str, str], grpc_tls: GrpcTls) -> AsyncIterator[Workbench]:
    owner, reader = seeded
    people = await _sign_people_in(owner)
    settings = api_settings(reader, grpc_tls, SESSION_PUBLIC_KEY=SESSION_PUBLIC_PEM)
    key = public_key_of(settings.session_public_key)
    assert key is not None
    pool = await asyncpg.create_pool(
        reader, min_size=1, max_size=2, server_settings={"default_transaction_read_only": "on"}
    )
    clock = SettableClock(NOW)
    # The sessions' credentials read through the API's own pool, as the ledger API does.
    gate = SessionGate(key, pool)
    try:
        server, port = await start_server(
            [workbench.registration(pool, CATALOG, 20, 50, now=clock)],
            "127.0.0.1:0",
            [auth_interceptor(settings, gate)],
            transport=settings.grpc_transport(),
        )
        try:
            yield Workbench(owner, reader, f"127.0.0.1:{port}", clock, grpc_tls, people)
        finally:
            await server.stop(1.0)
    finally:
        await pool.close()


@pytest.fixture
async def stub(bench: Workbench) -> AsyncIterator["workbench_pb2_grpc.WorkbenchServiceAsyncStub"]:
    """A client of the workbench, checking the server's certificate; the clock back at NOW."""
    bench.clock.moment = NOW
    async with bench.tls.channel(bench.address) as channel:
        yield workbench_pb2_grpc.WorkbenchServiceStub(channel)  # type: ignore[misc]
