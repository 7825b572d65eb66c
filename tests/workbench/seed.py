"""The workbench tests' ledger."""

# Five enterprises' events decided by the ledger's own batch code at fixed moments, and the payouts
# run through `subsidy` as their own login (a bank return, a dismissed objection), so every queue of
# two bureaus holds known cases.

import os
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from subsidy.domain.beijing import BEIJING
from subsidy.domain.evaluator import evaluate
from subsidy.domain.events import parse_event
from subsidy.ledger import processor
from subsidy.ledger.processor import Message, apply_batch
from subsidy.ledger.repository import BookCache
from tests.factories import enterprise_id
from tests.ledger.events import CATALOG, YUAN
from tests.payouts.desk_setup import subsidy

MIIT, SCIENCE = "市工信局", "市科技局"
A, B, C, D, E = (enterprise_id(930_001 + n) for n in range(5))
NAMES = {A: "苏州甲平台科技有限公司", B: "苏州乙智能研究院有限公司", C: "苏州丙机器人有限公司",
         D: "苏州丁装备有限公司", E: "苏州戊会展有限公司"}  # fmt: skip
DISTRICTS = {A: "SIP", B: "KUNSHAN", C: "GUSU", D: "SIP", E: "WUZHONG"}


def beijing(day: str, hour: int, minute: int = 0) -> datetime:
    """A moment, Beijing time."""
    return datetime.combine(datetime.fromisoformat(day).date(), time(hour, minute), BEIJING)


def event(event_id: str, who: str, day: str, **payload: Any) -> dict[str, Any]:
    return {"eventId": event_id, "source": "sz-miit-portal", "enterpriseId": who,
            "enterpriseName": NAMES[who], "district": DISTRICTS[who], "occurredOn": day,
            **payload}  # fmt: skip


def cert(event_id: str, who: str, day: str, kind: str, **extra: Any) -> dict[str, Any]:
    body = {"kind": kind, "itemId": f"item-{event_id}", "certificateId": f"c-{event_id}", **extra}
    return event(event_id, who, day, certificationObtained=body)


def review(event_id: str, who: str, day: str, ref: str, rule: str, **verdict: Any) -> Any:
    return {**event(event_id, who, day, reviewDecided={"eventRef": ref, "ruleId": rule,
                                                        **verdict}),
            "submittedBy": {"principal": "reviewer-wang", "channel": "GRPC_API"}}  # fmt: skip


# When each batch is decided (the decisions' decided_at), and what it holds.
T1, T2, T3, T4 = (beijing("2025-09-26", 10), beijing("2025-09-30", 16),
                  beijing("2025-10-09", 9), beijing("2025-10-13", 11))  # fmt: skip
ACCOUNT = {"bankName": "苏州银行", "accountNumber": "0512000188889999000", "accountName": NAMES[D]}
BATCHES: list[tuple[datetime, list[dict[str, Any]]]] = [
    (T1, [
        event("wb-a1", A, "2025-09-26",
              serviceReportFiled={"itemId": "plat-a", "serviceYear": 2024}),
        event("wb-a2", A, "2025-09-26",
              capacityInvestmentFiled={"itemId": "cap-a", "investmentFen": 30_000_000 * YUAN}),
        event("wb-d0", D, "2025-09-26", payeeAccountRegistered=ACCOUNT),
        cert("wb-d1", D, "2025-09-26", "FIRST_UNIT_EQUIPMENT"),
    ]),
    (T2, [
        cert("wb-b1", B, "2025-09-30", "KEY_COMPONENT_PROJECT"),
        cert("wb-b2", B, "2025-09-30", "NATIONAL_PLATFORM", stage=1),
    ]),
    (T3, [
        # ¥5,000,000 reaches the four-eyes threshold: a first approval, waiting for a second.
        review("wb-b2r", B, "2025-10-09", "wb-b2", "m03.national_platform", approved=True,
               approvedAmountFen=5_000_000 * YUAN),
        event("wb-c1", C, "2025-10-09", exhibitionHeld={"itemId": "expo-c"}),
        cert("wb-c2", C, "2025-10-09", "FIRST_UNIT_EQUIPMENT"),
        cert("wb-c3", C, "2025-10-09", "INNOVATION_CONSORTIUM"),
        event("wb-e1", E, "2025-10-09", exhibitionHeld={"itemId": "expo-e"}),
        review("wb-e1r", E, "2025-10-09", "wb-e1", "m06.exhibition", approved=False),
    ]),
    (T4, [
        event("wb-c2o", C, "2025-10-13", objectionFiled={
            "eventRef": "wb-c2", "ruleId": "m09.first_unit", "reason": "该产品并非首台套"}),
        event("wb-c3o", C, "2025-10-13", objectionFiled={
            "eventRef": "wb-c3", "ruleId": "m04.innovation_consortium", "reason": "成员单位不符"}),
        event("wb-e1p", E, "2025-10-13", appealFiled={
            "eventRef": "wb-e1", "ruleId": "m06.exhibition", "reason": "展会规模符合要求"}),
    ]),
]  # fmt: skip


async def decide_at(url: str, moment: datetime, events: list[dict[str, Any]]) -> None:
    """The events applied by the ledger's batch code in one transaction, as decided at
    `moment` (the batch's clock is the only thing fixed: everything else is the worker's)."""

    class At(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> "At":
            return cls.fromtimestamp(moment.timestamp(), tz)

    messages = []
    for raw in events:
        parsed = parse_event(raw)
        messages.append(Message(evaluate(parsed, CATALOG), parsed.content_hash()))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(processor, "datetime", At)
        conn = await asyncpg.connect(url)
        try:
            async with conn.transaction():
                await apply_batch(conn, messages, BookCache(0))
        finally:
            await conn.close()


def run_payouts(payouts_url: str, out: Path) -> None:
    """Budget, the day's batches, the bank returning the city's batch, and 市科技局 dismissing
    the objection to C's consortium award: each through `subsidy` as the payouts' login."""
    env = {**os.environ, "DATABASE_URL": payouts_url, "SUBSIDY_OPERATOR": "treasurer-zhou"}
    budget = out / "budget.csv"
    budget.write_text("资金渠道,年度,预算金额(元)\n市工信局,2025,10000000\n苏州工业园区财政局,2025,"
                      "10000000\n市科技局,2025,10000000\n", encoding="utf-8")  # fmt: skip
    subsidy(env, "budget", "load", str(budget), "--date", "2025-10-10")
    made = subsidy(env, "payouts", "batch", "--out", str(out), "--date", "2025-10-10")
    city = next(ln.split()[0] for ln in made.splitlines() if MIIT in ln)
    returned = subsidy(env, "payouts", "bank-simulator", str(out / f"{city}.manifest.json"),
                       "--return-rate", "1", "--seed", "7").strip()  # fmt: skip
    assert "1 returned" in subsidy(env, "payouts", "confirm", returned)
    subsidy(env, "publicity", "dismiss", "wb-c3o", "--reason", "异议不成立", "--date", "2025-10-13")


NOW = beijing("2025-10-14", 12)  # the tests' fixed now
LATER = NOW + timedelta(days=2)  # Thursday Oct 16
