"""Payee accounts and objections in PostgreSQL (0008_payees_objections)."""

# Written by the ledger's batch writer, as the worker's own login, in the transaction that applies
# the event; a second registration is a new row beside the first; the writer cannot change or remove
# either table's rows, nor can the owner (append-only triggers); auditors read them.

from datetime import date
from typing import Any

import asyncpg
import pytest

from subsidy.domain.evaluator import evaluate
from subsidy.domain.events import parse_event
from subsidy.domain.simulate import simulate
from subsidy.ledger.processor import Message, apply_batch
from subsidy.ledger.repository import BookCache
from tests.factories import enterprise_id, jsonl
from tests.ledger.database import LedgerDb, as_role, export, fetch
from tests.ledger.events import CATALOG, YUAN

pytestmark = pytest.mark.postgres

ACME = enterprise_id(910_001)
OTHER = enterprise_id(910_002)
NAME = "苏州灵犀具身智能有限公司"


def _event(event_id: str, day: str, enterprise: str = ACME, **payload: Any) -> dict[str, Any]:
    name = NAME if enterprise == ACME else "苏州别家机器人有限公司"
    return {"eventId": event_id, "source": "sz-gov-service-portal", "enterpriseId": enterprise,
            "enterpriseName": name, "district": "SIP", "occurredOn": day, **payload}  # fmt: skip


def _payee(event_id: str, day: str, bank: str, number: str) -> dict[str, Any]:
    body = {"bankName": bank, "accountNumber": number, "accountName": NAME}
    return _event(event_id, day, payeeAccountRegistered=body)


def _objection(event_id: str, day: str, ref: str, enterprise: str = ACME) -> dict[str, Any]:
    body = {"eventRef": ref, "ruleId": "m06.exhibition", "reason": "展会规模与申报不符"}
    return _event(event_id, day, enterprise, objectionFiled=body)


EVENTS = [
    _payee("p1", "2025-06-01", "中国工商银行苏州分行", "1102020109000123456"),
    _event("x1", "2025-08-01", exhibitionHeld={"itemId": "expo-1"}),
    _event("r1", "2025-09-01", reviewDecided={"eventRef": "x1", "ruleId": "m06.exhibition",
                                              "approved": True,
                                              "approvedAmountFen": 500_000 * YUAN}),
    _objection("o1", "2025-09-04", "x1"),
    _payee("p1", "2025-06-01", "中国工商银行苏州分行", "1102020109000123456"),  # redelivered
    _objection("o-ghost", "2025-09-05", "x9"),  # no such event: refused
    _objection("o-other", "2025-09-05", "x1", OTHER),  # another enterprise's: refused
    _payee("p2", "2026-01-05", "苏州银行", "0512000188889999000"),
]  # fmt: skip


async def _feed(url: str, events: list[dict[str, Any]], batch: int, cache_size: int) -> None:
    """Decide the events as the worker does, a transaction per batch, without Kafka."""
    messages = []
    for raw in events:
        event = parse_event(raw)
        messages.append(Message(evaluate(event, CATALOG), event.content_hash()))
    cache = BookCache(cache_size)
    conn = await asyncpg.connect(url)
    try:
        for start in range(0, len(messages), batch):
            async with conn.transaction():
                prepared = await apply_batch(conn, messages[start : start + batch], cache)
            prepared.committed(cache)
    finally:
        await conn.close()


# One batch (the objection's entitlement is written in the same transaction), or one event a
# batch with no cache (each book restored from PostgreSQL, its entitlement with it).
@pytest.mark.parametrize(("batch", "cache_size"), [(40, 10_000), (1, 0)],
                         ids=["one-batch", "restored"])  # fmt: skip
async def test_both_tables_receive_their_rows_and_a_second_account_is_a_new_row(
    ledger_db: LedgerDb, batch: int, cache_size: int
) -> None:
    await _feed(ledger_db.url, EVENTS, batch, cache_size)
    payees = await fetch(ledger_db.url, "SELECT * FROM payee_accounts ORDER BY seq")
    assert [
        (r["event_id"], r["enterprise_id"], r["bank_name"], r["account_number"],
         r["account_name"], r["registered_on"]) for r in payees
    ] == [
        ("p1", ACME, "中国工商银行苏州分行", "1102020109000123456", NAME, date(2025, 6, 1)),
        ("p2", ACME, "苏州银行", "0512000188889999000", NAME, date(2026, 1, 5)),
    ]  # fmt: skip
    current = await fetch(
        ledger_db.url,
        "SELECT DISTINCT ON (enterprise_id) event_id FROM payee_accounts"
        " ORDER BY enterprise_id, seq DESC",
    )
    assert [r["event_id"] for r in current] == ["p2"]
    objections = await fetch(ledger_db.url, "SELECT * FROM objections")
    assert [
        (r["event_id"], r["enterprise_id"], r["entitlement_id"], r["reason"], r["filed_on"])
        for r in objections
    ] == [("o1", ACME, "x1/m06.exhibition", "展会规模与申报不符", date(2025, 9, 4))]
    # No decision for either kind; the refusals are recorded as the simulator words them.
    caused = await fetch(
        ledger_db.url,
        "SELECT caused_by_event_id FROM decisions WHERE caused_by_event_id = ANY($1::text[])",
        ["p1", "p2", "o1"],
    )
    assert caused == []
    contract = simulate(jsonl(EVENTS), CATALOG).to_contract()
    exported = await export(ledger_db.url)
    assert exported["rejectedEvents"] == contract["rejectedEvents"]
    assert [r["eventId"] for r in exported["rejectedEvents"]] == ["o-ghost", "o-other"]
    assert exported["rejectedEvents"][0]["error"].startswith("objectionFiled.eventRef: ")
    assert exported["entitlements"] == contract["entitlements"]


async def test_the_writer_cannot_change_or_remove_them_nor_can_the_owner(
    ledger_db: LedgerDb,
) -> None:
    await _feed(ledger_db.url, EVENTS, 40, 10_000)
    denied = [
        "UPDATE payee_accounts SET account_number = '99999999'",
        "DELETE FROM payee_accounts",
        "TRUNCATE payee_accounts",
        "UPDATE objections SET reason = '撤回'",
        "DELETE FROM objections",
        "TRUNCATE objections",
    ]
    for statement in denied:
        conn = await asyncpg.connect(ledger_db.url)  # the worker's login
        try:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(statement)
        finally:
            await conn.close()
    for statement in denied:  # the owner has the privilege; the triggers refuse
        conn = await asyncpg.connect(ledger_db.owner_url)
        try:
            with pytest.raises(asyncpg.RestrictViolationError, match="append-only"):
                await conn.execute(statement)
        finally:
            await conn.close()
    auditor = as_role(ledger_db.owner_url, "ledger_api")
    assert len(await fetch(auditor, "SELECT * FROM payee_accounts")) == 2
    assert len(await fetch(auditor, "SELECT * FROM objections")) == 1
