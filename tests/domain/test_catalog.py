"""The policy catalog: complete, cited verbatim, validated loudly; overlays name what is wrong."""

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from subsidy.domain.catalog import (
    Award,
    CatalogError,
    Rule,
    apply_overlay,
    build_catalog,
    load_catalog,
    raw_catalog,
)

ROOT = Path(__file__).resolve().parents[2]
POLICY_TEXT = (ROOT / "docs/policy/suzhou-embodied-robot-measures-2025.zh.txt").read_text("utf-8")
CATALOG = load_catalog()

# The measures of the policy text, by number: "三、建设高能级创新平台。…" → {3: "三、建设…"}.
NUMERALS = ["一", "二", "三", "四", "五", "六", "七", "八", "九", "十", "十一", "十二"]
MEASURES = {
    NUMERALS.index(m[1]) + 1: m[0]
    for m in re.finditer(r"^(十[一二]?|[一二三四五六七八九])、.*$", POLICY_TEXT, re.M)
}
CLOSING = POLICY_TEXT.strip().splitlines()[-1]

# The rules the platform reads out of the measures' clauses, in catalog order: a rule per
# amount the text gives or defers (m03 names seven platforms, m06 three kinds of support…).
RULE_IDS = (
    "m01.major_project",
    "m02.capacity_expansion",
    "m03.national_platform",
    "m03.provincial_key_lab",
    "m03.provincial_joint_lab",
    "m03.provincial_innovation_center",
    "m03.provincial_engineering_center",
    "m03.provincial_manufacturing_center",
    "m03.municipal_key_lab",
    "m04.key_component_rd",
    "m04.innovation_consortium",
    "m05.service_platform",
    "m06.enterprise_title",
    "m06.exhibition",
    "m06.overseas_expansion",
    "m07.typical_scenario",
    "m08.vertical_llm",
    "m08.compute_voucher",
    "m08.large_model_compute",
    "m09.first_unit",
    "m10.standard",
    "m10.patent",
    "m11.listing",
    "m12.training_base",
    "m12.talent",
)


def test_the_policy_text_has_twelve_measures_and_a_closing_paragraph() -> None:
    assert sorted(MEASURES) == list(range(1, 13))
    assert CLOSING.startswith("本政策自")


def test_the_catalog_has_the_25_rules_of_the_measures_in_order() -> None:
    assert len(RULE_IDS) == 25
    assert tuple(r.id for r in CATALOG.rules) == RULE_IDS
    # Every measure of the text gives at least one rule, and rule ids carry their measure.
    assert sorted({r.measure for r in CATALOG.rules}) == sorted(MEASURES)
    for rule in CATALOG.rules:
        assert rule.id.startswith(f"m{rule.measure:02d}."), rule.id


@pytest.mark.parametrize("rule", CATALOG.rules, ids=lambda r: r.id)
def test_each_clause_is_quoted_verbatim_from_its_measure(rule: Rule) -> None:
    measure = MEASURES[rule.measure]
    assert rule.clause in measure
    # The title starts with the measure's heading: "三、建设高能级创新平台。…" → 建设高能级创新平台
    heading = measure.split("、", 1)[1].split("。", 1)[0]
    assert rule.title.startswith(heading)


def _wan(fen: int) -> str:
    """An amount the way the policy writes it: 2亿元, 2000万元, 50万元."""
    yuan = fen // 100
    return f"{yuan // 10**8}亿元" if yuan % 10**8 == 0 else f"{yuan // 10**4}万元"


def _percent(fraction: Decimal) -> str:
    return f"{fraction * 100:f}".rstrip("0").rstrip(".") + "%"


@pytest.mark.parametrize("rule", CATALOG.rules, ids=lambda r: r.id)
def test_each_figure_of_a_rule_is_in_its_clause(rule: Rule) -> None:
    figures = []
    if rule.ceiling_fen is not None:
        figures.append(_wan(rule.ceiling_fen))
    if rule.item_cap_fen is not None:
        figures.append(_wan(rule.item_cap_fen))
    if rule.annual_cap_fen is not None:
        # m05's is per year by reading (上一年度服务), not by a 每年 in its clause.
        figures.append(_wan(rule.annual_cap_fen))
    if rule.rate is not None:
        figures.append(_percent(rule.rate))
    if rule.max_years is not None:
        figures.append(f"最多{rule.max_years}年")
    if rule.humanoid_uplift is not None:
        figures.append(f"上浮{_percent(rule.humanoid_uplift)}")
    for figure in figures:
        assert figure in rule.clause, figure
    # A rule the text gives no figure for pays none of its own.
    if rule.award in (Award.REFERRED, Award.RECORDED):
        assert figures == []


def test_global_clauses_and_window() -> None:
    assert sorted(CATALOG.global_clauses) == ["G1", "G2", "G3"]
    for clause in CATALOG.global_clauses.values():
        assert clause in CLOSING
    assert (str(CATALOG.valid_from), str(CATALOG.valid_to)) == ("2025-06-01", "2027-12-31")


def test_numbers_match_the_policy_text() -> None:
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
