"""The drill-down: an enterprise's entitlements and payments, and the enterprises behind a row."""

import re
from datetime import UTC, date, datetime
from typing import Any

import asyncpg

from subsidy.dashboard.panels_view import DISTRICT_ZH, money
from subsidy.dashboard.payouts import PayoutsProbe
from subsidy.dashboard.view import DashboardView, measure_label
from subsidy.domain.beijing import beijing_time
from subsidy.domain.entitlements import STATUS_LABELS_ZH
from subsidy.domain.money import format_fen
from subsidy.domain.payouts.orders import HOLDS_ZH

Json = dict[str, Any]

# A 统一社会信用代码 is 18 characters; ids are matched as written, anything else is refused
# before the database sees it.
ENTERPRISE_ID = re.compile(r"[0-9A-Za-z]{1,32}")
# The same words as the page's 资金拨付 cards.
STATES_ZH = {"WAITING": "暂缓推送", "PAYABLE": "待推送", "IN_BATCH": "发放中",
             "PAID_OUT": "已发放", "SETTLED": "已抵扣"}  # fmt: skip
_HOLDS = {h.value: label for h, label in HOLDS_ZH.items()}
# How many enterprises a row's drill-down lists (the largest grants first).
ENTERPRISES_SHOWN = 50

_ENTITLEMENTS = """
SELECT entitlement_id, rule_id, measure, year, occurred_on, enterprise_name, district,
       funding_channels, clause, status, reasons, entitled_fen, granted_fen, clawback_fen,
       annual_cap_fen, revision, updated_at
FROM entitlements
WHERE enterprise_id = $1 AND ($2::integer IS NULL OR year = $2)
ORDER BY year, occurred_on, seq
"""

_ORDERS = """
SELECT order_id, entitlement_id, year, channel, level, amount_fen, set_off_fen, state, hold,
       updated_at
FROM payment_orders
WHERE enterprise_id = $1 AND ($2::integer IS NULL OR year = $2)
ORDER BY year, seq
"""

_ENTERPRISES = """
SELECT enterprise_id, max(enterprise_name) AS enterprise_name, max(district) AS district,
       count(*) AS entitlements, count(*) FILTER (WHERE granted_fen > 0) AS paid,
       coalesce(sum(granted_fen), 0)::bigint AS granted_fen
FROM entitlements
WHERE ($1::integer IS NULL OR year = $1) AND ($2::text IS NULL OR district = $2)
  AND ($3::integer IS NULL OR measure = $3)
GROUP BY enterprise_id
ORDER BY granted_fen DESC, enterprise_id
LIMIT $4
"""


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _entitlement(r: asyncpg.Record, view: DashboardView) -> Json:
    occurred: date = r["occurred_on"]
    return {
        "entitlementId": r["entitlement_id"], "ruleId": r["rule_id"],
        "rule": view.rule_titles.get(r["rule_id"], r["rule_id"]),
        "measure": r["measure"], "measureLabel": measure_label(r["measure"]),
        "year": r["year"], "occurredOn": occurred.isoformat(),
        "status": r["status"], "statusLabel": STATUS_LABELS_ZH.get(r["status"], r["status"]),
        "reasons": list(r["reasons"]), "clause": r["clause"],
        "channels": list(r["funding_channels"]), "revision": r["revision"],
        **money("entitled", r["entitled_fen"]), **money("granted", r["granted_fen"]),
        **money("clawback", r["clawback_fen"]),
        "annualCap": None if r["annual_cap_fen"] is None else format_fen(r["annual_cap_fen"]),
        "updatedAt": _iso(r["updated_at"]), "time": beijing_time(r["updated_at"]),
    }  # fmt: skip


def _payment(r: asyncpg.Record) -> Json:
    return {
        "orderId": r["order_id"], "entitlementId": r["entitlement_id"], "year": r["year"],
        "channel": r["channel"], "level": "市级" if r["level"] == "city" else "区级",
        "state": r["state"], "stateLabel": STATES_ZH.get(r["state"], r["state"]),
        "hold": r["hold"], "holdLabel": _HOLDS.get(r["hold"], r["hold"] or ""),
        **money("amount", r["amount_fen"]), **money("setOff", r["set_off_fen"]),
        **money("net", r["amount_fen"] - r["set_off_fen"]),
        "updatedAt": _iso(r["updated_at"]), "time": beijing_time(r["updated_at"]),
    }  # fmt: skip


async def read_enterprise(
    conn: asyncpg.Connection, view: DashboardView, enterprise_id: str, year: int | None
) -> Json | None:
    """The enterprise's entitlements and payment orders (of the year, or all), None if the
    ledger has no entitlement of it at all."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        rows = await conn.fetch(_ENTITLEMENTS, enterprise_id, None)
        if not rows:
            return None
        shown = [r for r in rows if year is None or r["year"] == year]
        payable = await PayoutsProbe().mark(conn) is not None
        orders = await conn.fetch(_ORDERS, enterprise_id, year) if payable else []
    last = rows[-1]
    payments = [_payment(r) for r in orders]
    paid = sum(p["netFen"] for p in payments if p["state"] == "PAID_OUT")
    return {
        "enterpriseId": enterprise_id, "enterpriseName": last["enterprise_name"],
        "district": last["district"],
        "districtName": DISTRICT_ZH.get(last["district"], last["district"]),
        "year": year, "years": sorted({r["year"] for r in rows}),
        "entitlementCount": len(shown),
        **money("granted", sum(r["granted_fen"] for r in shown)),
        **money("clawback", sum(r["clawback_fen"] for r in shown)),
        **money("paidOut", paid),
        "entitlements": [_entitlement(r, view) for r in shown],
        "paymentsAvailable": payable, "payments": payments,
    }  # fmt: skip


async def read_enterprises(
    conn: asyncpg.Connection, year: int | None, district: str | None, measure: int | None
) -> list[Json]:
    """The enterprises of a district and/or a measure (of the year), the largest grant first."""
    rows = await conn.fetch(_ENTERPRISES, year, district, measure, ENTERPRISES_SHOWN)
    return [
        {"enterpriseId": r["enterprise_id"], "enterpriseName": r["enterprise_name"],
         "district": r["district"], "districtName": DISTRICT_ZH.get(r["district"], r["district"]),
         "entitlements": r["entitlements"], "paid": r["paid"], **money("granted", r["granted_fen"])}
        for r in rows
    ]  # fmt: skip
