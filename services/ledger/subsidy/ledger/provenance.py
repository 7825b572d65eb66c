"""Who submitted the events the ledger took, for `subsidy ledger explain`."""

# Read from inbox.submitted_by (0005_provenance).

from collections.abc import Collection

import asyncpg
from google.protobuf import json_format

from subsidy.events.v1 import events_pb2 as epb


async def submitters(
    conn: asyncpg.Connection, event_ids: Collection[str]
) -> dict[str, epb.Provenance]:
    """The recorded provenance of each of these events that has one, by event id."""
    rows = await conn.fetch(
        "SELECT event_id, submitted_by::text AS submitted_by FROM inbox"
        " WHERE event_id = ANY($1::text[]) AND submitted_by IS NOT NULL",
        [e for e in event_ids if e],
    )
    return {
        r["event_id"]: json_format.Parse(
            r["submitted_by"], epb.Provenance(), ignore_unknown_fields=True
        )
        for r in rows
    }
