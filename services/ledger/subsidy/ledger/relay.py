"""The outbox relay: the worker's committed decisions published on decisions.v1, marked sent."""

# The appeals' notices (subsidy.ledger.appeal_notices) too, on appeals.v1.
#
# The worker never talks to decisions.v1 itself: it writes the decision and its outbox row in the
# deciding transaction, and this relay publishes committed rows afterwards, so there is no dual
# write. A crash between the broker's ack and marking the rows sent publishes them again on restart
# (at-least-once); the idempotent producer removes the broker-side retries and consumers deduplicate
# on decision_id (`<entitlementId>#<revision>`).
#
# Each record is signed with the ledger's Ed25519 key over its exact value bytes (headers
# `subsidy-signature`, `subsidy-key-id`), so the notifier acts only on what the ledger decided, not
# on whatever a Kafka writer put on the topic. Being the one active instance, the relay also anchors
# the chains' heads at a fixed cadence (`subsidy.ledger.anchoring`): those of the enterprises whose
# decisions it published since, as the worker appends an enterprise's journal entries in the
# transaction that writes its decisions' outbox rows.

import asyncio
import contextlib
import time

import asyncpg
import structlog

from subsidy.infra.records import RecordWriter
from subsidy.infra.signing_keys import (
    APPEAL_NOTICE_CONTEXT,
    KEY_ID_HEADER,
    SIGNATURE_HEADER,
    Signer,
)
from subsidy.ledger import metrics
from subsidy.ledger.anchoring import Anchorer
from subsidy.ledger.settings import LedgerSettings

log = structlog.get_logger(__name__)

# Only one relay publishes at a time (the others wait on this session lock): two relays
# taking alternate rows could publish one enterprise's decisions out of order.
_RELAY_LOCK = 0x1ED6E5


def signed_headers(signer: Signer, value: bytes) -> list[tuple[str, bytes]]:
    """The Kafka headers of a signed decision: the raw 64-byte Ed25519 signature over the
    value, and the signing key's id."""
    return [(SIGNATURE_HEADER, signer.sign(value)), (KEY_ID_HEADER, signer.key_id.encode())]


async def relay_once(
    conn: asyncpg.Connection, producer: RecordWriter, topic: str, limit: int, signer: Signer
) -> list[str]:
    """Publish up to `limit` unsent outbox rows in outbox order; returns their enterprises
    (one per row published)."""
    async with conn.transaction():
        # The batch first (the unsent index, in order, LIMIT), then each row's message by
        # primary key. A plain join let the planner, misled by the outbox's stale statistics
        # (every row unsent when last analysed), hash-join a full scan of `decisions` at each
        # poll: work growing with the ledger, most of PostgreSQL's CPU in the benchmark.
        rows = await conn.fetch(
            "WITH batch AS MATERIALIZED ("
            "  SELECT id, decision_id, enterprise_id FROM outbox WHERE sent_at IS NULL"
            "  ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)"
            " SELECT b.id, b.decision_id, b.enterprise_id,"
            "  (SELECT d.message FROM decisions d WHERE d.decision_id = b.decision_id) AS message"
            " FROM batch b ORDER BY b.id",
            limit,
        )
        if not rows:
            return []
        # Keyed by enterprise (like every topic of the platform): one enterprise's decisions
        # stay in order on one partition.
        sends = [
            await producer.send(
                topic,
                r["message"],
                key=r["enterprise_id"].encode(),
                headers=signed_headers(signer, r["message"]),
                ce_id=f"decision/{r['decision_id']}",
                subject=r["enterprise_id"],
            )
            for r in rows
        ]
        await asyncio.gather(*sends)  # acks=all for every one before they count as sent
        await conn.execute(
            "UPDATE outbox SET sent_at = now() WHERE id = ANY($1::bigint[])",
            [r["id"] for r in rows],
        )
    metrics.RELAYED.inc(len(rows))
    return [r["enterprise_id"] for r in rows]


def signed_notice_headers(signer: Signer, value: bytes) -> list[tuple[str, bytes]]:
    """The Kafka headers of a signed appeal notice: the signature over the notice context and
    the value (a decision's signature does not check as a notice's, nor the other way)."""
    signature = signer.sign(APPEAL_NOTICE_CONTEXT + value)
    return [(SIGNATURE_HEADER, signature), (KEY_ID_HEADER, signer.key_id.encode())]


async def relay_notices_once(
    conn: asyncpg.Connection, producer: RecordWriter, topic: str, limit: int, signer: Signer
) -> list[str]:
    """Publish up to `limit` unsent appeal notices in outbox order; returns their enterprises
    (one per notice published)."""
    async with conn.transaction():
        rows = await conn.fetch(
            "SELECT id, notice_id, enterprise_id, message FROM appeal_notices WHERE sent_at IS NULL"
            " ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
            limit,
        )
        if not rows:
            return []
        # Keyed by enterprise, as decisions are: one enterprise's notices stay in order.
        sends = [
            await producer.send(topic, r["message"], key=r["enterprise_id"].encode(),
                                headers=signed_notice_headers(signer, r["message"]),
                                ce_id=f"appeal-notice/{r['notice_id']}", subject=r["enterprise_id"])
            for r in rows
        ]  # fmt: skip
        await asyncio.gather(*sends)  # acks=all for every one before they count as sent
        await conn.execute(
            "UPDATE appeal_notices SET sent_at = now() WHERE id = ANY($1::bigint[])",
            [r["id"] for r in rows],
        )
    metrics.APPEAL_NOTICES_RELAYED.inc(len(rows))
    return [r["enterprise_id"] for r in rows]


class Relay:
    """Publishes the outbox on its connection and producer (`subsidy.ledger.bootstrap` opens,
    starts and closes them), signing with `signer` and anchoring with `anchorer`; closing the
    connection releases the relay lock."""

    def __init__(
        self,
        settings: LedgerSettings,
        conn: asyncpg.Connection,
        producer: RecordWriter,
        signer: Signer,
        anchorer: Anchorer,
    ) -> None:
        self.settings = settings
        self.published = 0
        self._conn = conn
        self._producer = producer
        self._signer = signer
        self._anchorer = anchorer
        self._next_anchor = 0.0

    async def _anchor_if_due(self) -> float:
        """Anchor when the cadence says so; seconds until the next anchor."""
        now = time.monotonic()
        if now >= self._next_anchor:
            await self._anchorer.anchor(self._conn)
            self._next_anchor = now + self.settings.anchor_seconds
        return self._next_anchor - now

    async def _lead(self, stop: asyncio.Event) -> bool:
        """Wait in standby until this relay holds the lock (True) or `stop` is set (False)."""
        while not await self._conn.fetchval("SELECT pg_try_advisory_lock($1)", _RELAY_LOCK):
            log.info("ledger.relay.standby")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.settings.relay_poll_seconds)
            if stop.is_set():
                return False
        return True

    async def run(self, stop: asyncio.Event) -> int:
        """Relay until `stop` is set: woken by NOTIFY ledger_outbox, polling as a fallback.
        Returns the number of decisions published."""
        s = self.settings
        if not await self._lead(stop):
            return 0
        # A standby taking over does not know what the previous leader published: its first
        # anchoring sweeps every chain past its mark.
        self._anchorer.resume()
        wake = asyncio.Event()
        await self._conn.add_listener("ledger_outbox", lambda *_: wake.set())
        log.info("ledger.relay.started", topic=s.decisions_topic, anchors=str(s.anchor_file))
        while not stop.is_set():
            # Cleared before reading, so a NOTIFY during the read is not lost.
            wake.clear()
            published = await relay_once(
                self._conn, self._producer, s.decisions_topic, s.relay_batch_size, self._signer
            )
            published += await relay_notices_once(
                self._conn, self._producer, s.appeals_topic, s.relay_batch_size, self._signer
            )
            # Their chains are the ones that may have moved: the next anchoring reads those.
            self._anchorer.moved(published)
            sent = len(published)
            self.published += sent
            until_anchor = await self._anchor_if_due()
            if sent:
                continue
            waiters = [asyncio.ensure_future(wake.wait()), asyncio.ensure_future(stop.wait())]
            await asyncio.wait(
                waiters,
                timeout=min(s.relay_poll_seconds, until_anchor),
                return_when=asyncio.FIRST_COMPLETED,
            )
            for w in waiters:
                w.cancel()
        # The heads as they are at a clean stop, so nothing decided goes unanchored for long.
        await self._anchorer.anchor(self._conn)
        return self.published
