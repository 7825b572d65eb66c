"""The outbox watermark notices every commit, in whatever order transactions commit."""

# It also settles what no running transaction can still commit.

from dataclasses import dataclass, field

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from subsidy.dashboard.watermark import OutboxWatermark, PgSnapshot


def snap(xmax: int, *running: int) -> PgSnapshot:
    return PgSnapshot(min(running, default=xmax), xmax, frozenset(running))


def test_snapshot_text() -> None:
    assert PgSnapshot.parse("10:15:10,12") == PgSnapshot(10, 15, frozenset({10, 12}))
    assert PgSnapshot.parse("7:7:") == PgSnapshot(7, 7, frozenset())
    with pytest.raises(ValueError, match="not a pg_snapshot"):
        PgSnapshot.parse("7:x")


def test_late_commit_below_the_highest_id() -> None:
    mark = OutboxWatermark()
    mark.start(snap(100), top=0)
    # Transaction 100 holds ids 1–3, uncommitted; 101 commits 4–6.
    assert mark.observe(snap(102, 100), [4, 5, 6])
    assert mark.floor == 0
    assert mark.pending == 1
    assert not mark.observe(snap(102, 100), [4, 5, 6])
    # 100 commits: its ids are new although lower, and everything up to 6 is settled.
    assert mark.observe(snap(102), [1, 2, 3, 4, 5, 6])
    assert mark.floor == 6
    assert mark.seen == set()
    assert mark.pending == 0
    assert not mark.observe(snap(102), [])


def test_abandoned_ids_settle_silently() -> None:
    mark = OutboxWatermark()
    mark.start(snap(100), top=0)
    assert mark.observe(snap(102, 100), [4, 5, 6])
    assert not mark.observe(snap(103), [4, 5, 6])  # 100 rolled back: 1–3 never come
    assert mark.floor == 6
    assert mark.pending == 0


def test_unrelated_long_transaction_only_delays_settling() -> None:
    mark = OutboxWatermark()
    mark.start(snap(51, 50), top=10)
    for n, xmax in enumerate(range(60, 65)):
        ids = list(range(11, 12 + n))
        assert mark.observe(snap(xmax, 50), ids)  # each new id is noticed at once
    assert mark.floor == 10
    assert len(mark.seen) == 5
    assert mark.observe(snap(70), list(range(11, 16)))  # 50 ended (it could have held 1–10)
    assert mark.floor == 15
    assert mark.seen == set()


def test_transactions_running_at_start() -> None:
    mark = OutboxWatermark()
    mark.start(snap(103, 100, 101), top=10)
    assert not mark.observe(snap(103, 100, 101), [])
    assert mark.observe(snap(104, 101), [])  # 100 ended: it may have committed ids below 10
    assert mark.observe(snap(104), [])
    assert not mark.observe(snap(104), [])
    assert mark.pending == 0


def test_observe_needs_a_start() -> None:
    with pytest.raises(RuntimeError):
        OutboxWatermark().observe(snap(1), [])


# ---- a simulated ledger ------------------------------------------------------------------


@dataclass
class Cluster:
    """Transactions that take ids (after their xid, as ledger batches do) and commit or roll
    back in any order; a look sees what committed."""

    next_xid: int = 100
    next_id: int = 1
    running: dict[int, list[int]] = field(default_factory=dict)
    committed: set[int] = field(default_factory=set)

    def begin(self) -> None:
        self.running[self.next_xid] = []
        self.next_xid += 1

    def take(self, which: int, count: int) -> None:
        if self.running:
            xid = sorted(self.running)[which % len(self.running)]
            self.running[xid] += range(self.next_id, self.next_id + count)
            self.next_id += count

    def end(self, which: int, commit: bool) -> tuple[int, list[int]] | None:
        if not self.running:
            return None
        xid = sorted(self.running)[which % len(self.running)]
        ids = self.running.pop(xid)
        if commit:
            self.committed.update(ids)
        return xid, ids if commit else []

    def snapshot(self) -> PgSnapshot:
        return snap(self.next_xid, *self.running)


_ACTIONS = st.tuples(
    st.sampled_from(["begin", "take", "commit", "rollback", "look"]),
    st.integers(0, 9),
    st.integers(1, 4),
)
# Before the dashboard starts: transactions that hold ids while later ones commit.
_WARMUP = st.tuples(
    st.sampled_from(["begin", "begin", "take", "take", "commit"]),
    st.integers(0, 9),
    st.integers(1, 4),
)


@settings(max_examples=1000, deadline=None)
# Running at the first look: 101 holds id 1 below 100's committed id 2, and commits later.
@example(
    warmup=[("begin", 0, 1), ("begin", 0, 1), ("take", 1, 1), ("take", 0, 1), ("commit", 0, 1)],
    actions=[("look", 0, 0), ("commit", 0, 1)],
)
@given(warmup=st.lists(_WARMUP, max_size=12), actions=st.lists(_ACTIONS, max_size=60))
def test_every_commit_is_noticed(
    warmup: list[tuple[str, int, int]], actions: list[tuple[str, int, int]]
) -> None:
    """Whatever the interleaving: a look after a commit says "changed"; a look that says so
    without a commit is explained by a transaction that was running at the first look."""
    cluster = Cluster()
    for action, which, count in warmup:  # the ledger was busy before the dashboard started
        if action == "begin":
            cluster.begin()
        elif action == "take":
            cluster.take(which, count)
        elif action in ("commit", "rollback"):
            cluster.end(which, action == "commit")
    mark = OutboxWatermark()
    mark.start(cluster.snapshot(), max(cluster.committed, default=0))
    at_start = set(cluster.running)
    committed_since, ended_since = False, set()
    for action, which, count in [*actions, ("look", 0, 0)]:
        if action == "begin":
            cluster.begin()
        elif action == "take":
            cluster.take(which, count)
        elif action in ("commit", "rollback"):
            ended = cluster.end(which, action == "commit")
            if ended is not None:
                ended_since.add(ended[0])
                committed_since = committed_since or bool(ended[1])
        else:
            assert mark.floor is not None
            visible = sorted(i for i in cluster.committed if i > mark.floor)
            changed = mark.observe(cluster.snapshot(), visible)
            if committed_since:
                assert changed, "a commit went unnoticed"
            elif changed:
                assert ended_since & at_start, "changed without a commit"
            committed_since, ended_since = False, set()
            # Nothing at or below the floor can still be committed (but what transactions
            # running at the first look hold, which is watched by transaction instead).
            held = [i for xid, ids in cluster.running.items() if xid not in at_start for i in ids]
            assert all(i > mark.floor for i in held)
