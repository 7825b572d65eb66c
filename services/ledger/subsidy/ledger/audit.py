"""Ledger invariants checked in SQL."""

# Entries add up to the entitlements, counters to the entries, no cap exceeded, every entitlement's
# row matches its latest decision, every decision queued, every event and revision as its hash says.

import asyncpg

# (what must hold, a query returning one text row per violation)
INVARIANTS: tuple[tuple[str, str], ...] = (
    (
        "entries per entitlement add up to its grantedFen and clawbackFen",
        """SELECT e.entitlement_id || ': granted ' || e.granted_fen || ' vs entries '
                  || coalesce(sum(x.amount_fen) FILTER (WHERE x.kind <> 'CLAWBACK'), 0)
                  || ', clawback ' || e.clawback_fen || ' vs entries '
                  || coalesce(sum(x.amount_fen) FILTER (WHERE x.kind = 'CLAWBACK'), 0)
           FROM entitlements e LEFT JOIN entries x USING (entitlement_id)
           GROUP BY e.entitlement_id
           HAVING e.granted_fen
                      <> coalesce(sum(x.amount_fen) FILTER (WHERE x.kind <> 'CLAWBACK'), 0)
               OR e.clawback_fen
                      <> coalesce(sum(x.amount_fen) FILTER (WHERE x.kind = 'CLAWBACK'), 0)""",
    ),
    (
        "annual counters equal the entries per (enterprise, rule, year)",
        """WITH sums AS (
               SELECT enterprise_id, rule_id, year, sum(amount_fen) AS total FROM entries
               WHERE kind <> 'CLAWBACK' GROUP BY enterprise_id, rule_id, year)
           SELECT enterprise_id || ' ' || rule_id || ' ' || year || ': counter '
                  || coalesce(u.used_fen, 0) || ' vs entries ' || coalesce(s.total, 0)
           FROM sums s FULL JOIN annual_usage u USING (enterprise_id, rule_id, year)
           WHERE coalesce(s.total, 0) <> coalesce(u.used_fen, 0)""",
    ),
    (
        "item counters equal the entries per (enterprise, rule, item)",
        """WITH sums AS (
               SELECT enterprise_id, rule_id, item_id, sum(amount_fen) AS total FROM entries
               WHERE kind <> 'CLAWBACK' GROUP BY enterprise_id, rule_id, item_id)
           SELECT enterprise_id || ' ' || rule_id || ' ' || item_id || ': counter '
                  || coalesce(u.used_fen, 0) || ' vs entries ' || coalesce(s.total, 0)
           FROM sums s FULL JOIN item_usage u USING (enterprise_id, rule_id, item_id)
           WHERE coalesce(s.total, 0) <> coalesce(u.used_fen, 0)""",
    ),
    (
        "no annual cap exceeded",
        """SELECT enterprise_id || ' ' || rule_id || ' ' || year || ': granted '
                  || sum(granted_fen) || ' > cap ' || max(annual_cap_fen)
           FROM entitlements GROUP BY enterprise_id, rule_id, year
           HAVING sum(granted_fen) > max(annual_cap_fen)
           UNION ALL
           SELECT enterprise_id || ' ' || rule_id || ' ' || year || ': counter ' || used_fen
                  || ' > cap ' || cap_fen
           FROM annual_usage WHERE used_fen > cap_fen OR used_fen < 0""",
    ),
    (
        "no item cap exceeded",
        """SELECT enterprise_id || ' ' || rule_id || ' ' || item_id || ': granted '
                  || sum(granted_fen) || ' > cap ' || max(item_cap_fen)
           FROM entitlements GROUP BY enterprise_id, rule_id, item_id
           HAVING sum(granted_fen) > max(item_cap_fen)
           UNION ALL
           SELECT enterprise_id || ' ' || rule_id || ' ' || item_id || ': counter ' || used_fen
                  || ' > cap ' || cap_fen
           FROM item_usage WHERE used_fen > cap_fen OR used_fen < 0""",
    ),
    (
        "就高不重复: paid on an item + other support <= max(other support, best rule level),"
        " and no rule's level above its item cap",
        """WITH levels AS (
               SELECT enterprise_id, item_id, rule_id, sum(capped_fen) AS level,
                      max(item_cap_fen) AS cap
               FROM entitlements
               WHERE status IN ('PAID', 'PARTIALLY_PAID')
                  OR (status = 'DENIED' AND 'OTHER_SUPPORT' = ANY(reasons))
               GROUP BY enterprise_id, item_id, rule_id),
           items AS (
               SELECT enterprise_id, item_id, sum(granted_fen) AS paid FROM entitlements
               GROUP BY enterprise_id, item_id),
           support AS (
               SELECT enterprise_id, item_id, sum(amount_fen) AS other FROM other_support o
               WHERE NOT EXISTS (SELECT FROM inbox i
                                 WHERE i.event_id = o.event_id AND i.retracted_by IS NOT NULL)
               GROUP BY enterprise_id, item_id),
           best AS (
               SELECT enterprise_id, item_id, max(level) AS level FROM levels
               GROUP BY enterprise_id, item_id)
           SELECT i.enterprise_id || ' ' || i.item_id || ': paid ' || i.paid || ' + other '
                  || coalesce(s.other, 0) || ' > max(other, best level '
                  || coalesce(b.level, 0) || ')'
           FROM items i LEFT JOIN support s USING (enterprise_id, item_id)
                LEFT JOIN best b USING (enterprise_id, item_id)
           WHERE i.paid + coalesce(s.other, 0)
                 > greatest(coalesce(s.other, 0), coalesce(b.level, 0))
           UNION ALL
           SELECT enterprise_id || ' ' || item_id || ' ' || rule_id || ': level ' || level
                  || ' > item cap ' || cap
           FROM levels WHERE level > cap""",
    ),
    (
        "each entitlement's row is its latest decision, with one decision per revision",
        """SELECT e.entitlement_id || ': revision ' || e.revision || ', decisions '
                  || count(d.decision_id)
           FROM entitlements e LEFT JOIN decisions d USING (entitlement_id)
           GROUP BY e.entitlement_id
           HAVING count(d.decision_id) <> e.revision
               OR NOT bool_or(d.revision = e.revision AND d.status = e.status
                              AND d.granted_fen = e.granted_fen
                              AND d.clawback_fen = e.clawback_fen
                              AND d.entitled_fen = e.entitled_fen
                              AND d.reasons = e.reasons)""",
    ),
    (
        "every decision is in the outbox",
        """SELECT d.decision_id FROM decisions d LEFT JOIN outbox o USING (decision_id)
           WHERE o.id IS NULL""",
    ),
    (
        # What an event said is kept as its hash says (0004, 0009): an event rewritten in the
        # inbox, or a revision a correction replaced rewritten in event_revisions, is named.
        "every event taken is as it was decided, every revision in force is one kept",
        """SELECT i.event_id || ': the event in force does not hash to ' || i.payload_hash
           FROM inbox i
           WHERE i.event IS NOT NULL
             AND encode(sha256(convert_to(i.event, 'UTF8')), 'hex') <> i.payload_hash
           UNION ALL
           SELECT r.event_id || ' revision ' || r.revision || ': does not hash to '
                  || r.payload_hash
           FROM event_revisions r
           WHERE encode(sha256(convert_to(r.event, 'UTF8')), 'hex') <> r.payload_hash
           UNION ALL
           SELECT i.event_id || ': revision ' || i.revision || ' in force was never kept'
           FROM inbox i
           WHERE i.revision > 1 AND NOT EXISTS (
               SELECT FROM event_revisions r WHERE r.event_id = i.event_id
                 AND r.revision = i.revision AND r.payload_hash = i.payload_hash)""",
    ),
    (
        "each enterprise row counts its entitlements",
        """SELECT n.enterprise_id || ': row says ' || n.entitlements || ', table has '
                  || count(e.entitlement_id)
           FROM enterprises n LEFT JOIN entitlements e USING (enterprise_id)
           GROUP BY n.enterprise_id HAVING count(e.entitlement_id) <> n.entitlements""",
    ),
)

SHOWN = 5  # violations listed per invariant


async def check_invariants(conn: asyncpg.Connection) -> list[str]:
    """Every violation found, as `invariant: detail` lines (empty when the ledger is sound)."""
    found: list[str] = []
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        for name, query in INVARIANTS:
            rows = await conn.fetch(f"SELECT * FROM ({query}) AS v LIMIT {SHOWN}")
            found.extend(f"{name}: {r[0]}" for r in rows)
    return found
