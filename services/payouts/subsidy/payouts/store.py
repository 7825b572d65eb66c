"""The payout desk loaded from PostgreSQL under the desk lock."""

# Accounts, orders, receivables, envelopes, batches, and what the ledger recorded (payees,
# objections).

import asyncpg

from subsidy.domain.catalog import Catalog
from subsidy.domain.payouts.accounts import Balance, Transfer, TransferKind
from subsidy.domain.payouts.batches import Batch, BatchLine
from subsidy.domain.payouts.desk import PayoutDesk
from subsidy.domain.payouts.orders import Hold, OrderState, PaymentOrder, Receivable
from subsidy.payouts import intake

ORDER_COLUMNS = (
    "order_id", "decision_id", "entitlement_id", "enterprise_id", "enterprise_name", "district",
    "rule_id", "year", "channel", "level", "amount_fen", "decided_on", "notice_until", "seq",
    "state", "hold", "committed", "set_off_fen", "batch_id", "paid_on", "return_reason",
    "returned_account",
)  # fmt: skip
RECEIVABLE_COLUMNS = (
    "receivable_id", "entitlement_id", "enterprise_id", "channel", "year", "amount_fen",
    "raised_on", "set_off_fen", "collected_fen", "written_off_fen",
)  # fmt: skip
LINE_COLUMNS = (
    "order_id", "payee_name", "enterprise_id", "bank_name", "account_number", "amount_fen",
    "purpose", "channel",
)  # fmt: skip


async def lock_desk(conn: asyncpg.Connection) -> tuple[int, str]:
    """Take the desk lock (payouts operations run one at a time); the chain head."""
    row = await conn.fetchrow("SELECT head_seq, head_hash FROM payout_desk FOR UPDATE")
    assert row is not None, "payout_desk has its one row from the migration"
    return row["head_seq"], row["head_hash"]


async def load_desk(conn: asyncpg.Connection, catalog: Catalog, set_off: bool) -> PayoutDesk:
    """Everything the desk holds, as stored (call under the desk lock)."""
    desk = PayoutDesk(catalog, set_off)
    await _accounts(conn, desk)
    for r in await conn.fetch(
        f"SELECT {', '.join(ORDER_COLUMNS)} FROM payment_orders ORDER BY seq"
    ):
        o = PaymentOrder(**dict(r))
        o.state = OrderState(r["state"])
        o.hold = Hold(r["hold"]) if r["hold"] else None
        desk.orders[o.order_id] = o
        desk.cash_by_entitlement[o.entitlement_id] += o.amount_fen
    cols = ", ".join(RECEIVABLE_COLUMNS)
    for r in await conn.fetch(f"SELECT {cols} FROM receivables ORDER BY seq"):
        rec = Receivable(**dict(r))
        desk.receivables[rec.receivable_id] = rec
        desk.clawed_by_entitlement[rec.entitlement_id] += rec.amount_fen
    desk.taken = {r["source_id"] for r in await conn.fetch("SELECT source_id FROM payout_intake")}
    for p in await intake.payees(conn):
        desk.register_payee(p)
    for obj in await intake.objections(conn):
        desk.file_objection(obj)
    desk.dismissed = {r[0] for r in await conn.fetch("SELECT event_id FROM objection_dismissals")}
    await _envelopes(conn, desk)
    await _batches(conn, desk)
    return desk


async def _accounts(conn: asyncpg.Connection, desk: PayoutDesk) -> None:
    """Balances as the database keeps them, and every transfer (ids are idempotency keys)."""
    for r in await conn.fetch("SELECT account, debits_fen, credits_fen FROM payout_accounts"):
        desk.accounts.balances[r["account"]] = Balance(r["debits_fen"], r["credits_fen"])
    rows = await conn.fetch(
        "SELECT transfer_id, kind, debit_account, credit_account, amount_fen, ref"
        " FROM transfers ORDER BY seq"
    )
    for r in rows:
        t = Transfer(r["transfer_id"], TransferKind(r["kind"]), r["debit_account"],
                     r["credit_account"], r["amount_fen"], r["ref"])  # fmt: skip
        desk.accounts.transfers[t.transfer_id] = t


async def _envelopes(conn: asyncpg.Connection, desk: PayoutDesk) -> None:
    env = desk.envelopes
    for r in await conn.fetch("SELECT channel, year, amount_fen FROM budget_envelopes"):
        env.amounts[(r["channel"], r["year"])] = r["amount_fen"]
    env.versions = [
        r[0] for r in await conn.fetch("SELECT digest FROM budget_loads ORDER BY version")
    ]
    env.raised = {
        (r["channel"], r["year"], r["threshold"])
        for r in await conn.fetch("SELECT channel, year, threshold FROM budget_alerts")
    }


async def _batches(conn: asyncpg.Connection, desk: PayoutDesk) -> None:
    lines: dict[str, list[asyncpg.Record]] = {}
    for r in await conn.fetch("SELECT * FROM payout_batch_lines ORDER BY batch_id, line_no"):
        lines.setdefault(r["batch_id"], []).append(r)
    for b in await conn.fetch("SELECT batch_id, channel, pay_date FROM payout_batches"):
        mine = lines.get(b["batch_id"], [])
        desk.batches[b["batch_id"]] = Batch(
            b["batch_id"], b["channel"], b["pay_date"],
            tuple(BatchLine(*(r[c] for c in LINE_COLUMNS)) for r in mine),
            {r["order_id"]: r["result"] for r in mine if r["result"]},
        )  # fmt: skip
