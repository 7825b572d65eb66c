"""Four eyes after a correction or a retraction of a first approval."""

# The waiting first approval the PostgreSQL path keeps and restores is the one the corrected history
# gives, as in memory.

from typing import Any

from subsidy.domain.catalog import load_catalog
from tests.factories import event, jsonl
from tests.ledger_rules.backends import Backend


def _review(
    event_id: str, day: str, who: str, fen: int = 150000000, **extra: object
) -> dict[str, Any]:
    return event(
        "reviewDecided",
        {"eventRef": "fy1", "ruleId": "m06.exhibition", "approved": True,
         "approvedAmountFen": fen},
        eventId=event_id, occurredOn=day, submittedBy={"principal": who}, **extra,
    )  # fmt: skip


async def test_a_new_first_approval_after_the_first_was_retracted(backend: Backend) -> None:
    events = [
        event("exhibitionHeld", {"itemId": "expo-fy"}, eventId="fy1"),
        _review("fy2", "2025-09-01", "reviewer-wang"),
        event(
            "eventRetracted",
            {"eventRef": "fy2", "reason": "审核结论录入错误"},
            eventId="fy3",
            occurredOn="2025-09-02",
        ),
        _review("fy4", "2025-09-03", "reviewer-li"),
        _review("fy5", "2025-09-04", "reviewer-wang"),
    ]
    result = await backend.run(jsonl(events), load_catalog())
    assert result["rejectedEvents"] == []
    (ent,) = result["entitlements"]
    assert (ent["status"], ent["grantedFen"]) == ("PAID", 150000000)


async def test_a_second_approval_of_the_corrected_first_amount(backend: Backend) -> None:
    events = [
        event("exhibitionHeld", {"itemId": "expo-fy"}, eventId="fy1"),
        _review("fy2", "2025-09-01", "reviewer-wang"),
        _review(
            "fy2",
            "2025-09-01",
            "reviewer-wang",
            180000000,
            revision=2,
            correctionReason="金额录入错误",
        ),
        _review("fy4", "2025-09-03", "reviewer-li", 180000000),
    ]
    result = await backend.run(jsonl(events), load_catalog())
    assert result["rejectedEvents"] == []
    (ent,) = result["entitlements"]
    assert (ent["status"], ent["grantedFen"]) == ("PAID", 180000000)


async def test_the_corrected_first_approval_names_who_sent_it(backend: Backend) -> None:
    # reviewer-li sends the first approval again as a correction: it is li's now, and li
    # cannot be the second reviewer of it.
    events = [
        event("exhibitionHeld", {"itemId": "expo-fy"}, eventId="fy1"),
        _review("fy2", "2025-09-01", "reviewer-wang"),
        _review("fy2", "2025-09-01", "reviewer-li", revision=2, correctionReason="审核人录入错误"),
        _review("fy4", "2025-09-03", "reviewer-li"),
    ]
    result = await backend.run(jsonl(events), load_catalog())
    assert [r["eventId"] for r in result["rejectedEvents"]] == ["fy4"]
    (ent,) = result["entitlements"]
    assert (ent["status"], ent["grantedFen"]) == ("PENDING_REVIEW", 0)
