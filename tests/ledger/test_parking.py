"""Reviews that arrive before their event, through the real ledger worker."""

# On Kafka and PostgreSQL: parked, applied when the event comes (as `subsidy simulate` does), listed
# while they wait, and rejected by the worker's own sweep when they wait too long.

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from subsidy.domain.simulate import simulate
from subsidy.infra.lifecycle import running
from subsidy.ledger import parking
from subsidy.ledger.audit import check_invariants
from subsidy.ledger.bootstrap import ledger_worker
from tests.factories import event
from tests.ledger.database import LedgerDb, export, fetch, worker_settings
from tests.ledger.events import CATALOG, evaluation_records, jsonl
from tests.ledger.topics import Topics, produce, wait_consumed

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

YUAN = 100
SUBSIDY = Path(sys.executable).parent / "subsidy"


def _review(event_id: str, ref: str, rule: str = "m06.exhibition", **body: Any) -> dict[str, Any]:
    return event("reviewDecided", {"eventRef": ref, "ruleId": rule, **body}, eventId=event_id,
                 occurredOn="2025-09-01")  # fmt: skip


def _lab(event_id: str, kind: str, item: str, on: str, **extra: Any) -> dict[str, Any]:
    cert = {"kind": kind, "itemId": item, "certificateId": f"C-{event_id}", **extra}
    return event("certificationObtained", cert, eventId=event_id, occurredOn=on)


def _support(event_id: str, item: str, yuan: int, on: str) -> dict[str, Any]:
    body = {"itemId": item, "program": "省级配套", "amountFen": yuan * YUAN}
    return event("otherSupportReceived", body, eventId=event_id, occurredOn=on)


# The auditor's three cases: other support on LAB-V, a grant cut to nothing on LAB-W, and an
# approval that arrives before its exhibition (s1), plus one whose event never comes (s2).
FIRST = [
    _support("v0", "LAB-V", 1_500_000, "2026-01-01"),
    *(_lab(f"v{n}", "MUNICIPAL_KEY_LAB", "LAB-V", f"2026-01-0{n + 1}") for n in (1, 2, 3)),
    _lab("w1", "MUNICIPAL_KEY_LAB", "LAB-W", "2026-01-01"),
    _support("w2", "LAB-W", 1_500_000, "2026-01-02"),
    _lab(
        "w3",
        "PROVINCIAL_ENGINEERING_CENTER",
        "LAB-W",
        "2026-01-03",
        approvedAmountFen=1_200_000 * YUAN,
    ),
    _lab("w4", "MUNICIPAL_KEY_LAB", "LAB-W", "2026-01-04"),
    _review("r1", "s1", approved=True, approvedAmountFen=500_000 * YUAN),
    _review("r2", "s2", approved=False),
]
# Sent later, in another batch: the worker must find r1 parked in PostgreSQL, not in memory.
LATER = [
    _review("r1", "s1", approved=True, approvedAmountFen=500_000 * YUAN),  # a resend: no-op
    event("exhibitionHeld", {"itemId": "expo-s"}, eventId="s1", occurredOn="2025-08-20"),
]


@pytest.mark.parametrize("book_cache_size", [10_000, 0], ids=["cached", "restored"])
async def test_the_auditors_cases_decide_as_simulate_does(
    kafka_bootstrap: str, ledger_db: LedgerDb, ledger_topics: Topics, book_cache_size: int
) -> None:
    settings = worker_settings(
        ledger_db, kafka_bootstrap, ledger_topics, book_cache_size=book_cache_size
    )
    async with running(ledger_worker(settings, CATALOG)):
        await produce(kafka_bootstrap, ledger_topics.input, evaluation_records(FIRST))
        await wait_consumed(kafka_bootstrap, ledger_topics.input, settings.group_id)
        middle = await export(ledger_db.url)
        assert middle["parkedEvents"] == [
            {"eventId": "r1", "eventRef": "s1"},
            {"eventId": "r2", "eventRef": "s2"},
        ]
        listed = await _cli(ledger_db, "ledger", "parked", "--format", "json")
        assert [(r["eventId"], r["eventRef"]) for r in json.loads(listed)] == [
            ("r1", "s1"),
            ("r2", "s2"),
        ]
        assert all(r["parkedAt"].endswith("+08:00") for r in json.loads(listed))
        table = await _cli(ledger_db, "ledger", "parked")
        assert "共 2 条等待中的评审" in table
        await produce(kafka_bootstrap, ledger_topics.input, evaluation_records(LATER))
        await wait_consumed(kafka_bootstrap, ledger_topics.input, settings.group_id)

    exported = await export(ledger_db.url)
    assert exported == simulate(jsonl(FIRST + LATER), CATALOG).to_contract()
    views = {e["entitlementId"]: e for e in exported["entitlements"]}
    granted = {k: (v["status"], v["grantedFen"]) for k, v in views.items()}
    assert granted == {
        "v1/m03.municipal_key_lab": ("DENIED", 0),
        "v2/m03.municipal_key_lab": ("DENIED", 0),
        "v3/m03.municipal_key_lab": ("DENIED", 0),
        "w1/m03.municipal_key_lab": ("SUPERSEDED", 0),
        "w3/m03.provincial_engineering_center": ("DENIED", 0),
        "w4/m03.municipal_key_lab": ("DENIED", 0),
        "s1/m06.exhibition": ("PAID", 500_000 * YUAN),
    }
    assert exported["parkedEvents"] == [{"eventId": "r2", "eventRef": "s2"}]
    inbox = dict(await fetch(ledger_db.url, "SELECT event_id, outcome FROM inbox"))
    assert (inbox["r1"], inbox["r2"]) == ("applied", "parked")
    # The approval was applied once: one decision caused by it, one GRANT.
    caused = await fetch(
        ledger_db.url, "SELECT status FROM decisions WHERE caused_by_event_id = 'r1'"
    )
    assert [r["status"] for r in caused] == ["PAID"]


async def test_a_review_that_waits_too_long_is_rejected_by_the_workers_sweep(
    kafka_bootstrap: str, ledger_db: LedgerDb, ledger_topics: Topics
) -> None:
    # A parking time of a fifth of a second, swept every tenth.
    settings = worker_settings(
        ledger_db, kafka_bootstrap, ledger_topics, park_ttl_days=0.2 / 86_400,
        park_sweep_seconds=0.1,
    )  # fmt: skip
    review = _review("r9", "s9", approved=True, approvedAmountFen=100_000 * YUAN)
    exhibition = event("exhibitionHeld", {"itemId": "expo-9"}, eventId="s9")
    async with running(ledger_worker(settings, CATALOG)) as worker:
        await produce(kafka_bootstrap, ledger_topics.input, evaluation_records([review]))
        await wait_consumed(kafka_bootstrap, ledger_topics.input, settings.group_id)
        conn = await asyncpg.connect(ledger_db.url)
        try:
            for _ in range(100):
                if not await parking.waiting(conn):
                    break
                await conn.execute("SELECT pg_sleep(0.1)")
        finally:
            await conn.close()
        assert worker.stats.expired == 1
        # Its id stays taken, and the event arriving now no longer releases it.
        records = evaluation_records([review, exhibition])
        await produce(kafka_bootstrap, ledger_topics.input, records)
        await wait_consumed(kafka_bootstrap, ledger_topics.input, settings.group_id)
    exported = await export(ledger_db.url)
    assert exported["parkedEvents"] == []
    assert exported["rejectedEvents"] == [
        {"eventId": "r9",
         "error": "reviewDecided.eventRef: no event 's9' for this enterprise arrived within"
                  f" {0.2 / 86_400:g} days"},
    ]  # fmt: skip
    (s9,) = exported["entitlements"]
    assert (s9["status"], s9["grantedFen"]) == ("PENDING_REVIEW", 0)
    (row,) = await fetch(ledger_db.url, "SELECT state, settled_at FROM parked_reviews")
    assert row["state"] == "expired"
    assert row["settled_at"] is not None


async def test_expiry_leaves_reviews_younger_than_the_parking_time(ledger_db: LedgerDb) -> None:
    conn = await asyncpg.connect(ledger_db.url)
    try:
        assert await parking.expire(conn, timedelta(days=30), datetime.now(UTC)) == []
    finally:
        await conn.close()


async def test_verify_names_an_item_paid_above_its_best_level(
    kafka_bootstrap: str, ledger_db: LedgerDb, ledger_topics: Topics
) -> None:
    settings = worker_settings(ledger_db, kafka_bootstrap, ledger_topics)
    async with running(ledger_worker(settings, CATALOG)):
        await produce(kafka_bootstrap, ledger_topics.input, evaluation_records(FIRST[:2]))
        await wait_consumed(kafka_bootstrap, ledger_topics.input, settings.group_id)
    assert await check_invariants_at(ledger_db.url) == []
    # The database owner marks the absorbed municipal lab grant paid after all.
    ledger_db.tampered = True
    conn = await asyncpg.connect(ledger_db.owner_url)
    try:
        await conn.execute(
            "UPDATE entitlements SET status = 'PAID', granted_fen = capped_fen"
            " WHERE entitlement_id = 'v1/m03.municipal_key_lab'"
        )
    finally:
        await conn.close()
    found = await check_invariants_at(ledger_db.url)
    assert (
        "就高不重复: paid on an item + other support <= max(other support, best rule level), and"
        " no rule's level above its item cap: 91350100M000100Y43 LAB-V: paid 100000000 + other"
        " 150000000 > max(other, best level 100000000)"
    ) in found


async def _cli(db: LedgerDb, *args: str) -> str:
    """Run `subsidy …` against this test's ledger; its standard output."""
    env = {**os.environ, "DATABASE_URL": db.url, "LOG_LEVEL": "WARNING", "COLUMNS": "160"}
    done = await asyncio.to_thread(
        subprocess.run, [str(SUBSIDY), *args], env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


async def check_invariants_at(url: str) -> list[str]:
    """`subsidy ledger verify`'s invariant lines for the ledger at url."""
    conn = await asyncpg.connect(url)
    try:
        return await check_invariants(conn)
    finally:
        await conn.close()
