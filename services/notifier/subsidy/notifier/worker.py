"""The notifier worker: decisions consumer, payout notices' poller, delivery engine in one."""

import asyncio
import os
import socket
import uuid

import structlog

from subsidy.notifier.consumer import DecisionConsumer
from subsidy.notifier.delivery import DeliveryEngine
from subsidy.notifier.notices import NoticePoller

log = structlog.get_logger(__name__)


def new_worker_id() -> str:
    """Unique per process start: a lease names its holder, and a restarted notifier must not
    mistake its predecessor's leases for its own."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


class NotifierWorker:
    """Its parts, built and started by `subsidy.notifier.bootstrap`: planning what consumed
    decisions and payout notices need, and delivering it."""

    def __init__(
        self,
        consumer: DecisionConsumer,
        engine: DeliveryEngine,
        worker_id: str,
        notices: NoticePoller,
    ) -> None:
        self.consumer = consumer
        self.engine = engine
        self.worker_id = worker_id
        self.notices = notices

    async def run(self, stop: asyncio.Event) -> None:
        """Consume, poll and deliver until `stop` is set (or a part fails, which stops all)."""
        halt = asyncio.Event()

        async def until_stopped() -> None:
            await stop.wait()
            halt.set()

        watcher = asyncio.create_task(until_stopped())
        tasks = [
            asyncio.create_task(self.consumer.run(halt), name="notifier-consumer"),
            asyncio.create_task(self.notices.run(halt), name="notifier-payout-notices"),
            asyncio.create_task(self.engine.run(halt), name="notifier-delivery"),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            if not halt.is_set():
                # One part failed: stop the others cleanly, then surface the error.
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
