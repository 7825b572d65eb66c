"""The enterprises' rows a batch moves: their heads, and the registered name and district."""

from typing import Any

import asyncpg

from subsidy.domain.events import EnterpriseEvent
from subsidy.events.v1 import events_pb2 as epb

# The channel of a person's session (the portal, docs/security.md).
PORTAL = epb.SubmissionChannel.Name(epb.PORTAL)


def registered(event: EnterpriseEvent) -> tuple[str, str] | None:
    """The name and district an event registers for its enterprise, or None. They follow the
    events of its sources (feeds, bureaus' systems), never one submitted through the portal:
    a reviewer's review or an enterprise's own appeal names the enterprise as a person typed
    it, and the workbench's search and the payouts read the registered name. An enterprise
    only such events have named keeps none until a source's event gives one."""
    who = event.submitted_by
    if who is not None and who.channel == PORTAL:
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
