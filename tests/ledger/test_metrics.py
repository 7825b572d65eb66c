"""The ledger worker's metrics count a batch's decisions and money exactly (summed per label)."""

from subsidy.domain.catalog import load_catalog
from subsidy.domain.evaluator import evaluate
from subsidy.domain.events import parse_event
from subsidy.domain.ledger.memory import InMemoryLedger
from subsidy.domain.ledger.records import PostingKind
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
