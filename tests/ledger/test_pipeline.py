"""The ledger service end to end on the real Kafka and PostgreSQL."""

# It ends in exactly the state `subsidy simulate` computes, survives redelivery, sets bad records
# aside and relays decisions.

import asyncio
import dataclasses
import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from subsidy.decisions.v1 import decisions_pb2 as dpb
from subsidy.domain.catalog import Catalog
from subsidy.domain.simulate import simulate
from subsidy.events.v1 import events_pb2 as epb
from subsidy.infra.lifecycle import running
from subsidy.ledger.bootstrap import ledger_relay, ledger_worker
from subsidy.ledger.repository import state_from_row
from tests.ledger.database import LedgerDb, export, fetch, snapshot, worker_settings
from tests.ledger.events import (
    CATALOG,
    TIGHT_CATALOG,
    EventMix,
    evaluation_records,
    jsonl,
    replay,
)
from tests.ledger.topics import Topics, produce, read_all, wait_consumed

# The fixtures ledger_db and ledger_topics.
pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

SUBSIDY = Path(sys.executable).parent / "subsidy"


# Without the book cache every batch restores its books from the rows: the restore is then
# what must reproduce the in-memory state (creation order, event ids, other support).
@pytest.mark.parametrize(
    ("book_cache_size", "catalog"),
    [(10_000, CATALOG), (0, TIGHT_CATALOG)],
    ids=["cached-books", "restored-books-tight-policy"],
)
async def test_pipeline_ends_exactly_where_simulate_does(
    kafka_bootstrap: str,
    ledger_db: LedgerDb,
    ledger_topics: Topics,
    book_cache_size: int,
    catalog: Catalog,
) -> None:
    events = EventMix(seed=11, enterprises=20, events_per_enterprise=45).events()
    records = evaluation_records(events, catalog)
    # Two records no ledger can read, in the middle of the stream: set aside, never blocking.
    garbage = [
        (b"junk", b"\xff\x00not a protobuf"),
        (b"empty", dpb.Evaluation().SerializeToString()),
    ]
    stream = records[:100] + garbage + records[100:]
    await produce(kafka_bootstrap, ledger_topics.input, stream)

    settings = worker_settings(
        ledger_db, kafka_bootstrap, ledger_topics, batch_size=64, book_cache_size=book_cache_size
    )
    async with running(ledger_worker(settings, catalog)) as worker:
        await wait_consumed(kafka_bootstrap, ledger_topics.input, settings.group_id)
    assert worker.stats.dead_letters == 2
    assert (
        worker.stats.applied
        + worker.stats.rejected
        + worker.stats.parked
        + worker.stats.conflicts
        + worker.stats.duplicates
        == len(records)
    )

    expected = simulate(jsonl(events), catalog)
    exported = await export(ledger_db.url)
    assert exported == expected.to_contract()
    statuses = {e["status"] for e in exported["entitlements"]}
    assert {
        "PAID",
        "PARTIALLY_PAID",
        "DENIED",
        "SUPERSEDED",
        "REVOKED",
        "PENDING_REVIEW",
    } <= statuses
    assert exported["rejectedEvents"], "the mix has conflicts and misdirected reviews"

    # Beyond the contract's fields: every internal number of every entitlement, every journal
    # entry in order, every decision with its checks.
    rows = await fetch(ledger_db.url, "SELECT * FROM entitlements")
    stored = {r["entitlement_id"]: state_from_row(r) for r in rows}
    for s in expected.ledger.states():
        got = stored.pop(s.ent.entitlement_id)
        assert (
            got.ent,
            got.status,
            got.reasons,
            got.entitled_fen,
            got.capped_fen,
            got.granted_fen,
            got.clawback_fen,
            got.revision,
            got.enterprise_name,
            got.district,
        ) == (
            s.ent,
            s.status,
            s.reasons,
            s.entitled_fen,
            s.capped_fen,
            s.granted_fen,
            s.clawback_fen,
            s.revision,
            s.enterprise_name,
            s.district,
        )
    assert stored == {}
    postings, decisions = replay(events, catalog)
    entries: dict[str, list[Any]] = defaultdict(list)
    for r in await fetch(ledger_db.url, "SELECT * FROM entries ORDER BY enterprise_id, seq"):
        entries[r["enterprise_id"]].append(
            (r["entitlement_id"], r["kind"], r["amount_fen"], r["caused_by_event_id"])
        )
    assert dict(entries) == postings
    stored_decisions = {
        r["decision_id"]: (
            r["status"],
            r["reasons"],
            r["entitled_fen"],
            r["granted_fen"],
            r["cash_delta_fen"],
            r["clawback_fen"],
            r["caused_by_event_id"],
            json.loads(r["checks"]),
        )
        for r in await fetch(ledger_db.url, "SELECT * FROM decisions")
    }
    assert stored_decisions == decisions

    letters = [
        epb.DeadLetter.FromString(v)
        for _, v in read_all(kafka_bootstrap, ledger_topics.dead_letters)
    ]
    assert sorted(d.key for d in letters) == [b"empty", b"junk"]
    assert all(d.stage == "ledger" and d.topic == ledger_topics.input and d.error for d in letters)
    assert {d.value for d in letters} == {v for _, v in garbage}

    # The CLI prints the same document.
    env = {**os.environ, "DATABASE_URL": ledger_db.url, "LOG_LEVEL": "WARNING"}
    done = await asyncio.to_thread(
        subprocess.run,
        [str(SUBSIDY), "ledger", "export", "--format", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == expected.to_contract()
    if catalog is TIGHT_CATALOG:
        reasons = {r for e in exported["entitlements"] for r in e["reasons"]}
        assert {"YEAR_LIMIT", "ANNUAL_CAP", "ITEM_CAP", "OTHER_SUPPORT"} <= reasons


async def test_one_relay_publishes_every_decision_once_in_order(
    kafka_bootstrap: str, ledger_db: LedgerDb, ledger_topics: Topics
) -> None:
    events = EventMix(seed=12, enterprises=8, events_per_enterprise=30).events()
    await produce(kafka_bootstrap, ledger_topics.input, evaluation_records(events))
    settings = worker_settings(
        ledger_db, kafka_bootstrap, ledger_topics, batch_size=32, relay_poll_seconds=0.2
    )
    # Two relays: one publishes, the other stands by (one enterprise's order needs one relay).
    async with running(ledger_relay(settings)) as one, running(ledger_relay(settings)) as two:
        async with running(ledger_worker(settings, CATALOG)):
            await wait_consumed(kafka_bootstrap, ledger_topics.input, settings.group_id)
        for _ in range(300):
            unsent = await fetch(ledger_db.url, "SELECT count(*) FROM outbox WHERE sent_at IS NULL")
            if unsent[0][0] == 0:
                break
            await asyncio.sleep(0.1)
    published = sorted([one.published, two.published])
    decisions = await fetch(ledger_db.url, "SELECT decision_id, enterprise_id FROM decisions")
    assert decisions
    assert published == [0, len(decisions)]

    records = read_all(kafka_bootstrap, ledger_topics.decisions)
    messages = [(key, dpb.Decision.FromString(value)) for key, value in records]
    assert sorted(m.decision_id for _, m in messages) == sorted(r["decision_id"] for r in decisions)
    assert all(key == m.enterprise_id.encode() for key, m in messages)
    # One enterprise's decisions share a partition; read back, each entitlement's revisions
    # come in order (read_all preserves partition order).
    revisions: dict[str, list[int]] = defaultdict(list)
    for _, m in messages:
        revisions[m.entitlement_id].append(m.revision)
    assert all(r == sorted(r) for r in revisions.values())


async def test_delivered_twice_changes_nothing(
    kafka_bootstrap: str, ledger_db: LedgerDb, ledger_topics: Topics
) -> None:
    events = EventMix(seed=13, enterprises=30, events_per_enterprise=50).events()
    records = evaluation_records(events)
    expected = simulate(jsonl(events), CATALOG).to_contract()
    assert len(expected["entitlements"]) >= 1_000

    settings = worker_settings(ledger_db, kafka_bootstrap, ledger_topics, batch_size=200)
    async with running(ledger_worker(settings, CATALOG)) as worker:
        await produce(kafka_bootstrap, ledger_topics.input, records)
        await wait_consumed(kafka_bootstrap, ledger_topics.input, settings.group_id)
        first = await snapshot(ledger_db.url)
        before = dataclasses.replace(worker.stats)
        await produce(kafka_bootstrap, ledger_topics.input, records)
        await wait_consumed(kafka_bootstrap, ledger_topics.input, settings.group_id)
    after = worker.stats
    assert await snapshot(ledger_db.url) == first
    # The second time round every record is a duplicate, or a conflict already recorded.
    assert (after.applied, after.rejected) == (before.applied, before.rejected)
    assert after.duplicates - before.duplicates + after.conflicts - before.conflicts == len(records)
    assert await export(ledger_db.url) == expected
    # And a replay of the whole topic by a new consumer group (a re-deployed ledger) too.
    replay = settings.model_copy(update={"group_id": settings.group_id + "-replay"})
    async with running(ledger_worker(replay, CATALOG)) as again:
        await wait_consumed(kafka_bootstrap, ledger_topics.input, replay.group_id)
    assert again.stats.applied == 0
    assert await snapshot(ledger_db.url) == first
