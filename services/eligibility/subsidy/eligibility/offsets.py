"""The eligibility worker's guard against evaluating past an input offset it never received."""

import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import structlog

from subsidy.eligibility.metrics import OFFSET_GAPS

log = structlog.get_logger(__name__)

# How long a seek back is given before a partition still past its gap is sought again: faust's
# fetch loop may be handing over records it fetched before the seek, and those move its read
# offset past the records fetched again, which it then drops.
RESEEK_S = 1.0


# Why this exists: on a rebalance faust discards the messages it had fetched but not yet handed
# to the agent, and relies on seeking every partition back to its committed offset to get them
# again. A partition with nothing committed yet is not sought (aiokafka's seek_to_committed
# skips an offset of None or 0, and faust takes a committed 0 for none), so fetching goes on
# after the discarded messages, and faust then commits past them: events never evaluated. The
# cluster fault suite met one. Our topics have no transactions and no compaction, so offsets
# are contiguous: a partition kept across a rebalance that skips ahead has lost messages.
class OffsetGuard:
    """Lets events through to evaluation only in unbroken offset order per partition this
    worker kept. An event past a gap is neither evaluated nor acked (so neither its output
    nor its commit can get ahead of the missing ones, and one enterprise's events stay in
    order), and the partition is sought back to the first offset missing, again every
    RESEEK_S while the gap stays; faust then delivers them anew."""

    def __init__(self, seek: Callable[[Mapping[Any, int]], Awaitable[Any]]) -> None:
        self._seek = seek
        self._next: dict[Any, int] = {}  # partition -> the offset due next
        self._sought: dict[Any, tuple[int, float]] = {}  # partition -> (offset, when)

    def assigned(self, partitions: Iterable[Any]) -> None:
        """A rebalance gave us these: forget the others, which another worker may have moved
        on meanwhile (so their next offset is whatever was committed, not ours)."""
        kept = set(partitions)
        for tp in [tp for tp in self._next if tp not in kept]:
            del self._next[tp]
            self._sought.pop(tp, None)

    async def admit(self, events: Iterable[Any]) -> list[Any]:
        """The events of a batch that may be evaluated, in order; those past a gap left out."""
        taken = []
        for event in events:
            message = event.message
            tp, offset = message.tp, message.offset
            due = self._next.get(tp)
            if due is not None and offset > due:
                await self._seek_back(message, due)
                continue
            self._next[tp] = offset + 1 if due is None else max(due, offset + 1)
            taken.append(event)
        return taken

    async def _seek_back(self, message: Any, due: int) -> None:
        tp, now = message.tp, time.monotonic()
        last = self._sought.get(tp)
        if last is not None and last[0] == due and now - last[1] < RESEEK_S:
            return
        self._sought[tp] = (due, now)
        OFFSET_GAPS.inc()
        log.error("eligibility.offset_gap", topic=message.topic, partition=message.partition,
                  due=due, offset=message.offset)  # fmt: skip
        try:
            await self._seek({tp: due})
        except Exception as err:  # e.g. revoked meanwhile: the next gap seen tries again
            log.warning("eligibility.offset_gap_seek_failed", error=repr(err))
