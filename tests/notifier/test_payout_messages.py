"""Payout notices in words and who hears of them: 已发放, 退回 with what to do, budget alerts."""

import json
from datetime import UTC, datetime

import pytest

from subsidy.domain.catalog import load_catalog
from subsidy.domain.payouts.orders import PayoutNotice
from subsidy.notifier.payout_messages import Notice, percent, render_notice
from subsidy.notifier.planner import plan_notice
from subsidy.notifier.subscriptions import Subscription, SubscriptionError, subscribable, validate

ENTERPRISE = "91350100M000100Y43"
NAME = "苏州灵犀具身智能有限公司"
AT = datetime(2025, 7, 1, 8, 0, tzinfo=UTC)  # 16:00 in Beijing


def _notice(kind: str, amount_fen: int = 123_456_789, **fields: str) -> Notice:
    base = {
        "enterprise_id": ENTERPRISE, "enterprise_name": NAME, "order_id": "PO0123456789ABCDEF0123",
        "batch_id": "B-市科技局-20250701", "reason": "",
    }  # fmt: skip
    base.update(fields)
    key = f"{kind.lower()}:{base['order_id']}:{base['batch_id']}"
    return Notice(7, AT, PayoutNotice(key, kind, "市科技局", 2025, amount_fen, **base))


def _alert(threshold: int, used_fen: int, envelope_fen: int, channel: str = "市科技局") -> Notice:
    notice = PayoutNotice(f"alert:{channel}:2025:{threshold}", "BUDGET_ALERT", channel, 2025,
                          used_fen, reason=f"{threshold}% of {envelope_fen}")  # fmt: skip
    return Notice(9, AT, notice)


ENT = Subscription("enterprise", ENTERPRISE, "https://hooks.acme.cn/subsidy", "ops@acme.cn", "zh")
KJ = Subscription("bureau", "市科技局", None, "kj@sz.gov.cn", "zh")


def test_paid_in_chinese_with_amount_channel_and_beijing_time() -> None:
    msg = render_notice(_notice("PAID"), "zh", "enterprise", NAME)
    assert msg.subject == f"【已发放】¥1,234,567.89 — 市科技局 2025年度 — {NAME}"
    assert msg.text.startswith(f"{NAME}：\n")
    assert f"企业：{NAME}（统一社会信用代码 {ENTERPRISE}）" in msg.text
    assert "金额：¥1,234,567.89" in msg.text
    assert "资金渠道：市科技局" in msg.text
    assert "业务流水号：PO0123456789ABCDEF0123" in msg.text
    assert "时间：2025-07-01 16:00（北京时间）" in msg.text
    assert "待办" not in msg.text  # nothing to do when the money arrived
    body = json.loads(msg.json_body)
    assert body["noticeId"] == "paid:PO0123456789ABCDEF0123:B-市科技局-20250701"
    assert body["kindText"] == "已发放"
    assert body["amountText"] == "¥1,234,567.89"
    assert body["notice"]["amountFen"] == "123456789"
    assert body["notice"]["createdAt"] == "2025-07-01T16:00:00+08:00"
    assert datetime.fromisoformat(body["notice"]["createdAt"]) == AT
    assert body["text"] == msg.text


def test_returned_names_the_reason_and_what_to_do() -> None:
    zh = render_notice(_notice("RETURNED", 250_000_000, reason="账户已销户"), "zh", "enterprise",
                       NAME)  # fmt: skip
    assert zh.subject == f"【待办·退回】¥2,500,000.00 支持资金被银行退回 — {NAME}"
    assert "退回原因：账户已销户" in zh.text
    assert "【待办】请通过苏州政务服务网登记新的收款账户" in zh.text
    body = json.loads(zh.json_body)
    assert body["reasonText"] == "账户已销户"
    assert "苏州政务服务网" in body["actionText"]
    en = render_notice(_notice("RETURNED", 250_000_000), "en", "enterprise", NAME)
    assert (
        en.subject == f"[Action needed · Returned] ¥2,500,000.00 was returned by the bank — {NAME}"
    )
    assert "Return reason: not given by the bank" in en.text
    assert "register another payee account through the Suzhou government service portal" in en.text


def test_budget_alerts_warn_at_80_and_say_orders_wait_at_100() -> None:
    warn = render_notice(_alert(80, 812_345_678, 1_000_000_000), "zh", "bureau", "市科技局")
    assert warn.subject == "【预算预警】市科技局 2025年度预算已使用81.2%"
    assert warn.text.startswith("市科技局：\n")
    assert "预算金额：¥10,000,000.00" in warn.text
    assert "已承诺金额：¥8,123,456.78（81.2%）" in warn.text
    assert "预算余额：¥1,876,543.22" in warn.text
    assert "【提示】该预算已使用81.2%" in warn.text
    body = json.loads(warn.json_body)
    assert body["alert"] == {"threshold": 80, "envelopeFen": "1000000000",
                             "envelopeText": "¥10,000,000.00"}  # fmt: skip
    assert body["notice"]["enterpriseId"] == ""
    full = render_notice(_alert(100, 499_000_000, 500_000_000, "苏州工业园区财政局"), "en",
                         "bureau", "苏州工业园区财政局")  # fmt: skip
    assert full.subject == (
        "[Action needed · Budget full] 苏州工业园区财政局, year 2025: orders now wait for budget"
    )
    assert "【Action needed】The budget cannot fit the next payment order" in full.text
    assert "Committed: ¥4,990,000.00 (99.8%)" in full.text


def test_an_alert_whose_reason_cannot_be_read_is_shown_as_written() -> None:
    odd = Notice(3, AT, PayoutNotice("alert:x", "BUDGET_ALERT", "市科技局", 2025, 5, reason="?"))
    msg = render_notice(odd, "zh", "bureau", "市科技局")
    assert msg.subject == "【预算预警】市科技局 2025年度：?"
    assert "已承诺金额：¥0.05 (?)" in msg.text
    assert json.loads(msg.json_body)["alert"] is None


def test_percent_is_rounded_down_in_integers() -> None:
    assert percent(799_999_999, 1_000_000_000) == "79.9%"
    assert percent(1, 3) == "33.3%"
    assert percent(5, 0) == "—"


def test_paid_and_returned_reach_the_enterprise_and_sent_nobody() -> None:
    planned = plan_notice(_notice("PAID"), {ENTERPRISE: ENT}, {"市科技局": KJ})
    assert [(p.channel, p.recipient, p.audience) for p in planned] == [
        ("webhook", "https://hooks.acme.cn/subsidy", "enterprise"),
        ("email", "ops@acme.cn", "enterprise"),
    ]
    assert all(p.decision_id is None and p.notice_id == _notice("PAID").notice.notice_id
               for p in planned)  # fmt: skip
    assert planned[0].body.startswith("{")  # the webhook gets JSON, the mail plain text
    assert not planned[1].body.startswith("{")
    assert plan_notice(_notice("RETURNED"), {ENTERPRISE: ENT}, {})[0].audience == "enterprise"
    assert plan_notice(_notice("SENT"), {ENTERPRISE: ENT}, {"市科技局": KJ}) == []
    assert plan_notice(_notice("PAID"), {}, {"市科技局": KJ}) == []  # not subscribed


def test_budget_alerts_reach_the_channels_bureau_only() -> None:
    planned = plan_notice(_alert(80, 8, 10), {ENTERPRISE: ENT}, {"市科技局": KJ})
    assert [(p.channel, p.recipient, p.subscriber) for p in planned] == [
        ("email", "kj@sz.gov.cn", "市科技局")
    ]
    assert plan_notice(_alert(80, 8, 10, "市工信局"), {ENTERPRISE: ENT}, {"市科技局": KJ}) == []


def test_district_finance_bureaus_may_subscribe_to_their_alerts() -> None:
    bureaus = subscribable(load_catalog())
    assert {"苏州工业园区财政局", "昆山市财政局", "市科技局"} <= bureaus
    sub = validate({"bureau": "苏州工业园区财政局", "email": "czj@sipac.gov.cn"}, bureaus=bureaus,
                   has_secret=lambda s: False)  # fmt: skip
    assert (sub.kind, sub.subscriber) == ("bureau", "苏州工业园区财政局")
    with pytest.raises(SubscriptionError, match="nor a district's finance bureau"):
        validate({"bureau": "苏州市财政局", "email": "a@b.cn"}, bureaus=bureaus,
                 has_secret=lambda s: False)  # fmt: skip


def test_an_objection_goes_to_the_paying_bureau_to_review() -> None:
    held = _notice("OBJECTION", 25_000_000, batch_id="", reason="展会规模与申报不符（异议 o1）")
    msg = render_notice(held, "zh", "bureau", "市科技局")
    assert msg.subject == f"【待办·公示异议】¥250,000.00 暂缓拨付，请复核 — {NAME}"
    assert "异议：展会规模与申报不符（异议 o1）" in msg.text
    assert "subsidy publicity dismiss" in msg.text
    assert json.loads(msg.json_body)["reasonText"] == "展会规模与申报不符（异议 o1）"
    planned = plan_notice(held, {ENTERPRISE: ENT}, {"市科技局": KJ})
    assert {(p.audience, p.recipient) for p in planned} == {("bureau", "kj@sz.gov.cn")}
