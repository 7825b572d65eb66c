"""The worker's book cache is bounded."""

# A ledger decided with room for two small books ends in the same state as one decided with room for
# every book, and the cache keeps to its limits.

from typing import Any

import asyncpg
import pytest
from aiokafka import ConsumerRecord

from subsidy.decisions.v1 import decisions_pb2 as dpb
from subsidy.domain.catalog import apply_overlay, build_catalog, raw_catalog
from subsidy.domain.ledger.book import EnterpriseBook
from subsidy.domain.money import format_fen
from subsidy.ledger.processor import apply_batch
from subsidy.ledger.repository import BookCache, LoadedBook, book_weight, lock_and_load
from subsidy.ledger.worker import decode
from tests.factories import enterprise_id
from tests.ledger.api import feed_event, known_events
from tests.ledger.database import as_role, assert_sound, export, fetch, migrated_ledger_schema
from tests.ledger.events import CATALOG, evaluation_records

BATCH = 40
RULE = "m08.compute_voucher"
TINY = {"size": 2, "weight": 60}


def _corrections(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every fifth invoice corrected to half its amount, at the end of the stream: the ledger
    decides those enterprises' histories again, from books the tiny cache no longer holds."""
    invoices = [e for e in events if "computeInvoiceFiled" in e][::5]
    return [
        {**e, "revision": 2, "correctionReason": "发票金额录入错误",
         "computeInvoiceFiled": {**e["computeInvoiceFiled"],
                                 "amountFen": e["computeInvoiceFiled"]["amountFen"] // 2}}
        for e in invoices
    ]  # fmt: skip


def _stream(corrected: bool) -> list[ConsumerRecord[bytes, bytes]]:
    """The fed ledger's events (and their corrections), as entitlements.v1 records."""
    events = known_events()
    return _records(evaluation_records([*events, *(_corrections(events) if corrected else ())]))


def _records(
    pairs: list[tuple[bytes, bytes]], start: int = 0
) -> list[ConsumerRecord[bytes, bytes]]:
    """(key, value) pairs as entitlements.v1 records from offset `start`."""
    return [
        ConsumerRecord("entitlements", 0, offset, 0, 0, key, value, None, 0, len(value), [])
        for offset, (key, value) in enumerate(pairs, start)
    ]


async def _decide(url: str, cache: BookCache, corrected: bool = True) -> None:
    """Every record decoded as the worker decodes it, then decided batch by batch."""
    messages = [decode(r, CATALOG) for r in _stream(corrected)]
    conn = await asyncpg.connect(url)
    try:
        for start in range(0, len(messages), BATCH):
            async with conn.transaction():
                prepared = await apply_batch(conn, messages[start : start + BATCH], cache)
            prepared.committed(cache)
            assert len(cache) <= cache.size
            assert cache.weight is None or cache.held <= cache.weight
    finally:
        await conn.close()


# What must not depend on the cache: every row but the times and the hashes over them.
STATE = {
    "enterprises": "SELECT enterprise_id, version, entitlements, head_seq FROM enterprises",
    "inbox": "SELECT event_id, payload_hash, outcome, revision, retracted_by FROM inbox",
    "entitlements": "SELECT entitlement_id, seq, status, reasons, entitled_fen, capped_fen,"
    " granted_fen, clawback_fen, revision, entitlement FROM entitlements",
    "entries": "SELECT enterprise_id, seq, entitlement_id, kind, amount_fen,"
    " caused_by_event_id FROM entries",
    "decisions": "SELECT decision_id, status, reasons, granted_fen, cash_delta_fen,"
    " clawback_fen, caused_by_event_id, checks FROM decisions",
    "usage": "SELECT enterprise_id, rule_id, year, used_fen FROM annual_usage",
    "rejected": "SELECT event_id, payload_hash, error FROM rejected_events",
    "parked": "SELECT event_id, state FROM parked_reviews",
    "approvals": "SELECT entitlement_id, event_id, state, settled_by FROM review_approvals",
}


async def _state(url: str) -> dict[str, list[tuple[Any, ...]]]:
    return {
        name: sorted((tuple(r.values()) for r in await fetch(url, query)), key=repr)
        for name, query in STATE.items()
    }


@pytest.mark.postgres
async def test_a_tiny_cache_decides_as_a_cache_of_every_book(fresh_database_url: str) -> None:
    urls = []
    for prefix in ("cache_all", "cache_tiny"):
        _, owner = await migrated_ledger_schema(fresh_database_url, prefix)
        urls.append(as_role(owner, "ledger_worker"))
    everything, tiny = BookCache(10_000), BookCache(TINY["size"], TINY["weight"])
    await _decide(urls[0], everything)
    await _decide(urls[1], tiny)

    assert await export(urls[1]) == await export(urls[0])
    big, small = await _state(urls[0]), await _state(urls[1])
    assert len(everything) == len(big["enterprises"]) > 5 * TINY["size"], "every book held"
    for table in STATE:
        assert small[table] == big[table], table
    revised = [r for r in big["inbox"] if r[3] == 2]
    assert revised, "the corrections were taken"
    for url in urls:
        await assert_sound(url)


@pytest.mark.postgres
async def test_a_correction_keeps_every_stored_trace(fresh_database_url: str) -> None:
    """An enterprise's history decided again after a correction rewrites its entitlements'
    rows: each keeps the trace eligibility sent (the corrected ones the new evaluation's), not
    the trace-less state the book holds."""
    _, owner = await migrated_ledger_schema(fresh_database_url, "cache_trace_corrected")
    url = as_role(owner, "ledger_worker")
    await _decide(url, BookCache(10_000), corrected=True)
    rows = await fetch(url, "SELECT entitlement_id, revision, entitlement FROM entitlements")
    assert any(r["revision"] == 2 for r in rows), "the corrections were decided"
    traceless = [r["entitlement_id"] for r in rows
                 if not dpb.Entitlement.FromString(r["entitlement"]).trace]  # fmt: skip
    assert not traceless, traceless[:5]
    assert not _unexplained(rows)


def _unexplained(rows: list[asyncpg.Record]) -> list[str]:
    """Entitlements whose stored trace names another amount than the one stored beside it."""
    wrong = []
    for r in rows:
        message = dpb.Entitlement.FromString(r["entitlement"])
        steps = {t.key: t.value for t in message.trace}
        if "entitled" in steps and format_fen(message.entitled_fen) not in steps["entitled"]:
            wrong.append(f"{r['entitlement_id']}: {steps['entitled']}")
    return wrong


@pytest.mark.postgres
async def test_a_correction_under_another_policy_keeps_no_stale_trace(
    fresh_database_url: str,
) -> None:
    """Two invoices decided under the bundled policy, then the second corrected under an
    overlay that halves the rate: the first is decided again at the new rate, and the trace
    of its old evaluation (the old rate, the old amount) must not explain it."""
    _, owner = await migrated_ledger_schema(fresh_database_url, "cache_trace_overlay")
    url = as_role(owner, "ledger_worker")
    ent = enterprise_id(900_777)
    first, second = (
        feed_event(f"inv-{n}", ent, "SIP", day,
                   computeInvoiceFiled={"itemId": f"INV-{n}", "amountFen": 100_000_000})
        for n, day in (("a", "2026-03-01"), ("b", "2026-03-05"))
    )  # fmt: skip
    corrected = {**second, "revision": 2, "correctionReason": "发票金额录入错误",
                 "computeInvoiceFiled": {"itemId": "INV-b", "amountFen": 50_000_000}}  # fmt: skip
    amended = build_catalog(apply_overlay(raw_catalog(), {"rules": {RULE: {"rate": "0.10"}}}))
    cache, conn, offset = BookCache(100), await asyncpg.connect(url), 0
    try:
        for events, catalog in (([first, second], CATALOG), ([corrected], amended)):
            records = _records(evaluation_records(events, catalog), offset)
            offset += len(records)
            async with conn.transaction():
                prepared = await apply_batch(
                    conn, [decode(r, catalog) for r in records], cache, catalog
                )
            prepared.committed(cache)
    finally:
        await conn.close()
    rows = await fetch(url, "SELECT entitlement_id, revision, entitlement FROM entitlements")
    redone = {r["entitlement_id"]: r["revision"] for r in rows}
    assert redone == {f"inv-a/{RULE}": 2, f"inv-b/{RULE}": 2}, "both decided again"
    assert not _unexplained(rows)


@pytest.mark.postgres
async def test_the_stored_entitlements_keep_eligibilitys_trace(fresh_database_url: str) -> None:
    """The books hold no trace (memory), the rows keep it as eligibility sent it."""
    _, owner = await migrated_ledger_schema(fresh_database_url, "cache_trace")
    url = as_role(owner, "ledger_worker")
    cache = BookCache(10_000)
    await _decide(url, cache, corrected=False)
    blobs = [r["entitlement"] for r in await fetch(url, "SELECT entitlement FROM entitlements")]
    assert blobs
    assert all(dpb.Entitlement.FromString(b).trace for b in blobs)
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            heads = await conn.fetch("SELECT enterprise_id, version FROM enterprises")
            restored = await lock_and_load(conn, [h["enterprise_id"] for h in heads], BookCache(0))
    finally:
        await conn.close()
    cached = [cache.get(h["enterprise_id"], h["version"]) for h in heads]
    books = [b for b in (*cached, *restored.values()) if b is not None]
    assert len(books) == 2 * len(heads), "every book decided, cached and restored"
    assert not any(s.ent.trace for b in books for s in b.book.entitlements.values())


def _loaded(enterprise_id: str, events: int) -> LoadedBook:
    book = EnterpriseBook(enterprise_id)
    for n in range(events):
        book.restore_event(f"{enterprise_id}-{n}")
    return LoadedBook(book, version=events, stored=0, head_seq=0, head_hash="0" * 64)


def test_the_least_recently_used_books_leave_first_by_count_and_by_weight() -> None:
    cache = BookCache(3, weight=10)
    for name, events in (("a", 3), ("b", 3), ("c", 3)):
        cache.put(_loaded(name, events))
    assert cache.get("a", 3) is not None  # a is now the most recently used
    cache.put(_loaded("d", 3))  # 12 > 10: b, the least recently used, leaves
    assert (cache.get("b", 3), len(cache), cache.held) == (None, 3, 9)
    cache.put(_loaded("e", 8))  # c, a, then d leave until 8 fits
    assert [cache.get(n, 3) for n in "acd"] == [None, None, None]
    assert (len(cache), cache.held) == (1, 8)
    cache.put(_loaded("huge", 11))  # larger than the whole cache: never held
    assert (cache.get("huge", 11), cache.get("e", 8) is not None) == (None, True)
    cache.put(_loaded("e", 2))  # a book put again counts at its new weight
    assert (len(cache), cache.held, book_weight(cache.get("e", 2).book)) == (1, 2, 2)  # type: ignore[union-attr]
    cache.drop(["e"])
    assert (len(cache), cache.held) == (0, 0)
    assert BookCache(0).get("x", 0) is None


def test_the_cache_tallies_hits_stale_and_missing_books_and_evictions() -> None:
    cache = BookCache(2)
    for name in "ab":
        cache.put(_loaded(name, 1))
    cache.get("a", 1)  # hit
    cache.get("b", 2)  # stale: the enterprise's row has moved on
    cache.get("z", 1)  # miss
    cache.put(_loaded("c", 1))  # b, least recently used, leaves
    assert cache.drain_tally() == {"hit": 1, "stale": 1, "miss": 1, "evicted": 1}
    assert cache.drain_tally() == {}, "drained"
