"""The ledger worker: entitlements.v1 in, batches committed exactly once in PostgreSQL."""

# Each batch is decided, then committed.
#
# Why aiokafka and not faust: exactly-once here comes from the database, not from Kafka. A batch is
# applied in one PostgreSQL transaction that also records every event id in the inbox, and only
# after that commit are the Kafka offsets committed; a redelivery (crash, rebalance) finds its
# events in the inbox and changes nothing. That needs explicit control over what is fetched
# (`getmany` batches across partitions) and over when, and which, offsets are committed. Faust acks
# and commits offsets on its own schedule and runs at-least-once anyway, and its tables and agents
# would add nothing we use; aiokafka gives that control with less machinery.

import asyncio
import os
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError
from google.protobuf.message import DecodeError

from subsidy.contract.codec import evaluation_from_proto, provenance_json, provenance_of
from subsidy.decisions.v1 import decisions_pb2 as dpb
from subsidy.domain.catalog import Catalog
from subsidy.domain.events import InvalidEvent
from subsidy.domain.recheck import PolicyMismatch, recheck
from subsidy.infra.dead_letters import dead_letter, letter_id
from subsidy.infra.postgres import TRANSIENT_ERRORS
from subsidy.infra.records import RecordWriter, unframe
from subsidy.infra.retries import DATABASE_TRANSACTION
from subsidy.ledger import metrics, parking
from subsidy.ledger.batch_writer import Source
from subsidy.ledger.processor import Message, PreparedBatch, apply_batch
from subsidy.ledger.repository import BookCache
from subsidy.ledger.settings import LedgerSettings

log = structlog.get_logger(__name__)

STAGE = "ledger"

Clock = Callable[[], datetime]
ApplyBatch = Callable[
    [asyncpg.Connection, list[Message], BookCache, Catalog], Awaitable[PreparedBatch]
]


def utc_now() -> datetime:
    """The wall clock, in UTC."""
    return datetime.now(UTC)


class Undecodable(ValueError):
    """A record that is not a usable Evaluation; it goes to the dead-letter topic."""

    def __init__(self, error: str, event_id: str = "") -> None:
        super().__init__(error)
        self.event_id = event_id


def decode(record: ConsumerRecord[bytes, bytes], catalog: Catalog) -> Message:
    """An entitlements.v1 record as a Message; raises Undecodable for anything unusable,
    including an evaluation that does not follow from the event under the ledger's policy."""
    if record.value is None:
        raise Undecodable("no value (tombstone)")
    try:
        proto = dpb.Evaluation.FromString(unframe(record.value)[1])
    except ValueError as err:
        raise Undecodable(str(err)) from None
    except DecodeError as err:
        raise Undecodable(f"undecodable protobuf: {err}") from None
    # Each entitlement's bytes as received, stored as they are (eligibility's trace included);
    # the book holds them without the trace, which it never reads and which is most of an
    # entitlement's memory (a cached book lives long) and of its decoding.
    encoded = {e.entitlement_id: e.SerializeToString() for e in proto.entitlements}
    for e in proto.entitlements:
        e.ClearField("trace")
    try:
        evaluation, payload_hash = evaluation_from_proto(proto)
    except InvalidEvent as err:
        raise Undecodable(f"invalid event: {err}", proto.event.event_id) from None
    except (ValueError, KeyError) as err:  # unknown enum value, malformed date in an entitlement
        raise Undecodable(f"invalid entitlement: {err!r}", proto.event.event_id) from None
    event = evaluation.event
    # The hash is the event's identity for repeats and corrections: the ledger trusts no hash
    # a Kafka writer states, it computes it.
    if payload_hash != event.content_hash():
        raise Undecodable("event_hash: not the hash of the event's content", event.event_id)
    strays = [
        e.entitlement_id
        for e in evaluation.entitlements
        if e.enterprise_id != event.enterprise_id or e.event_id != event.event_id
    ]
    if strays:
        raise Undecodable(f"entitlements of another event or enterprise: {strays}", event.event_id)
    try:
        recheck(evaluation, catalog)
    except PolicyMismatch as err:
        metrics.POLICY_REFUSED.inc()
        raise Undecodable(f"not what the ledger's policy gives: {err}", event.event_id) from None
    submitted_by = provenance_json(provenance_of(proto.event))
    return Message(
        evaluation,
        payload_hash,
        Source(record.topic, record.partition, record.offset, submitted_by),
        encoded,
    )


@dataclass
class WorkerStats:
    """Running totals, for tests and logs."""

    batches: int = 0
    messages: int = 0
    applied: int = 0
    duplicates: int = 0
    conflicts: int = 0
    rejected: int = 0
    dead_letters: int = 0
    retries: int = 0
    parked: int = 0
    expired: int = 0


class LedgerWorker:
    """Consumes entitlements.v1 in batches; the guarantees are in the comment at the top.

    It is given its pool, consumer and producer already started (`subsidy.ledger.bootstrap`
    builds, starts and stops them), and the clock that decides when a parked review expired."""

    def __init__(
        self,
        settings: LedgerSettings,
        catalog: Catalog,
        *,
        pool: asyncpg.Pool,
        consumer: AIOKafkaConsumer,
        producer: RecordWriter,
        clock: Clock = utc_now,
        apply: ApplyBatch = apply_batch,
    ) -> None:
        self.settings = settings
        self.catalog = catalog
        self.cache = BookCache(settings.book_cache_size, settings.book_cache_records)
        self.stats = WorkerStats()
        self._pool = pool
        self._consumer = consumer
        self._producer = producer
        self._clock = clock
        self._apply = apply

    @property
    def assignment(self) -> set[TopicPartition]:
        """The partitions this worker holds now (empty before it joined its group)."""
        return set(self._consumer.assignment())

    async def run(self, stop: asyncio.Event) -> None:
        """Process batches until `stop` is set; the batch in hand is finished first."""
        next_sweep = 0.0
        while not stop.is_set():
            fetched = await self._consumer.getmany(
                timeout_ms=self.settings.batch_wait_ms, max_records=self.settings.batch_size
            )
            records = [r for tp_records in fetched.values() for r in tp_records]
            if records:
                await self.handle(records)
            if time.monotonic() >= next_sweep:
                await self.expire_parked()
                next_sweep = time.monotonic() + self.settings.park_sweep_seconds

    async def expire_parked(self) -> None:
        """Reject the reviews that waited longer than the parking time for their event."""
        ttl = timedelta(days=self.settings.park_ttl_days)
        try:
            async with self._pool.acquire() as conn:
                while expired := await parking.expire(conn, ttl, self._clock()):
                    self.cache.drop({r.enterprise_id for r in expired})
                    metrics.PARKED.labels("expired").inc(len(expired))
                    self.stats.expired += len(expired)
                    log.warning("ledger.parked.expired", reviews=[r.event_id for r in expired])
                    if len(expired) < parking.SWEEP_BATCH:
                        break
        except TRANSIENT_ERRORS as err:  # the next sweep tries again
            log.warning("ledger.parked.sweep_failed", error=repr(err))

    async def handle(self, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        """One fetched batch: decide and commit it in PostgreSQL, set aside what cannot be
        read, then commit the offsets."""
        messages: list[Message] = []
        dead: list[tuple[ConsumerRecord[bytes, bytes], Undecodable]] = []
        for record in records:
            try:
                messages.append(decode(record, self.catalog))
            except Undecodable as err:
                dead.append((record, err))
        if messages:
            await self.commit_batch(messages)
        if self.settings.crash_after_db_commit:
            # Fault injection (tests): die between the database commit and the offset commit.
            os.kill(os.getpid(), signal.SIGKILL)
        if dead:
            await self._dead_letter(dead)
        await self._commit_offsets(records)

    async def commit_batch(self, messages: list[Message]) -> None:
        """Decide the messages in one transaction, again while the database's trouble is
        transient (see TRANSIENT_ERRORS), under the DATABASE_TRANSACTION retry policy."""
        enterprises = {m.enterprise_id for m in messages}

        def retried(err: BaseException) -> None:
            metrics.RETRIES.labels(type(err).__name__).inc()
            self.stats.retries += 1

        async for attempt in DATABASE_TRANSACTION.attempts_async(
            TRANSIENT_ERRORS, on_failure=retried, event="ledger.batch.retry"
        ):
            with attempt:
                started = time.perf_counter()
                try:
                    async with self._pool.acquire() as conn, conn.transaction():
                        prepared: PreparedBatch = await self._apply(
                            conn, messages, self.cache, self.catalog
                        )
                except BaseException:
                    # The books may have been changed in memory by the rolled-back attempt.
                    self.cache.drop(enterprises)
                    raise
        prepared.committed(self.cache)
        self._count(prepared, time.perf_counter() - started)

    def _count(self, prepared: PreparedBatch, seconds: float) -> None:
        report = prepared.report
        metrics.observe_batch(report, seconds)
        metrics.observe_cache(len(self.cache), self.cache.held, self.cache.drain_tally())
        st = self.stats
        st.batches += 1
        st.messages += report.messages
        st.applied += report.applied
        st.duplicates += report.duplicates
        st.conflicts += report.conflicts
        st.rejected += report.rejected
        st.parked += report.parked
        log.debug(
            "ledger.batch.committed",
            messages=report.messages,
            applied=report.applied,
            duplicates=report.duplicates,
            conflicts=report.conflicts,
            rejected=report.rejected,
            parked=report.parked,
            seconds=round(seconds, 4),
        )

    async def _dead_letter(
        self, dead: list[tuple[ConsumerRecord[bytes, bytes], Undecodable]]
    ) -> None:
        sends = []
        for record, err in dead:
            letter = dead_letter(
                stage=STAGE,
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                key=record.key,
                value=record.value,
                error=str(err),
                event_id=err.event_id,
            )
            log.warning(
                "ledger.dead_letter",
                error=str(err),
                event_id=err.event_id,
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
            )
            sends.append(
                await self._producer.send(
                    self.settings.dead_letter_topic,
                    letter.SerializeToString(),
                    key=record.key,
                    ce_id=letter_id(record.topic, record.partition, record.offset),
                )
            )
        await asyncio.gather(*sends)  # acknowledged before the offsets move past them
        metrics.DEAD_LETTERS.inc(len(dead))
        self.stats.dead_letters += len(dead)

    async def _commit_offsets(self, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        offsets: dict[TopicPartition, int] = {}
        for r in records:
            tp = TopicPartition(r.topic, r.partition)
            offsets[tp] = max(offsets.get(tp, 0), r.offset + 1)
        try:
            await self._consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError) as err:
            # The partitions moved to another worker during the batch. Nothing is lost: the
            # new owner reads from the last committed offset and the inbox makes the
            # already-applied events no-ops.
            metrics.OFFSET_COMMIT_FAILURES.inc()
            log.warning("ledger.offset_commit_failed", error=repr(err))
