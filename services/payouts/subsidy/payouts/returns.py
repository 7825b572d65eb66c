"""The database side of batch files and return files."""

# Each batch's manifest digest kept, a return file applied once, and the reconciliation with the
# ledger's grants beside it.

import asyncio
import csv
import hashlib
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import asyncpg

from subsidy.domain.catalog import Catalog
from subsidy.domain.payouts import funding, treasury
from subsidy.domain.payouts.batches import ReturnLine
from subsidy.domain.payouts.desk import PayoutDesk
from subsidy.domain.payouts.errors import BatchRefused, ReturnRefused
from subsidy.domain.payouts.orders import order_id
from subsidy.domain.payouts.reconcile import Owed, Reconciliation, reconcile
from subsidy.payouts.batch_files import Manifest
from subsidy.payouts.operations import operate
from subsidy.payouts.persist import Operation
from subsidy.payouts.return_files import read_return
from subsidy.payouts.store import load_desk


async def record_manifests(conn: asyncpg.Connection, manifests: list[Manifest]) -> None:
    """Keep each batch's digest the first time its files are written; a later writing that
    comes out different is refused (the same batch must always make the same files)."""
    for m in manifests:
        kept = await conn.fetchval(
            "UPDATE payout_batches SET manifest_sha256 = coalesce(manifest_sha256, $2)"
            " WHERE batch_id = $1 RETURNING manifest_sha256",
            m.batch_id, m.sha256,
        )  # fmt: skip
        if kept != m.sha256:
            raise BatchRefused(f"{m.batch_id}: its files now hash to {m.sha256}, not {kept}")


async def _manifest_of(conn: asyncpg.Connection, path: Path) -> Manifest:
    """The manifest of the batch a return file names (its first line's 批次号), as stored."""
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as f:
        rows = list(csv.reader(f))
    batch_id = rows[1][0].strip() if len(rows) > 1 and rows[1] else ""
    row = await conn.fetchrow("SELECT * FROM payout_batches WHERE batch_id = $1", batch_id)
    if row is None or row["manifest_sha256"] is None:
        raise ReturnRefused(2, "批次号", f"no batch {batch_id!r} was sent (未找到该批次)")
    return Manifest(row["batch_id"], row["channel"], row["pay_date"], row["line_count"],
                    row["total_fen"], "", (), row["manifest_sha256"])  # fmt: skip


async def confirm_file(
    conn: asyncpg.Connection,
    catalog: Catalog,
    set_off: bool,
    path: Path,
    op: Operation,
    after_commit: Callable[[], None] = lambda: None,
) -> str:
    """Apply a return file once; a summary line."""
    digest = hashlib.sha256(await asyncio.to_thread(path.read_bytes)).hexdigest()
    if await conn.fetchval("SELECT 1 FROM payout_return_files WHERE sha256 = $1", digest):
        return f"{path.name}: applied before (sha256 {digest}), nothing to do"
    manifest = await _manifest_of(conn, path)
    batch_id, day, lines = read_return(path, manifest)

    def apply(desk: PayoutDesk) -> int:
        return treasury.confirm(desk, desk.batches[batch_id], lines, day)

    async with conn.transaction():
        applied = (await operate(conn, catalog, set_off, op, apply)).result
        await _record_results(conn, batch_id, lines)
        await conn.execute(
            "INSERT INTO payout_return_files (sha256, batch_id, file_name, lines, applied,"
            " applied_by) VALUES ($1, $2, $3, $4, $5, $6)",
            digest, batch_id, path.name, len(lines), applied, op.principal,
        )  # fmt: skip
    after_commit()
    paid = sum(1 for ln in lines if ln.paid)
    returned = len(lines) - paid
    return (
        f"{batch_id}: {len(lines)} lines, {paid} paid, {returned} returned; {applied} applied now"
    )


async def _record_results(conn: asyncpg.Connection, batch_id: str, lines: list[ReturnLine]) -> None:
    await conn.executemany(
        "UPDATE payout_batch_lines SET result = $3, return_reason = $4, confirmed_at = now()"
        " WHERE batch_id = $1 AND order_id = $2 AND result IS NULL",
        [(batch_id, ln.order_id, "PAID" if ln.paid else "RETURNED", ln.reason) for ln in lines],
    )


# The ledger's cash decisions in the order the payouts take them in (intake._GRANTS), so the
# running totals split each one as the desk did.
_OWED = """
SELECT d.decision_id, d.entitlement_id, d.enterprise_id, d.district, d.rule_id, d.year,
       e.occurred_on, d.cash_delta_fen
FROM decisions d
JOIN entitlements e ON e.entitlement_id = d.entitlement_id
LEFT JOIN inbox i ON i.event_id = d.caused_by_event_id
WHERE d.cash_delta_fen > 0
ORDER BY i.arrival, d.decided_at, d.decision_id
"""


async def ledger_owed(conn: asyncpg.Connection, catalog: Catalog) -> dict[str, Owed]:
    """The payment orders the ledger's cash decisions make, by order id, routed and split as
    the desk does."""
    running: dict[str, int] = defaultdict(int)
    out: dict[str, Owed] = {}
    for r in await conn.fetch(_OWED):
        rule = catalog.at(r["occurred_on"]).rule(r["rule_id"])
        before = running[r["entitlement_id"]]
        running[r["entitlement_id"]] = before + r["cash_delta_fen"]
        parts = funding.split(rule, r["district"], before, before + r["cash_delta_fen"])
        for level, fen in parts.items():
            channel = funding.channel_of(rule, r["district"], level)
            out[order_id(r["decision_id"], level)] = Owed(
                r["decision_id"], channel, r["year"], fen, r["enterprise_id"]
            )
    return out


async def ledger_granted(conn: asyncpg.Connection, catalog: Catalog) -> dict[tuple[str, int], int]:
    """The cash the ledger granted, routed by channel and year as the orders are."""
    out: dict[tuple[str, int], int] = defaultdict(int)
    for owed in (await ledger_owed(conn, catalog)).values():
        out[(owed.channel, owed.year)] += owed.amount_fen
    return dict(out)


async def reconciliation(
    conn: asyncpg.Connection, catalog: Catalog, set_off: bool
) -> Reconciliation:
    """The desk's reconciliation with the ledger's grants checked against the orders."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        owed = await ledger_owed(conn, catalog)
        desk = await load_desk(conn, catalog, set_off)
    return reconcile(desk, owed)
