"""A revocation ends a review's rejection on its item too (docs/rules.md step 7)."""

# An appeal of that rejection upheld later reopens nothing, and no approval pays for the revoked
# item.

from typing import Any

import pytest

from subsidy.domain.catalog import load_catalog
from subsidy.domain.entitlements import Reason, Status
from subsidy.domain.evaluator import evaluate
from subsidy.domain.events import parse_event
from subsidy.domain.ledger.errors import NotPendingReview
from subsidy.domain.ledger.records import Remedy
from subsidy.domain.simulate import simulate
from tests.domain.ledger.test_book import YUAN, Books
from tests.factories import event, jsonl
from tests.reference.ledger import ReferenceLedger

EXPO = "x1/m06.exhibition"


def _by(who: str) -> dict[str, Any]:
    return {"submittedBy": {"principal": who}}


def _rejected(b: Books) -> None:
    b.feed("exhibitionHeld", {"itemId": "expo-1"}, eventId="x1", occurredOn="2025-08-01")
    b.feed("reviewDecided", {"eventRef": "x1", "ruleId": "m06.exhibition", "approved": False},
           eventId="x1r", occurredOn="2025-08-05", **_by("reviewer-wang"))  # fmt: skip


def test_an_appeal_upheld_after_a_revocation_neither_reopens_nor_pays() -> None:
    b = Books()
    _rejected(b)
    b.feed("appealFiled", {"eventRef": "x1", "ruleId": "m06.exhibition", "reason": "符合要求"},
           eventId="x1p", occurredOn="2025-08-10")  # fmt: skip
    revoked = b.feed("certificationRevoked", {"itemId": "expo-1", "reason": "撤销"},
                     eventId="x1v", occurredOn="2025-08-15")  # fmt: skip
    (decision,) = revoked.decisions
    assert (decision.status, decision.granted_fen, decision.cash_delta_fen) == (
        Status.REVOKED, 0, 0)  # fmt: skip
    assert [(c.check, c.numbers["reversed"]) for c in decision.checks] == [("revocation", "¥0.00")]
    assert revoked.postings == []
    upheld = b.feed("appealDecided", {"appealRef": "x1p", "eventRef": "x1",
                                      "ruleId": "m06.exhibition", "upheld": True,
                                      "reason": "重新审核"},
                    eventId="x1d", occurredOn="2025-08-20", **_by("reviewer-li"))  # fmt: skip
    assert upheld.decisions == []
    assert [d.remedy for d in upheld.appeal_decisions] == [Remedy.SOURCE_CORRECTION]
    with pytest.raises(NotPendingReview, match="is REVOKED, not PENDING_REVIEW"):
        b.feed("reviewDecided", {"eventRef": "x1", "ruleId": "m06.exhibition", "approved": True,
                                 "approvedAmountFen": 500_000 * YUAN},
               eventId="x1s", occurredOn="2025-08-25", **_by("reviewer-zhao"))  # fmt: skip
    assert b.view(EXPO)["status"] == "REVOKED"
    assert b.view(EXPO)["grantedFen"] == 0
    assert sum(d.cash_delta_fen for o in b.outcomes for d in o.decisions) == 0


def test_the_reference_ledger_revokes_a_rejected_review_too() -> None:
    raw = [
        event("exhibitionHeld", {"itemId": "expo-1"}, eventId="x1", occurredOn="2025-08-01"),
        event("reviewDecided", {"eventRef": "x1", "ruleId": "m06.exhibition", "approved": False},
              eventId="x1r", occurredOn="2025-08-05", **_by("reviewer-wang")),
        event("certificationRevoked", {"itemId": "expo-1", "reason": "撤销"}, eventId="x1v"),
    ]  # fmt: skip
    catalog = load_catalog()
    reference = ReferenceLedger()
    for parsed in map(parse_event, raw):
        reference.process(evaluate(parsed, catalog), parsed.content_hash())
    (ours,) = simulate(jsonl(raw), catalog).to_contract()["entitlements"]
    theirs = reference.states()[EXPO]
    assert (ours["status"], ours["reasons"]) == ("REVOKED", ["REVIEW_REJECTED"])
    assert (theirs.status, theirs.reasons) == (Status.REVOKED, frozenset({Reason.REVIEW_REJECTED}))
