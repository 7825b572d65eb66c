"""`subsidy ingest` on CSV, XLSX and JSONL against a running ingest server, and the feed watcher."""

import asyncio
import csv
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import asyncpg
import pytest
from openpyxl import Workbook
from typer.testing import CliRunner, Result

from subsidy.cli.main import app
from subsidy.domain.catalog import load_catalog
from subsidy.domain.export import distinct_rejections
from subsidy.domain.simulate import simulate
from subsidy.events.v1 import events_pb2 as epb
from subsidy.infra.grpc_tls import CA_ENV, PLAINTEXT_ENV
from tests.factories import bad_check
from tests.factories import enterprise_id as uscc_id
from tests.ingest.server import (
    PRINCIPAL,
    TOKEN,
    Ingest,
    read_topic,
)
from tests.ledger.database import as_role

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

HEADER = ["统一社会信用代码", "企业名称", "所属地区", "认定类型", "认定对象编号", "证书编号",
          "认定日期", "阶段", "人形机器人", "核定金额(元)"]  # fmt: skip


def _rows(tag: str) -> list[list[str]]:
    """Three good rows, four bad ones, one that conflicts with an earlier row on the server."""
    return [
        [uscc_id(31), "苏州甲机器人有限公司", "SIP", "PROVINCIAL_KEY_LAB", "lab-a", f"{tag}-A",
         "2025-03-01", "1", "是", "500000"],
        [bad_check(32), "校验位错", "GUSU", "GAZELLE", "g", f"{tag}-B", "2025-03-01", "", "", ""],
        [uscc_id(33), "未知地区", "火星区", "GAZELLE", "g", f"{tag}-C", "2025-03-01", "", "", ""],
        [uscc_id(34), "苏州乙机器人有限公司", "吴中区", "GAZELLE", "g-34", f"{tag}-D",
         "2025-06-30", "", "否", "120000.5"],
        [uscc_id(35), "日期错", "GUSU", "GAZELLE", "g", f"{tag}-E", "2025-02-30", "", "", ""],
        [uscc_id(36), "金额错", "GUSU", "GAZELLE", "g", f"{tag}-F", "2025-03-01", "", "", "1.005"],
        [uscc_id(37), "苏州丙机器人有限公司", "昆山市", "UNICORN", "u-37", f"{tag}-G",
         "2025-09-09", "", "", ""],
        # Same certificate as row 2 with other content: only the server can tell.
        [uscc_id(31), "苏州甲机器人有限公司", "SIP", "PROVINCIAL_KEY_LAB", "lab-a", f"{tag}-A",
         "2025-03-02", "1", "是", "500000"],
    ]  # fmt: skip


GOOD_ROWS = (2, 5, 8)
EXPECTED_ERRORS = [
    ("3", "统一社会信用代码"),
    ("4", "所属地区"),
    ("6", "认定日期"),
    ("7", "核定金额(元)"),
    ("9", "证书编号"),
]


def _csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


def _xlsx(path: Path, rows: list[list[str]]) -> Path:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(HEADER)
    for row in rows:
        sheet.append([cell or None for cell in row])
    workbook.save(path)
    return path


async def _run(*args: str) -> Result:
    """`subsidy …` in a worker thread: the server answers from this thread's event loop. The
    TLS options are the arguments' alone, whatever the shell has set."""
    env = {"SUBSIDY_INGEST_TOKEN": TOKEN, CA_ENV: None, PLAINTEXT_ENV: None}
    return await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)


def _report(path: Path) -> list[tuple[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    return [(r["row"], r["field"]) for r in rows]


async def _kafka_ids(ingest: Ingest, prefix: str) -> list[str]:
    records = await read_topic(ingest.bootstrap, ingest.topic)
    return [e.event_id for _, _, e in records if e.event_id.startswith(prefix)]


async def _channels(ingest: Ingest, prefix: str) -> set[tuple[str, str]]:
    """(principal, channel) of the accepted events whose id starts with `prefix`."""
    conn = await asyncpg.connect(ingest.database_url)
    try:
        rows = await conn.fetch(
            "SELECT submitted_by, channel FROM ingest_accepted_events WHERE event_id LIKE $1",
            prefix + "%",
        )
    finally:
        await conn.close()
    return {(r["submitted_by"], r["channel"]) for r in rows}


@pytest.mark.parametrize("make", [_csv, _xlsx], ids=["csv", "xlsx"])
async def test_ingest_a_provincial_feed_then_again(
    ingest: Ingest, tmp_path: Path, make: object
) -> None:
    tag = uuid.uuid4().hex[:8]
    suffix = ".csv" if make is _csv else ".xlsx"
    feed = make(tmp_path / f"feed{suffix}", _rows(tag))  # type: ignore[operator]
    report = tmp_path / f"feed{suffix}.errors.csv"
    prefix = f"js-provincial-cert-feed:{tag}-"

    first = await _run("ingest", str(feed), "--server", ingest.address, *ingest.tls.cli_args())

    assert first.exit_code == 1, first.output
    assert "read 8, accepted 3, duplicates 0, rejected 5" in first.output
    assert _report(report) == EXPECTED_ERRORS
    assert sorted(await _kafka_ids(ingest, prefix)) == [prefix + t for t in "ADG"]
    records = await read_topic(ingest.bootstrap, ingest.topic)
    keys = {e.event_id: k for _, k, e in records if e.event_id.startswith(prefix)}
    assert keys[prefix + "D"] == uscc_id(34).encode()
    # Each record names its submitter and channel, outside the event's content.
    sent = [e for _, _, e in records if e.event_id.startswith(prefix)]
    assert {(e.submitted_by.principal, e.submitted_by.channel) for e in sent} == {
        (PRINCIPAL, epb.CLI_FILE)
    }
    assert await _channels(ingest, prefix) == {(PRINCIPAL, "CLI_FILE")}

    second = await _run("ingest", str(feed), "--server", ingest.address, *ingest.tls.cli_args())

    assert second.exit_code == 1, second.output
    assert "read 8, accepted 0, duplicates 3, rejected 5" in second.output
    assert sorted(await _kafka_ids(ingest, prefix)) == [prefix + t for t in "ADG"]
    assert _report(report) == EXPECTED_ERRORS


async def test_a_clean_jsonl_file_exits_zero_and_leaves_no_report(
    ingest: Ingest, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:8]
    lines = [
        {"eventId": f"{tag}-inv-{i}", "source": "sz-miit-portal", "enterpriseId": uscc_id(40 + i),
         "enterpriseName": "苏州算力用户", "district": "XIANGCHENG", "occurredOn": "2025-05-05",
         "computeInvoiceFiled": {"itemId": f"INV-{tag}-{i}", "amountFen": "1000000"}}
        for i in range(3)
    ]  # fmt: skip
    feed = tmp_path / "events.jsonl"
    feed.write_text("\n".join(json.dumps(e, ensure_ascii=False) for e in lines) + "\n")
    stale = tmp_path / "events.jsonl.errors.csv"
    stale.write_text("row,eventId,field,message\n")

    result = await _run("ingest", str(feed), "--server", ingest.address, "--chunk-size", "2",
                        *ingest.tls.cli_args())  # fmt: skip

    assert result.exit_code == 0, result.output
    assert "read 3, accepted 3, duplicates 0, rejected 0" in result.output
    assert not stale.exists()
    assert sorted(await _kafka_ids(ingest, f"{tag}-")) == [f"{tag}-inv-{i}" for i in range(3)]


async def test_a_wrong_token_exits_three(ingest: Ingest, tmp_path: Path) -> None:
    feed = _csv(tmp_path / "feed.csv", _rows(uuid.uuid4().hex[:8])[:1])
    result = await asyncio.to_thread(
        CliRunner().invoke, app, ["ingest", str(feed), "--server", ingest.address,
                                  "--token", "not-the-token", *ingest.tls.cli_args()],
    )  # fmt: skip
    assert result.exit_code == 3
    assert "UNAUTHENTICATED" in result.output


async def test_without_the_servers_ca_nothing_is_sent(ingest: Ingest, tmp_path: Path) -> None:
    """The system's trust store does not vouch for the server: the handshake fails, exit 3;
    plaintext to a TLS server fails too, and --plaintext with --cacert is refused outright."""
    feed = _csv(tmp_path / "feed.csv", _rows(uuid.uuid4().hex[:8])[:1])
    unchecked = await _run("ingest", str(feed), "--server", ingest.address)
    assert unchecked.exit_code == 3, unchecked.output
    assert "UNAVAILABLE" in unchecked.output
    assert "handshake failed" in unchecked.output.lower()
    plain = await _run("ingest", str(feed), "--server", ingest.address, "--plaintext")
    assert plain.exit_code == 3, plain.output
    both = await _run("ingest", str(feed), "--server", ingest.address, "--plaintext",
                      *ingest.tls.cli_args())  # fmt: skip
    assert both.exit_code == 2
    assert "--plaintext contradicts --cacert" in both.output
    assert not (tmp_path / "feed.csv.errors.csv").exists()


def _watch(ingest: Ingest, directory: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """The real `subsidy` entry point, in its own process (it configures logging globally)."""
    subsidy = shutil.which("subsidy", path=str(Path(sys.executable).parent))
    assert subsidy is not None
    # The watcher logs in as ingest's own role, never the owner's.
    watcher = as_role(ingest.database_url, "ingest_server")
    # The CA by its variable (the other tests pass --cacert).
    env = {**os.environ, "DATABASE_URL": watcher, "SUBSIDY_INGEST_TOKEN": TOKEN,
           CA_ENV: str(ingest.tls.ca)}  # fmt: skip
    return subprocess.run(
        [subsidy, "feeds", "watch", str(directory), "--once", "--server", ingest.address,
         "--settle", "30", *extra],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def _age(*paths: Path) -> None:
    """Make files look written a minute ago (settled)."""
    past = time.time() - 60
    for p in paths:
        os.utime(p, (past, past))


async def test_the_watcher_ingests_each_content_once_and_leaves_partial_files(
    ingest: Ingest, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:8]
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    good_rows = [r for i, r in enumerate(_rows(tag), start=2) if i in (5, 8)]
    clean = _csv(inbox / "a-clean.csv", good_rows)
    copy = inbox / "b-renamed-copy.csv"
    shutil.copyfile(clean, copy)
    mixed = _xlsx(inbox / "c-mixed.xlsx", _rows(tag + "x"))
    partial = _csv(inbox / "d-partial.csv.tmp", good_rows)
    fresh = _csv(inbox / "e-still-writing.csv", good_rows)
    _age(clean, copy, mixed, partial)

    result = await asyncio.to_thread(_watch, ingest, inbox)

    assert result.returncode == 1, result.stdout + result.stderr  # c-mixed went to failed/
    assert result.stdout.splitlines() == [
        "a-clean.csv: done",
        "b-renamed-copy.csv: skipped (same content as a-clean.csv)",
        "c-mixed.xlsx: failed",
    ]
    assert sorted(p.name for p in (inbox / "done").iterdir()) == [
        "a-clean.csv", "b-renamed-copy.csv"
    ]  # fmt: skip
    assert sorted(p.name for p in (inbox / "failed").iterdir()) == [
        "c-mixed.xlsx", "c-mixed.xlsx.errors.csv"
    ]  # fmt: skip
    assert _report(inbox / "failed" / "c-mixed.xlsx.errors.csv") == EXPECTED_ERRORS
    assert partial.exists()
    assert fresh.exists()
    prefix = "js-provincial-cert-feed:"
    assert sorted(await _kafka_ids(ingest, prefix + tag)) == [
        f"{prefix}{tag}-{t}" for t in "DG"
    ] + [f"{prefix}{tag}x-{t}" for t in "ADG"]  # fmt: skip

    conn = await asyncpg.connect(ingest.database_url)
    try:
        files = await conn.fetch(
            "SELECT file_name, status, accepted, rejected FROM ingest_feed_files"
            " WHERE file_name = ANY($1::text[]) ORDER BY file_name",
            ["a-clean.csv", "b-renamed-copy.csv", "c-mixed.xlsx"],
        )
    finally:
        await conn.close()
    assert [tuple(r) for r in files] == [("a-clean.csv", "done", 2, 0),
                                         ("c-mixed.xlsx", "failed", 3, 5)]  # fmt: skip
    assert await _channels(ingest, prefix + tag) == {(PRINCIPAL, "FEED_WATCHER")}

    # The partial file is renamed into place (same rows as a-clean), and a-clean is dropped
    # again: both are skipped, and the second a-clean is moved aside under a new name.
    partial.rename(inbox / "d-partial.csv")
    shutil.copyfile(inbox / "done" / "a-clean.csv", inbox / "a-clean.csv")
    _age(inbox / "d-partial.csv", inbox / "a-clean.csv")
    on_kafka = await read_topic(ingest.bootstrap, ingest.topic)

    again = await asyncio.to_thread(_watch, ingest, inbox)

    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.splitlines() == [
        "a-clean.csv: skipped (same content as a-clean.csv)",
        "d-partial.csv: skipped (same content as a-clean.csv)",
    ]
    done = sorted(p.name for p in (inbox / "done").iterdir())
    assert len(done) == 4
    assert {"a-clean.csv", "b-renamed-copy.csv", "d-partial.csv"} < set(done)
    assert any(n.startswith("a-clean.") and n != "a-clean.csv" for n in done)
    assert fresh.exists()
    assert await read_topic(ingest.bootstrap, ingest.topic) == on_kafka


async def test_bad_jsonl_lines_are_judged_and_recorded_by_the_server_as_simulate_does(
    ingest: Ingest, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:8]
    good = {"eventId": f"{tag}-ok", "source": "sz-miit-portal", "enterpriseId": uscc_id(50),
            "enterpriseName": "苏州好企业", "district": "SIP", "occurredOn": "2025-07-07",
            "projectDesignated": {"itemId": f"p-{tag}"}}  # fmt: skip
    bad_district = {**good, "eventId": f"{tag}-mars", "district": "MARS"}
    bad_check_char = {**good, "eventId": f"{tag}-check", "enterpriseId": bad_check(51)}
    conflict = {**good, "occurredOn": "2025-07-08"}
    lines = [json.dumps(good), json.dumps(bad_district), json.dumps(bad_check_char),
             json.dumps(conflict), json.dumps(bad_district), '{"eventId": "' + tag + '-cut", "so',
             "\ufeffnot json"]  # fmt: skip
    feed = tmp_path / "mixed.jsonl"
    feed.write_text("\n".join(lines) + "\n", encoding="utf-8")
    expected = simulate(feed.read_bytes().splitlines(), load_catalog()).to_contract()

    first = await _run("ingest", str(feed), "--server", ingest.address, *ingest.tls.cli_args())
    again = await _run("ingest", str(feed), "--server", ingest.address, *ingest.tls.cli_args())

    assert first.exit_code == again.exit_code == 1, first.output
    assert "read 7, accepted 1, duplicates 0, rejected 6" in first.output
    # Other tests share this database: ours are those with our ids, and the id-less ones
    # (broken lines) whose messages simulate gives for this file.
    id_less = [r["error"] for r in expected["rejectedEvents"] if r["eventId"] is None]
    conn = await asyncpg.connect(ingest.database_url)
    try:
        rows = await conn.fetch(
            "SELECT event_id, error FROM ingest_rejections"
            " WHERE event_id LIKE $1 OR (event_id IS NULL AND error = ANY($2))",
            f"{tag}-%", id_less,
        )  # fmt: skip
    finally:
        await conn.close()
    recorded = distinct_rejections({"eventId": r["event_id"], "error": r["error"]} for r in rows)
    assert recorded == expected["rejectedEvents"]
    assert len(recorded) == 5
