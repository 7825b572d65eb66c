"""Reviews waiting for one event are released in the order of the history, after corrections too."""

# Also when a correction made one of them wait (it keeps its first place): the PostgreSQL path
# restores them in the order the corrected history gives, as the in-memory ledger holds them.

from typing import Any

from subsidy.domain.catalog import load_catalog
from tests.factories import event, jsonl
from tests.ledger_rules.backends import Backend


def _review(event_id: str, ref: str, approved: bool, **top: object) -> dict[str, Any]:
    body: dict[str, object] = {"eventRef": ref, "ruleId": "m06.exhibition", "approved": approved}
    if approved:
        body["approvedAmountFen"] = 100000
    return event("reviewDecided", body, eventId=event_id, occurredOn="2025-09-01",
                 submittedBy={"principal": "reviewer-wang"}, **top)  # fmt: skip


async def test_a_review_moved_to_an_unseen_event_keeps_its_place(backend: Backend) -> None:
    events = [
        event("exhibitionHeld", {"itemId": "expo-pz"}, eventId="pz1"),
        _review("pr1", "pz1", True),
        _review("pr2", "py1", True),
        # The first review was of the other exhibition, and a rejection.
        _review("pr1", "py1", False, revision=2, correctionReason="审核对象录入错误"),
        event("exhibitionHeld", {"itemId": "expo-py"}, eventId="py1", occurredOn="2025-09-05"),
    ]
    result = await backend.run(jsonl(events), load_catalog())
    got = {e["entitlementId"]: (e["status"], e["grantedFen"]) for e in result["entitlements"]}
    # pr1 stands before pr2 in the history: py1 is rejected first, pr2 finds nothing to review.
    assert got["py1/m06.exhibition"] == ("DENIED", 0)
    assert [r["eventId"] for r in result["rejectedEvents"]] == ["pr2"]
