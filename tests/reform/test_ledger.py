"""`subsidy policy diff --from-ledger` on the real PostgreSQL, after the real ledger worker."""

# With events that went through the real ledger worker: the ledger keeps each event as it decided
# it, the baseline replay ends where the ledger stands, and the comparison equals the one of the
# same events from a file.

import asyncio
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from subsidy.harness.databases import create_schema, drop_schema
from subsidy.infra.lifecycle import running
from subsidy.ledger.bootstrap import ledger_worker
from tests.ledger.database import LedgerDb, export, fetch, worker_settings
from tests.ledger.events import CATALOG, EventMix, evaluation_records, jsonl
from tests.ledger.topics import Topics, produce, wait_consumed

# The fixtures ledger_db and ledger_topics.
pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

SUBSIDY = Path(sys.executable).parent / "subsidy"

# Winners and losers: a richer but tighter compute voucher, an amount for a referred rule, and
# a policy that ends a year early.
REFORM = """\
valid_to: 2026-12-31
rules:
  m08.compute_voucher: {rate: "0.30", annual_cap_yuan: 1500000}
  m06.enterprise_title: {ceiling_yuan: 300000}
"""
# What must be equal whichever way the same history came in.
COMPARED = (
    "total", "byMeasure", "byDistrict", "byChannel", "byYear", "enterprises",
    "statusTransitions", "entitlements", "entitlementsCompared", "parkedEvents",
)  # fmt: skip


async def _diff(database_url: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "LOG_LEVEL": "WARNING"}
    for name in ("POLICY_OVERLAY", "POLICY_CATALOG"):
        env.pop(name, None)  # the baseline is the packaged catalog, as the worker's was
    return await asyncio.to_thread(
        subprocess.run,
        [str(SUBSIDY), "policy", "diff", *map(str, args)],
        env=env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip


async def _json(database_url: str, *args: str | Path) -> dict[str, Any]:
    done = await _diff(database_url, *args, "--format", "json")
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


async def test_the_ledger_history_replays_to_the_ledger_and_compares_like_the_file(
    kafka_bootstrap: str, ledger_db: LedgerDb, ledger_topics: Topics, tmp_path: Path
) -> None:
    events = EventMix(seed=31, enterprises=14, events_per_enterprise=40).events()
    await produce(kafka_bootstrap, ledger_topics.input, evaluation_records(events))
    settings = worker_settings(ledger_db, kafka_bootstrap, ledger_topics, batch_size=50)
    async with running(ledger_worker(settings, CATALOG)):
        await wait_consumed(kafka_bootstrap, ledger_topics.input, settings.group_id)

    # Every event the ledger took is kept, spelled so that it hashes to what it was decided
    # under, with its place in the order the ledger took them.
    rows = await fetch(ledger_db.url, "SELECT event_id, payload_hash, event, arrival FROM inbox")
    assert rows
    for r in rows:
        assert r["event"] is not None, r["event_id"]
        assert hashlib.sha256(r["event"].encode()).hexdigest() == r["payload_hash"]
    assert len({r["arrival"] for r in rows}) == len(rows)
    outcomes = {r["outcome"] for r in await fetch(ledger_db.url, "SELECT outcome FROM inbox")}
    assert outcomes >= {"applied", "rejected", "parked"}, "the mix should reach them all"

    reform = tmp_path / "reform.yaml"
    reform.write_text(REFORM, "utf-8")
    from_ledger = await _json(ledger_db.url, "--reform", reform, "--from-ledger")
    source = from_ledger["source"]
    assert source["kind"] == "ledger"
    assert source["origin"].startswith("postgresql://")
    assert source["badLines"] == []
    assert source["ledger"]["missingEvents"] == []
    assert source["ledger"]["expiredReviews"] == []
    assert source["ledger"]["hashMismatches"] == []
    assert source["ledger"]["lastDecidedAt"].endswith("+08:00")
    exported = await export(ledger_db.url)
    check = source["baselineCheck"]
    assert check["reproduced"], check
    assert check["compared"] == check["matching"] == len(exported["entitlements"])
    assert from_ledger["total"]["baselineFen"] == sum(
        e["grantedFen"] for e in exported["entitlements"]
    )
    assert from_ledger["total"]["deltaFen"] != 0
    assert from_ledger["enterprises"], "the reform moves money"
    assert {t["from"] for t in from_ledger["statusTransitions"]} >= {"REFERRED", "PAID"}

    # The same events as a file, in the order they were produced, compare the same (the
    # rejected counts differ: a conflicting resend never enters the ledger's inbox).
    events_file = tmp_path / "events.jsonl"
    events_file.write_text("\n".join(jsonl(events)) + "\n", "utf-8")
    from_file = await _json(ledger_db.url, "--reform", reform, "--events", events_file)
    for key in COMPARED:
        assert from_ledger[key] == from_file[key], key

    # The table says where the history came from and that the replay matches the ledger.
    table = await _diff(ledger_db.url, "--reform", reform, "--from-ledger")
    assert table.returncode == 0, table.stderr
    assert "历史 history: 台账 the ledger" in table.stdout
    assert "台账复核 ledger check:" in table.stdout
    assert "reproduces all" in table.stdout


async def test_events_the_ledger_did_not_keep_are_reported(
    kafka_bootstrap: str, ledger_db: LedgerDb, ledger_topics: Topics, tmp_path: Path
) -> None:
    events = EventMix(seed=32, enterprises=4, events_per_enterprise=25).events()
    await produce(kafka_bootstrap, ledger_topics.input, evaluation_records(events))
    settings = worker_settings(ledger_db, kafka_bootstrap, ledger_topics)
    async with running(ledger_worker(settings, CATALOG)):
        await wait_consumed(kafka_bootstrap, ledger_topics.input, settings.group_id)
    # An event taken before the ledger kept events (0004): its content is not there.
    (paid,) = await fetch(
        ledger_db.url,
        "SELECT event_id FROM entitlements WHERE status = 'PAID' ORDER BY entitlement_id LIMIT 1",
    )
    await fetch(ledger_db.url, "UPDATE inbox SET event = NULL WHERE event_id = $1", paid[0])
    reform = tmp_path / "reform.yaml"
    reform.write_text(REFORM, "utf-8")
    out = await _json(ledger_db.url, "--reform", reform, "--from-ledger")
    assert out["source"]["ledger"]["missingEvents"] == [paid[0]]
    check = out["source"]["baselineCheck"]
    assert not check["reproduced"]
    assert check["differing"] >= 1
    table = await _diff(ledger_db.url, "--reform", reform, "--from-ledger")
    assert table.returncode == 0
    assert "1 events taken before the ledger kept events (0004), not replayed" in table.stdout
    assert "entitlements differ from the ledger" in table.stdout


async def test_a_ledger_that_keeps_no_events_is_exit_3(
    fresh_database_url: str, tmp_path: Path
) -> None:
    schema, url = await create_schema(fresh_database_url, "noevents")
    try:
        await fetch(url, "CREATE TABLE inbox (event_id text PRIMARY KEY)")
        reform = tmp_path / "reform.yaml"
        reform.write_text(REFORM, "utf-8")
        done = await _diff(url, "--reform", reform, "--from-ledger")
        assert done.returncode == 3
        assert done.stderr.endswith(
            ": the ledger keeps no events yet: run `subsidy ledger migrate`\n"
        )
        assert done.stderr.count("\n") == 1
    finally:
        await drop_schema(fresh_database_url, schema)
