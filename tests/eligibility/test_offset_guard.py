"""The eligibility worker evaluates nothing past an input offset it never received (OffsetGuard)."""

# What lies past a gap waits, unacked, for the partition to be sought back.

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from subsidy.eligibility import offsets
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


def _events(tp: tuple[str, int], *numbers: int) -> list[_Event]:
    return [_Event(_Message(tp, n)) for n in numbers]


class _Consumer:
    def __init__(self) -> None:
        self.seeks: list[tuple[Any, int]] = []

    async def seek_wait(self, partitions: Mapping[Any, int]) -> None:
        self.seeks += list(partitions.items())


def _offsets(events: list[Any]) -> list[int]:
    return [e.message.offset for e in events]


async def test_offsets_in_order_pass_and_redeliveries_too() -> None:
    consumer = _Consumer()
    guard = OffsetGuard(consumer.seek_wait)
    # A redelivery from an earlier commit is no gap.
    taken = await guard.admit(_events(P0, 5, 6, 7, 6, 7, 8))
    assert _offsets(taken) == [5, 6, 7, 6, 7, 8]
    assert consumer.seeks == []


async def test_a_kept_partition_skipping_ahead_is_held_and_sought_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    consumer = _Consumer()
    guard = OffsetGuard(consumer.seek_wait)
    gaps = OFFSET_GAPS._value.get()
    assert _offsets(await guard.admit(_events(P0, *range(22)))) == list(range(22))
    guard.assigned({P0, P1})  # a rebalance that kept P0: nobody else read it meanwhile
    # 22 was fetched, discarded at the rebalance, never received: 23 on are not evaluated,
    # P1's events go on.
    held = await guard.admit(_events(P0, 23, 24) + _events(P1, 0))
    assert [(e.message.tp, e.message.offset) for e in held] == [(P1, 0)]
    assert consumer.seeks == [(P0, 22)]  # once, not once per held event
    assert OFFSET_GAPS._value.get() == gaps + 1
    # Still past the gap after RESEEK_S (records fetched before the seek were still coming):
    # sought again.
    monkeypatch.setattr(offsets, "RESEEK_S", 0.0)
    assert await guard.admit(_events(P0, 25)) == []
    assert consumer.seeks == [(P0, 22), (P0, 22)]
    assert _offsets(await guard.admit(_events(P0, 22, 23, 24, 25))) == [22, 23, 24, 25]


async def test_a_partition_that_went_to_another_worker_starts_afresh() -> None:
    consumer = _Consumer()
    guard = OffsetGuard(consumer.seek_wait)
    await guard.admit(_events(P1, 10))
    guard.assigned({P0})  # P1 went elsewhere and was worked on there
    guard.assigned({P0, P1})  # and came back, at that worker's commit
    assert _offsets(await guard.admit(_events(P1, 500))) == [500]
    assert consumer.seeks == []


async def test_a_failed_seek_is_logged_and_tried_again_at_the_next_gap() -> None:
    calls = []

    async def refused(partitions: Mapping[Any, int]) -> None:
        calls.append(dict(partitions))
        raise RuntimeError("partition revoked")

    guard = OffsetGuard(refused)
    await guard.admit(_events(P0, 1))
    assert await guard.admit(_events(P0, 3)) == []
    assert calls == [{P0: 2}]
