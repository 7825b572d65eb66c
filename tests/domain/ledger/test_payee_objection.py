"""Payee accounts and objections in the pure ledger."""

# Recorded for the payouts, no entitlement changed and no decision made; an objection to an
# entitlement the book does not hold is refused naming the field, exactly as the reference ledger
# and `subsidy simulate` say it.

import contextlib
from datetime import date
from typing import Any

import pytest

from subsidy.domain.catalog import load_catalog
from subsidy.domain.evaluator import evaluate
from subsidy.domain.events import parse_event
from subsidy.domain.export import entitlement_view
from subsidy.domain.ledger.errors import (
    LedgerRejection,
    UnknownObjectedEvent,
    UnknownObjectedRule,
)
from subsidy.domain.ledger.records import Objection, PayeeAccount
from subsidy.domain.simulate import simulate
from tests.domain.ledger.test_book import YUAN, Books
from tests.factories import ENTERPRISE, enterprise_id, event, jsonl
from tests.reference.ledger import ReferenceLedger

NAME = "苏州测试机器人有限公司"
PAYEE = {"bankName": "江苏银行苏州分行", "accountNumber": "3220012345678901234",
         "accountName": NAME}  # fmt: skip


def _awarded(b: Books) -> None:
    """An exhibition approved by review (PAID), and a training base certified (PAID)."""
    b.feed("exhibitionHeld", {"itemId": "expo-1"}, eventId="x1", occurredOn="2025-08-01")
    b.feed("reviewDecided", {"eventRef": "x1", "ruleId": "m06.exhibition", "approved": True,
                             "approvedAmountFen": 500_000 * YUAN}, eventId="r1",
           occurredOn="2025-09-01")  # fmt: skip
    b.feed("certificationObtained", {"kind": "TRAINING_BASE", "itemId": "base-1",
                                     "certificateId": "T-1"}, eventId="t1")  # fmt: skip


def _states(b: Books) -> list[dict[str, Any]]:
    return [entitlement_view(s) for s in b.ledger.states()]


def test_a_payee_account_is_recorded_and_a_later_one_recorded_beside_it() -> None:
    b = Books()
    _awarded(b)
    before = _states(b)
    first = b.feed("payeeAccountRegistered", PAYEE, eventId="p1", occurredOn="2025-06-01")
    changed = {**PAYEE, "bankName": "苏州银行", "accountNumber": "51234567890123456"}
    second = b.feed("payeeAccountRegistered", changed, eventId="p2", occurredOn="2026-01-05")
    assert first.payee_accounts == [
        PayeeAccount("p1", ENTERPRISE, "江苏银行苏州分行", "3220012345678901234", NAME,
                     date(2025, 6, 1)),
    ]  # fmt: skip
    assert second.payee_accounts == [
        PayeeAccount("p2", ENTERPRISE, "苏州银行", "51234567890123456", NAME, date(2026, 1, 5))
    ]
    for out in (first, second):
        assert (out.decisions, out.postings, out.objections) == ([], [], [])
    assert _states(b) == before


def test_an_objection_to_a_known_entitlement_is_recorded_and_changes_nothing() -> None:
    b = Books()
    _awarded(b)
    before = _states(b)
    out = b.feed("objectionFiled", {"eventRef": "x1", "ruleId": "m06.exhibition",
                                    "reason": "展会规模与申报不符"}, eventId="o1",
                 occurredOn="2025-09-04")  # fmt: skip
    assert out.objections == [
        Objection("o1", ENTERPRISE, "x1/m06.exhibition", "展会规模与申报不符", date(2025, 9, 4))
    ]
    assert (out.decisions, out.postings, out.payee_accounts) == ([], [], [])
    assert _states(b) == before
    # A second objection to the same entitlement is recorded too.
    again = b.feed("objectionFiled", {"eventRef": "x1", "ruleId": "m06.exhibition",
                                      "reason": "另一异议"}, eventId="o2")  # fmt: skip
    assert [o.entitlement_id for o in again.objections] == ["x1/m06.exhibition"]


@pytest.mark.parametrize(
    ("objection", "error", "field"),
    [
        ({"eventRef": "nope", "ruleId": "m06.exhibition"}, UnknownObjectedEvent,
         "objectionFiled.eventRef"),
        # The review is an event of the book, but it created no entitlement.
        ({"eventRef": "r1", "ruleId": "m06.exhibition"}, UnknownObjectedRule,
         "objectionFiled.ruleId"),
        ({"eventRef": "x1", "ruleId": "m05.service_platform"}, UnknownObjectedRule,
         "objectionFiled.ruleId"),
        # Another enterprise's entitlement is unknown to this one's book.
        ({"eventRef": "x1", "ruleId": "m06.exhibition", "_other": True}, UnknownObjectedEvent,
         "objectionFiled.eventRef"),
    ],
)  # fmt: skip
def test_an_objection_to_an_unknown_entitlement_is_refused_naming_the_field(
    objection: dict[str, Any], error: type[LedgerRejection], field: str
) -> None:
    b = Books()
    _awarded(b)
    before = _states(b)
    other = objection.pop("_other", False)
    top = {"enterpriseId": enterprise_id(77)} if other else {}
    with pytest.raises(error) as caught:
        b.feed("objectionFiled", {**objection, "reason": "不符合条件"}, eventId="o-bad", **top)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")
    assert _states(b) == before


def test_simulate_and_the_reference_refuse_an_unknown_objection_in_the_same_words() -> None:
    events = [
        event("exhibitionHeld", {"itemId": "expo-1"}, eventId="x1"),
        event("objectionFiled", {"eventRef": "x1", "ruleId": "m06.exhibition", "reason": "异议"},
              eventId="o1"),
        event("objectionFiled", {"eventRef": "x1", "ruleId": "m03.training_base", "reason": "异议"},
              eventId="o2"),
        event("objectionFiled", {"eventRef": "x9", "ruleId": "m06.exhibition", "reason": "异议"},
              eventId="o3"),
        event("payeeAccountRegistered", PAYEE, eventId="p1"),
    ]  # fmt: skip
    catalog = load_catalog()
    result = simulate(jsonl(events), catalog).to_contract()
    reference = ReferenceLedger()
    for raw in events:
        parsed = parse_event(raw)
        with contextlib.suppress(LedgerRejection):
            reference.process(evaluate(parsed, catalog), parsed.content_hash())
    assert result["rejectedEvents"] == sorted(
        ({"eventId": i, "error": str(e)} for i, e in reference.refusals.items()),
        key=lambda r: (r["eventId"], r["error"]),
    )
    assert [r["eventId"] for r in result["rejectedEvents"]] == ["o2", "o3"]
    assert [e["entitlementId"] for e in result["entitlements"]] == ["x1/m06.exhibition"]
