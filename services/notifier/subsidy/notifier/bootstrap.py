"""The notifier's composition root: the worker and the admin API, built from the settings."""

# Their pool, HTTP session, senders, Kafka consumer and payout notices' poller are made, started and
# stopped here.

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import aiohttp
import asyncpg
import grpc
import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from subsidy.domain.catalog import Catalog
from subsidy.infra import records
from subsidy.infra.db_roles import check_role
from subsidy.infra.topics import DEAD_LETTERS
from subsidy.notifier.admin import start_admin_server
from subsidy.notifier.consumer import DecisionConsumer
from subsidy.notifier.delivery import DeliveryEngine, EmailSender, Sender, WebhookSender
from subsidy.notifier.notices import NoticePoller
from subsidy.notifier.repository import ROLE
from subsidy.notifier.settings import NotifierSettings
from subsidy.notifier.worker import NotifierWorker, new_worker_id

log = structlog.get_logger(__name__)

# The CloudEvents source of the records the notifier writes (its dead letters).
SOURCE = "/subsidy/notifier"


@asynccontextmanager
async def notifier_pool(settings: NotifierSettings) -> AsyncIterator[asyncpg.Pool]:
    """A connection pool sized for the delivery tasks, its schema and role checked
    (DatabaseRoleError otherwise: the notifier never migrates)."""
    pool = await asyncpg.create_pool(
        settings.database_url, min_size=1, max_size=min(settings.concurrency, 16) + 2
    )
    try:
        async with pool.acquire() as conn:
            await check_role(conn, ROLE)
        yield pool
    finally:
        await pool.close()


def http_session(settings: NotifierSettings) -> aiohttp.ClientSession:
    """The webhooks' session: no cookies (every POST is independent) and no proxy from the
    environment."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=settings.concurrency),
        cookie_jar=aiohttp.DummyCookieJar(),
        trust_env=False,
    )


def decisions_consumer(settings: NotifierSettings, client_id: str) -> AIOKafkaConsumer:
    """The group member reading decisions.v1 and appeals.v1; offsets committed by hand after
    planning."""
    return AIOKafkaConsumer(
        settings.topic,
        settings.appeals_topic,
        **settings.kafka.options(),
        group_id=settings.group_id,
        client_id=client_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        # The ledger may publish from a transactional outbox relay: never act on a decision
        # whose transaction was aborted.
        isolation_level="read_committed",
    )


@asynccontextmanager
async def notifier_worker(
    settings: NotifierSettings, catalog: Catalog, *, worker_id: str | None = None
) -> AsyncIterator[NotifierWorker]:
    """A worker with its pool, HTTP session, consumer and dead-letter producer started, and
    the ledger's public key loaded (required: ValueError naming it); `run` it."""
    worker = worker_id or new_worker_id()
    verifier = settings.ledger_verifier()
    async with AsyncExitStack() as stack:
        pool = await stack.enter_async_context(notifier_pool(settings))
        session = await stack.enter_async_context(http_session(settings))
        senders: dict[str, Sender] = {
            "webhook": WebhookSender(session, settings),
            "email": EmailSender(settings),
        }
        engine = DeliveryEngine(pool, settings, senders, worker)
        letters = records.framers(
            settings.kafka_schema_registry_url, SOURCE,
            {settings.dead_letter_topic: DEAD_LETTERS.name},
        )  # fmt: skip
        producer = AIOKafkaProducer(**settings.kafka.options(), enable_idempotence=True, acks="all")
        await producer.start()
        stack.push_async_callback(producer.stop)
        kafka = decisions_consumer(settings, worker)
        await kafka.start()
        stack.push_async_callback(kafka.stop)
        consumer = DecisionConsumer(
            settings, pool, catalog, engine.kick, kafka, verifier=verifier,
            producer=records.RecordWriter(producer, letters),
        )  # fmt: skip
        log.info("notifier.started", worker=worker, topic=settings.topic,
                 appeals_topic=settings.appeals_topic, group=settings.group_id)  # fmt: skip
        try:
            yield NotifierWorker(
                consumer, engine, worker, NoticePoller(settings, pool, engine.kick)
            )
        finally:
            log.info("notifier.stopped", worker=worker)


@asynccontextmanager
async def admin_server(
    settings: NotifierSettings,
    catalog: Catalog,
    address: str | None = None,
    grace: float | None = 5.0,
) -> AsyncIterator[tuple[grpc.aio.Server, int]]:
    """The admin API serving on its own pool; the server and its bound port. On leaving,
    in-flight calls get `grace` seconds (None: cancelled at once)."""
    async with notifier_pool(settings) as pool:
        server, port = await start_admin_server(pool, settings, catalog, address)
        try:
            yield server, port
        finally:
            await server.stop(grace)
