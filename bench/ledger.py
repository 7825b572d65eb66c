"""(b) The ledger service against the real PostgreSQL (and Kafka): decisions per second.

`uv run python -m bench.ledger [events] [batch_size]`. Two figures, each on a fresh database:
- `db_*`: what the worker does per batch without the broker — decode the Evaluation bytes,
  lock, load or reuse the books, decide, write (COPY/executemany), commit;
- `kafka_*`: the whole worker on a fresh topic, from its first committed batch to the last
  offset committed (the consumer-group join before it is left out).
Both end by checking the export against `simulate` on the same events.
"""

import asyncio
import contextlib
import sys
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer, ConsumerRecord
from kafka.admin import KafkaAdminClient

from bench.domain import events_file
from subsidy.contract.codec import evaluation_to_proto
from subsidy.devstack.endpoints import database_url, kafka_bootstrap
from subsidy.domain.catalog import load_catalog
from subsidy.domain.evaluator import evaluate
from subsidy.domain.events import InvalidEvent, parse_event_json
from subsidy.infra.logging import configure_logging
from subsidy.ledger.db import migrate_ledger
from subsidy.ledger.export import export_contract
from subsidy.ledger.processor import apply_batch
from subsidy.ledger.repository import BookCache
from subsidy.ledger.settings import LedgerSettings
from subsidy.ledger.worker import LedgerWorker, decode
from subsidy.simulation import simulate


@contextlib.asynccontextmanager
async def fresh_database() -> AsyncIterator[str]:
    """A migrated ledger in a new database, dropped afterwards."""
    base = database_url()
    name = f"subsidy_bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(base)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = f"{base.rpartition('/')[0]}/{name}"
    try:
        conn = await asyncpg.connect(url)
        await migrate_ledger(conn)
        await conn.close()
        yield url
    finally:
        # FORCE cannot end an autovacuum worker for a non-superuser: try again shortly.
        for attempt in range(20):
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                break
            except asyncpg.InsufficientPrivilegeError:
                if attempt == 19:
                    raise
                await asyncio.sleep(0.5)
        await admin.close()


def _records(lines: list[bytes]) -> tuple[list[bytes], list[tuple[bytes, bytes]]]:
    """The valid lines (what eligibility passes on) and their entitlements.v1 records."""
    catalog = load_catalog()
    valid, records = [], []
    for line in lines:
        try:
            event = parse_event_json(line)
        except InvalidEvent:
            continue
        valid.append(line)
        message = evaluation_to_proto(evaluate(event, catalog))
        records.append((event.enterprise_id.encode(), message.SerializeToString()))
    return valid, records


async def _db_only(url: str, records: list[tuple[bytes, bytes]], batch: int) -> dict[str, Any]:
    cache = BookCache(10_000)
    conn = await asyncpg.connect(url)
    decisions = 0
    try:
        t0 = time.perf_counter()
        for start in range(0, len(records), batch):
            chunk = records[start : start + batch]
            messages = [
                decode(ConsumerRecord("bench", 0, start + i, 0, 0, k, v, None, len(k), len(v), []))
                for i, (k, v) in enumerate(chunk)
            ]
            async with conn.transaction():
                prepared = await apply_batch(conn, messages, cache)
            prepared.committed(cache)
            decisions += sum(len(o.decisions) for _, o in prepared.report.outcomes)
        seconds = time.perf_counter() - t0
        exported = await export_contract(conn)
    finally:
        await conn.close()
    return {"decisions": decisions, "seconds": seconds, "export": exported}


async def _through_kafka(
    url: str, records: list[tuple[bytes, bytes]], batch: int
) -> dict[str, Any]:
    bootstrap = kafka_bootstrap()
    topic = f"bench.ledger.{uuid.uuid4().hex[:10]}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics({topic: {"num_partitions": 6, "replication_factor": 1}},
                        wait_for_metadata=True)  # fmt: skip
    try:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True,
                                    acks="all", linger_ms=20)  # fmt: skip
        await producer.start()
        sends = [await producer.send(topic, key=k, value=v) for k, v in records]
        await asyncio.gather(*sends)
        await producer.stop()
        settings = LedgerSettings(  # type: ignore[call-arg]  # the rest from defaults
            database_url=url, kafka_bootstrap=bootstrap, input_topic=topic,
            decisions_topic=topic + ".d", dead_letter_topic=topic + ".dlq",
            group_id=topic, batch_size=batch, batch_wait_ms=50,
        )  # fmt: skip
        worker = LedgerWorker(settings)
        await worker.start()
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop))
        while worker.stats.batches == 0:  # noqa: ASYNC110  (polling the worker's counters)
            await asyncio.sleep(0.005)
        t0, first = time.perf_counter(), worker.stats.messages
        while worker.stats.messages < len(records):  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        seconds = time.perf_counter() - t0
        stop.set()
        await task
        await worker.stop()
        conn = await asyncpg.connect(url)
        try:
            decisions = await conn.fetchval("SELECT count(*) FROM decisions")
            first_decisions = decisions * first // len(records)
            exported = await export_contract(conn)
        finally:
            await conn.close()
    finally:
        admin.delete_topics([topic])
        admin.close()
    return {"decisions": decisions - first_decisions, "seconds": seconds, "export": exported}


async def _run(count: int, batch: int) -> dict[str, Any]:
    lines, records = _records(events_file(count).read_bytes().splitlines())
    expected = simulate(lines, load_catalog()).to_contract()
    out: dict[str, Any] = {"events": len(records), "batch_size": batch}
    for name, stage in (("db", _db_only), ("kafka", _through_kafka)):
        async with fresh_database() as url:
            figures = await stage(url, records, batch)
        assert figures["export"] == expected, f"{name}: export differs from simulate"
        out[f"{name}_decisions"] = figures["decisions"]
        out[f"{name}_seconds"] = round(figures["seconds"], 2)
        out[f"{name}_decisions_per_s"] = round(figures["decisions"] / figures["seconds"])
    return out


def run(count: int = 20_000, batch: int = 500) -> dict[str, Any]:
    """Decide `count` generated events through the ledger service, in batches of `batch`."""
    return asyncio.run(_run(count, batch))


if __name__ == "__main__":
    configure_logging("WARNING")
    args = [int(a) for a in sys.argv[1:3]]
    for key, value in run(*args).items():
        print(f"{key:>24} {value}")
