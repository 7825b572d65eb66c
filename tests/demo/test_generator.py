"""The demo generator: seeded, realistic, covering every rule, about 1% malformed."""

import json
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path
from typing import Any

from subsidy.demo.generator import generate
from subsidy.domain.catalog import Award, load_catalog
from subsidy.domain.events import InvalidEvent, parse_event_json
from subsidy.domain.simulate import simulate

SAMPLE = Path(__file__).resolve().parents[2] / "data/sample-events.jsonl"


def test_checked_in_sample_is_the_generators_output() -> None:
    lines = SAMPLE.read_text("utf-8").splitlines()
    assert lines == list(generate(400, 7))
    assert 2_000 <= len(lines) <= 6_000


def test_same_seed_same_events_other_seed_other_events() -> None:
    assert list(generate(50, 1)) == list(generate(50, 1))
    assert list(generate(50, 1)) != list(generate(50, 2))


def test_sample_covers_every_rule_district_status_and_window_edge() -> None:
    catalog = load_catalog()
    result = simulate(SAMPLE.read_text("utf-8").splitlines(), catalog).to_contract()
    rules = Counter(e["ruleId"] for e in result["entitlements"])
    assert set(rules) == {r.id for r in catalog.rules}
    statuses = {e["status"] for e in result["entitlements"]}
    assert statuses == {
        "PAID",
        "PARTIALLY_PAID",
        "DENIED",
        "PENDING_REVIEW",
        "REFERRED",
        "RECORDED",
        "SUPERSEDED",
        "REVOKED",
    }
    reasons = {r for e in result["entitlements"] for r in e["reasons"]}
    assert {
        "OUTSIDE_WINDOW",
        "ANNUAL_CAP",
        "DUPLICATE_LOWER",
        "OTHER_SUPPORT",
        "REVIEW_REJECTED",
        "CEILING_CLIPPED",
    } <= reasons
    years = {e["year"] for e in result["entitlements"]}
    assert years == {2025, 2026, 2027, 2028}


def test_about_one_percent_is_malformed() -> None:
    lines = list(generate(1_000, 3))
    bad = 0
    districts = set()
    for line in lines:
        try:
            districts.add(parse_event_json(line).district)
        except InvalidEvent:
            bad += 1
    assert 0.005 <= bad / len(lines) <= 0.02
    assert len(districts) == 10
    assert all(json.loads(lines[0]))


def _events(lines: list[str]) -> list[dict[str, Any]]:
    """The lines that are valid events, as dicts."""
    found = []
    for line in lines:
        try:
            parse_event_json(line)
        except InvalidEvent:
            continue
        found.append(json.loads(line))
    return found


def test_the_portal_registers_accounts_and_objects_to_a_few_reviewed_awards() -> None:
    lines = SAMPLE.read_text("utf-8").splitlines()
    events = _events(lines)
    catalog = load_catalog()
    facts: dict[str, list[str]] = defaultdict(list)
    payees: dict[str, list[dict[str, Any]]] = defaultdict(list)
    approved: dict[str, str] = {}  # entitlement → the day of its last approving review
    for e in events:
        if "payeeAccountRegistered" in e:
            payees[e["enterpriseId"]].append(e)
            assert e["payeeAccountRegistered"]["accountName"] == e["enterpriseName"]
            assert len(e["payeeAccountRegistered"]["accountNumber"]) == 19
        elif "objectionFiled" not in e:
            facts[e["enterpriseId"]].append(e["occurredOn"])
        review = e.get("reviewDecided")
        if review and review["approved"]:
            approved[f"{review['eventRef']}/{review['ruleId']}"] = e["occurredOn"]
    assert {e["source"] for es in payees.values() for e in es} == {"sz-gov-service-portal"}
    assert 0.88 <= len(payees) / len(facts) <= 0.96
    for enterprise, registered in payees.items():
        assert registered[0]["occurredOn"] <= min(facts[enterprise])
    changed = [es for es in payees.values() if len({e["eventId"] for e in es}) > 1]
    assert 0.01 <= len(changed) / len(payees) <= 0.05
    assert all(es[0]["occurredOn"] < es[-1]["occurredOn"] for es in changed)
    objections = [e for e in events if "objectionFiled" in e]
    assert 3 <= len(objections) <= 8
    review_rules = {r.id for r in catalog.rules if r.award is Award.REVIEW}
    for e in objections:
        o = e["objectionFiled"]
        assert o["ruleId"] in review_rules
        day = date.fromisoformat(approved[f"{o['eventRef']}/{o['ruleId']}"])
        assert 1 <= (date.fromisoformat(e["occurredOn"]) - day).days <= 6
    # The ledger takes every one of them (no rejection names a portal event but a broken line).
    result = simulate(lines, catalog).to_contract()
    portal = {e["eventId"] for e in objections}
    portal |= {e["eventId"] for es in payees.values() for e in es}
    assert not portal & {r["eventId"] for r in result["rejectedEvents"]}
