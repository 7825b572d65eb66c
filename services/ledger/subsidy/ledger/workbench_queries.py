"""The workbench's queues in SQL: each queue's open cases, pages of them, counts and search."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from subsidy.domain.deadlines import Queue
from subsidy.domain.payouts.orders import Hold, OrderState
from subsidy.ledger import page_tokens
from subsidy.ledger.page_tokens import Cursor

# When an entitlement entered its current status: its first decision after the last one that
# gave it another status (a first approval adds a PENDING_REVIEW revision: the case still
# entered the queue with the first).
_ENTERED_STATUS = """(
    SELECT min(d.decided_at) FROM decisions d
    WHERE d.entitlement_id = e.entitlement_id AND d.revision > coalesce((
        SELECT max(p.revision) FROM decisions p
        WHERE p.entitlement_id = e.entitlement_id AND p.status <> e.status), 0))"""

# Every queue's SQL yields the same columns; $1 is the bureau's rule ids.
_REVIEW = f"""
SELECT e.entitlement_id AS case_id, e.enterprise_id, e.enterprise_name, e.district,
       e.entitlement_id, e.rule_id,
       coalesce(a.amount_fen, e.item_cap_fen, e.annual_cap_fen, 0) AS amount_fen,
       {_ENTERED_STATUS} AS entered_at,
       coalesce(a.principal, '') AS first_reviewer, '' AS reason
FROM entitlements e
LEFT JOIN review_approvals a ON a.entitlement_id = e.entitlement_id AND a.state = 'waiting'
WHERE e.status = 'PENDING_REVIEW' AND e.rule_id = ANY($1::text[])"""

_REFERRED = f"""
SELECT e.entitlement_id AS case_id, e.enterprise_id, e.enterprise_name, e.district,
       e.entitlement_id, e.rule_id, e.entitled_fen AS amount_fen,
       {_ENTERED_STATUS} AS entered_at, '' AS first_reviewer, '' AS reason
FROM entitlements e
WHERE e.status = 'REFERRED' AND e.rule_id = ANY($1::text[])"""

# An appeal is open while it is in force (its event's inbox outcome is 'applied': a correction
# that decides the enterprise again may refuse it) and no decision of it is. What it asks for:
# what the entitlement would pay in full less what it holds; after a rejected review (nothing
# entitled), the rule's cap.
_APPEALS = """
SELECT a.event_id AS case_id, a.enterprise_id, e.enterprise_name, e.district,
       a.entitlement_id, e.rule_id,
       coalesce(nullif(greatest(e.entitled_fen - e.granted_fen, 0), 0), e.item_cap_fen,
                e.annual_cap_fen, 0) AS amount_fen,
       a.recorded_at AS entered_at, '' AS first_reviewer, a.reason
FROM appeals a
JOIN inbox ai ON ai.event_id = a.event_id AND ai.outcome = 'applied'
JOIN entitlements e ON e.entitlement_id = a.entitlement_id
WHERE e.rule_id = ANY($1::text[]) AND NOT EXISTS (
    SELECT 1 FROM appeal_decisions ad
    JOIN inbox di ON di.event_id = ad.event_id AND di.outcome = 'applied'
    WHERE ad.appeal_id = a.event_id)"""

# The objection is the ledger's record; the bureau's dismissal is the payouts' (appended when
# the payouts' tables are there: a ledger migrated alone has dismissed none).
_OBJECTIONS = """
SELECT o.event_id AS case_id, o.enterprise_id, e.enterprise_name, e.district,
       o.entitlement_id, e.rule_id, e.granted_fen AS amount_fen,
       o.recorded_at AS entered_at, '' AS first_reviewer, o.reason
FROM objections o
JOIN entitlements e ON e.entitlement_id = o.entitlement_id
WHERE e.rule_id = ANY($1::text[])"""
_NOT_DISMISSED = """
  AND NOT EXISTS (SELECT 1 FROM objection_dismissals x WHERE x.event_id = o.event_id)"""

# A returned order entered the queue with the first RETURNED row of its history after the last
# row that was not (an order returned, paid to a new account and returned again starts anew).
_RETURNED = f"""
SELECT po.order_id AS case_id, po.enterprise_id, po.enterprise_name, po.district,
       po.entitlement_id, po.rule_id, po.amount_fen - po.set_off_fen AS amount_fen,
       coalesce((
           SELECT min(h.at) FROM payment_order_history h
           WHERE h.order_id = po.order_id AND h.hold = '{Hold.RETURNED}' AND h.id > coalesce((
               SELECT max(n.id) FROM payment_order_history n
               WHERE n.order_id = po.order_id AND n.hold IS DISTINCT FROM '{Hold.RETURNED}'), 0)
       ), po.updated_at) AS entered_at,
       '' AS first_reviewer, po.return_reason AS reason
FROM payment_orders po
WHERE po.state = '{OrderState.WAITING}' AND po.hold = '{Hold.RETURNED}'
  AND po.rule_id = ANY($1::text[])"""


async def payouts_present(conn: asyncpg.Connection) -> bool:
    """Are the payouts' tables there? `subsidy db migrate` makes them beside the ledger's;
    `subsidy ledger migrate` alone does not, and such a ledger has no payment orders."""
    found: bool = await conn.fetchval(
        "SELECT to_regclass('payment_orders') IS NOT NULL"
        " AND to_regclass('payment_order_history') IS NOT NULL"
        " AND to_regclass('objection_dismissals') IS NOT NULL"
    )
    return found


def queue_sql(queue: Queue, payouts: bool) -> str | None:
    """The queue's cases as SQL ($1: the rule ids), or None for a queue with no source here
    (returned payments without the payouts' tables)."""
    if queue is Queue.REVIEW:
        return _REVIEW
    if queue is Queue.REFERRED:
        return _REFERRED
    if queue is Queue.APPEALS:
        return _APPEALS
    if queue is Queue.OBJECTIONS:
        return _OBJECTIONS + _NOT_DISMISSED if payouts else _OBJECTIONS
    return _RETURNED if payouts else None


@dataclass(frozen=True, slots=True)
class QueueKey:
    """What a page token is bound to: the same bureau, queue and filter on every page."""

    bureau: str
    queue: Queue
    overdue_only: bool

    def token_key(self) -> dict[str, page_tokens.KeyValue]:
        """The token's fields that bind it (their names are the wire format's)."""
        return {"b": self.bureau, "q": self.queue.value, "o": self.overdue_only}


# Where a page token of another request is refused: what the caller should do instead.
_OTHER_REQUEST = "issued for another bureau, queue or filter: repeat the first request"


def encode_page_token(cursor: Cursor, key: QueueKey) -> str:
    """The next page's token, bound to the bureau, queue and filter."""
    return page_tokens.encode(cursor, key.token_key())


def decode_page_token(token: str, key: QueueKey) -> Cursor:
    """The cursor in a page token; BadPageToken if it is not one of ours or was issued for
    another bureau, queue or filter."""
    return page_tokens.decode(token, key.token_key(), _OTHER_REQUEST)


async def page(
    conn: asyncpg.Connection,
    sql: str,
    rules: Sequence[str],
    page_size: int,
    after: Cursor | None,
    overdue_before: datetime | None,
) -> tuple[list[asyncpg.Record], Cursor | None]:
    """One page of the queue's cases in (entered_at, case_id) order, and the next page's
    cursor (None on the last). `overdue_before`: only cases that entered before it."""
    args: list[Any] = [list(rules)]
    where = []
    if after is not None:
        args += [after.at, after.id]
        where.append(f"(c.entered_at, c.case_id) > (${len(args) - 1}::timestamptz, ${len(args)})")
    if overdue_before is not None:
        args.append(overdue_before)
        where.append(f"c.entered_at < ${len(args)}::timestamptz")
    args.append(page_size + 1)  # one more: is there a next page?
    rows = await conn.fetch(
        f"SELECT c.* FROM ({sql}) c"
        f"{' WHERE ' + ' AND '.join(where) if where else ''}"
        f" ORDER BY c.entered_at, c.case_id LIMIT ${len(args)}",
        *args,
    )
    shown = list(rows[:page_size])
    more = len(rows) > page_size
    cursor = Cursor(shown[-1]["entered_at"], shown[-1]["case_id"]) if more else None
    return shown, cursor


async def count_by_rule(
    conn: asyncpg.Connection, sql: str, rules: Sequence[str], overdue_before: datetime
) -> dict[str, tuple[int, int]]:
    """Per rule: the queue's open cases and those of them that entered before
    `overdue_before` (one query, whatever the number of bureaus asking)."""
    rows = await conn.fetch(
        f"SELECT c.rule_id, count(*) AS total,"
        f" count(*) FILTER (WHERE c.entered_at < $2) AS overdue"
        f" FROM ({sql}) c GROUP BY c.rule_id",
        list(rules),
        overdue_before,
    )
    return {r["rule_id"]: (r["total"], r["overdue"]) for r in rows}


SEARCH_LIMIT = 20


async def search(
    conn: asyncpg.Connection, query: str, rules: Sequence[str], sources: Sequence[str]
) -> list[asyncpg.Record]:
    """Enterprises with an entitlement under the rules whose id starts with `query` (case
    ignored) or whose name holds it, at most SEARCH_LIMIT, by id; each with its open cases
    in the queues of `sources` (their SQL)."""
    open_cases = " UNION ALL ".join(f"SELECT q.enterprise_id FROM ({sql}) q" for sql in sources)
    return list(
        await conn.fetch(
            f"""
            WITH matched AS (
                SELECT DISTINCT ent.enterprise_id, ent.enterprise_name, ent.district
                FROM enterprises ent
                JOIN entitlements e ON e.enterprise_id = ent.enterprise_id
                WHERE e.rule_id = ANY($1::text[])
                  AND (starts_with(ent.enterprise_id, upper($2))
                       OR strpos(ent.enterprise_name, $2) > 0)
                ORDER BY ent.enterprise_id LIMIT {SEARCH_LIMIT})
            SELECT m.enterprise_id, m.enterprise_name, m.district,
                   (SELECT count(*) FROM ({open_cases}) o
                    WHERE o.enterprise_id = m.enterprise_id) AS open_cases
            FROM matched m ORDER BY m.enterprise_id""",
            list(rules),
            query,
        )
    )
