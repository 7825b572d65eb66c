"""Events on an item that change its entitlements: a revocation, other programmes' support."""

# docs/rules.md step 7 (a revocation) and step 8 (other programmes' support).

from collections import defaultdict

from subsidy.domain.entitlements import Reason, Status
from subsidy.domain.events import OtherSupportReceived
from subsidy.domain.ledger import checks as check
from subsidy.domain.ledger.records import GRANTED, EntitlementState, Outcome, PostingKind
from subsidy.domain.ledger.state import BookState, add_reasons


def revocable(s: EntitlementState) -> bool:
    """What a revocation ends: a grant standing on the item, a review still to come, and a
    review's rejection, which an upheld appeal would otherwise reopen and a reviewer then pay
    for a certification that no longer exists."""
    return (
        s.counts_for_item
        or s.status is Status.PENDING_REVIEW
        or (s.status is Status.DENIED and Reason.REVIEW_REJECTED in s.reasons)
    )


def revoke(book: BookState, item_id: str, event_id: str, out: Outcome) -> None:
    """Step 7: every grant on the item reversed, cap room released, cash paid booked as a
    clawback receivable. Entitlements awaiting review, or whose review was rejected, are
    revoked too: none holds money, and none can be reopened or paid after."""
    for s in list(book.on_item(item_id)):
        if not revocable(s):
            continue
        book.settle_approval(s.ent.entitlement_id, event_id, out)
        paid = s.granted_fen
        if paid:
            book.post(s, PostingKind.REVOKE, -paid, event_id, out)
            book.clawback(s, paid, event_id, out)
        s.status = Status.REVOKED
        book.emit(s, out, event_id, [check.revocation(paid)])


def other_support(book: BookState, p: OtherSupportReceived, event_id: str, out: Outcome) -> None:
    """Support from another programme counts against the item: the grants on it keep only
    what they give above that support; the excess already paid is clawed back."""
    support = book.other_support.get(p.item_id, 0) + p.amount_fen
    book.other_support[p.item_id] = support
    by_rule: dict[str, list[EntitlementState]] = defaultdict(list)
    for s in book.on_item(p.item_id):
        if s.status in GRANTED:
            by_rule[s.ent.rule_id].append(s)
    for rule_id, states in by_rule.items():
        gross = book.level(rule_id, p.item_id)
        excess = sum(s.granted_fen for s in states) - max(0, gross - support)
        _cut_latest_first(book, states, excess, p.program, support, event_id, out)


def _cut_latest_first(
    book: BookState,
    states: list[EntitlementState],
    excess: int,
    program: str,
    support: int,
    event_id: str,
    out: Outcome,
) -> None:
    """Reduce one rule's grants on an item by `excess`, clawing back what was paid; the
    entitlement created last gives way first."""
    for s in reversed(states):
        if excess <= 0:
            break
        cut = min(excess, s.granted_fen)
        excess -= cut
        book.post(s, PostingKind.OTHER_SUPPORT, -cut, event_id, out)
        book.clawback(s, cut, event_id, out)
        s.reasons = add_reasons(s.reasons, Reason.OTHER_SUPPORT)
        s.status = Status.PARTIALLY_PAID if s.granted_fen else Status.DENIED
        book.emit(s, out, event_id, [check.other_support_cut(program, support, cut)])
