"""The journal is append-only and hash-chained."""

# Tampering, even by a superuser who disables the trigger, is found by `subsidy ledger verify`,
# which names the entry.

import asyncio
import os
import sys
from pathlib import Path

import asyncpg
import pytest

from subsidy.infra.lifecycle import running
from subsidy.ledger.bootstrap import ledger_worker
from subsidy.ledger.chain import verify_chains
from tests.ledger.database import LedgerDb, assert_sound, fetch, worker_settings
from tests.ledger.events import CATALOG, EventMix, evaluation_records
from tests.ledger.topics import Topics, produce, wait_consumed

# The fixtures ledger_db and ledger_topics.
pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

SUBSIDY = Path(sys.executable).parent / "subsidy"


async def _fill(kafka_bootstrap: str, db: LedgerDb, topics: Topics) -> None:
    events = EventMix(seed=31, enterprises=6, events_per_enterprise=40).events()
    await produce(kafka_bootstrap, topics.input, evaluation_records(events))
    settings = worker_settings(db, kafka_bootstrap, topics, batch_size=50)
    async with running(ledger_worker(settings, CATALOG)):
        await wait_consumed(kafka_bootstrap, topics.input, settings.group_id)
    await assert_sound(db.url)


async def _verify_cli(url: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        str(SUBSIDY),
        "ledger",
        "verify",
        env={**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "WARNING"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, stdout.decode() + stderr.decode()


async def _middle_entry(url: str) -> tuple[str, int]:
    """An entry with entries before and after it in its enterprise's chain."""
    rows = await fetch(
        url,
        "SELECT enterprise_id, max(seq) AS last FROM entries GROUP BY enterprise_id"
        " HAVING max(seq) >= 3 ORDER BY max(seq) DESC LIMIT 1",
    )
    assert rows, "the mix books at least three entries for some enterprise"
    return rows[0]["enterprise_id"], rows[0]["last"] // 2 + 1


async def _as_superuser(db: LedgerDb, *statements: str) -> None:
    """Run statements as postgres, with the append-only trigger switched off around them."""
    conn = await asyncpg.connect(db.owner_url)
    try:
        async with conn.transaction():
            await conn.execute("ALTER TABLE entries DISABLE TRIGGER entries_append_only")
            for statement in statements:
                await conn.execute(statement)
            await conn.execute("ALTER TABLE entries ENABLE TRIGGER entries_append_only")
    finally:
        await conn.close()


async def test_verify_passes_on_an_untouched_ledger(
    kafka_bootstrap: str, ledger_db: LedgerDb, ledger_topics: Topics
) -> None:
    await _fill(kafka_bootstrap, ledger_db, ledger_topics)
    code, output = await _verify_cli(ledger_db.url)
    assert code == 0, output
    assert "ok:" in output


@pytest.mark.redteam
async def test_entries_and_decisions_refuse_update_and_delete(
    kafka_bootstrap: str, ledger_db: LedgerDb, ledger_topics: Topics
) -> None:
    await _fill(kafka_bootstrap, ledger_db, ledger_topics)
    # The writer may not even try (tests/redteam/test_database_roles.py); the owner, who holds
    # every privilege on the tables, is still stopped by their triggers.
    conn = await asyncpg.connect(ledger_db.owner_url)
    try:
        for statement in (
            "UPDATE entries SET amount_fen = amount_fen + 1",
            "DELETE FROM entries",
            "TRUNCATE entries CASCADE",
            "UPDATE decisions SET granted_fen = 0",
            "DELETE FROM decisions",
        ):
            with pytest.raises(asyncpg.RestrictViolationError, match="append-only"):
                await conn.execute(statement)
    finally:
        await conn.close()


async def test_an_edited_amount_is_named_by_verify(
    kafka_bootstrap: str, ledger_db: LedgerDb, ledger_topics: Topics
) -> None:
    await _fill(kafka_bootstrap, ledger_db, ledger_topics)
    enterprise, seq = await _middle_entry(ledger_db.url)
    ledger_db.tampered = True
    await _as_superuser(
        ledger_db,
        f"UPDATE entries SET amount_fen = amount_fen + sign(amount_fen) * 100"
        f" WHERE enterprise_id = '{enterprise}' AND seq = {seq}",
    )

    code, output = await _verify_cli(ledger_db.url)
    assert code == 1
    assert f"chain broken at entry {enterprise}#{seq}:" in output
    assert "altered" in output
    # The sums no longer match either, and verify says so too.
    assert "invariant violated: entries per entitlement add up" in output


async def test_a_deleted_entry_is_named_by_verify(
    kafka_bootstrap: str, ledger_db: LedgerDb, ledger_topics: Topics
) -> None:
    await _fill(kafka_bootstrap, ledger_db, ledger_topics)
    enterprise, seq = await _middle_entry(ledger_db.url)
    ledger_db.tampered = True
    await _as_superuser(
        ledger_db, f"DELETE FROM entries WHERE enterprise_id = '{enterprise}' AND seq = {seq}"
    )
    conn = await asyncpg.connect(ledger_db.url)
    try:
        result = await verify_chains(conn)
    finally:
        await conn.close()
    assert not result.ok
    assert result.first_broken_entry == f"{enterprise}#{seq}"
    assert "missing or reordered" in result.detail


async def test_swapped_entries_and_a_cut_tail_are_named(
    kafka_bootstrap: str, ledger_db: LedgerDb, ledger_topics: Topics
) -> None:
    await _fill(kafka_bootstrap, ledger_db, ledger_topics)
    enterprise, seq = await _middle_entry(ledger_db.url)
    last = (
        await fetch(
            ledger_db.url, "SELECT max(seq) FROM entries WHERE enterprise_id = $1", enterprise
        )
    )[0][0]
    ledger_db.tampered = True
    where = f"enterprise_id = '{enterprise}'"
    parked = last + 1_000  # a free sequence number to swap through (seq ≥ 1, unique)
    # Reorder two entries by swapping their sequence numbers (hashes left as they were).
    await _as_superuser(
        ledger_db,
        f"UPDATE entries SET seq = {parked} WHERE {where} AND seq = {seq}",
        f"UPDATE entries SET seq = {seq} WHERE {where} AND seq = {seq + 1}",
        f"UPDATE entries SET seq = {seq + 1} WHERE {where} AND seq = {parked}",
    )
    conn = await asyncpg.connect(ledger_db.url)
    try:
        swapped = await verify_chains(conn)
    finally:
        await conn.close()
    assert not swapped.ok
    assert swapped.first_broken_entry == f"{enterprise}#{seq}"

    # Put them back, then cut the last entry off: the enterprise's head still counts it.
    await _as_superuser(
        ledger_db,
        f"UPDATE entries SET seq = {parked} WHERE {where} AND seq = {seq}",
        f"UPDATE entries SET seq = {seq} WHERE {where} AND seq = {seq + 1}",
        f"UPDATE entries SET seq = {seq + 1} WHERE {where} AND seq = {parked}",
    )
    conn = await asyncpg.connect(ledger_db.url)
    try:
        assert (await verify_chains(conn)).ok
    finally:
        await conn.close()
    await _as_superuser(ledger_db, f"DELETE FROM entries WHERE {where} AND seq = {last}")
    code, output = await _verify_cli(ledger_db.url)
    assert code == 1
    assert f"chain broken at entry {enterprise}#{last}: missing entry" in output
