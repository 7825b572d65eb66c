"""The notifier's PostgreSQL: subscriptions, planned deliveries, claims with leases, attempts."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import asyncpg

from subsidy.decisions.v1 import decisions_pb2 as dpb
from subsidy.infra.db_roles import LEDGER_TABLES, RoleNeeds
from subsidy.infra.migrate import migrate
from subsidy.notifier.messages import Language
from subsidy.notifier.planner import Channel, Planned
from subsidy.notifier.subscriptions import Kind, Subscription

COMPONENT = "notifier"
MIGRATIONS = "subsidy.notifier.migrations"
# The worker, the admin API and the commands: members of subsidy_notifier (migration 0002).
# The payouts' outbox is read, never rewritten (their 0003 grants SELECT).
ROLE = RoleNeeds(
    "notifier", COMPONENT, MIGRATIONS,
    ("notifier_subscriptions", "notifier_decisions", "notifier_deliveries", "notifier_attempts",
     "notifier_payout_notices", "notifier_appeal_notices"),
    append_only=("payout_notices",), forbidden=LEDGER_TABLES,
)  # fmt: skip


async def migrate_notifier(conn: asyncpg.Connection) -> list[str]:
    """Apply the notifier's pending migrations."""
    return await migrate(conn, COMPONENT, MIGRATIONS)


# ---- subscriptions ---------------------------------------------------------------------


def _subscription(row: asyncpg.Record) -> Subscription:
    language: Language = "en" if row["language"] == "en" else "zh"
    kind: Kind = "bureau" if row["kind"] == "bureau" else "enterprise"
    return Subscription(kind, row["subscriber"], row["webhook_url"], row["email"], language)


async def put_subscriptions(conn: asyncpg.Connection, subs: Sequence[Subscription]) -> None:
    """Create or replace subscriptions (one per subscriber), all or none."""
    async with conn.transaction():
        await conn.executemany(
            """
            INSERT INTO notifier_subscriptions (kind, subscriber, webhook_url, email, language)
            VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (kind, subscriber) DO UPDATE
               SET webhook_url = EXCLUDED.webhook_url, email = EXCLUDED.email,
                   language = EXCLUDED.language, updated_at = now()
            """,
            [(s.kind, s.subscriber, s.webhook_url, s.email, s.language) for s in subs],
        )


async def list_subscriptions(conn: asyncpg.Connection) -> list[Subscription]:
    """Every subscription, enterprises first, then bureaus, each by subscriber."""
    rows = await conn.fetch("SELECT * FROM notifier_subscriptions ORDER BY kind DESC, subscriber")
    return [_subscription(r) for r in rows]


async def subscriptions_for(
    conn: asyncpg.Connection, enterprise_ids: Iterable[str], bureaus: Iterable[str]
) -> tuple[dict[str, Subscription], dict[str, Subscription]]:
    """The subscriptions of these enterprises and of these bureaus."""
    rows = await conn.fetch(
        """
        SELECT * FROM notifier_subscriptions
         WHERE (kind = 'enterprise' AND subscriber = ANY($1::text[]))
            OR (kind = 'bureau' AND subscriber = ANY($2::text[]))
        """,
        sorted(set(enterprise_ids)),
        sorted(set(bureaus)),
    )
    enterprises: dict[str, Subscription] = {}
    by_bureau: dict[str, Subscription] = {}
    for row in rows:
        sub = _subscription(row)
        (enterprises if sub.kind == "enterprise" else by_bureau)[sub.subscriber] = sub
    return enterprises, by_bureau


# ---- planning ---------------------------------------------------------------------------

# A delivery's columns after the id of what it is about (a decision's, a notice's).
DELIVERY_COLUMNS = ("channel", "recipient", "endpoint", "audience", "subscriber", "language",
                    "subject", "body")  # fmt: skip


def _status_name(status: int) -> str:
    try:
        return str(dpb.Status.Name(cast(dpb.Status.ValueType, status)))
    except ValueError:  # a status newer than this build: keep the number
        return str(status)


@dataclass(frozen=True, slots=True)
class Consumed:
    """A decision as read from Kafka, with where it was read."""

    decision: dpb.Decision
    raw: bytes
    partition: int
    offset: int


async def record_batch(
    conn: asyncpg.Connection, consumed: Sequence[Consumed], planned: Sequence[Planned]
) -> list[Planned]:
    """In one transaction: remember the decisions, and plan the deliveries of those seen for
    the first time. A redelivered decision plans nothing (not even for a recipient subscribed
    since), and the unique key (decision_id, channel, recipient) stops a second plan in any
    case. Returns what was planned now."""
    async with conn.transaction():
        new_ids = {
            row["decision_id"]
            for row in await conn.fetch(
                """
                INSERT INTO notifier_decisions
                       (decision_id, enterprise_id, rule_id, status, payload,
                        kafka_partition, kafka_offset)
                SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],
                                     $5::bytea[], $6::int[], $7::bigint[])
                ON CONFLICT (decision_id) DO NOTHING
                RETURNING decision_id
                """,
                [c.decision.decision_id for c in consumed],
                [c.decision.enterprise_id for c in consumed],
                [c.decision.rule_id for c in consumed],
                [_status_name(c.decision.status) for c in consumed],
                [c.raw for c in consumed],
                [c.partition for c in consumed],
                [c.offset for c in consumed],
            )
        }
        fresh = [p for p in planned if p.decision_id in new_ids]
        if not fresh:
            return []
        rows = await conn.fetch(
            """
            INSERT INTO notifier_deliveries
                   (decision_id, channel, recipient, endpoint, audience, subscriber, language,
                    subject, body)
            SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                                 $6::text[], $7::text[], $8::text[], $9::text[])
            ON CONFLICT (decision_id, channel, recipient) DO NOTHING
            RETURNING decision_id, channel, recipient
            """,
            *[[getattr(p, f) for p in fresh] for f in ("decision_id", *DELIVERY_COLUMNS)],
        )
    inserted = {(r["decision_id"], r["channel"], r["recipient"]) for r in rows}
    return [p for p in fresh if (p.decision_id, p.channel, p.recipient) in inserted]


# ---- delivery ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery this worker holds a lease on; `attempt` is the number of this attempt.
    It is about a decision, a payout notice or an appeal notice: `key`, the one set, is its
    idempotency key."""

    id: int
    decision_id: str | None
    notice_id: str | None
    channel: Channel
    recipient: str
    endpoint: str
    subscriber: str
    language: Language
    subject: str
    body: str
    attempt: int
    created_at: datetime
    appeal_notice_id: str | None = None

    @property
    def key(self) -> str:
        return self.decision_id or self.notice_id or self.appeal_notice_id or ""


def _claimed(row: asyncpg.Record) -> Claimed:
    channel: Channel = "email" if row["channel"] == "email" else "webhook"
    language: Language = "en" if row["language"] == "en" else "zh"
    return Claimed(
        id=row["id"],
        decision_id=row["decision_id"],
        notice_id=row["notice_id"],
        channel=channel,
        recipient=row["recipient"],
        endpoint=row["endpoint"],
        subscriber=row["subscriber"],
        language=language,
        subject=row["subject"],
        body=row["body"],
        attempt=row["attempts"],
        created_at=row["created_at"],
        appeal_notice_id=row["appeal_notice_id"],
    )


def _choose(
    rows: list[asyncpg.Record],
    limit: int,
    room: dict[str, int],
    endpoint_limit: int,
    max_attempts: int,
) -> tuple[list[int], list[int]]:
    """The candidates to lease (within `limit` and each endpoint's room), and those that
    already had their attempts."""
    chosen: list[int] = []
    exhausted: list[int] = []
    free = dict(room)
    for row in rows:
        if row["attempts"] >= max_attempts:
            # Its last attempt was cut short by a crash: it has had its N attempts.
            exhausted.append(row["id"])
            continue
        left = free.get(row["endpoint"], endpoint_limit)
        if left <= 0 or len(chosen) >= limit:
            continue
        free[row["endpoint"]] = left - 1
        chosen.append(row["id"])
    return chosen, exhausted


async def claim(
    conn: asyncpg.Connection,
    *,
    worker: str,
    limit: int,
    room: dict[str, int],
    endpoint_limit: int,
    lease_seconds: float,
    max_attempts: int,
) -> list[Claimed]:
    """Lease up to `limit` due deliveries, at most `room[endpoint]` (else `endpoint_limit`)
    per endpoint. SKIP LOCKED lets several notifiers claim side by side without waiting on
    each other; the lease is what hands a crashed notifier's work to the others."""
    full = [endpoint for endpoint, free in room.items() if free <= 0]
    async with conn.transaction():
        rows = await conn.fetch(
            """
            SELECT id, endpoint, attempts FROM notifier_deliveries
             WHERE state = 'pending' AND next_attempt_at <= now()
               AND (lease_until IS NULL OR lease_until <= now())
               AND endpoint <> ALL($1::text[])
             ORDER BY next_attempt_at, id
             LIMIT $2
             FOR UPDATE SKIP LOCKED
            """,
            full,
            # Over-fetch: some candidates may be skipped for their endpoint's limit.
            limit * 4,
        )
        chosen, exhausted = _choose(rows, limit, room, endpoint_limit, max_attempts)
        if exhausted:
            await conn.execute(
                """
                UPDATE notifier_deliveries
                   SET state = 'dead', dead_at = now(), lease_until = NULL, leased_by = NULL,
                       last_error = coalesce(last_error || ' / ', '')
                                    || 'lease expired during the last attempt'
                 WHERE id = ANY($1::bigint[])
                """,
                exhausted,
            )
        if not chosen:
            return []
        claimed = await conn.fetch(
            """
            UPDATE notifier_deliveries
               SET attempts = attempts + 1, leased_by = $2,
                   lease_until = now() + make_interval(secs => $3)
             WHERE id = ANY($1::bigint[])
            RETURNING *
            """,
            chosen,
            worker,
            lease_seconds,
        )
    return sorted((_claimed(r) for r in claimed), key=lambda c: c.id)


async def finish(
    conn: asyncpg.Connection,
    claimed: Claimed,
    *,
    worker: str,
    started_at: datetime,
    duration_ms: int,
    outcome: str,
    detail: str,
    retry_in_seconds: float = 0.0,
) -> datetime | None:
    """Record an attempt's outcome ('sent', 'retry' or 'dead') and release the lease. Only
    the lease holder may move the row on (a notifier whose lease ran out may not overwrite
    the newer holder's work). Returns when the delivery was planned, None if the lease was
    lost."""
    async with conn.transaction():
        row = await conn.fetchrow(
            """
            UPDATE notifier_deliveries
               SET state = CASE $3 WHEN 'sent' THEN 'sent'
                                   WHEN 'dead' THEN 'dead' ELSE 'pending' END,
                   sent_at = CASE WHEN $3 = 'sent' THEN now() END,
                   dead_at = CASE WHEN $3 = 'dead' THEN now() END,
                   last_error = CASE WHEN $3 = 'sent' THEN last_error ELSE $4 END,
                   next_attempt_at = CASE WHEN $3 = 'retry'
                                          THEN now() + make_interval(secs => $5)
                                          ELSE next_attempt_at END,
                   lease_until = NULL, leased_by = NULL
             WHERE id = $1 AND leased_by = $2 AND state = 'pending'
            RETURNING created_at
            """,
            claimed.id,
            worker,
            outcome,
            detail,
            retry_in_seconds,
        )
        await conn.execute(
            """
            INSERT INTO notifier_attempts
                   (delivery_id, attempt, worker, started_at, duration_ms, outcome, detail)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            """,
            claimed.id,
            claimed.attempt,
            worker,
            started_at,
            duration_ms,
            outcome,
            detail,
        )
    return None if row is None else row["created_at"]


async def release(conn: asyncpg.Connection, ids: Sequence[int], worker: str) -> None:
    """Give back claims abandoned at shutdown so another notifier retries them at once."""
    await conn.execute(
        """
        UPDATE notifier_deliveries
           SET lease_until = NULL, leased_by = NULL, next_attempt_at = now(),
               last_error = 'interrupted by shutdown'
         WHERE id = ANY($1::bigint[]) AND leased_by = $2 AND state = 'pending'
        """,
        list(ids),
        worker,
    )


# ---- operators --------------------------------------------------------------------------


async def dead_deliveries(conn: asyncpg.Connection, limit: int = 100) -> list[dict[str, Any]]:
    """Dead deliveries, most recent first."""
    rows = await conn.fetch(
        """
        SELECT d.id, d.decision_id, d.notice_id, d.appeal_notice_id, d.channel, d.recipient,
               d.audience, d.subscriber, d.attempts, d.last_error, d.created_at, d.dead_at,
               coalesce(n.status, p.kind, a.kind) AS status
          FROM notifier_deliveries d LEFT JOIN notifier_decisions n USING (decision_id)
               LEFT JOIN notifier_payout_notices p USING (notice_id)
               LEFT JOIN notifier_appeal_notices a ON a.notice_id = d.appeal_notice_id
         WHERE d.state = 'dead'
         ORDER BY d.dead_at DESC, d.id DESC
         LIMIT $1
        """,
        limit,
    )
    return [dict(r) for r in rows]


async def requeue(conn: asyncpg.Connection, delivery_id: int) -> bool:
    """Put a dead delivery back in the queue with a fresh set of attempts; False unless it
    was dead."""
    row = await conn.fetchrow(
        """
        UPDATE notifier_deliveries
           SET state = 'pending', attempts = 0, next_attempt_at = now(), dead_at = NULL,
               lease_until = NULL, leased_by = NULL, requeues = requeues + 1
         WHERE id = $1 AND state = 'dead'
        RETURNING id
        """,
        delivery_id,
    )
    return row is not None
