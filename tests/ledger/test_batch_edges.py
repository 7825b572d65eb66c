"""Batches that one-event batches never show end, through PostgreSQL, where simulate ends."""

# Several events of one enterprise's review history in one batch, decided as the worker
# decides them (apply_batch, one transaction per batch).

from typing import Any, cast

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from subsidy.domain.catalog import Catalog, apply_overlay, build_catalog, raw_catalog
from subsidy.domain.evaluator import evaluate
from subsidy.domain.events import parse_event
from subsidy.domain.simulate import simulate
from subsidy.ledger.batch_writer import Source
from subsidy.ledger.export import export_contract
from subsidy.ledger.processor import Message, PreparedBatch, apply_batch
from subsidy.ledger.repository import BookCache
from subsidy.ledger.settings import LedgerSettings
from subsidy.ledger.worker import LedgerWorker
from tests.factories import enterprise_id, event, jsonl
from tests.ledger.database import LedgerDb, export, fetch
from tests.ledger.events import CATALOG, EventMix

pytestmark = pytest.mark.postgres

RULE = "m06.exhibition"  # a review rule: four eyes from 100,000,000 fen
LARGE = 150_000_000


def _message(raw: dict[str, Any], catalog: Catalog = CATALOG) -> Message:
    """An event as the worker receives it, with who submitted it on its inbox row."""
    e = parse_event(raw)
    who = e.submitted_by
    source = Source(submitted_by=who.model_dump_json(by_alias=True) if who else None)
    return Message(evaluate(e, catalog), e.content_hash(), source)


async def _decide(
    url: str, batches: list[list[dict[str, Any]]], cache: BookCache, catalog: Catalog = CATALOG
) -> None:
    """Each batch in one transaction, as the worker commits it."""
    conn = await asyncpg.connect(url)
    try:
        for batch in batches:
            messages = [_message(e, catalog) for e in batch]
            async with conn.transaction():
                prepared = await apply_batch(conn, messages, cache, catalog)
            prepared.committed(cache)
    finally:
        await conn.close()


def _review(n: str, ref: str, who: str, approved: bool, **top: Any) -> dict[str, Any]:
    """A review of `ref` under RULE by `who` (an approval asks for LARGE)."""
    payload: dict[str, Any] = {"eventRef": ref, "ruleId": RULE, "approved": approved}
    if approved:
        payload["approvedAmountFen"] = LARGE
    return event("reviewDecided", payload, eventId=n, submittedBy={"principal": who}, **top)


def _reopened_and_approved_again(enterprise: str) -> list[dict[str, Any]]:
    """An entitlement that waits for a second approval twice (see the test)."""
    # A first approval, a rejection that ends its wait, an appeal upheld that reopens the
    # entitlement, then a first and a second approval again.
    top = {"enterpriseId": enterprise}
    return [
        event("exhibitionHeld", {"itemId": "expo-1"}, eventId="x1", **top),
        _review("x1a", "x1", "reviewer-a", True, occurredOn="2025-08-01", **top),
        _review("x1b", "x1", "reviewer-b", False, occurredOn="2025-08-02", **top),
        event("appealFiled", {"eventRef": "x1", "ruleId": RULE, "reason": "展会规模符合要求"},
              eventId="x1p", occurredOn="2025-08-10", **top),
        event("appealDecided", {"appealRef": "x1p", "eventRef": "x1", "ruleId": RULE,
                                "upheld": True, "reason": "重新审核"},
              eventId="x1d", occurredOn="2025-08-20", submittedBy={"principal": "reviewer-c"},
              **top),
        _review("x1e", "x1", "reviewer-d", True, occurredOn="2025-08-25", **top),
        _review("x1f", "x1", "reviewer-e", True, occurredOn="2025-08-26", **top),
    ]  # fmt: skip


@pytest.mark.parametrize("cached", [False, True], ids=["reloaded", "cached"])
@pytest.mark.parametrize("split", [(2, 6), (7,), (6,)], ids=["wait-ended-in-batch", "all", "six"])
async def test_an_entitlement_that_waits_for_a_second_approval_twice_in_one_batch(
    ledger_db: LedgerDb, split: tuple[int, ...], cached: bool
) -> None:
    """A wait ended and a new one recorded in one batch: the second approval still pays."""
    # Failed with UniqueViolation on review_approvals_one_waiting (the new wait was inserted
    # before the old one was settled); the worker takes that for a transient error, retries,
    # exits, and gets the same batch again: the partition stops.
    events = _reopened_and_approved_again(enterprise_id(910_001))
    batches, start = [], 0
    for end in split:
        batches.append(events[start:end])
        start = end
    if start < len(events):
        batches.append(events[start:])
    await _decide(ledger_db.url, batches, BookCache(100 if cached else 0))

    conn = await asyncpg.connect(ledger_db.url)
    try:
        got = (await export_contract(conn))["entitlements"]
    finally:
        await conn.close()
    want = simulate(jsonl(events), CATALOG).to_contract()["entitlements"]
    assert got == want
    waiting = await fetch(
        ledger_db.url, "SELECT event_id FROM review_approvals WHERE state = 'waiting'"
    )
    assert [r["event_id"] for r in waiting] == []


def _corrected(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every fourth invoice corrected to a third of its amount, right after it."""
    out: list[dict[str, Any]] = []
    for n, e in enumerate(events):
        out.append(e)
        if "computeInvoiceFiled" in e and n % 4 == 0 and e.get("revision") is None:
            invoice = {
                **e["computeInvoiceFiled"],
                "amountFen": e["computeInvoiceFiled"]["amountFen"] // 3,
            }
            out.append({**e, "revision": 2, "correctionReason": "发票金额录入错误",
                        "computeInvoiceFiled": invoice})  # fmt: skip
    return out


async def test_two_workers_whose_attempts_fail_decide_as_simulate(ledger_db: LedgerDb) -> None:
    """Two workers take turns on the same enterprises (a rebalance at every batch), each
    keeping its books between batches; every first attempt fails after its rows are written,
    so each retry starts from books a rolled-back attempt changed in memory."""
    events = _corrected(EventMix(seed=7, enterprises=4, events_per_enterprise=25).events())
    messages = [_message(e) for e in events]
    failed: set[int] = set()

    async def failing_once(
        conn: asyncpg.Connection, batch: list[Message], cache: BookCache, catalog: Catalog
    ) -> PreparedBatch:
        prepared = await apply_batch(conn, batch, cache, catalog)
        if id(batch) not in failed:
            failed.add(id(batch))
            raise asyncpg.SerializationError("could not serialize access")
        return prepared

    pool = await asyncpg.create_pool(ledger_db.url, min_size=1, max_size=2)
    assert pool is not None
    try:
        workers = [
            LedgerWorker(
                LedgerSettings(),  # type: ignore[call-arg]
                CATALOG,
                pool=pool,
                consumer=cast(AIOKafkaConsumer, None),
                producer=cast(AIOKafkaProducer, None),
                apply=failing_once,
            )
            for _ in range(2)
        ]
        batches = [messages[i : i + 7] for i in range(0, len(messages), 7)]
        for n, batch in enumerate(batches):
            await workers[n % 2].commit_batch(batch)
        # A redelivery of everything, to whichever worker: nothing changes.
        before = await export(ledger_db.url)
        for n, batch in enumerate(batches):
            await workers[(n + 1) % 2].commit_batch(list(batch))
        assert await export(ledger_db.url) == before
    finally:
        await pool.close()
    assert all(w.stats.retries > 0 for w in workers)
    want = simulate(jsonl(events), CATALOG).to_contract()
    got = before
    assert got["entitlements"] == want["entitlements"]
    assert got["parkedEvents"] == want["parkedEvents"]


@pytest.mark.xfail(
    strict=True,
    reason="a correction refused as UnknownCorrected takes no id, so its redelivery after the"
    " original was taken applies it: the crash window changes the ledger (see the test)",
)
async def test_a_redelivered_batch_with_a_correction_before_its_original_changes_nothing(
    ledger_db: LedgerDb,
) -> None:
    """A batch [X revision 2, X] decided, then delivered again (a crash after the database
    commit, before the offset commit): the redelivery must change nothing."""
    # The first time the correction is refused (no event to correct) and the original taken;
    # the second time the correction finds the original in the inbox and is applied, paying
    # or clawing back what simulate of the same stream never does. Reaching the ledger in
    # this order takes entitlements.v1 out of ingest's order (ingest refuses a correction of
    # an id it never accepted), so the platform's pipeline does not produce it today.
    top = {"enterpriseId": enterprise_id(910_002)}
    original = event("computeInvoiceFiled", {"itemId": "INV-R", "amountFen": 10_000_000},
                     eventId="r1", **top)  # fmt: skip
    correction = {**original, "revision": 2, "correctionReason": "发票金额录入错误",
                  "computeInvoiceFiled": {"itemId": "INV-R", "amountFen": 40_000_000}}  # fmt: skip
    batch = [correction, original]
    cache = BookCache(100)
    await _decide(ledger_db.url, [batch], cache)
    once = await export(ledger_db.url)
    want = simulate(jsonl(batch), CATALOG).to_contract()
    assert once["entitlements"] == want["entitlements"]

    await _decide(ledger_db.url, [batch], cache)
    assert await export(ledger_db.url) == once


@pytest.mark.xfail(
    strict=True,
    reason="settle_parked runs after the fates of a correction later in the batch: a review"
    " released and then re-parked by a retraction in one batch is left 'applied' in the inbox",
)
async def test_a_review_released_then_parked_again_in_one_batch_is_parked_in_the_inbox(
    ledger_db: LedgerDb,
) -> None:
    """A review waits for its event, the event releases it, and a retraction of the event makes
    it wait again, all in one batch: the inbox says what parked_reviews says."""
    # Not money (the entitlement is RETRACTED either way); the inbox row is the ledger's
    # record of the review's fate, and split over two batches it does say 'parked'.
    top = {"enterpriseId": enterprise_id(910_003)}
    held = event("exhibitionHeld", {"itemId": "expo-9"}, eventId="p1", **top)
    review = event("reviewDecided", {"eventRef": "p1", "ruleId": RULE, "approved": True,
                                     "approvedAmountFen": 50_000_000},
                   eventId="p1r", submittedBy={"principal": "reviewer-a"},
                   occurredOn="2025-08-01", **top)  # fmt: skip
    retraction = event("eventRetracted", {"eventRef": "p1", "reason": "误报"}, eventId="p1x", **top)
    await _decide(ledger_db.url, [[review, held, retraction]], BookCache(0))
    waiting = await fetch(
        ledger_db.url, "SELECT event_id FROM parked_reviews WHERE state = 'waiting'"
    )
    assert [r["event_id"] for r in waiting] == ["p1r"]
    outcome = await fetch(ledger_db.url, "SELECT outcome FROM inbox WHERE event_id = 'p1r'")
    assert outcome[0]["outcome"] == "parked"


# From August 2025 the compute voucher's annual cap is 4,000,000 yuan (the policy's 2,000,000
# before): two versions of one rule in one calendar year.
RAISED_CAP = build_catalog(apply_overlay(raw_catalog(), {
    "effective_from": "2025-08-01",
    "rules": {"m08.compute_voucher": {"annual_cap_yuan": 4_000_000}},
}))  # fmt: skip


@pytest.mark.parametrize("together", [False, True], ids=["apart", "one-batch"])
async def test_a_correction_under_an_earlier_versions_lower_cap_is_booked(
    ledger_db: LedgerDb, together: bool
) -> None:
    """A correction raising a grant of the earlier version keeps the year's total under the
    later version's cap, as simulate decides: the counter takes it."""
    # June's invoice pays 1,500,000 yuan under the 2,000,000 cap, August's 1,000,000 under the
    # 4,000,000 one (2,500,000 in the year). June's corrected to pay 1,800,000: decided again
    # in its place it fits its cap, and August's still fits its own (2,800,000 in all). The
    # counter took the cap of the raise booked last, June's 2,000,000, and its CHECK refused
    # the batch: not transient, so the worker exited and got the same batch again for ever.
    top = {"enterpriseId": enterprise_id(910_004)}
    june = event("computeInvoiceFiled", {"itemId": "INV-A", "amountFen": 750_000_000},
                 eventId="cv-a", occurredOn="2025-06-15", **top)  # fmt: skip
    august = event("computeInvoiceFiled", {"itemId": "INV-B", "amountFen": 500_000_000},
                   eventId="cv-b", occurredOn="2025-08-15", **top)  # fmt: skip
    corrected = {**june, "revision": 2, "correctionReason": "发票金额录入错误",
                 "computeInvoiceFiled": {"itemId": "INV-A", "amountFen": 900_000_000}}  # fmt: skip
    events = [june, august, corrected]
    batches = [events] if together else [[june, august], [corrected]]
    await _decide(ledger_db.url, batches, BookCache(100), RAISED_CAP)

    got = await export(ledger_db.url)
    want = simulate(jsonl(events), RAISED_CAP).to_contract()
    assert got["entitlements"] == want["entitlements"]
    assert [e["grantedFen"] for e in got["entitlements"]] == [180_000_000, 100_000_000]
    usage = await fetch(ledger_db.url, "SELECT used_fen, cap_fen FROM annual_usage")
    assert [tuple(r) for r in usage] == [(280_000_000, 400_000_000)]
