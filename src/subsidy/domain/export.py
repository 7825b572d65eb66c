"""The contract's export of a ledger (`entitlements`, `rejectedEvents`, `parkedEvents`)."""

# `subsidy simulate` and the pipeline's `ledger export` print the same shape, compared key by key.

from collections.abc import Iterable
from typing import Any

from subsidy.domain.ledger.records import EntitlementState


def entitlement_view(s: EntitlementState) -> dict[str, Any]:
    """An entitlement's final state in the contract's shape (docs/contract.md §2)."""
    e = s.ent
    return {
        "entitlementId": e.entitlement_id,
        "eventId": e.event_id,
        "enterpriseId": e.enterprise_id,
        "ruleId": e.rule_id,
        "itemId": e.item_id,
        "year": e.year,
        "status": s.status.value,
        "reasons": [r.value for r in s.reasons],
        "entitledFen": s.entitled_fen,
        "grantedFen": s.granted_fen,
    }


def parked_view(parked: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    """Reviews waiting for their event, sorted by id like the rest of the export."""
    return [{"eventId": e, "eventRef": ref} for e, ref in sorted(parked)]


def distinct_rejections(rejected: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each distinct (eventId, error) once, sorted. Sorted, like the entitlements, so that the
    pipeline's export (whose enterprises are decided in parallel) compares equal; once, because
    the pipeline records a rejection once however often the same bad event is sent (ingesting
    a file twice changes nothing)."""
    unique = {(r["eventId"], r["error"]) for r in rejected}
    return [
        {"eventId": event_id, "error": error}
        for event_id, error in sorted(unique, key=lambda r: (r[0] or "", r[1]))
    ]
