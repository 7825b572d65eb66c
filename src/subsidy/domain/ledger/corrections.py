"""Corrections and retractions: an enterprise's history decided again, only differences booked."""

# A correction replaces an event's content at the place it was first taken; a retraction takes the
# event out. The book is rebuilt by applying the corrected history, in its order, with the same code
# that decided it the first time, then compared entitlement by entitlement with the book as it
# stood. Each entitlement that differs gets one new decision revision pointing to the correction,
# and one CORRECTION posting for the change in what it holds (a reduction is also owed back: a
# CLAWBACK receivable). Nothing booked before is touched.

import dataclasses
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

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
    redecided = Redecided(fates)
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
        redecided.appeals += out.appeals
        redecided.appeal_decisions += out.appeal_decisions
    return book, redecided, checks


def redecide(
    old: EnterpriseBook, history: Iterable[Evaluation], note: CorrectionNote, cause: str
) -> tuple[EnterpriseBook, Outcome]:
    """The book the corrected history gives, carrying each entitlement's revision and what it
    owes back from `old`, and the outcome booking the differences (caused by event `cause`)."""
    new, redecided, checks = replay(old.enterprise_id, history)
    redecided.retracted = note.event_id if note.retracted_by else None
    out = Outcome(cause, redecided=redecided)
    changed: list[tuple[EntitlementState | None, EntitlementState]] = []
    for eid, after in new.entitlements.items():
        changed.append((old.entitlements.get(eid), after))
    for eid, before in old.entitlements.items():
        if eid not in new.entitlements:
            after = _retracted(before)
            # Indexed, not registered under its event: a retracted event is unknown to reviews
            # and objections, as if it had never been sent.
            new.entitlements[eid] = after
            new.items[after.ent.item_id].append(after)
            changed.append((before, after))
    for prior, now in changed:
        now.revision = prior.revision if prior else 0
        now.clawback_fen = prior.clawback_fen if prior else 0
    changed = [(b, a) for b, a in changed if b is None or not _unchanged(b, a)]
    cash = _settle_money(changed, cause, out)
    for prior, now in changed:
        _publish(prior, now, note, cause, new, out, checks, cash)
    return new, out


def _settle_money(
    changed: list[tuple[EntitlementState | None, EntitlementState]], cause: str, out: Outcome
) -> dict[str, int]:
    """Book each change in the journal, and settle it in money: on one item, in one district
    and year, what a re-decision takes from some entitlements pays first for what it gives
    others (as a higher rule's grant covers a lower one's, step 5), so only the excess moves:
    new cash for a raise, a receivable for a cut. A grant moved to another district or year
    is owed back where it was paid and paid anew where it is now. Returns the cash by id."""
    cuts: dict[tuple[str, str, int], list[list[Any]]] = defaultdict(list)
    raises: list[tuple[tuple[str, str, int], str, int]] = []
    for before, after in changed:
        eid = after.ent.entitlement_id
        held = before.granted_fen if before else 0
        where = (after.ent.item_id, after.district, after.ent.year)
        if before is not None and held and _booked_elsewhere(before, after):
            old_facts, old_district = before.ent, before.district
            out.postings.append(
                Posting(eid, PostingKind.CORRECTION, -held, cause, old_facts, old_district)
            )
            cuts[(old_facts.item_id, old_district, old_facts.year)].append(
                [after, held, old_facts, old_district]
            )
            held = 0
            if after.granted_fen:
                out.postings.append(Posting(eid, PostingKind.CORRECTION, after.granted_fen, cause))
        elif after.granted_fen != held:
            out.postings.append(Posting(eid, PostingKind.CORRECTION, after.granted_fen - held,
                                        cause))  # fmt: skip
        if after.granted_fen < held:
            cuts[where].append([after, held - after.granted_fen, None, None])
        elif after.granted_fen > held:
            raises.append((where, eid, after.granted_fen - held))
    cash: dict[str, int] = {}
    for where, eid, amount in raises:
        for cut in cuts.get(where, ()):
            covered = min(amount, cut[1])
            cut[1] -= covered
            amount -= covered
        cash[eid] = amount
    for pending in cuts.values():
        for after, owed, facts, district in pending:
            if owed:
                after.clawback_fen += owed
                out.postings.append(Posting(after.ent.entitlement_id, PostingKind.CLAWBACK,
                                            owed, cause, facts, district))  # fmt: skip
    return cash


def _publish(
    before: EntitlementState | None,
    after: EntitlementState,
    note: CorrectionNote,
    cause: str,
    book: EnterpriseBook,
    out: Outcome,
    replayed: Checks,
    cash: dict[str, int],
) -> None:
    """An entitlement's next revision, with the correction and the checks the corrected
    history decided it by."""
    eid = after.ent.entitlement_id
    held = before.granted_fen if before else 0
    mine = dataclasses.replace(
        note, previous_status=before.status if before else None, previous_granted_fen=held
    )
    why = [check.correction(mine, after.granted_fen), *replayed.get(eid, ())]
    book.emit(after, out, cause, why, cash.get(eid, 0))
    out.decisions[-1] = dataclasses.replace(out.decisions[-1], correction=mine)


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


def _booked_elsewhere(before: EntitlementState, after: EntitlementState) -> bool:
    """Do the two states' postings fall under different facts (the journal's columns)?"""
    b, a = before.ent, after.ent
    return (before.district, b.year, b.item_id, b.clause, b.catalog_version,
            b.funding_channels) != (after.district, a.year, a.item_id, a.clause,
                                    a.catalog_version, a.funding_channels)  # fmt: skip
