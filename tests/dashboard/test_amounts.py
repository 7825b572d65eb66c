"""Amounts as the dashboard's cards and tables show them, formatted from integer fen."""

# 万元 from ¥10,000, 亿元 from ¥100,000,000, ¥ below: exact cases, and a property against a second,
# independent implementation on Decimal strings.

from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from subsidy.dashboard.panels_view import money, ticks
from subsidy.domain.money import INT64_MAX, compact, format_fen

EXACT = [
    (0, "¥0.00"),
    (1, "¥0.01"),
    (999_999, "¥9,999.99"),  # one fen under 1万元
    (1_000_000, "1.00万元"),  # ¥10,000
    (1_004_999, "1.00万元"),  # ¥10,049.99: half of 0.01万元 is ¥50
    (1_005_000, "1.01万元"),  # ¥10,050.00: half up
    (123_456_789, "123.46万元"),  # ¥1,234,567.89
    (1_234_567_890, "1,234.57万元"),  # ¥12,345,678.90
    (9_999_999_999, "10,000.00万元"),  # one fen under 1亿元, rounded for display
    (10_000_000_000, "1.00亿元"),
    (1_234_567_890_123, "123.46亿元"),  # ¥12,345,678,901.23
    (-1_000_000, "-1.00万元"),
    (-10_000_000_000, "-1.00亿元"),
    (INT64_MAX, "922,337,203.69亿元"),  # ¥92,233,720,368,547,758.07
]


@pytest.mark.parametrize(("fen", "shown"), EXACT)
def test_exact_cases(fen: int, shown: str) -> None:
    assert compact(fen) == shown


def _second(fen: int) -> str:
    """The same rule written again, on Decimal strings: units chosen by the amount in yuan."""
    yuan = Decimal(fen).scaleb(-2)
    for unit, name in ((Decimal("1E8"), "亿元"), (Decimal("1E4"), "万元")):
        if abs(yuan) >= unit:
            value = (yuan / unit).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
            return f"{value:,.2f}{name}"
    return ("-" if yuan < 0 else "") + f"¥{abs(yuan):,.2f}"


@given(st.integers(min_value=-INT64_MAX, max_value=INT64_MAX))
def test_compact_agrees_with_a_decimal_implementation(fen: int) -> None:
    assert compact(fen) == _second(fen)


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_money_fields_carry_fen_full_and_short(fen: int) -> None:
    assert money("granted", fen) == {
        "grantedFen": fen, "granted": format_fen(fen), "grantedShort": compact(fen),
    }  # fmt: skip


@given(st.integers(min_value=1, max_value=INT64_MAX // 4))
def test_chart_axis_covers_the_highest_month(top: int) -> None:
    axis = ticks(top)
    assert axis[0]["fen"] == 0
    assert axis[-1]["fen"] >= top
    assert len(axis) <= 5  # 0 and at most four steps
    assert axis[-2]["fen"] < top  # no step more than needed
