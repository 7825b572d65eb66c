"""Running the ledger query API: a read-only pool, the auditor token check, gauges for alerts."""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import asyncpg
import grpc
import structlog

from subsidy.domain.catalog import Catalog
from subsidy.identity.access import ACCESS
from subsidy.identity.sessions import SessionGate
from subsidy.identity.settings import public_key_of
from subsidy.infra.auth import AUDITOR, BearerAuthInterceptor
from subsidy.infra.db_roles import LEDGER_TABLES, DatabaseRoleError, owned_tables
from subsidy.infra.grpc_server import start_server
from subsidy.infra.postgres import DATABASE_ERRORS
from subsidy.ledger import metrics, workbench, workbench_gauges
from subsidy.ledger.api import SERVICE_NAME, LedgerServicer, registration
from subsidy.ledger.api_settings import LedgerApiSettings
from subsidy.ledger.chain import verify_chains

log = structlog.get_logger(__name__)

_WRITES = ("INSERT", "UPDATE", "DELETE", "TRUNCATE")


async def check_role(conn: asyncpg.Connection, allow_writable: bool = False) -> None:
    """The schema is there, the role can read every ledger table and, unless allowed, write
    none of them. Raises DatabaseRoleError naming what is wrong."""
    role = await conn.fetchval("SELECT current_user")
    missing = [
        r["t"]
        for r in await conn.fetch(
            "SELECT t FROM unnest($1::text[]) AS t WHERE to_regclass(t) IS NULL", LEDGER_TABLES
        )
    ]
    if missing:
        raise DatabaseRoleError(
            f"no ledger tables {', '.join(missing)} on the search_path of role {role}: run"
            " `subsidy ledger migrate` as the ledger's owner, and give LEDGER_API_DATABASE_URL"
            " the same search_path"
        )
    owned = await owned_tables(conn, LEDGER_TABLES)
    if owned:
        raise DatabaseRoleError(
            f"role {role} owns {', '.join(owned)}: the query API must connect as a member of"
            " subsidy_auditor, never as the ledger's owner (docs/security.md)"
        )
    rows = await conn.fetch(
        "SELECT t, p, has_table_privilege(t, p) AS granted"
        " FROM unnest($1::text[]) AS t CROSS JOIN unnest($2::text[]) AS p",
        LEDGER_TABLES,
        ["SELECT", *_WRITES],
    )
    unreadable = [r["t"] for r in rows if r["p"] == "SELECT" and not r["granted"]]
    if unreadable:
        raise DatabaseRoleError(
            f"role {role} cannot read {', '.join(unreadable)}: make it a member of"
            " subsidy_auditor and grant that role SELECT (docs/security.md)"
        )
    writable = sorted(f"{r['p']} on {r['t']}" for r in rows if r["p"] != "SELECT" and r["granted"])
    if writable:
        detail = f"role {role} may {', '.join(writable)}"
        if not allow_writable:
            raise DatabaseRoleError(
                f"{detail}: the query API must connect as a read-only role (a member of"
                " subsidy_auditor, docs/security.md), or set LEDGER_API_ALLOW_WRITABLE_ROLE=true"
                " for local development"
            )
        log.warning("ledger_api.writable_role", role=role, privileges=writable)


async def refresh_backlog_gauges(conn: asyncpg.Connection) -> None:
    """Set the gauges of what waits: unpublished decisions, parked reviews."""
    for table, since, pending, count, oldest in (
        ("outbox", "created_at", "sent_at IS NULL",
         metrics.OUTBOX_BACKLOG, metrics.OUTBOX_OLDEST_SECONDS),
        ("parked_reviews", "parked_at", "state = 'waiting'",
         metrics.PARKED_WAITING, metrics.PARKED_OLDEST_SECONDS),
    ):  # fmt: skip
        row = await conn.fetchrow(
            f"SELECT count(*) AS n,"
            f" coalesce(extract(epoch FROM now() - min({since})), 0)::float8 AS oldest"
            f" FROM {table} WHERE {pending}"
        )
        count.set(row["n"])
        oldest.set(row["oldest"])


async def _every(
    seconds: float,
    what: str,
    pool: asyncpg.Pool,
    work: Callable[[asyncpg.Connection], Awaitable[None]],
) -> None:
    """Run `work(conn)` now and then every `seconds`; a failure is logged and retried."""
    while True:
        try:
            async with pool.acquire() as conn:
                await work(conn)
        except DATABASE_ERRORS as err:
            log.error("ledger_api.background_failed", task=what, error=repr(err))
        await asyncio.sleep(seconds)


async def _verify(conn: asyncpg.Connection) -> None:
    result = await verify_chains(conn)
    metrics.observe_verification(result)
    if not result.ok:
        log.error("ledger_api.chain_broken", entry=result.first_broken_entry, detail=result.detail)


@dataclass
class RunningApi:
    """A started query API and what it holds; `stop` releases all of it."""

    server: grpc.aio.Server
    port: int
    pool: asyncpg.Pool
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def close(self) -> None:
        """Stop the background tasks and close the pool (after the server stopped)."""
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.pool.close()

    async def stop(self, grace: float = 5.0) -> None:
        """Let in-flight calls finish within grace, then release everything."""
        await self.server.stop(grace)
        await self.close()


def _count_refusal(code: grpc.StatusCode) -> None:
    metrics.API_REFUSED.labels(code.name).inc()


def auth_interceptor(
    settings: LedgerApiSettings, sessions: SessionGate | None = None
) -> BearerAuthInterceptor:
    """LedgerService for auditor tokens and, with a gate, people's sessions as the access
    matrix allows them (subsidy.identity.access); a writer token (recognised by its digest) is
    PERMISSION_DENIED, anything else UNAUTHENTICATED. Health and reflection stay open."""
    return BearerAuthInterceptor(
        settings.credentials(),
        {SERVICE_NAME: AUDITOR, workbench.SERVICE_NAME: AUDITOR},
        on_refused=_count_refusal,
        sessions=sessions,
        access=ACCESS,
    )


async def start_api(settings: LedgerApiSettings, catalog: Catalog) -> RunningApi:
    """Connect (sessions read-only), check the role, and serve on settings.grpc_address
    (which may end in :0; the bound port is returned). The API never migrates: its role may
    not, and the worker's `subsidy ledger migrate` owns the schema. GrpcTlsError, before
    anything is started, without a transport."""
    transport = settings.grpc_transport()
    pool = await asyncpg.create_pool(
        settings.database_url,
        min_size=1,
        max_size=settings.db_pool_size,
        # A second guard beside the role: every transaction of these sessions is read-only.
        server_settings={
            "default_transaction_read_only": "on",
            "application_name": "subsidy-ledger-api",
        },
    )
    try:
        async with pool.acquire() as conn:
            await check_role(conn, settings.allow_writable_role)
        servicer = LedgerServicer(pool, catalog, settings.default_page_size, settings.max_page_size)
        # People's sessions, when a key is set: their credentials read through this pool
        # (subsidy_auditor may read them).
        key = public_key_of(settings.session_public_key)
        gate = None if key is None else SessionGate(key, pool)
        server, port = await start_server(
            [
                registration(servicer),
                workbench.registration(
                    pool, catalog, settings.default_page_size, settings.max_page_size
                ),
            ],
            settings.grpc_address,
            [auth_interceptor(settings, gate)],
            transport=transport,
        )
    except BaseException:
        await pool.close()
        raise
    running = RunningApi(server, port, pool)
    running.tasks.append(workbench_gauges.start_refreshing(pool, catalog))
    running.tasks.append(
        asyncio.create_task(
            _every(settings.outbox_poll_seconds, "backlog", pool, refresh_backlog_gauges)
        )
    )
    if settings.verify_interval_seconds:
        running.tasks.append(
            asyncio.create_task(_every(settings.verify_interval_seconds, "verify", pool, _verify))
        )
    log.info("ledger_api.started", port=port)
    return running
