"""The notifier worker: the decisions consumer and the delivery engine in one process."""

import asyncio
import os
import socket
import uuid

import aiohttp
import asyncpg
import structlog

from subsidy.domain.catalog import Catalog, load_catalog
from subsidy.notifier.consumer import DecisionConsumer
from subsidy.notifier.delivery import DeliveryEngine, EmailSender, Sender, WebhookSender
from subsidy.notifier.repository import migrate_notifier
from subsidy.notifier.settings import NotifierSettings

log = structlog.get_logger(__name__)


def new_worker_id() -> str:
    """Unique per process start: a lease names its holder, and a restarted notifier must not
    mistake its predecessor's leases for its own."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


async def create_pool(settings: NotifierSettings) -> asyncpg.Pool:
    """A connection pool sized for the delivery tasks, with the schema migrated."""
    pool = await asyncpg.create_pool(
        settings.database_url, min_size=1, max_size=min(settings.concurrency, 16) + 2
    )
    async with pool.acquire() as conn:
        await migrate_notifier(conn)
    return pool


async def run_worker(
    settings: NotifierSettings,
    stop: asyncio.Event,
    *,
    catalog: Catalog | None = None,
    worker_id: str | None = None,
) -> None:
    """Consume and deliver until `stop` is set (or either half fails, which stops both)."""
    catalog = catalog or load_catalog()
    worker = worker_id or new_worker_id()
    pool = await create_pool(settings)
    try:
        # No cookies (every POST is independent) and no proxy from the environment.
        connector = aiohttp.TCPConnector(limit=settings.concurrency)
        async with aiohttp.ClientSession(
            connector=connector, cookie_jar=aiohttp.DummyCookieJar(), trust_env=False
        ) as session:
            senders: dict[str, Sender] = {
                "webhook": WebhookSender(session, settings),
                "email": EmailSender(settings),
            }
            engine = DeliveryEngine(pool, settings, senders, worker)
            consumer = DecisionConsumer(settings, pool, catalog, engine.kick, worker)
            log.info("notifier.started", worker=worker, topic=settings.topic,
                     group=settings.group_id)  # fmt: skip
            halt = asyncio.Event()

            async def until_stopped() -> None:
                await stop.wait()
                halt.set()

            watcher = asyncio.create_task(until_stopped())
            tasks = [
                asyncio.create_task(consumer.run(halt), name="notifier-consumer"),
                asyncio.create_task(engine.run(halt), name="notifier-delivery"),
            ]
            try:
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
                if not halt.is_set():
                    # One half failed: stop the other cleanly, then surface the error.
                    halt.set()
                await asyncio.gather(*tasks, return_exceptions=True)
                for task in done:
                    error = None if task.cancelled() else task.exception()
                    if error is not None:
                        raise error
            finally:
                watcher.cancel()
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        await pool.close()
        log.info("notifier.stopped", worker=worker)
