"""Messages about a decision an upheld appeal (复核申请) brought about."""

# The enterprise and the rule's bureaus hear that the review's rejection was lifted, which appeal,
# who decided it and why, Chinese first. The decisions are the pure ledger's for real events,
# through the codec.

import json

import pytest

from subsidy.decisions.v1 import decisions_pb2 as dpb
from subsidy.domain.catalog import Catalog, load_catalog
from subsidy.notifier.messages import render
from subsidy.notifier.planner import plan
from subsidy.notifier.subscriptions import Subscription
from tests.factories import event
from tests.notifier.corrections import decided
from tests.notifier.stack import A

EXPO = "appeal-expo"
REOPENED = f"{EXPO}/m06.exhibition#3"  # 1: pending review, 2: rejected, 3: reopened


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="module")
def decisions(catalog: Catalog) -> dict[str, dpb.Decision]:
    ref = {"eventRef": EXPO, "ruleId": "m06.exhibition"}
    return decided(catalog, [
        event("exhibitionHeld", {"itemId": "expo-appeal"}, eventId=EXPO, enterpriseId=A),
        event("reviewDecided", {**ref, "approved": False}, eventId="appeal-r",
              enterpriseId=A, submittedBy={"principal": "reviewer-wang"}),
        event("appealFiled", {**ref, "reason": "展会规模符合要求"}, eventId="appeal-p",
              enterpriseId=A),
        event("appealDecided", {**ref, "appealRef": "appeal-p", "upheld": True,
                                "reason": "材料齐全，重新审核"},
              eventId="appeal-d", enterpriseId=A, submittedBy={"principal": "reviewer-li"}),
    ])  # fmt: skip


def test_the_reopening_decision_names_the_appeal(decisions: dict[str, dpb.Decision]) -> None:
    d = decisions[REOPENED]
    assert d.status == dpb.PENDING_REVIEW
    assert list(d.reasons) == []
    assert (d.appeal.appeal_ref, d.appeal.decided_by, d.appeal.reason) == (
        "appeal-p", "reviewer-li", "材料齐全，重新审核",
    )  # fmt: skip
    assert d.caused_by_event_id == "appeal-d"
    assert d.cash_delta_fen == 0
    assert not decisions[f"{EXPO}/m06.exhibition#2"].HasField("appeal")


def test_the_enterprise_hears_in_chinese_which_appeal_and_why(
    catalog: Catalog, decisions: dict[str, dpb.Decision]
) -> None:
    msg = render(decisions[REOPENED], catalog.rule("m06.exhibition"), "zh", "enterprise", "收件人")
    assert msg.subject.startswith("【复核申请获支持·")
    assert (
        "本决定因复核申请 appeal-p 经 reviewer-li 复核予以支持而重新核定：原审核驳回结论撤销，"
        "本项支持将重新审核。复核理由：材料齐全，重新审核"
    ) in msg.text
    body = json.loads(msg.json_body)
    assert body["appeal"]["appealRef"] == "appeal-p"
    assert body["appeal"]["decidedBy"] == "reviewer-li"
    english = render(decisions[REOPENED], None, "en", "enterprise", "x")
    assert "appeal appeal-p was upheld by reviewer-li" in english.text


def test_the_enterprise_and_the_rules_bureaus_are_told(
    catalog: Catalog, decisions: dict[str, dpb.Decision]
) -> None:
    ent = Subscription("enterprise", A, "https://hooks.acme.cn/subsidy", None, "zh")
    bureaus = {u: Subscription("bureau", u, None, f"{i}@sz.gov.cn", "zh")
               for i, u in enumerate(catalog.rule("m06.exhibition").responsible_units)}  # fmt: skip
    planned = plan(decisions[REOPENED], catalog, ent, bureaus)
    audiences = sorted({(p.audience, p.subscriber) for p in planned})
    assert ("enterprise", A) in audiences
    assert {s for a, s in audiences if a == "bureau"} == set(bureaus)
    assert all("appeal-p" in p.body for p in planned)
