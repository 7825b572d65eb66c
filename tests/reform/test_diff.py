"""The reform comparison on small histories with numbers worked out by hand."""

# A higher rate or cap for the compute voucher, an amount for a referred rule, a moved validity
# window; and the input it refuses, named by file and key.

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from subsidy.reform.diff import Cost
from subsidy.reform.history import read_events_file, read_lines
from subsidy.reform.policy import Change, ReformInputError, load_policies
from subsidy.reform.report import ReformReport, build_report
from tests.factories import enterprise_id, event, jsonl

YUAN = 100
WAN = 10_000 * YUAN
A, B, C = enterprise_id(701), enterprise_id(702), enterprise_id(703)
VOUCHER_UNITS = ("市工信局", "市发改委", "市数据局")  # m08.compute_voucher's 责任单位


def _invoice(eid: str, enterprise: str, district: str, day: str, yuan: int) -> dict[str, Any]:
    # 5 billion parameters, 2 scenarios: the compute voucher alone (not the large-model rule).
    return event(
        "computeInvoiceFiled",
        {"itemId": f"inv-{eid}", "amountFen": yuan * YUAN, "modelParamsBillions": 5,
         "applicationScenarios": 2},
        eventId=eid, enterpriseId=enterprise, district=district, occurredOn=day,
        enterpriseName=f"苏州{district}机器人有限公司",
    )  # fmt: skip


# A: one invoice of 1,000,000 yuan (2025). B: two invoices of 6,000,000 yuan in 2026, which
# meet the voucher's annual cap of 2,000,000 yuan at 20%: 1,200,000 paid, then 800,000.
HISTORY = [
    _invoice("a-1", A, "SIP", "2025-07-01", 1_000_000),
    _invoice("b-1", B, "KUNSHAN", "2026-03-01", 6_000_000),
    _invoice("b-2", B, "KUNSHAN", "2026-04-01", 6_000_000),
]


def _report(tmp_path: Path, overlay: dict[str, Any], events: list[dict[str, Any]]) -> ReformReport:
    path = tmp_path / "reform.yaml"
    path.write_text(yaml.safe_dump(overlay, allow_unicode=True), "utf-8")
    history = read_lines(jsonl(events), "events-file", "test")
    return build_report(load_policies(path), history, datetime(2026, 1, 2, 1, 30, tzinfo=UTC))


def _by_key(rows: tuple[Cost, ...]) -> dict[str, tuple[int, int]]:
    return {r.key: (r.baseline_fen, r.reform_fen) for r in rows}


def test_a_higher_rate_pays_more_until_the_annual_cap(tmp_path: Path) -> None:
    report = _report(tmp_path, {"rules": {"m08.compute_voucher": {"rate": "0.30"}}}, HISTORY)
    c = report.comparison
    # Baseline 200,000 + 2,000,000; reform 300,000 + (1,800,000 + 200,000): B stays at its cap.
    assert (c.total.baseline_fen, c.total.reform_fen) == (220 * WAN, 230 * WAN)
    assert c.total.delta_fen == 10 * WAN
    assert _by_key(c.by_measure) == {"8": (220 * WAN, 230 * WAN)}
    assert _by_key(c.by_district) == {
        "SIP": (20 * WAN, 30 * WAN),
        "KUNSHAN": (200 * WAN, 200 * WAN),
    }
    assert _by_key(c.by_year) == {"2025": (20 * WAN, 30 * WAN), "2026": (200 * WAN, 200 * WAN)}
    # Each responsible unit carries the payout in full (the policy names no split).
    assert _by_key(c.by_channel) == dict.fromkeys(VOUCHER_UNITS, (220 * WAN, 230 * WAN))
    assert [(e.enterprise_id, e.delta_fen) for e in c.enterprises] == [(A, 10 * WAN)]
    changes = {e.entitlement_id: e for e in c.entitlements}
    assert set(changes) == {"a-1/m08.compute_voucher", "b-1/m08.compute_voucher",
                            "b-2/m08.compute_voucher"}  # fmt: skip
    b1, b2 = changes["b-1/m08.compute_voucher"], changes["b-2/m08.compute_voucher"]
    assert (b1.baseline_fen, b1.reform_fen, b1.status_changed) == (120 * WAN, 180 * WAN, False)
    assert b2.baseline
    assert b2.reform
    assert (b2.baseline.status, b2.reform.status) == ("PARTIALLY_PAID", "PARTIALLY_PAID")
    assert (b2.baseline_fen, b2.reform_fen) == (80 * WAN, 20 * WAN)
    assert b2.reform.reasons == ("ANNUAL_CAP",)
    # Largest change first: b-1 and b-2 move by 600,000 each, a-1 by 100,000.
    assert [e.entitlement_id[:3] for e in c.entitlements] == ["b-1", "b-2", "a-1"]
    assert c.transitions == ()
    assert report.policies.changes == (Change("m08.compute_voucher", "rate", "0.20", "0.30"),)


def test_a_higher_cap_turns_a_partial_payment_into_a_full_one(tmp_path: Path) -> None:
    overlay = {"rules": {"m08.compute_voucher": {"annual_cap_yuan": 3_000_000}}}
    c = _report(tmp_path, overlay, HISTORY).comparison
    # B: 1,200,000 + 1,200,000 under a 3,000,000 cap; A unchanged.
    assert (c.total.baseline_fen, c.total.reform_fen) == (220 * WAN, 260 * WAN)
    assert [(e.enterprise_id, e.baseline_fen, e.reform_fen) for e in c.enterprises] == [
        (B, 200 * WAN, 240 * WAN)
    ]
    (change,) = c.entitlements
    assert change.entitlement_id == "b-2/m08.compute_voucher"
    assert change.status_changed
    assert change.baseline
    assert change.reform
    assert (change.baseline.status, change.reform.status) == ("PARTIALLY_PAID", "PAID")
    assert change.delta_fen == 40 * WAN
    assert c.transitions == (("PARTIALLY_PAID", "PAID", 1),)
    assert (c.total.baseline_paid, c.total.reform_paid) == (3, 3)


def test_a_referred_rule_given_an_amount_pays_it(tmp_path: Path) -> None:
    standard = event(
        "standardPublished", {"itemId": "std-1", "level": "NATIONAL", "role": "LEAD"},
        eventId="c-1", enterpriseId=C, district="WUZHONG", occurredOn="2026-05-01",
    )  # fmt: skip
    report = _report(tmp_path, {"rules": {"m10.standard": {"ceiling_yuan": 500_000}}},
                     [*HISTORY, standard])  # fmt: skip
    c = report.comparison
    assert c.total.delta_fen == 50 * WAN
    assert _by_key(c.by_measure)["10"] == (0, 50 * WAN)
    assert _by_key(c.by_channel)["市市场监管局"] == (0, 50 * WAN)
    assert _by_key(c.by_district)["WUZHONG"] == (0, 50 * WAN)
    (change,) = c.entitlements
    assert change.baseline
    assert change.reform
    assert (change.baseline.status, change.reform.status) == ("REFERRED", "PAID")
    assert (change.baseline_fen, change.reform_fen) == (0, 50 * WAN)
    assert c.transitions == (("REFERRED", "PAID", 1),)
    assert [(e.enterprise_id, e.delta_fen) for e in c.enterprises] == [(C, 50 * WAN)]
    # The referred rule becomes a ceiling rule, with the ceiling as its item cap.
    assert {(ch.key, ch.baseline, ch.reform) for ch in report.policies.changes} == {
        ("award", "referred", "ceiling"),
        ("ceiling_yuan", "—", "¥500,000"),
        ("item_cap_yuan", "—", "¥500,000"),
    }


def test_a_moved_window_pays_earlier_events_and_denies_later_ones(tmp_path: Path) -> None:
    early = _invoice("d-1", A, "SIP", "2025-04-01", 500_000)  # before 2025-06-01
    late = _invoice("d-2", C, "GUSU", "2027-09-01", 1_000_000)  # after the new end
    overlay = {"valid_from": "2025-01-01", "valid_to": "2026-12-31"}
    report = _report(tmp_path, overlay, [*HISTORY, early, late])
    c = report.comparison
    assert (c.total.baseline_fen, c.total.reform_fen) == (240 * WAN, 230 * WAN)
    assert _by_key(c.by_year) == {
        "2025": (20 * WAN, 30 * WAN),
        "2026": (200 * WAN, 200 * WAN),
        "2027": (20 * WAN, 0),
    }
    changes = {e.entitlement_id: e for e in c.entitlements}
    assert set(changes) == {"d-1/m08.compute_voucher", "d-2/m08.compute_voucher"}
    d1, d2 = changes["d-1/m08.compute_voucher"], changes["d-2/m08.compute_voucher"]
    assert d1.baseline
    assert d1.reform
    assert d2.baseline
    assert d2.reform
    assert (d1.baseline.status, d1.baseline.reasons) == ("DENIED", ("OUTSIDE_WINDOW",))
    assert (d1.reform.status, d1.reform_fen) == ("PAID", 10 * WAN)
    assert (d2.baseline.status, d2.baseline_fen) == ("PAID", 20 * WAN)
    assert (d2.reform.status, d2.reform.reasons) == ("DENIED", ("OUTSIDE_WINDOW",))
    assert [(e.enterprise_id, e.delta_fen) for e in c.enterprises] == [
        (C, -20 * WAN),
        (A, 10 * WAN),
    ]
    assert sorted(c.transitions) == [("DENIED", "PAID", 1), ("PAID", "DENIED", 1)]
    assert [(ch.rule_id, ch.key, ch.baseline, ch.reform) for ch in report.policies.changes] == [
        (None, "valid_from", "2025-06-01", "2025-01-01"),
        (None, "valid_to", "2027-12-31", "2026-12-31"),
    ]


def test_bad_lines_are_listed_and_the_rest_compared(tmp_path: Path) -> None:
    lines = [*jsonl(HISTORY[:1]), "{not json", "", '{"eventId": "x-1", "source": "s"}']
    history = read_lines(lines, "events-file", "test")
    assert len(history.lines) == 1
    assert [(b.line, b.event_id) for b in history.bad] == [(2, None), (4, "x-1")]
    assert "not valid JSON" in history.bad[0].error
    assert "payload" in history.bad[1].error
    path = tmp_path / "reform.yaml"
    path.write_text("rules: {m08.compute_voucher: {rate: '0.30'}}\n", "utf-8")
    report = build_report(load_policies(path), history, datetime.now(UTC))
    assert report.comparison.total.delta_fen == 10 * WAN


def test_an_overlay_that_changes_nothing_changes_nothing(tmp_path: Path) -> None:
    report = _report(tmp_path, {"rules": {}}, HISTORY)
    c = report.comparison
    assert c.total.delta_fen == 0
    assert (c.enterprises, c.entitlements, report.policies.changes) == ((), (), ())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rules: {m08.compute_voucher: {ratee: '0.3'}}", "unknown key 'ratee'"),
        ("rules: {m99.nothing: {rate: '0.3'}}", "unknown rule id 'm99.nothing'"),
        ("valid_until: 2030-01-01", "unknown key 'valid_until'"),
        ("rules: {m08.compute_voucher: {rate: 3}}", "key 'rate': must be a decimal in (0, 1]"),
        ("rules: {m08.compute_voucher: {annual_cap_yuan: -5}}", "key 'annual_cap_yuan'"),
        ("rules: [m08.compute_voucher]", "'rules' must map rule ids to changes"),
        ("rules: {m08.compute_voucher: {rate: '0.3'}\n", "not valid YAML at line 2"),
        ("- just\n- a list\n", "overlay: must be a mapping"),
    ],
    ids=["unknown-key", "unknown-rule", "unknown-top-key", "rate-out-of-range", "negative-cap",
         "rules-not-mapping", "malformed-yaml", "not-a-mapping"],
)  # fmt: skip
def test_a_bad_overlay_is_named_by_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, "utf-8")
    with pytest.raises(ReformInputError) as err:
        load_policies(path)
    assert str(err.value).startswith(f"reform overlay {path}: ")
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(ReformInputError, match=r"reform overlay .*nope\.yaml: no such file"):
        load_policies(tmp_path / "nope.yaml")
    with pytest.raises(ReformInputError, match=r"events file .*none\.jsonl: no such file"):
        read_events_file(tmp_path / "none.jsonl")
