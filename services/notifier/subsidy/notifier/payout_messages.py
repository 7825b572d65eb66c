"""Every text the notifier sends about money: paid (已发放), returned (退回), budget alerts."""

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from subsidy.domain.beijing import in_beijing
from subsidy.domain.money import format_fen
from subsidy.domain.payouts.orders import PayoutNotice
from subsidy.notifier.messages import FOOTER, POLICY_NAME, Audience, Language, Rendered
from subsidy.notifier.shown_time import beijing_minute

PAID, RETURNED, SENT, BUDGET_ALERT = "PAID", "RETURNED", "SENT", "BUDGET_ALERT"
OBJECTION = "OBJECTION"

KIND_WORDS: dict[str, dict[Language, str]] = {
    SENT: {"zh": "已推送", "en": "Sent to the bank"},
    PAID: {"zh": "已发放", "en": "Paid out"},
    RETURNED: {"zh": "退回", "en": "Returned"},
    BUDGET_ALERT: {"zh": "预算预警", "en": "Budget alert"},
    OBJECTION: {"zh": "公示异议", "en": "Objection on notice"},
}

# The payouts write an alert's reason as "<threshold>% of <envelope in fen>".
_ALERT_REASON = re.compile(r"^(\d+)% of (\d+)$")

_LABELS: dict[str, dict[Language, str]] = {
    "enterprise": {"zh": "企业", "en": "Enterprise"},
    "amount": {"zh": "金额", "en": "Amount"},
    "channel": {"zh": "资金渠道", "en": "Funding channel"},
    "year": {"zh": "资金年度", "en": "Budget year"},
    "order": {"zh": "业务流水号", "en": "Payment order (业务流水号)"},
    "batch": {"zh": "批次号", "en": "Treasury batch"},
    "reason": {"zh": "退回原因", "en": "Return reason"},
    "objection": {"zh": "异议", "en": "Objection"},
    "envelope": {"zh": "预算金额", "en": "Budget"},
    "used": {"zh": "已承诺金额", "en": "Committed"},
    "left": {"zh": "预算余额", "en": "Left"},
    "at": {"zh": "时间", "en": "Time"},
    "notice": {"zh": "通知编号", "en": "Notice id"},
    "none": {"zh": "银行未说明", "en": "not given by the bank"},
    "action": {"zh": "待办", "en": "Action needed"},
    "note": {"zh": "提示", "en": "Note"},
}

_SUBJECTS: dict[str, dict[Language, str]] = {
    SENT: {
        "zh": "【已推送】{amount} 支持资金已推送银行 — {who}",
        "en": "[Sent to the bank] {amount} — {channel}, {year} — {who}",
    },
    PAID: {
        "zh": "【已发放】{amount} — {channel} {year} — {who}",
        "en": "[Paid out] {amount} — {channel}, {year} — {who}",
    },
    RETURNED: {
        "zh": "【待办·退回】{amount} 支持资金被银行退回 — {who}",
        "en": "[Action needed · Returned] {amount} was returned by the bank — {who}",
    },
    "80": {
        "zh": "【预算预警】{channel} {year}预算已使用{pct}",
        "en": "[Budget alert] {channel}, {year}: {pct} of the budget committed",
    },
    "100": {
        "zh": "【待办·预算已满】{channel} {year}预算已用完，支付指令等待预算",
        "en": "[Action needed · Budget full] {channel}, {year}: orders now wait for budget",
    },
    BUDGET_ALERT: {
        "zh": "【预算预警】{channel} {year}：{reason}",
        "en": "[Budget alert] {channel}, {year}: {reason}",
    },
    OBJECTION: {
        "zh": "【待办·公示异议】{amount} 暂缓拨付，请复核 — {who}",
        "en": "[Action needed · Objection] {amount} held for review — {who}",
    },
}

_INTRO: dict[str, dict[Language, str]] = {
    SENT: {
        "zh": "根据{policy}，以下支持资金已推送银行，等待银行处理结果：",
        "en": "Under the {policy}, this payment was sent to the bank; its result is not back:",
    },
    PAID: {
        "zh": "根据{policy}，以下支持资金已经银行确认，发放至贵单位登记的收款账户：",
        "en": "Under the {policy}, the bank confirmed this payment to the account your "
        "enterprise registered:",
    },
    RETURNED: {
        "zh": "根据{policy}，以下支持资金被银行退回，未能到账：",
        "en": "Under the {policy}, the bank returned this payment; it did not reach your account:",
    },
    OBJECTION: {
        "zh": "根据{policy}，以下支持事项在公示期内收到异议，相关资金已暂缓拨付，请贵单位复核：",
        "en": "Under the {policy}, this award drew an objection during its public notice; its "
        "payment is held until your bureau reviews it:",
    },
    BUDGET_ALERT: {
        "zh": "根据{policy}，贵单位作为资金渠道的以下预算已达到预警线：",
        "en": "Under the {policy}, a budget your bureau pays from has reached an alert line:",
    },
}

_ACTIONS: dict[str, dict[Language, str]] = {
    OBJECTION: {
        "zh": "请核实异议。异议不成立的，以 `subsidy publicity dismiss <异议编号>` 驳回，资金继续"
        "拨付；异议成立的，请更正该项决定。",
        "en": "Please look into the objection. If it does not hold, dismiss it with `subsidy "
        "publicity dismiss <objection id>` and the payment goes on; if it holds, correct the "
        "decision.",
    },
    RETURNED: {
        "zh": "请通过苏州政务服务网登记新的收款账户（账户名称须与企业名称一致）。"
        "新账户登记后，该笔资金将重新发放，无需重新申请。",
        "en": "Please register another payee account through the Suzhou government service "
        "portal (苏州政务服务网), in your enterprise's own name. Once it is registered the "
        "payment is sent again; there is no need to apply again.",
    },
    "80": {
        "zh": "该预算已使用{pct}，请关注预算余额；如需追加，请按程序调整后重新导入预算。",
        "en": "{pct} of this budget is committed: please watch what is left, and load a "
        "larger budget if more is needed.",
    },
    "100": {
        "zh": "预算余额已不足以支付下一笔支付指令：新的支付指令现按先来后到等待预算"
        "（待推送·预算不足），直至追加预算。请尽快追加预算。",
        "en": "The budget cannot fit the next payment order: orders now wait for budget, "
        "first come first served, until it is raised. Please raise it.",
    },
}


@dataclass(frozen=True, slots=True)
class Notice:
    """A row of the payouts' outbox as the notifier read it: its place in the outbox, when
    the payouts wrote it, and what it says."""

    id: int
    created_at: datetime
    notice: PayoutNotice


@dataclass(frozen=True, slots=True)
class Alert:
    """A budget alert's reason read back: the threshold (80 or 100) and the envelope."""

    threshold: int
    envelope_fen: int


def alert_of(notice: PayoutNotice) -> Alert | None:
    """The threshold and envelope of a budget alert; None for another kind, or a reason this
    notifier cannot read (the reason is then shown as written)."""
    match = _ALERT_REASON.match(notice.reason) if notice.kind == BUDGET_ALERT else None
    return Alert(int(match[1]), int(match[2])) if match else None


def percent(part_fen: int, whole_fen: int) -> str:
    """80.0%, to one decimal, rounded down (integer arithmetic: no float drift on money)."""
    if whole_fen <= 0:
        return "—"
    tenths = part_fen * 1000 // whole_fen
    return f"{tenths // 10}.{tenths % 10}%"


def beijing(moment: datetime, language: Language) -> str:
    """2025-07-01 16:00（北京时间）/ 2025-07-01 16:00 (Beijing time)."""
    shown = beijing_minute(moment)
    return f"{shown}（北京时间）" if language == "zh" else f"{shown} (Beijing time)"


def _template(notice: PayoutNotice) -> str:
    """Which words a notice takes: its kind's, or for a budget alert its threshold's ("80",
    "100"; the kind's own when the reason cannot be read)."""
    alert = alert_of(notice)
    if alert is not None:
        return "100" if alert.threshold >= 100 else "80"
    return notice.kind  # a kind this notifier does not know has no words: KeyError


def needs_action(notice: PayoutNotice) -> bool:
    """A return (register another account) and a full budget (raise it) ask for action."""
    return _template(notice) in (RETURNED, OBJECTION, "100")


def action(notice: PayoutNotice, language: Language) -> str | None:
    """What the recipient is asked to do or told to watch: register another account after a
    return, watch or raise a budget after an alert; None otherwise."""
    words = _ACTIONS.get(_template(notice))
    alert = alert_of(notice)
    pct = percent(notice.amount_fen, alert.envelope_fen) if alert else ""
    return None if words is None else words[language].format(pct=pct)


def _subject(notice: PayoutNotice, language: Language) -> str:
    alert = alert_of(notice)
    return _SUBJECTS[_template(notice)][language].format(
        amount=format_fen(notice.amount_fen),
        channel=notice.channel,
        year=f"{notice.year}年度" if language == "zh" else f"year {notice.year}",
        who=notice.enterprise_name or notice.enterprise_id,
        pct=percent(notice.amount_fen, alert.envelope_fen) if alert else "",
        reason=notice.reason,
    )


def _lines(n: Notice, language: Language) -> list[str]:
    notice, zh = n.notice, language == "zh"

    def label(key: str) -> str:
        return f"{_LABELS[key][language]}{'：' if zh else ': '}"

    lines: list[str] = []
    if notice.kind in (PAID, RETURNED, OBJECTION):
        who = notice.enterprise_name or notice.enterprise_id
        ident = f"统一社会信用代码 {notice.enterprise_id}" if zh else f"USCC {notice.enterprise_id}"
        lines.append(label("enterprise") + (f"{who}（{ident}）" if zh else f"{who} ({ident})"))
        lines.append(label("amount") + format_fen(notice.amount_fen))
    if notice.kind == RETURNED:
        lines.append(label("reason") + (notice.reason or _LABELS["none"][language]))
    if notice.kind == OBJECTION:
        lines.append(label("objection") + notice.reason)
    lines.append(label("channel") + notice.channel)
    lines.append(label("year") + (f"{notice.year}年度" if zh else str(notice.year)))
    alert = alert_of(notice)
    if alert is not None:
        used, pct = format_fen(notice.amount_fen), percent(notice.amount_fen, alert.envelope_fen)
        lines.append(label("envelope") + format_fen(alert.envelope_fen))
        lines.append(label("used") + (f"{used}（{pct}）" if zh else f"{used} ({pct})"))
        lines.append(label("left") + format_fen(max(alert.envelope_fen - notice.amount_fen, 0)))
    elif notice.kind == BUDGET_ALERT:
        lines.append(label("used") + f"{format_fen(notice.amount_fen)} ({notice.reason})")
    if notice.order_id:
        lines.append(label("order") + notice.order_id)
    if notice.batch_id:
        lines.append(label("batch") + notice.batch_id)
    lines.append(label("at") + beijing(n.created_at, language))
    lines.append(label("notice") + notice.notice_id)
    return lines


def _payload(n: Notice, language: Language, audience: Audience, subject: str, text: str) -> str:
    """The webhook's JSON: the words, and the notice's fields (int64 as strings and times
    with their offset, as the decisions' JSON has them)."""
    notice = n.notice
    fields: dict[str, Any] = {
        "noticeId": notice.notice_id,
        "kind": notice.kind,
        "channel": notice.channel,
        "year": notice.year,
        "amountFen": str(notice.amount_fen),
        "enterpriseId": notice.enterprise_id,
        "enterpriseName": notice.enterprise_name,
        "orderId": notice.order_id,
        "batchId": notice.batch_id,
        "reason": notice.reason,
        "createdAt": in_beijing(n.created_at).isoformat(),
    }
    alert = alert_of(notice)
    payload: dict[str, Any] = {
        "noticeId": notice.notice_id,
        "audience": audience,
        "language": language,
        "subject": subject,
        "text": text,
        "kindText": KIND_WORDS.get(notice.kind, {}).get(language, notice.kind),
        "amountText": format_fen(notice.amount_fen),
        "reasonText": notice.reason if notice.kind in (RETURNED, OBJECTION) else "",
        "actionText": action(notice, language) or "",
        "alert": None if alert is None else {
            "threshold": alert.threshold, "envelopeFen": str(alert.envelope_fen),
            "envelopeText": format_fen(alert.envelope_fen),
        },
        "notice": fields,
    }  # fmt: skip
    # Sorted keys and no spaces: the body is stored once and signed byte for byte.
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def render_notice(n: Notice, language: Language, audience: Audience, addressee: str) -> Rendered:
    """The message about one payout notice for one recipient, in its language."""
    notice, zh = n.notice, language == "zh"
    subject = _subject(notice, language)
    greeting = (f"{addressee}：" if zh else f"To {addressee},") if addressee else ""
    policy = POLICY_NAME[language]
    intro = _INTRO[notice.kind][language].format(policy=policy)
    todo = action(notice, language)
    tag = _LABELS["action" if needs_action(notice) else "note"]
    head = [f"【{tag[language]}】{todo}", ""] if todo else []
    body = [greeting, "", *head, intro, "", *_lines(n, language), "", FOOTER[language]]
    text = "\n".join(body).lstrip("\n") + "\n"
    return Rendered(subject, text, _payload(n, language, audience, subject, text))
