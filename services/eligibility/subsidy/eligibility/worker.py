"""The faust worker: enterprise-events.v1 → an Evaluation on entitlements.v1, or a DeadLetter."""

import asyncio
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import cast

import faust
import structlog

from subsidy.domain.catalog import Catalog
from subsidy.eligibility.handler import Incoming, handle_message
from subsidy.eligibility.metrics import PROCESSING_SECONDS, observe
from subsidy.eligibility.settings import EligibilitySettings

log = structlog.get_logger(__name__)

AGENT_NAME = "subsidy.eligibility.evaluate"
# Publishing is retried (never skipped) while the broker refuses it: the message stays unacked
# so its offset is not committed, and nothing after it is processed.
RETRY_BACKOFF_S = (0.5, 1.0, 2.0, 5.0)
# Exit status when the shutdown deadline forced the exit (EX_TEMPFAIL: try again).
EXIT_SHUTDOWN_TIMEOUT = 75


def _raw_topic(app: faust.App, name: str) -> faust.TopicT:
    """A topic whose keys and values are bytes, untouched by faust's codecs: bad bytes must
    reach our handler (and the dead-letter topic), not fail inside faust."""
    return app.topic(
        name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )


def create_app(settings: EligibilitySettings, catalog: Catalog) -> faust.App:
    """The faust app with its one agent, configured from settings (tests pass unique topics)."""
    app = faust.App(
        settings.group_id,
        broker=settings.kafka_urls,
        # No tables: nothing to store, nothing to recover on start.
        store="memory://",
        autodiscover=False,
        # faust writes its data directory even with the memory store; keep it out of the
        # checkout.
        datadir=Path(tempfile.gettempdir()) / f"subsidy-{settings.group_id}-faust",
        web_enabled=False,
        web_bind="127.0.0.1",
        web_host="127.0.0.1",
        # Topics are created by `subsidy dev up` / operations, not by the worker; no leader
        # election topic since nothing here runs "on_leader".
        topic_allow_declare=False,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        # faust's default is 20 min; a send the broker cannot take should surface (and be
        # retried by the agent, see RETRY_BACKOFF_S) rather than hang silently.
        producer_request_timeout=30.0,
        # On stop, commit what is acked and go: faust's default (True) waits in `wait_empty`
        # for every in-flight message to be acked, which never happens while a publish is
        # failing, so SIGTERM hung until killed. An unacked message is simply redelivered.
        stream_wait_empty=False,
        worker_redirect_stdouts=False,
    )
    source = _raw_topic(app, settings.input_topic)
    sinks = {
        settings.output_topic: _raw_topic(app, settings.output_topic),
        settings.dead_letter_topic: _raw_topic(app, settings.dead_letter_topic),
    }

    # concurrency=1 (the default): one message at a time, so the committed offset can never
    # pass a message that is still in flight.
    @app.agent(source, name=AGENT_NAME)
    async def evaluate_events(stream: faust.StreamT[bytes]) -> None:
        manual = _manual_acks(stream)
        async for event in manual.events():
            started = time.perf_counter()
            message = event.message
            outcome = handle_message(
                Incoming(message.topic, message.partition, message.offset,
                         message.key, message.value),
                catalog,
                output_topic=settings.output_topic,
                dead_letter_topic=settings.dead_letter_topic,
            )  # fmt: skip
            await _publish_until_acked(sinks[outcome.topic], outcome.key, outcome.value)
            await manual.ack(event)
            observe(outcome)
            PROCESSING_SECONDS.observe(time.perf_counter() - started)

    return app


def _manual_acks(stream: faust.StreamT[bytes]) -> "faust.Stream[bytes]":
    """The stream with acks left to us. faust acks an event as soon as the loop body is left,
    even by an exception or a cancellation (SIGTERM mid-send); we ack only once the broker
    has the output. (Agents are always given a concrete Stream.)"""
    return cast("faust.Stream[bytes]", cast("faust.Stream[bytes]", stream).noack())


async def _publish_until_acked(topic: faust.TopicT, key: bytes | None, value: bytes) -> None:
    """Send and wait for the broker's acknowledgement (acks=all), retrying with backoff."""
    attempt = 0
    while True:
        try:
            # topic.send() only queues the record in the producer and returns a future; the
            # second await is the broker's acknowledgement.
            pending = await topic.send(key=key, value=value)
            await pending
            return
        except Exception as exc:
            delay = RETRY_BACKOFF_S[min(attempt, len(RETRY_BACKOFF_S) - 1)]
            attempt += 1
            log.error("eligibility.publish_failed", topic=topic.get_topic_name(),
                      attempt=attempt, retry_in_s=delay, error=repr(exc))  # fmt: skip
            await asyncio.sleep(delay)


class _Worker(faust.Worker):
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


def run_worker(settings: EligibilitySettings, catalog: Catalog) -> None:
    """Run the worker in this process until SIGTERM/SIGINT; exits the process (0 when it
    stopped cleanly)."""
    app = create_app(settings, catalog)
    worker = _Worker(
        app,
        loglevel=settings.log_level,
        # No banner or spinner on stdout; logging is already set up by subsidy.infra.logging
        # and faust logs through stdlib.
        quiet=True,
        redirect_stdouts=False,
        override_logging=False,
    )
    worker.shutdown_deadline = settings.shutdown_timeout
    worker.execute_from_commandline()
