"""A batch's updates and rejections written set-based: one statement over arrays per table."""

# Why not executemany: it runs the statement once per row, and each execution costs PostgreSQL its
# own executor start, lookup and trigger queue; a batch of 500 events moves hundreds of entitlement
# and enterprise rows, most of the database's time per event. `UPDATE … FROM unnest(…)` joins the
# arrays to the rows by primary key in one execution.

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg


def _columns(rows: Sequence[tuple[Any, ...]]) -> list[list[Any]]:
    """Rows as one list per column (the arrays unnest takes)."""
    return [list(c) for c in zip(*rows, strict=True)]


def _reasons(reasons: Sequence[str]) -> str:
    """A text[] as one array element: unnest cannot take an array of arrays of other lengths.
    Reasons are enum names (no commas), read back by string_to_array."""
    return ",".join(reasons)


async def update_states(
    conn: asyncpg.Connection, rows: list[tuple[Any, ...]], at: datetime
) -> None:
    """(id, status, reasons, entitled, capped, granted, clawback, revision) of entitlements
    decided again: their rows take the new state."""
    if not rows:
        return
    columns = _columns(rows)
    columns[2] = [_reasons(r) for r in columns[2]]
    await conn.execute(
        "UPDATE entitlements t SET status = u.status, reasons = string_to_array(u.reasons, ','),"
        " entitled_fen = u.entitled, capped_fen = u.capped, granted_fen = u.granted,"
        " clawback_fen = u.clawback, revision = u.revision, updated_at = $9"
        " FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[],"
        "  $6::bigint[], $7::bigint[], $8::integer[])"
        "  AS u(id, status, reasons, entitled, capped, granted, clawback, revision)"
        " WHERE t.entitlement_id = u.id",
        *columns, at,
    )  # fmt: skip


async def stored_entitlements(conn: asyncpg.Connection, ids: list[str]) -> dict[str, bytes]:
    """The protobuf bytes stored for these entitlements, by id (those without a row left out)."""
    if not ids:
        return {}
    stored = await conn.fetch(
        "SELECT entitlement_id, entitlement FROM entitlements"
        " WHERE entitlement_id = ANY($1::text[])",
        ids,
    )
    return {row["entitlement_id"]: row["entitlement"] for row in stored}


async def update_facts(conn: asyncpg.Connection, rows: list[tuple[Any, ...]]) -> None:
    """(id, measure, item, year, occurred on, stage, name, district, funding channels, clause,
    catalog version, annual cap, item cap, protobuf bytes) of entitlements whose corrected
    event holds other facts now, written as they are. Rare (corrections only): one execution
    per row; an unnest would need the funding channels (arrays of any length) joined into
    one element, as update_states does the reasons."""
    if not rows:
        return
    await conn.executemany(
        "UPDATE entitlements SET measure = $2, item_id = $3, year = $4,"
        " occurred_on = $5, stage = $6, enterprise_name = $7, district = $8,"
        " funding_channels = $9, clause = $10, catalog_version = $11,"
        " annual_cap_fen = $12, item_cap_fen = $13, entitlement = $14"
        " WHERE entitlement_id = $1",
        rows,
    )


async def insert_rejected(conn: asyncpg.Connection, rows: list[tuple[Any, ...]]) -> None:
    """(event, enterprise, hash, error, at, topic, partition, offset) of refused events. A
    refusal delivered again (same id, same content) is the same refusal: not twice."""
    if not rows:
        return
    await conn.execute(
        "INSERT INTO rejected_events (event_id, enterprise_id, payload_hash, error,"
        " rejected_at, source_topic, source_partition, source_offset)"
        " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],"
        "  $5::timestamptz[], $6::text[], $7::integer[], $8::bigint[])"
        " ON CONFLICT (event_id, payload_hash) DO NOTHING",
        *_columns(rows),
    )  # fmt: skip


async def record_rejections(conn: asyncpg.Connection, errors: dict[str, str], at: datetime) -> None:
    """Rejected-event rows for events already in the inbox (their hash and source are there)."""
    if not errors:
        return
    await conn.execute(
        "INSERT INTO rejected_events (event_id, enterprise_id, payload_hash, error, rejected_at,"
        " source_topic, source_partition, source_offset) SELECT i.event_id, i.enterprise_id,"
        " i.payload_hash, u.error, $3, i.source_topic, i.source_partition, i.source_offset"
        " FROM unnest($1::text[], $2::text[]) AS u(id, error) JOIN inbox i ON i.event_id = u.id"
        " ON CONFLICT DO NOTHING",
        list(errors), list(errors.values()), at,
    )  # fmt: skip


async def settle_parked(
    conn: asyncpg.Connection, released: list[str], refused: dict[str, str], at: datetime
) -> None:
    """Released reviews: applied, or refused (then a rejected event like any other)."""
    settled = [*released, *refused]
    if not settled:
        return
    await conn.execute(
        "UPDATE parked_reviews SET state = 'released', settled_at = $2"
        " WHERE event_id = ANY($1::text[])",
        settled, at,
    )  # fmt: skip
    await conn.execute(
        "UPDATE inbox SET outcome = CASE WHEN event_id = ANY($2::text[]) THEN 'rejected'"
        " ELSE 'applied' END WHERE event_id = ANY($1::text[])",
        settled, list(refused),
    )  # fmt: skip
    await record_rejections(conn, refused, at)
