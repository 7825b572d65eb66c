"""Policy versions by effective date."""

# Dated values and dated overlays, each event judged by the version in force on its date, and the
# ledger's recheck of what eligibility sent.

import dataclasses
from datetime import date
from typing import Any

import pytest

from subsidy.domain.catalog import (
    CatalogError,
    apply_overlay,
    build_catalog,
    load_catalog,
    raw_catalog,
)
from subsidy.domain.evaluator import evaluate
from subsidy.domain.events import parse_event
from subsidy.domain.recheck import PolicyMismatch, recheck
from subsidy.domain.simulate import simulate
from tests.factories import event, jsonl

YUAN = 100
VOUCHER = "m08.compute_voucher"
RAISED = {"effective_from": "2026-07-01", "rules": {VOUCHER: {"annual_cap_yuan": 3_000_000}}}


def _with_dated_cap() -> dict[str, Any]:
    raw: dict[str, Any] = raw_catalog()
    (rule,) = [r for r in raw["rules"] if r["id"] == VOUCHER]
    rule["annual_cap_yuan"] = {"values": {"2025-06-01": 2_000_000, "2026-07-01": 3_000_000}}
    return raw


def test_a_dated_value_makes_two_versions_each_in_force_over_its_days() -> None:
    policy = build_catalog(_with_dated_cap())
    first, second = policy.timeline
    assert (first.effective_from, first.effective_to) == (date.min, date(2026, 6, 30))
    assert (second.effective_from, second.effective_to) == (date(2026, 7, 1), date.max)
    assert policy.at(date(2026, 6, 30)).rule(VOUCHER).annual_cap_fen == 2_000_000 * YUAN
    assert policy.at(date(2026, 7, 1)).rule(VOUCHER).annual_cap_fen == 3_000_000 * YUAN
    assert policy.at(date(2025, 1, 1)) is first  # before the window: the window then says no
    assert len({first.version, second.version, policy.version}) == 3
    assert policy.holds(second.version)
    # The first version has the terms of the packaged policy: it is the same version, so a
    # ledger that holds the new document agrees with an eligibility still on the old one.
    assert first.version == load_catalog().version
    assert policy.holds(load_catalog().version)


def test_an_overlay_with_an_effective_date_is_the_same_versions_as_dated_values() -> None:
    by_overlay = build_catalog(apply_overlay(raw_catalog(), RAISED))
    by_values = build_catalog(_with_dated_cap())
    assert [v.version for v in by_overlay.timeline] == [v.version for v in by_values.timeline]
    # The first version is the policy as it was: the same rules, only its span is bounded.
    assert by_overlay.timeline[0].rules == load_catalog().rules


def test_an_undated_policy_is_one_version_as_before() -> None:
    policy = load_catalog()
    assert policy.timeline == (policy,)
    assert policy.at(date(2026, 7, 1)) is policy


def test_events_before_and_after_are_judged_by_their_own_version() -> None:
    policy = build_catalog(apply_overlay(raw_catalog(), RAISED))
    events = [
        event("computeInvoiceFiled", {"itemId": "inv-1", "amountFen": 15_000_000 * YUAN},
              eventId="i1", occurredOn="2026-03-01"),  # 3,000,000 asked, cap 2,000,000
        event("computeInvoiceFiled", {"itemId": "inv-2", "amountFen": 5_000_000 * YUAN},
              eventId="i2", occurredOn="2026-08-01"),  # 1,000,000 asked, cap now 3,000,000
    ]  # fmt: skip
    result = simulate(jsonl(events), policy)
    views = {e["entitlementId"]: e for e in result.to_contract()["entitlements"]}
    assert (views[f"i1/{VOUCHER}"]["status"], views[f"i1/{VOUCHER}"]["grantedFen"]) == (
        "PARTIALLY_PAID",
        2_000_000 * YUAN,
    )
    assert (views[f"i2/{VOUCHER}"]["status"], views[f"i2/{VOUCHER}"]["grantedFen"]) == (
        "PAID",
        1_000_000 * YUAN,
    )
    states = {s.ent.entitlement_id: s.ent for s in result.ledger.states()}
    before, after = states[f"i1/{VOUCHER}"], states[f"i2/{VOUCHER}"]
    assert before.catalog_version == policy.timeline[0].version
    assert (before.version_from, before.version_to) == (None, date(2026, 6, 30))
    assert after.catalog_version == policy.timeline[1].version
    assert (after.version_from, after.version_to) == (date(2026, 7, 1), None)
    # Under the old policy alone the second would have found no room left.
    old = simulate(jsonl(events), load_catalog()).to_contract()["entitlements"]
    assert {e["entitlementId"]: e["status"] for e in old}[f"i2/{VOUCHER}"] == "DENIED"


def test_a_window_extended_from_a_date_counts_later_events_only_under_the_new_version() -> None:
    policy = build_catalog(
        apply_overlay(raw_catalog(), {"effective_from": "2027-06-01", "valid_to": "2028-12-31"})
    )
    lab = {"kind": "MUNICIPAL_KEY_LAB", "certificateId": "C"}
    events = [
        event("certificationObtained", {**lab, "itemId": "lab-1"}, eventId="k1",
              occurredOn="2028-03-01"),
        event("certificationObtained", {**lab, "itemId": "lab-2"}, eventId="k2",
              occurredOn="2027-03-01"),
    ]  # fmt: skip
    views = {
        e["entitlementId"]: e["status"]
        for e in simulate(jsonl(events), policy).to_contract()["entitlements"]
    }
    assert views == {"k1/m03.municipal_key_lab": "PAID", "k2/m03.municipal_key_lab": "PAID"}
    assert policy.at(date(2027, 3, 1)).valid_to == date(2027, 12, 31)
    assert policy.at(date(2028, 3, 1)).valid_to == date(2028, 12, 31)


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"values": {"not-a-date": 1}}, "rule m08.compute_voucher: key 'annual_cap_yuan'"),
        ({"values": {}}, "rule m08.compute_voucher: key 'annual_cap_yuan'"),
        ({"values": {"2026-07-01": -5}}, "rule m08.compute_voucher: key 'annual_cap_yuan'"),
    ],
)
def test_bad_dated_values_are_refused_naming_the_rule_and_key(values: Any, named: str) -> None:
    raw = raw_catalog()
    (rule,) = [r for r in raw["rules"] if r["id"] == VOUCHER]
    rule["annual_cap_yuan"] = values
    with pytest.raises(CatalogError, match=named):
        build_catalog(raw)


def test_a_bad_effective_date_is_refused() -> None:
    with pytest.raises(CatalogError, match="overlay: key 'effective_from'"):
        apply_overlay(raw_catalog(), {"effective_from": "July", "rules": {}})


def _invoice_evaluation(policy: Any) -> Any:
    raw = event("computeInvoiceFiled", {"itemId": "inv-9", "amountFen": 1_000_000 * YUAN},
                occurredOn="2026-08-01")  # fmt: skip
    return evaluate(parse_event(raw), policy)


def test_the_ledger_takes_an_evaluation_that_follows_from_its_policy() -> None:
    policy = build_catalog(apply_overlay(raw_catalog(), RAISED))
    evaluation = _invoice_evaluation(policy)
    assert recheck(evaluation, policy) is evaluation


def test_the_ledger_refuses_an_evaluation_under_a_version_it_does_not_hold() -> None:
    raised = build_catalog(apply_overlay(raw_catalog(), RAISED))
    with pytest.raises(PolicyMismatch, match=r"catalog_version: .*\(not held here\)"):
        recheck(_invoice_evaluation(raised), load_catalog())


def test_the_ledger_refuses_an_entitlement_the_policy_does_not_give() -> None:
    policy = load_catalog()
    evaluation = _invoice_evaluation(policy)
    forged = dataclasses.replace(evaluation.entitlements[0], entitled_fen=10**12,
                                 annual_cap_fen=None)  # fmt: skip
    minted = dataclasses.replace(evaluation, entitlements=(forged,))
    with pytest.raises(PolicyMismatch, match=rf"entitlements\[.*/{VOUCHER}\]: entitled_fen"):
        recheck(minted, policy)
    extra = dataclasses.replace(
        forged, entitlement_id=f"{forged.event_id}/m08.large_model_compute",
        rule_id="m08.large_model_compute",
    )  # fmt: skip
    invented = dataclasses.replace(evaluation, entitlements=(*evaluation.entitlements, extra))
    with pytest.raises(PolicyMismatch, match=r"entitlements: \[.*\] sent, the policy gives"):
        recheck(invented, policy)
