"""The workbench tests' server: the seeded ledger (tests/workbench/seed.py) read by the ledger
API's login through WorkbenchService on a real gRPC server over TLS, behind the ledger API's
own token check, with a clock the tests set."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import asyncpg
import grpc
import pytest

from subsidy.api.v1 import workbench_pb2_grpc
from subsidy.harness.databases import create_schema, migrate_platform
from subsidy.identity.principal import Principal, Role, current_principal
from subsidy.infra.grpc_server import start_server
from subsidy.ledger import workbench
from subsidy.ledger.api_server import auth_interceptor
from tests.ledger.api import api_settings
from tests.ledger.database import as_role
from tests.ledger.events import CATALOG
from tests.support.grpc_tls import GrpcTls
from tests.workbench.seed import BATCHES, NOW, decide_at, run_payouts

# The metadata a test names a person's principal with: `role|bureau|name`, UTF-8 (binary
# metadata: a bureau's name is not ASCII).
PERSON = "x-test-principal-bin"


class SettableClock:
    """The server's now: fixed, and moved by the tests."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


class PersonInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Sets `current_principal` for the call as the session interceptor does for a person's
    session token (that wiring is not part of this service): the servicer reads the principal
    from the context variable only, so this is the state it sees behind a real session."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        named = dict(details.invocation_metadata or ()).get(PERSON)
        if handler is None or handler.unary_unary is None or not isinstance(named, bytes):
            return handler
        role, bureau, name = named.decode().split("|")
        person = Principal(name, Role(role), bureau=bureau or None)
        inner = handler.unary_unary

        async def as_person(request: object, context: grpc.aio.ServicerContext) -> object:
            token = current_principal.set(person)
            try:
                return await inner(request, context)
            finally:
                current_principal.reset(token)

        return grpc.unary_unary_rpc_method_handler(
            as_person,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


@dataclass
class Workbench:
    """The seeded schema (owner's and the API login's URLs), the server and its clock."""

    owner_url: str
    reader_url: str
    address: str
    clock: SettableClock
    tls: GrpcTls


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
    settings = api_settings(reader, grpc_tls)
    pool = await asyncpg.create_pool(
        reader, min_size=1, max_size=2, server_settings={"default_transaction_read_only": "on"}
    )
    clock = SettableClock(NOW)
    try:
        server, port = await start_server(
            [workbench.registration(pool, CATALOG, 20, 50, now=clock)],
            "127.0.0.1:0",
            [auth_interceptor(settings), PersonInterceptor()],
            transport=settings.grpc_transport(),
        )
        try:
            yield Workbench(owner, reader, f"127.0.0.1:{port}", clock, grpc_tls)
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
