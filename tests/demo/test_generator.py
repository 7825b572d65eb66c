"""The demo generator: seeded, realistic, covering every rule, about 1% malformed."""

import json
from collections import Counter
from pathlib import Path

from subsidy.demo.generator import generate
from subsidy.domain.catalog import load_catalog
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
