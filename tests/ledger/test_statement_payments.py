"""GetStatement's payments."""

# Each payment order of an enterprise where the payouts left it, in the words a person reads
# (Chinese and English), what it owes back, the year filter and `subsidy ledger statement`; and the
# words' mapping, in both languages, against every (state, hold) payment_orders' CHECK constraints
# admit.

import asyncio
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import asyncpg
import pytest
from structlog.testing import capture_logs
from typer.testing import CliRunner

from subsidy.api.v1 import api_pb2, api_pb2_grpc
from subsidy.cli.main import app
from subsidy.domain.payouts.order_status import (
    ImpossibleOrderStatus,
    possible,
    status_en,
    status_words,
    status_zh,
)
from subsidy.domain.payouts.orders import Hold, OrderState
from subsidy.harness.databases import create_schema, migrate_platform
from subsidy.infra.cli_output import Lang
from subsidy.infra.grpc_tls import CA_ENV, PLAINTEXT_ENV
from subsidy.ledger.bootstrap import ledger_api
from subsidy.ledger.report import payment_lines
from tests.ledger.api import AUDITOR, AUDITOR_TOKEN, api_settings
from tests.ledger.database import as_role
from tests.ledger.events import CATALOG, YUAN
from tests.ledger.payments_seed import ACME, BETA, GAMMA, KUNSHAN, MIIT, SCIENCE, SIP, seed
from tests.ledger.payments_seed import RETURN_REASON as REASON
from tests.support.grpc_tls import GrpcTls

CENTRE, CONSORTIUM = "m03.provincial_engineering_center", "m04.innovation_consortium"
SERVICE, EXPO = "m05.service_platform", "m06.exhibition"


@dataclass
class Paid:
    """The seeded schema (owner's URL), the ledger API on it, and the day the bank paid."""

    owner_url: str
    address: str
    tls: GrpcTls
    paid_on: str


@pytest.fixture(scope="module")
async def paid(
    fresh_database_url: str, tmp_path_factory: pytest.TempPathFactory, grpc_tls: GrpcTls
) -> AsyncIterator[Paid]:
    _, owner = await create_schema(fresh_database_url, "statement_pay")
    await migrate_platform(owner)
    out: Path = tmp_path_factory.mktemp("payouts")
    paid_on = await seed(owner, as_role(owner, "ledger_worker"), as_role(owner, "payouts"), out)
    settings = api_settings(as_role(owner, "ledger_api"), grpc_tls)
    async with ledger_api(settings, CATALOG, grace=1.0) as api:
        yield Paid(owner, f"127.0.0.1:{api.port}", grpc_tls, paid_on)


async def statement(paid: Paid, enterprise: str, **year: int) -> api_pb2.GetStatementResponse:
    async with paid.tls.channel(paid.address) as channel:
        stub = api_pb2_grpc.LedgerServiceStub(channel)
        request = api_pb2.GetStatementRequest(enterprise_id=enterprise, **year)
        answer: api_pb2.GetStatementResponse = await stub.GetStatement(request, metadata=AUDITOR)
        return answer


def words(s: api_pb2.GetStatementResponse) -> dict[tuple[str, str], str]:
    """(entitlement id, level) → status_zh; every order once."""
    found = {(p.entitlement_id, p.level): p.status_zh for p in s.payments}
    assert len(found) == len(s.payments)
    return found


def english(s: api_pb2.GetStatementResponse) -> dict[tuple[str, str], str]:
    """(entitlement id, level) → status_en; every order once."""
    found = {(p.entitlement_id, p.level): p.status_en for p in s.payments}
    assert len(found) == len(s.payments)
    return found


def chinese_day(iso: str) -> str:
    d = date.fromisoformat(iso)
    return f"{d.year}年{d.month}月{d.day}日"


def english_day(iso: str) -> str:
    """`14 Mar 2026`, written out here rather than through the locale."""
    d = date.fromisoformat(iso)
    month = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    return f"{d.day} {month[d.month - 1]} {d.year}"


async def test_each_order_of_an_enterprise_says_where_its_money_is(paid: Paid) -> None:
    s = await statement(paid, ACME)
    assert words(s) == {
        (f"lab-a/{CENTRE}", "city"): f"已拨付（{chinese_day(paid.paid_on)}）",
        (f"lab-a/{CENTRE}", "district"): "已纳入拨付批次",
        (f"cons-a/{CONSORTIUM}", "city"): "预算不足暂缓",
        (f"cons-a/{CONSORTIUM}", "district"): "已纳入拨付批次",
        # Decided on 7-10: on notice seven days, its last day 7-16.
        (f"svc-a/{SERVICE}", "city"): "公示中（至 2025年7月16日）",
        (f"svc-a/{SERVICE}", "district"): "公示中（至 2025年7月16日）",
        (f"expo-a/{EXPO}", "city"): "有异议暂缓",
        (f"expo-a/{EXPO}", "district"): "有异议暂缓",
        (f"expo-a2/{EXPO}", "city"): "待公示",
        (f"expo-a2/{EXPO}", "district"): "待公示",
    }
    assert english(s) == {
        (f"lab-a/{CENTRE}", "city"): f"Paid ({english_day(paid.paid_on)})",
        (f"lab-a/{CENTRE}", "district"): "In a payment batch",
        (f"cons-a/{CONSORTIUM}", "city"): "On hold: the budget is short",
        (f"cons-a/{CONSORTIUM}", "district"): "In a payment batch",
        (f"svc-a/{SERVICE}", "city"): "On public notice until 16 Jul 2025",
        (f"svc-a/{SERVICE}", "district"): "On public notice until 16 Jul 2025",
        (f"expo-a/{EXPO}", "city"): "On hold: an objection was raised",
        (f"expo-a/{EXPO}", "district"): "On hold: an objection was raised",
        (f"expo-a2/{EXPO}", "city"): "Awaiting public notice",
        (f"expo-a2/{EXPO}", "district"): "Awaiting public notice",
    }
    by = {(p.entitlement_id, p.level): p for p in s.payments}
    paid_city = by[(f"lab-a/{CENTRE}", "city")]
    assert (paid_city.state, paid_city.hold, paid_city.paid_on) == ("PAID_OUT", "", paid.paid_on)
    assert (paid_city.channel, paid_city.amount_fen) == (SCIENCE, 2_500_000 * YUAN)
    budget = by[(f"cons-a/{CONSORTIUM}", "city")]
    assert (budget.state, budget.hold, budget.paid_on) == ("WAITING", "BUDGET", "")
    notice = by[(f"svc-a/{SERVICE}", "district")]
    assert (notice.channel, notice.notice_until, notice.amount_fen) == (
        SIP, "2025-07-17", 250_000 * YUAN)  # fmt: skip
    assert by[(f"svc-a/{SERVICE}", "city")].channel == MIIT
    # The paid certificate was withdrawn after the batches: all of it owed back, nothing of it
    # set off yet (the other orders wait for notice, objection or budget, or are in a batch).
    assert s.clawback_fen == s.owed_back_fen == 5_000_000 * YUAN
    assert {p.entitlement_id for p in s.payments} <= {d.entitlement_id for d in s.entitlements}


async def test_returned_payable_set_off_and_no_account(paid: Paid) -> None:
    gamma = await statement(paid, GAMMA)
    assert words(gamma) == {
        (f"lab-g/{CENTRE}", "city"): f"银行退回：{REASON}",
        (f"lab-g/{CENTRE}", "district"): "待拨付",
    }
    assert english(gamma) == {
        (f"lab-g/{CENTRE}", "city"): f"Returned by the bank: {REASON}",
        (f"lab-g/{CENTRE}", "district"): "To be paid",
    }
    city, district = gamma.payments
    assert (city.state, city.hold, city.return_reason) == ("WAITING", "RETURNED", REASON)
    # 昆山 carries seven tenths of a city-level award.
    assert (city.amount_fen, district.amount_fen) == (1_500_000 * YUAN, 3_500_000 * YUAN)
    assert (district.channel, district.state, district.hold) == (KUNSHAN, "PAYABLE", "")
    assert gamma.owed_back_fen == 0

    beta = await statement(paid, BETA)
    assert words(beta) == {
        (f"lab-b/{CENTRE}", "city"): "已全额抵扣应退款项",
        (f"lab-b/{CENTRE}", "district"): "已全额抵扣应退款项",
        (f"lab-b2/{CENTRE}", "city"): "待登记收款账户",
        (f"lab-b2/{CENTRE}", "district"): "待登记收款账户",
    }
    assert english(beta) == {
        (f"lab-b/{CENTRE}", "city"): "Set off in full against money owed back",
        (f"lab-b/{CENTRE}", "district"): "Set off in full against money owed back",
        (f"lab-b2/{CENTRE}", "city"): "Waiting for a payee account to be registered",
        (f"lab-b2/{CENTRE}", "district"): "Waiting for a payee account to be registered",
    }
    settled = [p for p in beta.payments if p.state == "SETTLED"]
    assert [p.set_off_fen for p in settled] == [p.amount_fen for p in settled] == [
        2_500_000 * YUAN, 2_500_000 * YUAN]  # fmt: skip
    # The withdrawn award's own unpaid orders settled the debt: owed back on the ledger's
    # books, nothing left to collect.
    assert (beta.clawback_fen, beta.owed_back_fen) == (5_000_000 * YUAN, 0)


async def test_the_year_filter_takes_the_orders_year(paid: Paid) -> None:
    other = await statement(paid, ACME, year=2026)
    assert (list(other.entitlements), list(other.payments), other.owed_back_fen) == ([], [], 0)
    same = await statement(paid, ACME, year=2025)
    assert words(same) == words(await statement(paid, ACME))
    assert english(same) == english(await statement(paid, ACME))
    assert same.owed_back_fen == 5_000_000 * YUAN


async def test_payments_agree_with_the_payouts_tables(paid: Paid) -> None:
    """Every order of the enterprise, in the order the payouts took them in, as stored."""
    conn = await asyncpg.connect(paid.owner_url)
    try:
        rows = await conn.fetch(
            "SELECT order_id, amount_fen, set_off_fen FROM payment_orders"
            " WHERE enterprise_id = $1 ORDER BY seq",
            ACME,
        )
    finally:
        await conn.close()
    s = await statement(paid, ACME)
    assert [(p.order_id, p.amount_fen, p.set_off_fen) for p in s.payments] == [
        tuple(r) for r in rows
    ]


async def _cli(paid: Paid, *args: str) -> str:
    env = {"SUBSIDY_LEDGER_TOKEN": AUDITOR_TOKEN, CA_ENV: None, PLAINTEXT_ENV: None}
    where = ["--server", paid.address, *paid.tls.cli_args()]
    with capture_logs():  # the API's log lines stay out of the command's output
        result = await asyncio.to_thread(
            CliRunner().invoke, app, ["ledger", "statement", *args, *where], env=env
        )
    assert result.exit_code == 0, result.output
    output: str = result.output
    return output


async def test_the_statement_command_prints_a_payment_line_per_entitlement(paid: Paid) -> None:
    out = await _cli(paid, GAMMA)
    assert "\n拨付\n" in out
    (line,) = [ln for ln in out.splitlines() if ln.strip().startswith(f"lab-g/{CENTRE}:")]
    assert f"市级 {SCIENCE} ¥1,500,000.00 银行退回：{REASON}" in line
    assert f"区级 {KUNSHAN} ¥3,500,000.00 待拨付" in line
    assert "尚未退回 ¥0.00（0.00万元）" in out

    beta = await _cli(paid, BETA)
    assert "已全额抵扣应退款项" in beta
    assert "其中抵扣应退款 ¥2,500,000.00" in beta

    english = await _cli(paid, GAMMA, "--lang", "en")
    (line,) = [ln for ln in english.splitlines() if ln.strip().startswith(f"lab-g/{CENTRE}:")]
    assert f"city {SCIENCE} ¥1,500,000.00 Returned by the bank" in line, line
    assert f"district {KUNSHAN} ¥3,500,000.00" in line
    assert "\nPayments\n" in english
    assert "市级" not in english
    assert "待拨付" not in english

    body = json.loads(await _cli(paid, ACME, "--format", "json"))
    assert body["owedBackFen"] == 5_000_000 * YUAN
    first = body["payments"][0]
    assert first["amountFen"] == 2_500_000 * YUAN
    assert first["statusZh"].startswith("已拨付")
    assert first["statusEn"].startswith("Paid (")
    assert len(body["payments"]) == 10


def test_a_granted_entitlement_without_orders_says_so() -> None:
    from subsidy.decisions.v1 import decisions_pb2 as dpb

    granted, denied = dpb.Decision(entitlement_id="e-1", granted_fen=100), dpb.Decision()
    s = api_pb2.GetStatementResponse(entitlements=[granted, denied])
    assert payment_lines(s) == ["e-1: 尚无支付指令"]
    assert payment_lines(s, Lang.en) == ["e-1: no payment order yet"]


# ---- the mapping against the database's constraints ---------------------------------------

_VALUES = re.compile(r"'([A-Z_]+)'::text")


async def _admitted(conn: asyncpg.Connection) -> tuple[set[str], set[str], set[tuple[str, str]]]:
    """The states and holds payment_orders' CHECKs name, and which (state, hold) pairs the
    table takes (hold '' for NULL): each tried in a savepoint of a transaction undone."""
    defs = {
        r["conname"]: r["def"]
        for r in await conn.fetch(
            "SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint"
            " WHERE conrelid = 'payment_orders'::regclass AND contype = 'c'"
        )
    }
    states = set(_VALUES.findall(defs["payment_orders_state_check"]))
    holds = set(_VALUES.findall(defs["payment_orders_hold_check"]))
    taken = set()
    outer = conn.transaction()
    await outer.start()
    try:
        for n, (state, hold) in enumerate(
            (s, h) for s in sorted(states | {"UNKNOWN"}) for h in [*sorted(holds), "", "ODD"]
        ):
            try:
                async with conn.transaction():
                    await conn.execute("INSERT INTO payout_intake (source_id, kind)"
                                       " VALUES ($1, 'grant')", f"d-x{n}")  # fmt: skip
                    await conn.execute(
                        "INSERT INTO payment_orders (order_id, seq, decision_id, entitlement_id,"
                        " enterprise_id, enterprise_name, district, rule_id, year, channel, level,"
                        " amount_fen, decided_on, state, hold, committed, set_off_fen, batch_id,"
                        " return_reason, returned_account) VALUES ($1, $2, $3, 'e', 'x', 'x',"
                        " 'SIP', 'r', 2025, 'c', 'city', 1, '2025-07-01', $4, $5, true, 0, '',"
                        " '', '')",
                        f"PO-X{n}", 100_000 + n, f"d-x{n}", state, hold or None,
                    )  # fmt: skip
            except asyncpg.CheckViolationError:
                continue
            taken.add((state, hold))
    finally:
        await outer.rollback()
    return states, holds, taken


async def test_the_words_cover_exactly_what_payment_orders_admit(paid: Paid) -> None:
    conn = await asyncpg.connect(paid.owner_url)
    try:
        states, holds, taken = await _admitted(conn)
    finally:
        await conn.close()
    # The enums are the CHECKs' lists: no value the table takes lacks its words.
    assert states == {s.value for s in OrderState}
    assert holds == {h.value for h in Hold}
    worded: dict[str, set[tuple[str, str]]] = {"zh": set(), "en": set()}
    for language in ("zh", "en"):
        for state in OrderState:
            for hold in [*Hold, None]:
                try:
                    text = status_words(state, hold, language=language,
                                        notice_until=date(2025, 7, 17), paid_on=date(2025, 7, 11),
                                        return_reason="账户已销户")  # fmt: skip
                except ImpossibleOrderStatus:
                    assert not possible(state, hold)
                    continue
                assert text
                assert possible(state, hold)
                worded[language].add((state.value, hold.value if hold else ""))
    assert worded["zh"] == worded["en"] == taken
    assert len(taken) == len(Hold) + len(OrderState) - 1  # each hold waits; the rest hold none


def test_the_words_name_the_days_and_the_banks_reason() -> None:
    waiting = OrderState.WAITING
    assert status_zh(waiting, Hold.PUBLICITY, notice_until=date(2026, 3, 1)) == (
        "公示中（至 2026年2月28日）")  # fmt: skip
    assert status_zh(waiting, Hold.NEW, notice_until=date(2026, 3, 1)) == "待公示"
    assert status_zh(waiting, Hold.NEW) == "待处理"  # no notice: it goes straight on
    reason = " 账户\n已冻结 "  # as a bank's file may carry it
    assert status_zh("WAITING", "RETURNED", return_reason=reason) == "银行退回：账户 已冻结"
    assert status_zh("PAID_OUT", "", paid_on=date(2026, 1, 5)) == "已拨付（2026年1月5日）"
    for state, hold in (("PAYABLE", "BUDGET"), ("WAITING", None), ("LOST", None)):
        with pytest.raises(ImpossibleOrderStatus):
            status_zh(state, hold)
        with pytest.raises(ImpossibleOrderStatus):
            status_en(state, hold)


def test_the_english_words_name_the_days_and_the_banks_reason() -> None:
    waiting = OrderState.WAITING
    assert status_en(waiting, Hold.PUBLICITY, notice_until=date(2026, 3, 15)) == (
        "On public notice until 14 Mar 2026")  # fmt: skip
    assert status_en(waiting, Hold.PUBLICITY) == "On public notice"
    assert status_en(waiting, Hold.NEW, notice_until=date(2026, 3, 1)) == "Awaiting public notice"
    assert status_en(waiting, Hold.NEW) == "Being processed"
    reason = " 账户\n已冻结 "
    assert status_en("WAITING", "RETURNED", return_reason=reason) == (
        "Returned by the bank: 账户 已冻结")  # fmt: skip
    assert status_en("WAITING", "RETURNED") == "Returned by the bank"
    assert status_en("PAID_OUT", "", paid_on=date(2026, 3, 14)) == "Paid (14 Mar 2026)"
    assert status_en("PAID_OUT", None) == "Paid"
    assert status_en("SETTLED", None) == "Set off in full against money owed back"
    # Each possible (state, hold) has English of its own: no two say the same.
    cases = [(s, h) for s in OrderState for h in [*Hold, None] if possible(s, h)]
    said = {status_en(s, h, notice_until=date(2026, 3, 1)) for s, h in cases}
    assert len(said) == len(cases)
    with pytest.raises(ValueError, match="language"):
        status_words("PAYABLE", None, language="fr")  # type: ignore[arg-type]
