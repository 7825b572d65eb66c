"""The tables a ledger batch appends to, gathered in memory and written with COPY, and the
cap counters it moves by deltas."""

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
    """Add the batch's deltas to the counters. Added in SQL, not overwritten: were two writers
    ever to decide one enterprise from the same stale state, their grants would add up and
    trip the CHECK (used ≤ cap) instead of one silently overwriting the other."""
    rows = [(*key, delta, cap) for key, (delta, cap) in counters.items() if delta]
    if not rows:
        return
    # Created at zero first, then moved: an INSERT … ON CONFLICT would test its CHECK against
    # the delta itself, which is negative for a reversal.
    await conn.executemany(
        f"INSERT INTO {table} (enterprise_id, rule_id, {column}, used_fen)"
        f" VALUES ($1, $2, $3::{sql_type}, 0) ON CONFLICT DO NOTHING",
        [row[:3] for row in rows],
    )
    await conn.executemany(
        f"UPDATE {table} SET used_fen = used_fen + $4,"
        f" cap_fen = CASE WHEN $4 > 0 THEN $5 ELSE cap_fen END"
        f" WHERE enterprise_id = $1 AND rule_id = $2 AND {column} = $3::{sql_type}",
        rows,
    )
