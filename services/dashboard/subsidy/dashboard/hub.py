"""The dashboard's latest state, of all years and of each, and everyone waiting for a newer one."""

import asyncio
import contextlib
import json
from datetime import UTC, datetime
from typing import Any

Json = dict[str, Any]
# A state's key: the year it shows, None for all years.
Year = int | None


class Hub:
    """The latest state per year filter, each encoded once as a server-sent event for every
    browser showing that filter; one version for all, so a stream knows when to send."""

    def __init__(self) -> None:
        self.version = 0
        self.states: dict[Year, tuple[Json, list[Json]]] = {}
        self.frames: dict[Year, bytes] = {}
        self.as_of: str | None = None
        self.last_look: float | None = None  # monotonic time of the last successful look
        self.error: str | None = None  # the last look's failure, for the log only
        self.closed = False
        self._changed = asyncio.Event()

    @property
    def totals(self) -> Json | None:
        """The totals of all years (None before the first look)."""
        return self.states[None][0] if None in self.states else None

    @property
    def latest(self) -> list[Json]:
        """The latest decisions of all years."""
        return self.states[None][1] if None in self.states else []

    @property
    def frame(self) -> bytes:
        """The state of all years as one server-sent event."""
        return self.frames.get(None, b"")

    def publish(
        self,
        totals: Json,
        latest: list[Json],
        years: dict[Year, tuple[Json, list[Json]]] | None = None,
    ) -> None:
        """A new state (of all years, and of each year given); wakes every stream."""
        states: dict[Year, tuple[Json, list[Json]]] = {None: (totals, latest)}
        states.update(years or {})
        self.publish_states(states)

    def publish_states(self, states: dict[Year, tuple[Json, list[Json]]]) -> None:
        """New states, one per year filter (None: all years); wakes every stream."""
        self.version += 1
        self.states = dict(states)
        self.as_of = datetime.now(UTC).isoformat()
        self.frames = {}
        for year in self.states:
            data = json.dumps(self.state(year), ensure_ascii=False, separators=(",", ":"))
            self.frames[year] = f"id: {self.version}\nevent: state\ndata: {data}\n\n".encode()
        self._wake()

    def shows(self, year: Year) -> bool:
        """Is there a state for this filter (a year the policy or the ledger knows)?"""
        return year in self.states

    def state(self, year: Year = None) -> Json:
        """What /events sends: totals and latest decisions of the filter together."""
        totals, latest = self.states.get(year, ({}, []))
        return {"version": self.version, "asOf": self.as_of, **totals, "latest": latest}

    def close(self) -> None:
        """Shutting down: every stream returns."""
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def wait_newer(self, version: int, seconds: float) -> bool:
        """Until there is a state newer than `version` (True) or `seconds` passed (False)."""
        if self.version != version or self.closed:
            return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), seconds)
        return self.version != version or self.closed
