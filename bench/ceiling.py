"""(c) The raw ceilings: the same messages through Kafka with no logic, and rows into PostgreSQL."""

import asyncio
import multiprocessing
import time
import uuid
from itertools import cycle, islice
from multiprocessing.connection import Connection
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from subsidy.devstack.kafka_admin import admin_client, ensure_topics
from subsidy.infra.kafka_client import KafkaConnection
from subsidy.infra.topics import PARTITIONS, Topic

# Rows of the pipeline's decisions table cycled through by the PostgreSQL ceiling: real widths
# and contents without holding every row in memory.
SAMPLE_ROWS = 5_000


async def _consume(kafka: KafkaConnection, topic: str, count: int, pipe: Connection) -> None:
    consumer = AIOKafkaConsumer(
        **kafka.options(), enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        # Assigned, not subscribed: no group join inside the measured time.
        partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        for tp in partitions:
            await consumer.position(tp)
        pipe.send("ready")
        seen, first = 0, 0.0
        while seen < count:
            fetched = await consumer.getmany(timeout_ms=100)
            got = sum(len(records) for records in fetched.values())
            if got and not seen:
                first = time.time()
            seen += got
        pipe.send((first, time.time()))
    finally:
        await consumer.stop()


def _consumer_process(kafka: KafkaConnection, topic: str, count: int, pipe: Connection) -> None:
    """The consumer in a process of its own, as every service is: it does not share a core
    (or the GIL) with the producer."""
    asyncio.run(_consume(kafka, topic, count, pipe))


async def _recv(pipe: Connection, timeout_s: float, what: str) -> Any:
    if not await asyncio.to_thread(pipe.poll, timeout_s):
        raise TimeoutError(f"kafka ceiling: the consumer did not {what} within {timeout_s:.0f}s")
    return pipe.recv()


async def kafka_ceiling(
    kafka: KafkaConnection, records: list[tuple[bytes, bytes]]
) -> dict[str, Any]:
    """Produce `records` to a fresh topic (the pipeline's partitions, producer settings of the
    ingest server) as fast as possible while one consumer reads them; rates from the first
    send to the last send acknowledged, and to the last record received."""
    topic = f"bench.ceiling.{uuid.uuid4().hex[:10]}"
    await asyncio.to_thread(ensure_topics, kafka, (Topic(topic, PARTITIONS, "bench"),))
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    consumer = context.Process(
        target=_consumer_process, args=(kafka, topic, len(records), theirs), daemon=True
    )
    consumer.start()
    try:
        await _recv(ours, 60, "get ready")
        producer = AIOKafkaProducer(**kafka.options(), acks="all", enable_idempotence=True)
        await producer.start()
        try:
            t0 = time.time()
            sends = [await producer.send(topic, key=k, value=v) for k, v in records]
            await asyncio.gather(*sends)
            produced = time.time()
        finally:
            await producer.stop()
        first, last = await _recv(ours, 600, "read every record")
    finally:
        if consumer.is_alive():
            consumer.terminate()
        consumer.join(10)
        admin = admin_client(kafka)
        try:
            await asyncio.to_thread(admin.delete_topics, [topic], 30_000)
        finally:
            admin.close()
    n = len(records)
    return {
        "kafka_messages": n,
        "kafka_produce_per_s": round(n / (produced - t0)),
        "kafka_end_to_end_per_s": round(n / (last - t0)),
        "kafka_consume_per_s": round(n / max(last - first, 1e-3)),
    }


async def postgres_ceiling(url: str, count: int, batch: int) -> dict[str, Any]:
    """COPY `count` rows shaped like the pipeline's decisions (sampled from its table) into a
    bare copy of that table, `batch` rows per transaction, as the ledger writes them."""
    table = f"bench_ceiling_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(url)
    try:
        sample = await conn.fetch(f"SELECT * FROM decisions LIMIT {SAMPLE_ROWS}")
        if not sample:
            raise RuntimeError("postgres ceiling: the pipeline wrote no decisions to sample")
        columns = list(sample[0].keys())
        rows = cycle([tuple(r) for r in sample])
        # No keys or indexes: the raw cost of getting the rows in, which is the point.
        await conn.execute(f"CREATE TABLE {table} (LIKE decisions INCLUDING DEFAULTS)")
        t0 = time.perf_counter()
        for start in range(0, count, batch):
            chunk = list(islice(rows, min(batch, count - start)))
            async with conn.transaction():
                await conn.copy_records_to_table(table, records=chunk, columns=columns)
        seconds = time.perf_counter() - t0
    finally:
        await conn.execute(f"DROP TABLE IF EXISTS {table}")
        await conn.close()
    return {
        "postgres_rows": count,
        "postgres_batch": batch,
        "postgres_rows_per_s": round(count / seconds),
    }
