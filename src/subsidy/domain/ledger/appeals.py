"""Appeals (复核申请): filed against a denial or a reduction, decided by another reviewer."""

# docs/rules.md step 10. An appeal is decided by someone other than the reviewer who rejected it.
# Guards raise before anything is written.

import dataclasses
from datetime import date

from subsidy.domain.entitlements import Reason, Status
from subsidy.domain.events import AppealDecided, AppealFiled, EnterpriseEvent, ReviewDecided
from subsidy.domain.ledger.errors import (
    AppealAlreadyOpen,
    AppealEventMismatch,
    AppealPartyApproves,
    AppealRuleMismatch,
    NoAppealDecider,
    NotAppealable,
    SameAsRejectingReviewer,
    UnknownAppeal,
    UnknownAppealedEvent,
    UnknownAppealedRule,
)
from subsidy.domain.ledger.records import (
    Appeal,
    AppealDecision,
    AppealNote,
    Check,
    EntitlementState,
    Outcome,
    Remedy,
    Reopened,
)
from subsidy.domain.ledger.state import BookState

PAYLOADS = (AppealFiled, AppealDecided)
# What may be appealed: a denial (for any reason) or a reduction.
APPEALABLE = frozenset({Status.DENIED, Status.PARTIALLY_PAID})


def apply(
    book: BookState, payload: AppealFiled | AppealDecided, event: EnterpriseEvent, out: Outcome
) -> None:
    """An appeal filed, or decided; either way the event is now known to the book."""
    principal = event.submitted_by.principal if event.submitted_by else None
    if isinstance(payload, AppealFiled):
        _file(book, payload, event.event_id, principal, event.occurred_on, out)
    else:
        _decide(book, payload, event.event_id, principal, event.occurred_on, out)
    book.events[event.event_id] = ()


def note_review(book: BookState, review_entitlement: str, principal: str | None) -> None:
    """Remember who rejected an entitlement's review: its appeal is decided by someone else."""
    book.rejected_by[review_entitlement] = principal


def guard_reopened_approval(
    book: BookState, target: EntitlementState, review: ReviewDecided, who: str | None, event_id: str
) -> None:
    """An approval of a review an appeal reopened comes from a named reviewer who neither
    decided an appeal that reopened it nor gave a rejection one overturned, whatever the
    amount: one person overturning another's rejection and paying it alone is what four eyes
    is against. A rejection may come from anyone: it pays nothing."""
    eid = target.ent.entitlement_id
    reopened = book.reopened.get(eid)
    if reopened is None or not review.approved:
        return
    if who is None:
        raise AppealPartyApproves(
            f"{eid}: review {event_id!r} names no reviewer, and an appeal reopened this review:"
            " its approval must come from a reviewer other than the appeal's parties"
        )
    if who in reopened.deciders:
        role = "decided the appeal that reopened its review"
    elif who in reopened.rejecters:
        role = "gave the rejection an appeal overturned"
    else:
        return
    raise AppealPartyApproves(
        f"{eid}: {who!r} {role} and cannot approve it (review {event_id!r}); another reviewer"
        " must (复核后由他人审批)"
    )


# ---- filing --------------------------------------------------------------------------------


def _file(
    book: BookState, p: AppealFiled, event_id: str, who: str | None, on: date, out: Outcome
) -> None:
    target = _guard_appealed(book, p)
    _guard_appealable(target)
    eid = target.ent.entitlement_id
    _guard_none_open(book, eid)
    rejected = Reason.REVIEW_REJECTED in target.reasons and target.status is Status.DENIED
    appeal = Appeal(event_id, book.enterprise_id, eid, p.reason, p.attachment_ref, who, on,
                    book.rejected_by.get(eid) if rejected else None)  # fmt: skip
    book.open_appeals[event_id] = appeal
    out.appeals.append(appeal)


def _guard_appealed(book: BookState, p: AppealFiled) -> EntitlementState:
    """An appeal is against an entitlement of this enterprise's book; like an objection it
    does not wait for its event."""
    if p.event_ref not in book.events:
        raise UnknownAppealedEvent(f"no event {p.event_ref!r} for this enterprise")
    target = book.entitlements.get(f"{p.event_ref}/{p.rule_id}")
    if target is None:
        raise UnknownAppealedRule(
            f"event {p.event_ref!r} triggered no entitlement under {p.rule_id!r}"
        )
    return target


def _guard_appealable(target: EntitlementState) -> None:
    """Only a denial or a reduction is appealed: nothing else was refused."""
    if target.status not in APPEALABLE:
        raise NotAppealable(
            f"{target.ent.entitlement_id} is {target.status.value}: only a DENIED or"
            " PARTIALLY_PAID entitlement is appealed"
        )


def _guard_none_open(book: BookState, entitlement_id: str) -> None:
    """One open appeal per entitlement: a second waits for the first's decision."""
    for appeal in book.open_appeals.values():
        if appeal.entitlement_id == entitlement_id:
            raise AppealAlreadyOpen(
                f"{entitlement_id} has an open appeal already ({appeal.event_id!r})"
            )


# ---- deciding ------------------------------------------------------------------------------


def _decide(
    book: BookState, p: AppealDecided, event_id: str, who: str | None, on: date, out: Outcome
) -> None:
    appeal = _guard_open(book, p)
    _guard_same_entitlement(appeal, p)
    decider = _guard_decider(appeal, who, event_id)
    remedy = None
    if p.upheld:
        target = book.entitlements[appeal.entitlement_id]
        remedy = _remedy(target)
        if remedy is Remedy.REOPENED:
            _reopen(book, target, appeal, p, event_id, decider, out)
    del book.open_appeals[appeal.event_id]
    out.appeal_decisions.append(
        AppealDecision(event_id, appeal.event_id, book.enterprise_id, appeal.entitlement_id,
                       p.upheld, p.reason, decider, on, remedy)
    )  # fmt: skip


def _guard_open(book: BookState, p: AppealDecided) -> Appeal:
    """The appeal decided is one of this enterprise's, still open."""
    appeal = book.open_appeals.get(p.appeal_ref)
    if appeal is None:
        raise UnknownAppeal(f"no open appeal {p.appeal_ref!r} for this enterprise")
    return appeal


def _guard_same_entitlement(appeal: Appeal, p: AppealDecided) -> None:
    """The decision names the entitlement the appeal is against (a gateway authorises by it)."""
    event_ref, rule_id = appeal.entitlement_id.split("/", 1)
    if p.event_ref != event_ref:
        raise AppealEventMismatch(
            f"appeal {appeal.event_id!r} is against {appeal.entitlement_id}, not an"
            f" entitlement of event {p.event_ref!r}"
        )
    if p.rule_id != rule_id:
        raise AppealRuleMismatch(
            f"appeal {appeal.event_id!r} is against {appeal.entitlement_id}, not under"
            f" {p.rule_id!r}"
        )


def _guard_decider(appeal: Appeal, who: str | None, event_id: str) -> str:
    """Someone is named, and it is not the reviewer whose rejection is appealed."""
    if who is None:
        raise NoAppealDecider(
            f"appeal decision {event_id!r} names no principal: an appeal is decided by someone"
        )
    if appeal.rejected_by is not None and who == appeal.rejected_by:
        raise SameAsRejectingReviewer(
            f"{appeal.entitlement_id}: {who!r} rejected its review and cannot decide its"
            f" appeal {appeal.event_id!r}; another reviewer must (复核 by someone else)"
        )
    return who


def _remedy(target: EntitlementState) -> Remedy:
    """A review's rejection is reviewed again; any other denial or cut is the rules' reading of
    the facts as sent, put right by the source correcting its event (step 9). So is a
    revocation since the appeal was filed (step 7): REVOKED, there is nothing to reopen."""
    if target.status is Status.DENIED and Reason.REVIEW_REJECTED in target.reasons:
        return Remedy.REOPENED
    return Remedy.SOURCE_CORRECTION


def _reopen(
    book: BookState,
    s: EntitlementState,
    appeal: Appeal,
    p: AppealDecided,
    event_id: str,
    decider: str,
    out: Outcome,
) -> None:
    """The rejection is lifted: PENDING_REVIEW again, a new decision saying why, no money.
    Neither the decider nor the rejecting reviewer may approve it now."""
    s.status = Status.PENDING_REVIEW
    parties = book.reopened.setdefault(s.ent.entitlement_id, Reopened())
    parties.deciders.add(decider)
    if appeal.rejected_by is not None:
        parties.rejecters.add(appeal.rejected_by)
    s.reasons = tuple(r for r in s.reasons if r is not Reason.REVIEW_REJECTED)
    book.emit(s, out, event_id, [_upheld_check(appeal, p, event_id, decider)])
    note = AppealNote(appeal.event_id, p.reason, decider)
    out.decisions[-1] = dataclasses.replace(out.decisions[-1], appeal=note)


def _upheld_check(appeal: Appeal, p: AppealDecided, event_id: str, decider: str) -> Check:
    return Check(
        "appeal",
        Remedy.REOPENED.value,
        (
            ("appealEvent", appeal.event_id),
            ("filedBy", appeal.filed_by),
            ("appealDecision", event_id),
            ("decidedBy", decider),
            ("rejectedBy", appeal.rejected_by),
            ("reason", p.reason),
        ),
    )
