"""The payouts' figures as JSON without a database."""

# The share of an envelope used, rounded down; a state or hold the dashboard does not know yet still
# counted; nothing to read said.

from datetime import UTC, datetime

import pytest

from subsidy.dashboard.payouts import UNAVAILABLE, OrderGroup, PayoutFigures
from subsidy.dashboard.payouts_view import payouts_json, used_percent

AT = datetime(2025, 7, 1, 1, 2, 3, tzinfo=UTC)


@pytest.mark.parametrize(
    ("committed", "envelope", "shown"),
    [
        (0, 0, (None, "—")),
        (5, 0, (None, "—")),
        (0, 10, (0, "0.00%")),
        (1, 3, (3333, "33.33%")),
        (9_999_999, 10_000_000, (9999, "99.99%")),  # never 100% before it is full
        (10, 10, (10_000, "100.00%")),
        (15, 10, (15_000, "150.00%")),
    ],
)
def test_used_percent(committed: int, envelope: int, shown: tuple[int | None, str]) -> None:
    assert used_percent(committed, envelope) == shown


def test_unreadable_payouts_show_nothing() -> None:
    assert payouts_json(UNAVAILABLE) == {"available": False, "disbursement": [], "budget": []}
    assert payouts_json(PayoutFigures(True)) == {
        "available": True, "disbursement": [], "budget": []}  # fmt: skip


def test_unknown_state_and_hold_pass_through() -> None:
    figures = PayoutFigures(True, orders=[
        OrderGroup("市科技局", 2025, "WAITING", "LATER", 2, 300, 0, 0, AT),
        OrderGroup("市科技局", 2025, "CANCELLED", None, 1, 50, 0, 50, AT),
    ])  # fmt: skip
    (row,) = payouts_json(figures)["disbursement"]
    assert row["grantedFen"] == 350
    assert row["waitingFen"] == 300
    assert row["holds"][-1] == {"hold": "LATER", "label": "LATER", "orders": 2,
                                "amountFen": 300, "amount": "¥3.00"}  # fmt: skip
    assert row["updatedAt"] == "2025-07-01T01:02:03+00:00"
    (burn,) = payouts_json(figures)["budget"]
    assert (burn["loaded"], burn["committedFen"], burn["used"]) == (False, 50, "—")
