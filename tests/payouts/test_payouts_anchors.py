"""The transfers' chain is anchored by the ledger's relay beside the journal's."""

# So a database owner who rewrites a transfer and re-chains everything after it, balances and head
# included, passes the plain `ledger verify` but not `ledger verify --anchors`.

import asyncio
import os
from pathlib import Path

import asyncpg
import pytest
from typer.testing import CliRunner

from subsidy.cli.main import app
from subsidy.domain.payouts.accounts import Transfer, TransferKind
from subsidy.infra.signing_keys import Signer, write_key_pair
from subsidy.ledger.anchoring import CHAINS, Anchorer, AnchorLog
from subsidy.ledger.anchors import read_anchor_file
from subsidy.ledger.mark_seals import MarkSeal
from subsidy.payouts.persist import transfer_hash
from tests.ledger.database import as_role
from tests.payouts.desk_setup import EVENTS, decide, owner_sql, subsidy

pytestmark = pytest.mark.postgres


async def _anchor(url: str, signer: Signer, log: Path) -> int:
    conn = await asyncpg.connect(url)
    try:
        return await Anchorer(signer, AnchorLog(log, None, "unused")).anchor(conn)
    finally:
        await conn.close()


async def _rewrite_first_transfer(url: str) -> None:
    """The hostile owner: 100 fen more on transfer #1, every later link re-hashed, the
    balances and the head made to agree."""
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            await conn.execute("ALTER TABLE transfers DISABLE TRIGGER ALL;"
                               " ALTER TABLE payout_accounts DISABLE TRIGGER ALL")  # fmt: skip
            rows = await conn.fetch("SELECT * FROM transfers ORDER BY seq")
            prev = "0" * 64
            for r in rows:
                amount = r["amount_fen"] + (100 if r["seq"] == 1 else 0)
                t = Transfer(r["transfer_id"], TransferKind(r["kind"]), r["debit_account"],
                             r["credit_account"], amount, r["ref"])  # fmt: skip
                link = transfer_hash(prev, r["seq"], t, r["operation"], r["booked_at"])
                await conn.execute(
                    "UPDATE transfers SET amount_fen = $2, prev_hash = $3, hash = $4"
                    " WHERE seq = $1", r["seq"], amount, prev, link,
                )  # fmt: skip
                prev = link
            first = rows[0]
            await conn.execute("UPDATE payout_accounts SET debits_fen = debits_fen + 100"
                               " WHERE account = $1", first["debit_account"])  # fmt: skip
            await conn.execute("UPDATE payout_accounts SET credits_fen = credits_fen + 100"
                               " WHERE account = $1", first["credit_account"])  # fmt: skip
            await conn.execute("UPDATE payout_desk SET head_hash = $1", prev)
    finally:
        await conn.close()


def _paid_out(payouts_schema: tuple[str, str], tmp_path: Path) -> tuple[str, dict[str, str]]:
    """The desk's events decided, a budget loaded and the payouts advanced: transfers on the
    chain. The owner's URL, and the payouts login's environment."""
    owner, login = payouts_schema
    asyncio.run(decide(as_role(owner, "ledger_worker"), EVENTS))
    env = {**os.environ, "DATABASE_URL": login, "SUBSIDY_OPERATOR": "treasurer-zhou"}
    budget = tmp_path / "budget.csv"
    budget.write_text("资金渠道,年度,预算金额(元)\n市科技局,2025,90000000\n", encoding="utf-8")
    subsidy(env, "budget", "load", str(budget), "--date", "2025-07-10")
    subsidy(env, "payouts", "advance", "--date", "2025-07-10")
    return owner, env


def test_a_rechained_transfer_is_caught_by_the_anchors(
    payouts_schema: tuple[str, str], tmp_path: Path
) -> None:
    # The composition root registers the chain when the ledger's commands load (`ledger relay`).
    assert CliRunner().invoke(app, ["ledger", "relay", "--help"]).exit_code == 0
    assert "transfers" in {source.table for source in CHAINS}
    owner, env = _paid_out(payouts_schema, tmp_path)
    private, public = write_key_pair(tmp_path / "key")
    log = tmp_path / "anchors.jsonl"
    # As the relay's own login: it may read the transfers' chain, and signs its head.
    assert asyncio.run(_anchor(as_role(owner, "ledger_relay"), Signer.from_file(private), log))
    assert '"chain":"~payouts"' in log.read_text("utf-8").replace(" ", "")
    audit = {**env, "DATABASE_URL": owner}
    verify = ["ledger", "verify", "--anchors", str(log), "--public-key", str(public)]
    assert "ok:" in subsidy(audit, *verify)
    asyncio.run(_rewrite_first_transfer(owner))
    assert "ok:" in subsidy(audit, "ledger", "verify")  # consistent enough without anchors
    caught = subsidy(audit, *verify, code=1)
    assert "transfer #1" in caught
    assert "not what the ledger signed" in caught


def test_a_raised_mark_without_the_relays_seal_is_refused(
    payouts_schema: tuple[str, str], tmp_path: Path
) -> None:
    owner, env = _paid_out(payouts_schema, tmp_path)
    # The owner marks the transfers' chain anchored far ahead, which would have silenced it:
    # the relay refuses a mark it did not seal and anchors the chain from its first transfer.
    asyncio.run(owner_sql(owner, "INSERT INTO anchor_marks VALUES ('~payouts', 1000000000)"))
    private, public = write_key_pair(tmp_path / "key")
    log = tmp_path / "anchors.jsonl"
    assert asyncio.run(_anchor(as_role(owner, "ledger_relay"), Signer.from_file(private), log))
    transfers = [a for _, a in read_anchor_file(log) if a.chain == "~payouts"]
    assert [a.from_seq for a in transfers] == [1]
    audit = {**env, "DATABASE_URL": owner}
    subsidy(audit, "ledger", "verify", "--anchors", str(log), "--public-key", str(public))


def test_a_transfer_skipped_by_a_sealed_raised_mark_is_named(
    payouts_schema: tuple[str, str], tmp_path: Path
) -> None:
    assert CliRunner().invoke(app, ["ledger", "relay", "--help"]).exit_code == 0
    owner, env = _paid_out(payouts_schema, tmp_path)
    private, public = write_key_pair(tmp_path / "key")
    # Marked anchored up to #1 before the relay ever signed it, sealed as only the relay's key
    # can (a stolen key): the skipped transfer is still named, from the anchor log alone.
    seal = MarkSeal(Signer.from_file(private)).seal("~payouts", 1)
    asyncio.run(owner_sql(owner, f"INSERT INTO anchor_marks VALUES ('~payouts', 1, '{seal}')"))
    log = tmp_path / "anchors.jsonl"
    assert asyncio.run(_anchor(as_role(owner, "ledger_relay"), Signer.from_file(private), log))
    assert '"fromSeq":2' in log.read_text("utf-8")
    audit = {**env, "DATABASE_URL": owner}
    caught = subsidy(audit, "ledger", "verify", "--anchors", str(log), "--public-key",
                     str(public), code=1)  # fmt: skip
    assert "转账 #1 (" in caught
    assert "从未锚定" in caught
    assert "never anchored although later transfers were" in caught


def test_ledger_verify_takes_a_public_key_for_each_key_the_log_holds(
    payouts_schema: tuple[str, str], tmp_path: Path
) -> None:
    owner, env = _paid_out(payouts_schema, tmp_path)
    old_private, old_public = write_key_pair(tmp_path / "old")
    new_private, new_public = write_key_pair(tmp_path / "new")
    log = tmp_path / "anchors.jsonl"
    relay = as_role(owner, "ledger_relay")
    assert asyncio.run(_anchor(relay, Signer.from_file(old_private), log))
    # The key rotated: the new one anchors every chain again from #1 beside the old anchors.
    assert asyncio.run(_anchor(relay, Signer.from_file(new_private), log))
    audit = {**env, "DATABASE_URL": owner}
    subsidy(audit, "ledger", "verify", "--anchors", str(log), "--public-key", str(old_public),
            "--public-key", str(new_public))  # fmt: skip
    refused = subsidy(audit, "ledger", "verify", "--anchors", str(log), "--public-key",
                      str(new_public), code=1)  # fmt: skip
    assert "not by the given public key" in refused
