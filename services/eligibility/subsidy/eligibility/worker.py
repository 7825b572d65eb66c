"""The faust worker: enterprise-events.v1 → an Evaluation on entitlements.v1, or a DeadLetter."""

import asyncio
import contextlib
import os
import tempfile
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import faust
import structlog
from aiokafka import AIOKafkaProducer

from subsidy.domain.catalog import Catalog
from subsidy.eligibility.handler import Incoming, OutgoingRecord, handle_message
from subsidy.eligibility.metrics import PROCESSING_SECONDS, observe
from subsidy.eligibility.offsets import OffsetGuard
from subsidy.eligibility.settings import EligibilitySettings
from subsidy.infra import records, retries, topics

log = structlog.get_logger(__name__)

AGENT_NAME = "subsidy.eligibility.evaluate"
# Publishing is retried (never skipped) while the broker refuses it: the message stays unacked
# so its offset is not committed, and nothing after it is acked (see _Window).
PUBLISH_RETRY = retries.BROKER_SEND
# How often acknowledged sends are acked while the input is idle (see _Window.drain_idle).
IDLE_DRAIN_S = 0.1
# How long a stopping agent lets its producer flush; the rest is redelivered anyway.
PRODUCER_STOP_S = 2.0
# Exit status when the shutdown deadline forced the exit (EX_TEMPFAIL: try again).
EXIT_SHUTDOWN_TIMEOUT = 75


def _raw_topic(app: faust.App, name: str) -> faust.TopicT:
    """A topic whose keys and values are bytes, untouched by faust's codecs: bad bytes must
    reach our handler (and the dead-letter topic), not fail inside faust."""
    return app.topic(
        name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )


def _app_options(settings: EligibilitySettings) -> dict[str, Any]:
    """faust's settings for this worker (those that differ from faust's defaults, and why)."""
    return {
        # The broker URLs and this worker's login (SASL over TLS unless configured otherwise).
        **settings.kafka.faust(),
        # No tables: nothing to store, nothing to recover on start.
        "store": "memory://",
        "autodiscover": False,
        # faust writes its data directory even with the memory store; keep it out of the
        # checkout.
        "datadir": Path(tempfile.gettempdir()) / f"subsidy-{settings.group_id}-faust",
        "web_enabled": False,
        "web_bind": "127.0.0.1",
        "web_host": "127.0.0.1",
        # Topics are created by `subsidy dev up` / operations, not by the worker; no leader
        # election topic since nothing here runs "on_leader".
        "topic_allow_declare": False,
        "topic_disable_leader": True,
        "consumer_auto_offset_reset": "earliest",
        # faust's default is 2.8 s. The ingest admits bulk feeds by the committed lag
        # (docs/scaling.md, "Live before bulk"): work done but not committed counts as backlog
        # and would hold bulk back for nothing. A commit is one small request.
        "broker_commit_interval": 0.5,
        "producer_acks": -1,
        # faust's default is 20 min; a send the broker cannot take should surface (and be
        # retried by the agent, see PUBLISH_RETRY) rather than hang silently.
        "producer_request_timeout": 30.0,
        # faust's default is 60 s. A worker that died without leaving the group (SIGKILL, OOM,
        # node loss) holds up the rebalance its successor starts until this runs out, and the
        # whole group consumes nothing meanwhile. 10 s is aiokafka's default, as the ledger
        # and the notifier use; heartbeats still go every 3 s.
        "broker_session_timeout": 10.0,
        # On stop, commit what is acked and go: faust's default (True) waits in `wait_empty`
        # for every in-flight message to be acked, which never happens while a publish is
        # failing, so SIGTERM would hang until killed. An unacked message is simply
        # redelivered.
        "stream_wait_empty": False,
        "worker_redirect_stdouts": False,
    }


@contextlib.asynccontextmanager
async def publishing(
    settings: EligibilitySettings, ack: Callable[[faust.EventT[bytes]], Awaitable[Any]]
) -> AsyncIterator["_Window"]:
    """The agent's publishing window, with its own producer started and its idle drain
    running; on leaving, the producer gets PRODUCER_STOP_S to flush."""
    producer = _producer(settings)
    await producer.start()
    window = _Window(producer, ack, settings.publish_window)
    drainer = asyncio.create_task(window.drain_idle())
    try:
        yield window
    finally:
        drainer.cancel()
        # Unacked events are redelivered, so a flush that does not finish in time (a
        # publish that is failing) is simply abandoned.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(producer.stop(), PRODUCER_STOP_S)


# The CloudEvents source of every record this worker writes.
SOURCE = "/subsidy/eligibility"


def create_app(settings: EligibilitySettings, catalog: Catalog) -> faust.App:
    """The faust app with its one agent, configured from settings (tests pass unique topics)."""
    app = faust.App(settings.group_id, **_app_options(settings))
    source = _raw_topic(app, settings.input_topic)
    # Looked up once, here: a worker whose topics' schemas are not registered does not start.
    framers = records.framers(settings.kafka_schema_registry_url, SOURCE, {
        settings.output_topic: topics.ENTITLEMENTS.name,
        settings.dead_letter_topic: topics.DEAD_LETTERS.name,
    })  # fmt: skip

    # seek_wait, not seek: faust's consumer runs in a thread of its own; looked up at each
    # seek because the consumer exists only once the app has started.
    guard = OffsetGuard(lambda offsets: app.consumer.seek_wait(offsets))

    @app.on_partitions_assigned.connect
    async def _assigned(sender: Any, /, *args: Any, signal: Any, **_: Any) -> None:
        # faust sends the new assignment, the set of partitions, as the first argument.
        guard.assigned(args[0])

    # concurrency=1 (the default): one stream, its events acked strictly in the order they
    # came, so the committed offset can never pass a message whose output is still in flight.
    @app.agent(source, name=AGENT_NAME)
    async def evaluate_events(stream: faust.StreamT[bytes]) -> None:
        manual = _manual_acks(stream)
        async with publishing(settings, manual.ack) as window:
            # Batches: the records of a batch go to the producer together and the window is
            # drained once per batch, not once per event. noack_take leaves the acks to the
            # window (faust's take would ack a batch as soon as the loop body is left, even
            # by a cancellation before the broker has the output).
            async for taken in manual.noack_take(settings.batch_size, settings.batch_wait_s):
                # faust types the batch as values; noack_take yields the events themselves.
                events = await guard.admit(cast("list[faust.EventT[bytes]]", taken))
                started = time.perf_counter()
                outcomes = [
                    handle_message(_incoming(event.message), catalog,
                                   output_topic=settings.output_topic,
                                   dead_letter_topic=settings.dead_letter_topic,
                                   framers=framers)
                    for event in events
                ]  # fmt: skip
                await window.submit(list(zip(events, outcomes, strict=True)), started)

    return app


def _incoming(message: faust.types.Message) -> Incoming:
    """A consumed record as the handler takes it."""
    return Incoming(message.topic, message.partition, message.offset, message.key, message.value)


def _producer(settings: EligibilitySettings) -> AIOKafkaProducer:
    """Our own producer, not faust's: faust enables idempotence only for transactions, and
    the window below relies on it (see _Window)."""
    return AIOKafkaProducer(
        **settings.kafka.options(),
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        # An evaluation is 1-2 KiB; aiokafka's default batch (16 KiB) held a dozen, so a busy
        # worker sent a produce request every few events and spent a quarter of its time in
        # socket writes. A window's worth per partition fits in 256 KiB.
        max_batch_size=256 * 1024,
        # A send the broker cannot take surfaces after 30 s (and is retried, PUBLISH_RETRY)
        # rather than hanging silently.
        request_timeout_ms=30_000,
    )


def _manual_acks(stream: faust.StreamT[bytes]) -> "faust.Stream[bytes]":
    """The stream with acks left to us. faust acks an event as soon as the loop body is left,
    even by an exception or a cancellation (SIGTERM mid-send); we ack only once the broker
    has the output. (Agents are always given a concrete Stream.)"""
    return cast("faust.Stream[bytes]", cast("faust.Stream[bytes]", stream).noack())


@dataclass
class _InFlight:
    """An event whose output was sent and is not acked yet."""

    event: faust.EventT[bytes]
    outcome: OutgoingRecord
    started: float
    sent: "asyncio.Future[Any]"


class _Window:
    """Up to `size` outputs in flight at once; their input events acked strictly in order.

    Each output is queued in the producer (which batches) and its event acked only once the
    broker acknowledged it (acks=all) and every earlier one. When a send fails, acking stops,
    every send in flight is let settle, and the failed output and all after it are sent again
    one at a time, in order, each retried with backoff until acknowledged, then acked.

    Order per key survives this because the producer is idempotent: a record queued after a
    failed one for the same partition is refused by the broker (sequence gap), so it cannot
    be written ahead of the failed one, and it is sent again after it. Outputs of the window
    that did reach other partitions are written a second time; that is harmless, the ledger's
    inbox drops duplicates (same event id and hash), as it does for any redelivery.
    """

    def __init__(
        self,
        producer: AIOKafkaProducer,
        ack: Callable[[faust.EventT[bytes]], Awaitable[Any]],
        size: int,
    ) -> None:
        self._producer = producer
        self._ack = ack
        self._size = size
        self._pending: deque[_InFlight] = deque()
        # Sending, acking and resending are one critical section: nothing is sent while a
        # failure is being repaired, so the resent outputs keep their place.
        self._lock = asyncio.Lock()

    async def submit(
        self, batch: list[tuple[faust.EventT[bytes], OutgoingRecord]], started: float
    ) -> None:
        """Send the outputs of a batch of events, waiting whenever the window is full."""
        async with self._lock:
            for event, outcome in batch:
                while len(self._pending) >= self._size:
                    await asyncio.wait([self._pending[0].sent])
                    await self._drain()
                sent = await self._send(outcome)
                self._pending.append(_InFlight(event, outcome, started, sent))
            await self._drain()

    async def drain_idle(self) -> None:
        """Ack what was acknowledged (or repair a failure) while no new event arrives, so the
        committed offsets do not wait for the next message."""
        while True:
            await asyncio.sleep(IDLE_DRAIN_S)
            if self._pending and self._pending[0].sent.done() and not self._lock.locked():
                async with self._lock:
                    await self._drain()

    async def _send(self, outcome: OutgoingRecord) -> "asyncio.Future[Any]":
        """Queue the record in the producer; the future is the broker's acknowledgement."""
        try:
            sent: asyncio.Future[Any] = await self._producer.send(
                outcome.topic, outcome.value, key=outcome.key, headers=outcome.headers
            )
            return sent
        except Exception as exc:  # e.g. no metadata for the topic: fails like a send would
            failed: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            failed.set_exception(exc)
            return failed

    async def _drain(self) -> None:
        """Ack the leading run of acknowledged sends; repair the first failed one."""
        while self._pending and self._pending[0].sent.done():
            if _failed(self._pending[0].sent):
                await self._repair()
                return
            await self._acked(self._pending.popleft())

    async def _repair(self) -> None:
        in_flight = list(self._pending)
        self._pending.clear()
        await asyncio.wait([f.sent for f in in_flight])
        first = next(i for i, f in enumerate(in_flight) if _failed(f.sent))
        for done in in_flight[:first]:
            await self._acked(done)
        error: BaseException | None = _error(in_flight[first].sent)
        log.warning("eligibility.publish_window_failed", resending=len(in_flight) - first,
                    error=repr(error))  # fmt: skip
        for again in in_flight[first:]:
            await _publish_until_acked(self._producer, again.outcome, error)
            error = None
            await self._acked(again)

    async def _acked(self, done: _InFlight) -> None:
        await self._ack(done.event)
        observe(done.outcome)
        PROCESSING_SECONDS.observe(time.perf_counter() - done.started)


def _failed(sent: "asyncio.Future[Any]") -> bool:
    return sent.cancelled() or sent.exception() is not None


def _error(sent: "asyncio.Future[Any]") -> BaseException | None:
    return asyncio.CancelledError() if sent.cancelled() else sent.exception()


async def _publish_until_acked(
    producer: AIOKafkaProducer, outcome: OutgoingRecord, failure: BaseException | None = None
) -> None:
    """Send and wait for the broker's acknowledgement (acks=all), retrying under PUBLISH_RETRY
    until it comes; `failure` is that of an earlier attempt, counted as the first (so this one
    waits its backoff first)."""
    earlier = [failure] if failure is not None else []
    async for attempt in PUBLISH_RETRY.attempts_async(
        (Exception,), event="eligibility.publish_failed", topic=outcome.topic
    ):
        with attempt:
            if earlier:
                raise earlier.pop()
            # send() only queues the record and returns a future: the broker's acknowledgement.
            await (
                await producer.send(
                    outcome.topic, outcome.value, key=outcome.key, headers=outcome.headers
                )
            )


class DeadlineWorker(faust.Worker):
    """faust's worker with a hard deadline on shutdown.

    mode's signal handlers stop the app, then gather every task; a service that does not stop
    (mode waits up to 60 s per service) would keep the process alive past any orchestrator's
    grace period. After the deadline the process exits anyway: nothing is lost, because an
    offset is only committed once its output was acknowledged, so whatever was in flight is
    redelivered to the next worker.
    """

    shutdown_deadline: float = 8.0

    def _on_sigterm(self) -> None:
        self._arm_deadline()
        super()._on_sigterm()

    def _on_sigint(self) -> None:
        self._arm_deadline()
        super()._on_sigint()

    def _arm_deadline(self) -> None:
        if getattr(self, "_deadline", None) is None:
            self._deadline = threading.Timer(self.shutdown_deadline, _exit_now,
                                              args=(self.shutdown_deadline,))  # fmt: skip
            self._deadline.daemon = True
            self._deadline.start()


def _exit_now(deadline: float) -> None:
    log.error("eligibility.shutdown_deadline_exceeded", deadline_s=deadline)
    os._exit(EXIT_SHUTDOWN_TIMEOUT)
