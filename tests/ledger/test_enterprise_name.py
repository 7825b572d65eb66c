"""An enterprise's registered name and district follow its sources' events, never the portal's."""

# The name and district (enterprises, what the workbench's search and the payouts read) follow its
# sources' events on PostgreSQL, never one a person submitted through the portal: a reviewer's
# review or the enterprise's own payee account naming it otherwise changes neither, whether in a
# batch of its own or beside a source's event; and a book read back from the rows checks a payee
# account against the registered name.

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from subsidy.contract.codec import event_to_proto, provenance_json, provenance_of
from subsidy.domain.evaluator import evaluate
from subsidy.domain.events import parse_event
from subsidy.domain.submitter import PORTAL
from subsidy.events.v1 import events_pb2 as epb
from subsidy.ledger.batch_writer import Source
from subsidy.ledger.processor import Message, apply_batch
from subsidy.ledger.repository import BookCache
from tests.factories import enterprise_id
from tests.ledger.database import assert_sound, fetch, migrated_ledger_schema
from tests.ledger.events import CATALOG

pytestmark = [pytest.mark.postgres]

FIRM = enterprise_id(900_311)
REGISTERED = "苏州登记机器人有限公司"
CLAIMED = "某人随手填写的名称"
PAYEE = {"bankName": "江苏银行苏州分行", "accountNumber": "3220012345678901234",
         "accountName": CLAIMED}  # fmt: skip


def _event(event_id: str, name: str, district: str, channel: str | None, **payload: Any) -> Any:
    raw = {
        "eventId": event_id,
        "source": "sz-miit-portal",
        "enterpriseId": FIRM,
        "enterpriseName": name,
        "district": district,
        "occurredOn": "2025-08-01",
        **payload,
    }
    if channel is not None:
        raw["submittedBy"] = {"principal": f"{channel.lower()}-user", "channel": channel}
    return raw  # fmt: skip


def _expo(event_id: str, name: str = REGISTERED, district: str = "SIP") -> Any:
    return _event(event_id, name, district, "FEED_WATCHER", exhibitionHeld={"itemId": event_id})


def _portal_review(event_id: str, ref: str) -> Any:
    review = {"eventRef": ref, "ruleId": "m06.exhibition", "approved": False}
    return _event(event_id, CLAIMED, "KUNSHAN", "PORTAL", reviewDecided=review)


def _portal_payee(event_id: str) -> Any:
    return _event(event_id, CLAIMED, "KUNSHAN", "PORTAL", payeeAccountRegistered=PAYEE)


def _message(raw: Any) -> Message:
    """As the worker takes it off Kafka: with who submitted it and through which channel."""
    event = parse_event(raw)
    who = provenance_json(provenance_of(event_to_proto(event, submitter=True)))
    return Message(evaluate(event, CATALOG), event.content_hash(), Source(submitted_by=who))


async def _apply(url: str, *batches: list[Any]) -> None:
    cache = BookCache(0)  # every batch reads its book back from the rows
    conn = await asyncpg.connect(url)
    try:
        for batch in batches:
            async with conn.transaction():
                prepared = await apply_batch(conn, [_message(raw) for raw in batch], cache)
            prepared.committed(cache)
    finally:
        await conn.close()


async def _registered(url: str) -> tuple[str, str]:
    (row,) = await fetch(
        url, "SELECT enterprise_name, district FROM enterprises WHERE enterprise_id = $1", FIRM
    )
    return row["enterprise_name"], row["district"]


async def _outcomes(url: str) -> dict[str, str]:
    rows = await fetch(url, "SELECT event_id, outcome FROM inbox WHERE enterprise_id = $1", FIRM)
    return {r["event_id"]: r["outcome"] for r in rows}


@pytest.fixture
async def ledger(fresh_database_url: str) -> AsyncIterator[str]:
    _, owner = await migrated_ledger_schema(fresh_database_url, "ledger_names")
    yield owner
    await assert_sound(owner)


async def test_a_portal_review_does_not_rename_the_enterprise(ledger: str) -> None:
    await _apply(ledger, [_expo("nm-1")], [_portal_review("nm-1r", "nm-1")])
    assert await _outcomes(ledger) == {"nm-1": "applied", "nm-1r": "applied"}
    assert await _registered(ledger) == (REGISTERED, "SIP")
    # Nor beside a source's event in one batch, whichever comes last.
    await _apply(ledger, [_expo("nm-2"), _portal_review("nm-2r", "nm-2"), _portal_payee("nm-p")])
    assert await _registered(ledger) == (REGISTERED, "SIP")
    # The workbench's search finds the enterprise by its registered name only.
    found = await fetch(ledger, "SELECT enterprise_id FROM enterprises"
                        " WHERE strpos(enterprise_name, $1) > 0", CLAIMED)  # fmt: skip
    assert found == []


async def test_a_source_still_renames_the_enterprise(ledger: str) -> None:
    await _apply(ledger, [_expo("nm-3")], [_expo("nm-4", "苏州更名机器人有限公司", "WUZHONG")])
    assert await _registered(ledger) == ("苏州更名机器人有限公司", "WUZHONG")


async def test_a_portal_event_first_names_nobody_until_a_source_does(ledger: str) -> None:
    # A review waiting for its event is taken (parked) but names nobody; a payee account
    # before any source names the enterprise is refused (the ledger knows no name to match).
    await _apply(ledger, [_portal_review("nm-p1", "nm-5"), _portal_payee("nm-p2")])
    assert await _outcomes(ledger) == {"nm-p1": "parked", "nm-p2": "rejected"}
    assert await _registered(ledger) == ("", "")
    await _apply(ledger, [_expo("nm-5")])
    assert await _registered(ledger) == (REGISTERED, "SIP")


async def test_a_book_read_back_checks_payee_accounts_against_the_row(ledger: str) -> None:
    # Every batch reads its book back from the rows: the name the portal event claimed is
    # refused, the registered one (restored from enterprises.enterprise_name) is taken.
    own = {**PAYEE, "accountName": REGISTERED}
    mine = _event("nm-p4", REGISTERED, "SIP", "PORTAL", payeeAccountRegistered=own)
    await _apply(ledger, [_expo("nm-6")], [_portal_payee("nm-p3")], [mine])
    outcomes = await _outcomes(ledger)
    assert (outcomes["nm-p3"], outcomes["nm-p4"]) == ("rejected", "applied")
    (row,) = await fetch(ledger, "SELECT error FROM rejected_events WHERE event_id = 'nm-p3'")
    assert row["error"].startswith("payeeAccountRegistered.accountName: ")
    accounts = await fetch(ledger, "SELECT event_id, account_name FROM payee_accounts")
    assert [(r["event_id"], r["account_name"]) for r in accounts] == [("nm-p4", REGISTERED)]


def test_the_domain_names_the_portal_channel_as_the_contract_does() -> None:
    assert epb.SubmissionChannel.Name(epb.PORTAL) == PORTAL
