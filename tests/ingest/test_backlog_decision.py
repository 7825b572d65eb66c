"""Live before bulk, the pure part."""

# A stage's lag from its offsets, the verdict on a chunk, the deadline a chunk waits until, and the
# refusal's words.

import time
from typing import Any

import pytest
from aiokafka import TopicPartition

from subsidy.ingest.backlog import (
    PROCESS_RESERVE_S,
    Admission,
    Reading,
    deadline_of,
    lag,
    refusal,
    verdict,
)

A, B, C = (TopicPartition("events", p) for p in range(3))


def test_lag_is_end_minus_committed_summed_over_partitions() -> None:
    assert lag({A: 100, B: 50}, {A: 90, B: 50}, {}) == 10


def test_a_partition_never_committed_counts_from_the_log_start() -> None:
    # -1 is what Kafka answers for no committed offset; a missing entry means the same.
    assert lag({A: 100, B: 40, C: 7}, {A: -1}, {A: 20, B: 0, C: 7}) == 80 + 40 + 0


def test_a_committed_offset_past_the_end_is_no_negative_backlog() -> None:
    assert lag({A: 5}, {A: 9}, {}) == 0


def test_verdict_admits_below_the_bound_waits_at_it_refuses_after_the_deadline() -> None:
    assert verdict(1_999, 2_000, now=0.0, deadline=10.0) == "admit"
    assert verdict(2_000, 2_000, now=0.0, deadline=10.0) == "wait"
    assert verdict(50_000, 2_000, now=9.9, deadline=10.0) == "wait"
    assert verdict(50_000, 2_000, now=10.0, deadline=10.0) == "refuse"


def test_bound_zero_disables_and_an_unreadable_backlog_is_admitted() -> None:
    assert verdict(10**9, 0, now=99.0, deadline=0.0) == "admit"
    assert verdict(None, 2_000, now=99.0, deadline=0.0) == "admit"


def test_the_deadline_is_the_setting_or_sooner_the_calls_own() -> None:
    assert deadline_of(100.0, 60.0, None) == 160.0
    assert deadline_of(100.0, 60.0, 300.0) == 160.0
    # The call's deadline leaves the chunk PROCESS_RESERVE_S to be processed in.
    assert deadline_of(100.0, 60.0, 10.0) == 100.0 + 10.0 - PROCESS_RESERVE_S
    # Too little left to wait at all: decided at once.
    assert deadline_of(100.0, 60.0, 1.0) == 100.0


def test_the_refusal_names_the_backlog_and_the_setting_chinese_first() -> None:
    message = refusal(12_345, 2_000, 60.0)
    assert message.startswith("处理管道积压 12,345 条事件")
    assert "backlog 12345" in message
    assert "INGEST_BULK_MAX_BACKLOG 2000" in message


class _OneReading:
    """A backlog read once, as KafkaBacklog serves one reading for a while; `again` takes a
    new one, begun now."""

    def __init__(self, value: int) -> None:
        self.value = value
        self.taken_at = time.monotonic()

    async def read(self) -> Reading | None:
        return Reading(self.value, self.taken_at)

    def again(self, value: int) -> None:
        self.value, self.taken_at = value, time.monotonic()


class _Context:
    def time_remaining(self) -> float | None:
        return None

    async def abort(self, code: Any, details: str) -> None:
        raise RuntimeError(details)


async def test_chunks_admitted_count_as_backlog_until_a_reading_begun_after_them() -> None:
    reading = _OneReading(600)
    admission = Admission(reading, bound=1_000, max_wait_s=0.3)
    async with admission.chunk(_Context(), 500):  # 600 < 1,000: goes
        # A second batch waiting on the same reading sees the first chunk on top of it.
        with pytest.raises(RuntimeError, match="1,100"):
            async with admission.chunk(_Context(), 500):
                pass
    # Produced, but the reading began before it: the chunk still counts on top of it.
    with pytest.raises(RuntimeError, match="1,100"):
        async with admission.chunk(_Context(), 100):
            pass
    reading.again(600)  # a reading begun after it: the chunk is in its figure, or decided
    async with admission.chunk(_Context(), 100):
        pass


async def test_without_a_bound_nothing_is_kept_of_the_chunks() -> None:
    for admission in (Admission(None, 0, 0), Admission(_OneReading(0), bound=0, max_wait_s=1)):
        for _ in range(3):
            async with admission.chunk(_Context(), 500):
                pass
        assert not admission._produced  # only a reading would ever empty it
