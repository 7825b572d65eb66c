"""The ledger's limits with the policy's own numbers (docs/rules.md, "How limits combine")."""

from typing import Any

import pytest

from subsidy.domain.catalog import Catalog, apply_overlay, build_catalog, load_catalog, raw_catalog
from subsidy.domain.entitlements import Reason, Status
from subsidy.domain.evaluator import evaluate
from subsidy.domain.events import parse_event
from subsidy.domain.export import entitlement_view
from subsidy.domain.ledger.book import PARK_LIMIT
from subsidy.domain.ledger.errors import (
    DuplicateEventConflict,
    NotPendingReview,
    UnknownEventRef,
    UnknownReviewRule,
)
from subsidy.domain.ledger.memory import InMemoryLedger
from subsidy.domain.ledger.records import GRANT_ACCOUNT, Outcome, PostingKind
from tests.factories import event

YUAN = 100


class Books:
    """A ledger fed event by event, remembering every outcome."""

    def __init__(self, catalog: Catalog | None = None) -> None:
        self.catalog = catalog or load_catalog()
        self.ledger = InMemoryLedger()
        self.outcomes: list[Outcome] = []

    def feed(self, payload_type: str, payload: dict[str, Any], **top: Any) -> Outcome:
        ev = parse_event(event(payload_type, payload, **top))
        out = self.ledger.process(evaluate(ev, self.catalog), ev.content_hash())
        self.outcomes.append(out)
        return out

    def approve(self, payload: dict[str, Any]) -> Outcome:
        """A large approval given by two reviewers (four eyes): the second's outcome."""
        self.feed("reviewDecided", payload, submittedBy={"principal": "reviewer-wang"})
        return self.feed("reviewDecided", payload, submittedBy={"principal": "reviewer-li"})

    def view(self, entitlement_id: str) -> dict[str, Any]:
        for s in self.ledger.states():
            if s.ent.entitlement_id == entitlement_id:
                return entitlement_view(s)
        raise KeyError(entitlement_id)

    def cash(self, event_id: str) -> int:
        return sum(
            d.cash_delta_fen for o in self.outcomes if o.event_id == event_id for d in o.decisions
        )


def invoice(books: Books, eid: str, yuan: int, on: str = "2025-07-01", **extra: Any) -> None:
    books.feed(
        "computeInvoiceFiled",
        {"itemId": f"INV-{eid}", "amountFen": yuan * YUAN, **extra},
        eventId=eid,
        occurredOn=on,
    )


def cert(
    books: Books, eid: str, kind: str, item: str, on: str = "2025-07-01", **extra: Any
) -> None:
    books.feed(
        "certificationObtained",
        {"kind": kind, "itemId": item, "certificateId": f"C-{eid}", **extra},
        eventId=eid,
        occurredOn=on,
    )


def test_three_invoices_run_into_the_voucher_cap() -> None:
    b = Books()
    invoice(b, "i1", 6_000_000)  # 20% = 1,200,000
    invoice(b, "i2", 6_000_000)  # 1,200,000 asked, 800,000 left
    invoice(b, "i3", 1_000_000)  # 200,000 asked, nothing left
    assert b.view("i1/m08.compute_voucher")["grantedFen"] == 1_200_000 * YUAN
    v2 = b.view("i2/m08.compute_voucher")
    assert (v2["status"], v2["grantedFen"], v2["reasons"]) == (
        "PARTIALLY_PAID",
        800_000 * YUAN,
        ["ANNUAL_CAP"],
    )
    v3 = b.view("i3/m08.compute_voucher")
    assert (v3["status"], v3["grantedFen"], v3["reasons"]) == ("DENIED", 0, ["ANNUAL_CAP"])
    # A new year has a new cap.
    invoice(b, "i4", 1_000_000, on="2026-01-02")
    assert b.view("i4/m08.compute_voucher")["status"] == "PAID"


def test_large_model_against_the_voucher_on_one_invoice() -> None:
    b = Books()
    invoice(b, "i1", 2_000_000, modelParamsBillions=50, applicationScenarios=6)
    assert b.view("i1/m08.large_model_compute")["grantedFen"] == 1_000_000 * YUAN
    voucher = b.view("i1/m08.compute_voucher")
    assert (voucher["status"], voucher["reasons"]) == ("DENIED", ["DUPLICATE_LOWER"])


def test_same_event_candidates_compare_after_their_own_caps() -> None:
    b = Books()
    # The large-model cap (3,000,000) is used up by the first invoice …
    invoice(b, "i1", 6_000_000, modelParamsBillions=50, applicationScenarios=6)
    assert b.view("i1/m08.large_model_compute")["grantedFen"] == 3_000_000 * YUAN
    # … so on the next one the large-model rule has nothing left and the voucher wins.
    invoice(b, "i2", 1_000_000, modelParamsBillions=50, applicationScenarios=6)
    assert b.view("i2/m08.large_model_compute")["reasons"] == ["ANNUAL_CAP"]
    assert b.view("i2/m08.compute_voucher")["grantedFen"] == 200_000 * YUAN


def test_large_model_three_year_limit_under_an_extended_window() -> None:
    b = Books(build_catalog(apply_overlay(raw_catalog(), {"valid_to": "2028-12-31"})))
    for year in (2025, 2026, 2027, 2028):
        invoice(
            b,
            f"y{year}",
            100_000,
            on=f"{year}-07-01",
            modelParamsBillions=20,
            applicationScenarios=5,
        )
    for year in (2025, 2026, 2027):
        assert b.view(f"y{year}/m08.large_model_compute")["status"] == "PAID"
    last = b.view("y2028/m08.large_model_compute")
    assert (last["status"], last["reasons"]) == ("DENIED", ["YEAR_LIMIT"])
    # The voucher is not year-limited: it wins the invoice instead.
    assert b.view("y2028/m08.compute_voucher")["status"] == "PAID"
    # A second invoice in a year that already counts is fine.
    invoice(
        b, "again2026", 100_000, on="2026-09-01", modelParamsBillions=20, applicationScenarios=5
    )
    assert b.view("again2026/m08.large_model_compute")["status"] == "PAID"


def test_municipal_lab_upgraded_to_provincial_key_lab_tops_up() -> None:
    b = Books()
    cert(b, "e1", "MUNICIPAL_KEY_LAB", "lab-1")
    cert(b, "e2", "PROVINCIAL_KEY_LAB", "lab-1", on="2026-03-01")
    assert b.view("e1/m03.municipal_key_lab")["status"] == "SUPERSEDED"
    assert b.view("e1/m03.municipal_key_lab")["grantedFen"] == 0
    assert b.view("e2/m03.provincial_key_lab")["grantedFen"] == 20_000_000 * YUAN
    assert b.cash("e1") == 1_000_000 * YUAN
    assert b.cash("e2") == 19_000_000 * YUAN
    kinds = [(p.entitlement_id, p.kind, p.amount_fen) for p in b.outcomes[1].postings]
    assert ("e1/m03.municipal_key_lab", PostingKind.SUPERSEDE, -1_000_000 * YUAN) in kinds


def test_a_lower_rule_later_and_a_tie_are_duplicate_lower() -> None:
    b = Books()
    cert(b, "e1", "PROVINCIAL_ENGINEERING_CENTER", "lab-1")  # 5,000,000
    cert(b, "e2", "MUNICIPAL_KEY_LAB", "lab-1")  # 1,000,000: lower
    cert(b, "e3", "PROVINCIAL_MANUFACTURING_CENTER", "lab-1")  # 5,000,000: a tie
    for eid in ("e2/m03.municipal_key_lab", "e3/m03.provincial_manufacturing_center"):
        assert (b.view(eid)["status"], b.view(eid)["reasons"]) == ("DENIED", ["DUPLICATE_LOWER"])
    assert b.view("e1/m03.provincial_engineering_center")["status"] == "PAID"


def test_revocation_reverses_and_books_a_clawback() -> None:
    b = Books()
    cert(b, "e1", "PROVINCIAL_KEY_LAB", "lab-1")
    out = b.feed("certificationRevoked", {"itemId": "lab-1", "reason": "撤销认定"}, eventId="rv")
    view = b.view("e1/m03.provincial_key_lab")
    assert (view["status"], view["grantedFen"]) == ("REVOKED", 0)
    assert {(p.kind, p.amount_fen) for p in out.postings} == {
        (PostingKind.REVOKE, -20_000_000 * YUAN),
        (PostingKind.CLAWBACK, 20_000_000 * YUAN),
    }
    assert out.decisions[0].clawback_fen == 20_000_000 * YUAN
    # The cap room is free again: a later certification of the item is paid.
    cert(b, "e2", "PROVINCIAL_KEY_LAB", "lab-1", on="2026-01-01")
    assert b.view("e2/m03.provincial_key_lab")["status"] == "PAID"


def test_other_programme_support_lower_and_higher() -> None:
    b = Books()
    b.feed(
        "otherSupportReceived", {"itemId": "lab-1", "program": "姑苏", "amountFen": 400_000 * YUAN}
    )
    cert(b, "e1", "MUNICIPAL_KEY_LAB", "lab-1")
    v = b.view("e1/m03.municipal_key_lab")
    assert (v["status"], v["grantedFen"], v["reasons"]) == (
        "PARTIALLY_PAID",
        600_000 * YUAN,
        ["OTHER_SUPPORT"],
    )
    b.feed(
        "otherSupportReceived",
        {"itemId": "lab-2", "program": "姑苏", "amountFen": 3_000_000 * YUAN},
    )
    cert(b, "e2", "MUNICIPAL_KEY_LAB", "lab-2")
    v = b.view("e2/m03.municipal_key_lab")
    assert (v["status"], v["grantedFen"], v["reasons"]) == ("DENIED", 0, ["OTHER_SUPPORT"])
    # A provincial key lab on lab-2 gives more than the other support: it pays the difference.
    cert(b, "e3", "PROVINCIAL_KEY_LAB", "lab-2")
    assert b.view("e3/m03.provincial_key_lab")["grantedFen"] == 17_000_000 * YUAN


def test_other_support_arriving_after_a_grant_claws_back_the_excess() -> None:
    b = Books()
    cert(b, "e1", "MUNICIPAL_KEY_LAB", "lab-1")
    out = b.feed(
        "otherSupportReceived", {"itemId": "lab-1", "program": "相城", "amountFen": 300_000 * YUAN}
    )
    v = b.view("e1/m03.municipal_key_lab")
    assert (v["status"], v["grantedFen"]) == ("PARTIALLY_PAID", 700_000 * YUAN)
    assert out.decisions[0].clawback_fen == 300_000 * YUAN


def test_repeating_a_rule_under_other_support_never_lifts_its_level_past_the_item_cap() -> None:
    b = Books()
    b.feed("otherSupportReceived", {"itemId": "LAB-V", "program": "p",
                                    "amountFen": 1_500_000 * YUAN})  # fmt: skip
    for eid in ("v1", "v2", "v3"):
        cert(b, eid, "MUNICIPAL_KEY_LAB", "LAB-V", on="2026-01-02")
    v1, v2, v3 = (b.view(f"{e}/m03.municipal_key_lab") for e in ("v1", "v2", "v3"))
    assert (v1["status"], v1["reasons"]) == ("DENIED", ["OTHER_SUPPORT"])
    # The municipal lab's level on LAB-V is already its 1,000,000 cap: no room for more.
    assert (
        (v2["status"], v2["reasons"]) == (v3["status"], v3["reasons"]) == ("DENIED", ["ITEM_CAP"])
    )
    assert sum(d.granted_fen for o in b.outcomes for d in o.decisions) == 0
    (check,) = [c for c in b.outcomes[2].decisions[0].checks if c.check == "item_cap"]
    assert dict(check.figures)["usedBefore"] == 1_000_000 * YUAN


def test_a_grant_cut_to_nothing_is_superseded_and_its_level_goes_with_it() -> None:
    b = Books()
    cert(b, "w1", "MUNICIPAL_KEY_LAB", "LAB-W")
    b.feed("otherSupportReceived", {"itemId": "LAB-W", "program": "p",
                                    "amountFen": 1_500_000 * YUAN})  # fmt: skip
    cert(b, "w3", "PROVINCIAL_ENGINEERING_CENTER", "LAB-W", approvedAmountFen=1_200_000 * YUAN)
    cert(b, "w4", "MUNICIPAL_KEY_LAB", "LAB-W")
    assert b.view("w1/m03.municipal_key_lab")["status"] == "SUPERSEDED"
    w3 = b.view("w3/m03.provincial_engineering_center")
    assert (w3["status"], w3["grantedFen"], w3["reasons"]) == ("DENIED", 0, ["OTHER_SUPPORT"])
    w4 = b.view("w4/m03.municipal_key_lab")
    assert (w4["status"], w4["grantedFen"], w4["reasons"]) == ("DENIED", 0, ["DUPLICATE_LOWER"])
    # Paid 1,000,000, clawed back 1,000,000 when the other support came: nothing moved since.
    assert sum(d.cash_delta_fen for o in b.outcomes for d in o.decisions) == 1_000_000 * YUAN
    assert b.ledger.states()[0].clawback_fen == 1_000_000 * YUAN


def test_staged_national_platform_hits_the_item_cap() -> None:
    b = Books()
    for stage, eid in ((1, "s1"), (2, "s2"), (3, "s3")):
        cert(b, eid, "NATIONAL_PLATFORM", "np-1", stage=stage)
    b.approve(
        {
            "eventRef": "s1",
            "ruleId": "m03.national_platform",
            "approved": True,
            "approvedAmountFen": 120_000_000 * YUAN,
        },
    )
    b.approve(
        {
            "eventRef": "s2",
            "ruleId": "m03.national_platform",
            "approved": True,
            "approvedAmountFen": 100_000_000 * YUAN,
        },
    )
    b.approve(
        {
            "eventRef": "s3",
            "ruleId": "m03.national_platform",
            "approved": True,
            "approvedAmountFen": 10_000_000 * YUAN,
        },
    )
    assert b.view("s1/m03.national_platform")["grantedFen"] == 120_000_000 * YUAN
    s2 = b.view("s2/m03.national_platform")
    assert (s2["status"], s2["grantedFen"], s2["reasons"]) == (
        "PARTIALLY_PAID",
        80_000_000 * YUAN,
        ["ITEM_CAP"],
    )
    s3 = b.view("s3/m03.national_platform")
    assert (s3["status"], s3["reasons"]) == ("DENIED", ["ITEM_CAP"])


def test_review_approved_and_rejected() -> None:
    b = Books()
    b.feed("exhibitionHeld", {"itemId": "expo-1"}, eventId="x1")
    b.feed("exhibitionHeld", {"itemId": "expo-2"}, eventId="x2")
    b.approve(
        {
            "eventRef": "x1",
            "ruleId": "m06.exhibition",
            "approved": True,
            "approvedAmountFen": 2_500_000 * YUAN,
        },
    )
    b.feed("reviewDecided", {"eventRef": "x2", "ruleId": "m06.exhibition", "approved": False})
    x1 = b.view("x1/m06.exhibition")
    assert (x1["status"], x1["entitledFen"], x1["reasons"]) == (
        "PAID",
        2_000_000 * YUAN,
        ["CEILING_CLIPPED"],
    )
    x2 = b.view("x2/m06.exhibition")
    assert (x2["status"], x2["grantedFen"], x2["reasons"]) == ("DENIED", 0, ["REVIEW_REJECTED"])


@pytest.mark.parametrize(
    ("payload", "error", "field"),
    [
        (
            {"eventRef": "x1", "ruleId": "m05.service_platform", "approved": False},
            UnknownReviewRule,
            "reviewDecided.ruleId",
        ),
    ],
)
def test_review_guards_reject_before_any_change(
    payload: dict[str, Any], error: type[Exception], field: str
) -> None:
    b = Books()
    b.feed("exhibitionHeld", {"itemId": "expo-1"}, eventId="x1")
    before = [entitlement_view(s) for s in b.ledger.states()]
    with pytest.raises(error, match=field):
        b.feed("reviewDecided", payload)
    assert [entitlement_view(s) for s in b.ledger.states()] == before


def test_a_review_before_its_event_waits_for_it_and_is_applied_once() -> None:
    b = Books()
    review = {"eventRef": "x1", "ruleId": "m06.exhibition", "approved": True,
              "approvedAmountFen": 300_000 * YUAN}  # fmt: skip
    parked = b.feed("reviewDecided", review, eventId="r1")
    assert parked.parked
    assert not parked.decisions
    assert b.ledger.parked_ids() == {"r1"}
    # The identical resend is a no-op: its id is taken, as any applied event's.
    assert b.feed("reviewDecided", review, eventId="r1").duplicate
    arrived = b.feed("exhibitionHeld", {"itemId": "expo-1"}, eventId="x1")
    assert arrived.released == ["r1"]
    assert [(d.caused_by_event_id, d.status.value) for d in arrived.decisions] == [
        ("x1", "PENDING_REVIEW"),
        ("r1", "PAID"),
    ]
    assert b.view("x1/m06.exhibition")["grantedFen"] == 300_000 * YUAN
    assert b.ledger.parked_ids() == set()


def test_reviews_wait_up_to_the_limit_then_are_refused_without_any_change() -> None:
    b = Books()
    for n in range(PARK_LIMIT):
        b.feed("reviewDecided", {"eventRef": f"s{n}", "ruleId": "m06.exhibition",
                                 "approved": False}, eventId=f"r{n}")  # fmt: skip
    with pytest.raises(UnknownEventRef, match=r"reviewDecided\.eventRef"):
        b.feed("reviewDecided", {"eventRef": "late", "ruleId": "m06.exhibition",
                                 "approved": False}, eventId="r-late")  # fmt: skip
    assert len(b.ledger.parked_ids()) == PARK_LIMIT


def test_a_second_review_is_rejected() -> None:
    b = Books()
    b.feed("exhibitionHeld", {"itemId": "expo-1"}, eventId="x1")
    b.feed("reviewDecided", {"eventRef": "x1", "ruleId": "m06.exhibition", "approved": False})
    with pytest.raises(NotPendingReview):
        b.feed("reviewDecided", {"eventRef": "x1", "ruleId": "m06.exhibition", "approved": False})


def test_same_event_twice_is_a_no_op_and_changed_content_a_conflict() -> None:
    b = Books()
    invoice(b, "i1", 1_000)
    assert b.outcomes[-1].decisions
    again = b.feed("computeInvoiceFiled", {"itemId": "INV-i1", "amountFen": "100000"}, eventId="i1")
    assert again.duplicate
    assert not again.decisions
    with pytest.raises(DuplicateEventConflict, match="eventId"):
        b.feed("computeInvoiceFiled", {"itemId": "INV-i1", "amountFen": 5}, eventId="i1")


def test_postings_add_up_to_granted_amounts() -> None:
    b = Books()
    cert(b, "e1", "MUNICIPAL_KEY_LAB", "lab-1")
    cert(b, "e2", "PROVINCIAL_KEY_LAB", "lab-1")
    b.feed("otherSupportReceived", {"itemId": "lab-1", "program": "x", "amountFen": 5 * YUAN})
    b.feed("certificationRevoked", {"itemId": "lab-1", "reason": "x"})
    sums: dict[str, int] = {}
    for o in b.outcomes:
        for p in o.postings:
            if p.kind in GRANT_ACCOUNT:
                sums[p.entitlement_id] = sums.get(p.entitlement_id, 0) + p.amount_fen
    for s in b.ledger.states():
        assert sums.get(s.ent.entitlement_id, 0) == s.granted_fen
        assert s.status in (Status.SUPERSEDED, Status.REVOKED)
    assert Reason.OTHER_SUPPORT in b.ledger.states()[1].reasons
