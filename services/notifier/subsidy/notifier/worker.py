"""The notifier worker: the decisions consumer and the delivery engine in one process."""

import asyncio
import os
import socket
import uuid

import structlog

from subsidy.notifier.consumer import DecisionConsumer
from subsidy.notifier.delivery import DeliveryEngine

log = structlog.get_logger(__name__)


def new_worker_id() -> str:
    """Unique per process start: a lease names its holder, and a restarted notifier must not
    mistake its predecessor's leases for its own."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


class NotifierWorker:
    """The two halves, built and started by `subsidy.notifier.bootstrap`: planning what
    consumed decisions need, and delivering it."""

    def __init__(self, consumer: DecisionConsumer, engine: DeliveryEngine, worker_id: str) -> None:
        self.consumer = consumer
        self.engine = engine
        self.worker_id = worker_id

    async def run(self, stop: asyncio.Event) -> None:
        """Consume and deliver until `stop` is set (or either half fails, which stops both)."""
        halt = asyncio.Event()

        async def until_stopped() -> None:
            await stop.wait()
            halt.set()

        watcher = asyncio.create_task(until_stopped())
        tasks = [
            asyncio.create_task(self.consumer.run(halt), name="notifier-consumer"),
            asyncio.create_task(self.engine.run(halt), name="notifier-delivery"),
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
