"""The eligibility worker's guard against acking past an input offset it never processed."""

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import structlog

from subsidy.eligibility.metrics import OFFSET_GAPS

log = structlog.get_logger(__name__)


# Why this exists: on a rebalance faust discards the messages it had fetched but not yet handed
# to the agent, and relies on seeking every partition back to its committed offset to get them
# again. A partition with nothing committed yet is not sought (aiokafka's seek_to_committed
# skips an offset of None or 0, and faust takes a committed 0 for none), so fetching goes on
# after the discarded messages, and faust then commits past them: events never evaluated. The
# cluster fault suite met one. Our topics have no transactions and no compaction, so offsets
# are contiguous: a partition kept across a rebalance that skips ahead has lost messages.
class OffsetGuard:
    """Acks events only in unbroken offset order per partition this worker kept; on a gap the
    event is not acked and the partition is sought back to the first offset missing, which
    faust then delivers again (its output is the same record, which the ledger takes once)."""

    def __init__(
        self,
        ack: Callable[[Any], Awaitable[Any]],
        seek: Callable[[Any, int], Awaitable[Any]],
    ) -> None:
        self._ack = ack
        self._seek = seek
        self._next: dict[Any, int] = {}  # partition -> the offset due next
        self._rewound: dict[Any, int] = {}  # partition -> where it was last sought back to

    def assigned(self, partitions: Iterable[Any]) -> None:
        """A rebalance gave us these: forget the others, which another worker may have moved
        on meanwhile (so their next offset is whatever was committed, not ours)."""
        kept = set(partitions)
        for tp in [tp for tp in self._next if tp not in kept]:
            del self._next[tp]
            self._rewound.pop(tp, None)

    async def ack(self, event: Any) -> bool:
        """Ack the event unless it lies past a gap; False when it was held back."""
        message = event.message
        tp, offset = message.tp, message.offset
        due = self._next.get(tp)
        if due is not None and offset > due:
            if self._rewound.get(tp) != due:
                self._rewound[tp] = due
                OFFSET_GAPS.inc()
                log.error("eligibility.offset_gap", topic=message.topic,
                          partition=message.partition, due=due, offset=offset)  # fmt: skip
                await self._seek(tp, due)
            return False
        if offset == due:
            self._rewound.pop(tp, None)
        self._next[tp] = offset + 1 if due is None else max(due, offset + 1)
        await self._ack(event)
        return True
