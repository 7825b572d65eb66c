"""A correction that moves a paid entitlement to another district or year and cuts it."""

# What is owed back is owed where the cash came from. The payouts route a receivable by its CLAWBACK
# entry's district and year (原渠道: a channel's debt is recovered for that channel), so the entry
# is booked under the facts the cash was paid under, not the entitlement's new ones.

import json
from collections import Counter

from subsidy.domain.catalog import load_catalog
from subsidy.domain.evaluator import evaluate
from subsidy.domain.events import parse_event_json
from subsidy.domain.ledger.memory import InMemoryLedger
from subsidy.domain.ledger.records import PostingKind
from tests.factories import event


def test_a_receivable_is_raised_where_the_cash_was_paid() -> None:
    catalog = load_catalog()
    ledger = InMemoryLedger()
    paid: Counter[tuple[str, int]] = Counter()
    owed: Counter[tuple[str, int]] = Counter()
    for raw in [
        event("computeInvoiceFiled", {"itemId": "INV-MV", "amountFen": 500000000},
              eventId="mv1", occurredOn="2025-12-30", district="SIP"),
        event("computeInvoiceFiled", {"itemId": "INV-MV", "amountFen": 100000000},
              eventId="mv1", occurredOn="2026-01-05", district="KUNSHAN", revision=2,
              correctionReason="开票日期与区县有误"),
    ]:  # fmt: skip
        ev = parse_event_json(json.dumps(raw, ensure_ascii=False))
        out = ledger.process(evaluate(ev, catalog), ev.content_hash())
        book = ledger.books[ev.enterprise_id]
        for d in out.decisions:
            paid[(d.district, d.state_ent.year)] += d.cash_delta_fen
        for p in out.postings:
            if p.kind is PostingKind.CLAWBACK:
                s = book.entitlements[p.entitlement_id]
                facts = p.facts or s.ent
                owed[(p.district or s.district, facts.year)] += p.amount_fen
    # Owed back where it was paid (SIP, 2025), the whole of it; the corrected grant is paid
    # anew where it now falls (KUNSHAN, 2026): each fund settles its own.
    assert owed == Counter({("SIP", 2025): 100000000})
    assert paid == Counter({("SIP", 2025): 100000000, ("KUNSHAN", 2026): 20000000})
