"""The payouts' PostgreSQL tests' setting."""

# Two enterprises, their events decided by the ledger's own code as its worker login, and the
# `subsidy` command run as a process.

import subprocess
import sys
from typing import Any

import asyncpg

from subsidy.domain.evaluator import evaluate
from subsidy.domain.events import parse_event
from subsidy.ledger.processor import Message, apply_batch
from subsidy.ledger.repository import BookCache
from tests.factories import enterprise_id
from tests.ledger.events import CATALOG

ACME, BETA = enterprise_id(920_001), enterprise_id(920_002)
NAMES = {ACME: "苏州灵犀具身智能有限公司", BETA: "苏州贝塔机器人有限公司"}


def event(event_id: str, day: str, who: str, **payload: Any) -> dict[str, Any]:
    """An event of one of the two enterprises, from the portal, in SIP."""
    head = {"eventId": event_id, "source": "sz-gov-service-portal", "enterpriseId": who}
    return {**head, "enterpriseName": NAMES[who], "district": "SIP", "occurredOn": day, **payload}


def lab(event_id: str, day: str, who: str, item: str) -> dict[str, Any]:
    """A provincial engineering centre: ¥5,000,000, half the city's, half SIP's."""
    body = {"kind": "PROVINCIAL_ENGINEERING_CENTER", "itemId": item, "certificateId": f"c-{item}"}
    return event(event_id, day, who, certificationObtained=body)


ACCOUNT = {
    "bankName": "苏州银行",
    "accountNumber": "0512000188889999000",
    "accountName": NAMES[ACME],
}
EVENTS = [
    event("p-acme", "2025-06-02", ACME, payeeAccountRegistered=ACCOUNT),
    lab("lab-1", "2025-07-01", ACME, "lab-1"),  # ¥5,000,000: city ¥2.5m, district ¥2.5m
    lab("lab-2", "2025-07-02", BETA, "lab-2"),  # BETA has no account: waits
    lab("lab-3", "2025-07-03", ACME, "lab-3"),
]  # fmt: skip
REVOKE = event("rev-3", "2025-08-01", ACME,
                certificationRevoked={"itemId": "lab-3", "reason": "撤销认定"})  # fmt: skip


async def decide(url: str, events: list[dict[str, Any]]) -> None:
    """The events applied by the ledger's batch code, in one transaction."""
    messages = []
    for raw in events:
        parsed = parse_event(raw)
        messages.append(Message(evaluate(parsed, CATALOG), parsed.content_hash()))
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            await apply_batch(conn, messages, BookCache(0))
    finally:
        await conn.close()


def subsidy(env: dict[str, str], *args: str, code: int = 0) -> str:
    """`subsidy ARGS` in a process; it must exit with `code`; its output."""
    done = subprocess.run([sys.executable, "-m", "subsidy.cli", *args], env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == code, f"{args}: {done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


async def owner_sql(url: str, sql: str) -> None:
    """SQL run as whoever `url` logs in as (the tests' hostile owner)."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def fetch_rows(url: str, sql: str) -> list[asyncpg.Record]:
    """The rows one query returns, on a connection of its own."""
    conn = await asyncpg.connect(url)
    try:
        return list(await conn.fetch(sql))
    finally:
        await conn.close()
