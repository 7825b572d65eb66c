"""Anchoring: the chains' heads read from the ledger, signed, and appended to the anchor log
(the anchor file and the anchors topic, both outside PostgreSQL)."""

import asyncio
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import structlog

from subsidy.infra.records import RecordWriter
from subsidy.infra.signing_keys import Signer
from subsidy.ledger import metrics
from subsidy.ledger.anchors import Anchor, anchored_heads, append_lines, sign_anchor

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class ChainSource:
    """Hash chains to anchor: `heads` lists (chain, head_seq); `links`, given the chains that
    moved ($1), what each one's last anchor covered ($2) and its head ($3), lists (chain, seq,
    hash) in order. Anchored only where `table` exists (a component not migrated is none)."""

    table: str
    heads: str
    links: str


# The journal: one chain per enterprise.
JOURNAL = ChainSource(
    "entries",
    "SELECT enterprise_id AS chain, head_seq FROM enterprises WHERE head_seq > 0",
    "SELECT e.enterprise_id AS chain, e.seq, e.hash FROM entries e"
    " JOIN unnest($1::text[], $2::bigint[], $3::bigint[]) AS c(id, after, upto)"
    "   ON e.enterprise_id = c.id AND e.seq > c.after AND e.seq <= c.upto"
    " ORDER BY e.enterprise_id, e.seq",
)
# Other components' chains (the payouts' transfers), registered by the composition root.
CHAINS: list[ChainSource] = [JOURNAL]


class AnchorLog:
    """Where anchors go: appended to the file (fsynced) and then produced to the topic, keyed
    by chain; only the ledger writes either."""

    def __init__(self, path: Path, producer: RecordWriter | None, topic: str) -> None:
        self.path = path
        self._producer = producer
        self._topic = topic

    async def append(self, anchors: list[Anchor]) -> None:
        await asyncio.to_thread(append_lines, self.path, anchors)
        if self._producer is None or not anchors:
            return
        # A head may be anchored again (a send that failed after the file took it, `ledger
        # verify`): each signing is its own record, named by its bytes.
        lines = [a.line().rstrip() for a in anchors]
        sends = [
            await self._producer.send(
                self._topic, line, key=a.chain.encode(),
                ce_id=f"anchor/{a.chain}/{a.seq}/{hashlib.sha256(line).hexdigest()[:16]}",
            )
            for a, line in zip(anchors, lines, strict=True)
        ]  # fmt: skip
        await asyncio.gather(*sends)


class Anchorer:
    """Signs the heads that moved since its last anchor of them. It starts from what the anchor
    file already holds, so a restarted relay does not anchor every chain from genesis again."""

    def __init__(
        self,
        signer: Signer,
        anchor_log: AnchorLog,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._signer = signer
        self._log = anchor_log
        self._clock = clock
        self._anchored: dict[str, int] = {}
        self.resume()

    def resume(self) -> None:
        """Start from what the anchor file holds now (a standby relay taking over reads what
        the previous leader appended)."""
        self._anchored = anchored_heads(self._log.path)

    async def anchor(self, conn: asyncpg.Connection) -> int:
        """Anchor every chain whose head moved; returns how many anchors were written."""
        moved: list[tuple[str, int, int]] = []
        hashes: dict[str, list[str]] = {}
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            for source in CHAINS:
                if await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", source.table):
                    moved += await self._moved(conn, source, hashes)
        if not moved:
            return 0
        now = self._clock()
        anchors = [
            sign_anchor(self._signer, chain, first + 1, hashes[chain], now)
            for chain, first, _ in moved
            if hashes.get(chain)
        ]
        await self._log.append(anchors)
        for a in anchors:
            self._anchored[a.chain] = a.seq
        metrics.ANCHORS.inc(len(anchors))
        log.info("ledger.anchored", anchors=len(anchors), path=str(self._log.path))
        return len(anchors)

    async def _moved(
        self, conn: asyncpg.Connection, source: ChainSource, hashes: dict[str, list[str]]
    ) -> list[tuple[str, int, int]]:
        """The source's chains whose head moved since their last anchor, with their new links
        added to `hashes`."""
        moved = [
            (r["chain"], self._anchored.get(r["chain"], 0), r["head_seq"])
            for r in await conn.fetch(source.heads)
            if r["head_seq"] > self._anchored.get(r["chain"], 0)
        ]
        if moved:
            ids, after, upto = (list(column) for column in zip(*moved, strict=True))
            for r in await conn.fetch(source.links, ids, after, upto):
                hashes.setdefault(r["chain"], []).append(r["hash"])
        return moved
