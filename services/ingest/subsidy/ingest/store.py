"""PostgreSQL side of ingestion: accepted event ids, rejections, feed files."""

# Accepted event ids are kept with their revisions and content hashes.

import hashlib
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg

from subsidy.domain.events import FieldError
from subsidy.events.v1 import events_pb2 as epb
from subsidy.infra.db_roles import LEDGER_TABLES, RoleNeeds
from subsidy.infra.migrate import migrate
from subsidy.ingest.revisions import Known

COMPONENT = "ingest"
MIGRATIONS = "subsidy.ingest.migrations"
# The API and the watcher: members of subsidy_ingest (migration 0003), kept off the ledger;
# the history of revisions (0004) they may only add to.
ROLE = RoleNeeds(
    "ingest", COMPONENT, MIGRATIONS,
    ("ingest_accepted_events", "ingest_rejections", "ingest_feed_files"),
    append_only=("ingest_event_revisions",), forbidden=LEDGER_TABLES,
)  # fmt: skip


async def migrate_ingest(conn: asyncpg.Connection) -> list[str]:
    """Apply the ingest component's pending migrations."""
    return await migrate(conn, COMPONENT, MIGRATIONS)


@dataclass(frozen=True, slots=True)
class Accepted:
    """An event Kafka acknowledged, with where it landed and who submitted it how."""

    event_id: str
    content_hash: str
    enterprise_id: str
    source: str
    topic: str
    partition: int
    offset: int
    principal: str
    channel: epb.SubmissionChannel.ValueType
    revision: int = 1
    event_type: str | None = None  # the payload's name: a correction must keep it


@dataclass(frozen=True, slots=True)
class Rejected:
    """An event the API refused, with a digest of the message as it was submitted."""

    event_id: str | None
    errors: tuple[FieldError, ...]
    message_sha256: str

    @property
    def error(self) -> str:
        """The errors joined as `field: message; field: message`, like str(InvalidEvent)."""
        return "; ".join(str(e) for e in self.errors)

    @property
    def fingerprint(self) -> str:
        """Same message, same error: the same rejection (logged once)."""
        return hashlib.sha256(f"{self.message_sha256}\n{self.error}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class FeedFile:
    """A feed file the watcher processed."""

    sha256: str
    file_name: str
    status: str
    rows_read: int
    accepted: int
    duplicates: int
    rejected: int


class LockedIds:
    """Event ids locked for one transaction: no other writer, in this process or another
    replica, can accept them until it ends."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def known(self, event_ids: Sequence[str]) -> dict[str, Known]:
        """The given ids that were already accepted: the revision in force, its enterprise and
        source, the content hash of every revision accepted, the original's sender and type."""
        rows = await self._conn.fetch(
            "SELECT a.event_id, a.revision AS current, a.enterprise_id, a.source, r.revision,"
            " r.content_hash, a.submitted_by, a.event_type FROM ingest_accepted_events a"
            " JOIN ingest_event_revisions r USING (event_id)"
            " WHERE a.event_id = ANY($1::text[])",
            list(event_ids),
        )
        found: dict[str, Known] = {}
        for r in rows:
            known = found.setdefault(
                r["event_id"],
                Known(r["current"], r["enterprise_id"], r["source"], {}, r["submitted_by"],
                      r["event_type"]),
            )  # fmt: skip
            known.hashes[r["revision"]] = r["content_hash"]
        return found

    async def record_accepted(self, accepted: Sequence[Accepted]) -> None:
        """Remember events Kafka acknowledged (committed when the lock is released): each
        revision in the history, the highest of each id as the one in force."""
        if not accepted:
            return
        # A batch may hold an original and its correction: one row per id, the last taken.
        latest = list({a.event_id: a for a in accepted}.values())
        await self._conn.execute(
            """
            INSERT INTO ingest_accepted_events (event_id, content_hash, enterprise_id, source,
                                                topic, kafka_partition, kafka_offset,
                                                submitted_by, channel, revision, event_type)
            SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                                 $6::int[], $7::bigint[], $8::text[], $9::text[], $10::int[],
                                 $11::text[])
            ON CONFLICT (event_id) DO UPDATE SET
                content_hash = EXCLUDED.content_hash, revision = EXCLUDED.revision,
                topic = EXCLUDED.topic, kafka_partition = EXCLUDED.kafka_partition,
                kafka_offset = EXCLUDED.kafka_offset
            WHERE ingest_accepted_events.revision < EXCLUDED.revision
            """,
            [a.event_id for a in latest],
            [a.content_hash for a in latest],
            [a.enterprise_id for a in latest],
            [a.source for a in latest],
            [a.topic for a in latest],
            [a.partition for a in latest],
            [a.offset for a in latest],
            [a.principal for a in latest],
            [epb.SubmissionChannel.Name(a.channel) for a in latest],
            [a.revision for a in latest],
            [a.event_type for a in latest],
        )
        await self._conn.execute(
            """
            INSERT INTO ingest_event_revisions (event_id, revision, content_hash, submitted_by)
            SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[])
            ON CONFLICT (event_id, revision) DO NOTHING
            """,
            [a.event_id for a in accepted],
            [a.revision for a in accepted],
            [a.content_hash for a in accepted],
            [a.principal for a in accepted],
        )


class IngestStore:
    """The idempotency table and the rejection log, over a connection pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @asynccontextmanager
    async def locked(self, event_ids: Sequence[str]) -> AsyncIterator[LockedIds]:
        """Hold transaction-scoped advisory locks on the ids across check, produce and record,
        so two writers of one id cannot both find it new and both produce it. Locks are taken
        in key order, so overlapping batches cannot deadlock."""
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                """
                SELECT pg_advisory_xact_lock(k)
                FROM (SELECT DISTINCT hashtextextended(id, 0) AS k
                      FROM unnest($1::text[]) AS id ORDER BY k) AS keys
                """,
                list(event_ids),
            )
            yield LockedIds(conn)

    async def record_rejections(self, rejected: Sequence[Rejected]) -> None:
        """Log rejections for the export; the same bad message again adds no row."""
        if not rejected:
            return
        details = [
            json.dumps([{"field": e.field, "message": e.message} for e in r.errors],
                       ensure_ascii=False)
            for r in rejected
        ]  # fmt: skip
        await self._pool.execute(
            """
            INSERT INTO ingest_rejections (event_id, error, field_errors, fingerprint)
            SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::text[])
            ON CONFLICT (fingerprint) DO NOTHING
            """,
            [r.event_id for r in rejected],
            [r.error for r in rejected],
            details,
            [r.fingerprint for r in rejected],
        )


class FeedFileStore:
    """Which feed files (by content) the watcher has processed."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def get(self, sha256: str) -> FeedFile | None:
        """The earlier processing of a file with this content, if any."""
        row = await self._conn.fetchrow(
            "SELECT sha256, file_name, status, rows_read, accepted, duplicates, rejected"
            " FROM ingest_feed_files WHERE sha256 = $1",
            sha256,
        )
        return FeedFile(**dict(row)) if row is not None else None

    async def record(self, f: FeedFile) -> None:
        """Remember a processed file; a second record of the same content keeps the first."""
        await self._conn.execute(
            """
            INSERT INTO ingest_feed_files
                (sha256, file_name, status, rows_read, accepted, duplicates, rejected)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            ON CONFLICT (sha256) DO NOTHING
            """,
            f.sha256, f.file_name, f.status, f.rows_read, f.accepted, f.duplicates, f.rejected,
        )  # fmt: skip
