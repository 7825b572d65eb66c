"""Red team, provenance."""

# A feed's credential submits only what it is bound to, and every step of a payout names who
# submitted the event behind it (real ingest, Kafka, ledger, CLI).

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
import grpc
import pytest

from subsidy.api.v1 import api_pb2, api_pb2_grpc
from subsidy.eligibility.handler import Incoming, handle_message
from subsidy.events.v1 import events_pb2 as epb
from subsidy.infra.grpc_errors import field_violations
from subsidy.ingest.client import ingest_file
from subsidy.ingest.metrics import REGISTRY as INGEST_REGISTRY
from subsidy.ledger.bootstrap import ledger_api
from subsidy.ledger.processor import apply_batch
from subsidy.ledger.repository import BookCache
from subsidy.ledger.worker import decode
from tests.factories import enterprise_id
from tests.ingest.server import cert_event, read_topic
from tests.ledger.api import AUDITOR_TOKEN, SUBSIDY, api_settings
from tests.ledger.database import LedgerDb
from tests.ledger.events import CATALOG
from tests.redteam.ingest import ingest_with
from tests.support.grpc_tls import GrpcTls
from tests.support.records import PLAIN_FRAMERS

CERT_FEED = "js-provincial-cert-feed"
EXPO = "sz-commerce-expo"
TOKENS = {name: f"{name}-{uuid.uuid4().hex}" for name in
          ("cert-feed", "expo-bureau", "expo-backup", "reviewer-wang")}  # fmt: skip
CREDENTIALS = {
    "js-provincial-cert-feed": {"tokens": [TOKENS["cert-feed"]],
                                "event_types": ["certificationObtained"], "sources": [CERT_FEED]},
    "expo-bureau": {"tokens": [TOKENS["expo-bureau"]], "event_types": ["exhibitionHeld"],
                    "sources": [EXPO]},
    "expo-backup": {"tokens": [TOKENS["expo-backup"]], "event_types": ["exhibitionHeld"],
                    "sources": [EXPO]},
    "reviewer-wang": {"tokens": [TOKENS["reviewer-wang"]], "event_types": ["reviewDecided"],
                      "sources": ["district-review-board"]},
}  # fmt: skip


def _auth(who: str) -> tuple[tuple[str, str]]:
    return (("authorization", f"Bearer {TOKENS[who]}"),)


def _forbidden(binding: str) -> float:
    return (
        INGEST_REGISTRY.get_sample_value(
            "subsidy_ingest_forbidden_events_total", {"binding": binding}
        )
        or 0.0
    )


class Feeds:
    """The ingest server of these tests, with the principals above, and where it produces."""

    def __init__(
        self, address: str, topic: str, bootstrap: str, database_url: str, tls: GrpcTls
    ) -> None:
        self.address, self.topic = address, topic
        self.bootstrap, self.database_url, self.tls = bootstrap, database_url, tls


@pytest.fixture
async def feeds(
    fresh_database_url: str, kafka_bootstrap: str, grpc_tls: GrpcTls
) -> AsyncIterator[Feeds]:
    server = ingest_with(CREDENTIALS, fresh_database_url, kafka_bootstrap, grpc_tls)
    async with server as (address, topic):
        yield Feeds(address, topic, kafka_bootstrap, fresh_database_url, grpc_tls)


def _stub(channel: grpc.aio.Channel) -> Any:
    return api_pb2_grpc.IngestServiceStub(channel)


async def _refused(feeds: Feeds, who: str, event: epb.EnterpriseEvent) -> list[str]:
    """Submit as `who`; the call must be PERMISSION_DENIED: the fields it names."""
    async with feeds.tls.channel(feeds.address) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await _stub(channel).Submit(api_pb2.SubmitRequest(event=event), metadata=_auth(who))
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED, err.value.details()
    assert who.split("-")[0] in err.value.details()
    return [field for field, _ in field_violations(err.value)]


def _invoice(source: str = CERT_FEED) -> epb.EnterpriseEvent:
    return epb.EnterpriseEvent(
        event_id=f"rt-inv-{uuid.uuid4().hex}", source=source, enterprise_id=enterprise_id(7),
        enterprise_name="苏州红队机器人有限公司", district=epb.SIP, occurred_on="2025-06-30",
        compute_invoice_filed=epb.ComputeInvoiceFiled(item_id="INV-RT", amount_fen=10_000_000),
    )  # fmt: skip


async def test_a_feed_cannot_submit_an_event_type_it_is_not_bound_to(feeds: Feeds) -> None:
    before = _forbidden("type")
    assert await _refused(feeds, "cert-feed", _invoice()) == ["computeInvoiceFiled"]
    # A reviewer may decide reviews and nothing else; a feed may not decide reviews.
    cert = cert_event(enterprise=8)
    cert.source = "district-review-board"
    assert await _refused(feeds, "reviewer-wang", cert) == ["certificationObtained"]
    review = epb.EnterpriseEvent(
        event_id=f"rt-rev-{uuid.uuid4().hex}", source=CERT_FEED, enterprise_id=enterprise_id(8),
        enterprise_name="苏州红队机器人有限公司", district=epb.SIP, occurred_on="2025-06-30",
        review_decided=epb.ReviewDecided(event_ref="x", rule_id="m06.exhibition", approved=True,
                                         approved_amount_fen=200_000_000_00),
    )  # fmt: skip
    assert await _refused(feeds, "cert-feed", review) == ["reviewDecided"]
    assert _forbidden("type") == before + 3


async def test_a_certification_feed_cannot_claim_another_source(feeds: Feeds) -> None:
    before = _forbidden("source")
    spoofed = cert_event(enterprise=9)
    spoofed.source = "sz-miit-portal"
    assert await _refused(feeds, "cert-feed", spoofed) == ["source"]
    assert _forbidden("source") == before + 1

    # In a batch the refused event is listed with its reason, and the others go on.
    honest = cert_event(enterprise=9)
    honest.source = CERT_FEED

    async def requests() -> AsyncIterator[api_pb2.SubmitRequest]:
        for event in (spoofed, honest):
            yield api_pb2.SubmitRequest(event=event)

    async with feeds.tls.channel(feeds.address) as channel:
        response = await _stub(channel).SubmitBatch(requests(), metadata=_auth("cert-feed"))
    assert response.accepted == 1
    (rejection,) = response.rejected
    assert (rejection.index, rejection.event_id) == (0, spoofed.event_id)
    assert [e.field for e in rejection.errors] == ["source"]
    assert "permission denied" in rejection.errors[0].message
    on_kafka = [e.event_id for _, _, e in await read_topic(feeds.bootstrap, feeds.topic)]
    assert spoofed.event_id not in on_kafka
    assert honest.event_id in on_kafka


def _exhibition() -> epb.EnterpriseEvent:
    return epb.EnterpriseEvent(
        event_id=f"rt-expo-{uuid.uuid4().hex}", source=EXPO, enterprise_id=enterprise_id(10),
        enterprise_name="苏州红队展览有限公司", district=epb.WUZHONG, occurred_on="2025-06-01",
        exhibition_held=epb.ExhibitionHeld(item_id="expo-rt"),
    )  # fmt: skip


async def _submit_all(feeds: Feeds, tmp_path: Path) -> tuple[str, str]:
    """The exhibition by the expo bureau (gRPC), again by its backup (a duplicate), and its
    review by reviewer Wang from a file (the CLI's path); the two event ids."""
    expo = _exhibition()
    async with feeds.tls.channel(feeds.address) as channel:
        for who, duplicate in (("expo-bureau", False), ("expo-backup", True)):
            answer = await _stub(channel).Submit(
                api_pb2.SubmitRequest(event=expo), metadata=_auth(who)
            )
            assert answer.duplicate is duplicate
    review_id = f"rt-review-{uuid.uuid4().hex}"
    review = {
        "eventId": review_id, "source": "district-review-board",
        "enterpriseId": expo.enterprise_id, "enterpriseName": expo.enterprise_name,
        "district": "WUZHONG", "occurredOn": "2025-07-01",
        "reviewDecided": {"eventRef": expo.event_id, "ruleId": "m06.exhibition",
                          "approved": True, "approvedAmountFen": 80_000_000},
    }  # fmt: skip
    path = tmp_path / "reviews.jsonl"
    path.write_text(json.dumps(review, ensure_ascii=False) + "\n", encoding="utf-8")
    summary = await asyncio.to_thread(
        ingest_file,
        path,
        server=feeds.address,
        token=TOKENS["reviewer-wang"],
        transport=feeds.tls.client_tls,
    )
    assert (summary.accepted, summary.rejected) == (1, 0), summary.errors
    return expo.event_id, review_id


async def _through_the_ledger(feeds: Feeds, ledger: LedgerDb, event_ids: set[str]) -> None:
    """Each record as produced, through eligibility's handler and the ledger worker's decoding,
    into the ledger: the bytes (and so the provenance) travel as they would on Kafka."""
    records = [r for r in await read_topic(feeds.bootstrap, feeds.topic)
               if r[2].event_id in event_ids]  # fmt: skip
    messages = []
    for offset, (partition, key, event) in enumerate(records):
        incoming = Incoming(feeds.topic, partition, offset, key, event.SerializeToString())
        out = handle_message(incoming, CATALOG, output_topic="entitlements",
                             dead_letter_topic="dead-letters", framers=PLAIN_FRAMERS)  # fmt: skip
        assert out.rejection is None, out.rejection
        record = SimpleNamespace(topic=out.topic, partition=partition, offset=offset,
                                 value=out.value)  # fmt: skip
        messages.append(decode(record, CATALOG))
    cache = BookCache(100)
    conn = await asyncpg.connect(ledger.url)
    try:
        async with conn.transaction():
            prepared = await apply_batch(conn, messages, cache)
        prepared.committed(cache)
    finally:
        await conn.close()


async def test_ledger_explain_names_who_submitted_each_step(
    feeds: Feeds, ledger_db: LedgerDb, tmp_path: Path
) -> None:
    expo_id, review_id = await _submit_all(feeds, tmp_path)
    conn = await asyncpg.connect(feeds.database_url)
    try:
        stored = await conn.fetchrow(
            "SELECT submitted_by, channel FROM ingest_accepted_events WHERE event_id = $1",
            expo_id,
        )
    finally:
        await conn.close()
    # The backup's resubmission was a duplicate: the first submitter stays.
    assert dict(stored) == {"submitted_by": "expo-bureau", "channel": "GRPC_API"}

    await _through_the_ledger(feeds, ledger_db, {expo_id, review_id})
    settings = api_settings(ledger_db.url, feeds.tls, LEDGER_API_ALLOW_WRITABLE_ROLE=True)
    async with ledger_api(settings, CATALOG, grace=1.0) as api:
        env = {**os.environ, "SUBSIDY_LEDGER_TOKEN": AUDITOR_TOKEN}
        done = await asyncio.to_thread(
            subprocess.run,
            [str(SUBSIDY), "ledger", "explain", f"{expo_id}/m06.exhibition", "--lang", "en",
             "--server", f"127.0.0.1:{api.port}", *feeds.tls.cli_args()],
            capture_output=True, text=True, timeout=60, env=env,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    history = done.stdout.split("\nHistory\n", 1)[1]
    steps = [line for line in history.splitlines() if line.strip().startswith("#")]
    assert len(steps) == 2, history
    assert "Pending review" in steps[0]
    assert f"event {expo_id}" in steps[0]
    assert "submitted by expo-bureau via gRPC API" in steps[0]
    assert "Paid" in steps[1]
    assert f"event {review_id}" in steps[1]
    assert "submitted by reviewer-wang via CLI file" in steps[1]
    assert "expo-backup" not in done.stdout
