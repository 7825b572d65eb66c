"""Appeals (0011_appeals): written with a batch, restored with a book."""

from datetime import datetime
from typing import Any

import asyncpg

from subsidy.api.v1 import api_pb2
from subsidy.domain.entitlements import Reason, Status
from subsidy.domain.ledger.book import EnterpriseBook
from subsidy.domain.ledger.records import Appeal, AppealDecision, Outcome

_APPEAL = (
    "INSERT INTO appeals (event_id, enterprise_id, entitlement_id, reason, attachment_ref,"
    " filed_by, filed_on, rejected_by, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
)
_DECISION = (
    "INSERT INTO appeal_decisions (event_id, appeal_id, enterprise_id, entitlement_id, upheld,"
    " remedy, reason, decided_by, decided_on, recorded_at)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
)
# Rows a correction's history applied: recorded unless they are already (as first decided).
_ONCE = " ON CONFLICT (event_id) DO NOTHING"


class AppealRows:
    """One batch's appeals and appeal decisions, written by `flush`."""

    def __init__(self) -> None:
        self.appeals: list[Appeal] = []
        self.decisions: list[AppealDecision] = []

    def add(self, outcome: Outcome) -> None:
        """What one applied event did: appeals filed or decided, or, for a correction, the
        ones its enterprise's history applied when decided again."""
        self.appeals += outcome.appeals
        self.decisions += outcome.appeal_decisions
        if outcome.redecided is not None:
            self.appeals += outcome.redecided.appeals
            self.decisions += outcome.redecided.appeal_decisions

    async def flush(self, conn: asyncpg.Connection, at: datetime) -> None:
        """After the inbox and entitlement rows they refer to; appeals before their decisions."""
        if self.appeals:
            await conn.executemany(_APPEAL + _ONCE, [_appeal_row(a, at) for a in self.appeals])
        if self.decisions:
            await conn.executemany(
                _DECISION + _ONCE, [_decision_row(d, at) for d in self.decisions]
            )


def _appeal_row(a: Appeal, at: datetime) -> tuple[Any, ...]:
    return (a.event_id, a.enterprise_id, a.entitlement_id, a.reason, a.attachment_ref,
            a.filed_by, a.filed_on, a.rejected_by, at)  # fmt: skip


def _decision_row(d: AppealDecision, at: datetime) -> tuple[Any, ...]:
    return (d.event_id, d.appeal_id, d.enterprise_id, d.entitlement_id, d.upheld,
            d.remedy.value if d.remedy else None, d.reason, d.decided_by, d.decided_on,
            at)  # fmt: skip


async def restore(conn: asyncpg.Connection, books: dict[str, EnterpriseBook]) -> None:
    """The open appeals of these books' enterprises (in force: applied, and no decision of
    them applied), and who rejected each entitlement a review rejected."""
    for r in await conn.fetch(
        "SELECT a.* FROM appeals a JOIN inbox i USING (event_id)"
        " WHERE a.enterprise_id = ANY($1::text[]) AND i.outcome = 'applied'"
        " AND i.retracted_by IS NULL AND NOT EXISTS (SELECT FROM appeal_decisions d"
        "  JOIN inbox j ON j.event_id = d.event_id"
        "  WHERE d.appeal_id = a.event_id AND j.outcome = 'applied')",
        list(books),
    ):
        books[r["enterprise_id"]].open_appeals[r["event_id"]] = Appeal(
            r["event_id"], r["enterprise_id"], r["entitlement_id"], r["reason"],
            r["attachment_ref"], r["filed_by"], r["filed_on"], r["rejected_by"],
        )  # fmt: skip
    await _restore_rejections(conn, books)


async def _restore_rejections(conn: asyncpg.Connection, books: dict[str, EnterpriseBook]) -> None:
    """Who rejected each entitlement DENIED by its review: the reviewer of the review check of
    its latest decision that says so (a correction's decision repeats the checks behind it)."""
    rejected = [
        (enterprise_id, eid)
        for enterprise_id, book in books.items()
        for eid, s in book.entitlements.items()
        if s.status is Status.DENIED and Reason.REVIEW_REJECTED in s.reasons
    ]
    if not rejected:
        return
    owner = {eid: enterprise_id for enterprise_id, eid in rejected}
    for r in await conn.fetch(
        "SELECT DISTINCT ON (d.entitlement_id) d.entitlement_id,"
        " c -> 'numbers' ->> 'reviewer' AS reviewer"
        " FROM decisions d CROSS JOIN LATERAL jsonb_array_elements(d.checks) c"
        " WHERE d.entitlement_id = ANY($1::text[]) AND c ->> 'check' = 'review'"
        " AND c ->> 'outcome' = 'REVIEW_REJECTED' ORDER BY d.entitlement_id, d.revision DESC",
        list(owner),
    ):
        # A review that named nobody is shown "-" (records.show): nobody to keep out.
        reviewer = None if r["reviewer"] in (None, "-") else r["reviewer"]
        books[owner[r["entitlement_id"]]].rejected_by[r["entitlement_id"]] = reviewer


async def appeals_of(
    conn: asyncpg.Connection, entitlement_id: str
) -> list[api_pb2.EntitlementAppeal]:
    """An entitlement's appeals in the order filed, each with the decision in force on it (its
    event applied; the latest such), for ExplainDecision."""
    found = []
    for r in await conn.fetch(
        "SELECT a.*, d.event_id AS decision_id, d.upheld, d.remedy, d.reason AS decision_reason,"
        " d.decided_by, d.decided_on, d.recorded_at AS decided_at FROM appeals a"
        " LEFT JOIN LATERAL (SELECT x.* FROM appeal_decisions x JOIN inbox j USING (event_id)"
        "  WHERE x.appeal_id = a.event_id AND j.outcome = 'applied'"
        "  ORDER BY x.recorded_at DESC LIMIT 1) d ON true"
        " WHERE a.entitlement_id = $1 ORDER BY a.recorded_at, a.event_id",
        entitlement_id,
    ):
        appeal = api_pb2.EntitlementAppeal(
            appeal_id=r["event_id"], filed_by=r["filed_by"] or "",
            filed_on=r["filed_on"].isoformat(), recorded_at=r["recorded_at"].isoformat(),
            reason=r["reason"],
            attachment_ref=r["attachment_ref"] or "", rejected_by=r["rejected_by"] or "",
        )  # fmt: skip
        if r["decision_id"] is not None:
            appeal.decision.CopyFrom(api_pb2.EntitlementAppealDecision(
                event_id=r["decision_id"], upheld=r["upheld"], remedy=r["remedy"] or "",
                reason=r["decision_reason"], decided_by=r["decided_by"],
                decided_on=r["decided_on"].isoformat(), recorded_at=r["decided_at"].isoformat(),
            ))  # fmt: skip
        found.append(appeal)
    return found
