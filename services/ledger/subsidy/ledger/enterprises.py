"""The enterprises' rows a batch moves: their heads, and the registered name and district."""

from typing import Any

import asyncpg

from subsidy.domain.events import EnterpriseEvent
from subsidy.domain.submitter import registers_names


def registered(event: EnterpriseEvent) -> tuple[str, str] | None:
    """The name and district an event registers for its enterprise, or None: the domain's
    rule (subsidy.domain.submitter.registers_names), which the book's registered name follows
    too. An enterprise only portal events have named keeps none until a source's event gives
    one."""
    if not registers_names(event.submitted_by):
        return None
    return event.enterprise_name, event.district.value


async def write_heads(conn: asyncpg.Connection, heads: list[tuple[Any, ...]]) -> None:
    """(enterprise, version, entitlements, head seq, head hash, name, district, at) per
    enterprise; a name and district of None leave the registered ones as they are. One
    statement over the batch's arrays, not one execution per enterprise."""
    columns = [list(c) for c in zip(*heads, strict=True)]
    await conn.execute(
        "UPDATE enterprises e SET version = u.version, entitlements = u.entitlements,"
        " head_seq = u.head_seq, head_hash = u.head_hash,"
        " enterprise_name = COALESCE(u.name, e.enterprise_name),"
        " district = COALESCE(u.district, e.district), updated_at = u.at"
        " FROM unnest($1::text[], $2::bigint[], $3::integer[], $4::bigint[], $5::text[],"
        "  $6::text[], $7::text[], $8::timestamptz[]) AS u(id, version, entitlements, head_seq,"
        "  head_hash, name, district, at)"
        " WHERE e.enterprise_id = u.id",
        *columns,
    )  # fmt: skip
