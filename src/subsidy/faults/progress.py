"""How the pipeline moved during the run: its longest stretch without a new decision."""

import asyncio
from collections.abc import Callable

import asyncpg

from subsidy.harness.waiting import taken

_EVERY_S = 1.0


async def decided(url: str) -> int | None:
    """Events the ledger has taken and decided, corrections included, as await_decisions
    counts them; None while the database is away."""
    try:
        conn = await asyncpg.connect(url, timeout=5)
    except (OSError, TimeoutError, asyncpg.PostgresError):
        return None
    try:
        return await taken(conn)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
        return None
    finally:
        await conn.close()


class StallWatch:
    """Samples the inbox every second until every event is decided. A stall is time in which
    no event was decided though some were still to come: a fault's cost, or a bug's."""

    def __init__(self, url: str, expected: int, clock: Callable[[], float]) -> None:
        self._url = url
        self._expected = expected
        self._clock = clock
        self.longest = 0.0
        self.longest_from = 0.0

    async def run(self) -> None:
        """Until every event is decided (cancel it to stop sooner)."""
        last, since = -1, self._clock()
        while True:
            count = await decided(self._url)
            now = self._clock()
            if count is not None and count > last:
                last, since = count, now
            elif now - since > self.longest:
                self.longest, self.longest_from = now - since, since
            if last >= self._expected:
                return
            await asyncio.sleep(_EVERY_S)

    def line(self) -> str:
        return (
            f"longest stretch with no event decided while some were to come: "
            f"{self.longest:.1f}s, from t+{self.longest_from:.1f}s"
        )
