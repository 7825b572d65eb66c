"""The ledger's read side in SQL: statements, pages of decisions, explanations and totals."""

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

import asyncpg

from subsidy.api.v1 import api_pb2
from subsidy.decisions.v1 import decisions_pb2 as dpb
from subsidy.domain.ledger.records import GRANTED
from subsidy.events.v1 import events_pb2 as epb
from subsidy.ledger import page_tokens
from subsidy.ledger.appeals import appeals_of
from subsidy.ledger.page_tokens import Cursor
from subsidy.ledger.payments import payments_of
from subsidy.ledger.provenance import submitters
from subsidy.ledger.revisions import correcting_events, event_corrections

# Statuses that hold money: what totals add up.
_GRANTED = sorted(s.value for s in GRANTED)
# The channel key of a payout whose rule names no responsible unit, so totals stay complete.
UNATTRIBUTED = "(no responsible unit)"


@dataclass(frozen=True, slots=True)
class DecisionFilter:
    """ListDecisions' filters, validated; None matches everything."""

    enterprise_id: str | None = None
    rule_id: str | None = None
    measure: int | None = None
    district: str | None = None  # the district code, as stored
    year: int | None = None
    status: str | None = None
    latest_only: bool = False

    def fingerprint(self) -> str:
        """Ties a page token to the filters it was issued for."""
        body = json.dumps(asdict(self), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(body.encode()).hexdigest()[:16]

    def clauses(self, args: list[Any]) -> list[str]:
        """SQL conditions on `decisions d`, their values appended to args."""
        out = []
        for column, value in (
            ("d.enterprise_id", self.enterprise_id),
            ("d.rule_id", self.rule_id),
            ("d.measure", self.measure),
            ("d.district", self.district),
            ("d.year", self.year),
            ("d.status", self.status),
        ):
            if value is not None:
                args.append(value)
                out.append(f"{column} = ${len(args)}")
        return out


# Where a page token of other filters is refused: what the caller should do instead.
_OTHER_FILTERS = "issued for other filters: repeat the first page's filters with it"


def encode_page_token(cursor: Cursor, filters: DecisionFilter) -> str:
    """The next page's token, bound to the filters' fingerprint."""
    return page_tokens.encode(cursor, {"f": filters.fingerprint()})


def decode_page_token(token: str, filters: DecisionFilter) -> Cursor:
    """The cursor in a page token; BadPageToken if it is not one of ours or the filters
    changed since it was issued."""
    return page_tokens.decode(token, {"f": filters.fingerprint()}, _OTHER_FILTERS)


def _decision(data: bytes) -> dpb.Decision:
    return dpb.Decision.FromString(data)


def _district(code: str) -> "epb.District.ValueType":
    """The stored district code as the enum (unspecified while no source named it)."""
    try:
        return epb.District.Value(code)
    except ValueError:
        return epb.DISTRICT_UNSPECIFIED


async def statement(
    conn: asyncpg.Connection, enterprise_id: str, year: int | None
) -> api_pb2.GetStatementResponse | None:
    """Each entitlement's latest decision with the totals, its payment orders and what it owes
    back, from one snapshot; None for an enterprise the ledger does not know."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        registered = await conn.fetchrow(
            "SELECT enterprise_name, district FROM enterprises WHERE enterprise_id = $1",
            enterprise_id,
        )
        if registered is None:
            return None
        rows = await conn.fetch(
            "SELECT d.message, e.granted_fen, e.clawback_fen FROM entitlements e"
            " JOIN decisions d ON d.entitlement_id = e.entitlement_id AND d.revision = e.revision"
            " WHERE e.enterprise_id = $1 AND ($2::integer IS NULL OR e.year = $2)"
            " ORDER BY e.seq",
            enterprise_id,
            year,
        )
        # In the same snapshot: an order paid meanwhile shows with the decision that made it.
        payments, owed_back = await payments_of(conn, enterprise_id, year)
    return api_pb2.GetStatementResponse(
        enterprise_id=enterprise_id,
        entitlements=[_decision(r["message"]) for r in rows],
        granted_fen=sum(r["granted_fen"] for r in rows),
        clawback_fen=sum(r["clawback_fen"] for r in rows),
        payments=payments,
        owed_back_fen=owed_back,
        registered_name=registered["enterprise_name"],
        registered_district=_district(registered["district"]),
    )


async def list_decisions(
    conn: asyncpg.Connection, filters: DecisionFilter, page_size: int, after: Cursor | None
) -> tuple[list[dpb.Decision], Cursor | None]:
    """One page of decisions in (decided_at, decision_id) order, and the cursor of the next
    page (None on the last). Keyset pagination: a page costs the same wherever it starts, and
    decisions committed meanwhile never shift the pages (the journal only grows)."""
    args: list[Any] = []
    where = filters.clauses(args)
    join = ""
    if filters.latest_only:
        join = (
            " JOIN entitlements e ON e.entitlement_id = d.entitlement_id"
            " AND e.revision = d.revision"
        )
    if after is not None:
        args += [after.at, after.id]
        where.append(
            f"(d.decided_at, d.decision_id) > (${len(args) - 1}::timestamptz, ${len(args)}::text)"
        )
    args.append(page_size + 1)  # one more: is there a next page?
    rows = await conn.fetch(
        f"SELECT d.decided_at, d.decision_id, d.message FROM decisions d{join}"
        f"{' WHERE ' + ' AND '.join(where) if where else ''}"
        f" ORDER BY d.decided_at, d.decision_id LIMIT ${len(args)}",
        *args,
    )
    page = rows[:page_size]
    more = len(rows) > page_size
    cursor = Cursor(page[-1]["decided_at"], page[-1]["decision_id"]) if more else None
    return [_decision(r["message"]) for r in page], cursor


async def explain(
    conn: asyncpg.Connection, entitlement_id: str
) -> api_pb2.ExplainDecisionResponse | None:
    """The stored eligibility trace, every revision with the checks that led to it, the other
    entitlements' decisions on the same item, and the revisions and retractions of the events
    that decided it; None for an unknown entitlement."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        row = await conn.fetchrow(
            "SELECT enterprise_id, item_id, entitlement FROM entitlements"
            " WHERE entitlement_id = $1",
            entitlement_id,
        )
        if row is None:
            return None
        revisions = await conn.fetch(
            "SELECT revision, checks, message FROM decisions WHERE entitlement_id = $1"
            " ORDER BY revision",
            entitlement_id,
        )
        # One enterprise's batches are serialised by its row lock, so outbox ids give the exact
        # order its decisions were made in (decided_at is per batch, and a host's clock).
        item = await conn.fetch(
            "SELECT d.message FROM decisions d LEFT JOIN outbox o USING (decision_id)"
            " WHERE d.enterprise_id = $1 AND d.item_id = $2 AND d.entitlement_id <> $3"
            " ORDER BY o.id NULLS LAST, d.decided_at, d.decision_id",
            row["enterprise_id"],
            row["item_id"],
            entitlement_id,
        )
        history = [_decision(r["message"]) for r in revisions]
        item_history = [_decision(r["message"]) for r in item]
        submitted_by = await submitters(
            conn, {d.caused_by_event_id for d in history + item_history}
        )
        # Read in the same snapshot: the revisions and the decisions they caused agree.
        own = history[-1].event_id
        event = await event_corrections(conn, own, history)
        others = [
            await event_corrections(conn, e, history) for e in correcting_events(own, history)
        ]
        appealed = await appeals_of(conn, entitlement_id)
    checks = [
        api_pb2.LedgerCheck(
            check=c["check"], outcome=c["outcome"], numbers=c["numbers"], revision=r["revision"]
        )
        for r in revisions
        for c in json.loads(r["checks"])
    ]
    return api_pb2.ExplainDecisionResponse(
        decision=history[-1],
        eligibility_trace=dpb.Entitlement.FromString(row["entitlement"]).trace,
        checks=checks,
        history=history,
        item_history=item_history,
        submitted_by=submitted_by,
        event=event,
        other_events=others,
        appeals=appealed,
    )


# GetTotals: the grouping column and whether its keys sort as numbers.
_GROUPS: dict[int, tuple[str, bool]] = {
    api_pb2.MEASURE: ("measure::text", True),
    api_pb2.RULE: ("rule_id", False),
    api_pb2.DISTRICT: ("district", False),
    api_pb2.YEAR: ("year::text", True),
}

# G3: a payout under a rule with several responsible units is listed in full under each of
# them (and its amount counted in their shared_fen): the policy names the units but no split,
# and inventing one would put figures in a bureau's report that no one decided.
_BY_CHANNEL = f"""
WITH granted AS (
    SELECT granted_fen,
           CASE WHEN cardinality(funding_channels) = 0 THEN ARRAY['{UNATTRIBUTED}']
                ELSE ARRAY(SELECT DISTINCT unnest(funding_channels)) END AS channels
    FROM entitlements WHERE status = ANY($1::text[]))
SELECT channel AS key, sum(granted_fen)::bigint AS granted, count(*) AS n,
       coalesce(sum(granted_fen) FILTER (WHERE cardinality(channels) > 1), 0)::bigint AS shared
FROM granted CROSS JOIN LATERAL unnest(channels) AS channel
GROUP BY channel"""


async def totals(conn: asyncpg.Connection, group: int) -> api_pb2.GetTotalsResponse:
    """Current grants (PAID, PARTIALLY_PAID) by group, and the grand total, from one snapshot.
    `group` is a TotalsGroup other than UNSPECIFIED."""
    numeric = False
    if group == api_pb2.FUNDING_CHANNEL:
        query = _BY_CHANNEL
    else:
        column, numeric = _GROUPS[group]
        query = (
            f"SELECT {column} AS key, sum(granted_fen)::bigint AS granted, count(*) AS n,"
            " 0::bigint AS shared FROM entitlements WHERE status = ANY($1::text[]) GROUP BY 1"
        )
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        rows = await conn.fetch(query, _GRANTED)
        grand = await conn.fetchrow(
            "SELECT coalesce(sum(granted_fen), 0)::bigint AS granted, count(*) AS n"
            " FROM entitlements WHERE status = ANY($1::text[])",
            _GRANTED,
        )
    # Sorted here: the database's collation need not be Python's code-point order.
    ordered = sorted(rows, key=lambda r: (int(r["key"]), "") if numeric else (0, r["key"]))
    return api_pb2.GetTotalsResponse(
        totals=[
            api_pb2.Total(
                key=r["key"], granted_fen=r["granted"], entitlements=r["n"], shared_fen=r["shared"]
            )
            for r in ordered
        ],
        granted_fen=grand["granted"],
        entitlements=grand["n"],
    )
