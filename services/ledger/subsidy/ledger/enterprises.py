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
    enterprise; a name and district of None leave the registered ones as they are."""
    await conn.executemany(
        "UPDATE enterprises SET version = $2, entitlements = $3, head_seq = $4,"
        " head_hash = $5, enterprise_name = COALESCE($6, enterprise_name),"
        " district = COALESCE($7, district), updated_at = $8 WHERE enterprise_id = $1",
        heads,
    )
