"""Mail and webhook text show every time in Beijing time to the minute, amounts as ¥1,234,567.89."""

# The webhook's JSON keeps the exact instant, ISO-8601 with its offset.

import json
import re
from datetime import UTC, datetime

import pytest

from subsidy.decisions.v1 import decisions_pb2 as dpb
from subsidy.domain.catalog import Catalog, load_catalog
from subsidy.domain.payouts.orders import PayoutNotice
from subsidy.events.v1 import events_pb2 as epb
from subsidy.notifier.appeal_notice_messages import render_appeal_notice
from subsidy.notifier.messages import Rendered, render
from subsidy.notifier.payout_messages import Notice, render_notice
from subsidy.notifier.shown_time import beijing_minute
from tests.notifier.appeal_notices import appeal_story, noticed
from tests.notifier.stack import A

# 08:05:30.123456 UTC, late enough in the day that Beijing's date is the same, early enough
# that a UTC time (08:05) and Beijing's (16:05) cannot be confused.
AT = datetime(2025, 7, 1, 8, 5, 30, 123_456, tzinfo=UTC)
# Near midnight UTC: Beijing is already the next day.
LATE = datetime(2025, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)

# What may not appear in people's text: an offset or Z after a time, ISO's T, seconds, a
# fraction of a second, or UTC named at all.
FORBIDDEN = {
    "UTC named": re.compile(r"UTC|GMT"),
    "an offset or Z": re.compile(r"\d(?:Z|[+-]\d{2}:?\d{2})\b"),
    "ISO's T": re.compile(r"\d{4}-\d{2}-\d{2}T\d"),
    "seconds": re.compile(r"\b\d{2}:\d{2}:\d{2}"),
    "a fraction of a second": re.compile(r"\d{2}:\d{2}[.,]\d"),
}
AMOUNT = re.compile(r"¥-?\d{1,3}(?:,\d{3})*\.\d{2}")


def people_text_problems(rendered: Rendered) -> list[str]:
    """What in the subject, the mail's text and the webhook's `text` is not Beijing minutes."""
    texts = [rendered.subject, rendered.text, json.loads(rendered.json_body).get("text", "")]
    return [f"{name}: {pattern.search(t)}" for t in texts for name, pattern in FORBIDDEN.items()
            if pattern.search(t)]  # fmt: skip


def test_the_check_catches_what_it_is_for() -> None:
    for bad in ("决定时间：2025-07-01T08:05:30Z", "at 2025-07-01 08:05:30.123456",
                "2025-07-01 16:05 (UTC+8)", "2025-07-01 08:05+00:00"):  # fmt: skip
        assert people_text_problems(Rendered(bad, "", "{}")), bad
    assert people_text_problems(Rendered("2025-07-01 16:05（北京时间）", "", "{}")) == []


def test_beijing_minute() -> None:
    assert beijing_minute(AT) == "2025-07-01 16:05"
    assert beijing_minute(LATE) == "2026-01-01 07:59"
    with pytest.raises(ValueError, match="UTC offset"):
        beijing_minute(datetime(2025, 7, 1, 8, 5))


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def _decision(moment: datetime) -> dpb.Decision:
    decision = dpb.Decision(
        decision_id="ev-1/m09.first_unit#1", entitlement_id="ev-1/m09.first_unit",
        event_id="ev-1", enterprise_id="91350100M000100Y43",
        enterprise_name="苏州测试机器人有限公司",
        district=epb.SIP, rule_id="m09.first_unit", measure=9, item_id="UNIT-7", year=2025,
        status=dpb.PAID, entitled_fen=123_456_789, granted_fen=123_456_789,
        cash_delta_fen=123_456_789, revision=1, funding_channels=["市工信局"],
        decided_at=moment.isoformat(),
    )  # fmt: skip
    decision.decided_time.FromDatetime(moment)
    return decision


@pytest.mark.parametrize("moment", [AT, LATE])
def test_decision_mail_and_webhook_text_in_beijing_minutes(
    catalog: Catalog, moment: datetime
) -> None:
    rule = catalog.rule("m09.first_unit")
    zh = render(_decision(moment), rule, "zh", "enterprise", "苏州测试机器人有限公司")
    en = render(_decision(moment), rule, "en", "bureau", "市工信局")
    shown = beijing_minute(moment)
    assert f"决定时间：{shown}（北京时间）" in zh.text
    assert f"Decided at: {shown} (Beijing time)" in en.text
    for msg in (zh, en):
        assert people_text_problems(msg) == []
        assert "¥1,234,567.89" in msg.text
        assert all(AMOUNT.fullmatch(a) for a in re.findall(r"¥[-\d,.]+", msg.text))
        # The JSON keeps the exact instant, with its offset, microseconds and all.
        decision = json.loads(msg.json_body)["decision"]
        assert datetime.fromisoformat(decision["decidedTime"]) == moment
        assert datetime.fromisoformat(decision["decidedAt"]) == moment


@pytest.mark.parametrize("kind", ["PAID", "RETURNED"])
def test_payout_notice_text_in_beijing_minutes(kind: str) -> None:
    notice = PayoutNotice(f"{kind.lower()}:PO1:B1", kind, "市科技局", 2025, 123_456_789,
                          enterprise_id="91350100M000100Y43", enterprise_name="苏州灵犀",
                          order_id="PO1", batch_id="B1", reason="账户已销户")  # fmt: skip
    for language in ("zh", "en"):
        msg = render_notice(Notice(7, AT, notice), language, "enterprise", "苏州灵犀")
        assert people_text_problems(msg) == []
        assert "2025-07-01 16:05" in msg.text
        assert "¥1,234,567.89" in msg.text
        created = json.loads(msg.json_body)["notice"]["createdAt"]
        assert datetime.fromisoformat(created) == AT
        assert created.endswith("+08:00")


def test_appeal_notice_text_in_beijing_minutes(catalog: Catalog) -> None:
    notices = noticed(catalog, appeal_story(A))
    # Those people hear of (a reopening is told by its decision): filed, dismissed, upheld.
    told = ("ap-expo-1p#APPEAL_FILED", "ap-expo-2p#APPEAL_DISMISSED",
            "ap-inv-2p#APPEAL_UPHELD_BY_CORRECTION")  # fmt: skip
    for notice in (notices[n] for n in told):
        rule = catalog.rule(notice.rule_id) if notice.rule_id else None
        for language in ("zh", "en"):
            msg = render_appeal_notice(notice, rule, language, "bureau", "市商务局")
            assert people_text_problems(msg) == [], notice.notice_id
            assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} (北京时间|Beijing time)", msg.text)
