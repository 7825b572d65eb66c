"""Corrections at the edges of what the ledger keeps."""

# An enterprise with events taken before the ledger kept their content is refused whole, its book
# unchanged; and what a corrected event said, before and after, cannot be rewritten without
# `ledger verify` naming it.

import asyncio
import os
import sys
from pathlib import Path

import asyncpg
import pytest

from subsidy.domain.evaluator import evaluate
from subsidy.domain.events import parse_event
from subsidy.ledger.processor import Message, apply_batch
from subsidy.ledger.repository import BookCache
from tests.factories import event
from tests.ledger.database import as_role, assert_sound, export, migrated_ledger_schema
from tests.ledger.events import CATALOG

pytestmark = pytest.mark.postgres

INVOICE = {"itemId": "INV-L", "amountFen": 600_000_000}
CORRECTED = {"itemId": "INV-L", "amountFen": 100_000_000}


def _message(raw: dict[str, object]) -> Message:
    parsed = parse_event(raw)
    return Message(evaluate(parsed, CATALOG), parsed.content_hash())


async def _apply(url: str, raw: dict[str, object]) -> None:
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            await apply_batch(conn, [_message(raw)], BookCache(0), CATALOG)
    finally:
        await conn.close()


async def test_a_history_the_ledger_does_not_keep_whole_is_not_decided_again(
    fresh_database_url: str,
) -> None:
    _, owner = await migrated_ledger_schema(fresh_database_url, "limits")
    worker = as_role(owner, "ledger_worker")
    await _apply(worker, event("computeInvoiceFiled", INVOICE, eventId="l-old"))
    await _apply(worker, event("computeInvoiceFiled", {**INVOICE, "itemId": "INV-M"},
                               eventId="l-new"))  # fmt: skip
    # The first was taken before the inbox kept events (0004_inbox_events).
    conn = await asyncpg.connect(owner)
    try:
        await conn.execute("UPDATE inbox SET event = NULL WHERE event_id = 'l-old'")
    finally:
        await conn.close()
    before = await export(worker)
    fix = event("computeInvoiceFiled", {**CORRECTED, "itemId": "INV-M"}, eventId="l-new",
                revision=2, correctionReason="发票金额录入错误")  # fmt: skip
    await _apply(worker, fix)
    after = await export(worker)
    assert after["entitlements"] == before["entitlements"]
    refused = (
        "eventId: this enterprise has events taken before the ledger kept them: its history"
        " cannot be decided again; a bureau corrects it by hand"
    )
    assert {"eventId": "l-new", "error": refused} in after["rejectedEvents"]
    await assert_sound(worker)


async def _verify(url: str) -> tuple[int, str]:
    """`subsidy ledger verify` on this ledger, as a process."""
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "subsidy"), "ledger", "verify",
        env={**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "WARNING"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, out.decode()


async def test_what_a_corrected_event_said_cannot_be_rewritten_unnoticed(
    fresh_database_url: str,
) -> None:
    _, owner = await migrated_ledger_schema(fresh_database_url, "rewritten")
    worker = as_role(owner, "ledger_worker")
    await _apply(worker, event("computeInvoiceFiled", INVOICE, eventId="w-1"))
    await _apply(worker, event("computeInvoiceFiled", CORRECTED, eventId="w-1", revision=2,
                               correctionReason="发票金额录入错误"))  # fmt: skip
    code, output = await _verify(owner)
    assert code == 0, output
    # The owner makes the original say what the correction says, as if there had been
    # nothing to correct; and rewrites what the event in force says.
    conn = await asyncpg.connect(owner)
    try:
        await conn.execute(
            "ALTER TABLE event_revisions DISABLE TRIGGER event_revisions_append_only"
        )
        await conn.execute("UPDATE event_revisions SET event = replace(event, '600000000',"
                           " '100000000') WHERE event_id = 'w-1' AND revision = 1")  # fmt: skip
        await conn.execute("UPDATE inbox SET event = replace(event, '100000000', '100000001')"
                           " WHERE event_id = 'w-1'")  # fmt: skip
    finally:
        await conn.close()
    code, output = await _verify(owner)
    assert code == 1
    assert "w-1 revision 1: does not hash to" in output
    assert "w-1: the event in force does not hash to" in output
