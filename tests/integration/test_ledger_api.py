"""LedgerService as a read-only role: queries equal to simulate, auth, errors, metrics, CLI."""

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from typer.testing import CliRunner

from subsidy.api.v1 import api_pb2, api_pb2_grpc
from subsidy.cli.main import app
from subsidy.decisions.v1 import decisions_pb2 as dpb
from subsidy.domain.evaluator import evaluate
from subsidy.domain.events import parse_event
from subsidy.events.v1 import events_pb2 as epb
from subsidy.harness.databases import with_search_path
from subsidy.infra.auth import token_digest
from subsidy.infra.grpc_errors import field_violations
from subsidy.ledger.api import SERVICE_NAME
from subsidy.ledger.api_server import DatabaseRoleError, RunningApi, start_api
from subsidy.ledger.api_settings import LedgerApiSettings
from subsidy.ledger.metrics import API_REGISTRY
from subsidy.ledger.processor import Message, apply_batch
from subsidy.ledger.repository import BookCache
from tests.integration.ledger_support import (
    CATALOG,
    YUAN,
    EventMix,
    LedgerDb,
    as_role,
    assert_sound,
    fetch,
    jsonl,
    migrated_ledger_schema,
    replay,
)
from tests.unit.factories import enterprise_id

# The fixture ledger_db (for the tamper test).
pytest_plugins = ["tests.integration.ledger_fixtures"]
pytestmark = [pytest.mark.postgres]

SUBSIDY = Path(sys.executable).parent / "subsidy"
AUDITOR_TOKEN = "auditor-" + uuid.uuid4().hex
WRITER_TOKEN = "writer-" + uuid.uuid4().hex
AUDITOR = (("authorization", f"Bearer {AUDITOR_TOKEN}"),)
MAX_PAGE = 50

TOP_UP = enterprise_id(900_001)  # municipal key lab, then provincial on the same lab
REVOKED = enterprise_id(900_002)  # a training base paid, then revoked
STRANGER = enterprise_id(900_003)  # never seen by the ledger
MUNICIPAL = "api-topup-1/m03.municipal_key_lab"
PROVINCIAL = "api-topup-2/m03.provincial_key_lab"


def _fields(err: grpc.RpcError) -> list[str]:
    """The fields named by the error's google.rpc.BadRequest."""
    return [field for field, _ in field_violations(err)]


def _event(event_id: str, enterprise: str, district: str, day: str, **payload: Any) -> Any:
    return {"eventId": event_id, "source": "sz-miit-portal", "enterpriseId": enterprise,
            "enterpriseName": f"苏州{event_id}机器人有限公司", "district": district,
            "occurredOn": day, **payload}  # fmt: skip


def known_events() -> list[dict[str, Any]]:
    """A top-up, a revocation, then a seeded mix that reaches every status and limit."""
    lab = {"itemId": "lab-X", "certificateId": "C-1"}
    return [
        _event("api-topup-1", TOP_UP, "SIP", "2025-07-01",
               certificationObtained={"kind": "MUNICIPAL_KEY_LAB", **lab}),
        _event("api-rev-1", REVOKED, "KUNSHAN", "2025-08-01",
               certificationObtained={"kind": "TRAINING_BASE", "itemId": "base-1",
                                      "certificateId": "T-1"}),
        _event("api-topup-2", TOP_UP, "SIP", "2025-09-01",
               certificationObtained={"kind": "PROVINCIAL_KEY_LAB", **lab, "certificateId": "C-2"}),
        _event("api-topup-3", TOP_UP, "SIP", "2026-03-01",
               computeInvoiceFiled={"itemId": "INV-1", "amountFen": 1_000_000 * YUAN}),
        _event("api-rev-2", REVOKED, "KUNSHAN", "2025-10-01",
               certificationRevoked={"itemId": "base-1", "reason": "撤销认定"}),
        *EventMix(seed=41, enterprises=12, events_per_enterprise=30).events(),
    ]  # fmt: skip


async def feed(url: str, events: list[dict[str, Any]], batch: int = 40) -> None:
    """Decide the events into the ledger as the worker does (batches, one transaction each),
    without Kafka: the repository directly."""
    messages = []
    for raw in events:
        event = parse_event(raw)
        messages.append(Message(evaluate(event, CATALOG), event.content_hash()))
    cache = BookCache(10_000)
    conn = await asyncpg.connect(url)
    try:
        for start in range(0, len(messages), batch):
            async with conn.transaction():
                prepared = await apply_batch(conn, messages[start : start + batch], cache)
            prepared.committed(cache)
    finally:
        await conn.close()


def api_settings(url: str, **overrides: Any) -> LedgerApiSettings:
    values: dict[str, Any] = {
        "LEDGER_API_DATABASE_URL": url,
        "LEDGER_API_GRPC_ADDRESS": "127.0.0.1:0",
        "LEDGER_API_AUDITOR_TOKENS": f"{AUDITOR_TOKEN},second-{AUDITOR_TOKEN}",
        "LEDGER_API_WRITER_TOKEN_SHA256": token_digest(WRITER_TOKEN),
        "LEDGER_API_MAX_PAGE_SIZE": MAX_PAGE,
        "LEDGER_API_DEFAULT_PAGE_SIZE": 20,
        "LEDGER_API_OUTBOX_POLL_SECONDS": 0.1,
        "LEDGER_API_VERIFY_INTERVAL_SECONDS": 0,
    }
    values.update(overrides)
    # model_validate, not the constructor: the environment of whoever runs the tests stays out.
    return LedgerApiSettings.model_validate(values)


@pytest.fixture(scope="session")
async def auditor_role(database_url: str) -> str:
    """The cluster's subsidy_auditor group role, created as the devstack superuser when missing
    (the migrating role `subsidy` may not create roles), before any ledger is migrated."""
    conn = await asyncpg.connect(as_role(database_url, "postgres"))
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = 'subsidy_auditor'"):
            # Another test session may create it meanwhile.
            with contextlib.suppress(asyncpg.DuplicateObjectError, asyncpg.UniqueViolationError):
                await conn.execute("CREATE ROLE subsidy_auditor NOLOGIN")
    finally:
        await conn.close()
    return "subsidy_auditor"


@dataclass
class Ledger:
    """The fed ledger, the API serving it as a read-only role, and what was fed."""

    owner_url: str
    reader_url: str
    api: RunningApi
    address: str
    events: list[dict[str, Any]]
    contract: dict[str, Any]  # `subsidy simulate --format json` of the same events


@pytest.fixture(scope="module")
async def ledger(
    fresh_database_url: str, auditor_role: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Ledger]:
    login = f"ledger_api_test_{uuid.uuid4().hex[:12]}"
    # Migrated as `subsidy`: grants SELECT to the existing group role.
    schema, owner = await migrated_ledger_schema(fresh_database_url, "ledger_api")
    admin = await asyncpg.connect(as_role(fresh_database_url, "postgres"))
    try:
        await admin.execute(f'CREATE ROLE "{login}" LOGIN IN ROLE {auditor_role}')
    finally:
        await admin.close()
    events = known_events()
    await feed(owner, events)
    path = tmp_path_factory.mktemp("api") / "events.jsonl"
    path.write_text("\n".join(jsonl(events)) + "\n", encoding="utf-8")
    done = await asyncio.to_thread(
        subprocess.run,
        [str(SUBSIDY), "simulate", "--events", str(path), "--format", "json"],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    reader = with_search_path(as_role(fresh_database_url, login), schema)
    api = await start_api(api_settings(reader), CATALOG)
    try:
        yield Ledger(owner, reader, api, f"127.0.0.1:{api.port}", events, json.loads(done.stdout))
    finally:
        await api.stop(grace=1.0)
        await assert_sound(owner)
        admin = await asyncpg.connect(as_role(fresh_database_url, "postgres"))
        try:
            await admin.execute(f'DROP ROLE "{login}"')
        finally:
            await admin.close()


@pytest.fixture
async def stub(ledger: Ledger) -> AsyncIterator["api_pb2_grpc.LedgerServiceAsyncStub"]:
    async with grpc.aio.insecure_channel(ledger.address) as channel:
        yield api_pb2_grpc.LedgerServiceStub(channel)  # type: ignore[misc]


def _sample(name: str, **labels: str) -> float:
    return API_REGISTRY.get_sample_value(name, labels) or 0.0


# ---- GetStatement ----------------------------------------------------------------------------


async def test_statement_of_a_top_up(stub: Any) -> None:
    s = await stub.GetStatement(api_pb2.GetStatementRequest(enterprise_id=TOP_UP), metadata=AUDITOR)
    by_id = {d.entitlement_id: d for d in s.entitlements}
    assert list(by_id) == [MUNICIPAL, PROVINCIAL, "api-topup-3/m08.compute_voucher"]
    assert dpb.Status.Name(by_id[MUNICIPAL].status) == "SUPERSEDED"
    assert (by_id[MUNICIPAL].revision, by_id[MUNICIPAL].granted_fen) == (2, 0)
    assert dpb.Status.Name(by_id[PROVINCIAL].status) == "PAID"
    assert by_id[PROVINCIAL].granted_fen == 20_000_000 * YUAN
    assert s.granted_fen == (20_000_000 + 200_000) * YUAN
    assert s.clawback_fen == 0

    one_year = await stub.GetStatement(
        api_pb2.GetStatementRequest(enterprise_id=TOP_UP, year=2026), metadata=AUDITOR
    )
    assert [d.entitlement_id for d in one_year.entitlements] == ["api-topup-3/m08.compute_voucher"]
    assert one_year.granted_fen == 200_000 * YUAN
    none = await stub.GetStatement(
        api_pb2.GetStatementRequest(enterprise_id=TOP_UP, year=2024), metadata=AUDITOR
    )
    assert (list(none.entitlements), none.granted_fen) == ([], 0)


async def test_statement_books_the_clawback_of_a_revocation(stub: Any) -> None:
    s = await stub.GetStatement(
        api_pb2.GetStatementRequest(enterprise_id=REVOKED), metadata=AUDITOR
    )
    (d,) = s.entitlements
    assert dpb.Status.Name(d.status) == "REVOKED"
    assert (d.granted_fen, d.clawback_fen) == (0, 1_000_000 * YUAN)
    assert (s.granted_fen, s.clawback_fen) == (0, 1_000_000 * YUAN)


async def test_every_statement_equals_simulate(stub: Any, ledger: Ledger) -> None:
    expected: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in ledger.contract["entitlements"]:
        expected[e["enterpriseId"]].append(e)
    assert len(expected) == 14
    for enterprise, entitlements in expected.items():
        s = await stub.GetStatement(
            api_pb2.GetStatementRequest(enterprise_id=enterprise), metadata=AUDITOR
        )
        got = sorted(
            (d.entitlement_id, dpb.Status.Name(d.status), [dpb.Reason.Name(r) for r in d.reasons],
             d.entitled_fen, d.granted_fen)
            for d in s.entitlements
        )  # fmt: skip
        want = sorted(
            (e["entitlementId"], e["status"], e["reasons"], e["entitledFen"], e["grantedFen"])
            for e in entitlements
        )
        assert got == want, enterprise
        assert s.granted_fen == sum(e["grantedFen"] for e in entitlements)


# ---- ListDecisions ---------------------------------------------------------------------------


async def _all_pages(stub: Any, page_size: int, **filters: Any) -> list[dpb.Decision]:
    """Every page, following the tokens; asserts each page is full except the last."""
    out: list[dpb.Decision] = []
    token = ""
    while True:
        page = await stub.ListDecisions(
            api_pb2.ListDecisionsRequest(page_size=page_size, page_token=token, **filters),
            metadata=AUDITOR,
        )
        out.extend(page.decisions)
        token = page.next_page_token
        if not token:
            assert len(page.decisions) <= page_size
            return out
        assert len(page.decisions) == page_size


async def test_pages_of_every_decision_have_no_duplicates_and_no_gaps(
    stub: Any, ledger: Ledger
) -> None:
    _, decisions = replay(ledger.events)
    listed = await _all_pages(stub, 7)
    ids = [d.decision_id for d in listed]
    assert len(ids) == len(set(ids)) == len(decisions) > 250
    assert set(ids) == set(decisions)
    for d in listed:  # what the replay of the pure ledger decided, revision by revision
        status, reasons, entitled, granted, cash, clawback, cause, _ = decisions[d.decision_id]
        assert (dpb.Status.Name(d.status), [dpb.Reason.Name(r) for r in d.reasons], d.entitled_fen,
                d.granted_fen, d.cash_delta_fen, d.clawback_fen, d.caused_by_event_id) == (
                status, reasons, entitled, granted, cash, clawback, cause)  # fmt: skip
    stamps = [datetime.fromisoformat(d.decided_at) for d in listed]
    assert stamps == sorted(stamps)  # oldest first, across pages


def _by_filter(listed: list[dpb.Decision]) -> list[tuple[str, dict[str, Any], Callable[..., bool]]]:
    one = listed[len(listed) // 2]
    return [
        ("enterprise", {"enterprise_id": TOP_UP}, lambda d: d.enterprise_id == TOP_UP),
        ("rule", {"rule_id": one.rule_id}, lambda d: d.rule_id == one.rule_id),
        ("measure", {"measure": 3}, lambda d: d.measure == 3),
        ("district", {"district": epb.KUNSHAN}, lambda d: d.district == epb.KUNSHAN),
        ("year", {"year": 2026}, lambda d: d.year == 2026),
        ("status", {"status": dpb.SUPERSEDED}, lambda d: d.status == dpb.SUPERSEDED),
        ("combined", {"measure": 8, "year": 2026, "status": dpb.PAID},
         lambda d: (d.measure, d.year, d.status) == (8, 2026, dpb.PAID)),
    ]  # fmt: skip


async def test_each_filter_pages_exactly_the_matching_decisions(stub: Any) -> None:
    listed = await _all_pages(stub, MAX_PAGE)
    for name, filters, matches in _by_filter(listed):
        want = [d.decision_id for d in listed if matches(d)]
        assert want, f"the stream has decisions for the {name} filter"
        got = [d.decision_id for d in await _all_pages(stub, 4, **filters)]
        assert got == want, name  # same order, no duplicates, no gaps


async def test_latest_only_lists_each_entitlements_current_state(stub: Any, ledger: Ledger) -> None:
    current = await _all_pages(stub, 9, latest_only=True)
    assert sorted(d.entitlement_id for d in current) == sorted(
        e["entitlementId"] for e in ledger.contract["entitlements"]
    )
    contract = {e["entitlementId"]: e for e in ledger.contract["entitlements"]}
    assert all(dpb.Status.Name(d.status) == contract[d.entitlement_id]["status"] for d in current)
    superseded_now = await _all_pages(stub, 3, latest_only=True, status=dpb.SUPERSEDED)
    assert MUNICIPAL in {d.entitlement_id for d in superseded_now}
    assert {d.entitlement_id for d in superseded_now} == {
        k for k, e in contract.items() if e["status"] == "SUPERSEDED"
    }


async def test_page_size_is_bounded(stub: Any) -> None:
    huge = await stub.ListDecisions(api_pb2.ListDecisionsRequest(page_size=10**6), metadata=AUDITOR)
    assert len(huge.decisions) == MAX_PAGE
    assert huge.next_page_token
    default = await stub.ListDecisions(api_pb2.ListDecisionsRequest(), metadata=AUDITOR)
    assert len(default.decisions) == 20


async def test_a_page_token_only_continues_its_own_filters(stub: Any) -> None:
    first = await stub.ListDecisions(
        api_pb2.ListDecisionsRequest(page_size=2, measure=3), metadata=AUDITOR
    )
    assert first.next_page_token
    for request in (
        api_pb2.ListDecisionsRequest(page_size=2, measure=8, page_token=first.next_page_token),
        api_pb2.ListDecisionsRequest(page_token="bm90IGEgdG9rZW4"),
        api_pb2.ListDecisionsRequest(page_token="%%%"),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.ListDecisions(request, metadata=AUDITOR)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert _fields(err.value) == ["pageToken"]


@pytest.mark.parametrize(
    ("request_", "fields"),
    [
        (api_pb2.ListDecisionsRequest(measure=13), ["measure"]),
        (api_pb2.ListDecisionsRequest(rule_id="m99.nothing"), ["ruleId"]),
        (api_pb2.ListDecisionsRequest(enterprise_id="91320500MA0000001"), ["enterpriseId"]),
        (api_pb2.ListDecisionsRequest(enterprise_id=TOP_UP[:-1] + "0"), ["enterpriseId"]),
        (api_pb2.ListDecisionsRequest(district=999), ["district"]),  # type: ignore[arg-type]
        (api_pb2.ListDecisionsRequest(status=dpb.ELIGIBLE), ["status"]),
        (api_pb2.ListDecisionsRequest(year=-2025), ["year"]),
        (api_pb2.ListDecisionsRequest(page_size=-1), ["pageSize"]),
        (api_pb2.ListDecisionsRequest(measure=0, year=10_000, rule_id="x"), ["ruleId", "year"]),
    ],
    ids=["measure", "rule", "short-id", "check-char", "district", "eligible", "year", "size",
         "several"],
)  # fmt: skip
async def test_a_bad_filter_is_invalid_argument_naming_it(
    stub: Any, request_: api_pb2.ListDecisionsRequest, fields: list[str]
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.ListDecisions(request_, metadata=AUDITOR)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert _fields(err.value) == fields


async def test_other_bad_requests_name_their_field(stub: Any) -> None:
    calls = [
        (stub.GetStatement(api_pb2.GetStatementRequest(), metadata=AUDITOR), "enterpriseId"),
        (stub.GetStatement(api_pb2.GetStatementRequest(enterprise_id=TOP_UP, year=0),
                           metadata=AUDITOR), "year"),
        (stub.ExplainDecision(api_pb2.ExplainDecisionRequest(), metadata=AUDITOR),
         "entitlementId"),
        (stub.GetTotals(api_pb2.GetTotalsRequest(), metadata=AUDITOR), "groupBy"),
    ]  # fmt: skip
    for call, field in calls:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert _fields(err.value) == [field]


async def test_unknown_enterprise_and_entitlement_are_not_found(stub: Any) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.GetStatement(
            api_pb2.GetStatementRequest(enterprise_id=STRANGER), metadata=AUDITOR
        )
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert STRANGER in (err.value.details() or "")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.ExplainDecision(
            api_pb2.ExplainDecisionRequest(entitlement_id="nowhere/m03.municipal_key_lab"),
            metadata=AUDITOR,
        )
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


# ---- ExplainDecision -------------------------------------------------------------------------


def _checks(x: api_pb2.ExplainDecisionResponse) -> dict[tuple[int, str], dict[str, str]]:
    return {(c.revision, c.check): {"outcome": c.outcome, **c.numbers} for c in x.checks}


async def test_explain_a_top_up(stub: Any) -> None:
    x = await stub.ExplainDecision(
        api_pb2.ExplainDecisionRequest(entitlement_id=PROVINCIAL), metadata=AUDITOR
    )
    assert x.decision.entitlement_id == PROVINCIAL
    assert dpb.Status.Name(x.decision.status) == "PAID"
    assert x.decision.cash_delta_fen == 19_000_000 * YUAN  # cash moved: the difference
    checks = _checks(x)
    assert checks[(1, "stacking")] == {
        "outcome": "ok",
        "thisRuleTotal": "¥20,000,000.00",
        "bestOtherRule": "m03.municipal_key_lab",
        "bestOtherTotal": "¥1,000,000.00",
    }
    assert checks[(1, "top_up")] == {
        "outcome": "ok",
        "granted": "¥20,000,000.00",
        "alreadyPaidOnItem": "¥1,000,000.00",
        "cashMoved": "¥19,000,000.00",
    }
    assert checks[(1, "item_cap")]["headroomAfter"] == "¥0.00"
    assert checks[(1, "window")]["occurredOn"] == "2025-09-01"
    assert [(h.revision, dpb.Status.Name(h.status)) for h in x.history] == [(1, "PAID")]
    # The grant it superseded on the same lab: paid, then SUPERSEDED by this event.
    assert [
        (h.entitlement_id, h.revision, dpb.Status.Name(h.status), h.caused_by_event_id)
        for h in x.item_history
    ] == [
        (MUNICIPAL, 1, "PAID", "api-topup-1"),
        (MUNICIPAL, 2, "SUPERSEDED", "api-topup-2"),
    ]
    trace = {t.key: (t.label_zh, t.label_en, t.value) for t in x.eligibility_trace}
    assert trace, "the eligibility trace is stored with the entitlement"
    assert all(zh and en for zh, en, _ in trace.values())


async def test_explain_the_superseded_grant(stub: Any) -> None:
    x = await stub.ExplainDecision(
        api_pb2.ExplainDecisionRequest(entitlement_id=MUNICIPAL), metadata=AUDITOR
    )
    assert [(h.revision, dpb.Status.Name(h.status), h.granted_fen) for h in x.history] == [
        (1, "PAID", 1_000_000 * YUAN),
        (2, "SUPERSEDED", 0),
    ]
    assert x.decision == x.history[-1]
    assert _checks(x)[(2, "superseded")] == {
        "outcome": "SUPERSEDED",
        "byEntitlement": PROVINCIAL,
        "byTotal": "¥20,000,000.00",
    }
    assert [h.entitlement_id for h in x.item_history] == [PROVINCIAL]


# ---- GetTotals -------------------------------------------------------------------------------


def _expected_totals(ledger: Ledger) -> dict[str, dict[str, tuple[int, int, int]]]:
    """From `subsidy simulate`'s output, the catalog and the events: (granted, count, shared)."""
    district: dict[str, str] = {}
    for raw in ledger.events:
        district.setdefault(raw["eventId"], raw["district"])
    sums: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0, 0]))
    for e in ledger.contract["entitlements"]:
        if e["status"] not in ("PAID", "PARTIALLY_PAID"):
            continue
        rule = CATALOG.rule(e["ruleId"])
        units = sorted(set(rule.responsible_units))
        keys = {
            "MEASURE": [str(rule.measure)],
            "RULE": [rule.id],
            "DISTRICT": [district[e["eventId"]]],
            "YEAR": [str(e["year"])],
            "FUNDING_CHANNEL": units,
        }
        for group, group_keys in keys.items():
            for key in group_keys:
                row = sums[group][key]
                row[0] += e["grantedFen"]
                row[1] += 1
                if group == "FUNDING_CHANNEL" and len(units) > 1:
                    row[2] += e["grantedFen"]
    return {g: {k: (v[0], v[1], v[2]) for k, v in rows.items()} for g, rows in sums.items()}


@pytest.mark.parametrize("group", ["MEASURE", "RULE", "DISTRICT", "YEAR", "FUNDING_CHANNEL"])
async def test_totals_equal_sums_over_simulate(stub: Any, ledger: Ledger, group: str) -> None:
    expected = _expected_totals(ledger)[group]
    t = await stub.GetTotals(
        api_pb2.GetTotalsRequest(group_by=api_pb2.TotalsGroup.Value(group)), metadata=AUDITOR
    )
    assert {r.key: (r.granted_fen, r.entitlements, r.shared_fen) for r in t.totals} == expected
    granted = [e for e in ledger.contract["entitlements"]
               if e["status"] in ("PAID", "PARTIALLY_PAID")]  # fmt: skip
    assert t.granted_fen == sum(e["grantedFen"] for e in granted) > 0
    assert t.entitlements == len(granted)
    if group == "FUNDING_CHANNEL":  # shared payouts are listed under each of their units
        assert sum(r.granted_fen for r in t.totals) > t.granted_fen
        assert sum(r.granted_fen - r.shared_fen for r in t.totals) < t.granted_fen
    else:
        assert sum(r.granted_fen for r in t.totals) == t.granted_fen
    if group in ("MEASURE", "YEAR"):
        assert [int(r.key) for r in t.totals] == sorted(int(r.key) for r in t.totals)


# ---- VerifyChain, auth, the read-only role, metrics --------------------------------------------


async def test_verify_chain_is_ok_and_sets_the_gauge(stub: Any, ledger: Ledger) -> None:
    result = await stub.VerifyChain(api_pb2.VerifyChainRequest(), metadata=AUDITOR)
    entries = await fetch(ledger.owner_url, "SELECT count(*) FROM entries")
    assert (result.ok, result.entries_checked, result.first_broken_entry) == (
        True, entries[0][0], "")  # fmt: skip
    assert _sample("subsidy_ledger_chain_ok") == 1
    assert _sample("subsidy_ledger_chain_entries_checked") == entries[0][0]


@pytest.mark.parametrize(
    ("metadata", "code"),
    [
        ((), grpc.StatusCode.UNAUTHENTICATED),
        ((("authorization", "Bearer not-a-token"),), grpc.StatusCode.UNAUTHENTICATED),
        ((("authorization", f"Basic {AUDITOR_TOKEN}"),), grpc.StatusCode.UNAUTHENTICATED),
        ((("authorization", f"Bearer {WRITER_TOKEN}"),), grpc.StatusCode.PERMISSION_DENIED),
    ],
    ids=["none", "unknown", "not-bearer", "writer"],
)
async def test_only_auditors_may_call(
    stub: Any, metadata: tuple[tuple[str, str], ...], code: grpc.StatusCode
) -> None:
    before = _sample("subsidy_ledger_api_refused_total", code=code.name)
    for call in (
        stub.GetStatement(api_pb2.GetStatementRequest(enterprise_id=TOP_UP), metadata=metadata),
        stub.ListDecisions(api_pb2.ListDecisionsRequest(), metadata=metadata),
        stub.VerifyChain(api_pb2.VerifyChainRequest(), metadata=metadata),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call
        assert err.value.code() == code
    assert _sample("subsidy_ledger_api_refused_total", code=code.name) == before + 3


async def test_every_auditor_token_works_and_health_is_open(ledger: Ledger) -> None:
    async with grpc.aio.insecure_channel(ledger.address) as channel:
        stub: Any = api_pb2_grpc.LedgerServiceStub(channel)
        s = await stub.GetStatement(
            api_pb2.GetStatementRequest(enterprise_id=REVOKED),
            metadata=(("authorization", f"bearer second-{AUDITOR_TOKEN}"),),
        )
        assert s.clawback_fen == 1_000_000 * YUAN
        health = health_pb2_grpc.HealthStub(channel)
        checked = await health.Check(health_pb2.HealthCheckRequest(service=SERVICE_NAME))
        assert checked.status == health_pb2.HealthCheckResponse.SERVING


async def test_the_api_role_can_read_but_never_write(ledger: Ledger) -> None:
    conn = await asyncpg.connect(ledger.reader_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM entries") > 0
        for statement in (
            "INSERT INTO enterprises (enterprise_id) VALUES ('91320500MA9999999X')",
            "UPDATE entitlements SET granted_fen = granted_fen + 1",
            "DELETE FROM outbox",
            "TRUNCATE inbox",
            "CREATE TABLE mine (x int)",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(statement)
    finally:
        await conn.close()


async def test_the_api_refuses_a_role_that_can_write(ledger: Ledger) -> None:
    with pytest.raises(DatabaseRoleError, match="INSERT on entries"):
        await start_api(api_settings(ledger.owner_url), CATALOG)
    allowed = await start_api(
        api_settings(ledger.owner_url, LEDGER_API_ALLOW_WRITABLE_ROLE=True), CATALOG
    )
    await allowed.stop(grace=0)


async def test_metrics_latency_by_method_and_outbox_backlog(stub: Any, ledger: Ledger) -> None:
    before = _sample("subsidy_ledger_api_request_seconds_count", method="GetTotals")
    await stub.GetTotals(api_pb2.GetTotalsRequest(group_by=api_pb2.RULE), metadata=AUDITOR)
    assert _sample("subsidy_ledger_api_request_seconds_count", method="GetTotals") == before + 1
    unsent = await fetch(ledger.owner_url, "SELECT count(*) FROM outbox WHERE sent_at IS NULL")
    assert unsent[0][0] > 0  # no relay ran: every decision waits
    for _ in range(100):
        if _sample("subsidy_ledger_outbox_backlog") == unsent[0][0]:
            break
        await asyncio.sleep(0.05)
    assert _sample("subsidy_ledger_outbox_backlog") == unsent[0][0]
    assert _sample("subsidy_ledger_outbox_oldest_unsent_seconds") > 0


async def test_a_tampered_chain_is_reported_and_the_gauge_drops(
    ledger_db: LedgerDb, fresh_database_url: str
) -> None:
    await feed(ledger_db.url, known_events()[:5])
    api = await start_api(api_settings(ledger_db.url, LEDGER_API_ALLOW_WRITABLE_ROLE=True), CATALOG)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{api.port}") as channel:
            stub: Any = api_pb2_grpc.LedgerServiceStub(channel)
            assert (await stub.VerifyChain(api_pb2.VerifyChainRequest(), metadata=AUDITOR)).ok
            ledger_db.tampered = True
            conn = await asyncpg.connect(ledger_db.superuser_url)
            try:
                async with conn.transaction():
                    await conn.execute("ALTER TABLE entries DISABLE TRIGGER entries_append_only")
                    await conn.execute(
                        "UPDATE entries SET amount_fen = amount_fen + 100 WHERE enterprise_id = $1"
                        " AND seq = 1",
                        TOP_UP,
                    )
                    await conn.execute("ALTER TABLE entries ENABLE TRIGGER entries_append_only")
            finally:
                await conn.close()
            result = await stub.VerifyChain(api_pb2.VerifyChainRequest(), metadata=AUDITOR)
    finally:
        await api.stop(grace=0)
    assert not result.ok
    assert result.first_broken_entry == f"{TOP_UP}#1"
    assert "altered" in result.detail
    assert _sample("subsidy_ledger_chain_ok") == 0


# ---- the CLI ---------------------------------------------------------------------------------


async def _cli(ledger: Ledger, *args: str, token: str | None = AUDITOR_TOKEN) -> Any:
    env = {"SUBSIDY_LEDGER_TOKEN": token} if token else {"SUBSIDY_LEDGER_TOKEN": ""}
    return await asyncio.to_thread(
        CliRunner().invoke, app, ["ledger", *args, "--server", ledger.address], env=env
    )


async def test_cli_statement_table_and_json(ledger: Ledger) -> None:
    result = await _cli(ledger, "statement", TOP_UP)
    assert result.exit_code == 0, result.output
    out = result.output
    for text in (
        "m03.municipal_key_lab",
        "SUPERSEDED",
        "m03.provincial_key_lab",
        "PAID",
        "¥20,000,000.00",
        "¥1,000,000.00",
        "m08.compute_voucher",
        "¥200,000.00",
        "3 entitlement(s); granted 已拨付 ¥20,200,000.00, clawback 应追回 ¥0.00",
    ):
        assert text in out, text  # fmt: skip
    row = next(line for line in out.splitlines() if "m03.provincial_key_lab" in line)
    assert all(cell in row for cell in ("lab-X", "2025", "PAID", "¥20,000,000.00"))

    result = await _cli(ledger, "statement", REVOKED, "--year", "2025", "--format", "json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert (body["grantedFen"], body["clawbackFen"]) == (0, 1_000_000 * YUAN)
    (entitlement,) = body["entitlements"]
    assert entitlement["status"] == "REVOKED"
    assert entitlement["clawbackFen"] == 1_000_000 * YUAN


async def test_cli_explain_reads_like_an_audit_trail(ledger: Ledger) -> None:
    result = await _cli(ledger, "explain", PROVINCIAL)
    assert result.exit_code == 0, result.output
    out = result.output
    for text in (
        f"Entitlement 资格 {PROVINCIAL}",
        "#1 就高不重复 / no stacking (G2): ok",
        "bestOtherRule: m03.municipal_key_lab",
        "thisRuleTotal: ¥20,000,000.00",
        "#1 补差 / top-up: ok",
        "cashMoved: ¥19,000,000.00",
        "cash +¥19,000,000.00",
        f"{MUNICIPAL} #2 SUPERSEDED",
        "Eligibility trace 资格判定",
    ):
        assert text in out, text
    trace = out.split("Eligibility trace 资格判定\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert trace
    assert all(" / " in line and ": " in line for line in trace)


async def test_cli_totals_and_errors(ledger: Ledger) -> None:
    result = await _cli(ledger, "totals", "--by", "channel")
    assert result.exit_code == 0, result.output
    assert "市科技局" in result.output
    assert "listed in full under each" in result.output
    result = await _cli(ledger, "totals", "--by", "measure", "--format", "json")
    assert json.loads(result.stdout)["grantedFen"] == sum(
        e["grantedFen"] for e in ledger.contract["entitlements"]
    )
    unknown = await _cli(ledger, "explain", "nowhere/m03.municipal_key_lab")
    assert unknown.exit_code == 1
    assert "NOT_FOUND" in unknown.output
    bad = await _cli(ledger, "statement", "not-an-id")
    assert bad.exit_code == 2
    assert "enterpriseId:" in bad.output
    refused = await _cli(ledger, "statement", TOP_UP, token=WRITER_TOKEN)
    assert refused.exit_code == 3
    assert "PERMISSION_DENIED" in refused.output
    missing = await _cli(ledger, "statement", TOP_UP, token=None)
    assert missing.exit_code == 2
    assert "no token" in missing.output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def test_subsidy_ledger_serve_answers_and_stops_on_sigterm(ledger: Ledger) -> None:
    port = _free_port()
    env = {**os.environ, "LEDGER_API_DATABASE_URL": ledger.reader_url,
           "LEDGER_API_AUDITOR_TOKENS": AUDITOR_TOKEN, "LEDGER_API_GRPC_ADDRESS":
           f"127.0.0.1:{port}", "LOG_LEVEL": "WARNING"}  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        str(SUBSIDY), "ledger", "serve", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            await asyncio.wait_for(channel.channel_ready(), timeout=60)
            stub: Any = api_pb2_grpc.LedgerServiceStub(channel)
            t = await stub.GetTotals(
                api_pb2.GetTotalsRequest(group_by=api_pb2.YEAR), metadata=AUDITOR
            )
            assert t.granted_fen > 0
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, stderr.decode()


async def test_subsidy_ledger_serve_needs_its_settings(ledger: Ledger) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_API_")}
    env["DATABASE_URL"] = ledger.owner_url  # the worker's URL is not the API's
    done = await asyncio.to_thread(
        subprocess.run, [str(SUBSIDY), "ledger", "serve"], env=env, capture_output=True,
        text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "LEDGER_API_DATABASE_URL" in done.stderr
    assert "LEDGER_API_AUDITOR_TOKENS" in done.stderr
