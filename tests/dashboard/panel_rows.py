"""Helpers of the dashboard's panel tests."""

# A ledger over three years with payouts, what its tables say (computed here, apart from the
# dashboard's queries), and an order for one of its enterprises as the payouts would have stored it.

import os
from datetime import date, datetime
from pathlib import Path
from typing import Any

import asyncpg

from tests.dashboard.ledger_rows import decide, mix
from tests.dashboard.payout_rows import insert_payouts

YEAR = 2026


async def seed(owner_url: str) -> None:
    """Decisions of 2025 to 2027 (the mix's events span the policy's years) and the payouts'
    orders, receivables, envelopes and alerts of payout_rows."""
    await decide(owner_url, mix(seed=301, enterprises=14, events_per_enterprise=14))
    await insert_payouts(owner_url)


async def fetch(url: str, query: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return list(await conn.fetch(query, *args))
    finally:
        await conn.close()


async def granted_by_year(url: str) -> dict[int, int]:
    rows = await fetch(
        url, "SELECT year, sum(granted_fen)::bigint AS g FROM entitlements GROUP BY year"
    )
    return {r["year"]: r["g"] for r in rows}


async def top_of_district(url: str, year: int) -> tuple[str, str]:
    """The district with the most granted in the year, and its enterprise with the most."""
    (row,) = await fetch(
        url,
        "SELECT district, enterprise_id FROM entitlements WHERE year = $1"
        " GROUP BY district, enterprise_id"
        " ORDER BY sum(sum(granted_fen)) OVER (PARTITION BY district) DESC,"
        " sum(granted_fen) DESC, enterprise_id LIMIT 1",
        year,
    )
    return row["district"], row["enterprise_id"]


async def pay_one(owner_url: str, enterprise: str, year: int) -> dict[str, Any]:
    """A paid-out order for one of the enterprise's paid entitlements of the year."""
    (e,) = await fetch(
        owner_url,
        "SELECT entitlement_id, enterprise_name, district, rule_id, granted_fen FROM entitlements"
        " WHERE enterprise_id = $1 AND year = $2 AND granted_fen > 0"
        " ORDER BY entitlement_id LIMIT 1",
        enterprise,
        year,
    )
    order = {"order_id": "PO-DRILL-1", "entitlement_id": e["entitlement_id"],
             "amount_fen": e["granted_fen"], "channel": "市科技局"}  # fmt: skip
    conn = await asyncpg.connect(owner_url)
    try:
        await conn.execute(
            "INSERT INTO payout_intake (source_id, kind) VALUES ('dec-drill', 'grant')"
        )
        await conn.execute(
            "INSERT INTO payment_orders (order_id, seq, decision_id, entitlement_id,"
            " enterprise_id, enterprise_name, district, rule_id, year, channel, level,"
            " amount_fen, decided_on, state, hold, committed, set_off_fen, batch_id,"
            " return_reason, returned_account, updated_at) VALUES ($1, 900, 'dec-drill', $2,"
            " $3, $4, $5, $6, $7, $8, 'city', $9, $10, 'PAID_OUT', NULL, true, 0, '', '', '',"
            " $11)",
            order["order_id"], e["entitlement_id"], enterprise, e["enterprise_name"],
            e["district"], e["rule_id"], year, order["channel"], e["granted_fen"],
            date(year, 3, 1), datetime.fromisoformat(f"{year}-03-02T10:00:00+08:00"),
        )  # fmt: skip
    finally:
        await conn.close()
    return order


def shots_dir(tmp_path: Path) -> Path:
    """Where the screenshots go: DASHBOARD_SHOTS_DIR when set (to look at them), else the
    test's own temporary directory."""
    out = Path(os.environ.get("DASHBOARD_SHOTS_DIR") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    return out
