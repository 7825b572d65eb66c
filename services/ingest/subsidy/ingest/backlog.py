"""Live before bulk: the pipeline's backlog read from Kafka, and SubmitBatch's wait for it."""

# One lane, admission by backlog (docs/scaling.md, "Live before bulk"): a chunk of a batch is
# produced only while the events not yet decided — the eligibility group's lag on the events
# topic plus the ledger group's on the entitlements topic — are below a bound, so a live event
# (Submit, never held) queues behind at most that many.

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import grpc
import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from subsidy.infra.kafka_client import KafkaConnection
from subsidy.ingest import metrics

log = structlog.get_logger(__name__)

# Left of the caller's gRPC deadline for the chunk itself once the wait is over: a refusal
# that names the backlog is more use to the client than a DEADLINE_EXCEEDED.
PROCESS_RESERVE_S = 2.0
# How long one reading serves every waiting batch before Kafka is asked again.
READING_TTL_S = 0.2

# Kafka's UNKNOWN_TOPIC_OR_PARTITION.
UNKNOWN_TOPIC = 3

Verdict = Literal["admit", "wait", "refuse"]


@dataclass(frozen=True, slots=True)
class Stage:
    """A consumer group and the topic it consumes: its lag is events it has not yet done."""

    name: str  # the metric's label: eligibility, ledger
    group: str
    topic: str


def lag(
    ends: Mapping[TopicPartition, int],
    committed: Mapping[TopicPartition, int],
    starts: Mapping[TopicPartition, int],
) -> int:
    """Records past the group's committed offset, summed over the partitions; a partition
    the group never committed counts from the log's start (the services reset to earliest,
    so they will read all of it)."""
    total = 0
    for tp, end in ends.items():
        done = committed.get(tp, -1)
        total += max(0, end - (done if done >= 0 else starts.get(tp, 0)))
    return total


def verdict(backlog: int | None, bound: int, now: float, deadline: float) -> Verdict:
    """Admit a chunk while the backlog is below the bound (0: no bound; unknown: admit, as
    before admission existed, rather than stop every feed because Kafka's figures are
    unreadable), wait while it is not and the deadline is ahead, refuse after."""
    if bound == 0 or backlog is None or backlog < bound:
        return "admit"
    return "refuse" if now >= deadline else "wait"


def deadline_of(now: float, max_wait_s: float, remaining_s: float | None) -> float:
    """When a chunk stops waiting: after max_wait_s, or earlier so that the call's own gRPC
    deadline (remaining_s, None without one) still leaves PROCESS_RESERVE_S for the chunk."""
    wait = max_wait_s if remaining_s is None else min(max_wait_s, remaining_s - PROCESS_RESERVE_S)
    return now + max(0.0, wait)


@dataclass(frozen=True, slots=True)
class Reading:
    """Events not yet through the pipeline, as measured from `taken_at` (time.monotonic()
    when the measurement began: what was produced after it may not be in `value`)."""

    value: int
    taken_at: float


class BacklogSource(Protocol):
    """Where the backlog is read (Kafka; a test's figure)."""

    async def read(self) -> Reading | None:
        """The latest reading; None when the backlog cannot be read."""
        ...


class KafkaBacklog:
    """The stages' lag from Kafka: committed offsets (an admin client: DESCRIBE on the group
    and the topic) against end offsets (a consumer in no group). A reading serves for
    READING_TTL_S, one at a time, however many batches wait; the clients start on first use."""

    def __init__(self, kafka: KafkaConnection, stages: Sequence[Stage]) -> None:
        self._kafka = kafka
        self._stages = tuple(stages)
        self._lock = asyncio.Lock()
        self._admin: AIOKafkaAdminClient | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._read_at = float("-inf")
        self._value: Reading | None = None
        self._failing = False

    async def read(self) -> Reading | None:
        async with self._lock:
            if time.monotonic() - self._read_at >= READING_TTL_S:
                self._value = await self._reading()
                self._read_at = time.monotonic()
            return self._value

    async def _reading(self) -> Reading | None:
        taken_at = time.monotonic()
        try:
            by_stage = await self._measure()
        except Exception as err:  # unreadable: admit (verdict), say so once, try again later
            metrics.BACKLOG_READ_FAILURES.inc()
            if not self._failing:
                log.error("ingest.backlog_unreadable", error=repr(err))
            self._failing = True
            await self.stop()
            return None
        if self._failing:
            log.info("ingest.backlog_readable_again")
        self._failing = False
        for name, value in by_stage.items():
            metrics.BACKLOG.labels(name).set(value)
        return Reading(sum(by_stage.values()), taken_at)

    async def _measure(self) -> dict[str, int]:
        admin, consumer = await self._clients()
        described = await admin.describe_topics(sorted({s.topic for s in self._stages}))
        # A topic not there (yet) has no partitions, hence no backlog; any other error (a
        # missing DESCRIBE right) must not pass for an empty topic.
        refused = [(d["topic"], d["error_code"]) for d in described
                   if d["error_code"] not in (0, UNKNOWN_TOPIC)]  # fmt: skip
        if refused:
            raise RuntimeError(f"cannot describe {refused} (error codes)")
        partitions = {
            d["topic"]: [TopicPartition(d["topic"], p["partition"]) for p in d["partitions"]]
            for d in described
        }
        every = [tp for tps in partitions.values() for tp in tps]
        ends = await consumer.end_offsets(every) if every else {}
        by_stage: dict[str, int] = {}
        for stage in self._stages:
            tps = partitions.get(stage.topic, [])
            fetched = await admin.list_consumer_group_offsets(stage.group, partitions=tps)
            committed = {tp: meta.offset for tp, meta in fetched.items()}
            fresh = [tp for tp in tps if committed.get(tp, -1) < 0]
            starts = await consumer.beginning_offsets(fresh) if fresh else {}
            by_stage[stage.name] = lag({tp: ends[tp] for tp in tps}, committed, starts)
        return by_stage

    async def _clients(self) -> tuple[AIOKafkaAdminClient, AIOKafkaConsumer]:
        if self._admin is None or self._consumer is None:
            options = self._kafka.options()
            admin = AIOKafkaAdminClient(**options, client_id="subsidy-ingest-backlog")
            consumer = AIOKafkaConsumer(**options, client_id="subsidy-ingest-backlog",
                                        group_id=None, enable_auto_commit=False)  # fmt: skip
            self._admin, self._consumer = admin, consumer
            await admin.start()
            await consumer.start()
        return self._admin, self._consumer

    async def stop(self) -> None:
        """Close the clients (started again by the next reading)."""
        admin, consumer, self._admin, self._consumer = self._admin, self._consumer, None, None
        if admin is not None:
            with contextlib.suppress(Exception):
                await admin.close()
        if consumer is not None:
            try:
                await consumer.stop()
            except asyncio.CancelledError:
                # aiokafka's consumer in no group cancels a task of its own when stopped soon
                # after it started, and lets that cancellation out; ours only is re-raised.
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise
            except Exception as err:
                log.warning("ingest.backlog_stop_failed", error=repr(err))


class Admission:
    """Holds each SubmitBatch chunk until the backlog is below `bound` (0: never holds)."""

    def __init__(self, source: BacklogSource | None, bound: int, max_wait_s: float) -> None:
        self._source = source
        self._bound = bound if source is not None else 0
        self._max_wait_s = max_wait_s
        # Events admitted and not yet on Kafka, and (time produced, events) of chunks produced
        # since the reading began: no reading shows them yet, and batches waiting on one
        # reading would otherwise all be let through by it, each a chunk over the bound.
        self._in_flight = 0
        self._produced: deque[tuple[float, int]] = deque()

    @contextlib.asynccontextmanager
    async def chunk(self, context: grpc.aio.ServicerContext, size: int) -> AsyncIterator[None]:
        """Admit a chunk of `size` events (_wait_turn), counted as backlog until a reading
        begun after it was produced (one that failed produced nothing)."""
        await self._wait_turn(context, size)
        self._in_flight += size
        try:
            yield
        finally:
            self._in_flight -= size
        if self._bound:  # only a reading prunes the list, and without a bound none is taken
            self._produced.append((time.monotonic(), size))

    def _backlog(self, reading: Reading | None) -> int | None:
        """The reading plus what it cannot show yet; None when there is no reading."""
        if reading is None:
            return None
        while self._produced and self._produced[0][0] < reading.taken_at:
            self._produced.popleft()  # the reading shows it
        return reading.value + self._in_flight + sum(size for _, size in self._produced)

    async def _wait_turn(self, context: grpc.aio.ServicerContext, size: int) -> None:
        """Return once a chunk of `size` events may go; past its deadline abort with
        RESOURCE_EXHAUSTED, which names the backlog (the client retries it; nothing of the
        chunk was produced)."""
        if self._source is None or self._bound == 0:
            return
        start = time.monotonic()
        deadline = deadline_of(start, self._max_wait_s, context.time_remaining())
        while True:
            backlog = self._backlog(await self._source.read())
            now = time.monotonic()
            decided = verdict(backlog, self._bound, now, deadline)
            if decided == "wait":
                await asyncio.sleep(READING_TTL_S)
                continue
            metrics.BULK_WAIT.observe(now - start)
            if decided == "admit":
                return
            assert backlog is not None, "an unknown backlog is admitted"
            metrics.BULK_REFUSED.inc()
            log.warning("ingest.bulk_refused", backlog=backlog, bound=self._bound,
                        waited_s=round(now - start, 1))  # fmt: skip
            message = refusal(backlog, self._bound, now - start)
            await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, message)


def refusal(backlog: int, bound: int, waited_s: float) -> str:
    """The RESOURCE_EXHAUSTED message: Chinese first, then the setting to look at."""
    return (
        f"处理管道积压 {backlog:,} 条事件，高于批量准入上限 {bound:,}，已等待 {waited_s:.0f} 秒；"
        f"请稍后重试。pipeline backlog {backlog} events is at or above INGEST_BULK_MAX_BACKLOG"
        f" {bound} after waiting {waited_s:.1f}s: the batch was not produced, retry later"
    )
