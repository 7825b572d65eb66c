"""The gauge `subsidy_workbench_cases`, which the ledger API refreshes in the background."""

import asyncio
from datetime import datetime

import asyncpg
import structlog
from prometheus_client import Gauge

from subsidy.domain.catalog import Catalog
from subsidy.domain.deadlines import Deadlines, Queue, load_deadlines, overdue_before
from subsidy.infra.postgres import DATABASE_ERRORS
from subsidy.ledger import workbench_queries as wq
from subsidy.ledger.metrics import API_REGISTRY
from subsidy.ledger.workbench import Clock, bureau_rules, utc_now

log = structlog.get_logger(__name__)

# Cases are aged in working days: once a minute is far finer than any deadline moves.
REFRESH_SECONDS = 60.0

# Set by the query API (`subsidy ledger serve`), like the backlog gauges: the workbench's
# cases are the ledger's and the payouts' rows, which the API reads anyway.
WORKBENCH_CASES = Gauge(
    "subsidy_workbench_cases",
    "Cases waiting in a bureau's workbench queue: state=open every open case, state=overdue"
    " those of them past their deadline (working days, docs/workbench.md).",
    ["queue", "bureau", "state"],
    registry=API_REGISTRY,
)


async def refresh(
    conn: asyncpg.Connection, catalog: Catalog, now: datetime, deadlines: Deadlines | None = None
) -> None:
    """Set every (queue, bureau) pair's open and overdue counts: one query per queue, counted
    per rule, summed per bureau (a rule of several bureaus counts for each)."""
    deadlines = deadlines or load_deadlines()
    bureaus = bureau_rules(catalog)
    every_rule = sorted({r for rules in bureaus.values() for r in rules})
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        payouts = await wq.payouts_present(conn)
        found: dict[Queue, dict[str, tuple[int, int]]] = {}
        for queue in Queue:
            sql = wq.queue_sql(queue, payouts)
            cutoff = overdue_before(queue, now, deadlines)
            found[queue] = {} if sql is None else await wq.count_by_rule(
                conn, sql, every_rule, cutoff
            )  # fmt: skip
    for queue, by_rule in found.items():
        for bureau, rules in bureaus.items():
            counts = [by_rule.get(r, (0, 0)) for r in rules]
            WORKBENCH_CASES.labels(queue.value, bureau, "open").set(sum(t for t, _ in counts))
            WORKBENCH_CASES.labels(queue.value, bureau, "overdue").set(sum(o for _, o in counts))


async def refresh_every(
    pool: asyncpg.Pool, catalog: Catalog, seconds: float = REFRESH_SECONDS, now: Clock = utc_now
) -> None:
    """Refresh now and then every `seconds`; a failure is logged and tried again."""
    while True:
        try:
            async with pool.acquire() as conn:
                await refresh(conn, catalog, now())
        except DATABASE_ERRORS as err:
            log.error("ledger_api.background_failed", task="workbench", error=repr(err))
        await asyncio.sleep(seconds)


def start_refreshing(pool: asyncpg.Pool, catalog: Catalog) -> "asyncio.Task[None]":
    """The API server's background task for the gauge (cancelled when the server stops)."""
    return asyncio.create_task(refresh_every(pool, catalog))
