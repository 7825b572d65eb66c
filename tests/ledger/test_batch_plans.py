"""Every statement the ledger runs for a batch reaches the rows it needs through an index."""

# None has to scan a table that grows with the ledger, whose cost per batch would grow with it.

import json
import re
from typing import Any

import asyncpg
from aiokafka import ConsumerRecord
from asyncpg.connection import LoggedQuery

from subsidy.ledger.processor import apply_batch
from subsidy.ledger.repository import BookCache
from subsidy.ledger.worker import decode
from tests.ledger.api import known_events
from tests.ledger.database import LedgerDb
from tests.ledger.events import CATALOG, evaluation_records

BATCH = 40
# The ledger's tables that grow with its history (not the per-enterprise heads alone).
GROWING = (
    "inbox", "entitlements", "decisions", "entries", "outbox", "event_revisions",
    "rejected_events", "parked_reviews", "other_support", "review_approvals", "appeals",
    "appeal_decisions", "appeal_notices", "payee_accounts", "objections", "annual_usage",
    "item_usage", "enterprises",
)  # fmt: skip
# Statements that read no table rows a plan could scan.
NOT_PLANNED = ("BEGIN", "COMMIT", "ROLLBACK", "NOTIFY", "SAVEPOINT", "RELEASE", "COPY")


def _with_corrections(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events, then every third invoice corrected: each batch of those replays its
    enterprises' histories (the read a correction makes)."""
    invoices = [e for e in events if "computeInvoiceFiled" in e][::3]
    fixes = [
        {**e, "revision": 2, "correctionReason": "发票金额录入错误",
         "computeInvoiceFiled": {**e["computeInvoiceFiled"],
                                 "amountFen": e["computeInvoiceFiled"]["amountFen"] // 2}}
        for e in invoices
    ]  # fmt: skip
    return [*events, *fixes]


def _one_run(query: str, args: tuple[Any, ...]) -> tuple[Any, ...]:
    """The arguments of one execution: executemany logs all its rows as the arguments."""
    if len(args) != _parameters(query) and args and isinstance(args[0], tuple | list):
        return tuple(args[0])
    return args


def _parameters(query: str) -> int:
    return max((int(n) for n in re.findall(r"\$(\d+)", query)), default=0)


def _whole_scans(node: dict[str, Any]) -> set[str]:
    """The growing tables a plan reads whole: a sequential scan, or an index walked end to end
    (an index scan with no condition on the index; that is what the planner falls back to
    when scans are off and no index fits)."""
    found = set()
    table = node.get("Relation Name")
    kind = node["Node Type"]
    if table in GROWING and (
        kind == "Seq Scan" or (kind.startswith("Index") and "Index Cond" not in node)
    ):
        found.add(f"{kind} on {table}")
    for child in node.get("Plans", ()):
        found |= _whole_scans(child)
    return found


async def _statements(url: str) -> dict[str, tuple[Any, ...]]:
    """Every distinct statement the batches ran, with the arguments of one run of it."""
    records = [
        ConsumerRecord("entitlements", 0, offset, 0, 0, key, value, None, 0, len(value), [])
        for offset, (key, value) in enumerate(evaluation_records(_with_corrections(known_events())))
    ]
    messages = [decode(r, CATALOG) for r in records]
    seen: dict[str, tuple[Any, ...]] = {}
    # No cache: every batch restores its books, the reads an evicted book costs.
    cache = BookCache(0)
    conn = await asyncpg.connect(url)

    def log(q: LoggedQuery) -> None:
        # An executemany over no rows ran nothing: a later run's rows are the ones to plan.
        args = tuple(q.args or ())
        if args or q.query not in seen:
            seen[q.query] = args

    conn.add_query_logger(log)
    try:
        for start in range(0, len(messages), BATCH):
            async with conn.transaction():
                prepared = await apply_batch(conn, messages[start : start + BATCH], cache)
            prepared.committed(cache)
    finally:
        await conn.close()
    return seen


async def test_no_batch_statement_scans_a_growing_table(ledger_db: LedgerDb) -> None:
    statements = await _statements(ledger_db.url)
    assert any("retracted_by IS NULL AND NOT EXISTS" in q for q in statements), (
        "no correction replayed a history: the test would miss that read"
    )
    scans: dict[str, list[str]] = {}
    conn = await asyncpg.connect(ledger_db.url)
    try:
        for query, args in statements.items():
            words = query.lstrip().split(None, 1)
            if not words or words[0].rstrip(";").upper() in NOT_PLANNED or "pg_catalog" in query:
                continue
            if _parameters(query) and not args:
                continue  # only ever run over no rows: it read nothing
            # The tables are small here, so a scan would be the cheaper plan: forbidden, the
            # planner shows whether an index can serve the statement at all.
            async with conn.transaction():
                await conn.execute("SET LOCAL enable_seqscan = off")
                plan = await conn.fetchval(f"EXPLAIN (FORMAT JSON) {query}", *_one_run(query, args))
            found = sorted(_whole_scans(json.loads(plan)[0]["Plan"]))
            if found:
                scans[" ".join(query.split())[:160]] = found
    finally:
        await conn.close()
    assert not scans, scans
