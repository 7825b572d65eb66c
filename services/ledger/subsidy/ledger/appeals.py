"""Appeals (0011_appeals): written with a batch, restored with a book."""

from datetime import datetime
from typing import Any

import asyncpg

from subsidy.api.v1 import api_pb2
from subsidy.contract.instants import timestamp
from subsidy.domain.beijing import in_beijing
from subsidy.domain.entitlements import Reason, Status
from subsidy.domain.ledger.book import EnterpriseBook
from subsidy.domain.ledger.records import Appeal, AppealDecision, Outcome, Remedy, Reopened
from subsidy.domain.ledger.state import BookState
from subsidy.ledger import appeal_notices as notices
from subsidy.ledger.appeal_notices import Facts

# Rows a correction's history applied are recorded unless they are already (as first decided);
# RETURNING names the rows recorded now, the only ones announced (0012_appeal_notices).
_APPEAL = (
    "INSERT INTO appeals (event_id, enterprise_id, entitlement_id, reason, attachment_ref,"
    " filed_by, filed_on, rejected_by, recorded_at) SELECT * FROM unnest($1::text[],"
    " $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::date[], $8::text[],"
    " $9::timestamptz[]) ON CONFLICT (event_id) DO NOTHING RETURNING event_id"
)
_DECISION = (
    "INSERT INTO appeal_decisions (event_id, appeal_id, enterprise_id, entitlement_id, upheld,"
    " remedy, reason, decided_by, decided_on, recorded_at) SELECT * FROM unnest($1::text[],"
    " $2::text[], $3::text[], $4::text[], $5::boolean[], $6::text[], $7::text[], $8::text[],"
    " $9::date[], $10::timestamptz[]) ON CONFLICT (event_id) DO NOTHING RETURNING event_id"
)


class AppealRows:
    """One batch's appeals and appeal decisions, each with its entitlement's facts when it was
    applied, written by `flush` with the notices of those recorded for the first time."""

    def __init__(self) -> None:
        self.appeals: dict[str, tuple[Appeal, Facts]] = {}
        self.decisions: dict[str, tuple[AppealDecision, Facts]] = {}
        self.notices = 0  # written by the last flush

    def add(self, outcome: Outcome, book: BookState) -> None:
        """What one applied event did: appeals filed or decided, or, for a correction, the
        ones its enterprise's history applied when decided again. The first of an id stays."""
        found = [(outcome.appeals, outcome.appeal_decisions)]
        if outcome.redecided is not None:
            found.append((outcome.redecided.appeals, outcome.redecided.appeal_decisions))
        for appeals, decisions in found:
            for a in appeals:
                self.appeals.setdefault(a.event_id, (a, notices.facts(book, a.entitlement_id)))
            for d in decisions:
                self.decisions.setdefault(d.event_id, (d, notices.facts(book, d.entitlement_id)))

    async def flush(self, conn: asyncpg.Connection, at: datetime) -> None:
        """After the inbox and entitlement rows they refer to; appeals before their decisions,
        then the notices."""
        written: list[Any] = []
        if self.appeals:
            rows = [_appeal_row(a, at) for a, _ in self.appeals.values()]
            new = {r["event_id"] for r in await conn.fetch(_APPEAL, *_columns(rows))}
            written += [notices.filed_notice(a, f, at)
                        for a, f in self.appeals.values() if a.event_id in new]  # fmt: skip
        if self.decisions:
            rows = [_decision_row(d, at) for d, _ in self.decisions.values()]
            new = {r["event_id"] for r in await conn.fetch(_DECISION, *_columns(rows))}
            fresh = [(d, f) for d, f in self.decisions.values() if d.event_id in new]
            filed = await notices.appeals_filed(conn, [d.appeal_id for d, _ in fresh])
            written += [notices.decided_notice(d, f, filed[d.appeal_id], at) for d, f in fresh]
        if written:
            await notices.write(conn, written)
        self.notices = len(written)


def _when(moment: datetime) -> str:
    """ISO-8601 with Beijing time's offset, as ExplainDecision gives every other time."""
    return in_beijing(moment).isoformat()


def _columns(rows: list[tuple[Any, ...]]) -> list[list[Any]]:
    return [list(column) for column in zip(*rows, strict=True)]


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
    await _restore_reopenings(conn, books)


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


async def _restore_reopenings(conn: asyncpg.Connection, books: dict[str, EnterpriseBook]) -> None:
    """Who may not approve each entitlement awaiting a review an upheld appeal reopened: the
    decider of every reopening in force (its event applied) and the reviewer whose rejection
    its appeal overturned, as the book recorded them (docs/rules.md step 10)."""
    owner = {
        eid: enterprise_id
        for enterprise_id, book in books.items()
        for eid, s in book.entitlements.items()
        if s.status is Status.PENDING_REVIEW
    }
    if not owner:
        return
    for r in await conn.fetch(
        "SELECT d.entitlement_id, d.decided_by, a.rejected_by FROM appeal_decisions d"
        " JOIN appeals a ON a.event_id = d.appeal_id JOIN inbox i ON i.event_id = d.event_id"
        " WHERE d.entitlement_id = ANY($1::text[]) AND d.remedy = $2 AND i.outcome = 'applied'",
        list(owner),
        Remedy.REOPENED.value,
    ):
        book = books[owner[r["entitlement_id"]]]
        parties = book.reopened.setdefault(r["entitlement_id"], Reopened())
        parties.deciders.add(r["decided_by"])
        if r["rejected_by"] is not None:
            parties.rejecters.add(r["rejected_by"])


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
            filed_on=r["filed_on"].isoformat(), recorded_at=_when(r["recorded_at"]),
            recorded_time=timestamp(r["recorded_at"]), reason=r["reason"],
            attachment_ref=r["attachment_ref"] or "", rejected_by=r["rejected_by"] or "",
        )  # fmt: skip
        if r["decision_id"] is not None:
            appeal.decision.CopyFrom(api_pb2.EntitlementAppealDecision(
                event_id=r["decision_id"], upheld=r["upheld"], remedy=r["remedy"] or "",
                reason=r["decision_reason"], decided_by=r["decided_by"],
                decided_on=r["decided_on"].isoformat(), recorded_at=_when(r["decided_at"]),
                recorded_time=timestamp(r["decided_at"]),
            ))  # fmt: skip
        found.append(appeal)
    return found
