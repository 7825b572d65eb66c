"""The four-eyes threshold as a catalog term."""

# The policy's default, a rule's own, null, dated values and overlays, and the entitlements that
# carry it to the ledger.

from datetime import date
from typing import Any

import pytest

from subsidy.domain.catalog import CatalogError, apply_overlay, build_catalog, raw_catalog
from subsidy.domain.evaluator import evaluate
from subsidy.domain.events import parse_event
from tests.factories import event


def _threshold(raw: dict[str, Any], rule_id: str, on: date = date(2025, 7, 1)) -> int | None:
    return build_catalog(raw).at(on).rule(rule_id).second_review_from_fen


def test_review_rules_take_the_policys_default_and_other_rules_have_none() -> None:
    raw = raw_catalog()
    assert raw["policy"]["second_review_from_yuan"] == 1_000_000
    catalog = build_catalog(raw)
    reviewed = {r.id: r.second_review_from_fen for r in catalog.rules if r.award.value == "review"}
    assert reviewed == dict.fromkeys(
        ("m03.national_platform", "m05.service_platform", "m06.exhibition"), 100_000_000
    )
    assert all(r.second_review_from_fen is None for r in catalog.rules if r.id not in reviewed)


def test_a_rule_may_set_its_own_or_null_and_an_overlay_may_change_it() -> None:
    raw = raw_catalog()
    rules = {r["id"]: r for r in raw["rules"]}
    rules["m06.exhibition"]["second_review_from_yuan"] = 500_000
    rules["m05.service_platform"]["second_review_from_yuan"] = None
    assert _threshold(raw, "m06.exhibition") == 50_000_000
    assert _threshold(raw, "m05.service_platform") is None
    change = {"m06.exhibition": {"second_review_from_yuan": 2_000_000}}
    later = apply_overlay(raw, {"effective_from": "2026-01-01", "rules": change})
    assert _threshold(later, "m06.exhibition") == 50_000_000
    assert _threshold(later, "m06.exhibition", date(2026, 1, 1)) == 200_000_000


def test_the_policys_default_may_be_dated() -> None:
    raw = raw_catalog()
    raw["policy"]["second_review_from_yuan"] = {"values": {"2025-06-01": 1_000_000,
                                                          "2026-07-01": 300_000}}  # fmt: skip
    assert _threshold(raw, "m03.national_platform", date(2026, 6, 30)) == 100_000_000
    assert _threshold(raw, "m03.national_platform", date(2026, 7, 1)) == 30_000_000


@pytest.mark.parametrize("value", [0, -5, "lots", True])
def test_a_bad_threshold_is_refused_naming_the_key(value: object) -> None:
    raw = raw_catalog()
    raw["policy"]["second_review_from_yuan"] = value
    with pytest.raises(CatalogError, match="policy: key 'second_review_from_yuan'"):
        build_catalog(raw)
    raw = raw_catalog()
    raw["rules"][2]["second_review_from_yuan"] = value
    with pytest.raises(CatalogError, match=f"rule {raw['rules'][2]['id']}: key 'second_review"):
        build_catalog(raw)


def test_the_entitlement_carries_the_threshold() -> None:
    catalog = build_catalog(raw_catalog())
    ev = parse_event(event("exhibitionHeld", {"itemId": "expo-1"}))
    (ent,) = evaluate(ev, catalog).entitlements
    assert ent.second_review_from_fen == 100_000_000
