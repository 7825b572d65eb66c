"""Anchoring: the chains' heads read from the ledger, signed, and appended to the anchor log
(the anchor file and the anchors topic, both outside PostgreSQL)."""

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer

from subsidy.infra.signing_keys import Signer
from subsidy.ledger import metrics
from subsidy.ledger.anchors import Anchor, anchored_heads, append_lines, sign_anchor

log = structlog.get_logger(__name__)

_HEADS = "SELECT enterprise_id, head_seq FROM enterprises WHERE head_seq > 0"
# The entries of the chains that moved, after what each chain's last anchor covered.
_NEW_ENTRIES = (
    "SELECT e.enterprise_id, e.seq, e.hash FROM entries e"
    " JOIN unnest($1::text[], $2::bigint[], $3::bigint[]) AS c(id, after, upto)"
    "   ON e.enterprise_id = c.id AND e.seq > c.after AND e.seq <= c.upto"
    " ORDER BY e.enterprise_id, e.seq"
)


class AnchorLog:
    """Where anchors go: appended to the file (fsynced) and then produced to the topic, keyed
    by chain; only the ledger writes either."""

    def __init__(self, path: Path, producer: AIOKafkaProducer | None, topic: str) -> None:
        self.path = path
        self._producer = producer
        self._topic = topic

    async def append(self, anchors: list[Anchor]) -> None:
        await asyncio.to_thread(append_lines, self.path, anchors)
        if self._producer is None or not anchors:
            return
        sends = [
            await self._producer.send(self._topic, key=a.chain.encode(), value=a.line().rstrip())
            for a in anchors
        ]
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
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            moved = [
                (r["enterprise_id"], self._anchored.get(r["enterprise_id"], 0), r["head_seq"])
                for r in await conn.fetch(_HEADS)
                if r["head_seq"] > self._anchored.get(r["enterprise_id"], 0)
            ]
            if not moved:
                return 0
            ids, after, upto = (list(column) for column in zip(*moved, strict=True))
            rows = await conn.fetch(_NEW_ENTRIES, ids, after, upto)
        hashes: dict[str, list[str]] = {}
        for r in rows:
            hashes.setdefault(r["enterprise_id"], []).append(r["hash"])
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
