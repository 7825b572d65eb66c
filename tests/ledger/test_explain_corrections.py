"""`ExplainDecision` and `subsidy ledger explain` show an entitlement's corrections."""

# An invoice corrected twice, a certification retracted, and an invoice whose neighbour's correction
# freed room under the annual cap, decided into a ledger of their own and read as a read-only role.

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
from subsidy.contract.codec import event_to_proto, provenance_json, provenance_of
from subsidy.decisions.v1 import decisions_pb2 as dpb
from subsidy.domain.evaluator import evaluate
from subsidy.domain.events import parse_event
from subsidy.infra.grpc_tls import CA_ENV, PLAINTEXT_ENV
from subsidy.ledger.batch_writer import Source
from subsidy.ledger.bootstrap import ledger_api
from subsidy.ledger.processor import Message, apply_batch
from subsidy.ledger.repository import BookCache
from tests.factories import enterprise_id
from tests.ledger.api import AUDITOR, AUDITOR_TOKEN, api_settings, feed_event
from tests.ledger.database import as_role, assert_sound, migrated_ledger_schema
from tests.ledger.events import CATALOG
from tests.support.grpc_tls import GrpcTls

pytestmark = [pytest.mark.postgres]

FIRM = enterprise_id(900_101)  # an invoice corrected twice, a certification retracted
CAPPED = enterprise_id(900_102)  # an invoice the cap denied, freed by another's correction
INVOICE = "corr-inv-1/m08.compute_voucher"
LAB = "corr-cert-1/m03.municipal_key_lab"
FREED = "corr-cap-2/m08.compute_voucher"
BEIJING_OFFSET = timedelta(hours=8)


def _invoice(event_id: str, who: str, fen: int, enterprise: str = FIRM, **extra: Any) -> Any:
    return feed_event(event_id, enterprise, "SIP", "2025-09-01",
                      computeInvoiceFiled={"itemId": f"INV-{event_id}", "amountFen": fen},
                      submittedBy={"principal": who, "channel": "GRPC_API"}, **extra)  # fmt: skip


def corrected_events() -> list[dict[str, Any]]:
    """m08 pays 20% of an invoice: ¥120,000.00, corrected down to ¥20,000.00, then up to
    ¥60,000.00; a municipal key lab (¥1,000,000.00) retracted; and on another enterprise an
    invoice at the annual cap, corrected down so that a second invoice is paid."""
    lab = {"kind": "MUNICIPAL_KEY_LAB", "itemId": "lab-corr", "certificateId": "C-CORR"}
    return [
        _invoice("corr-inv-1", "portal-a", 60_000_000),
        feed_event("corr-cert-1", FIRM, "SIP", "2025-09-02", certificationObtained=lab,
                   submittedBy={"principal": "js-provincial-cert-feed", "channel": "GRPC_API"}),
        _invoice("corr-inv-1", "portal-x", 10_000_000, revision=2,
                 correctionReason="发票金额录入错误"),
        feed_event("corr-ret-1", FIRM, "SIP", "2025-09-03",
                   eventRetracted={"eventRef": "corr-cert-1", "reason": "证书误发"},
                   submittedBy={"principal": "bureau-kj", "channel": "CLI_FILE"}),
        _invoice("corr-inv-1", "portal-y", 30_000_000, revision=3,
                 correctionReason="按原件再次核对"),
        _invoice("corr-cap-1", "portal-b", 1_000_000_000, CAPPED),
        _invoice("corr-cap-2", "portal-b", 500_000_000, CAPPED),
        _invoice("corr-cap-1", "portal-b", 500_000_000, CAPPED, revision=2,
                 correctionReason="金额多录一个零"),
    ]  # fmt: skip


async def feed_one_by_one(url: str, events: list[dict[str, Any]]) -> None:
    """Each event in a batch of its own, as the worker takes them off Kafka: with who
    submitted it, as the worker reads it from the event (so each revision has its time)."""
    cache = BookCache(100)
    conn = await asyncpg.connect(url)
    try:
        for raw in events:
            event = parse_event(raw)
            who = provenance_json(provenance_of(event_to_proto(event, submitter=True)))
            message = Message(evaluate(event, CATALOG), event.content_hash(), Source(None, None,
                              None, who))  # fmt: skip
            async with conn.transaction():
                prepared = await apply_batch(conn, [message], cache)
            prepared.committed(cache)
    finally:
        await conn.close()


@dataclass
class Corrected:
    owner_url: str
    address: str
    tls: GrpcTls


@pytest.fixture(scope="module")
async def corrected(
    fresh_database_url: str, auditor_role: str, grpc_tls: GrpcTls
) -> AsyncIterator[Corrected]:
    _, owner = await migrated_ledger_schema(fresh_database_url, "ledger_corr")
    await feed_one_by_one(owner, corrected_events())
    reader = as_role(owner, "ledger_api")
    try:
        async with ledger_api(api_settings(reader, grpc_tls), CATALOG, grace=1.0) as api:
            yield Corrected(owner, f"127.0.0.1:{api.port}", grpc_tls)
    finally:
        await assert_sound(owner)


async def _explain(c: Corrected, entitlement_id: str) -> api_pb2.ExplainDecisionResponse:
    async with c.tls.channel(c.address) as channel:
        stub: Any = api_pb2_grpc.LedgerServiceStub(channel)
        found: api_pb2.ExplainDecisionResponse = await stub.ExplainDecision(
            api_pb2.ExplainDecisionRequest(entitlement_id=entitlement_id), metadata=AUDITOR
        )
        return found


async def _cli(c: Corrected, *args: str) -> Any:
    env = {"SUBSIDY_LEDGER_TOKEN": AUDITOR_TOKEN, CA_ENV: None, PLAINTEXT_ENV: None}
    where = ["--server", c.address, *c.tls.cli_args()]
    with capture_logs():  # the API serves in this process; its read logs stay out
        return await asyncio.to_thread(CliRunner().invoke, app, ["ledger", *args, *where], env=env)


async def _taken_at(c: Corrected, event_id: str) -> dict[int, datetime]:
    conn = await asyncpg.connect(c.owner_url)
    try:
        rows = await conn.fetch(
            "SELECT revision, taken_at FROM event_revisions WHERE event_id = $1", event_id
        )
    finally:
        await conn.close()
    return {r["revision"]: r["taken_at"] for r in rows}


def _beijing(moment: datetime) -> str:
    return moment.astimezone(timezone(BEIJING_OFFSET)).strftime("%Y-%m-%d %H:%M:%S +08:00")


async def test_the_invoice_corrected_twice_lists_each_revision_and_what_it_changed(
    corrected: Corrected,
) -> None:
    x = await _explain(corrected, INVOICE)
    history = [(d.revision, dpb.Status.Name(d.status), d.granted_fen, d.cash_delta_fen,
                d.clawback_fen, d.correction.revision, d.correction.previous_granted_fen)
               for d in x.history]  # fmt: skip
    assert history == [
        (1, "PAID", 12_000_000, 12_000_000, 0, 0, 0),
        (2, "PAID", 2_000_000, 0, 10_000_000, 2, 12_000_000),
        (3, "PAID", 6_000_000, 4_000_000, 10_000_000, 3, 2_000_000),
    ]
    assert x.event.event_id == "corr-inv-1"
    got = [(r.revision, r.reason, r.submitted_by.principal, list(r.decision_revisions))
           for r in x.event.revisions]  # fmt: skip
    assert got == [
        (1, "", "portal-a", [1]),
        (2, "发票金额录入错误", "portal-x", [2]),
        (3, "按原件再次核对", "portal-y", [3]),
    ]
    taken = await _taken_at(corrected, "corr-inv-1")
    for r in x.event.revisions:
        moment = datetime.fromisoformat(r.taken_at)
        assert moment.utcoffset() == BEIJING_OFFSET
        assert moment == taken[r.revision]
        assert r.taken_time.ToDatetime(tzinfo=UTC) == moment  # both fields, one instant
    assert not x.event.HasField("retraction")
    assert list(x.other_events) == []
    corrections = [c for c in x.checks if c.check == "correction"]
    assert [(c.revision, c.outcome, c.numbers["reason"]) for c in corrections] == [
        (2, "CORRECTED", "发票金额录入错误"), (3, "CORRECTED", "按原件再次核对")
    ]  # fmt: skip


async def test_cli_prints_the_corrections_in_beijing_time_and_json_with_offsets(
    corrected: Corrected,
) -> None:
    taken = await _taken_at(corrected, "corr-inv-1")
    result = await _cli(corrected, "explain", INVOICE)
    assert result.exit_code == 0, result.output
    section = result.output.split("\n更正记录\n", 1)[1].splitlines()
    assert section == [
        "  事件 corr-inv-1（本资格的事件）",
        f"    版次 1（{_beijing(taken[1])}）由 portal-a 提交，原始事件"
        " → 修订 #1：已拨付 ¥120,000.00",
        f"    版次 2（{_beijing(taken[2])}）由 portal-x 提交，原因：发票金额录入错误"
        " → 修订 #2：已拨付 ¥120,000.00 → 已拨付 ¥20,000.00，应追回 ¥100,000.00",
        f"    版次 3（{_beijing(taken[3])}）由 portal-y 提交，原因：按原件再次核对"
        " → 修订 #3：已拨付 ¥20,000.00 → 已拨付 ¥60,000.00，补拨 ¥40,000.00",
    ]
    assert "#2 更正或撤回：已更正" in result.output
    # Each revision of the history names who sent the revision of the event behind it.
    history = result.output.split("\n变更记录\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert [line.split("由 ")[1].split(" ")[0] for line in history] == [
        "portal-a", "portal-x", "portal-y"]  # fmt: skip
    # Each revision's time as a person reads it: Beijing time, with its offset.
    assert all("+08:00；由" in line and "+00:00" not in line for line in history), history
    english = (await _cli(corrected, "explain", INVOICE, "--lang", "en")).output
    assert english.split("\nCorrections\n", 1)[1].splitlines()[:3] == [
        "  event corr-inv-1 (this entitlement's event)",
        f"    revision 1 ({_beijing(taken[1])}) submitted by portal-a, original"
        " → decision #1: Paid ¥120,000.00",
        f"    revision 2 ({_beijing(taken[2])}) submitted by portal-x, reason: 发票金额录入错误"
        " → decision #2: Paid ¥120,000.00 → Paid ¥20,000.00, owed back ¥100,000.00",
    ]
    assert "#2 correction or retraction: corrected" in english

    as_json = await _cli(corrected, "explain", INVOICE, "--format", "json")
    assert as_json.exit_code == 0, as_json.output
    body = json.loads(as_json.stdout)
    revisions = body["event"]["revisions"]
    assert [r["revision"] for r in revisions] == [1, 2, 3]
    assert revisions[1]["reason"] == "发票金额录入错误"
    assert revisions[1]["submittedBy"]["principal"] == "portal-x"
    assert revisions[1]["decisionRevisions"] == [2]
    assert revisions[2]["takenAt"].endswith("+08:00")
    assert datetime.fromisoformat(revisions[2]["takenAt"]) == taken[3]
    assert body["history"][1]["correction"] == {
        "eventId": "corr-inv-1", "revision": 2, "reason": "发票金额录入错误", "retractedBy": "",
        "previousStatus": "PAID", "previousGrantedFen": 12_000_000,
    }  # fmt: skip
    assert body["otherEvents"] == []


async def test_a_retracted_certification_names_its_retraction(corrected: Corrected) -> None:
    x = await _explain(corrected, LAB)
    assert [(d.revision, dpb.Status.Name(d.status), d.granted_fen, d.clawback_fen)
            for d in x.history] == [(1, "PAID", 100_000_000, 0),
                                    (2, "RETRACTED", 0, 100_000_000)]  # fmt: skip
    assert [(r.revision, list(r.decision_revisions)) for r in x.event.revisions] == [(1, [1])]
    t = x.event.retraction
    assert (t.retracted_by, t.reason, t.submitted_by.principal, list(t.decision_revisions)) == (
        "corr-ret-1", "证书误发", "bureau-kj", [2])  # fmt: skip
    assert datetime.fromisoformat(t.taken_at).utcoffset() == BEIJING_OFFSET
    assert t.taken_time.ToDatetime(tzinfo=UTC) == datetime.fromisoformat(t.taken_at)
    assert x.history[1].correction.retracted_by == "corr-ret-1"

    result = await _cli(corrected, "explain", LAB)
    assert result.exit_code == 0, result.output
    section = result.output.split("\n更正记录\n", 1)[1].splitlines()
    assert section[1].endswith("由 js-provincial-cert-feed 提交，原始事件"
                               " → 修订 #1：已拨付 ¥1,000,000.00")  # fmt: skip
    assert section[2].startswith("    撤回 corr-ret-1（")
    assert section[2].endswith(
        " +08:00）由 bureau-kj 提交，原因：证书误发"
        " → 修订 #2：已拨付 ¥1,000,000.00 → 已撤回 ¥0.00，应追回 ¥1,000,000.00"
    )
    body = json.loads((await _cli(corrected, "explain", LAB, "--format", "json")).stdout)
    assert body["event"]["retraction"]["retractedBy"] == "corr-ret-1"
    assert body["event"]["retraction"]["decisionRevisions"] == [2]


async def test_another_events_correction_that_freed_the_cap_is_named(
    corrected: Corrected,
) -> None:
    x = await _explain(corrected, FREED)
    assert [(d.revision, dpb.Status.Name(d.status), d.granted_fen) for d in x.history] == [
        (1, "DENIED", 0), (2, "PAID", 100_000_000)]  # fmt: skip
    assert [(r.revision, list(r.decision_revisions)) for r in x.event.revisions] == [(1, [1])]
    (other,) = x.other_events
    assert other.event_id == "corr-cap-1"
    assert [(r.revision, r.reason, list(r.decision_revisions)) for r in other.revisions] == [
        (1, "", []), (2, "金额多录一个零", [2])]  # fmt: skip

    result = await _cli(corrected, "explain", FREED)
    assert result.exit_code == 0, result.output
    section = result.output.split("\n更正记录\n", 1)[1].splitlines()
    assert section[2] == "  事件 corr-cap-1（同企业另一事件）"
    assert section[4].endswith(
        "由 portal-b 提交，原因：金额多录一个零"
        " → 修订 #2：不予支持 ¥0.00 → 已拨付 ¥1,000,000.00，补拨 ¥1,000,000.00"
    )
