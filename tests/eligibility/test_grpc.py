"""EligibilityService.Evaluate over real channels (TLS)."""

# In-process, and `subsidy eligibility serve`.

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import json_format
from grpc_health.v1 import health_pb2, health_pb2_grpc

from subsidy.api.v1 import api_pb2, api_pb2_grpc
from subsidy.decisions.v1 import decisions_pb2
from subsidy.domain.catalog import load_catalog
from subsidy.eligibility.bootstrap import dry_run_server
from subsidy.eligibility.grpc_service import SERVICE_NAME
from subsidy.events.v1 import events_pb2
from subsidy.harness.processes import free_port
from subsidy.infra.grpc_errors import field_violations
from tests.factories import ENTERPRISE, event
from tests.support.grpc_tls import GrpcTls

SUBSIDY = Path(sys.executable).with_name("subsidy")
LAB = {"kind": "MUNICIPAL_KEY_LAB", "itemId": "lab-1", "certificateId": "C-1"}


def _request(payload_type: str, payload: dict[str, Any], **top: Any) -> api_pb2.EvaluateRequest:
    message = json_format.ParseDict(
        event(payload_type, payload, **top), events_pb2.EnterpriseEvent()
    )
    return api_pb2.EvaluateRequest(event=message)


def _stub(channel: grpc.aio.Channel) -> "api_pb2_grpc.EligibilityServiceAsyncStub":
    return api_pb2_grpc.EligibilityServiceStub(channel)  # type: ignore[return-value]


def _fields(err: grpc.RpcError) -> list[str]:
    """The fields named by the error's google.rpc.BadRequest."""
    return [field for field, _ in field_violations(err)]


@pytest.fixture
async def channel(grpc_tls: GrpcTls) -> AsyncIterator[grpc.aio.Channel]:
    server = dry_run_server("127.0.0.1:0", load_catalog(), grpc_tls.server_tls(), grace=None)
    async with server as (_, port), grpc_tls.channel(f"127.0.0.1:{port}") as ch:
        yield ch


async def test_evaluate_returns_entitlements_with_traces(channel: grpc.aio.Channel) -> None:
    response = await _stub(channel).Evaluate(
        _request(
            "certificationObtained", {**LAB, "approvedAmountFen": 300_000_000}, eventId="ev-g1"
        )
    )
    [ent] = response.entitlements
    assert ent.entitlement_id == "ev-g1/m03.municipal_key_lab"
    assert ent.entitled_fen == 100_000_000  # the approved 300万 clipped to the 100万 ceiling
    assert list(ent.reasons) == [decisions_pb2.CEILING_CLIPPED]
    assert ent.status == decisions_pb2.ELIGIBLE
    assert ent.enterprise_id == ENTERPRISE
    clip = {t.key: t for t in ent.trace}["clip"]
    assert (clip.label_zh, clip.label_en) == (
        "核定金额超过最高额度,按最高额度",
        "clipped to the ceiling",
    )
    assert response.catalog_version == load_catalog().version


async def test_evaluate_of_a_ledger_payload_is_empty(channel: grpc.aio.Channel) -> None:
    response = await _stub(channel).Evaluate(
        _request("certificationRevoked", {"itemId": "lab-1", "reason": "撤销"})
    )
    assert list(response.entitlements) == []


async def test_an_invalid_event_is_invalid_argument_naming_the_fields(
    channel: grpc.aio.Channel,
) -> None:
    request = _request("computeInvoiceFiled", {"itemId": "inv-1", "amountFen": 0},
                       enterpriseId=ENTERPRISE[:-1] + "0", eventId="ev-bad")  # fmt: skip
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _stub(channel).Evaluate(request)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    # amountFen 0 is proto3's default, so it arrives missing; the id's check character fails.
    assert sorted(_fields(caught.value)) == ["computeInvoiceFiled.amountFen", "enterpriseId"]

    with pytest.raises(grpc.aio.AioRpcError) as no_event:
        await _stub(channel).Evaluate(api_pb2.EvaluateRequest())
    assert no_event.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert _fields(no_event.value) == ["event"]


async def test_health_reports_the_service_serving(channel: grpc.aio.Channel) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    for name in ("", SERVICE_NAME):
        reply = await health.Check(health_pb2.HealthCheckRequest(service=name))
        assert reply.status == health_pb2.HealthCheckResponse.SERVING, name


async def test_the_serve_command_answers_and_stops_gracefully(
    tmp_path: Path, grpc_tls: GrpcTls
) -> None:
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            str(SUBSIDY), "eligibility", "serve", "--address", f"127.0.0.1:{port}",
            env={**os.environ, "LOG_LEVEL": "INFO", **grpc_tls.env()},
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
    try:
        async with grpc_tls.channel(f"127.0.0.1:{port}") as ch:
            health = health_pb2_grpc.HealthStub(ch)
            deadline = time.monotonic() + 30
            while True:
                try:
                    reply = await health.Check(
                        health_pb2.HealthCheckRequest(service=SERVICE_NAME), timeout=1
                    )
                    break
                except grpc.aio.AioRpcError:
                    assert proc.returncode is None, log.read_text()
                    assert time.monotonic() < deadline, log.read_text()
                    await asyncio.sleep(0.2)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
            response = await _stub(ch).Evaluate(
                _request("certificationObtained", LAB, eventId="ev-s")
            )
            assert [e.entitlement_id for e in response.entitlements] == [
                "ev-s/m03.municipal_key_lab"
            ]
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), 15)
        assert code == 0, log.read_text()
        assert time.monotonic() - started < 10
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
