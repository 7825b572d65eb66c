"""A worker killed between its database commit and its offset commit books nothing twice."""

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from subsidy.domain.simulate import simulate
from tests.ledger.database import LedgerDb, export, fetch, worker_settings
from tests.ledger.events import CATALOG, EventMix, evaluation_records, jsonl, replay
from tests.ledger.topics import Topics, lag, produce, wait_consumed

# The fixtures ledger_db and ledger_topics.
pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

SUBSIDY = Path(sys.executable).parent / "subsidy"
CRASHES = 3


async def _start(env: dict[str, str]) -> asyncio.subprocess.Process:
    """`subsidy ledger worker` as a child process (stderr kept for the failure message)."""
    return await asyncio.create_subprocess_exec(
        str(SUBSIDY),
        "ledger",
        "worker",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )


def _env(settings_env: dict[str, str], *, crash: bool) -> dict[str, str]:
    env = {**os.environ, **settings_env, "LOG_LEVEL": "WARNING"}
    env["LEDGER_CRASH_AFTER_DB_COMMIT"] = "true" if crash else "false"
    return env


async def test_sigkill_after_db_commit_books_nothing_twice(
    kafka_bootstrap: str, ledger_db: LedgerDb, ledger_topics: Topics
) -> None:
    events = EventMix(seed=21, enterprises=10, events_per_enterprise=30).events()
    records = evaluation_records(events)
    await produce(kafka_bootstrap, ledger_topics.input, records)
    settings = worker_settings(ledger_db, kafka_bootstrap, ledger_topics, batch_size=40)
    settings_env = {
        "DATABASE_URL": settings.database_url,
        "KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "LEDGER_INPUT_TOPIC": settings.input_topic,
        "LEDGER_DECISIONS_TOPIC": settings.decisions_topic,
        "LEDGER_DEAD_LETTER_TOPIC": settings.dead_letter_topic,
        "LEDGER_GROUP_ID": settings.group_id,
        "LEDGER_BATCH_SIZE": str(settings.batch_size),
    }

    committed_before = 0
    for _ in range(CRASHES):
        crashing = await _start(_env(settings_env, crash=True))
        _, stderr = await asyncio.wait_for(crashing.communicate(), timeout=120)
        assert crashing.returncode == -signal.SIGKILL, stderr.decode()
        # The batch is in the database, its offsets are not in Kafka. Later runs start again
        # from the same offsets, so they mostly re-read what the first one committed.
        inbox = (await fetch(ledger_db.url, "SELECT count(*) FROM inbox"))[0][0]
        assert inbox > 0
        assert inbox >= committed_before
        committed_before = inbox
        behind = await asyncio.to_thread(
            lag, kafka_bootstrap, settings.input_topic, settings.group_id
        )
        assert behind == len(records)

    worker = await _start(_env(settings_env, crash=False))
    try:
        await wait_consumed(kafka_bootstrap, settings.input_topic, settings.group_id)
    finally:
        worker.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(worker.communicate(), timeout=60)
    assert worker.returncode == 0, stderr.decode()

    # Every redelivered record was a no-op: the journal holds each posting exactly once.
    assert await export(ledger_db.url) == simulate(jsonl(events), CATALOG).to_contract()
    postings, decisions = replay(events)
    entries = await fetch(ledger_db.url, "SELECT count(*) FROM entries")
    assert entries[0][0] == sum(len(p) for p in postings.values())
    stored = await fetch(ledger_db.url, "SELECT count(*) FROM decisions")
    assert stored[0][0] == len(decisions)
