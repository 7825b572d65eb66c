"""Notifier messages: zh/en rendering, amounts, reasons in words, signatures, Message-IDs."""

import json
import random
from datetime import UTC, datetime

import pytest

from subsidy.decisions.v1 import decisions_pb2 as dpb
from subsidy.domain.catalog import Catalog, load_catalog
from subsidy.domain.words import REASON_WORDS, STATUS_WORDS
from subsidy.events.v1 import events_pb2 as epb
from subsidy.notifier.delivery import backoff_seconds, message_id
from subsidy.notifier.messages import (
    reason_words,
    render,
    status_words,
    zh_numeral,
)
from subsidy.notifier.signing import signed_headers

ENTERPRISE = "91350100M000100Y43"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def _decision(**fields: object) -> dpb.Decision:
    base: dict[str, object] = {
        "decision_id": "ev-1/m09.first_unit#1",
        "entitlement_id": "ev-1/m09.first_unit",
        "event_id": "ev-1",
        "enterprise_id": ENTERPRISE,
        "enterprise_name": "苏州测试机器人有限公司",
        "district": epb.SIP,
        "rule_id": "m09.first_unit",
        "measure": 9,
        "item_id": "UNIT-7",
        "year": 2025,
        "status": dpb.PAID,
        "entitled_fen": 120_000_000,
        "granted_fen": 120_000_000,
        "cash_delta_fen": 120_000_000,
        "revision": 1,
        "funding_channels": ["市工信局"],
        "decided_at": "2025-07-01T08:00:00Z",
    }
    base.update(fields)
    return dpb.Decision(**base)  # type: ignore[arg-type]


def test_chinese_by_default_names_measure_clause_status_and_amounts(catalog: Catalog) -> None:
    rule = catalog.rule("m09.first_unit")
    msg = render(_decision(), rule, "zh", "enterprise", "苏州测试机器人有限公司")
    assert (
        msg.subject
        == "【已拨付】第九条 促进创新产品首试首用 · 首台(套)装备 — 苏州测试机器人有限公司"
    )
    assert msg.text.startswith("苏州测试机器人有限公司：\n")
    assert "政策条款：第九条 促进创新产品首试首用 · 首台(套)装备" in msg.text
    # The decision carried no clause: the catalog's clause text is used.
    assert f"条款内容：{rule.clause}" in msg.text
    assert "结果：已拨付" in msg.text
    assert "核定支持金额：¥1,200,000.00" in msg.text
    assert "本次拨付：¥1,200,000.00" in msg.text
    assert "原因：无" in msg.text
    assert "苏州工业园区" in msg.text
    assert "资金渠道（责任单位）：市工信局" in msg.text
    assert "决定编号：ev-1/m09.first_unit#1" in msg.text
    assert "应追回" not in msg.text


def test_english_per_subscription_with_reasons_in_words(catalog: Catalog) -> None:
    decision = _decision(
        decision_id="ev-2/m08.compute_voucher#1",
        rule_id="m08.compute_voucher",
        measure=8,
        status=dpb.PARTIALLY_PAID,
        reasons=[dpb.ANNUAL_CAP, dpb.CEILING_CLIPPED],
        entitled_fen=200_000_000,
        granted_fen=123_456_789,
        cash_delta_fen=123_456_789,
        clause="对符合条件的人工智能算力使用方……",
    )
    msg = render(decision, catalog.rule("m08.compute_voucher"), "en", "enterprise", "ACME")
    assert msg.subject.startswith("[Partially paid] Measure 8: 支持机器人大模型开发应用 · 算力使用")
    assert msg.text.startswith("To ACME,\n")
    assert "Result: Partially paid" in msg.text
    assert "Granted amount: ¥1,234,567.89" in msg.text
    assert "Amount under the rule alone: ¥2,000,000.00" in msg.text
    assert "Paid with this decision: ¥1,234,567.89" in msg.text
    assert (
        "Reasons: the rule's annual cap for the enterprise is reached; "
        "the approved amount exceeded the policy ceiling and was reduced to it"
    ) in msg.text
    assert "Clause: 对符合条件的人工智能算力使用方……" in msg.text
    assert "Suzhou Industrial Park" in msg.text
    assert "已拨付" not in msg.text


def test_clawback_to_a_bureau_asks_for_action(catalog: Catalog) -> None:
    decision = _decision(
        decision_id="ev-1/m09.first_unit#2",
        status=dpb.REVOKED,
        granted_fen=0,
        cash_delta_fen=-120_000_000,
        clawback_fen=120_000_000,
        revision=2,
    )
    rule = catalog.rule("m09.first_unit")
    zh = render(decision, rule, "zh", "bureau", "市工信局")
    assert zh.subject.startswith("【待办·已撤销】第九条")
    assert zh.text.startswith("市工信局：\n")
    assert "【待办】本项支持已撤销，请按规定追回已拨付资金 ¥1,200,000.00。" in zh.text
    assert "本次冲回：¥1,200,000.00" in zh.text
    assert "应追回金额：¥1,200,000.00" in zh.text
    en = render(decision, rule, "en", "bureau", "市工信局")
    assert en.subject.startswith("[Action needed · Revoked] Measure 9")
    assert "please recover ¥1,200,000.00 already paid" in en.text
    assert "To be recovered (clawback): ¥1,200,000.00" in en.text
    # The enterprise hears the same facts without the bureau's to-do line.
    assert "待办" not in render(decision, rule, "zh", "enterprise", "x").text


@pytest.mark.parametrize(
    ("status", "zh", "en"),
    [
        (dpb.REFERRED, "请办理", "please handle this case"),
        (dpb.PENDING_REVIEW, "请审核并核定支持金额", "please review it"),
    ],
)
def test_bureau_action_for_referred_and_pending(
    catalog: Catalog, status: int, zh: str, en: str
) -> None:
    decision = _decision(
        rule_id="m06.enterprise_title", measure=6, status=status, granted_fen=0, cash_delta_fen=0
    )
    rule = catalog.rule("m06.enterprise_title")
    assert zh in render(decision, rule, "zh", "bureau", "市科技局").text
    assert en in render(decision, rule, "en", "bureau", "市科技局").text
    assert "本次资金变动：无" in render(decision, rule, "zh", "enterprise", "x").text


def test_every_contract_status_and_reason_has_both_phrases() -> None:
    for name in (v.name for v in dpb.Status.DESCRIPTOR.values):
        assert set(STATUS_WORDS[name]) == {"zh", "en"}, name
    for name in (v.name for v in dpb.Reason.DESCRIPTOR.values):
        assert set(REASON_WORDS[name]) == {"zh", "en"}, name
    contract_reasons = [
        "OUTSIDE_WINDOW", "YEAR_LIMIT", "ANNUAL_CAP", "ITEM_CAP", "DUPLICATE_LOWER",
        "OTHER_SUPPORT", "CEILING_CLIPPED", "REVIEW_REJECTED",
    ]  # fmt: skip
    zh = {reason_words(dpb.Reason.Value(r), "zh") for r in contract_reasons}
    en = {reason_words(dpb.Reason.Value(r), "en") for r in contract_reasons}
    assert len(zh) == len(en) == len(contract_reasons)  # each its own phrase
    assert status_words(dpb.SUPERSEDED, "zh") == "已由更高支持替代"
    # A code from a newer contract does not break rendering.
    assert status_words(99, "en") == "unknown status (99)"
    assert reason_words(99, "zh") == "未知原因（99）"


def test_measures_are_numbered_as_the_policy_numbers_them() -> None:
    assert [zh_numeral(n) for n in (1, 3, 9, 10, 11, 12, 20, 21)] == [
        "一", "三", "九", "十", "十一", "十二", "二十", "二十一",
    ]  # fmt: skip


def test_unknown_rule_falls_back_to_rule_id() -> None:
    decision = _decision(rule_id="m99.future", measure=12, clause="")
    msg = render(decision, None, "zh", "enterprise", "x")
    assert "政策条款：第十二条（规则 m99.future）" in msg.text
    assert "条款内容" not in msg.text
    assert "Measure 12 (rule m99.future)" in render(decision, None, "en", "enterprise", "x").text


def test_webhook_body_is_json_with_the_decision_and_stable(catalog: Catalog) -> None:
    rule = catalog.rule("m09.first_unit")
    one = render(_decision(), rule, "en", "enterprise", "x")
    two = render(_decision(), rule, "en", "enterprise", "x")
    assert one.json_body == two.json_body  # signed once per attempt, same bytes every time
    body = json.loads(one.json_body)
    assert body["decisionId"] == "ev-1/m09.first_unit#1"
    assert body["language"] == "en"
    assert body["text"] == one.text
    assert body["amounts"]["granted"] == "¥1,200,000.00"
    assert body["decision"]["grantedFen"] == "120000000"  # protobuf JSON: int64 as a string
    assert body["decision"]["status"] == "PAID"
    assert body["decision"]["clawbackFen"] == "0"  # zero fields are present
    assert body["measure"]["number"] == 9


def test_signature_is_the_standard_webhooks_one() -> None:
    # The specification's own example: secret, webhook-id, timestamp, body and signature.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    at = datetime.fromtimestamp(1614265330, UTC)
    headers = signed_headers([secret], "msg_p5jXN8AQM9LWM0D4loKWxJek", at, b'{"test": 2432232314}')
    assert headers == {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }


def test_message_id_is_derived_from_decision_id() -> None:
    a = message_id("ev-1/m09.first_unit#1", "ops@acme.cn", "notifier@subsidy.suzhou.gov.cn")
    assert a == message_id("ev-1/m09.first_unit#1", "OPS@acme.cn", "notifier@subsidy.suzhou.gov.cn")
    assert a.startswith("<")
    assert a.endswith("@subsidy.suzhou.gov.cn>")
    assert a != message_id("ev-1/m09.first_unit#2", "ops@acme.cn", "notifier@subsidy.suzhou.gov.cn")
    assert a != message_id(
        "ev-1/m09.first_unit#1", "kj@sz.gov.cn", "notifier@subsidy.suzhou.gov.cn"
    )


def test_backoff_grows_exponentially_with_jitter_up_to_the_cap() -> None:
    rng = random.Random(7)
    for attempt, step in [(1, 2.0), (2, 4.0), (3, 8.0), (4, 16.0), (9, 60.0), (50, 60.0)]:
        delays = [backoff_seconds(attempt, 2.0, 60.0, rng) for _ in range(200)]
        assert all(step / 2 <= d <= step for d in delays), attempt
        assert len(set(delays)) > 100  # jittered, not one fixed value
