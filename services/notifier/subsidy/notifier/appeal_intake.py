"""Appeal notices read from appeals.v1: decoded, planned and taken in once (0004_appeal_notices)."""

# The consumer checks the ledger's signature first (over the notice context and the value,
# subsidy.infra.signing_keys.APPEAL_NOTICE_CONTEXT), exactly as it does for decisions.

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import asyncpg
import structlog
from aiokafka import ConsumerRecord
from google.protobuf.message import DecodeError

from subsidy.decisions.v1 import decisions_pb2 as dpb
from subsidy.domain.catalog import Catalog
from subsidy.notifier import metrics
from subsidy.notifier.planner import Planned, appeal_notice_recipients, plan_appeal_notice
from subsidy.notifier.repository import DELIVERY_COLUMNS
from subsidy.notifier.subscriptions import Subscription

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class TakenNotice:
    """An appeal notice as read from Kafka, with where it was read."""

    notice: dpb.AppealNotice
    raw: bytes
    partition: int
    offset: int


def decode_notice(record: ConsumerRecord[bytes, bytes]) -> dpb.AppealNotice | None:
    """The record's AppealNotice, or None (logged, counted) when it is not one: its id must be
    `<appealId>#<kind>` of a kind this notifier knows."""
    try:
        if record.value is None:
            raise DecodeError("empty record")
        notice = dpb.AppealNotice.FromString(record.value)
        kind = dpb.AppealNoticeKind.Name(notice.kind) if notice.kind else ""
        if not kind or notice.notice_id != f"{notice.appeal_id}#{kind}":
            raise DecodeError("no kind, or a notice_id that is not <appealId>#<kind>")
        if not notice.appeal_id or not notice.enterprise_id:
            raise DecodeError("no appeal_id or enterprise_id")
    except (DecodeError, ValueError) as err:
        metrics.UNDECODABLE.inc()
        log.error("notifier.appeal_notice_undecodable", topic=record.topic,
                  partition=record.partition, offset=record.offset, error=str(err))  # fmt: skip
        return None
    return notice


def wanted(taken: Sequence[TakenNotice], catalog: Catalog) -> tuple[set[str], set[str]]:
    """The enterprises and the bureaus whose subscriptions these notices need."""
    enterprises: set[str] = set()
    bureaus: set[str] = set()
    for t in taken:
        who = appeal_notice_recipients(t.notice, catalog)
        (bureaus if t.notice.kind == dpb.APPEAL_FILED else enterprises).update(who)
    return enterprises, bureaus


def plan_all(
    taken: Sequence[TakenNotice], catalog: Catalog, enterprises: Mapping[str, Subscription],
    bureaus: Mapping[str, Subscription],
) -> list[Planned]:  # fmt: skip
    """Each notice's deliveries; one that cannot be rendered is logged and skipped (it is still
    taken in, so it cannot block its partition)."""
    planned: list[Planned] = []
    for t in taken:
        try:
            planned += plan_appeal_notice(t.notice, catalog, enterprises, bureaus)
        except Exception:
            log.exception("notifier.appeal_notice_unplannable", notice_id=t.notice.notice_id)
    return planned


async def record_notices(
    conn: asyncpg.Connection, taken: Sequence[TakenNotice], planned: Sequence[Planned]
) -> list[Planned]:
    """In one transaction: take the notices in, and plan the deliveries of those seen for the
    first time (a notice read again plans nothing). Returns what was planned now."""
    async with conn.transaction():
        rows = await conn.fetch(
            """
            INSERT INTO notifier_appeal_notices
                   (notice_id, appeal_id, kind, enterprise_id, rule_id, payload,
                    kafka_partition, kafka_offset)
            SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                                 $6::bytea[], $7::int[], $8::bigint[])
            ON CONFLICT (notice_id) DO NOTHING
            RETURNING notice_id
            """,
            [t.notice.notice_id for t in taken],
            [t.notice.appeal_id for t in taken],
            [dpb.AppealNoticeKind.Name(t.notice.kind) for t in taken],
            [t.notice.enterprise_id for t in taken],
            [t.notice.rule_id for t in taken],
            [t.raw for t in taken],
            [t.partition for t in taken],
            [t.offset for t in taken],
        )
        new_ids = {r["notice_id"] for r in rows}
        fresh = [p for p in planned if p.appeal_notice_id in new_ids]
        if not fresh:
            return []
        rows = await conn.fetch(
            """
            INSERT INTO notifier_deliveries
                   (appeal_notice_id, channel, recipient, endpoint, audience, subscriber,
                    language, subject, body)
            SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                                 $6::text[], $7::text[], $8::text[], $9::text[])
            ON CONFLICT (appeal_notice_id, channel, recipient) DO NOTHING
            RETURNING appeal_notice_id, channel, recipient
            """,
            *[[getattr(p, f) for p in fresh] for f in ("appeal_notice_id", *DELIVERY_COLUMNS)],
        )
    for t in taken:
        if t.notice.notice_id in new_ids:
            metrics.APPEAL_NOTICES_CONSUMED.labels(dpb.AppealNoticeKind.Name(t.notice.kind)).inc()
    inserted = {(r["appeal_notice_id"], r["channel"], r["recipient"]) for r in rows}
    return [p for p in fresh if (p.appeal_notice_id, p.channel, p.recipient) in inserted]
