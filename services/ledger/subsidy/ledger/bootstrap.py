"""The ledger's composition root: the worker, the relay and the query API."""

# All three built from their settings; their pools, consumer, producers and clock made, started and
# stopped here.

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import asyncpg
import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from subsidy.domain.catalog import Catalog
from subsidy.infra import records, topics
from subsidy.infra.db_roles import check_role
from subsidy.ledger.anchoring import Anchorer, AnchorLog
from subsidy.ledger.api_server import RunningApi, start_api
from subsidy.ledger.api_settings import LedgerApiSettings
from subsidy.ledger.db import WRITER
from subsidy.ledger.relay import Relay
from subsidy.ledger.settings import LedgerSettings
from subsidy.ledger.worker import Clock, LedgerWorker, utc_now

log = structlog.get_logger(__name__)


def entitlements_consumer(settings: LedgerSettings) -> AIOKafkaConsumer:
    """The worker's consumer: offsets committed by hand, only after the database commit."""
    return AIOKafkaConsumer(
        settings.input_topic,
        **settings.kafka.options(),
        group_id=settings.group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        max_poll_records=settings.batch_size,
    )


def idempotent_producer(settings: LedgerSettings) -> AIOKafkaProducer:
    """Idempotent and acks=all, so a retried send is neither lost nor duplicated by the broker."""
    return AIOKafkaProducer(**settings.kafka.options(), enable_idempotence=True, acks="all")


# The CloudEvents source of every record the ledger writes.
SOURCE = "/subsidy/ledger"


def record_writer(
    settings: LedgerSettings, producer: AIOKafkaProducer, kinds: dict[str, str]
) -> records.RecordWriter:
    """The producer as a writer of framed records to these topics, whose schema ids are looked
    up in the registry now (a ledger whose schemas are not registered does not start)."""
    framers = records.framers(settings.kafka_schema_registry_url, SOURCE, kinds)
    return records.RecordWriter(producer, framers)


@asynccontextmanager
async def ledger_worker(
    settings: LedgerSettings, catalog: Catalog, *, clock: Clock = utc_now
) -> AsyncIterator[LedgerWorker]:
    """A worker with its pool, its consumer and its dead-letter producer started; `run` it.
    On leaving, the consumer stops first (leaving its group), then the producer, then the pool."""
    async with AsyncExitStack() as stack:
        # One connection: the worker applies one batch at a time.
        pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=1)
        stack.push_async_callback(pool.close)
        async with pool.acquire() as conn:
            await check_role(conn, WRITER)  # never migrates; never as the tables' owner
        producer = idempotent_producer(settings)
        await producer.start()
        stack.push_async_callback(producer.stop)
        consumer = entitlements_consumer(settings)
        await consumer.start()
        stack.push_async_callback(consumer.stop)
        writer = record_writer(
            settings, producer, {settings.dead_letter_topic: topics.DEAD_LETTERS.name}
        )
        worker = LedgerWorker(
            settings, catalog, pool=pool, consumer=consumer, producer=writer, clock=clock
        )
        log.info("ledger.worker.started", topic=settings.input_topic, group=settings.group_id,
                 batch_size=settings.batch_size)  # fmt: skip
        try:
            yield worker
        finally:
            log.info("ledger.worker.stopped", **vars(worker.stats))


@asynccontextmanager
async def ledger_relay(settings: LedgerSettings) -> AsyncIterator[Relay]:
    """A relay with its connection (which holds the relay lock) and its producer started, its
    signing key loaded and its anchor log opened (both required: ValueError naming them)."""
    signer = settings.signer()
    if settings.anchor_file is None:
        raise ValueError("LEDGER_ANCHOR_FILE is required (the relay's anchor log)")
    async with AsyncExitStack() as stack:
        conn = await asyncpg.connect(settings.database_url)
        stack.push_async_callback(conn.close)
        await check_role(conn, WRITER)
        producer = idempotent_producer(settings)
        await producer.start()
        stack.push_async_callback(producer.stop)
        writer = record_writer(settings, producer, {
            settings.decisions_topic: topics.DECISIONS.name,
            settings.appeals_topic: topics.APPEALS.name,
            settings.anchor_topic: topics.LEDGER_ANCHORS.name,
        })  # fmt: skip
        anchorer = Anchorer(
            signer, AnchorLog(settings.anchor_file, writer, settings.anchor_topic),
            page_size=settings.anchor_page_size, round_hashes=settings.anchor_round_hashes,
            moved_max=settings.anchor_moved_max, sweep_seconds=settings.anchor_sweep_seconds,
        )  # fmt: skip
        relay = Relay(settings, conn, writer, signer, anchorer)
        try:
            yield relay
        finally:
            log.info("ledger.relay.stopped", published=relay.published)


@asynccontextmanager
async def ledger_api(
    settings: LedgerApiSettings, catalog: Catalog, grace: float = 5.0
) -> AsyncIterator[RunningApi]:
    """The query API serving (read-only pool, role checked: DatabaseRoleError otherwise); on
    leaving, in-flight calls get `grace` seconds, then the pool closes."""
    api = await start_api(settings, catalog)
    try:
        yield api
    finally:
        await api.stop(grace)
