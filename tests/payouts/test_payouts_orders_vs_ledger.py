"""Every payment order must be one the ledger's decisions make: checked by reconcile and verify."""

# The payouts' own login may UPDATE payment_orders (it moves them on). Used by a hostile holder,
# it raises a waiting order's amount, or moves it to another enterprise, before the order takes
# its budget: the accounts, the batch line and the order then agree with each other, and only the
# ledger's decisions show that the money is not owed. `subsidy payouts reconcile` and `ledger
# verify` must name it before the bank is paid.

import asyncio
import os
from pathlib import Path

import pytest

from tests.ledger.database import as_role
from tests.ledger.events import YUAN
from tests.payouts.desk_setup import ACME, BETA, EVENTS, decide, owner_sql, subsidy

pytestmark = pytest.mark.postgres

INFLATE = f"""
UPDATE payment_orders SET amount_fen = amount_fen + {1_000_000 * YUAN}
WHERE order_id = (SELECT order_id FROM payment_orders WHERE enterprise_id = '{ACME}'
                  ORDER BY seq DESC LIMIT 1)
"""
# BETA's award, waiting for BETA's account, moved to ACME, whose account is registered.
REDIRECT = f"UPDATE payment_orders SET enterprise_id = '{ACME}' WHERE enterprise_id = '{BETA}'"


@pytest.mark.parametrize("tamper", [INFLATE, REDIRECT], ids=["inflated", "redirected"])
def test_an_order_changed_behind_the_ledger_is_named(
    payouts_schema: tuple[str, str], tmp_path: Path, tamper: str
) -> None:
    owner, login = payouts_schema
    asyncio.run(decide(as_role(owner, "ledger_worker"), EVENTS))
    env = {**os.environ, "DATABASE_URL": login, "SUBSIDY_OPERATOR": "treasurer-zhou"}
    subsidy(env, "payouts", "advance", "--date", "2025-07-10")  # no envelope yet: all wait
    asyncio.run(owner_sql(login, tamper))  # the payouts' own login, no owner rights
    budget = tmp_path / "budget.csv"
    budget.write_text("资金渠道,年度,预算金额(元)\n市科技局,2025,20000000\n苏州工业园区财政局,2025,"
                      "20000000\n", encoding="utf-8")  # fmt: skip
    subsidy(env, "budget", "load", str(budget), "--date", "2025-07-10")
    said = subsidy(env, "payouts", "reconcile", code=1)
    assert "未解释" in said, said
    assert "ok:" not in subsidy({**env, "DATABASE_URL": owner}, "ledger", "verify", code=1)
