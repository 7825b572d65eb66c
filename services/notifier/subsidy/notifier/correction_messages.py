"""What a correction or a retraction changed, in the notifier's words (zh/en) and as fields."""

from collections.abc import Callable
from typing import Any, Literal

from subsidy.contract.instants import instant
from subsidy.decisions.v1 import decisions_pb2 as dpb
from subsidy.domain.beijing import in_beijing
from subsidy.domain.money import format_fen

Language = Literal["zh", "en"]

_WORDS: dict[str, dict[Language, str]] = {
    "corrected": {
        "zh": "本决定因事件 {event} 更正（版次 {revision}，原因：{reason}）而重新核定。",
        "en": "This decision was made again because event {event} was corrected (revision"
        " {revision}, reason: {reason}).",
    },
    "retracted": {
        "zh": "本决定因事件 {event} 被撤回（撤回事件 {by}，原因：{reason}）而重新核定。",
        "en": "This decision was made again because event {event} was retracted by {by}"
        " (reason: {reason}).",
    },
    "before": {"zh": "变更前", "en": "Before"},
    "after": {"zh": "变更后", "en": "After"},
    "new": {"zh": "无（新增支持事项）", "en": "none (a new support case)"},
    "top_up": {"zh": "将补拨 {amount}。", "en": "A top-up of {amount} will be paid."},
    "owed": {
        "zh": "已拨付但不再应得的 {amount} 应予退回（记为应追回款项）。",
        "en": "{amount} paid but no longer due is owed back (booked to be recovered).",
    },
    "no_money": {"zh": "资金无变动。", "en": "No money moves."},
    "money": {"zh": "资金", "en": "Money"},
}

# What a bureau is asked to do about a changed decision (before any status's own request).
BUREAU_ACTIONS: dict[str, dict[Language, str]] = {
    "owed": {
        "zh": "本项支持因更正或撤回而减少，请按规定追回已拨付但不再应得的资金 {amount}。",
        "en": "This support was reduced by a correction or retraction: please recover {amount}"
        " paid but no longer due.",
    },
    "top_up": {
        "zh": "本项支持因更正或撤回而增加，将补拨 {amount}，请知悉。",
        "en": "This support was increased by a correction or retraction: a top-up of {amount}"
        " will be paid; for your information.",
    },
    "changed": {
        "zh": "本项决定因更正或撤回而改变，请知悉。",
        "en": "This decision was changed by a correction or retraction; for your information.",
    },
}

# A subject's tag before the status (a RETRACTED status needs none: 已撤回 says it).
SUBJECT_TAGS: dict[str, dict[Language, str]] = {
    "corrected": {"zh": "更正", "en": "Corrected"},
    "retracted": {"zh": "因撤回变更", "en": "Changed by a retraction"},
}


def is_correction(decision: dpb.Decision) -> bool:
    """Was this decision brought about by a correction or a retraction?"""
    return decision.HasField("correction")


def kind(decision: dpb.Decision) -> str:
    """`corrected` or `retracted`."""
    return "retracted" if decision.correction.retracted_by else "corrected"


def top_up_fen(decision: dpb.Decision) -> int:
    """What this decision pays on top of what the entitlement held."""
    return max(decision.cash_delta_fen, 0)


def owed_back_fen(decision: dpb.Decision) -> int:
    """What this decision adds to the amount owed back: a correction books a reduction of what
    the entitlement held as a clawback receivable."""
    return max(decision.correction.previous_granted_fen - decision.granted_fen, 0)


def bureau_action(decision: dpb.Decision, language: Language, status_action: str | None) -> str:
    """What a bureau is asked about a changed decision: recover an excess, else what its
    status asks (a review again), else know of a top-up or of the change."""
    owed = owed_back_fen(decision)
    if owed:
        return BUREAU_ACTIONS["owed"][language].format(amount=format_fen(owed))
    if status_action:
        return status_action
    top_up = top_up_fen(decision)
    if top_up:
        return BUREAU_ACTIONS["top_up"][language].format(amount=format_fen(top_up))
    return BUREAU_ACTIONS["changed"][language]


def cause(decision: dpb.Decision, language: Language) -> str:
    """Which event was corrected or retracted, and why."""
    c = decision.correction
    return _WORDS[kind(decision)][language].format(
        event=c.event_id, revision=c.revision, by=c.retracted_by, reason=c.reason
    )


def money(decision: dpb.Decision, language: Language) -> str:
    """What follows for money: a top-up, an amount owed back, or nothing."""
    if top_up_fen(decision):
        return _WORDS["top_up"][language].format(amount=format_fen(top_up_fen(decision)))
    if owed_back_fen(decision):
        return _WORDS["owed"][language].format(amount=format_fen(owed_back_fen(decision)))
    return _WORDS["no_money"][language]


StatusWords = Callable[[int, Language], str]


def lines(decision: dpb.Decision, language: Language, status_words: StatusWords) -> list[str]:
    """The block a changed decision's message opens with: the cause, before, after, money."""
    c, sep = decision.correction, "：" if language == "zh" else ": "
    before = (
        f"{status_words(c.previous_status, language)} {format_fen(c.previous_granted_fen)}"
        if c.previous_status
        else _WORDS["new"][language]
    )
    after = f"{status_words(decision.status, language)} {format_fen(decision.granted_fen)}"
    return [
        cause(decision, language),
        f"{_WORDS['before'][language]}{sep}{before}",
        f"{_WORDS['after'][language]}{sep}{after}",
        f"{_WORDS['money'][language]}{sep}{money(decision, language)}",
    ]


def _iso(decision: dpb.Decision) -> str:
    """A decision's time in Beijing time with its offset: its `decided_time`, else the string
    an older ledger wrote (as given if it does not parse); empty when it has neither."""
    try:
        moment = instant(decision, "decided_time", "decided_at")
    except ValueError:
        return decision.decided_at
    return "" if moment is None else in_beijing(moment).isoformat()


def _status_name(status: int) -> str:
    """The contract's code; the number for one from a newer contract."""
    try:
        return dpb.Status.Name(dpb.Status.ValueType(status))
    except ValueError:
        return str(status)


def fields(decision: dpb.Decision, language: Language, status_words: StatusWords) -> Any:
    """The webhook's machine fields: the cause, before and after, and what follows for money
    (fen as strings, as the decision's JSON has them; the time with its offset)."""
    c = decision.correction

    def state(status: int, granted: int) -> dict[str, str]:
        return {
            "status": _status_name(status),
            "statusText": status_words(status, language) if status else "",
            "grantedFen": str(granted),
            "grantedText": format_fen(granted),
        }

    return {
        "kind": kind(decision),
        "eventId": c.event_id,
        "revision": c.revision,
        "reason": c.reason,
        "retractedBy": c.retracted_by,
        "text": cause(decision, language),
        "before": state(c.previous_status, c.previous_granted_fen),
        "after": state(decision.status, decision.granted_fen),
        "topUpFen": str(top_up_fen(decision)),
        "owedBackFen": str(owed_back_fen(decision)),
        "moneyText": money(decision, language),
        "decidedAt": _iso(decision),
    }
