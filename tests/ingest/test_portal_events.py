"""The 苏州政务服务网 portal's filings through the real ingest API (Kafka, PostgreSQL)."""

# Under the main job's own bindings (subsidy.harness.principals): its payee accounts and objections
# go on Kafka as sent, an account in another name is refused naming the field, and the portal and
# the fact feeds may not send each other's types.

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import json_format

from subsidy.api.v1 import api_pb2, api_pb2_grpc
from subsidy.contract.codec import event_from_proto
from subsidy.events.v1 import events_pb2 as epb
from subsidy.harness.principals import PORTAL, Principal, credentials_json, demo_principals
from subsidy.infra.grpc_errors import field_violations
from subsidy.ingest.client import ingest_file
from tests.factories import enterprise_id
from tests.ingest.server import read_topic
from tests.redteam.ingest import ingest_with
from tests.support.grpc_tls import GrpcTls

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

NAME = "苏州星动机器人科技有限公司"
CERT_FEED = "js-provincial-cert-feed"


class Portal:
    """The ingest server with the main job's principals, and where it produces."""

    def __init__(self, address: str, topic: str, bootstrap: str, tls: GrpcTls) -> None:
        self.address, self.topic, self.bootstrap, self.tls = address, topic, bootstrap, tls
        self.principals: dict[str, Principal] = {}

    def auth(self, who: str) -> tuple[tuple[str, str]]:
        return (("authorization", f"Bearer {self.principals[who].token}"),)


@pytest.fixture
async def portal(
    fresh_database_url: str, kafka_bootstrap: str, grpc_tls: GrpcTls
) -> AsyncIterator[Portal]:
    principals = demo_principals()
    credentials = json.loads(credentials_json(principals.values()))
    async with ingest_with(credentials, fresh_database_url, kafka_bootstrap, grpc_tls) as (
        address,
        topic,
    ):
        running = Portal(address, topic, kafka_bootstrap, grpc_tls)
        running.principals = principals
        yield running


def _event(source: str, **payload: Any) -> epb.EnterpriseEvent:
    return epb.EnterpriseEvent(
        event_id=f"{source}:{uuid.uuid4().hex[:12]}", source=source,
        enterprise_id=enterprise_id(920_001), enterprise_name=NAME, district=epb.KUNSHAN,
        occurred_on="2025-07-01", **payload,
    )  # fmt: skip


def _payee(name: str = NAME) -> epb.EnterpriseEvent:
    account = epb.PayeeAccountRegistered(
        bank_name="中国农业银行苏州分行", account_number="1054000123456789012", account_name=name
    )
    return _event(PORTAL, payee_account_registered=account)


def _objection() -> epb.EnterpriseEvent:
    objection = epb.ObjectionFiled(event_ref="x1", rule_id="m06.exhibition", reason="材料不实")
    return _event(PORTAL, objection_filed=objection)


async def _submit(portal: Portal, who: str, event: epb.EnterpriseEvent) -> None:
    async with portal.tls.channel(portal.address) as channel:
        stub: Any = api_pb2_grpc.IngestServiceStub(channel)
        await stub.Submit(api_pb2.SubmitRequest(event=event), metadata=portal.auth(who))


async def _refusal(portal: Portal, who: str, event: epb.EnterpriseEvent) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _submit(portal, who, event)
    return err.value


async def test_the_portal_files_accounts_and_objections_onto_kafka(
    portal: Portal, tmp_path: Path
) -> None:
    payee, objection = _payee(), _objection()
    await _submit(portal, PORTAL, payee)
    # And from a file, as `subsidy ingest` sends one.
    path = tmp_path / "portal.jsonl"
    path.write_text(json.dumps(json_format.MessageToDict(objection), ensure_ascii=False) + "\n")
    # In a thread: the client blocks, and the server runs on this test's event loop.
    summary = await asyncio.to_thread(
        ingest_file, path, server=portal.address, token=portal.principals[PORTAL].token,
        transport=portal.tls.client_tls,
    )  # fmt: skip
    assert (summary.accepted, summary.rejected) == (1, 0)
    on_kafka = {e.event_id: e for _, _, e in await read_topic(portal.bootstrap, portal.topic)}
    for sent in (payee, objection):
        got = on_kafka[sent.event_id]
        assert event_from_proto(got).to_json_dict() == event_from_proto(sent).to_json_dict()
        assert got.submitted_by.principal == PORTAL


async def test_an_account_in_another_name_is_invalid_naming_the_field(portal: Portal) -> None:
    err = await _refusal(portal, PORTAL, _payee(name="苏州别家机器人有限公司"))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    [(field, message)] = field_violations(err)
    assert field == "payeeAccountRegistered.accountName"
    assert message.startswith("户名与企业名称不一致")


async def test_the_portal_and_the_fact_feeds_keep_to_their_own_types(portal: Portal) -> None:
    cert = epb.CertificationObtained(kind=epb.HIGH_TECH_ENTERPRISE, item_id="h", certificate_id="c")
    err = await _refusal(portal, PORTAL, _event(PORTAL, certification_obtained=cert))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    assert [f for f, _ in field_violations(err)] == ["certificationObtained"]
    # A fact feed under its own source may not file an account, nor claim the portal's source.
    foreign = _payee()
    foreign.source = CERT_FEED
    err = await _refusal(portal, CERT_FEED, foreign)
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    assert [f for f, _ in field_violations(err)] == ["payeeAccountRegistered"]
    err = await _refusal(portal, CERT_FEED, _objection())
    assert [f for f, _ in field_violations(err)] == ["objectionFiled", "source"]
