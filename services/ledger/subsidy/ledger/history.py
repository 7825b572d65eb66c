"""The events the ledger took, in order and as corrected: the platform's real history."""

# In the order it took them; for deciding it again under another policy
# (`subsidy policy diff --from-ledger`).

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg

from subsidy.contract.codec import decode_event
from subsidy.domain.events import InvalidEvent


class NoStoredEvents(RuntimeError):
    """The ledger's schema predates 0004_inbox_events: it keeps no events to replay."""


@dataclass(frozen=True, slots=True)
class RecordedEntitlement:
    """An entitlement as the ledger holds it now."""

    status: str
    granted_fen: int
    catalog_version: str


@dataclass
class LedgerHistory:
    """Every event the ledger took that can be decided again, as JSON lines in arrival order,
    what it holds now, and what of its history cannot be replayed and why."""

    events: list[str] = field(default_factory=list)
    # Taken before the ledger kept events (0004_inbox_events): their content is gone.
    missing: list[str] = field(default_factory=list)
    # Reviews the ledger expired by the clock (LEDGER_PARK_TTL_DAYS): a replay has no clock,
    # and would keep them waiting, or apply them when their event came later.
    expired: list[str] = field(default_factory=list)
    # Stored events that do not hash to the hash they were decided under.
    mismatched: list[str] = field(default_factory=list)
    recorded: dict[str, RecordedEntitlement] = field(default_factory=dict)
    last_decided_at: datetime | None = None


def _as_first_sent(text: str) -> str | None:
    """The event as the corrected history holds it: a corrected one at its revision in force,
    as if first sent so (docs/rules.md, Corrections); None for a retraction, which holds no
    place of its own (the events it retracted are left out)."""
    if '"revision":' not in text and '"eventRetracted":' not in text:
        return text
    doc = json.loads(text)
    if "eventRetracted" in doc:
        return None
    doc.pop("revision", None)
    doc.pop("correctionReason", None)
    return json.dumps(doc, ensure_ascii=False)


async def read_history(conn: asyncpg.Connection) -> LedgerHistory:
    """The ledger's history from one snapshot. Raises NoStoredEvents on an older schema."""
    has_events = await conn.fetchval(
        "SELECT count(*) = 2 FROM information_schema.columns WHERE table_schema ="
        " current_schema() AND table_name = 'inbox' AND column_name IN ('event', 'arrival')"
    )
    if not has_events:
        raise NoStoredEvents("the ledger keeps no events yet: run `subsidy ledger migrate`")
    history = LedgerHistory()
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        # Arrival order; events from before 0004 have none and came first, in the order of
        # their batches and offsets (one enterprise's events share a partition).
        rows = await conn.fetch(
            "SELECT i.event_id, i.payload_hash, i.event, p.event AS parked, p.state"
            " FROM inbox i LEFT JOIN parked_reviews p USING (event_id)"
            " WHERE i.retracted_by IS NULL ORDER BY i.arrival NULLS FIRST, i.received_at,"
            " i.source_partition, i.source_offset, i.event_id"
        )
        entitlements = await conn.fetch(
            "SELECT entitlement_id, status, granted_fen, catalog_version FROM entitlements"
        )
        history.last_decided_at = await conn.fetchval("SELECT max(received_at) FROM inbox")
    for row in rows:
        event_id = row["event_id"]
        if row["state"] == "expired":
            history.expired.append(event_id)
            continue
        text = row["event"]
        if text is None and row["parked"] is not None:
            # A review parked before 0004 kept its event in parked_reviews, as protobuf.
            try:
                text = decode_event(row["parked"]).model_dump_json(by_alias=True, exclude_none=True)
            except InvalidEvent:
                text = None
        if text is None:
            history.missing.append(event_id)
        elif hashlib.sha256(text.encode()).hexdigest() != row["payload_hash"]:
            history.mismatched.append(event_id)
        elif (line := _as_first_sent(text)) is not None:
            history.events.append(line)
    history.recorded = {
        r["entitlement_id"]: RecordedEntitlement(
            r["status"], r["granted_fen"], r["catalog_version"]
        )
        for r in entitlements
    }
    return history
