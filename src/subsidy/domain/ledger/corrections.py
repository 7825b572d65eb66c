"""Corrections and retractions: an enterprise's history decided again, only differences booked.

A correction replaces an event's content at the place it was first taken; a retraction takes
the event out. The book is rebuilt by applying the corrected history, in its order, with the
same code that decided it the first time, then compared entitlement by entitlement with the
book as it stood. Each entitlement that differs gets one new decision revision pointing to the
correction, and one CORRECTION posting for the change in what it holds (a reduction is also
owed back: a CLAWBACK receivable). Nothing booked before is touched.
"""

import dataclasses
from collections.abc import Iterable

from subsidy.domain.entitlements import Status
from subsidy.domain.evaluator import Evaluation
from subsidy.domain.ledger import checks as check
from subsidy.domain.ledger.book import EnterpriseBook
from subsidy.domain.ledger.errors import LedgerRejection
from subsidy.domain.ledger.records import (
    Check,
    CorrectionNote,
    EntitlementState,
    Outcome,
    Posting,
    PostingKind,
    Redecided,
)

APPLIED, PARKED, REJECTED = "applied", "parked", "rejected"


Checks = dict[str, tuple[Check, ...]]


def replay(
    enterprise_id: str, history: Iterable[Evaluation]
) -> tuple[EnterpriseBook, Redecided, Checks]:
    """A fresh book with every event of `history` applied in order, each event's fate, and
    the checks behind each entitlement's last decision there (what the figures now are)."""
    book = EnterpriseBook(enterprise_id)
    fates: dict[str, str] = {}
    checks: Checks = {}
    for evaluation in history:
        event_id = evaluation.event.event_id
        try:
            out = book.apply(evaluation)
        except LedgerRejection:
            fates[event_id] = REJECTED
            continue
        fates[event_id] = PARKED if out.parked else APPLIED
        fates.update(dict.fromkeys(out.released, APPLIED))
        fates.update((review_id, REJECTED) for review_id, _ in out.released_rejections)
        checks.update((d.state_ent.entitlement_id, d.checks) for d in out.decisions)
    return book, Redecided(fates), checks


def redecide(
    old: EnterpriseBook, history: Iterable[Evaluation], note: CorrectionNote, cause: str
) -> tuple[EnterpriseBook, Outcome]:
    """The book the corrected history gives, carrying each entitlement's revision and what it
    owes back from `old`, and the outcome booking the differences (caused by event `cause`)."""
    new, redecided, checks = replay(old.enterprise_id, history)
    redecided.retracted = note.event_id if note.retracted_by else None
    out = Outcome(cause, redecided=redecided)
    for eid, after in new.entitlements.items():
        _book_difference(old.entitlements.get(eid), after, note, cause, new, out, checks)
    for eid, before in old.entitlements.items():
        if eid not in new.entitlements:
            after = _retracted(before)
            # Indexed, not registered under its event: a retracted event is unknown to reviews
            # and objections, as if it had never been sent.
            new.entitlements[eid] = after
            new.items[after.ent.item_id].append(after)
            _book_difference(before, after, note, cause, new, out, checks)
    return new, out


def _retracted(before: EntitlementState) -> EntitlementState:
    """What an entitlement the corrected history no longer gives becomes: it holds nothing."""
    return dataclasses.replace(
        before, status=Status.RETRACTED, reasons=(), capped_fen=0, granted_fen=0
    )


def _unchanged(before: EntitlementState, after: EntitlementState) -> bool:
    return (
        before.status is after.status
        and before.reasons == after.reasons
        and before.entitled_fen == after.entitled_fen
        and before.capped_fen == after.capped_fen
        and before.granted_fen == after.granted_fen
        and before.ent == after.ent
    )


def _book_difference(
    before: EntitlementState | None,
    after: EntitlementState,
    note: CorrectionNote,
    cause: str,
    book: EnterpriseBook,
    out: Outcome,
    replayed: Checks,
) -> None:
    """One entitlement: carry its revision and receivable, and if it changed, book the change
    and publish its next revision, with the checks the corrected history decided it by."""
    after.revision = before.revision if before else 0
    after.clawback_fen = before.clawback_fen if before else 0
    if before is not None and _unchanged(before, after):
        return
    held = before.granted_fen if before else 0
    delta = after.granted_fen - held
    eid = after.ent.entitlement_id
    if before is not None and held and _booked_elsewhere(before, after):
        # Moved to another year or item: reversed where it was, granted where it is now.
        out.postings.append(
            Posting(eid, PostingKind.CORRECTION, -held, cause, before.ent, before.district)
        )
        if after.granted_fen:
            out.postings.append(Posting(eid, PostingKind.CORRECTION, after.granted_fen, cause))
    elif delta:
        out.postings.append(Posting(eid, PostingKind.CORRECTION, delta, cause))
    if delta < 0:
        after.clawback_fen -= delta
        out.postings.append(Posting(eid, PostingKind.CLAWBACK, -delta, cause))
    mine = dataclasses.replace(
        note,
        previous_status=before.status if before else None,
        previous_granted_fen=held,
    )
    why = [check.correction(mine, after.granted_fen), *replayed.get(eid, ())]
    book.emit(after, out, cause, why, max(delta, 0))
    out.decisions[-1] = dataclasses.replace(out.decisions[-1], correction=mine)


def _booked_elsewhere(before: EntitlementState, after: EntitlementState) -> bool:
    """Do the two states' postings fall under different facts (the journal's columns)?"""
    b, a = before.ent, after.ent
    return (before.district, b.year, b.item_id, b.clause, b.catalog_version,
            b.funding_channels) != (after.district, a.year, a.item_id, a.clause,
                                    a.catalog_version, a.funding_channels)  # fmt: skip
