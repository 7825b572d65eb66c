"""`subsidy ledger decisions` and `subsidy ledger verify --server` against the real query API."""

# `decisions` is ListDecisions page by page, `verify --server` VerifyChain with an auditor's token
# only; both run against the real query API over TLS.

import asyncio
import csv
import io
import json
import re
from typing import Any

import asyncpg
import pytest
from structlog.testing import capture_logs
from typer.testing import CliRunner

from subsidy.cli.main import app
from subsidy.infra.grpc_tls import CA_ENV, PLAINTEXT_ENV
from subsidy.ledger.bootstrap import ledger_api
from tests.ledger.api import (
    AUDITOR_TOKEN,
    TOP_UP,
    WRITER_TOKEN,
    Ledger,
    api_settings,
    feed,
    known_events,
)
from tests.ledger.database import LedgerDb, fetch
from tests.ledger.events import CATALOG
from tests.support.grpc_tls import GrpcTls

pytestmark = [pytest.mark.postgres]

# Beijing time to the second with its offset, never microseconds.
BEIJING_SECOND = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+08:00")


async def _run(address: str, tls: GrpcTls, *args: str, token: str = AUDITOR_TOKEN) -> Any:
    env = {"SUBSIDY_LEDGER_TOKEN": token, CA_ENV: None, PLAINTEXT_ENV: None, "COLUMNS": "80",
           "SUBSIDY_LANG": None}  # fmt: skip
    argv = ["ledger", *args, "--server", address, *tls.cli_args()]
    with capture_logs():  # the API serves in this process: its log lines stay out
        return await asyncio.to_thread(CliRunner().invoke, app, argv, env=env)


async def _cli(ledger: Ledger, *args: str, token: str = AUDITOR_TOKEN) -> Any:
    return await _run(ledger.address, ledger.tls, *args, token=token)


async def test_the_pages_hold_every_decision_once(ledger: Ledger) -> None:
    seen: list[str] = []
    token = ""
    for _ in range(100):
        page = await _cli(ledger, "decisions", "--page-size", "17", "--page-token", token,
                          "--format", "json")  # fmt: skip
        assert page.exit_code == 0, page.output
        body = json.loads(page.stdout)
        assert len(body["decisions"]) <= 17
        assert all(isinstance(d["grantedFen"], int) for d in body["decisions"])
        seen += [d["decisionId"] for d in body["decisions"]]
        token = body["nextPageToken"]
        if not token:
            break
    (count,) = await fetch(ledger.owner_url, "SELECT count(*) FROM decisions")
    assert len(seen) == len(set(seen)) == count[0]


async def test_the_table_reads_in_chinese_with_the_next_page_token(ledger: Ledger) -> None:
    first = await _cli(ledger, "decisions", "--enterprise", TOP_UP, "--page-size", "2")
    assert first.exit_code == 0, first.output
    out = first.stdout
    for text in ("苏州工业园区", "第3条", "已由更高支持替代", "¥1,000,000.00", "本页 2 条决定"):
        assert text in out, text
    assert BEIJING_SECOND.search(out), out
    (token,) = re.findall(r"下一页：--page-token (\S+)", out)
    second = await _cli(ledger, "decisions", "--enterprise", TOP_UP, "--page-size", "2",
                        "--page-token", token, "--lang", "en")  # fmt: skip
    assert second.exit_code == 0, second.output
    assert "Suzhou Industrial Park" in second.stdout
    assert "Paid" in second.stdout
    assert "¥19,000,000.00" in second.stdout  # the top-up's cash, whole


async def test_filters_and_csv(ledger: Ledger) -> None:
    found = await _cli(ledger, "decisions", "--status", "PAID", "--district", "SIP", "--year",
                       "2025", "--latest-only", "--page-size", "50", "--format", "csv")  # fmt: skip
    assert found.exit_code == 0, found.output
    rows = list(csv.DictReader(io.StringIO(found.stdout)))
    assert rows
    assert {(r["status"], r["district"], r["year"]) for r in rows} == {("PAID", "SIP", "2025")}
    assert all(r["grantedFen"].isdigit() and r["decidedAt"].endswith("+08:00") for r in rows)
    assert "next page token:" in found.stderr
    expected = await fetch(
        ledger.owner_url,
        "SELECT count(*) FROM decisions d WHERE status = 'PAID' AND district = 'SIP' AND year ="
        " 2025 AND revision = (SELECT max(revision) FROM decisions x WHERE x.entitlement_id ="
        " d.entitlement_id)",
    )
    assert len(rows) == expected[0][0]


async def test_a_forged_page_token_and_a_writer_are_refused(ledger: Ledger) -> None:
    forged = await _cli(ledger, "decisions", "--page-token", "not-a-token")
    assert forged.exit_code == 2
    assert "pageToken:" in forged.output
    writer = await _cli(ledger, "decisions", token=WRITER_TOKEN)
    assert writer.exit_code == 3
    assert "PERMISSION_DENIED" in writer.output


async def test_verify_through_the_api_with_a_token_only(ledger: Ledger) -> None:
    entries = (await fetch(ledger.owner_url, "SELECT count(*) FROM entries"))[0][0]
    done = await _cli(ledger, "verify")
    assert (done.exit_code, done.stdout) == (
        0, f"ok: 校验通过，账本服务 {ledger.address} 核验了 {entries} 条分录\n")  # fmt: skip
    english = await _cli(ledger, "verify", "--lang", "en")
    assert (
        english.stdout == f"ok: {entries} entries verified by the ledger API at {ledger.address}\n"
    )
    refused = await _cli(ledger, "verify", token=WRITER_TOKEN)
    assert refused.exit_code == 3
    assert "PERMISSION_DENIED" in refused.output
    mixed = await _cli(ledger, "verify", "--anchors", "a.jsonl", "--public-key", "k.pem")
    assert mixed.exit_code == 2


async def test_verify_through_the_api_names_a_tampered_entry(
    ledger_db: LedgerDb, grpc_tls: GrpcTls
) -> None:
    await feed(ledger_db.url, known_events()[:5])
    writable = api_settings(ledger_db.url, grpc_tls, LEDGER_API_ALLOW_WRITABLE_ROLE=True)
    async with ledger_api(writable, CATALOG, grace=0) as api:
        address = f"127.0.0.1:{api.port}"
        assert (await _run(address, grpc_tls, "verify")).exit_code == 0
        ledger_db.tampered = True
        conn = await asyncpg.connect(ledger_db.owner_url)
        try:
            async with conn.transaction():
                await conn.execute("ALTER TABLE entries DISABLE TRIGGER entries_append_only")
                await conn.execute("UPDATE entries SET amount_fen = amount_fen + 100"
                                   " WHERE enterprise_id = $1 AND seq = 1", TOP_UP)  # fmt: skip
                await conn.execute("ALTER TABLE entries ENABLE TRIGGER entries_append_only")
        finally:
            await conn.close()
        broken = await _run(address, grpc_tls, "verify")
    assert broken.exit_code == 1
    assert f"第一条不同的分录 {TOP_UP}#1 / chain broken at entry {TOP_UP}#1:" in broken.stderr
