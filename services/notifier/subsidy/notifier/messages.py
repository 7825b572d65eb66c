"""Every text the notifier sends, in Chinese and English: subjects, bodies, statuses, reasons."""

import json
from dataclasses import dataclass
from typing import Any, Literal

from google.protobuf.json_format import MessageToDict

from subsidy.contract.instants import instant
from subsidy.decisions.v1 import decisions_pb2 as dpb
from subsidy.domain.catalog import Rule
from subsidy.domain.enums import DISTRICT_NAMES_ZH, District
from subsidy.domain.money import format_fen
from subsidy.domain.words import REASON_WORDS, STATUS_WORDS
from subsidy.events.v1 import events_pb2 as epb
from subsidy.notifier import appeal_messages as appeals
from subsidy.notifier import correction_messages as corrections
from subsidy.notifier.shown_time import beijing_minute

Language = Literal["zh", "en"]
Audience = Literal["enterprise", "bureau"]
LANGUAGES: tuple[Language, ...] = ("zh", "en")

POLICY_NAME: dict[Language, str] = {
    "zh": "《苏州市支持具身智能机器人产业创新发展的若干措施》",
    "en": "Suzhou Measures to Support the Embodied-AI Robot Industry (2025)",
}


DISTRICT_NAMES_EN: dict[str, str] = {
    "GUSU": "Gusu District",
    "HUQIU": "Suzhou High-tech Zone (Huqiu)",
    "WUZHONG": "Wuzhong District",
    "XIANGCHENG": "Xiangcheng District",
    "WUJIANG": "Wujiang District",
    "SIP": "Suzhou Industrial Park",
    "CHANGSHU": "Changshu",
    "ZHANGJIAGANG": "Zhangjiagang",
    "KUNSHAN": "Kunshan",
    "TAICANG": "Taicang",
}

_LABELS: dict[str, dict[Language, str]] = {
    "enterprise": {"zh": "企业", "en": "Enterprise"},
    "measure": {"zh": "政策条款", "en": "Measure"},
    "clause": {"zh": "条款内容", "en": "Clause"},
    "item": {"zh": "支持对象", "en": "Supported item"},
    "status": {"zh": "结果", "en": "Result"},
    "granted": {"zh": "核定支持金额", "en": "Granted amount"},
    "entitled": {"zh": "按条款应得金额", "en": "Amount under the rule alone"},
    "paid_now": {"zh": "本次拨付", "en": "Paid with this decision"},
    "reversed_now": {"zh": "本次冲回", "en": "Reversed with this decision"},
    "no_cash": {"zh": "本次资金变动", "en": "Cash moved by this decision"},
    "clawback": {"zh": "应追回金额", "en": "To be recovered (clawback)"},
    "reasons": {"zh": "原因", "en": "Reasons"},
    "channels": {"zh": "资金渠道（责任单位）", "en": "Funding channel (responsible units)"},
    "decision": {"zh": "决定编号", "en": "Decision id"},
    "decided_at": {"zh": "决定时间", "en": "Decided at"},
    "none": {"zh": "无", "en": "none"},
    "action_tag": {"zh": "待办", "en": "Action needed"},
}

_BUREAU_ACTIONS: dict[str, dict[Language, str]] = {
    "clawback": {
        "zh": "本项支持已撤销，请按规定追回已拨付资金 {amount}。",
        "en": "This support was revoked: please recover {amount} already paid.",
    },
    "revoked": {
        "zh": "本项支持已撤销，无需追回资金，请知悉。",
        "en": "This support was revoked; nothing was paid, so nothing is to be recovered.",
    },
    "REFERRED": {
        "zh": "本条款的支持金额由责任单位按相关政策确定，请办理。",
        "en": "The policy defers the amount to the responsible units: please handle this case.",
    },
    "PENDING_REVIEW": {
        "zh": "本事项需要审核，请审核并核定支持金额。",
        "en": "This case needs review: please review it and approve an amount.",
    },
}

FOOTER: dict[Language, str] = {
    "zh": "本通知由苏州市具身智能机器人产业政策兑付平台自动发送，请勿直接回复。",
    "en": "Sent automatically by the Suzhou embodied-AI robot subsidy platform; do not reply.",
}

_ZH_DIGITS = "零一二三四五六七八九"


def zh_numeral(n: int) -> str:
    """1…99 in Chinese numerals (三, 十二, 二十一), as the policy numbers its measures."""
    if not 0 < n < 100:
        return str(n)
    tens, ones = divmod(n, 10)
    if tens == 0:
        return _ZH_DIGITS[ones]
    head = "" if tens == 1 else _ZH_DIGITS[tens]
    return f"{head}十{_ZH_DIGITS[ones] if ones else ''}"


def _enum_name(enum: Any, value: int) -> str:
    try:
        return str(enum.Name(value))
    except ValueError:  # a code added to the contract after this notifier was built
        return ""


def status_words(status: int, language: Language) -> str:
    """A Decision status (protobuf enum value) in words."""
    words = STATUS_WORDS.get(_enum_name(dpb.Status, status))
    if words is None:
        return f"未知状态（{status}）" if language == "zh" else f"unknown status ({status})"
    return words[language]


def reason_words(reason: int, language: Language) -> str:
    """A Decision reason (protobuf enum value) in words."""
    words = REASON_WORDS.get(_enum_name(dpb.Reason, reason))
    if words is None:
        return f"未知原因（{reason}）" if language == "zh" else f"unknown reason ({reason})"
    return words[language]


def measure_label(measure: int, rule: Rule | None, rule_id: str, language: Language) -> str:
    """第三条 建设高能级创新平台 · 江苏省重点实验室 / Measure 3: …; the rule id when unknown."""
    if language == "zh":
        head = f"第{zh_numeral(measure)}条"
        return f"{head} {rule.title}" if rule else f"{head}（规则 {rule_id}）"
    head = f"Measure {measure}"
    return f"{head}: {rule.title}" if rule else f"{head} (rule {rule_id})"


def district_name(district: int, language: Language) -> str:
    """A district (protobuf enum value) by name; empty when unspecified."""
    code = _enum_name(epb.District, district)
    if code not in DISTRICT_NAMES_EN:
        return ""
    return DISTRICT_NAMES_ZH[District(code)] if language == "zh" else DISTRICT_NAMES_EN[code]


def bureau_action(decision: dpb.Decision, language: Language) -> str | None:
    """What a bureau is asked to do about this decision; None when people need not act."""
    name = _enum_name(dpb.Status, decision.status)
    if corrections.is_correction(decision):
        # Its clawback may be an earlier one's, carried: what changed is in the correction.
        own = _BUREAU_ACTIONS[name][language] if name in ("REFERRED", "PENDING_REVIEW") else None
        return corrections.bureau_action(decision, language, own)
    if decision.clawback_fen > 0:
        return _BUREAU_ACTIONS["clawback"][language].format(
            amount=format_fen(decision.clawback_fen)
        )
    if decision.status == dpb.REVOKED:
        return _BUREAU_ACTIONS["revoked"][language]
    if name in _BUREAU_ACTIONS:
        return _BUREAU_ACTIONS[name][language]
    return None


@dataclass(frozen=True, slots=True)
class Rendered:
    """A message ready to send: subject, plain text, and the webhook's JSON body."""

    subject: str
    text: str
    json_body: str


def _lines(
    decision: dpb.Decision, rule: Rule | None, language: Language, audience: Audience
) -> list[str]:
    def label(key: str) -> str:
        sep = "：" if language == "zh" else ": "
        return f"{_LABELS[key][language]}{sep}"

    lines: list[str] = []
    if audience == "bureau":
        action = bureau_action(decision, language)
        if action:
            lines += [f"【{_LABELS['action_tag'][language]}】{action}", ""]
    if corrections.is_correction(decision):
        lines += [*corrections.lines(decision, language, status_words), ""]
    if appeals.is_appeal(decision):
        lines += [appeals.line(decision, language), ""]
    district = district_name(decision.district, language)
    who = decision.enterprise_name or decision.enterprise_id
    if language == "zh":
        ident = f"统一社会信用代码 {decision.enterprise_id}" + (f"，{district}" if district else "")
        lines.append(f"{label('enterprise')}{who}（{ident}）")
    else:
        ident = f"USCC {decision.enterprise_id}" + (f", {district}" if district else "")
        lines.append(f"{label('enterprise')}{who} ({ident})")
    lines.append(
        label("measure") + measure_label(decision.measure, rule, decision.rule_id, language)
    )
    clause = decision.clause or (rule.clause if rule else "")
    if clause:
        lines.append(label("clause") + clause)
    year = f"{decision.year}年度" if language == "zh" else f"year {decision.year}"
    sep = "，" if language == "zh" else ", "
    lines.append(f"{label('item')}{decision.item_id}{sep}{year}")
    lines.append(label("status") + status_words(decision.status, language))
    lines.append(label("granted") + format_fen(decision.granted_fen))
    if decision.entitled_fen and decision.entitled_fen != decision.granted_fen:
        lines.append(label("entitled") + format_fen(decision.entitled_fen))
    if decision.cash_delta_fen > 0:
        lines.append(label("paid_now") + format_fen(decision.cash_delta_fen))
    elif decision.cash_delta_fen < 0:
        lines.append(label("reversed_now") + format_fen(-decision.cash_delta_fen))
    elif not corrections.is_correction(decision):  # whose block says what follows for money
        lines.append(label("no_cash") + _LABELS["none"][language])
    if decision.clawback_fen > 0:
        lines.append(label("clawback") + format_fen(decision.clawback_fen))
    reasons = [reason_words(r, language) for r in decision.reasons]
    joined = ("；" if language == "zh" else "; ").join(reasons)
    lines.append(label("reasons") + (joined or _LABELS["none"][language]))
    channels = list(decision.funding_channels) or list(rule.responsible_units if rule else ())
    if channels:
        lines.append(label("channels") + ("、" if language == "zh" else ", ").join(channels))
    lines.append(label("decision") + decision.decision_id)
    decided = _decided_at(decision, language)
    if decided:
        lines.append(label("decided_at") + decided)
    return lines


def _decided_at(decision: dpb.Decision, language: Language) -> str:
    """When it was decided, in Beijing time to the minute: its `decided_time`, else the string
    an older ledger wrote (as given if it does not parse); empty when it has neither. The
    webhook's JSON has the exact instant in `decision`."""
    try:
        moment = instant(decision, "decided_time", "decided_at")
    except ValueError:
        return decision.decided_at
    if moment is None:
        return ""
    shown = beijing_minute(moment)
    return f"{shown}（北京时间）" if language == "zh" else f"{shown} (Beijing time)"


def render(
    decision: dpb.Decision,
    rule: Rule | None,
    language: Language,
    audience: Audience,
    addressee: str,
) -> Rendered:
    """The message about one decision for one recipient, in its language."""
    status = status_words(decision.status, language)
    title = rule.title if rule else decision.rule_id
    who = decision.enterprise_name or decision.enterprise_id
    needs_action = audience == "bureau" and bureau_action(decision, language) is not None
    corrected = corrections.is_correction(decision)
    tags = [_LABELS["action_tag"][language]] if needs_action else []
    if corrected and decision.status != dpb.RETRACTED:  # 已撤回 says it already
        tags.append(corrections.SUBJECT_TAGS[corrections.kind(decision)][language])
    if appeals.is_appeal(decision):
        tags.append(appeals.SUBJECT_TAG[language])
    tags.append(status)
    if language == "zh":
        subject = f"【{'·'.join(tags)}】第{zh_numeral(decision.measure)}条 {title} — {who}"
        greeting = f"{addressee}：" if addressee else ""
        done = "因事件更正或撤回重新核定的结果" if corrected else "处理结果"
        intro = f"根据{POLICY_NAME['zh']}，现将以下支持事项{done}通知如下："
    else:
        subject = f"[{' · '.join(tags)}] Measure {decision.measure}: {title} — {who}"
        greeting = f"To {addressee}," if addressee else ""
        again = " again after a correction or retraction" if corrected else ""
        intro = f"Under the {POLICY_NAME['en']}, the following support case was decided{again}:"
    body = [greeting, "", intro, "", *_lines(decision, rule, language, audience), ""]
    body.append(FOOTER[language])
    text = "\n".join(body).lstrip("\n") + "\n"
    payload = {
        "decisionId": decision.decision_id,
        "audience": audience,
        "language": language,
        "subject": subject,
        "text": text,
        "measure": {
            "number": decision.measure,
            "label": measure_label(decision.measure, rule, decision.rule_id, language),
            "clause": decision.clause or (rule.clause if rule else ""),
        },
        "statusText": status,
        "reasonsText": [reason_words(r, language) for r in decision.reasons],
        "amounts": {
            "granted": format_fen(decision.granted_fen),
            "cashDelta": format_fen(decision.cash_delta_fen),
            "clawback": format_fen(decision.clawback_fen),
        },
        # The decision in protobuf's JSON mapping (contract field names, int64 as strings).
        "decision": MessageToDict(decision, always_print_fields_with_no_presence=True),
        # What a correction or retraction changed: null on any other decision.
        "correction": (corrections.fields(decision, language, status_words) if corrected else None),
        # Which upheld appeal reopened it: null on any other decision.
        "appeal": appeals.fields(decision, language) if appeals.is_appeal(decision) else None,
    }
    # Sorted keys and no spaces: the body is stored once and signed byte for byte.
    json_body = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return Rendered(subject=subject, text=text, json_body=json_body)
