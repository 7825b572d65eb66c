"""Messages about appeals (复核申请) that change no decision, planned from the ledger's notices."""

# The rule's bureaus hear of a filing with its deadline, the enterprise of a dismissal (维持原决定)
# or of an appeal upheld whose remedy is the source's correction; nobody of a reopening (its
# decision tells them). Chinese first, English on request, one message per recipient.

import json

import pytest

from subsidy.decisions.v1 import decisions_pb2 as dpb
from subsidy.domain.catalog import Catalog, load_catalog
from subsidy.notifier.appeal_notice_messages import render_appeal_notice
from subsidy.notifier.planner import plan_appeal_notice
from subsidy.notifier.subscriptions import Subscription
from tests.notifier.appeal_notices import EXPO, VOUCHER, appeal_story, noticed
from tests.notifier.stack import A

FILED = "ap-expo-1p#APPEAL_FILED"
REOPENED = "ap-expo-1p#APPEAL_REOPENED"
DISMISSED = "ap-expo-2p#APPEAL_DISMISSED"
UPHELD = "ap-inv-2p#APPEAL_UPHELD_BY_CORRECTION"
# Recorded 2025-07-01 16:00 Beijing time: 15 working days later, July having no holiday.
DUE = "2025-07-22T23:59:59+08:00"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="module")
def notices(catalog: Catalog) -> dict[str, dpb.AppealNotice]:
    return noticed(catalog, appeal_story(A))


def _subscribers(catalog: Catalog, rule_id: str, english: str = "") -> dict[str, Subscription]:
    return {u: Subscription("bureau", u, None, f"{i}@sz.gov.cn", "en" if u == english else "zh")
            for i, u in enumerate(catalog.rule(rule_id).responsible_units)}  # fmt: skip


ENTERPRISE = {A: Subscription("enterprise", A, "https://hooks.acme.cn/s", "ops@acme.cn", "zh")}


def test_every_appeal_and_decision_is_noted_with_its_kind(
    notices: dict[str, dpb.AppealNotice],
) -> None:
    assert set(notices) == {FILED, REOPENED, DISMISSED, UPHELD,
                            "ap-expo-2p#APPEAL_FILED", "ap-inv-2p#APPEAL_FILED"}  # fmt: skip
    filed = notices[FILED]
    assert (filed.filed_at, filed.due_at, filed.filed_by, filed.status) == (
        "2025-07-01T16:00:00+08:00", DUE, "portal-enterprise", dpb.DENIED)  # fmt: skip
    assert notices[UPHELD].status == dpb.DENIED
    assert notices[UPHELD].decided_by == "reviewer-li"
    assert notices[REOPENED].status == dpb.PENDING_REVIEW


def test_a_filing_tells_the_rules_bureaus_by_when_to_decide(
    catalog: Catalog, notices: dict[str, dpb.AppealNotice]
) -> None:
    units = catalog.rule(EXPO).responsible_units
    bureaus = _subscribers(catalog, EXPO, english=units[-1])
    planned = plan_appeal_notice(notices[FILED], catalog, ENTERPRISE, bureaus)
    assert sorted(p.subscriber for p in planned) == sorted(units)
    assert {(p.audience, p.channel, p.appeal_notice_id) for p in planned} == {
        ("bureau", "email", FILED)}  # fmt: skip
    zh = next(p for p in planned if p.language == "zh")
    assert zh.subject.startswith("【待办·复核申请】第六条 ")
    assert (
        "【待办】企业 苏州测试机器人有限公司 对以下支持事项提出复核申请（编号 ap-expo-1p），"
        "请于 2025-07-22 23:59 北京时间（登记之日起 15 个工作日内）作出复核决定。"
    ) in zh.body
    assert "申请理由：展会规模符合要求\n申请提交人：portal-enterprise\n" in zh.body
    assert "答复期限：2025-07-22 23:59 北京时间" in zh.body
    assert "原决定：不予支持，核定支持金额 ¥0.00" in zh.body
    en = next(p for p in planned if p.language == "en")
    assert en.subject.startswith("[Action needed · Appeal] Measure 6")
    assert "please decide it by 2025-07-22 23:59 Beijing time (15 working days" in en.body


def test_a_dismissal_tells_the_enterprise_the_decision_stands_and_why(
    catalog: Catalog, notices: dict[str, dpb.AppealNotice]
) -> None:
    planned = plan_appeal_notice(notices[DISMISSED], catalog, ENTERPRISE,
                                 _subscribers(catalog, EXPO))  # fmt: skip
    assert {(p.audience, p.channel) for p in planned} == {("enterprise", "webhook"),
                                                          ("enterprise", "email")}  # fmt: skip
    mail = next(p for p in planned if p.channel == "email")
    assert mail.subject.startswith("【复核申请·维持原决定】第六条 ")
    assert ("贵企业对以下支持事项提出的复核申请（编号 ap-expo-2p）经 reviewer-li 复核，"
            "决定不予支持，维持原决定。复核理由：参展商数量不足") in mail.body  # fmt: skip
    hook = json.loads(next(p for p in planned if p.channel == "webhook").body)
    assert hook["kind"] == "APPEAL_DISMISSED"
    assert hook["appealNoticeId"] == DISMISSED
    assert hook["appealNotice"]["reason"] == "参展商数量不足"
    assert hook["text"] == mail.body


def test_an_upheld_appeal_on_a_rule_denial_names_the_sources_correction(
    catalog: Catalog, notices: dict[str, dpb.AppealNotice]
) -> None:
    planned = plan_appeal_notice(notices[UPHELD], catalog, ENTERPRISE,
                                 _subscribers(catalog, VOUCHER))  # fmt: skip
    assert {p.audience for p in planned} == {"enterprise"}
    mail = next(p for p in planned if p.channel == "email")
    assert mail.subject.startswith("【复核申请获支持·待数据源更正】第八条 ")
    assert "纠正方式为由数据报送单位（数据源）更正原事件" in mail.body
    assert "原决定：不予支持，核定支持金额 ¥0.00" in mail.body
    english = render_appeal_notice(notices[UPHELD], None, "en", "enterprise", "Acme")
    assert "the remedy is a correction of the original event by its data source" in english.text
    assert english.subject.startswith("[Appeal upheld · Source to correct] Measure 8: m08.")


def test_nobody_hears_of_a_reopening_here_nor_an_unsubscribed_party(
    catalog: Catalog, notices: dict[str, dpb.AppealNotice]
) -> None:
    everyone = _subscribers(catalog, EXPO)
    assert plan_appeal_notice(notices[REOPENED], catalog, ENTERPRISE, everyone) == []
    assert plan_appeal_notice(notices[DISMISSED], catalog, {}, everyone) == []
    assert plan_appeal_notice(notices[FILED], catalog, ENTERPRISE, {}) == []


def test_one_mailbox_for_two_bureaus_gets_one_message(
    catalog: Catalog, notices: dict[str, dpb.AppealNotice]
) -> None:
    shared = {u: Subscription("bureau", u, None, "shared@sz.gov.cn", "zh")
              for u in catalog.rule(EXPO).responsible_units}  # fmt: skip
    planned = plan_appeal_notice(notices[FILED], catalog, ENTERPRISE, shared)
    assert [p.recipient for p in planned] == ["shared@sz.gov.cn"]
