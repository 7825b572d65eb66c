"""The tables a ledger batch appends to, and the cap counters it moves."""

# The rows are gathered in memory and written with COPY; the counters move by deltas.

from typing import Any

import asyncpg

Row = dict[str, Any]


class Table:
    """A table the batch appends to: its columns, and rows gathered as dicts keyed by column
    (so a row cannot put a value in the wrong column), written with one COPY."""

    def __init__(self, name: str, *columns: str) -> None:
        self.name = name
        self.columns = columns
        self.rows: list[Row] = []

    def add(self, **row: Any) -> None:
        self.rows.append(row)

    async def copy(self, conn: asyncpg.Connection) -> None:
        if self.rows:
            records = [tuple(row[c] for c in self.columns) for row in self.rows]
            await conn.copy_records_to_table(self.name, records=records, columns=self.columns)


# (enterprise, rule, year) or (enterprise, rule, item) → [delta, cap of the last raise]
Counters = dict[tuple[str, str, Any], list[Any]]


def move(counters: Counters, key: tuple[str, str, Any], amount: int, cap: int | None) -> None:
    slot = counters.setdefault(key, [0, None])
    slot[0] += amount
    if amount > 0:
        slot[1] = cap  # the cap the domain checked this raise against


async def bump(
    conn: asyncpg.Connection, table: str, column: str, sql_type: str, counters: Counters
) -> None:
    """Add the batch's deltas to the counters, in SQL (not overwritten)."""
    # Added, not overwritten: were two writers ever to decide one enterprise from the same
    # stale state, their grants would add up and trip the CHECK (used ≤ cap) instead of one
    # silently overwriting the other.
    rows = [(*key, delta, cap) for key, (delta, cap) in counters.items() if delta]
    # Raised counters (almost all of them) in one upsert: a new counter is written once, at
    # its delta, not created at zero and moved, which cost each one a second row version.
    # Its CHECK is tested against the row proposed (the delta and this raise's cap) before
    # the conflict is found; a raise that passes the CHECK added to a used ≥ 0 would too.
    raised = [r for r in rows if r[3] > 0]
    if raised:
        await conn.execute(
            f"INSERT INTO {table} AS t (enterprise_id, rule_id, {column}, used_fen, cap_fen)"
            f" SELECT * FROM unnest($1::text[], $2::text[], $3::{sql_type}[], $4::bigint[],"
            "  $5::bigint[])"
            f" ON CONFLICT (enterprise_id, rule_id, {column}) DO UPDATE"
            " SET used_fen = t.used_fen + excluded.used_fen, cap_fen = excluded.cap_fen",
            *(list(c) for c in zip(*raised, strict=True)),
        )  # fmt: skip
    lowered = [r for r in rows if r[3] < 0]
    if not lowered:
        return
    enterprises, rules, keys, deltas, _ = (list(c) for c in zip(*lowered, strict=True))
    # Lowered ones created at zero first (so a reversal of a counter never raised fails the
    # CHECK, as any negative total does), then moved: an upsert would test its CHECK against
    # the negative delta itself.
    await conn.execute(
        f"INSERT INTO {table} (enterprise_id, rule_id, {column}, used_fen)"
        f" SELECT e, r, k, 0 FROM unnest($1::text[], $2::text[], $3::{sql_type}[]) AS u(e, r, k)"
        " ON CONFLICT DO NOTHING",
        enterprises, rules, keys,
    )  # fmt: skip
    await conn.execute(
        f"UPDATE {table} t SET used_fen = t.used_fen + u.delta"
        f" FROM unnest($1::text[], $2::text[], $3::{sql_type}[], $4::bigint[])"
        " AS u(e, r, k, delta)"
        f" WHERE t.enterprise_id = u.e AND t.rule_id = u.r AND t.{column} = u.k",
        enterprises, rules, keys, deltas,
    )  # fmt: skip
