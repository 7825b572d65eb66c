"""Property-based checks of the ledger over random event streams (hypothesis)."""

import os
from collections import defaultdict
from datetime import date
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from subsidy.domain.catalog import load_catalog
from subsidy.domain.entitlements import Status
from subsidy.domain.evaluator import evaluate
from subsidy.domain.events import InvalidEvent, parse_event
from subsidy.domain.export import entitlement_view
from subsidy.domain.ledger.errors import LedgerRejection
from subsidy.domain.ledger.memory import InMemoryLedger
from subsidy.domain.ledger.records import GRANT_ACCOUNT, GRANTED
from tests.factories import enterprise_id

CATALOG = load_catalog()
ENTERPRISES = [enterprise_id(1), enterprise_id(2)]
ITEMS = ["lab-a", "lab-b", "unit-c"]
KINDS = [
    "MUNICIPAL_KEY_LAB",
    "PROVINCIAL_KEY_LAB",
    "PROVINCIAL_ENGINEERING_CENTER",
    "NATIONAL_PLATFORM",
    "FIRST_UNIT_EQUIPMENT",
    "VERTICAL_LLM",
    "HIGH_TECH_ENTERPRISE",
]
DATES = st.dates(min_value=date(2025, 3, 1), max_value=date(2028, 3, 1))
# HYPOTHESIS_EXAMPLES=5000 for a deeper search than CI's.
EXAMPLES = int(os.environ.get("HYPOTHESIS_EXAMPLES", "300"))
FEN = st.integers(min_value=1, max_value=5_000_000_00)


@st.composite
def payloads(draw: st.DrawFn, earlier: list[str]) -> tuple[str, dict[str, Any]]:
    choice = draw(
        st.sampled_from(["cert", "cert", "invoice", "invoice", "expo", "review", "revoke", "other"])
    )
    item = draw(st.sampled_from(ITEMS))
    if choice == "cert":
        p: dict[str, Any] = {
            "kind": draw(st.sampled_from(KINDS)),
            "itemId": item,
            "certificateId": "C",
            "stage": draw(st.integers(1, 3)),
        }
        if draw(st.booleans()):
            p["approvedAmountFen"] = draw(FEN)
        if draw(st.booleans()):
            p["humanoid"] = True
        return "certificationObtained", p
    if choice == "invoice":
        return "computeInvoiceFiled", {
            "itemId": draw(st.sampled_from(["inv-1", "inv-2", "inv-3", "inv-4"])),
            "amountFen": draw(FEN),
            "modelParamsBillions": draw(st.sampled_from([5, 10, 10.5, 70])),
            "applicationScenarios": draw(st.integers(3, 6)),
        }
    if choice == "expo":
        return "exhibitionHeld", {"itemId": item}
    if choice == "review" and earlier:
        approved = draw(st.booleans())
        return "reviewDecided", {
            "eventRef": draw(st.sampled_from(earlier)),
            "ruleId": draw(st.sampled_from(["m06.exhibition", "m03.national_platform"])),
            "approved": approved,
            **({"approvedAmountFen": draw(FEN)} if approved else {}),
        }
    if choice == "revoke":
        return "certificationRevoked", {"itemId": item, "reason": "revoked"}
    return "otherSupportReceived", {"itemId": item, "program": "p", "amountFen": draw(FEN)}


@st.composite
def streams(draw: st.DrawFn) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for n in range(draw(st.integers(1, 40))):
        payload_type, payload = draw(payloads([e["eventId"] for e in events]))
        events.append(
            {
                "eventId": f"e{n}",
                "source": "prop",
                "enterpriseId": draw(st.sampled_from(ENTERPRISES)),
                "enterpriseName": "测试",
                "district": "WUZHONG",
                "occurredOn": draw(DATES).isoformat(),
                payload_type: payload,
            }
        )
    return events


def run(events: list[dict[str, Any]], ledger: InMemoryLedger) -> list[list[Any]]:
    """Feed events; returns the postings of each."""
    postings = []
    for raw in events:
        try:
            ev = parse_event(raw)
            postings.append(ledger.process(evaluate(ev, CATALOG), ev.content_hash()).postings)
        except (InvalidEvent, LedgerRejection):
            postings.append([])
    return postings


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams())
def test_invariants_hold_for_any_stream(events: list[dict[str, Any]]) -> None:
    ledger = InMemoryLedger()
    postings = [p for batch in run(events, ledger) for p in batch]
    states = ledger.states()

    posted: dict[str, int] = defaultdict(int)
    for p in postings:
        if p.kind in GRANT_ACCOUNT:
            posted[p.entitlement_id] += p.amount_fen
    annual: dict[tuple[str, str, int], int] = defaultdict(int)
    per_item_rule: dict[tuple[str, str, str], int] = defaultdict(int)
    entitled_item_rule: dict[tuple[str, str, str], int] = defaultdict(int)
    item_cap: dict[tuple[str, str, str], int] = {}
    years: dict[tuple[str, str], set[int]] = defaultdict(set)
    for s in states:
        e = s.ent
        # The sum of the entries equals every entitlement's granted amount.
        assert posted[e.entitlement_id] == s.granted_fen
        assert 0 <= s.granted_fen <= s.entitled_fen
        assert s.granted_fen == 0 or s.status in GRANTED
        annual[(e.enterprise_id, e.rule_id, e.year)] += s.granted_fen
        per_item_rule[(e.enterprise_id, e.item_id, e.rule_id)] += s.granted_fen
        entitled_item_rule[(e.enterprise_id, e.item_id, e.rule_id)] += s.entitled_fen
        if e.item_cap_fen is not None:
            # A humanoid unit raises the item cap; the highest cap seen on the item binds.
            key = (e.enterprise_id, e.item_id, e.rule_id)
            item_cap[key] = max(item_cap.get(key, 0), e.item_cap_fen)
        if s.granted_fen:
            years[(e.enterprise_id, e.rule_id)].add(e.year)
    # No cap is ever exceeded.
    for key, cap in item_cap.items():
        assert per_item_rule[key] <= cap
    for (ent_id, rule_id, year), total in annual.items():
        annual_cap = CATALOG.rule(rule_id).annual_cap_fen
        assert annual_cap is None or total <= annual_cap
        # The counters the book keeps equal the sums.
        assert ledger.books[ent_id].annual_used[(rule_id, year)] == total
    for (_, rule_id), ys in years.items():
        limit = CATALOG.rule(rule_id).max_years
        assert limit is None or len(ys) <= limit
    # 就高不重复: at most one rule holds money on an item, never above its best rule.
    by_item: dict[tuple[str, str], list[tuple[str, int]]] = defaultdict(list)
    for (ent_id, item, rule_id), granted in per_item_rule.items():
        if granted:
            by_item[(ent_id, item)].append((rule_id, granted))
    for item_key, held in by_item.items():
        assert len(held) == 1, (item_key, held)
        best = max(v for (e, i, _), v in entitled_item_rule.items() if (e, i) == item_key)
        assert held[0][1] <= best

    # Replaying the stream changes nothing.
    before = [entitlement_view(s) for s in states]
    assert all(not p for p in run(events, ledger))
    assert [entitlement_view(s) for s in ledger.states()] == before
    # And a fresh run reaches the same state.
    again = InMemoryLedger()
    run(events, again)
    assert [entitlement_view(s) for s in again.states()] == before


def test_statuses_cover_the_contract() -> None:
    assert {s.value for s in Status} - {"ELIGIBLE"} == {
        "PAID",
        "PARTIALLY_PAID",
        "DENIED",
        "PENDING_REVIEW",
        "REFERRED",
        "RECORDED",
        "SUPERSEDED",
        "REVOKED",
        "RETRACTED",
    }
