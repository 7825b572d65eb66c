"""Event streams for the ledger integration tests."""

# Seeded mixes that reach every limit of the rules, what eligibility would publish for them, and
# what the pure ledger makes of them.

import json
import random
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from subsidy.contract.codec import evaluation_to_proto
from subsidy.domain.catalog import Catalog, apply_overlay, build_catalog, load_catalog, raw_catalog
from subsidy.domain.evaluator import evaluate
from subsidy.domain.events import parse_event
from subsidy.domain.ledger.errors import LedgerRejection
from subsidy.domain.ledger.memory import InMemoryLedger
from tests.factories import enterprise_id

YUAN = 100

CATALOG: Catalog = load_catalog()


def _overlaid(overlay: dict[str, Any]) -> Catalog:
    return build_catalog(apply_overlay(raw_catalog(), overlay))


# A later policy version (docs/contract.md §3): a longer window and tighter limits, so that the
# year limit binds (four calendar years, two allowed), caps bind more often, and a referred
# rule pays as a ceiling rule and competes under 就高不重复.
TIGHT_CATALOG: Catalog = _overlaid({
    "valid_to": "2028-12-31",
    "rules": {
        "m08.large_model_compute": {"max_years": 2, "annual_cap_yuan": 1_500_000},
        "m08.compute_voucher": {"annual_cap_yuan": 600_000},
        "m06.enterprise_title": {"ceiling_yuan": 300_000},
    },
})  # fmt: skip


# ---- events ------------------------------------------------------------------------------


_DISTRICTS = [
    "GUSU",
    "HUQIU",
    "WUZHONG",
    "XIANGCHENG",
    "WUJIANG",
    "SIP",
    "CHANGSHU",
    "ZHANGJIAGANG",
    "KUNSHAN",
    "TAICANG",
]
# Certification kinds with money (ceiling and review rules) and a few without.
_PAYING_KINDS = [
    "PROVINCIAL_KEY_LAB",
    "PROVINCIAL_JOINT_LAB",
    "PROVINCIAL_INNOVATION_CENTER",
    "PROVINCIAL_ENGINEERING_CENTER",
    "PROVINCIAL_MANUFACTURING_CENTER",
    "MUNICIPAL_KEY_LAB",
    "INNOVATION_CONSORTIUM",
    "VERTICAL_LLM",
    "FIRST_UNIT_EQUIPMENT",
    "TRAINING_BASE",
]
_OTHER_KINDS = [
    "HIGH_TECH_ENTERPRISE",
    "UNICORN",
    "TYPICAL_SCENARIO",
    "KEY_COMPONENT_PROJECT",
    "HIGH_VALUE_PATENT",
    "TOP_TALENT",
]
# Payloads left for a review, and the rule that reviews them.
_REVIEWED = {"exhibitionHeld": "m06.exhibition", "serviceReportFiled": "m05.service_platform"}


class EventMix:
    """A seeded, interleaved stream of events over many enterprises that reaches every limit
    of docs/rules.md: caps, 就高不重复 both ways, same-event candidates, stages, reviews
    (approved, rejected, clipped, misdirected, before their event), revocations, other
    support, the window, and repeated and conflicting event ids."""

    def __init__(self, seed: int, enterprises: int, events_per_enterprise: int) -> None:
        self.rng = random.Random(seed)
        self.events_per_enterprise = events_per_enterprise
        self.ids = [enterprise_id(seed * 1000 + n) for n in range(enterprises)]
        self.counter = 0

    def _date(self) -> str:
        rng = self.rng
        if rng.random() < 0.06:  # outside the policy window
            day = rng.choice([date(2025, 3, 1), date(2028, 2, 1)]) + timedelta(rng.randint(0, 60))
        else:
            day = date(2025, 6, 1) + timedelta(rng.randint(0, 944))
        return day.isoformat()

    def _amount(self, low_yuan: int, high_yuan: int) -> int:
        return self.rng.randint(low_yuan, high_yuan) * YUAN

    def _base(self, n: int, enterprise: str) -> dict[str, Any]:
        self.counter += 1
        return {
            "eventId": f"e{n}-{self.counter}",
            "source": "sz-miit-portal",
            "enterpriseId": enterprise,
            "enterpriseName": f"苏州测试机器人{n}号有限公司",
            "district": _DISTRICTS[n % len(_DISTRICTS)],
            "occurredOn": self._date(),
        }

    def _one(self, n: int, enterprise: str, past: list[dict[str, Any]]) -> dict[str, Any]:
        rng = self.rng
        ev = self._base(n, enterprise)
        labs = [f"lab-{i}" for i in range(4)]
        roll = rng.random()
        pending = [p for p in past if p.get("_pending")]
        originals = [p for p in past if "_conflict" not in p]
        if roll < 0.22:
            ev["computeInvoiceFiled"] = {
                "itemId": f"inv-{self.counter}",
                "amountFen": self._amount(100_000, 4_000_000),
                "modelParamsBillions": rng.choice([5, 10, 10.5, 50, 120]),
                "applicationScenarios": rng.randint(2, 8),
            }
        elif roll < 0.42:
            kind = rng.choice(_PAYING_KINDS)
            cert: dict[str, Any] = {
                "kind": kind,
                "itemId": rng.choice(labs),
                "certificateId": f"C{self.counter}",
            }
            if rng.random() < 0.5:
                cert["approvedAmountFen"] = self._amount(100_000, 25_000_000)
            if kind == "FIRST_UNIT_EQUIPMENT" and rng.random() < 0.5:
                cert["humanoid"] = True
            ev["certificationObtained"] = cert
        elif roll < 0.50:
            ev["certificationObtained"] = {
                "kind": "NATIONAL_PLATFORM",
                "itemId": "platform-lab",
                "certificateId": f"N{self.counter}",
                "stage": rng.randint(1, 4),
            }
            ev["_pending"] = "m03.national_platform"
        elif roll < 0.56:
            ev["certificationObtained"] = {
                "kind": rng.choice(_OTHER_KINDS),
                "itemId": f"title-{rng.randint(0, 2)}",
                "certificateId": f"T{self.counter}",
            }
        elif roll < 0.62:
            payload_type = rng.choice(list(_REVIEWED))
            body: dict[str, Any] = {"itemId": f"{payload_type}-{rng.randint(0, 1)}"}
            if payload_type == "serviceReportFiled":
                body["serviceYear"] = 2025
            if rng.random() < 0.4:
                body["approvedAmountFen"] = self._amount(100_000, 2_500_000)
            else:
                ev["_pending"] = _REVIEWED[payload_type]
            ev[payload_type] = body
        elif roll < 0.64:
            ev[
                rng.choice(["projectDesignated", "standardPublished", "capacityInvestmentFiled"])
            ] = {"itemId": f"misc-{self.counter}"}
            if "standardPublished" in ev:
                ev["standardPublished"].update(level="NATIONAL", role="LEAD")
            if "capacityInvestmentFiled" in ev:
                ev["capacityInvestmentFiled"]["investmentFen"] = self._amount(1_000, 9_000)
        elif roll < 0.78 and pending:
            target = rng.choice(pending)
            approved = rng.random() < 0.75
            review: dict[str, Any] = {
                "eventRef": target["eventId"],
                "ruleId": target["_pending"],
                "approved": approved,
            }
            if approved:
                review["approvedAmountFen"] = self._amount(50_000, 60_000_000)
            if rng.random() < 0.8:
                target.pop("_pending")  # a later review of it is NotPendingReview
            ev["reviewDecided"] = review
        elif roll < 0.81:
            # Nowhere (it waits for ever), this enterprise's next event (it waits, then is
            # applied or refused), or a recent one.
            ref = rng.choice(
                [f"nowhere-{self.counter}", f"e{n}-{self.counter + 1}",
                 *(p["eventId"] for p in past[-3:])]
            )  # fmt: skip
            ev["reviewDecided"] = {"eventRef": ref, "ruleId": "m06.exhibition", "approved": False}
        elif roll < 0.85:
            ev["certificationRevoked"] = {"itemId": rng.choice(labs), "reason": "撤销认定"}
        elif roll < 0.90:
            ev["otherSupportReceived"] = {
                "itemId": rng.choice([*labs, "platform-lab"]),
                "program": "市科技计划",
                "amountFen": self._amount(10_000, 3_000_000),
            }
        elif roll < 0.95 and past:
            return dict(rng.choice(past))  # the same event again: a no-op (or a conflict again)
        elif originals:
            # The same id, other content: a conflict.
            conflicting = {k: v for k, v in rng.choice(originals).items() if k != "_pending"}
            conflicting["source"] = "js-provincial-cert-feed"
            conflicting["_conflict"] = True
            return conflicting
        else:
            ev["projectDesignated"] = {"itemId": f"misc-{self.counter}"}
        return ev

    def events(self) -> list[dict[str, Any]]:
        """The stream, enterprises interleaved; each enterprise's events in its own order."""
        streams: dict[str, list[dict[str, Any]]] = {e: [] for e in self.ids}
        for n, enterprise in enumerate(self.ids):
            past = streams[enterprise]
            for _ in range(self.events_per_enterprise):
                past.append(self._one(n, enterprise, past))
        out: list[dict[str, Any]] = []
        cursors = {e: 0 for e in self.ids}
        while cursors:
            enterprise = self.rng.choice(sorted(cursors))
            out.append(
                {
                    k: v
                    for k, v in streams[enterprise][cursors[enterprise]].items()
                    if not k.startswith("_")
                }
            )
            cursors[enterprise] += 1
            if cursors[enterprise] == len(streams[enterprise]):
                del cursors[enterprise]
        return out


def jsonl(events: Iterable[dict[str, Any]]) -> list[str]:
    """Events as the JSONL lines `subsidy simulate` reads."""
    return [json.dumps(e, ensure_ascii=False) for e in events]


def evaluation_records(
    events: Iterable[dict[str, Any]], catalog: Catalog = CATALOG
) -> list[tuple[bytes, bytes]]:
    """What eligibility would publish on entitlements.v1: (enterpriseId key, Evaluation)."""
    out = []
    for raw in events:
        event = parse_event(raw)
        message = evaluation_to_proto(evaluate(event, catalog))
        out.append((event.enterprise_id.encode(), message.SerializeToString()))
    return out


def replay(
    events: list[dict[str, Any]], catalog: Catalog = CATALOG
) -> tuple[dict[str, list[Any]], dict[str, Any]]:
    """The pure ledger over the events, keeping every posting (per enterprise, in order) and
    every decision: what the service's journal and decisions table must hold."""
    ledger = InMemoryLedger()
    postings: dict[str, list[Any]] = defaultdict(list)
    decisions: dict[str, Any] = {}
    for raw in events:
        event = parse_event(raw)
        try:
            outcome = ledger.process(evaluate(event, catalog), event.content_hash())
        except LedgerRejection:
            continue
        postings[event.enterprise_id].extend(
            (p.entitlement_id, p.kind.value, p.amount_fen, p.event_id) for p in outcome.postings
        )
        for d in outcome.decisions:
            decisions[d.decision_id] = (
                d.status.value,
                [r.value for r in d.reasons],
                d.entitled_fen,
                d.granted_fen,
                d.cash_delta_fen,
                d.clawback_fen,
                d.caused_by_event_id,
                [{"check": c.check, "outcome": c.outcome, "numbers": c.numbers} for c in d.checks],
            )
    return {k: v for k, v in postings.items() if v}, decisions
