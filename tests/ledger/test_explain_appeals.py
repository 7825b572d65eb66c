"""`ExplainDecision` and `subsidy ledger explain` show an entitlement's appeals (复核申请)."""

# From the real ledger on PostgreSQL: filed, then upheld (reopened for review, or left to the
# source's correction) or dismissed, with who filed and who decided, read as a read-only role.

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import asyncpg
import pytest
from structlog.testing import capture_logs
from typer.testing import CliRunner

from subsidy.api.v1 import api_pb2, api_pb2_grpc
from subsidy.cli.main import app
from subsidy.decisions.v1 import decisions_pb2 as dpb
from subsidy.infra.grpc_tls import CA_ENV, PLAINTEXT_ENV
from subsidy.ledger.bootstrap import ledger_api
from tests.ledger.api import AUDITOR, AUDITOR_TOKEN, api_settings
from tests.ledger.appeals import CAPPED, EXPO, KEPT, appeal_events, correction
from tests.ledger.database import as_role, assert_sound, migrated_ledger_schema
from tests.ledger.events import CATALOG
from tests.ledger.test_explain_corrections import feed_one_by_one
from tests.support.grpc_tls import GrpcTls

pytestmark = [pytest.mark.postgres]

BEIJING_OFFSET = timedelta(hours=8)


@dataclass
class Appealed:
    owner_url: str
    address: str
    tls: GrpcTls


@pytest.fixture(scope="module")
async def appealed(
    fresh_database_url: str, auditor_role: str, grpc_tls: GrpcTls
) -> AsyncIterator[Appealed]:
    _, owner = await migrated_ledger_schema(fresh_database_url, "ledger_appeals")
    await feed_one_by_one(owner, [*appeal_events(), *correction()])
    reader = as_role(owner, "ledger_api")
    try:
        async with ledger_api(api_settings(reader, grpc_tls), CATALOG, grace=1.0) as api:
            yield Appealed(owner, f"127.0.0.1:{api.port}", grpc_tls)
    finally:
        await assert_sound(owner)


async def _explain(a: Appealed, entitlement_id: str) -> api_pb2.ExplainDecisionResponse:
    async with a.tls.channel(a.address) as channel:
        stub: Any = api_pb2_grpc.LedgerServiceStub(channel)
        found: api_pb2.ExplainDecisionResponse = await stub.ExplainDecision(
            api_pb2.ExplainDecisionRequest(entitlement_id=entitlement_id), metadata=AUDITOR
        )
        return found


async def _cli(a: Appealed, *args: str) -> Any:
    env = {"SUBSIDY_LEDGER_TOKEN": AUDITOR_TOKEN, CA_ENV: None, PLAINTEXT_ENV: None}
    where = ["--server", a.address, *a.tls.cli_args()]
    with capture_logs():  # the API serves in this process; its read logs stay out
        return await asyncio.to_thread(CliRunner().invoke, app, ["ledger", *args, *where], env=env)


async def _recorded(a: Appealed, table: str, event_id: str) -> datetime:
    conn = await asyncpg.connect(a.owner_url)
    try:
        moment: datetime = await conn.fetchval(
            f"SELECT recorded_at FROM {table} WHERE event_id = $1", event_id
        )
    finally:
        await conn.close()
    return moment


def _beijing(moment: datetime) -> str:
    return moment.astimezone(timezone(BEIJING_OFFSET)).strftime("%Y-%m-%d %H:%M:%S +08:00")


async def test_an_upheld_appeal_on_a_rejection_reopened_the_entitlement(
    appealed: Appealed,
) -> None:
    x = await _explain(appealed, EXPO)
    history = [(d.revision, dpb.Status.Name(d.status), d.appeal.appeal_ref) for d in x.history]
    assert history == [
        (1, "PENDING_REVIEW", ""),
        (2, "DENIED", ""),
        (3, "PENDING_REVIEW", "apl-expo-1p"),
    ]
    (appeal,) = x.appeals
    assert (appeal.appeal_id, appeal.filed_by, appeal.filed_on, appeal.reason,
            appeal.attachment_ref, appeal.rejected_by) == (
        "apl-expo-1p", "portal-enterprise", "2025-09-10", "展会规模与参展商数量均符合要求",
        "file-20250910-001", "reviewer-wang")  # fmt: skip
    d = appeal.decision
    assert (d.event_id, d.upheld, d.remedy, d.reason, d.decided_by, d.decided_on) == (
        "apl-expo-1d",
        True,
        "REOPENED",
        "材料齐全，重新审核",
        "reviewer-li",
        "2025-09-20",
    )
    for got, table, event_id in ((appeal, "appeals", "apl-expo-1p"),
                                 (d, "appeal_decisions", "apl-expo-1d")):  # fmt: skip
        moment = datetime.fromisoformat(got.recorded_at)
        assert moment.utcoffset() == BEIJING_OFFSET
        assert moment == await _recorded(appealed, table, event_id)
        # recorded_time (the deprecated string's replacement) is the same instant.
        assert got.recorded_time.ToDatetime(tzinfo=UTC) == moment


async def test_an_upheld_appeal_on_a_cap_denial_and_a_dismissed_one_change_nothing(
    appealed: Appealed,
) -> None:
    capped = await _explain(appealed, CAPPED)
    assert [dpb.Status.Name(d.status) for d in capped.history] == ["DENIED"]
    (appeal,) = capped.appeals
    assert (appeal.rejected_by, appeal.decision.upheld, appeal.decision.remedy) == (
        "", True, "SOURCE_CORRECTION")  # fmt: skip
    kept = await _explain(appealed, KEPT)
    assert [dpb.Status.Name(d.status) for d in kept.history] == ["PENDING_REVIEW", "DENIED"]
    (appeal,) = kept.appeals
    assert (appeal.decision.upheld, appeal.decision.remedy, appeal.decision.reason) == (
        False, "", "参展商数量不足")  # fmt: skip


async def test_cli_prints_each_appeal_and_its_decision_in_chinese_first(
    appealed: Appealed,
) -> None:
    filed = await _recorded(appealed, "appeals", "apl-expo-1p")
    decided = await _recorded(appealed, "appeal_decisions", "apl-expo-1d")
    result = await _cli(appealed, "explain", EXPO)
    assert result.exit_code == 0, result.output
    section = result.output.split("\n复核申请\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert [line.strip() for line in section] == [
        f"apl-expo-1p（{_beijing(filed)}，申请日 2025-09-10）由 portal-enterprise 提交："
        "展会规模与参展商数量均符合要求",
        "附件：file-20250910-001",
        f"apl-expo-1d（{_beijing(decided)}）由 reviewer-li 决定："
        "支持，重新审核：材料齐全，重新审核",
    ]
    for entitlement, verdict in ((CAPPED, "支持，由数据来源更正：请数据来源更正发票"),
                                 (KEPT, "驳回：参展商数量不足")):  # fmt: skip
        printed = await _cli(appealed, "explain", entitlement)
        assert printed.exit_code == 0, printed.output
        assert f"由 reviewer-li 决定：{verdict}" in printed.output
    english = (await _cli(appealed, "explain", EXPO, "--lang", "en")).output
    assert [line.strip() for line in english.split("\nAppeals\n", 1)[1].splitlines()] == [
        f"apl-expo-1p ({_beijing(filed)}, filed on 2025-09-10) submitted by portal-enterprise:"
        " 展会规模与参展商数量均符合要求",
        "attachment: file-20250910-001",
        f"apl-expo-1d ({_beijing(decided)}) decided by reviewer-li:"
        " upheld, reopened for review: 材料齐全，重新审核",
    ]

    as_json = await _cli(appealed, "explain", EXPO, "--format", "json")
    assert as_json.exit_code == 0, as_json.output
    (appeal,) = json.loads(as_json.stdout)["appeals"]
    assert appeal["appealId"] == "apl-expo-1p"
    assert appeal["rejectedBy"] == "reviewer-wang"
    assert appeal["decision"]["remedy"] == "REOPENED"
    assert datetime.fromisoformat(appeal["recordedAt"]) == filed
