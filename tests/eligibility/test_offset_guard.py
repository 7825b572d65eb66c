"""The eligibility worker never acks past an input offset it did not process (OffsetGuard)."""

from dataclasses import dataclass
from typing import Any

from subsidy.eligibility.metrics import OFFSET_GAPS
from subsidy.eligibility.offsets import OffsetGuard


@dataclass(frozen=True)
class _Message:
    tp: tuple[str, int]
    offset: int
    topic: str = "events"

    @property
    def partition(self) -> int:
        return self.tp[1]


@dataclass(frozen=True)
class _Event:
    message: _Message


P0, P1 = ("events", 0), ("events", 1)


def _event(tp: tuple[str, int], offset: int) -> _Event:
    return _Event(_Message(tp, offset))


class _Consumer:
    def __init__(self) -> None:
        self.acked: list[tuple[Any, int]] = []
        self.seeks: list[tuple[Any, int]] = []

    async def ack(self, event: _Event) -> None:
        self.acked.append((event.message.tp, event.message.offset))

    async def seek(self, tp: Any, offset: int) -> None:
        self.seeks.append((tp, offset))


async def test_offsets_in_order_are_acked_and_redeliveries_too() -> None:
    consumer = _Consumer()
    guard = OffsetGuard(consumer.ack, consumer.seek)
    for offset in (5, 6, 7, 6, 7, 8):  # a redelivery from an earlier commit is no gap
        assert await guard.ack(_event(P0, offset))
    assert consumer.acked == [(P0, o) for o in (5, 6, 7, 6, 7, 8)]
    assert consumer.seeks == []


async def test_a_kept_partition_skipping_ahead_is_sought_back_and_nothing_past_it_acked() -> None:
    consumer = _Consumer()
    guard = OffsetGuard(consumer.ack, consumer.seek)
    gaps = OFFSET_GAPS._value.get()
    for offset in range(0, 22):
        await guard.ack(_event(P0, offset))
    guard.assigned({P0, P1})  # a rebalance that kept P0: nobody else read it meanwhile
    assert not await guard.ack(_event(P0, 23))  # 22 was fetched, discarded, never processed
    assert not await guard.ack(_event(P0, 24))
    assert consumer.seeks == [(P0, 22)]  # sought back once, not once per held event
    assert OFFSET_GAPS._value.get() == gaps + 1
    for offset in (22, 23, 24):  # delivered again after the seek
        assert await guard.ack(_event(P0, offset))
    assert [o for tp, o in consumer.acked if tp == P0] == list(range(0, 25))


async def test_a_partition_that_went_to_another_worker_starts_afresh() -> None:
    consumer = _Consumer()
    guard = OffsetGuard(consumer.ack, consumer.seek)
    await guard.ack(_event(P1, 10))
    guard.assigned({P0})  # P1 went elsewhere and was worked on there
    guard.assigned({P0, P1})  # and came back, at that worker's commit
    assert await guard.ack(_event(P1, 500))
    assert consumer.seeks == []
