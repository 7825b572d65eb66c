"""What the notifier says of an appeal (复核申请) that changes no decision, Chinese first."""

# A filing, to the rule's bureaus with its deadline; a dismissal or an upheld appeal, to the
# enterprise.

import json
from datetime import datetime
from typing import Any

from google.protobuf.json_format import MessageToDict

from subsidy.contract.instants import instant
from subsidy.decisions.v1 import decisions_pb2 as dpb
from subsidy.domain.beijing import in_beijing
from subsidy.domain.catalog import Rule
from subsidy.domain.deadlines import Queue, load_deadlines
from subsidy.domain.money import format_fen
from subsidy.notifier.messages import (
    FOOTER,
    POLICY_NAME,
    Audience,
    Language,
    Rendered,
    measure_label,
    status_words,
    zh_numeral,
)
from subsidy.notifier.shown_time import beijing_minute

FILED, DISMISSED = dpb.APPEAL_FILED, dpb.APPEAL_DISMISSED
UPHELD_BY_CORRECTION, REOPENED = dpb.APPEAL_UPHELD_BY_CORRECTION, dpb.APPEAL_REOPENED

# The tag before the subject's measure, per kind.
_TAGS: dict[int, dict[Language, str]] = {
    FILED: {"zh": "待办·复核申请", "en": "Action needed · Appeal"},
    DISMISSED: {"zh": "复核申请·维持原决定", "en": "Appeal dismissed · Decision stands"},
    UPHELD_BY_CORRECTION: {
        "zh": "复核申请获支持·待数据源更正",
        "en": "Appeal upheld · Source to correct",
    },
}

_HEADS: dict[int, dict[Language, str]] = {
    FILED: {
        "zh": "【待办】企业 {who} 对以下支持事项提出复核申请（编号 {appeal}），请于 {due}"
        "（登记之日起 {days} 个工作日内）作出复核决定。",
        "en": "[Action needed] {who} appealed the support case below (appeal {appeal}): please"
        " decide it by {due} ({days} working days from the day it was recorded).",
    },
    DISMISSED: {
        "zh": "贵企业对以下支持事项提出的复核申请（编号 {appeal}）经 {by} 复核，决定不予支持，"
        "维持原决定。复核理由：{reason}",
        "en": "Your appeal {appeal} of the support case below was reviewed by {by} and"
        " dismissed: the original decision stands. Reason: {reason}",
    },
    UPHELD_BY_CORRECTION: {
        "zh": "贵企业对以下支持事项提出的复核申请（编号 {appeal}）经 {by} 复核，予以支持。"
        "原结果系平台按报送的事项数据依政策规则核定，纠正方式为由数据报送单位（数据源）更正"
        "原事件：更正到达后平台将重新核定并另行通知；在此之前，原决定及资金不变。复核理由：{reason}",
        "en": "Your appeal {appeal} of the support case below was upheld by {by}. The result"
        " was the policy's rules applied to the facts as reported, so the remedy is a"
        " correction of the original event by its data source: once it arrives the case is"
        " decided again and you will be told; until then the decision and the money stand."
        " Reason: {reason}",
    },
}

_LABELS: dict[str, dict[Language, str]] = {
    "enterprise": {"zh": "企业", "en": "Enterprise"},
    "measure": {"zh": "政策条款", "en": "Measure"},
    "case": {"zh": "支持事项", "en": "Support case"},
    "decision": {"zh": "原决定", "en": "Decision appealed"},
    "reason": {"zh": "申请理由", "en": "Grounds of the appeal"},
    "filed_by": {"zh": "申请提交人", "en": "Filed by"},
    "filed_at": {"zh": "登记时间", "en": "Recorded at"},
    "due": {"zh": "答复期限", "en": "Answer due by"},
    "decided_by": {"zh": "复核人", "en": "Decided by"},
    "decided_at": {"zh": "复核时间", "en": "Decided at"},
    "appeal": {"zh": "复核申请编号", "en": "Appeal id"},
    "channels": {"zh": "资金渠道（责任单位）", "en": "Funding channel (responsible units)"},
}


def audience_of(notice: dpb.AppealNotice) -> Audience | None:
    """Who hears of it: the rule's bureaus of a filing (a case waits for them), the enterprise
    of a dismissal or an upheld appeal. Nobody of a reopening: the Decision it brought about
    (decisions.v1, with its `appeal`) tells the enterprise and the bureaus."""
    if notice.kind == FILED:
        return "bureau"
    if notice.kind in (DISMISSED, UPHELD_BY_CORRECTION):
        return "enterprise"
    return None


def _at(notice: dpb.AppealNotice, name: str) -> datetime | None:
    """The notice's `<name>_time`, else the `<name>_at` string an older ledger wrote."""
    return instant(notice, f"{name}_time", f"{name}_at")


def _when(moment: datetime | None, language: Language) -> str:
    """An instant in Beijing time as people read it."""
    if moment is None:
        return "-"
    shown = beijing_minute(moment)
    return f"{shown} 北京时间" if language == "zh" else f"{shown} Beijing time"


def _head(notice: dpb.AppealNotice, language: Language) -> str:
    who = notice.enterprise_name or notice.enterprise_id
    days = load_deadlines().terms[Queue.APPEALS].working_days
    return _HEADS[notice.kind][language].format(
        who=who, appeal=notice.appeal_id, due=_when(_at(notice, "due"), language), days=days,
        by=notice.decided_by or "-", reason=notice.reason,
    )  # fmt: skip


def _lines(notice: dpb.AppealNotice, rule: Rule | None, language: Language) -> list[str]:
    zh = language == "zh"
    sep = "：" if zh else ": "

    def line(key: str, value: str) -> str:
        return f"{_LABELS[key][language]}{sep}{value}"

    who = notice.enterprise_name or notice.enterprise_id
    uscc = notice.enterprise_id
    ident = f"（统一社会信用代码 {uscc}）" if zh else f" (USCC {uscc})"
    status = status_words(notice.status, language)
    amount = ("，核定支持金额 " if zh else ", granted ") + format_fen(notice.granted_fen)
    lines = [
        line("enterprise", who + ident),
        line("measure", measure_label(notice.measure, rule, notice.rule_id, language)),
        line("case", notice.entitlement_id),
        line("decision", status + amount),
    ]
    if notice.kind == FILED:
        lines.append(line("reason", notice.reason))
        if notice.filed_by:
            lines.append(line("filed_by", notice.filed_by))
        lines += [line("filed_at", _when(_at(notice, "filed"), language)),
                  line("due", _when(_at(notice, "due"), language))]  # fmt: skip
    else:
        lines += [line("decided_by", notice.decided_by),
                  line("decided_at", _when(_at(notice, "decided"), language))]  # fmt: skip
    channels = list(notice.funding_channels) or list(rule.responsible_units if rule else ())
    if channels:
        lines.append(line("channels", ("、" if zh else ", ").join(channels)))
    lines.append(line("appeal", notice.appeal_id))
    return lines


def render_appeal_notice(
    notice: dpb.AppealNotice, rule: Rule | None, language: Language, audience: Audience,
    addressee: str,
) -> Rendered:  # fmt: skip
    """The message about one appeal notice for one recipient, in its language."""
    tag = _TAGS[notice.kind][language]
    title = rule.title if rule else notice.rule_id
    who = notice.enterprise_name or notice.enterprise_id
    if language == "zh":
        subject = f"【{tag}】第{zh_numeral(notice.measure)}条 {title} — {who}"
        greeting = f"{addressee}：" if addressee else ""
        intro = f"根据{POLICY_NAME['zh']}，现将复核申请情况通知如下："
    else:
        subject = f"[{tag}] Measure {notice.measure}: {title} — {who}"
        greeting = f"To {addressee}," if addressee else ""
        intro = f"Under the {POLICY_NAME['en']}, an appeal of a support case:"
    body = [greeting, "", _head(notice, language), "", intro, "",
            *_lines(notice, rule, language), "", FOOTER[language]]  # fmt: skip
    text = "\n".join(body).lstrip("\n") + "\n"
    return Rendered(subject, text, _payload(notice, rule, language, audience, subject, text))


def _payload(
    notice: dpb.AppealNotice, rule: Rule | None, language: Language, audience: Audience,
    subject: str, text: str,
) -> str:  # fmt: skip
    """The webhook's JSON: the texts, and the notice in protobuf's JSON mapping."""
    due_at = _at(notice, "due")
    payload: dict[str, Any] = {
        "appealNoticeId": notice.notice_id,
        "kind": dpb.AppealNoticeKind.Name(notice.kind),
        "audience": audience,
        "language": language,
        "subject": subject,
        "text": text,
        "headline": _head(notice, language),
        "measure": {
            "number": notice.measure,
            "label": measure_label(notice.measure, rule, notice.rule_id, language),
        },
        "statusText": status_words(notice.status, language),
        # The deadline as the ledger writes the deprecated string (Beijing, +08:00, seconds),
        # from `due_time` when set: one form whichever field an older ledger filled.
        "dueAt": "" if due_at is None else in_beijing(due_at).isoformat(timespec="seconds"),
        "appealNotice": MessageToDict(notice, always_print_fields_with_no_presence=True),
    }
    # Sorted keys and no spaces: the body is stored once and signed byte for byte.
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
