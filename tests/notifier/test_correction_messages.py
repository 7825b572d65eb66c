"""Messages about decisions a correction or a retraction changed."""

# The cause, before and after, what follows for money, in zh and en, for the enterprise and its
# bureaus, and as webhook fields. The decisions are the pure ledger's for real events, through the
# contract's codec.

import json

import pytest

from subsidy.decisions.v1 import decisions_pb2 as dpb
from subsidy.domain.catalog import Catalog, load_catalog
from subsidy.notifier.messages import bureau_action, render
from subsidy.notifier.planner import needs_people, plan
from subsidy.notifier.subscriptions import Subscription
from tests.notifier.corrections import corrected_story, decided
from tests.notifier.stack import A

DOWN = "corr-inv/m08.compute_voucher#2"  # ¥120,000.00 → ¥20,000.00
UP = "corr-inv/m08.compute_voucher#3"  # ¥20,000.00 → ¥60,000.00
RETRACTED = "corr-lab/m03.municipal_key_lab#2"  # ¥1,000,000.00 → retracted


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="module")
def decisions(catalog: Catalog) -> dict[str, dpb.Decision]:
    return decided(catalog, corrected_story(A))


def _render(catalog: Catalog, d: dpb.Decision, language: str, audience: str) -> tuple[str, str]:
    msg = render(d, catalog.rule(d.rule_id), language, audience, "收件人")  # type: ignore[arg-type]
    return msg.subject, msg.text


def test_a_correction_down_tells_the_enterprise_before_after_and_the_amount_owed_back(
    catalog: Catalog, decisions: dict[str, dpb.Decision]
) -> None:
    subject, text = _render(catalog, decisions[DOWN], "zh", "enterprise")
    assert subject.startswith("【更正·已拨付】第八条")
    assert "现将以下支持事项因事件更正或撤回重新核定的结果通知如下" in text
    block = [
        "本决定因事件 corr-inv 更正（版次 2，原因：发票金额录入错误）而重新核定。",
        "变更前：已拨付 ¥120,000.00",
        "变更后：已拨付 ¥20,000.00",
        "资金：已拨付但不再应得的 ¥100,000.00 应予退回（记为应追回款项）。",
    ]
    assert "\n".join(block) in text
    assert "核定支持金额：¥20,000.00" in text
    assert "本次资金变动：无" not in text  # the block says what follows for money
    assert "待办" not in text


def test_a_correction_down_asks_the_bureau_to_recover_the_excess_in_english(
    catalog: Catalog, decisions: dict[str, dpb.Decision]
) -> None:
    d = decisions[DOWN]
    subject, text = _render(catalog, d, "en", "bureau")
    assert subject.startswith("[Action needed · Corrected · Paid] Measure 8")
    assert (
        "【Action needed】This support was reduced by a correction or retraction: please recover"
        " ¥100,000.00 paid but no longer due."
    ) in text
    assert (
        "This decision was made again because event corr-inv was corrected (revision 2,"
        " reason: 发票金额录入错误).\nBefore: Paid ¥120,000.00\nAfter: Paid ¥20,000.00\n"
        "Money: ¥100,000.00 paid but no longer due is owed back (booked to be recovered)."
    ) in text
    # Not the revocation's words, though the decision carries a clawback.
    assert "revoked" not in text
    assert (
        bureau_action(d, "zh")
        == "本项支持因更正或撤回而减少，请按规定追回已拨付但不再应得的资金 ¥100,000.00。"
    )


def test_a_correction_up_announces_the_top_up(
    catalog: Catalog, decisions: dict[str, dpb.Decision]
) -> None:
    d = decisions[UP]
    _, text = _render(catalog, d, "zh", "enterprise")
    assert "变更前：已拨付 ¥20,000.00\n变更后：已拨付 ¥60,000.00\n资金：将补拨 ¥40,000.00。" in text
    assert "本次拨付：¥40,000.00" in text
    assert bureau_action(d, "en") == (
        "This support was increased by a correction or retraction: a top-up of ¥40,000.00 will"
        " be paid; for your information."
    )
    en = render(d, catalog.rule(d.rule_id), "en", "enterprise", "x").text
    assert "Money: A top-up of ¥40,000.00 will be paid." in en


def test_a_retraction_names_the_retraction_and_its_reason(
    catalog: Catalog, decisions: dict[str, dpb.Decision]
) -> None:
    d = decisions[RETRACTED]
    subject, text = _render(catalog, d, "zh", "bureau")
    assert subject.startswith("【待办·已撤回】第三条")
    assert (
        "【待办】本项支持因更正或撤回而减少，请按规定追回已拨付但不再应得的资金 ¥1,000,000.00。"
        in text
    )
    assert "本决定因事件 corr-lab 被撤回（撤回事件 corr-ret，原因：证书误发）而重新核定。" in text
    assert "变更前：已拨付 ¥1,000,000.00\n变更后：已撤回 ¥0.00" in text
    en = render(d, catalog.rule(d.rule_id), "en", "enterprise", "x")
    assert en.subject.startswith("[Retracted] Measure 3")
    assert "was retracted by corr-ret (reason: 证书误发)" in en.text


def test_the_webhook_body_carries_before_after_and_money_as_fields(
    catalog: Catalog, decisions: dict[str, dpb.Decision]
) -> None:
    down = json.loads(render(decisions[DOWN], None, "zh", "enterprise", "x").json_body)
    assert down["correction"] == {
        "kind": "corrected", "eventId": "corr-inv", "revision": 2, "reason": "发票金额录入错误",
        "retractedBy": "",
        "text": "本决定因事件 corr-inv 更正（版次 2，原因：发票金额录入错误）而重新核定。",
        "before": {"status": "PAID", "statusText": "已拨付", "grantedFen": "12000000",
                   "grantedText": "¥120,000.00"},
        "after": {"status": "PAID", "statusText": "已拨付", "grantedFen": "2000000",
                  "grantedText": "¥20,000.00"},
        "topUpFen": "0", "owedBackFen": "10000000",
        "moneyText": "已拨付但不再应得的 ¥100,000.00 应予退回（记为应追回款项）。",
        "decidedAt": "2025-07-01T16:00:00+08:00",
    }  # fmt: skip
    assert down["decision"]["correction"]["previousGrantedFen"] == "12000000"
    up = json.loads(render(decisions[UP], None, "en", "enterprise", "x").json_body)
    assert (up["correction"]["topUpFen"], up["correction"]["owedBackFen"]) == ("4000000", "0")
    gone = json.loads(render(decisions[RETRACTED], None, "en", "bureau", "x").json_body)[
        "correction"
    ]
    assert (gone["kind"], gone["retractedBy"], gone["after"]["status"]) == (
        "retracted", "corr-ret", "RETRACTED")  # fmt: skip
    original = json.loads(render(decisions["corr-inv/m08.compute_voucher#1"], None, "zh",
                                 "enterprise", "x").json_body)  # fmt: skip
    assert original["correction"] is None


ENT = Subscription("enterprise", A, "https://hooks.acme.cn/subsidy", None, "zh")
BUREAUS = {
    "市工信局": Subscription("bureau", "市工信局", None, "gx@sz.gov.cn", "zh"),
    "市数据局": Subscription("bureau", "市数据局", None, "sj@sz.gov.cn", "en"),
    "市科技局": Subscription("bureau", "市科技局", None, "kj@sz.gov.cn", "zh"),
}


def test_every_changed_decision_goes_to_the_enterprise_and_its_bureaus(
    catalog: Catalog, decisions: dict[str, dpb.Decision]
) -> None:
    for decision_id, d in decisions.items():
        assert needs_people(d) is ("#1" not in decision_id), decision_id
    up = plan(decisions[UP], catalog, ENT, BUREAUS)  # m08: 市工信局, 市发改委, 市数据局
    assert [(p.recipient, p.audience, p.language, p.decision_id) for p in up] == [
        ("https://hooks.acme.cn/subsidy", "enterprise", "zh", UP),
        ("gx@sz.gov.cn", "bureau", "zh", UP),
        ("sj@sz.gov.cn", "bureau", "en", UP),
    ]
    assert up[2].subject.startswith("[Action needed · Corrected · Paid]")
    topped = decisions["corr-top/m08.compute_voucher#2"]
    assert topped.clawback_fen == 0  # only its correction calls the bureaus
    assert [p.audience for p in plan(topped, catalog, ENT, BUREAUS)] == [
        "enterprise", "bureau", "bureau"]  # fmt: skip
    # The first grant, unchanged by anything, is the enterprise's alone.
    first = plan(decisions["corr-inv/m08.compute_voucher#1"], catalog, ENT, BUREAUS)
    assert [p.audience for p in first] == ["enterprise"]
