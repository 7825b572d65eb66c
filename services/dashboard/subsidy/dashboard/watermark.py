"""Which outbox rows are new, exactly once, although transactions commit out of id order."""

# The ledger writes one outbox row per decision, in the deciding transaction, keyed by an identity
# column. Ids are handed out when rows are inserted, not when they commit: a batch holding ids
# 100–199 may commit after one holding 200–299, so `WHERE id > last seen` alone would miss the
# first. Each look therefore records which transactions were still running (the snapshot's
# in-progress list): an id at or below the highest id seen can only still appear if one of those
# transactions commits it, so once none of them is running any more (they are not in a later
# snapshot's in-progress list), everything up to that id is settled and the lower bound of the query
# moves up. Between the bound and the top, the ids already seen are remembered; that set only holds
# what committed while older transactions ran. At the first look nothing is listed: the transactions
# running then are watched until they end.
#
# This relies on a ledger transaction having its transaction id before it takes an outbox id, which
# holds: every batch writes the inbox before the outbox (batch_writer.BatchWriter.flush).

from collections import deque
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class PgSnapshot:
    """A PostgreSQL snapshot (`pg_current_snapshot()`): transactions with ids below xmin
    have ended, ids from xmax on had not started, and xip lists those still in progress."""

    xmin: int
    xmax: int
    xip: frozenset[int]

    @classmethod
    def parse(cls, text: str) -> "PgSnapshot":
        """`xmin:xmax:xip,xip,…` as PostgreSQL prints a pg_snapshot."""
        try:
            xmin, xmax, xip = text.split(":")
            return cls(int(xmin), int(xmax), frozenset(int(x) for x in xip.split(",") if x))
        except ValueError:
            raise ValueError(f"not a pg_snapshot: {text!r}") from None


@dataclass(frozen=True, slots=True)
class _Mark:
    """Ids up to `upto` are settled once none of `waiting` runs any more."""

    waiting: frozenset[int]
    upto: int


@dataclass
class OutboxWatermark:
    """The state of the outbox reader: feed it each look's snapshot and the ids above
    `floor`; it says whether anything committed since the previous look."""

    floor: int | None = None  # every id at or below it is settled; None before the first look
    seen: set[int] = field(default_factory=set)  # ids above the floor already reported
    _marks: deque[_Mark] = field(default_factory=deque)
    # Transactions running at the first look: the ids below the floor they may commit were
    # never listed, so each of them ending means "recompute" (once; it only happens at start).
    _unlisted: frozenset[int] = frozenset()

    def start(self, snapshot: PgSnapshot, top: int) -> None:
        """The first look: everything visible up to `top` (the highest id) is the starting
        state; what transactions running now commit below it is noticed as they end."""
        self.floor = top
        self.seen.clear()
        self._marks.clear()
        self._unlisted = snapshot.xip

    def observe(self, snapshot: PgSnapshot, ids: list[int]) -> bool:
        """One later look: `ids` are the outbox ids above `floor` visible in `snapshot`.
        True if some of them are new, or if a transaction running at the first look ended."""
        if self.floor is None:
            raise RuntimeError("observe() before start()")
        new = [i for i in ids if i not in self.seen]
        self.seen.update(new)
        changed = bool(new)
        if new:
            top = max(ids)
            if not self._marks or top > self._marks[-1].upto:
                self._marks.append(_Mark(snapshot.xip, top))
        running = self._unlisted & snapshot.xip
        if running != self._unlisted:
            changed, self._unlisted = True, running
        # The marks' transactions, once ended, committed before this snapshot (or never will).
        while self._marks and not (self._marks[0].waiting & snapshot.xip):
            self.floor = max(self.floor, self._marks.popleft().upto)
        self.seen = {i for i in self.seen if i > self.floor}
        return changed

    @property
    def pending(self) -> int:
        """Looks whose transactions have not all ended yet (for logs and tests)."""
        return len(self._marks) + (1 if self._unlisted else 0)
