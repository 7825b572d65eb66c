"""The ledger worker's metrics count a batch's decisions and money exactly (summed per label)."""

from subsidy.domain.catalog import load_catalog
from subsidy.domain.evaluator import evaluate
from subsidy.domain.events import parse_event
from subsidy.domain.ledger.memory import InMemoryLedger
from subsidy.domain.ledger.records import Outcome, PostingKind
from subsidy.ledger.metrics import WORKER_REGISTRY, observe_batch
from subsidy.ledger.processor import BatchReport
from tests.factories import event


def _sample(name: str, labels: dict[str, str]) -> float:
    return WORKER_REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_batch_counts_every_decision_and_every_fen() -> None:
    catalog, ledger = load_catalog(), InMemoryLedger()
    outcomes = []
    # Three invoices of one enterprise in one year: m05's annual cap binds on the third.
    for n, yuan in enumerate((3_000_000, 4_000_000, 5_000_000)):
        invoice = {"itemId": f"INV-{n}", "amountFen": yuan * 100}
        ev = parse_event(event("computeInvoiceFiled", invoice, eventId=f"metrics-{n}"))
        outcomes.append(ledger.process(evaluate(ev, catalog), ev.content_hash()))
    book = next(iter(ledger.books.values()))
    report = BatchReport(outcomes=[(book, o) for o in outcomes])
    decisions = [d for o in outcomes for d in o.decisions]
    grants = [p for o in outcomes for p in o.postings if p.kind is PostingKind.GRANT]
    rule = decisions[0].state_ent.rule_id
    measure, district = str(decisions[0].state_ent.measure), decisions[0].district
    status_counts = {
        s: sum(d.status.value == s for d in decisions) for s in ("PAID", "PARTIALLY_PAID", "DENIED")
    }
    denials = sum(c.outcome == "ANNUAL_CAP" for d in decisions for c in d.checks)
    before = {
        **{
            s: _sample("subsidy_ledger_decisions_total", {"status": s, "rule_id": rule})
            for s in status_counts
        },
        "granted": _sample(
            "subsidy_ledger_granted_fen_total", {"measure": measure, "district": district}
        ),
        "denials": _sample(
            "subsidy_ledger_cap_denials_total", {"rule_id": rule, "check": "ANNUAL_CAP"}
        ),
    }
    observe_batch(report, 0.01)
    for status, n in status_counts.items():
        got = _sample("subsidy_ledger_decisions_total", {"status": status, "rule_id": rule})
        assert got - before[status] == n
    granted = _sample(
        "subsidy_ledger_granted_fen_total", {"measure": measure, "district": district}
    )
    assert granted - before["granted"] == sum(p.amount_fen for p in grants) > 0
    assert denials > 0
    denied = _sample("subsidy_ledger_cap_denials_total", {"rule_id": rule, "check": "ANNUAL_CAP"})
    assert denied - before["denials"] == denials


def test_a_correction_counts_a_raise_as_granted_and_a_cut_as_reversed() -> None:
    # A CORRECTION entry has either sign; the counters only go up (a negative inc raises and
    # stopped the worker on the first correction that raised a grant).
    catalog, ledger = load_catalog(), InMemoryLedger()

    def take(yuan: int, **top: object) -> Outcome:
        invoice = {"itemId": "INV-C", "amountFen": yuan * 100}
        ev = parse_event(event("computeInvoiceFiled", invoice, eventId="metrics-c", **top))
        return ledger.process(evaluate(ev, catalog), ev.content_hash())

    take(100_000)
    raised = take(300_000, revision=2, correctionReason="发票金额录入错误")
    cut = take(50_000, revision=3, correctionReason="更正后金额仍有误")
    book = next(iter(ledger.books.values()))
    (up,) = [p for p in raised.postings if p.kind is PostingKind.CORRECTION]
    (down,) = [p for p in cut.postings if p.kind is PostingKind.CORRECTION]
    assert up.amount_fen > 0 > down.amount_fen
    state = book.entitlements[up.entitlement_id]
    labels = {"measure": str(state.ent.measure), "district": state.district}
    names = ("granted", "reversed")
    before = {n: _sample(f"subsidy_ledger_{n}_fen_total", labels) for n in names}
    observe_batch(BatchReport(outcomes=[(book, raised), (book, cut)]), 0.01)
    granted = _sample("subsidy_ledger_granted_fen_total", labels) - before["granted"]
    reversed_ = _sample("subsidy_ledger_reversed_fen_total", labels) - before["reversed"]
    assert granted == up.amount_fen
    assert reversed_ == -down.amount_fen
