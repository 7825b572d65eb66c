"""The casebook (tests/casebook/*.yaml)."""

# Every rule of the catalog, events in, entitlements out, on both ledgers (`subsidy simulate`'s in
# memory and the ledger service's in PostgreSQL).

from pathlib import Path
from typing import Any

import pytest
import yaml

from subsidy.domain.catalog import apply_overlay, build_catalog
from tests.factories import event, jsonl
from tests.ledger_rules.backends import Backend

CASEBOOK = Path(__file__).resolve().parent.parent / "casebook"
CATALOG = Path(__file__).resolve().parents[2] / "src/subsidy/domain/policy/catalog.yaml"


def _cases() -> list[dict[str, Any]]:
    cases = []
    for path in sorted(CASEBOOK.glob("*.yaml")):
        cases.extend(yaml.safe_load(path.read_text("utf-8")))
    return cases


CASES = _cases()


# Top-level fields that are mappings but no payload.
_NOT_PAYLOAD = {"submittedBy"}


def _build(raw_event: dict[str, Any]) -> dict[str, Any]:
    top = {
        k: v
        for k, v in raw_event.items()
        if k[0].islower() and (not isinstance(v, dict) or k in _NOT_PAYLOAD)
    }
    payloads = {k: v for k, v in raw_event.items() if isinstance(v, dict) and k not in top}
    ((payload_type, payload),) = payloads.items()
    return event(payload_type, payload, **top)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
async def test_case(case: dict[str, Any], backend: Backend) -> None:
    raw = yaml.safe_load(CATALOG.read_text("utf-8"))
    catalog = build_catalog(apply_overlay(raw, case.get("overlay")))
    result = await backend.run(jsonl([_build(e) for e in case["events"]]), catalog)
    assert result["rejectedEvents"] == case.get("rejected", [])
    assert result["parkedEvents"] == case.get("parked", [])
    got = {e["entitlementId"]: e for e in result["entitlements"]}
    want = {e["entitlementId"]: e for e in case["expect"]}
    assert sorted(got) == sorted(want)
    for eid, expected in want.items():
        actual = {k: got[eid][k] for k in expected}
        assert actual == expected, eid


def test_every_rule_of_the_catalog_has_a_case() -> None:
    rules = {r.id for r in build_catalog(yaml.safe_load(CATALOG.read_text("utf-8"))).rules}
    assert len(rules) == 25
    covered = {e["entitlementId"].split("/", 1)[1] for c in CASES for e in c["expect"]}
    assert rules - covered == set()
