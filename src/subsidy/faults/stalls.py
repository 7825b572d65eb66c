"""How long decisions stalled at each fault, beside the same figure before any fault."""

# The longest gap between the ledger's decisions from the strike until a while after it was over.

import itertools
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import asyncpg

from subsidy.faults.strikes import Strike

# A fault's stall is looked for from its strike until this long after it was over (a server
# answering again, a killed service restarted): a group's rebalance onto the survivor and back,
# a broker's partitions moving, fall inside it.
HORIZON_S = 30.0
# Before the first fault the pipeline warms up; the baseline is measured after this.
WARM_UP_S = 5.0

# Each distinct moment the ledger took events: an inbox row's received_at is its batch
# transaction's start. Those in the window, and the first after it (a gap that runs past the
# window's end is measured whole).
_MOMENTS = """
SELECT t FROM (
  SELECT DISTINCT extract(epoch FROM received_at)::float8 AS t FROM inbox
  WHERE received_at > to_timestamp($1) AND received_at <= to_timestamp($2)
  UNION ALL
  SELECT extract(epoch FROM min(received_at))::float8 FROM inbox
  WHERE received_at > to_timestamp($2)
) m WHERE t IS NOT NULL ORDER BY t
"""


@dataclass(frozen=True, slots=True)
class Stall:
    """One fault's stall, on the suite's clock (seconds since the feed began)."""

    target: str
    at_s: float
    ended_s: float
    longest_s: float | None  # None: nothing was decided after the strike (all was done)
    gap_from_s: float  # where the longest gap began
    shared: bool = False  # the gap runs on past the next strike: it is that one's cost too

    def line(self) -> str:
        if self.longest_s is None:
            return f"t+{self.at_s:6.1f}s {self.target:<16} no event left to decide"
        return (
            f"t+{self.at_s:6.1f}s {self.target:<16} longest gap between decisions "
            f"{self.longest_s:5.1f}s (from t+{self.gap_from_s:.1f}s; the fault took "
            f"{self.ended_s - self.at_s:.1f}s)"
            + (", shared with the next fault" if self.shared else "")
        )


async def longest_gap(
    conn: asyncpg.Connection, start_wall: float, end_wall: float, run_on: bool = True
) -> tuple[float, float] | None:
    """The longest gap between decisions from `start_wall` (the strike counts as a moment)
    until `end_wall` and (with `run_on`) its first decision after, else `end_wall` itself;
    (seconds, wall time it began), or None if nothing was decided after `start_wall`."""
    moments = [r["t"] for r in await conn.fetch(_MOMENTS, start_wall, end_wall)]
    if not run_on:
        moments = [t for t in moments if t <= end_wall] + [end_wall]
    return widest_gap(start_wall, moments)


def widest_gap(start: float, moments: list[float]) -> tuple[float, float] | None:
    """The longest gap from `start` through the sorted `moments`, and where it began."""
    if not moments:
        return None
    return max((b - a, a) for a, b in itertools.pairwise([start, *moments]))


async def measure(
    conn: asyncpg.Connection, strikes: list[Strike], wall0: float
) -> tuple[list[Stall], float | None]:
    """Each strike's stall, and the baseline: the longest gap before the first fault. A
    strike's window ends early at the next strike: a gap that begins after it is the next
    one's (a gap that begins before it is still measured whole)."""
    stalls = []
    for strike, after in zip(strikes, [*strikes[1:], None], strict=True):
        end = strike.ended_s + HORIZON_S
        if after is not None:
            end = max(strike.ended_s, min(end, after.at_s))
        gap = await longest_gap(conn, wall0 + strike.at_s, wall0 + end)
        longest, began = (None, strike.at_s) if gap is None else (gap[0], gap[1] - wall0)
        shared = longest is not None and after is not None and began + longest > after.at_s
        stall = Stall(strike.fault.target, strike.at_s, strike.ended_s, longest, began, shared)
        stalls.append(stall)
    baseline = None
    if strikes and strikes[0].at_s > WARM_UP_S:
        # Closed at the first strike: a gap running on past it is that fault's, not the base.
        gap = await longest_gap(conn, wall0 + WARM_UP_S, wall0 + strikes[0].at_s, run_on=False)
        baseline = None if gap is None else gap[0]
    return stalls, baseline


def report(
    stalls: list[Stall], baseline: float | None, path: Path, say: Callable[[str], None]
) -> None:
    """The stalls in the report, and as JSON in `path` (for comparing runs)."""
    before = "?" if baseline is None else f"{baseline:.1f}s"
    say(f"decision stalls by fault (longest gap between decisions from the strike until "
        f"{HORIZON_S:.0f}s after it was over or the next strike; before any fault: "
        f"{before}):")  # fmt: skip
    for stall in stalls:
        say("     " + stall.line())
    document = {"horizon_s": HORIZON_S, "baseline_s": baseline,
                "stalls": [asdict(s) for s in stalls]}  # fmt: skip
    path.write_text(json.dumps(document, indent=2) + "\n")


# Events the ingest API accepted (and wrote to Kafka) that the ledger never took: for a failed
# run, where each one was on the events topic.
_UNHEARD = """
SELECT a.event_id, a.revision, a.kafka_partition, a.kafka_offset, a.accepted_at
FROM ingest_accepted_events a
WHERE NOT EXISTS (SELECT FROM rejected_events r WHERE r.event_id = a.event_id)
  AND CASE WHEN a.revision = 1
           THEN NOT EXISTS (SELECT FROM inbox i WHERE i.event_id = a.event_id)
           ELSE NOT EXISTS (SELECT FROM event_revisions v
                            WHERE v.event_id = a.event_id AND v.revision = a.revision) END
ORDER BY a.accepted_at LIMIT 10
"""


async def unheard_events(conn: asyncpg.Connection, say: Callable[[str], None]) -> None:
    """Name the accepted events that never reached the ledger (at most ten)."""
    rows = await conn.fetch(_UNHEARD)
    say(f"accepted by the ingest API, never taken by the ledger: {len(rows)}"
        + (" (the first ten)" if len(rows) == 10 else ""))  # fmt: skip
    for r in rows:
        where = f"partition {r['kafka_partition']} offset {r['kafka_offset']}"
        say(f"     {r['event_id']} revision {r['revision']}: events topic {where}, "
            f"accepted {r['accepted_at']}")  # fmt: skip
