"""Reads the payouts' notices (their outbox table) past the notifier's cursor and plans them."""

# The payouts write `payout_notices` in the transaction of the operation that caused each one, under
# the desk lock every payouts operation takes, so notices become visible in id order: a reader that
# has seen id N will never later see a smaller one appear, and a cursor (the highest id taken in)
# loses nothing. The cursor is the highest `source_id` in `notifier_payout_notices`, kept in the
# transaction that plans the notices' deliveries, so a crash plans nothing or all. Two notifiers may
# read the same notices; the unique keys (notice id; notice, channel, recipient) let only one of
# them plan each message.

import asyncio
import contextlib
from collections.abc import Callable, Sequence

import asyncpg
import structlog

from subsidy.domain.payouts.orders import PayoutNotice
from subsidy.infra.postgres import DATABASE_ERRORS
from subsidy.infra.retries import DATABASE_OUTAGE
from subsidy.notifier import metrics
from subsidy.notifier import repository as repo
from subsidy.notifier.payout_messages import Notice
from subsidy.notifier.planner import Planned, notice_recipient, plan_notice
from subsidy.notifier.settings import NotifierSettings
from subsidy.notifier.subscriptions import Subscription

log = structlog.get_logger(__name__)

_DELIVERY_COLUMNS = ("notice_id", "channel", "recipient", "endpoint", "audience", "subscriber",
                     "language", "subject", "body")  # fmt: skip


async def read_notices(conn: asyncpg.Connection, limit: int) -> list[Notice]:
    """Up to `limit` notices past the cursor, in id order."""
    rows = await conn.fetch(
        """
        SELECT id, created_at, notice_id, kind, channel, year, amount_fen, enterprise_id,
               enterprise_name, order_id, batch_id, reason
          FROM payout_notices
         WHERE id > (SELECT coalesce(max(source_id), 0) FROM notifier_payout_notices)
         ORDER BY id
         LIMIT $1
        """,
        limit,
    )
    return [
        Notice(r["id"], r["created_at"], PayoutNotice(
            r["notice_id"], r["kind"], r["channel"], r["year"], r["amount_fen"],
            r["enterprise_id"], r["enterprise_name"], r["order_id"], r["batch_id"], r["reason"],
        ))
        for r in rows
    ]  # fmt: skip


def _notice_columns(notices: Sequence[Notice]) -> list[list[object]]:
    """The columns of notifier_payout_notices, one list each, in the INSERT's order."""
    fields = ("kind", "channel", "year", "amount_fen", "enterprise_id", "order_id", "batch_id")
    return [
        [n.notice.notice_id for n in notices],
        [n.id for n in notices],
        *[[getattr(n.notice, f) for n in notices] for f in fields],
        [n.created_at for n in notices],
    ]


async def record_notices(
    conn: asyncpg.Connection, notices: Sequence[Notice], planned: Sequence[Planned]
) -> list[Planned]:
    """In one transaction: take the notices in (which moves the cursor past them) and plan
    the deliveries of those taken in for the first time. Returns what was planned now."""
    async with conn.transaction():
        fresh_ids = {
            row["notice_id"]
            for row in await conn.fetch(
                """
                INSERT INTO notifier_payout_notices
                       (notice_id, source_id, kind, channel, year, amount_fen, enterprise_id,
                        order_id, batch_id, created_at)
                SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[],
                                     $5::int[], $6::bigint[], $7::text[], $8::text[],
                                     $9::text[], $10::timestamptz[])
                ON CONFLICT DO NOTHING
                RETURNING notice_id
                """,
                *_notice_columns(notices),
            )
        }
        fresh = [p for p in planned if p.notice_id in fresh_ids]
        if not fresh:
            return []
        rows = await conn.fetch(
            """
            INSERT INTO notifier_deliveries
                   (notice_id, channel, recipient, endpoint, audience, subscriber, language,
                    subject, body)
            SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                                 $6::text[], $7::text[], $8::text[], $9::text[])
            ON CONFLICT (notice_id, channel, recipient) DO NOTHING
            RETURNING notice_id, channel, recipient
            """,
            *[[getattr(p, f) for p in fresh] for f in _DELIVERY_COLUMNS],
        )
    inserted = {(r["notice_id"], r["channel"], r["recipient"]) for r in rows}
    return [p for p in fresh if (p.notice_id, p.channel, p.recipient) in inserted]


def _plan_all(
    notices: Sequence[Notice], enterprises: dict[str, Subscription],
    bureaus: dict[str, Subscription],
) -> list[Planned]:  # fmt: skip
    """Each notice's deliveries."""
    planned: list[Planned] = []
    for n in notices:
        try:
            planned += plan_notice(n, enterprises, bureaus)
        except Exception:
            # A notice we cannot render must not stop the others for ever; it is still
            # taken in (notifier_payout_notices) and the error is in the log.
            log.exception("notifier.notice_unplannable", notice_id=n.notice.notice_id)
    return planned


class NoticePoller:
    """Polls the payouts' outbox every `poll_seconds` (at once again after a full batch)."""

    def __init__(
        self, settings: NotifierSettings, pool: asyncpg.Pool, on_planned: Callable[[], None]
    ) -> None:
        self._settings = settings
        self._pool = pool
        self._on_planned = on_planned

    async def run(self, stop: asyncio.Event) -> None:
        """Take notices in until `stop`; a database error is retried with backoff."""
        backoff = DATABASE_OUTAGE.backoff("notifier.notices_failed")
        while not stop.is_set():
            try:
                read = await self.poll()
            except DATABASE_ERRORS as err:
                await _pause(stop, backoff.failed(err))
                continue
            backoff.succeeded()
            if read < self._settings.batch_size:  # caught up: wait for more
                await _pause(stop, self._settings.poll_seconds)

    async def poll(self) -> int:
        """One batch: read, plan, record. Returns how many notices were read."""
        async with self._pool.acquire() as conn:
            notices = await read_notices(conn, self._settings.batch_size)
            if not notices:
                return 0
            for n in notices:
                metrics.NOTICES_CONSUMED.labels(n.notice.kind).inc()
            wanted = [r for n in notices if (r := notice_recipient(n)) is not None]
            enterprises, bureaus = await repo.subscriptions_for(
                conn,
                [who for audience, who in wanted if audience == "enterprise"],
                [who for audience, who in wanted if audience == "bureau"],
            )
            fresh = await record_notices(conn, notices, _plan_all(notices, enterprises, bureaus))
        for p in fresh:
            metrics.PLANNED.labels(p.channel, p.audience).inc()
        if fresh:
            log.info("notifier.notices_planned", notices=len(notices), deliveries=len(fresh))
            self._on_planned()
        return len(notices)


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    """Sleep `seconds`, or less if `stop` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
