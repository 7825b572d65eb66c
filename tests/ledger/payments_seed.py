"""A ledger whose payouts ran through `subsidy` as their own login, orders in every state."""

# Three enterprises' payment orders in every state and hold but one: paid, in a batch, payable,
# returned by the bank, on notice, held by an objection, waiting for budget, for an account, just
# taken in, set off.

import asyncio
import csv
import io
import os
from pathlib import Path
from typing import Any

import asyncpg

from tests.factories import enterprise_id
from tests.ledger.events import YUAN
from tests.payouts.desk_setup import decide, subsidy

ACME, BETA, GAMMA = (enterprise_id(940_001 + n) for n in range(3))
NAMES = {ACME: "苏州阿克米机器人有限公司", BETA: "苏州贝塔智能有限公司",
         GAMMA: "昆山伽马装备有限公司"}  # fmt: skip
DISTRICTS = {ACME: "SIP", BETA: "SIP", GAMMA: "KUNSHAN"}
SCIENCE, MIIT, SIP, KUNSHAN = "市科技局", "市工信局", "苏州工业园区财政局", "昆山市财政局"
RETURN_REASON = "户名与账号不符"


def event(event_id: str, who: str, day: str, **payload: Any) -> dict[str, Any]:
    """One event of the three enterprises, from the portal."""
    return {"eventId": event_id, "source": "sz-gov-service-portal", "enterpriseId": who,
            "enterpriseName": NAMES[who], "district": DISTRICTS[who], "occurredOn": day,
            **payload}  # fmt: skip


def centre(event_id: str, who: str, day: str) -> dict[str, Any]:
    """A provincial engineering centre: ¥5,000,000 from 市科技局 and the district's bureau."""
    body = {"kind": "PROVINCIAL_ENGINEERING_CENTER", "itemId": event_id,
            "certificateId": f"c-{event_id}"}  # fmt: skip
    return event(event_id, who, day, certificationObtained=body)


def approved(event_id: str, who: str, day: str, ref: str, rule: str, yuan: int) -> Any:
    """A reviewer's approval: the award goes on public notice (公示) for seven days."""
    review = {"eventRef": ref, "ruleId": rule, "approved": True, "approvedAmountFen": yuan * YUAN}
    return {**event(event_id, who, day, reviewDecided=review),
            "submittedBy": {"principal": "reviewer-wang", "channel": "GRPC_API"}}  # fmt: skip


def account(who: str, number: str) -> dict[str, str]:
    return {"bankName": "苏州银行", "accountNumber": number, "accountName": NAMES[who]}


# Taken in by the payouts in this order (first come, first served for the budget).
FIRST = [
    event("acct-a", ACME, "2025-06-02",
          payeeAccountRegistered=account(ACME, "0512000188881111000")),
    event("acct-g", GAMMA, "2025-06-02",
          payeeAccountRegistered=account(GAMMA, "0512000188882222000")),
    centre("lab-a", ACME, "2025-07-01"),
    centre("lab-b", BETA, "2025-07-02"),  # BETA registers no account
    centre("lab-g", GAMMA, "2025-07-03"),  # 昆山: the city pays 30%
    centre("lab-b2", BETA, "2025-07-03"),
    event("cons-a", ACME, "2025-07-03", certificationObtained={
        "kind": "INNOVATION_CONSORTIUM", "itemId": "cons-a", "certificateId": "c-cons-a"}),
    event("svc-a", ACME, "2025-07-10",
          serviceReportFiled={"itemId": "plat-a", "serviceYear": 2024}),
    approved("svc-a-r", ACME, "2025-07-10", "svc-a", "m05.service_platform", 500_000),
    event("expo-a", ACME, "2025-07-10", exhibitionHeld={"itemId": "expo-a"}),
    approved("expo-a-r", ACME, "2025-07-10", "expo-a", "m06.exhibition", 300_000),
    event("expo-a-o", ACME, "2025-07-11", objectionFiled={
        "eventRef": "expo-a", "ruleId": "m06.exhibition", "reason": "展会规模不符"}),
]  # fmt: skip
# After the batches: two certificates withdrawn (the money owed back), a new award.
REVOKED = [
    event("lab-a-x", ACME, "2025-07-12",
          certificationRevoked={"itemId": "lab-a", "reason": "撤销认定"}),
    event("lab-b-x", BETA, "2025-07-12",
          certificationRevoked={"itemId": "lab-b", "reason": "撤销认定"}),
]  # fmt: skip
LAST = [
    event("expo-a2", ACME, "2025-07-12", exhibitionHeld={"itemId": "expo-a2"}),
    approved("expo-a2-r", ACME, "2025-07-12", "expo-a2", "m06.exhibition", 200_000),
]
# 市科技局's 2025 envelope fits the four centres' city parts and not the consortium's.
BUDGET = (f"资金渠道,年度,预算金额(元)\n{SCIENCE},2025,9000000\n{SIP},2025,50000000\n"
          f"{KUNSHAN},2025,50000000\n{MIIT},2025,50000000\n")  # fmt: skip


def _returned(path: Path, order_id: str) -> Path:
    """The bank's file with one payment returned (the rest paid), as a bank writes it."""
    text = path.read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    for row in rows[1:]:
        if row and row[2] == order_id:
            row[5], row[6] = "退回", RETURN_REASON
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    edited = path.with_name(f"edited-{path.name}")
    edited.write_text(out.getvalue(), encoding="utf-8")
    return edited


async def _order(owner_url: str, who: str, level: str) -> str:
    conn = await asyncpg.connect(owner_url)
    try:
        found: str = await conn.fetchval(
            "SELECT order_id FROM payment_orders WHERE enterprise_id = $1 AND level = $2",
            who, level,
        )  # fmt: skip
    finally:
        await conn.close()
    return found


async def seed(owner_url: str, worker_url: str, payouts_url: str, out: Path) -> str:
    """Decide and pay as the ledger worker and the payouts' login would; the 处理日期 of the
    bank's file (the day the paid orders were paid)."""
    env = {**os.environ, "DATABASE_URL": payouts_url, "SUBSIDY_OPERATOR": "treasurer-zhou"}

    def run(*args: str) -> str:
        return subsidy(env, *args)

    await decide(worker_url, FIRST)
    (out / "budget.csv").write_text(BUDGET, encoding="utf-8")
    await asyncio.to_thread(run, "budget", "load", str(out / "budget.csv"), "--date", "2025-07-11")
    made = await asyncio.to_thread(
        run, "payouts", "batch", "--out", str(out), "--channel", SCIENCE, "--date", "2025-07-11"
    )
    science = made.split()[0]
    await asyncio.to_thread(
        run, "payouts", "batch", "--out", str(out), "--channel", SIP, "--date", "2025-07-11"
    )
    await decide(worker_url, REVOKED)
    await asyncio.to_thread(run, "payouts", "advance", "--date", "2025-07-12")
    bank = await asyncio.to_thread(
        run, "payouts", "bank-simulator", str(out / f"{science}.manifest.json"),
        "--return-rate", "0", "--seed", "3",
    )  # fmt: skip
    edited = _returned(Path(bank.strip()), await _order(owner_url, GAMMA, "city"))
    # Confirming takes in what the ledger decided meanwhile without moving it on: a new order.
    await decide(worker_url, LAST)
    assert "1 returned" in await asyncio.to_thread(run, "payouts", "confirm", str(edited))
    rows = list(csv.reader(io.StringIO(edited.read_text(encoding="utf-8"), newline="")))
    return rows[1][7]
