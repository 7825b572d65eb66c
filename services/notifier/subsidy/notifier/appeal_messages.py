"""What an upheld appeal (复核申请) did to a decision, in the notifier's words and as fields."""

# In zh or en: the decision reopened for review, who decided the appeal and why.

from typing import Any, Literal

from subsidy.decisions.v1 import decisions_pb2 as dpb

Language = Literal["zh", "en"]

_WORDS: dict[str, dict[Language, str]] = {
    "reopened": {
        "zh": "本决定因复核申请 {appeal} 经 {by} 复核予以支持而重新核定：原审核驳回结论撤销，"
        "本项支持将重新审核。复核理由：{reason}",
        "en": "This decision was made again because appeal {appeal} was upheld by {by}: the"
        " review's rejection is lifted and the case will be reviewed again. Reason: {reason}",
    },
}

# A subject's tag before the status.
SUBJECT_TAG: dict[Language, str] = {"zh": "复核申请获支持", "en": "Appeal upheld"}


def is_appeal(decision: dpb.Decision) -> bool:
    """Did an upheld appeal bring this decision about?"""
    return decision.HasField("appeal")


def line(decision: dpb.Decision, language: Language) -> str:
    """The sentence that says which appeal reopened the case, who decided it and why."""
    a = decision.appeal
    return _WORDS["reopened"][language].format(
        appeal=a.appeal_ref, by=a.decided_by or "-", reason=a.reason
    )


def fields(decision: dpb.Decision, language: Language) -> dict[str, Any]:
    """The webhook's `appeal` object: the appeal, its decider, the reason, and the sentence."""
    a = decision.appeal
    return {
        "appealRef": a.appeal_ref,
        "decidedBy": a.decided_by,
        "reason": a.reason,
        "text": line(decision, language),
    }
