"""Red team, four eyes."""

# No single reviewer credential pays a large review (real ingest with real credentials, the events
# as produced on Kafka, eligibility's handler, the ledger on PostgreSQL, `subsidy ledger explain` as
# a subprocess).

import asyncio
import json
import os
import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import asyncpg
import pytest

from subsidy.api.v1 import api_pb2, api_pb2_grpc
from subsidy.eligibility.handler import Incoming, handle_message
from subsidy.events.v1 import events_pb2 as epb
from subsidy.ingest.client import ingest_file
from subsidy.ledger import metrics
from subsidy.ledger.bootstrap import ledger_api
from subsidy.ledger.processor import BatchReport, apply_batch
from subsidy.ledger.repository import BookCache
from subsidy.ledger.worker import decode
from tests.factories import enterprise_id
from tests.ingest.server import read_topic
from tests.ledger.api import AUDITOR_TOKEN, SUBSIDY, api_settings
from tests.ledger.database import LedgerDb
from tests.ledger.events import CATALOG
from tests.redteam.ingest import ingest_with
from tests.support.grpc_tls import GrpcTls
from tests.support.records import PLAIN_FRAMERS

EXPO = "sz-commerce-expo"
BOARD = "district-review-board"
TOKENS = {name: f"{name}-{uuid.uuid4().hex}" for name in ("expo-bureau", "reviewer-wang",
                                                          "reviewer-li")}  # fmt: skip
CREDENTIALS = {
    "expo-bureau": {"tokens": [TOKENS["expo-bureau"]], "event_types": ["exhibitionHeld"],
                    "sources": [EXPO]},
    "reviewer-wang": {"tokens": [TOKENS["reviewer-wang"]], "event_types": ["reviewDecided"],
                      "sources": [BOARD]},
    "reviewer-li": {"tokens": [TOKENS["reviewer-li"]], "event_types": ["reviewDecided"],
                    "sources": [BOARD]},
}  # fmt: skip
# ¥1,500,000: above the policy's default four-eyes threshold (¥1,000,000), within the
# exhibition rule's ¥2,000,000 ceiling.
LARGE = 150_000_000


class Stack:
    """The ingest server with the principals above, the topic it produces to, the ledger."""

    def __init__(
        self, address: str, topic: str, bootstrap: str, ledger: LedgerDb, tls: GrpcTls
    ) -> None:
        self.address, self.topic, self.bootstrap, self.ledger = address, topic, bootstrap, ledger
        self.tls = tls  # the servers' certificates, checked against its CA
        self.taken: set[str] = set()  # event ids already through the ledger

    async def submit(self, who: str, event: epb.EnterpriseEvent) -> None:
        async with self.tls.channel(self.address) as channel:
            answer = await api_pb2_grpc.IngestServiceStub(channel).Submit(
                api_pb2.SubmitRequest(event=event),
                metadata=(("authorization", f"Bearer {TOKENS[who]}"),),
            )
        assert not answer.duplicate

    async def through_the_ledger(self) -> BatchReport:
        """What ingest produced since the last call, through eligibility's handler and the
        ledger worker's decoding, each event as its own batch; no cached books, so every
        batch reads the book back from the tables."""
        records = [r for r in await read_topic(self.bootstrap, self.topic)
                   if r[2].event_id not in self.taken]  # fmt: skip
        total = BatchReport()
        conn = await asyncpg.connect(self.ledger.url)
        try:
            for offset, (partition, key, event) in enumerate(records):
                self.taken.add(event.event_id)
                incoming = Incoming(self.topic, partition, offset, key, event.SerializeToString())
                out = handle_message(incoming, CATALOG, output_topic="entitlements",
                                     dead_letter_topic="dead-letters",
                                     framers=PLAIN_FRAMERS)  # fmt: skip
                assert out.rejection is None, out.rejection
                record = SimpleNamespace(topic=out.topic, partition=partition, offset=offset,
                                         value=out.value)  # fmt: skip
                async with conn.transaction():
                    prepared = await apply_batch(conn, [decode(record, CATALOG)], BookCache(0))
                # Counted as the worker counts a committed batch.
                metrics.observe_batch(prepared.report, 0.0)
                total.applied += prepared.report.applied
                total.rejected += prepared.report.rejected
                total.four_eyes.update(prepared.report.four_eyes)
        finally:
            await conn.close()
        return total

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.ledger.url)
        try:
            return list(await conn.fetch(query, *args))
        finally:
            await conn.close()


@pytest.fixture
async def stack(
    fresh_database_url: str, kafka_bootstrap: str, ledger_db: LedgerDb, grpc_tls: GrpcTls
) -> AsyncIterator[Stack]:
    server = ingest_with(CREDENTIALS, fresh_database_url, kafka_bootstrap, grpc_tls)
    async with server as (address, topic):
        yield Stack(address, topic, kafka_bootstrap, ledger_db, grpc_tls)


def _counted(result: str) -> float:
    sample = metrics.WORKER_REGISTRY.get_sample_value(
        "subsidy_ledger_four_eyes_total", {"result": result}
    )
    return sample or 0.0


def _exhibition(n: int) -> epb.EnterpriseEvent:
    return epb.EnterpriseEvent(
        event_id=f"rt4-expo-{uuid.uuid4().hex}", source=EXPO, enterprise_id=enterprise_id(n),
        enterprise_name="苏州红队展览有限公司", district=epb.WUZHONG, occurred_on="2025-06-01",
        exhibition_held=epb.ExhibitionHeld(item_id=f"expo-rt4-{n}"),
    )  # fmt: skip


def _approval(expo: epb.EnterpriseEvent, amount: int = LARGE) -> epb.EnterpriseEvent:
    return epb.EnterpriseEvent(
        event_id=f"rt4-review-{uuid.uuid4().hex}", source=BOARD,
        enterprise_id=expo.enterprise_id, enterprise_name=expo.enterprise_name,
        district=expo.district, occurred_on="2025-07-01",
        review_decided=epb.ReviewDecided(event_ref=expo.event_id, rule_id="m06.exhibition",
                                         approved=True, approved_amount_fen=amount),
    )  # fmt: skip


async def _state(stack: Stack, expo: epb.EnterpriseEvent) -> tuple[str, int, int]:
    """The entitlement's status and granted amount, and the cash its journal entries moved."""
    eid = f"{expo.event_id}/m06.exhibition"
    (row,) = await stack.fetch(
        "SELECT status, granted_fen, (SELECT coalesce(sum(amount_fen), 0) FROM entries"
        " WHERE entitlement_id = $1 AND kind = 'GRANT')::bigint AS cash FROM entitlements"
        " WHERE entitlement_id = $1",
        eid,
    )
    return row["status"], row["granted_fen"], row["cash"]


async def _explain(stack: Stack, entitlement_id: str) -> str:
    settings = api_settings(stack.ledger.url, stack.tls, LEDGER_API_ALLOW_WRITABLE_ROLE=True)
    async with ledger_api(settings, CATALOG, grace=1.0) as api:
        env = {**os.environ, "SUBSIDY_LEDGER_TOKEN": AUDITOR_TOKEN}
        done = await asyncio.to_thread(
            subprocess.run,
            [str(SUBSIDY), "ledger", "explain", entitlement_id, "--lang", "en",
             "--server", f"127.0.0.1:{api.port}", *stack.tls.cli_args()],
            capture_output=True, text=True, timeout=60, env=env,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_one_reviewer_alone_pays_nothing_and_the_entitlement_awaits_a_second(
    stack: Stack,
) -> None:
    expo = _exhibition(41)
    await stack.submit("expo-bureau", expo)
    review = _approval(expo)
    await stack.submit("reviewer-wang", review)
    report = await stack.through_the_ledger()
    assert (report.applied, report.rejected) == (2, 0)
    assert await _state(stack, expo) == ("PENDING_REVIEW", 0, 0)
    waiting = await stack.fetch("SELECT event_id, principal, amount_fen, state FROM"
                                " review_approvals")  # fmt: skip
    assert [tuple(r) for r in waiting] == [(review.event_id, "reviewer-wang", LARGE, "waiting")]
    explained = await _explain(stack, f"{expo.event_id}/m06.exhibition")
    assert "review: awaiting a second approval" in explained
    assert "four eyes: reviewer-wang approved ¥1,500,000.00" in explained
    assert "awaits a second approval by another reviewer" in explained


async def test_a_reviewer_approving_twice_is_refused_whatever_its_file_claims(
    stack: Stack, tmp_path: Path
) -> None:
    expo = _exhibition(42)
    await stack.submit("expo-bureau", expo)
    first = _approval(expo)
    await stack.submit("reviewer-wang", first)
    assert (await stack.through_the_ledger()).four_eyes == {"first_approval": 1}
    before = _counted("same_reviewer")
    # Wang's second approval, from a file that claims reviewer Li submitted it: the ingest
    # API records the credential's principal, not the claim.
    second = json.loads(json.dumps({
        "eventId": f"rt4-review-{uuid.uuid4().hex}", "source": BOARD,
        "enterpriseId": expo.enterprise_id, "enterpriseName": expo.enterprise_name,
        "district": "WUZHONG", "occurredOn": "2025-07-02",
        "reviewDecided": {"eventRef": expo.event_id, "ruleId": "m06.exhibition",
                          "approved": True, "approvedAmountFen": LARGE},
        "submittedBy": {"principal": "reviewer-li"},
    }))  # fmt: skip
    path = tmp_path / "again.jsonl"
    path.write_text(json.dumps(second, ensure_ascii=False) + "\n", encoding="utf-8")
    summary = await asyncio.to_thread(
        ingest_file,
        path,
        server=stack.address,
        token=TOKENS["reviewer-wang"],
        transport=stack.tls.client_tls,
    )
    assert (summary.accepted, summary.rejected) == (1, 0), summary.errors
    report = await stack.through_the_ledger()
    assert (report.applied, report.rejected) == (0, 1)
    assert report.four_eyes == {"same_reviewer": 1}
    assert _counted("same_reviewer") == before + 1
    (refused,) = await stack.fetch(
        "SELECT error FROM rejected_events WHERE event_id = $1", second["eventId"]
    )
    error = refused["error"]
    assert error.startswith("submittedBy.principal: ")
    assert second["eventId"] in error
    assert first.event_id in error
    assert "'reviewer-wang'" in error
    assert await _state(stack, expo) == ("PENDING_REVIEW", 0, 0)


async def test_two_distinct_reviewers_pay_and_explain_names_both(stack: Stack) -> None:
    expo = _exhibition(43)
    await stack.submit("expo-bureau", expo)
    first, second = _approval(expo), _approval(expo)
    await stack.submit("reviewer-wang", first)
    await stack.submit("reviewer-li", second)
    report = await stack.through_the_ledger()
    assert (report.applied, report.rejected) == (3, 0)
    assert await _state(stack, expo) == ("PAID", LARGE, LARGE)
    (settled,) = await stack.fetch("SELECT state, settled_by FROM review_approvals")
    assert tuple(settled) == ("settled", second.event_id)
    explained = await _explain(stack, f"{expo.event_id}/m06.exhibition")
    assert (
        f"approved by reviewer-wang ({first.event_id}) and reviewer-li ({second.event_id})"
        in explained
    )
    history = explained.split("\nHistory\n", 1)[1]
    steps = [line for line in history.splitlines() if line.strip().startswith("#")]
    statuses = [s.split(":")[0].split(" ", 3)[3] for s in steps]  # "  #1 Pending review: …"
    assert statuses == ["Pending review", "Pending review", "Paid"]
    assert "submitted by reviewer-wang" in steps[1]
    assert "submitted by reviewer-li" in steps[2]
