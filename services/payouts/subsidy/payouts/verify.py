"""`ledger verify` for the accounts: the transfers' chain, balances, rules, reconciliation."""

# The transfers' hash chain, every balance recomputed from the transfers, debits equal to credits,
# every balance rule, a clean reconciliation.

from collections.abc import Mapping

import asyncpg

from subsidy.domain.catalog import Catalog
from subsidy.domain.payouts.accounts import Balance, Transfer, TransferKind, kind_of, rule_holds
from subsidy.domain.payouts.reconcile import reconcile
from subsidy.payouts.persist import transfer_hash
from subsidy.payouts.returns import ledger_owed
from subsidy.payouts.store import load_desk

# The transfers' chain as the ledger's relay anchors it (subsidy.ledger.anchoring.CHAINS): a
# name no enterprise has (统一社会信用代码 are 18 letters and digits).
CHAIN = "~payouts"
HEADS_SQL = "SELECT '~payouts' AS chain, head_seq FROM payout_desk WHERE head_seq > 0"
LINKS_SQL = (
    "SELECT '~payouts' AS chain, seq, hash FROM transfers"
    " WHERE $1::text[] IS NOT NULL AND seq > ($2::bigint[])[1] AND seq <= ($3::bigint[])[1]"
    " ORDER BY seq"
)


async def verify_accounts(
    conn: asyncpg.Connection, catalog: Catalog, anchored: Mapping[int, str] | None = None
) -> list[str]:
    """What is wrong with the payouts' accounts (nothing, when none was tampered with); with
    `anchored` (the hashes the ledger signed, by seq), every anchored transfer must still hash
    to them. An empty list where the payouts are not migrated."""
    if not await conn.fetchval("SELECT to_regclass('payout_accounts') IS NOT NULL"):
        return []
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        problems, recomputed = await _chain(conn, anchored or {})
        stored = {
            r["account"]: Balance(r["debits_fen"], r["credits_fen"])
            for r in await conn.fetch(
                "SELECT account, debits_fen, credits_fen FROM payout_accounts"
            )
        }
        for name in sorted(set(stored) | set(recomputed)):
            if stored.get(name) != recomputed.get(name):
                problems.append(f"account {name}: stored {stored.get(name)}, "
                                f"the transfers make {recomputed.get(name)}")  # fmt: skip
            elif not rule_holds(kind_of(name), stored[name]):
                problems.append(f"account {name}: below zero on its normal side")
        debits = sum(b.debits_fen for b in stored.values())
        credits = sum(b.credits_fen for b in stored.values())
        if debits != credits:
            problems.append(f"accounts do not sum to zero: debits {debits}, credits {credits}")
        problems += await _lines_as_registered(conn)
        owed = await ledger_owed(conn, catalog)
        desk = await load_desk(conn, catalog, set_off=True)
    problems += [f"reconciliation: {d.channel} {d.year} {d.figure}"
                 f"{' ' + d.order_id if d.order_id else ''}: {d.expected_fen} ≠ {d.found_fen}"
                 for d in reconcile(desk, owed).unexplained]  # fmt: skip
    return problems


async def _chain(
    conn: asyncpg.Connection, anchored: Mapping[int, str]
) -> tuple[list[str], dict[str, Balance]]:
    """The chain link by link (the first break named, and the first transfer that is not what
    the ledger signed), and the balances the transfers make."""
    head = await conn.fetchrow("SELECT head_seq, head_hash FROM payout_desk")
    prev, expected_seq = "0" * 64, 0
    balances: dict[str, Balance] = {}
    problems: list[str] = []
    top = max(anchored, default=0)  # anchors cover the chain from #1 without a hole
    async for r in conn.cursor("SELECT * FROM transfers ORDER BY seq"):
        expected_seq += 1
        t = Transfer(r["transfer_id"], TransferKind(r["kind"]), r["debit_account"],
                     r["credit_account"], r["amount_fen"], r["ref"])  # fmt: skip
        link = transfer_hash(prev, r["seq"], t, r["operation"], r["booked_at"])
        if not problems and (
            r["seq"] != expected_seq or r["prev_hash"] != prev or r["hash"] != link
        ):
            problems.append(f"transfer chain broken at transfer #{r['seq']} ({r['transfer_id']})")
        signed = anchored.get(r["seq"])
        if signed is not None and signed != r["hash"] and not any("signed" in p for p in problems):
            problems.append(f"transfer #{r['seq']} ({r['transfer_id']}) is not what the ledger"
                            " signed in its anchors (已签名锚定的转账被改写)")  # fmt: skip
        if signed is None and r["seq"] < top and not any("never anchored" in p for p in problems):
            problems.append(f"转账 #{r['seq']} ({r['transfer_id']}) 从未锚定，而其后的转账已锚定至"
                            f" #{top} (never anchored although later transfers were: the relay"
                            " was made to skip it)")  # fmt: skip
        prev = r["hash"]
        debit = balances.setdefault(t.debit, Balance())
        credit = balances.setdefault(t.credit, Balance())
        debit.debits_fen += t.amount_fen
        credit.credits_fen += t.amount_fen
    if anchored and max(anchored) > expected_seq:
        problems.append(f"anchored transfers are missing: the anchors cover #{max(anchored)}, "
                        f"the chain ends at #{expected_seq}")  # fmt: skip
    if head is not None and (head["head_seq"], head["head_hash"]) != (expected_seq, prev):
        problems.append(f"transfer chain head is #{head['head_seq']}, the chain ends at "
                        f"#{expected_seq}")  # fmt: skip
    return problems, balances


# Every line sent to a bank goes to an account the enterprise registered in its own name (the
# ledger's payee_accounts, which the payouts may only read), and a line still in the bank's
# hands is for what its order has left to pay: a batch line pointed elsewhere is named.
_MISDIRECTED = """
SELECT l.batch_id, l.line_no, l.order_id FROM payout_batch_lines l
JOIN payment_orders o ON o.order_id = l.order_id
WHERE NOT EXISTS (
        SELECT FROM payee_accounts p WHERE p.enterprise_id = o.enterprise_id
           AND p.account_number = l.account_number AND p.account_name = l.payee_name)
   OR l.enterprise_id <> o.enterprise_id
   OR (l.result IS DISTINCT FROM 'RETURNED' AND l.amount_fen <> o.amount_fen - o.set_off_fen)
ORDER BY l.batch_id, l.line_no
"""


async def _lines_as_registered(conn: asyncpg.Connection) -> list[str]:
    """Batch lines not to the enterprise's registered account, or not for its order's amount."""
    return [
        f"batch {r['batch_id']} line {r['line_no']} ({r['order_id']}): not to an account the "
        "enterprise registered, or not its order's amount (收款账户或金额与登记不符)"
        for r in await conn.fetch(_MISDIRECTED)
    ]
