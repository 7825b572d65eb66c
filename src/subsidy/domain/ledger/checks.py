"""The checks a book records with each decision: one builder per check, with its figures."""

from datetime import date

from subsidy.domain.entitlements import Entitlement, Reason
from subsidy.domain.events import ReviewDecided
from subsidy.domain.ledger.records import Approval, Check, CorrectionNote, Figure


def window(e: Entitlement, ok: bool) -> Check:
    """G1: the fact's date against the policy's validity window."""
    figures: tuple[tuple[str, date], ...] = (
        ("occurredOn", e.occurred_on),
        ("validFrom", e.valid_from),
        ("validTo", e.valid_to),
    )
    return Check("window", "ok" if ok else "OUTSIDE_WINDOW", figures)


def year_limit(e: Entitlement, other_years: set[int], over: bool) -> Check:
    """Step 2: the other years in which the rule already gave support."""
    return Check(
        "year_limit",
        "YEAR_LIMIT" if over else "ok",
        (
            ("maxYears", str(e.max_years)),
            ("otherYearsWithSupport", ",".join(map(str, sorted(other_years))) or None),
            ("year", str(e.year)),
        ),
    )


def cap(name: str, reason: Reason, cap_fen: int, used: int, room: int, asked: int) -> Check:
    """Step 3: one cap's room before and after this grant."""
    return Check(
        name,
        "ok" if room >= asked else reason.value,
        (
            ("cap", cap_fen),
            ("usedBefore", used),
            ("headroomBefore", room),
            ("headroomAfter", room - min(room, asked)),
        ),
    )


def same_event(this_rule: str, this_total: int, best_rule: str, best_total: int) -> Check:
    """A candidate that lost to a better rule triggered by the same event."""
    return Check(
        "same_event",
        "DUPLICATE_LOWER",
        (
            ("thisRule", this_rule),
            ("thisAmount", this_total),
            ("bestRule", best_rule),
            ("bestAmount", best_total),
        ),
    )


def stacking(own: int, best_rule: str, best_other: int | None, higher: bool) -> Check:
    """Step 4, 就高不重复: this rule's total on the item against the best other rule's."""
    return Check(
        "stacking",
        "ok" if higher else "DUPLICATE_LOWER",
        (
            ("thisRuleTotal", own),
            ("bestOtherRule", best_rule),
            ("bestOtherTotal", best_other),
        ),
    )


def superseded(by_entitlement: str, by_total: int) -> Check:
    """A lower rule's entitlement giving way to a higher one on the same item."""
    return Check(
        "superseded",
        "SUPERSEDED",
        (
            ("byEntitlement", by_entitlement),
            ("byTotal", by_total),
        ),
    )


def other_support_netting(support: int, own: int, prior: int, pay: int, granted: int) -> Check:
    """A new grant less the other-programme support on its item and what its rule holds."""
    return Check(
        "other_support",
        "ok" if pay == granted else "OTHER_SUPPORT",
        (
            ("otherSupport", support),
            ("thisRuleTotal", own),
            ("alreadyGranted", prior),
            ("grant", pay),
        ),
    )


def top_up(pay: int, transferred: int) -> Check:
    """A grant that replaces lower rules' payments moves only the difference in cash."""
    return Check(
        "top_up",
        "ok",
        (
            ("granted", pay),
            ("alreadyPaidOnItem", transferred),
            ("cashMoved", pay - transferred),
        ),
    )


def review(
    r: ReviewDecided, event_id: str, principal: str | None, first: Approval | None = None
) -> Check:
    """The bureau's review decision, the amount it approved and who gave it; for the second
    of two approvals (four eyes), the first one and its reviewer too."""
    figures: tuple[tuple[str, Figure], ...] = (
        ("reviewEvent", event_id),
        ("approvedAmount", r.approved_amount_fen or 0),
        ("reviewer", principal),
    )
    if first is not None:
        figures += (("firstReviewEvent", first.event_id), ("firstReviewer", first.principal))
    if r.reason is not None:
        figures += (("reason", r.reason),)
    return Check("review", "approved" if r.approved else "REVIEW_REJECTED", figures)


def first_approval(a: Approval, threshold: int) -> Check:
    """Four eyes: the first of two approvals, recorded; the entitlement awaits the second."""
    return Check(
        "review",
        "AWAITING_SECOND_APPROVAL",
        (
            ("reviewEvent", a.event_id),
            ("approvedAmount", a.amount_fen),
            ("reviewer", a.principal),
            ("secondReviewFrom", threshold),
            ("awaiting", "a second approval of the same amount by another reviewer"),
        ),
    )


def revocation(paid: int) -> Check:
    """Step 7: the grant reversed and the cash paid owed back."""
    return Check(
        "revocation",
        "REVOKED",
        (
            ("reversed", paid),
            ("clawback", paid),
        ),
    )


def other_support_cut(program: str, support: int, cut: int) -> Check:
    """An existing grant reduced by support that arrived later from another programme."""
    return Check(
        "other_support",
        "OTHER_SUPPORT",
        (
            ("program", program),
            ("otherSupport", support),
            ("reduced", cut),
            ("clawback", cut),
        ),
    )


def correction(note: CorrectionNote, granted: int) -> Check:
    """A decision made again because an event was corrected or retracted: what it was, why."""
    before = note.previous_status.value if note.previous_status else None
    return Check(
        "correction",
        "RETRACTED" if note.retracted_by else "CORRECTED",
        (
            ("event", note.event_id),
            ("revision", str(note.revision) if note.revision else None),
            ("retractedBy", note.retracted_by),
            ("reason", note.reason),
            ("statusBefore", before),
            ("grantedBefore", note.previous_granted_fen),
            ("grantedAfter", granted),
        ),
    )
