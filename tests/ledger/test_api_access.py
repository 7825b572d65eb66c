"""LedgerService beyond its queries."""

# The chain check, who may call, the read-only role, metrics, and the `subsidy ledger` commands that
# call it.

import asyncio
import json
import os
import signal
import subprocess
from datetime import datetime
from typing import Any

import asyncpg
import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from structlog.testing import capture_logs
from typer.testing import CliRunner

from subsidy.api.v1 import api_pb2, api_pb2_grpc
from subsidy.cli.main import app
from subsidy.harness.processes import free_port
from subsidy.infra.db_roles import DatabaseRoleError
from subsidy.infra.grpc_tls import CA_ENV, PLAINTEXT_ENV
from subsidy.ledger.api import SERVICE_NAME
from subsidy.ledger.bootstrap import ledger_api
from tests.ledger.api import (
    AUDITOR,
    AUDITOR_PRINCIPAL,
    AUDITOR_TOKEN,
    MUNICIPAL,
    PROVINCIAL,
    REVOKED,
    SUBSIDY,
    TOP_UP,
    WRITER_TOKEN,
    Ledger,
    api_sample,
    api_settings,
    auditors,
    feed,
    known_events,
)
from tests.ledger.database import LedgerDb, as_role, fetch
from tests.ledger.events import CATALOG, YUAN
from tests.support.grpc_tls import GrpcTls

# The fixture ledger_db (for the tamper test).
pytestmark = [pytest.mark.postgres]

# ---- VerifyChain, auth, the read-only role, metrics --------------------------------------------


async def test_verify_chain_is_ok_and_sets_the_gauge(stub: Any, ledger: Ledger) -> None:
    result = await stub.VerifyChain(api_pb2.VerifyChainRequest(), metadata=AUDITOR)
    entries = await fetch(ledger.owner_url, "SELECT count(*) FROM entries")
    assert (result.ok, result.entries_checked, result.first_broken_entry) == (
        True, entries[0][0], "")  # fmt: skip
    assert api_sample("subsidy_ledger_chain_ok") == 1
    assert api_sample("subsidy_ledger_chain_entries_checked") == entries[0][0]


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
    before = api_sample("subsidy_ledger_api_refused_total", code=code.name)
    for call in (
        stub.GetStatement(api_pb2.GetStatementRequest(enterprise_id=TOP_UP), metadata=metadata),
        stub.ListDecisions(api_pb2.ListDecisionsRequest(), metadata=metadata),
        stub.VerifyChain(api_pb2.VerifyChainRequest(), metadata=metadata),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call
        assert err.value.code() == code
    assert api_sample("subsidy_ledger_api_refused_total", code=code.name) == before + 3


async def test_every_auditor_token_works_and_health_is_open(ledger: Ledger) -> None:
    async with ledger.tls.channel(ledger.address) as channel:
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
    writer = as_role(ledger.owner_url, "ledger_worker")
    with pytest.raises(DatabaseRoleError, match="INSERT on entries"):
        async with ledger_api(api_settings(writer, ledger.tls), CATALOG):
            pass
    writable = api_settings(writer, ledger.tls, LEDGER_API_ALLOW_WRITABLE_ROLE=True)
    async with ledger_api(writable, CATALOG, grace=0):
        pass
    # The owner never, whatever the setting: it could disable the journal's triggers.
    owner = api_settings(ledger.owner_url, ledger.tls, LEDGER_API_ALLOW_WRITABLE_ROLE=True)
    with pytest.raises(DatabaseRoleError, match="owns"):
        async with ledger_api(owner, CATALOG):
            pass


async def test_metrics_latency_by_method_and_outbox_backlog(stub: Any, ledger: Ledger) -> None:
    before = api_sample("subsidy_ledger_api_request_seconds_count", method="GetTotals")
    await stub.GetTotals(api_pb2.GetTotalsRequest(group_by=api_pb2.RULE), metadata=AUDITOR)
    assert api_sample("subsidy_ledger_api_request_seconds_count", method="GetTotals") == before + 1
    unsent = await fetch(ledger.owner_url, "SELECT count(*) FROM outbox WHERE sent_at IS NULL")
    assert unsent[0][0] > 0  # no relay ran: every decision waits
    for _ in range(100):
        if api_sample("subsidy_ledger_outbox_backlog") == unsent[0][0]:
            break
        await asyncio.sleep(0.05)
    assert api_sample("subsidy_ledger_outbox_backlog") == unsent[0][0]
    assert api_sample("subsidy_ledger_outbox_oldest_unsent_seconds") > 0


async def test_a_tampered_chain_is_reported_and_the_gauge_drops(
    ledger_db: LedgerDb, fresh_database_url: str, grpc_tls: GrpcTls
) -> None:
    await feed(ledger_db.url, known_events()[:5])
    writable = api_settings(ledger_db.url, grpc_tls, LEDGER_API_ALLOW_WRITABLE_ROLE=True)
    async with (
        ledger_api(writable, CATALOG, grace=0) as api,
        grpc_tls.channel(f"127.0.0.1:{api.port}") as channel,
    ):
        stub: Any = api_pb2_grpc.LedgerServiceStub(channel)
        assert (await stub.VerifyChain(api_pb2.VerifyChainRequest(), metadata=AUDITOR)).ok
        ledger_db.tampered = True
        conn = await asyncpg.connect(ledger_db.owner_url)
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
    assert not result.ok
    assert result.first_broken_entry == f"{TOP_UP}#1"
    assert "altered" in result.detail
    assert api_sample("subsidy_ledger_chain_ok") == 0


# ---- the CLI ---------------------------------------------------------------------------------


async def _cli(
    ledger: Ledger, *args: str, token: str | None = AUDITOR_TOKEN, tls: bool = True
) -> Any:
    # The TLS options are the arguments' alone (with tls, the CA), whatever the shell has set.
    env = {"SUBSIDY_LEDGER_TOKEN": token or "", CA_ENV: None, PLAINTEXT_ENV: None}
    where = ["--server", ledger.address, *(ledger.tls.cli_args() if tls else [])]
    # The API serves in this process: its log lines (each read is logged) are kept out of the
    # CLI's captured output.
    with capture_logs():
        return await asyncio.to_thread(CliRunner().invoke, app, ["ledger", *args, *where], env=env)


async def test_every_read_is_logged_with_the_readers_principal(ledger: Ledger) -> None:
    with capture_logs() as logs:
        result = await asyncio.to_thread(
            CliRunner().invoke, app, ["ledger", "statement", TOP_UP, "--server", ledger.address,
                                      *ledger.tls.cli_args()],
            env={"SUBSIDY_LEDGER_TOKEN": AUDITOR_TOKEN},
        )  # fmt: skip
    assert result.exit_code == 0, result.output
    reads = [e for e in logs if e["event"] == "api.read"]
    assert reads == [
        {"event": "api.read", "log_level": "info", "principal": AUDITOR_PRINCIPAL,
         "method": "/subsidy.api.v1.LedgerService/GetStatement", "enterprise_id": TOP_UP}
    ]  # fmt: skip
    assert AUDITOR_TOKEN not in repr(logs)


async def test_cli_statement_table_and_json(ledger: Ledger) -> None:
    result = await _cli(ledger, "statement", TOP_UP)
    assert result.exit_code == 0, result.output
    out = result.output
    for text in (
        "m03.municipal_key_lab",
        "已由更高支持替代",
        "m03.provincial_key_lab",
        "已拨付",
        "¥20,000,000.00",
        "¥1,000,000.00",
        "m08.compute_voucher",
        "¥200,000.00",
        "共 3 项资格；已拨付 ¥20,200,000.00（2,020.00万元），应追回 ¥0.00（0.00万元）",
    ):
        assert text in out, text  # fmt: skip
    row = next(line for line in out.splitlines() if "m03.provincial_key_lab" in line)
    assert all(cell in row for cell in ("lab-X", "2025", "已拨付", "¥20,000,000.00"))
    english = await _cli(ledger, "statement", TOP_UP, "--lang", "en")
    assert "3 entitlement(s); granted ¥20,200,000.00 (2,020.00万元)" in english.output
    assert "Superseded by higher support" in english.output

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
    # Chinese by default: statuses, checks, outcomes, district and measure in words, Beijing time.
    for text in (
        f"资格 {PROVINCIAL}",
        "（苏州工业园区）",
        "（第3条）",
        "状态：已拨付",
        "#1 就高不重复：通过",
        "其他最高规则：m03.municipal_key_lab",
        "本规则合计：¥20,000,000.00",
        "#1 补差：通过",
        "本次拨款 +¥19,000,000.00",
        f"{MUNICIPAL} #2 已由更高支持替代",
        "\n资格判定\n",
        "\n变更记录\n",
    ):
        assert text in out, text
    assert "+08:00；" in out  # each decision's time, in Beijing time
    for code in ("PAID", "SUPERSEDED", ": ok", "SIP", "Eligibility trace", "bestOtherRule"):
        assert code not in out, code
    trace = out.split("\n资格判定\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert trace
    assert all(" / " not in line and "：" in line for line in trace)

    english = (await _cli(ledger, "explain", PROVINCIAL, "--lang", "en")).output
    for text in (
        f"Entitlement {PROVINCIAL}",
        "(Suzhou Industrial Park)",
        "(Measure 3)",
        "status: Paid",
        "#1 no stacking (G2): passed",
        "#1 top-up: passed",
        "best other rule: m03.municipal_key_lab",
        "cash +¥19,000,000.00",
        f"{MUNICIPAL} #2 Superseded by higher support",
        "\nEligibility trace\n",
    ):
        assert text in english, text
    assert "资格判定" not in english

    # JSON keeps the contract's codes and offsets, whatever the language.
    as_json = await _cli(ledger, "explain", PROVINCIAL, "--format", "json")
    assert as_json.exit_code == 0, as_json.output
    assert (await _cli(ledger, "explain", PROVINCIAL, "--format", "json", "--lang", "en")).stdout \
        == as_json.stdout  # fmt: skip
    body = json.loads(as_json.stdout)
    assert body["decision"]["status"] == "PAID"
    assert body["decision"]["district"] == "SIP"
    assert datetime.fromisoformat(body["decision"]["decidedAt"]).utcoffset() is not None


async def test_cli_totals_and_errors(ledger: Ledger) -> None:
    result = await _cli(ledger, "totals", "--by", "channel")
    assert result.exit_code == 0, result.output
    assert "市科技局" in result.output
    assert "在每个单位下全额列出" in result.output
    english = await _cli(ledger, "totals", "--by", "district", "--lang", "en")
    assert "Suzhou Industrial Park" in english.output
    assert "Kunshan" in english.output
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
    # Without the CA the server's certificate vouches for nothing: no call, exit 3.
    unchecked = await _cli(ledger, "statement", TOP_UP, tls=False)
    assert unchecked.exit_code == 3, unchecked.output
    assert "handshake failed" in unchecked.output.lower()
    plain = await _cli(ledger, "statement", TOP_UP, "--plaintext", tls=False)
    assert plain.exit_code == 3, plain.output
    assert "UNAVAILABLE" in plain.output


async def test_subsidy_ledger_serve_answers_and_stops_on_sigterm(ledger: Ledger) -> None:
    port = free_port()
    env = {**os.environ, "LEDGER_API_DATABASE_URL": ledger.reader_url,
           "LEDGER_API_AUDITOR_TOKENS": auditors(AUDITOR_TOKEN), "LEDGER_API_GRPC_ADDRESS":
           f"127.0.0.1:{port}", "LOG_LEVEL": "WARNING", **ledger.tls.env()}  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        str(SUBSIDY), "ledger", "serve", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        async with ledger.tls.channel(f"127.0.0.1:{port}") as channel:
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
