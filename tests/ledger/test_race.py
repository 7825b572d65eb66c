"""Ledger workers racing on one enterprise's annual cap never pay beyond it."""

import asyncio
import uuid

import pytest

from subsidy.infra.lifecycle import running
from subsidy.ledger.bootstrap import ledger_worker
from tests.factories import enterprise_id
from tests.ledger.database import LedgerDb, fetch, worker_settings
from tests.ledger.events import CATALOG, YUAN, evaluation_records
from tests.ledger.topics import Topics, produce, wait_consumed

# The fixtures ledger_db and ledger_topics.
pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

ENTERPRISE = enterprise_id(4242)
ANNUAL_CAP_FEN = 2_000_000 * YUAN  # m08.compute_voucher: per enterprise per year ≤ 2,000,000
INVOICES = 90


def _invoices() -> list[dict[str, object]]:
    """Compute invoices of one enterprise in 2026 asking for ~4.5× the annual cap."""
    return [
        {
            "eventId": f"race-{uuid.uuid4().hex[:8]}-{i}",
            "source": "sz-miit-portal",
            "enterpriseId": ENTERPRISE,
            "enterpriseName": "苏州竞速机器人有限公司",
            "district": "KUNSHAN",
            "occurredOn": f"2026-{1 + i % 12:02d}-15",
            # 20% of it is asked: 50,000 … 139,000 yuan, so the last grant is usually partial.
            "computeInvoiceFiled": {"itemId": f"INV{i}", "amountFen": (250_000 + 5_000 * i) * YUAN},
        }
        for i in range(INVOICES)
    ]


async def test_racing_workers_never_exceed_the_annual_cap(
    kafka_bootstrap: str, ledger_db: LedgerDb, ledger_topics: Topics
) -> None:
    events = _invoices()
    # Against the keying on purpose: the enterprise's events are spread over every partition,
    # so workers holding different partitions decide the same enterprise at the same time.
    # Two groups on top: every event is offered twice, to a worker of each group.
    group_a = worker_settings(
        ledger_db, kafka_bootstrap, ledger_topics, batch_size=3, batch_wait_ms=10
    )
    group_b = worker_settings(
        ledger_db, kafka_bootstrap, ledger_topics, batch_size=5, batch_wait_ms=10, book_cache_size=0
    )
    async with (
        running(ledger_worker(group_a, CATALOG)) as a1,
        running(ledger_worker(group_a, CATALOG)) as a2,
        running(ledger_worker(group_b, CATALOG)) as b1,
    ):
        for _ in range(200):  # all three hold partitions before anything is sent
            if a1.assignment and a2.assignment and b1.assignment:
                break
            await asyncio.sleep(0.1)
        assert all(w.assignment for w in (a1, a2, b1))
        assert not a1.assignment & a2.assignment
        await produce(
            kafka_bootstrap,
            ledger_topics.input,
            evaluation_records(events),
            partition_of=lambda i: i % 6,
        )
        await wait_consumed(kafka_bootstrap, ledger_topics.input, group_a.group_id)
        await wait_consumed(kafka_bootstrap, ledger_topics.input, group_b.group_id)

    workers = (a1, a2, b1)
    assert all(w.stats.applied > 0 for w in workers), [w.stats for w in workers]
    # The enterprise lock serialised them: no batch ever had to be retried (without the lock
    # the chain's primary key and the cap CHECK would turn the race into retries).
    assert sum(w.stats.retries for w in workers) == 0
    # Each event applied exactly once across all workers; the other offer was a duplicate.
    assert sum(w.stats.applied for w in workers) == INVOICES
    assert sum(w.stats.duplicates for w in workers) >= INVOICES

    granted = await fetch(
        ledger_db.url,
        "SELECT sum(granted_fen)::bigint AS total, count(*) AS n,"
        " count(*) FILTER (WHERE status = 'PAID') AS paid,"
        " count(*) FILTER (WHERE status = 'PARTIALLY_PAID') AS partial"
        " FROM entitlements WHERE rule_id = 'm08.compute_voucher' AND year = 2026",
    )
    row = granted[0]
    assert row["n"] == INVOICES
    assert row["total"] == ANNUAL_CAP_FEN  # asked for far more: the cap is reached, not passed
    assert row["paid"] >= 1
    assert row["partial"] <= 1
    counter = await fetch(
        ledger_db.url,
        "SELECT used_fen, cap_fen FROM annual_usage"
        " WHERE rule_id = 'm08.compute_voucher' AND year = 2026",
    )
    assert [tuple(r) for r in counter] == [(ANNUAL_CAP_FEN, ANNUAL_CAP_FEN)]
    grants = await fetch(
        ledger_db.url,
        "SELECT entitlement_id, count(*) AS n FROM entries"
        " WHERE kind = 'GRANT' GROUP BY entitlement_id HAVING count(*) > 1",
    )
    assert grants == []
    # Whatever order the race decided them in: paid in full until the cap, at most one partial
    # grant, and every later one denied for the annual cap.
    states = await fetch(
        ledger_db.url, "SELECT status, reasons, entitled_fen, granted_fen FROM entitlements"
    )
    for s in states:
        if s["status"] == "PAID":
            assert s["granted_fen"] == s["entitled_fen"]
        elif s["status"] == "PARTIALLY_PAID":
            assert 0 < s["granted_fen"] < s["entitled_fen"]
            assert s["reasons"] == ["ANNUAL_CAP"]
        else:
            assert (s["status"], s["reasons"], s["granted_fen"]) == ("DENIED", ["ANNUAL_CAP"], 0)
