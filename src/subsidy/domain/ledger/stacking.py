"""Step 4 of "How limits combine" (docs/rules.md): 就高不重复 on (enterprise, item)."""

# Highest only, no double: a rule's total on an item must beat every other rule's there; the winner
# supersedes the others' standing entitlements, pays only what other-programme support and its own
# grants leave, and moves in cash only the top-up over what it replaces.

from subsidy.domain.entitlements import Entitlement, Reason, Status
from subsidy.domain.ledger import checks as check
from subsidy.domain.ledger.records import Check, EntitlementState, Outcome, PostingKind
from subsidy.domain.ledger.state import BookState, add_reasons, deny


def stack(
    book: BookState,
    s: EntitlementState,
    granted: int,
    event_id: str,
    checks: list[Check],
    out: Outcome,
) -> int:
    """Step 4 for a grant the caps allow. Returns the cash moved: the grant less what lower
    rules had already paid on the item (a top-up)."""
    e = s.ent
    own = book.level(e.rule_id, e.item_id, exclude=e.entitlement_id) + granted
    if not outbids_other_rules(book, s, own, checks):
        return 0
    transferred = supersede_lower_rules(book, e, own, event_id, out)
    pay = net_of_other_support(book, s, granted, own, checks)
    if pay == 0:
        s.status = Status.DENIED
        return -transferred
    return grant_top_up(book, s, pay, transferred, event_id, checks, out)


def outbids_other_rules(
    book: BookState, s: EntitlementState, own: int, checks: list[Check]
) -> bool:
    """Highest only: the rule's total must beat every other rule's on the item."""
    best_rule, best_other = book.best_other_rule(s.ent)
    # With no other rule the bar is 0: a rule that gives the item nothing (a 1-fen invoice's
    # 0-fen voucher) is not "paid ¥0.00", it is denied like any amount that beats nothing.
    higher = own > (best_other or 0)
    checks.append(check.stacking(own, best_rule, best_other, higher))
    if not higher:
        deny(s, Reason.DUPLICATE_LOWER)
        s.capped_fen = 0
    return higher


def supersede_lower_rules(
    book: BookState, winner: Entitlement, own: int, event_id: str, out: Outcome
) -> int:
    """No double: other rules' standing entitlements on the item give way to the winner.
    Returns what they had been granted, which the winner's grant now covers."""
    transferred = 0
    # Every one gives way, money or not: one cut to nothing by other support would otherwise
    # keep its level and outbid later grants.
    for o in list(book.on_item(winner.item_id)):
        if o.ent.rule_id != winner.rule_id and o.counts_for_item:
            transferred += o.granted_fen
            book.post(o, PostingKind.SUPERSEDE, -o.granted_fen, event_id, out)
            o.status = Status.SUPERSEDED
            book.emit(o, out, event_id, [check.superseded(winner.entitlement_id, own)])
    return transferred


def net_of_other_support(
    book: BookState, s: EntitlementState, granted: int, own: int, checks: list[Check]
) -> int:
    """What the grant pays beyond other-programme support on the item and what the rule
    already holds there."""
    e = s.ent
    support = book.other_support.get(e.item_id, 0)
    prior = book.item_granted(e.rule_id, e.item_id)
    pay = max(0, min(granted, own - support - prior))
    if support:
        checks.append(check.other_support_netting(support, own, prior, pay, granted))
    # Nothing granted is DENIED, never "paid ¥0.00": also a 0-fen amount on an item its rule
    # already holds (the other support, if any, or the rule's own grants absorb it).
    if pay < granted or pay == 0:
        s.reasons = add_reasons(s.reasons, Reason.OTHER_SUPPORT)
    return pay


def grant_top_up(
    book: BookState,
    s: EntitlementState,
    pay: int,
    transferred: int,
    event_id: str,
    checks: list[Check],
    out: Outcome,
) -> int:
    """Book the grant; in cash it moves only what the superseded rules had not paid."""
    s.status = Status.PAID if pay == s.entitled_fen else Status.PARTIALLY_PAID
    book.post(s, PostingKind.GRANT, pay, event_id, out)
    if transferred:
        checks.append(check.top_up(pay, transferred))
    return pay - transferred
