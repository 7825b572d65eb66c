"""`ledger verify` for the accounts: the transfers' hash chain, every balance recomputed from
the transfers, debits equal to credits, every balance rule, a clean reconciliation."""

import asyncpg

from subsidy.domain.catalog import Catalog
from subsidy.domain.payouts.accounts import Balance, Transfer, TransferKind, kind_of, rule_holds
from subsidy.domain.payouts.reconcile import reconcile
from subsidy.payouts.persist import transfer_hash
from subsidy.payouts.store import load_desk


async def verify_accounts(conn: asyncpg.Connection, catalog: Catalog) -> list[str]:
    """What is wrong with the payouts' accounts (nothing, when none was tampered with); an
    empty list too where the payouts are not migrated."""
    if not await conn.fetchval("SELECT to_regclass('payout_accounts') IS NOT NULL"):
        return []
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        problems, recomputed = await _chain(conn)
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
        desk = await load_desk(conn, catalog, set_off=True)
    problems += [f"reconciliation: {d.channel} {d.year} {d.figure}: {d.expected_fen} ≠ "
                 f"{d.found_fen}" for d in reconcile(desk).unexplained]  # fmt: skip
    return problems


async def _chain(conn: asyncpg.Connection) -> tuple[list[str], dict[str, Balance]]:
    """The chain link by link (the first break named), and the balances the transfers make."""
    head = await conn.fetchrow("SELECT head_seq, head_hash FROM payout_desk")
    prev, expected_seq = "0" * 64, 0
    balances: dict[str, Balance] = {}
    problems: list[str] = []
    async for r in conn.cursor("SELECT * FROM transfers ORDER BY seq"):
        expected_seq += 1
        t = Transfer(r["transfer_id"], TransferKind(r["kind"]), r["debit_account"],
                     r["credit_account"], r["amount_fen"], r["ref"])  # fmt: skip
        link = transfer_hash(prev, r["seq"], t, r["operation"], r["booked_at"])
        if not problems and (
            r["seq"] != expected_seq or r["prev_hash"] != prev or r["hash"] != link
        ):
            problems.append(f"transfer chain broken at transfer #{r['seq']} ({r['transfer_id']})")
        prev = r["hash"]
        debit = balances.setdefault(t.debit, Balance())
        credit = balances.setdefault(t.credit, Balance())
        debit.debits_fen += t.amount_fen
        credit.credits_fen += t.amount_fen
    if head is not None and (head["head_seq"], head["head_hash"]) != (expected_seq, prev):
        problems.append(f"transfer chain head is #{head['head_seq']}, the chain ends at "
                        f"#{expected_seq}")  # fmt: skip
    return problems, balances
