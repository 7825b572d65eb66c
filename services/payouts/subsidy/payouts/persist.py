"""The desk's changes written back in the operation's transaction."""

# Transfers on the hash chain, orders with their history, receivables, alerts, batches, and what was
# taken in.

import hashlib
import json
from dataclasses import astuple, dataclass
from datetime import UTC, datetime

import asyncpg

from subsidy.domain.payouts.accounts import Transfer
from subsidy.domain.payouts.budget import EnvelopeLine
from subsidy.domain.payouts.desk import Changes, PayoutDesk
from subsidy.payouts.store import LINE_COLUMNS, ORDER_COLUMNS, RECEIVABLE_COLUMNS


@dataclass(frozen=True, slots=True)
class Operation:
    """The command being run and who ran it (kept with every transfer and order change)."""

    name: str
    principal: str

    def __str__(self) -> str:
        return f"{self.name} by {self.principal}"


def transfer_hash(prev_hash: str, seq: int, t: Transfer, operation: str, at: datetime) -> str:
    """sha256(prev ‖ '\\n' ‖ canonical transfer): the link of the transfers' chain."""
    body = {
        "seq": seq, "transferId": t.transfer_id, "kind": t.kind.value, "debit": t.debit,
        "credit": t.credit, "amountFen": t.amount_fen, "ref": t.ref, "operation": operation,
        "bookedAt": at.astimezone(UTC).isoformat(timespec="microseconds"),
    }  # fmt: skip
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(prev_hash.encode() + b"\n" + canonical.encode()).hexdigest()


async def write_changes(
    conn: asyncpg.Connection, desk: PayoutDesk, head: tuple[int, str], op: Operation
) -> Changes:
    """Everything the desk changed since its last drain (call in the desk lock's transaction)."""
    changes = desk.drain()
    now = datetime.now(UTC)
    await _transfers(conn, changes.transfers, head, str(op), now)
    await _orders(conn, desk, changes, str(op))
    await _receivables(conn, desk, changes)
    if changes.alerts:
        await conn.executemany(
            "INSERT INTO budget_alerts (channel, year, threshold, used_fen, amount_fen)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            [(a.channel, a.year, a.threshold, a.used_fen, a.amount_fen) for a in changes.alerts],
        )
    for bid in changes.batches:
        await _batch(conn, desk, bid, op.principal)
    for version, digest, lines in changes.loads:
        await _budget_load(conn, version, digest, lines, op)
    if changes.notices:
        await conn.executemany(
            "INSERT INTO payout_notices (notice_id, kind, channel, year, amount_fen,"
            " enterprise_id, enterprise_name, order_id, batch_id, reason)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
            [astuple(n) for n in changes.notices],
        )
    return changes


async def _budget_load(
    conn: asyncpg.Connection, version: int, digest: str, lines: list[EnvelopeLine], op: Operation
) -> None:
    """A budget file as its version, and the envelopes it set, with the transfers it made."""
    body = json.dumps([[ln.channel, ln.year, ln.amount_fen] for ln in lines], ensure_ascii=False)
    await conn.execute(
        "INSERT INTO budget_loads (version, digest, file_name, lines, loaded_by)"
        " VALUES ($1, $2, $3, $4, $5)",
        version, digest, op.name, body, op.principal,
    )  # fmt: skip
    await conn.executemany(
        "INSERT INTO budget_envelopes (channel, year, amount_fen, version)"
        " VALUES ($1, $2, $3, $4) ON CONFLICT (channel, year) DO UPDATE"
        " SET amount_fen = EXCLUDED.amount_fen, version = EXCLUDED.version",
        [(ln.channel, ln.year, ln.amount_fen, version) for ln in lines],
    )


async def _transfers(
    conn: asyncpg.Connection, transfers: list[Transfer], head: tuple[int, str], op: str,
    at: datetime,
) -> None:  # fmt: skip
    seq, prev = head
    rows = []
    for t in transfers:
        seq += 1
        link = transfer_hash(prev, seq, t, op, at)
        rows.append((seq, t.transfer_id, t.kind.value, t.debit, t.credit, t.amount_fen, t.ref,
                     op, at, prev, link))  # fmt: skip
        prev = link
    if not rows:
        return
    await conn.executemany(
        "INSERT INTO transfers (seq, transfer_id, kind, debit_account, credit_account,"
        " amount_fen, ref, operation, booked_at, prev_hash, hash)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        rows,
    )
    await conn.execute("UPDATE payout_desk SET head_seq = $1, head_hash = $2", seq, prev)


def _value(v: object) -> object:
    """A field as its column holds it (enums by value)."""
    return getattr(v, "value", v)


async def _upsert(
    conn: asyncpg.Connection, table: str, key: str, columns: tuple[str, ...], fixed: int,
    rows: list[tuple[object, ...]],
) -> None:  # fmt: skip
    """Insert rows, or update all but their first `fixed` columns where the key exists."""
    cols = ", ".join(columns)
    marks = ", ".join(f"${i + 1}" for i in range(len(columns)))
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns[fixed:])
    await conn.executemany(
        f"INSERT INTO {table} ({cols}) VALUES ({marks}) ON CONFLICT ({key}) DO UPDATE"
        f" SET {updates}, updated_at = now()",
        rows,
    )


async def _orders(conn: asyncpg.Connection, desk: PayoutDesk, changes: Changes, op: str) -> None:
    if changes.taken:
        await conn.executemany(
            "INSERT INTO payout_intake (source_id, kind) VALUES ($1, $2)", changes.taken
        )
    orders = [desk.orders[i] for i in sorted(changes.orders, key=lambda i: desk.orders[i].seq)]
    if not orders:
        return
    rows = [tuple(_value(getattr(o, c)) for c in ORDER_COLUMNS) for o in orders]
    await _upsert(
        conn, "payment_orders", "order_id", ORDER_COLUMNS, ORDER_COLUMNS.index("state"), rows
    )
    await conn.executemany(
        "INSERT INTO payment_order_history (order_id, state, hold, batch_id, set_off_fen,"
        " operation) VALUES ($1, $2, $3, $4, $5, $6)",
        [
            (o.order_id, o.state.value, _value(o.hold), o.batch_id, o.set_off_fen, op)
            for o in orders
        ],
    )


async def _receivables(conn: asyncpg.Connection, desk: PayoutDesk, changes: Changes) -> None:
    held = [desk.receivables[i] for i in changes.receivables]
    if not held:
        return
    order = {rid: n for n, rid in enumerate(desk.receivables)}
    rows = [(*(getattr(r, c) for c in RECEIVABLE_COLUMNS), order[r.receivable_id] + 1)
            for r in held]  # fmt: skip
    await _upsert(conn, "receivables", "receivable_id", (*RECEIVABLE_COLUMNS, "seq"),
                  RECEIVABLE_COLUMNS.index("set_off_fen"), rows)  # fmt: skip


async def _batch(conn: asyncpg.Connection, desk: PayoutDesk, bid: str, principal: str) -> None:
    b = desk.batches[bid]
    await conn.execute(
        "INSERT INTO payout_batches (batch_id, channel, pay_date, line_count, total_fen,"
        " created_by) VALUES ($1, $2, $3, $4, $5, $6)",
        b.batch_id, b.channel, b.pay_date, len(b.lines), b.total_fen, principal,
    )  # fmt: skip
    cols = ", ".join(("batch_id", "line_no", *LINE_COLUMNS))
    marks = ", ".join(f"${i + 1}" for i in range(len(LINE_COLUMNS) + 2))
    await conn.executemany(
        f"INSERT INTO payout_batch_lines ({cols}) VALUES ({marks})",
        [(bid, n, *(getattr(ln, c) for c in LINE_COLUMNS)) for n, ln in enumerate(b.lines, 1)],
    )
