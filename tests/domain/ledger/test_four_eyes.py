"""Four eyes in the pure ledger: what the decisions record of who approved, and the refusals."""

import pytest

from subsidy.domain.entitlements import Status
from subsidy.domain.ledger.errors import ApprovalMismatch, LedgerRejection, NoReviewer, SameReviewer
from tests.domain.ledger.test_book import Books

LARGE = 150_000_000  # ¥1,500,000: past the default threshold, within the exhibition's ceiling
EID = "x1/m06.exhibition"


def _approve(b: Books, event_id: str, who: str | None, amount: int = LARGE) -> None:
    top = {"eventId": event_id, **({"submittedBy": {"principal": who}} if who else {})}
    review = {"eventRef": "x1", "ruleId": "m06.exhibition", "approved": True,
              "approvedAmountFen": amount}  # fmt: skip
    b.feed("reviewDecided", review, **top)


@pytest.fixture
def books() -> Books:
    b = Books()
    b.feed("exhibitionHeld", {"itemId": "expo-1"}, eventId="x1")
    return b


def test_the_first_approval_is_a_decision_that_names_its_reviewer_and_waits(books: Books) -> None:
    _approve(books, "r1", "reviewer-wang")
    (decision,) = books.outcomes[-1].decisions
    assert (decision.status, decision.revision, decision.cash_delta_fen) == (
        Status.PENDING_REVIEW, 2, 0,
    )  # fmt: skip
    (check,) = decision.checks
    assert (check.check, check.outcome) == ("review", "AWAITING_SECOND_APPROVAL")
    assert check.numbers["reviewer"] == "reviewer-wang"
    assert check.numbers["approvedAmount"] == "¥1,500,000.00"
    assert check.numbers["secondReviewFrom"] == "¥1,000,000.00"
    assert books.ledger.books[decision.state_ent.enterprise_id].awaiting[EID].event_id == "r1"


def test_the_second_approval_pays_and_names_both_reviewers(books: Books) -> None:
    _approve(books, "r1", "reviewer-wang")
    _approve(books, "r2", "reviewer-li")
    (decision,) = books.outcomes[-1].decisions
    assert (decision.status, decision.granted_fen, decision.cash_delta_fen) == (
        Status.PAID, LARGE, LARGE,
    )  # fmt: skip
    review = decision.checks[0].numbers
    assert (review["firstReviewEvent"], review["firstReviewer"]) == ("r1", "reviewer-wang")
    assert (review["reviewEvent"], review["reviewer"]) == ("r2", "reviewer-li")
    assert books.outcomes[-1].approvals_settled == [(EID, "r2")]


@pytest.mark.parametrize(
    ("who", "amount", "error", "field"),
    [
        ("reviewer-wang", LARGE, SameReviewer, "submittedBy.principal"),
        ("reviewer-li", LARGE - 1, ApprovalMismatch, "reviewDecided.approvedAmountFen"),
        (None, LARGE, NoReviewer, "submittedBy.principal"),
    ],
)
def test_a_second_approval_that_cannot_count_is_refused_and_the_first_waits(
    books: Books, who: str | None, amount: int, error: type[LedgerRejection], field: str
) -> None:
    _approve(books, "r1", "reviewer-wang")
    with pytest.raises(error) as refused:
        _approve(books, "r2", who, amount)
    assert str(refused.value).startswith(f"{field}: {EID}: review 'r2'")
    assert books.view(EID)["status"] == "PENDING_REVIEW"
    _approve(books, "r3", "reviewer-li")
    assert books.view(EID)["grantedFen"] == LARGE


def test_below_the_threshold_one_reviewer_pays_even_with_no_principal(books: Books) -> None:
    _approve(books, "r1", None, 100_000_000 - 1)
    assert books.view(EID)["status"] == "PAID"
