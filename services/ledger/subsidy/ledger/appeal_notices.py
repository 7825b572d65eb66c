"""Appeal notices (0012_appeal_notices), written with the appeal or decision they announce."""

# A notice is built when an appeal or its decision is first recorded, and written in that
# transaction; the relay publishes them, signed, on appeals.v1.

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from subsidy.contract.instants import timestamp
from subsidy.decisions.v1 import decisions_pb2 as dpb
from subsidy.domain.beijing import beijing_iso
from subsidy.domain.deadlines import Queue, due
from subsidy.domain.ledger.records import Appeal, AppealDecision, Remedy
from subsidy.domain.ledger.state import BookState


@dataclass(frozen=True, slots=True)
class Facts:
    """The appealed entitlement as it stood when the appeal or its decision was applied (a
    later event of the batch may change the state the book holds)."""

    enterprise_name: str
    rule_id: str
    measure: int
    funding_channels: tuple[str, ...]
    status: str
    granted_fen: int


def facts(book: BookState, entitlement_id: str) -> Facts:
    """The entitlement's facts now."""
    s = book.entitlements[entitlement_id]
    return Facts(s.enterprise_name, s.ent.rule_id, s.ent.measure, tuple(s.ent.funding_channels),
                 s.status.value, s.granted_fen)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Filed:
    """What a notice says of the appeal itself: who filed it and when it was recorded."""

    filed_by: str | None
    recorded_at: datetime


def kind_of(d: AppealDecision) -> "dpb.AppealNoticeKind.ValueType":
    """Dismissed, upheld with the source's correction as the remedy, or reopened."""
    if not d.upheld:
        return dpb.APPEAL_DISMISSED
    if d.remedy is Remedy.REOPENED:
        return dpb.APPEAL_REOPENED
    return dpb.APPEAL_UPHELD_BY_CORRECTION


def build(
    kind: "dpb.AppealNoticeKind.ValueType", appeal_id: str, event_id: str, enterprise_id: str,
    entitlement_id: str, f: Facts, reason: str, filed: Filed,
    decided: tuple[str, datetime] | None = None,
) -> dpb.AppealNotice:  # fmt: skip
    """One notice; `decided` is (who, when recorded) once the appeal is decided. Its deadline
    is the workbench's: 15 working days from the day the ledger recorded the appeal. Each time
    goes in its Timestamp and, until v2.0.0, in the deprecated string beside it."""
    due_at = due(Queue.APPEALS, filed.recorded_at)
    notice = dpb.AppealNotice(
        notice_id=f"{appeal_id}#{dpb.AppealNoticeKind.Name(kind)}", kind=kind,
        appeal_id=appeal_id, event_id=event_id, enterprise_id=enterprise_id,
        enterprise_name=f.enterprise_name, entitlement_id=entitlement_id, rule_id=f.rule_id,
        measure=f.measure,
        funding_channels=list(f.funding_channels), status=dpb.Status.Value(f.status),
        granted_fen=f.granted_fen, reason=reason, filed_by=filed.filed_by or "",
        filed_at=beijing_iso(filed.recorded_at), filed_time=timestamp(filed.recorded_at),
        due_at=beijing_iso(due_at), due_time=timestamp(due_at),
    )  # fmt: skip
    if decided is not None:
        notice.decided_by, notice.decided_at = decided[0], beijing_iso(decided[1])
        notice.decided_time.CopyFrom(timestamp(decided[1]))
    return notice


def filed_notice(a: Appeal, f: Facts, at: datetime) -> dpb.AppealNotice:
    """An appeal recorded at `at`: it waits for the rule's bureaus."""
    return build(dpb.APPEAL_FILED, a.event_id, a.event_id, a.enterprise_id, a.entitlement_id,
                 f, a.reason, Filed(a.filed_by, at))  # fmt: skip


def decided_notice(d: AppealDecision, f: Facts, filed: Filed, at: datetime) -> dpb.AppealNotice:
    """An appeal's decision recorded at `at`."""
    return build(kind_of(d), d.appeal_id, d.event_id, d.enterprise_id, d.entitlement_id, f,
                 d.reason, filed, (d.decided_by, at))  # fmt: skip


async def appeals_filed(conn: asyncpg.Connection, appeal_ids: list[str]) -> dict[str, Filed]:
    """Who filed these appeals and when the ledger recorded them."""
    rows = await conn.fetch(
        "SELECT event_id, filed_by, recorded_at FROM appeals WHERE event_id = ANY($1::text[])",
        appeal_ids,
    )
    return {r["event_id"]: Filed(r["filed_by"], r["recorded_at"]) for r in rows}


async def write(conn: asyncpg.Connection, notices: list[dpb.AppealNotice]) -> None:
    """Into the outbox; a notice of an appeal and kind already there is not written again."""
    await conn.executemany(
        "INSERT INTO appeal_notices (notice_id, appeal_id, kind, enterprise_id, message)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        [_row(n) for n in notices],
    )


def _row(n: dpb.AppealNotice) -> tuple[Any, ...]:
    kind = dpb.AppealNoticeKind.Name(n.kind)
    return (n.notice_id, n.appeal_id, kind, n.enterprise_id, n.SerializeToString())
