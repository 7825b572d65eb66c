"""The policy catalog: complete, cited verbatim, validated loudly; overlays name what is wrong."""

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from subsidy.domain.catalog import Award, CatalogError, apply_overlay, build_catalog, load_catalog

SHARED = Path(__file__).resolve().parents[3] / "shared"
POLICY_TEXT = (SHARED / "policy/suzhou-embodied-robot-measures-2025.zh.txt").read_text("utf-8")
SPEC = (SHARED / "spec/policy-rules.md").read_text("utf-8")
CATALOG = load_catalog()


def raw_catalog() -> dict[str, Any]:
    from importlib import resources

    text = resources.files("subsidy.eligibility").joinpath("catalog.yaml").read_text("utf-8")
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


def test_every_spec_rule_is_in_the_catalog_in_spec_order() -> None:
    spec_ids = re.findall(r"^\| (m\d\d\.[a-z_]+) \|", SPEC, re.M)
    assert [r.id for r in CATALOG.rules] == spec_ids


@pytest.mark.parametrize("rule", CATALOG.rules, ids=lambda r: r.id)
def test_each_clause_is_quoted_verbatim_from_the_policy(rule: Any) -> None:
    assert rule.clause in POLICY_TEXT


def test_global_clauses_and_window() -> None:
    for clause in CATALOG.global_clauses.values():
        assert clause in POLICY_TEXT
    assert (str(CATALOG.valid_from), str(CATALOG.valid_to)) == ("2025-06-01", "2027-12-31")


def test_numbers_match_the_spec() -> None:
    fen = {r.id: r.ceiling_fen for r in CATALOG.rules}
    assert fen["m03.provincial_key_lab"] == 20_000_000_00
    assert fen["m03.provincial_innovation_center"] == 10_000_000_00
    assert fen["m09.first_unit"] == 1_000_000_00
    voucher = CATALOG.rule("m08.compute_voucher")
    assert (str(voucher.rate), voucher.annual_cap_fen) == ("0.20", 2_000_000_00)
    large = CATALOG.rule("m08.large_model_compute")
    assert (str(large.rate), large.annual_cap_fen, large.max_years) == ("0.50", 3_000_000_00, 3)
    assert CATALOG.rule("m03.national_platform").item_cap_fen == 200_000_000_00
    assert CATALOG.rule("m05.service_platform").item_cap_fen is None
    assert CATALOG.rule("m05.service_platform").annual_cap_fen == 2_000_000_00
    assert CATALOG.rule("m07.typical_scenario").award is Award.RECORDED


def test_version_changes_with_content() -> None:
    changed = build_catalog(apply_overlay(raw_catalog(), {"valid_to": "2028-12-31"}))
    assert changed.version != CATALOG.version
    assert build_catalog(raw_catalog()).version == CATALOG.version


@pytest.mark.parametrize(
    ("overlay", "message"),
    [
        ({"rules": {"m99.nothing": {"rate": "0.1"}}}, "unknown rule id 'm99.nothing'"),
        (
            {"rules": {"m08.compute_voucher": {"colour": 1}}},
            "rule m08.compute_voucher: unknown key 'colour'",
        ),
        ({"rules": {"m08.compute_voucher": {"rate": "2"}}}, "rule m08.compute_voucher: key 'rate'"),
        (
            {"rules": {"m03.municipal_key_lab": {"ceiling_yuan": -5}}},
            "rule m03.municipal_key_lab: key 'ceiling_yuan'",
        ),
        ({"rules": {"m09.first_unit": {"award": "lottery"}}}, "rule m09.first_unit: key 'award'"),
        ({"valid_to": "someday"}, "valid_to"),
        ({"valid_to": "2025-01-01"}, "valid_to"),
        ({"surprise": True}, "unknown key 'surprise'"),
    ],
)
def test_overlay_errors_name_the_rule_and_key(overlay: dict[str, Any], message: str) -> None:
    with pytest.raises(CatalogError, match=re.escape(message)):
        build_catalog(apply_overlay(raw_catalog(), overlay))


def test_catalog_errors_name_the_rule_and_key() -> None:
    raw = raw_catalog()
    raw["rules"][3]["ceiling_yuan"] = "lots"
    with pytest.raises(CatalogError, match=r"rule m03\.provincial_key_lab: key 'ceiling_yuan'"):
        build_catalog(raw)
    raw = raw_catalog()
    del raw["rules"][0]["clause"]
    with pytest.raises(CatalogError, match=r"rule m01\.major_project: key 'clause' is required"):
        build_catalog(raw)


def test_overlay_file_is_read(tmp_path: Path) -> None:
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text("rules:\n  m06.enterprise_title:\n    ceiling_yuan: 300000\n", "utf-8")
    catalog = load_catalog(overlay=overlay)
    title = catalog.rule("m06.enterprise_title")
    assert (title.award, title.ceiling_fen) == (Award.CEILING, 300_000_00)
