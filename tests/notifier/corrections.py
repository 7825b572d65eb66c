"""Decisions corrections and retractions bring about, as the ledger publishes them."""

# The pure ledger decides the events, the contract's codec makes the Decision messages.

from datetime import UTC, datetime
from typing import Any

from subsidy.contract.codec import decision_to_proto
from subsidy.decisions.v1 import decisions_pb2 as dpb
from subsidy.domain.catalog import Catalog
from subsidy.domain.evaluator import evaluate
from subsidy.domain.events import parse_event
from subsidy.domain.ledger.memory import InMemoryLedger
from tests.factories import event

# 2025-07-01 16:00 in Beijing: what the webhook's times say with their offset.
DECIDED_AT = datetime(2025, 7, 1, 8, 0, tzinfo=UTC)
INVOICE = "corr-inv"
TOPPED = "corr-top"
LAB = "corr-lab"
RETRACTION = "corr-ret"


def _invoice(enterprise: str, fen: int, event_id: str = INVOICE, **extra: Any) -> dict[str, Any]:
    """m08 pays 20% of an invoice: ¥600,000.00 gives ¥120,000.00."""
    return event("computeInvoiceFiled", {"itemId": f"INV-{event_id}", "amountFen": fen},
                 eventId=event_id, enterpriseId=enterprise, **extra)  # fmt: skip


def corrected_story(enterprise: str) -> list[dict[str, Any]]:
    """An invoice corrected down then up, another corrected up (nothing owed back before or
    after), a municipal key lab retracted (all of one enterprise)."""
    lab = {"kind": "MUNICIPAL_KEY_LAB", "itemId": "lab-9", "certificateId": "C-9"}
    return [
        _invoice(enterprise, 60_000_000),
        event("certificationObtained", lab, eventId=LAB, enterpriseId=enterprise),
        _invoice(enterprise, 10_000_000, revision=2, correctionReason="发票金额录入错误"),
        _invoice(enterprise, 30_000_000, revision=3, correctionReason="按原件再次核对"),
        _invoice(enterprise, 5_000_000, TOPPED),
        _invoice(enterprise, 15_000_000, TOPPED, revision=2, correctionReason="漏录发票"),
        event("eventRetracted", {"eventRef": LAB, "reason": "证书误发"}, eventId=RETRACTION,
              enterpriseId=enterprise),
    ]  # fmt: skip


def decided(catalog: Catalog, events: list[dict[str, Any]]) -> dict[str, dpb.Decision]:
    """Every decision the ledger makes of the events, by decision id, in order."""
    ledger = InMemoryLedger()
    out: dict[str, dpb.Decision] = {}
    for raw in events:
        parsed = parse_event(raw)
        outcome = ledger.process(evaluate(parsed, catalog), parsed.content_hash())
        for d in outcome.decisions:
            out[d.decision_id] = decision_to_proto(d, DECIDED_AT)
    return out
