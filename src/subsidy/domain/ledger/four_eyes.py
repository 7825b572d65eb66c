"""Four eyes: an approval at or above its rule's threshold needs two distinct reviewers."""

# docs/rules.md. Such an approval acts only once two distinct reviewer principals approved the same
# amount. A guard: it raises before any write.

from enum import Enum

from subsidy.domain.entitlements import clip_to_ceiling
from subsidy.domain.events import ReviewDecided
from subsidy.domain.ledger.errors import ApprovalMismatch, NoReviewer, SameReviewer
from subsidy.domain.ledger.records import Approval, EntitlementState
from subsidy.domain.money import format_fen


class Step(Enum):
    """What a review is, as four eyes sees it."""

    ALONE = "alone"  # a rejection, or an approval below the threshold: one reviewer decides
    FIRST = "first"  # the first of two approvals: recorded, the entitlement keeps waiting
    SECOND = "second"  # the second approval, by another reviewer: it acts


def threshold(s: EntitlementState, review: ReviewDecided) -> int | None:
    """The rule's four-eyes threshold if this approval reaches it (after the ceiling clip),
    else None."""
    limit = s.ent.second_review_from_fen
    if not review.approved or limit is None:
        return None
    assert review.approved_amount_fen is not None
    amount, _ = clip_to_ceiling(review.approved_amount_fen, s.ent.ceiling_fen)
    return limit if amount >= limit else None


def judge(
    s: EntitlementState,
    review: ReviewDecided,
    event_id: str,
    principal: str | None,
    first: Approval | None,
) -> Step:
    """Which step this review is; NoReviewer, SameReviewer or ApprovalMismatch when it can be
    none. `first`: the first approval awaiting a second, if any."""
    eid = s.ent.entitlement_id
    if not review.approved:
        return Step.ALONE
    limit = threshold(s, review)
    if first is None and limit is None:
        return Step.ALONE
    if principal is None:
        reach = f"from {format_fen(limit)}" if limit is not None else "for this one"
        raise NoReviewer(
            f"{eid}: review {event_id!r} names no reviewer principal, and an approval needs two"
            f" distinct reviewers {reach}: it cannot count as either"
        )
    if first is None:
        return Step.FIRST
    if principal == first.principal:
        raise SameReviewer(
            f"{eid}: review {event_id!r} by {principal!r} cannot be the second approval:"
            f" {principal!r} gave the first ({first.event_id!r}); another reviewer must approve"
        )
    if review.approved_amount_fen != first.amount_fen:
        asked = format_fen(review.approved_amount_fen or 0)
        raise ApprovalMismatch(
            f"{eid}: review {event_id!r} by {principal!r} approves {asked}, the first approval"
            f" {first.event_id!r} by {first.principal!r} {format_fen(first.amount_fen)}; the"
            " second must approve the same amount (the first still awaits one)"
        )
    return Step.SECOND
