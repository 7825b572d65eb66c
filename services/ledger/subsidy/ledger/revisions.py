"""Revisions and retractions of an explained entitlement's events, for `subsidy ledger explain`."""

# Their tables come from 0009_corrections.

import json
from collections.abc import Sequence
from datetime import datetime

import asyncpg
from google.protobuf import json_format

from subsidy.api.v1 import api_pb2
from subsidy.contract.instants import timestamp
from subsidy.decisions.v1 import decisions_pb2 as dpb
from subsidy.domain.beijing import in_beijing
from subsidy.events.v1 import events_pb2 as epb


def _when(moment: datetime) -> str:
    """ISO-8601 with the offset of Beijing time, the clock people read the ledger in."""
    return in_beijing(moment).isoformat()


def _provenance(text: str | None) -> epb.Provenance | None:
    if not text:
        return None
    return json_format.Parse(text, epb.Provenance(), ignore_unknown_fields=True)


def _caused(event_id: str, revision: int, history: Sequence[dpb.Decision]) -> list[int]:
    """The decision revisions a revision of `event_id` brought about: the original's are those
    its event caused without a correction, a correction's those whose correction names it."""
    if revision <= 1:
        return [
            d.revision
            for d in history
            if d.caused_by_event_id == event_id and not d.HasField("correction")
        ]
    return [
        d.revision
        for d in history
        if d.correction.event_id == event_id
        and d.correction.revision == revision
        and not d.correction.retracted_by
    ]


async def _revisions(
    conn: asyncpg.Connection, event_id: str, history: Sequence[dpb.Decision]
) -> list[api_pb2.EventRevision]:
    """Every revision kept, oldest first; an event never corrected keeps none in
    event_revisions, and its inbox row is its original."""
    rows = await conn.fetch(
        "SELECT DISTINCT ON (revision) revision, reason, submitted_by::text AS submitted_by,"
        " taken_at FROM event_revisions WHERE event_id = $1 ORDER BY revision, taken_at",
        event_id,
    )
    if not rows:
        rows = await conn.fetch(
            "SELECT revision, '' AS reason, submitted_by::text AS submitted_by,"
            " received_at AS taken_at FROM inbox WHERE event_id = $1",
            event_id,
        )
    return [
        api_pb2.EventRevision(
            revision=r["revision"],
            reason=r["reason"],
            submitted_by=_provenance(r["submitted_by"]),
            taken_at=_when(r["taken_at"]),
            taken_time=timestamp(r["taken_at"]),
            decision_revisions=_caused(event_id, r["revision"], history),
        )
        for r in rows
    ]


async def _retraction(
    conn: asyncpg.Connection, event_id: str, history: Sequence[dpb.Decision]
) -> api_pb2.EventRetraction | None:
    """The eventRetracted that withdrew the event, as the inbox took it; None if none did."""
    row = await conn.fetchrow(
        "SELECT r.event_id, r.event, r.submitted_by::text AS submitted_by, r.received_at"
        " FROM inbox e JOIN inbox r ON r.event_id = e.retracted_by WHERE e.event_id = $1",
        event_id,
    )
    if row is None:
        return None
    retracted_by = row["event_id"]
    doc = json.loads(row["event"]) if row["event"] else {}
    return api_pb2.EventRetraction(
        retracted_by=retracted_by,
        reason=doc.get("eventRetracted", {}).get("reason", ""),
        submitted_by=_provenance(row["submitted_by"]),
        taken_at=_when(row["received_at"]),
        taken_time=timestamp(row["received_at"]),
        decision_revisions=[
            d.revision for d in history if d.correction.retracted_by == retracted_by
        ],
    )


async def event_corrections(
    conn: asyncpg.Connection, event_id: str, history: Sequence[dpb.Decision]
) -> api_pb2.EventCorrections:
    """One event's revisions and retraction, with the revisions of `history` (one
    entitlement's decisions) each brought about."""
    found = api_pb2.EventCorrections(
        event_id=event_id, revisions=await _revisions(conn, event_id, history)
    )
    retraction = await _retraction(conn, event_id, history)
    if retraction is not None:
        found.retraction.CopyFrom(retraction)
    return found


def correcting_events(own_event_id: str, history: Sequence[dpb.Decision]) -> list[str]:
    """The other events whose correction or retraction decided the entitlement again, in the
    order of those decisions."""
    seen: dict[str, None] = {}
    for d in history:
        if d.HasField("correction") and d.correction.event_id != own_event_id:
            seen.setdefault(d.correction.event_id, None)
    return list(seen)
