"""Appeal notices as the ledger writes them."""

# The pure ledger decides the events, the ledger's own builder (subsidy.ledger.appeal_notices) makes
# each AppealNotice, recorded at DECIDED_AT.

from typing import Any

from subsidy.decisions.v1 import decisions_pb2 as dpb
from subsidy.domain.catalog import Catalog
from subsidy.domain.evaluator import evaluate
from subsidy.domain.events import parse_event
from subsidy.domain.ledger.memory import InMemoryLedger
from subsidy.ledger.appeal_notices import Filed, decided_notice, facts, filed_notice
from tests.factories import event
from tests.notifier.corrections import DECIDED_AT

EXPO, VOUCHER = "m06.exhibition", "m08.compute_voucher"


def noticed(catalog: Catalog, events: list[dict[str, Any]]) -> dict[str, dpb.AppealNotice]:
    """Every appeal notice the events bring about, by notice id, in order."""
    ledger = InMemoryLedger()
    filed: dict[str, Filed] = {}
    out: dict[str, dpb.AppealNotice] = {}
    for raw in events:
        parsed = parse_event(raw)
        outcome = ledger.process(evaluate(parsed, catalog), parsed.content_hash())
        book = ledger.book(parsed.enterprise_id)
        for a in outcome.appeals:
            filed[a.event_id] = Filed(a.filed_by, DECIDED_AT)
            n = filed_notice(a, facts(book, a.entitlement_id), DECIDED_AT)
            out[n.notice_id] = n
        for d in outcome.appeal_decisions:
            n = decided_notice(d, facts(book, d.entitlement_id), filed[d.appeal_id], DECIDED_AT)
            out[n.notice_id] = n
    return out


def _by(who: str) -> dict[str, Any]:
    return {"submittedBy": {"principal": who}}


def appeal_story(enterprise: str) -> list[dict[str, Any]]:
    """An exhibition rejected then reopened on appeal, another whose appeal is dismissed, and
    an invoice denied at the annual cap whose appeal is upheld (the source corrects it)."""
    events: list[dict[str, Any]] = []
    for n, upheld, why in ((1, True, "材料齐全，重新审核"), (2, False, "参展商数量不足")):
        ref = {"eventRef": f"ap-expo-{n}", "ruleId": EXPO}
        events += [
            event("exhibitionHeld", {"itemId": f"expo-ap-{n}"}, eventId=f"ap-expo-{n}",
                  enterpriseId=enterprise),
            event("reviewDecided", {**ref, "approved": False}, eventId=f"ap-expo-{n}r",
                  enterpriseId=enterprise, **_by("reviewer-wang")),
            event("appealFiled", {**ref, "reason": "展会规模符合要求"}, eventId=f"ap-expo-{n}p",
                  enterpriseId=enterprise, **_by("portal-enterprise")),
            event("appealDecided", {**ref, "appealRef": f"ap-expo-{n}p", "upheld": upheld,
                                    "reason": why},
                  eventId=f"ap-expo-{n}d", enterpriseId=enterprise, **_by("reviewer-li")),
        ]  # fmt: skip
    ref = {"eventRef": "ap-inv-2", "ruleId": VOUCHER}
    return [
        *events,
        event("computeInvoiceFiled", {"itemId": "INV-AP1", "amountFen": 1_000_000_000},
              eventId="ap-inv-1", enterpriseId=enterprise),
        event("computeInvoiceFiled", {"itemId": "INV-AP2", "amountFen": 100_000_000},
              eventId="ap-inv-2", enterpriseId=enterprise),
        event("appealFiled", {**ref, "reason": "年度额度计算有误"}, eventId="ap-inv-2p",
              enterpriseId=enterprise),
        event("appealDecided", {**ref, "appealRef": "ap-inv-2p", "upheld": True,
                                "reason": "请数据来源更正发票"},
              eventId="ap-inv-2d", enterpriseId=enterprise, **_by("reviewer-li")),
    ]  # fmt: skip
