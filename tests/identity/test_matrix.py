"""The authorization matrix on real servers."""

# Every LedgerService and IngestService method, every person's role (an enterprise's own data and
# another's, a reviewer of the rule's bureau and of another, an approver, an auditor, an admin),
# every token state, and the exact status code. A method without a row here (or in
# subsidy.identity.access) fails.

import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import grpc
import pytest

from subsidy.api.v1 import api_pb2, api_pb2_grpc, workbench_pb2
from subsidy.domain.beijing import BEIJING
from subsidy.domain.events import PAYLOAD_TYPES
from subsidy.identity.access import ACCESS, markdown_table
from subsidy.identity.principal import Role
from tests.identity.platform import (
    ACTORS,
    BUREAU_RULE,
    OTHER_ENTERPRISE,
    OWN_ENTITLEMENT,
    PORTAL_SOURCE,
    STATES,
    Platform,
    event_id,
    platform,
)
from tests.ledger.api import TOP_UP, violated_fields
from tests.support.grpc_tls import GrpcTls
from tests.support.topics import private_topics

OK, DENIED, UNAUTH = "OK", "PERMISSION_DENIED", "UNAUTHENTICATED"
LEDGER = api_pb2.DESCRIPTOR.services_by_name["LedgerService"]
INGEST = api_pb2.DESCRIPTOR.services_by_name["IngestService"]
GUARDED = (LEDGER, INGEST, workbench_pb2.DESCRIPTOR.services_by_name["WorkbenchService"])
READERS = ("enterprise_own", "reviewer_bureau", "reviewer_other_bureau", "approver", "auditor")
SUBMITTERS = ("enterprise_own", "reviewer_bureau", "approver")

# The valid session's outcome per method and actor; a refusal inside the method names a field.
# SubmitBatch answers OK and lists a refused event with its field (as for machines' tokens).
EXPECTED: dict[str, dict[str, tuple[str, str | None]]] = {
    "GetStatement": {a: (OK, None) if a in READERS else (DENIED, None) for a in ACTORS},
    "ListDecisions": {a: (OK, None) if a in ("enterprise_own", "auditor") else (DENIED, None)
                      for a in ACTORS},
    "ExplainDecision": {a: (OK, None) if a in READERS else (DENIED, None) for a in ACTORS},
    "GetTotals": {a: (OK, None) if a == "auditor" else (DENIED, None) for a in ACTORS},
    "VerifyChain": {a: (OK, None) if a == "auditor" else (DENIED, None) for a in ACTORS},
    "Submit": {a: (OK, None) if a in SUBMITTERS else (DENIED, None) for a in ACTORS},
    "SubmitBatch": {a: (OK, None) if a in SUBMITTERS else (DENIED, None) for a in ACTORS},
}  # fmt: skip
EXPECTED["GetStatement"]["enterprise_other"] = (DENIED, "enterpriseId")
EXPECTED["ListDecisions"]["enterprise_other"] = (DENIED, "enterpriseId")
EXPECTED["ExplainDecision"]["enterprise_other"] = (DENIED, "entitlementId")
EXPECTED["Submit"]["enterprise_other"] = (DENIED, "enterpriseId")
EXPECTED["Submit"]["reviewer_other_bureau"] = (DENIED, "reviewDecided.ruleId")
EXPECTED["SubmitBatch"]["enterprise_other"] = (OK, "enterpriseId")
EXPECTED["SubmitBatch"]["reviewer_other_bureau"] = (OK, "reviewDecided.ruleId")


def _event(actor: str) -> dict[str, Any]:
    """What the actor would submit through the portal: an enterprise an objection about
    TOP_UP's entitlement, the others a review of the bureau's rule; dated today in Beijing."""
    base = {"eventId": event_id(), "source": PORTAL_SOURCE, "enterpriseId": TOP_UP,
            "enterpriseName": "苏州矩阵机器人有限公司", "district": "SIP",
            "occurredOn": datetime.now(BEIJING).date().isoformat()}  # fmt: skip
    if actor.startswith("enterprise"):
        return {**base, "objectionFiled": {"eventRef": "api-topup-1", "ruleId": BUREAU_RULE,
                                           "reason": "公示期间异议"}}  # fmt: skip
    return {**base, "reviewDecided": {"eventRef": "api-topup-1", "ruleId": BUREAU_RULE,
                                      "approved": False}}  # fmt: skip


def _submit(actor: str) -> api_pb2.SubmitRequest:
    return api_pb2.SubmitRequest(event_json=json.dumps(_event(actor)).encode())


REQUESTS: dict[str, Callable[[str], Any]] = {
    "GetStatement": lambda _: api_pb2.GetStatementRequest(enterprise_id=TOP_UP),
    "ListDecisions": lambda _: api_pb2.ListDecisionsRequest(enterprise_id=TOP_UP),
    "ExplainDecision": lambda _: api_pb2.ExplainDecisionRequest(entitlement_id=OWN_ENTITLEMENT),
    "GetTotals": lambda _: api_pb2.GetTotalsRequest(group_by=api_pb2.TotalsGroup.Value("RULE")),
    "VerifyChain": lambda _: api_pb2.VerifyChainRequest(),
    "Submit": _submit,
    "SubmitBatch": lambda actor: iter([_submit(actor)]),
}

METHODS = [m.name for m in LEDGER.methods] + [m.name for m in INGEST.methods]
CASES = [(m, a, s) for m in METHODS for a in ACTORS for s in STATES]


@pytest.fixture(scope="module")
async def matrix(
    fresh_database_url: str, kafka_bootstrap: str, grpc_tls: GrpcTls
) -> AsyncIterator[Platform]:
    topic = f"test.identity.{uuid.uuid4().hex}"
    with private_topics(kafka_bootstrap, {topic: 1}):
        async with platform(fresh_database_url, kafka_bootstrap, topic, grpc_tls) as running:
            yield running


def _stub(matrix: Platform, method: str, channel: grpc.aio.Channel) -> Any:
    if method in (m.name for m in INGEST.methods):
        return api_pb2_grpc.IngestServiceStub(channel)
    return api_pb2_grpc.LedgerServiceStub(channel)


def test_every_method_of_a_guarded_service_has_a_row() -> None:
    for service in GUARDED:
        for method in service.methods:
            assert f"/{service.full_name}/{method.name}" in ACCESS, method.full_name
    assert set(METHODS) == set(EXPECTED) == set(REQUESTS)
    assert all(set(row) == set(ACTORS) for row in EXPECTED.values())


def test_the_docs_show_the_matrix() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "security.md").read_text(encoding="utf-8")
    assert markdown_table() in docs


@pytest.mark.parametrize(("method", "actor", "state"), CASES, ids=["-".join(c) for c in CASES])
async def test_the_matrix(matrix: Platform, method: str, actor: str, state: str) -> None:
    role = Role(ACTORS[actor][0])
    service = INGEST if method in (m.name for m in INGEST.methods) else LEDGER
    allowed = role in ACCESS[f"/{service.full_name}/{method}"]
    code, field = EXPECTED[method][actor] if state == "valid" else (UNAUTH, None)
    if state == "valid" and not allowed:  # this table agrees with subsidy.identity.access
        assert (code, field) == (DENIED, None)
    address = matrix.ingest_address if service is INGEST else matrix.ledger_address
    metadata = (("authorization", f"Bearer {matrix.token(actor, state)}"),)
    async with matrix.tls.channel(address) as channel:
        call = getattr(_stub(matrix, method, channel), method)
        request = REQUESTS[method](actor)
        if code == OK:
            answer = await call(request, metadata=metadata, timeout=30)
        else:
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await call(request, metadata=metadata, timeout=30)
    if code != OK:
        assert refused.value.code().name == code, refused.value.details()
        if field is not None:
            assert violated_fields(refused.value) == [field]
        if code == UNAUTH:
            reason = "invalid" if state in ("tampered", "wrong_key") else state
            assert refused.value.details() == f"session {reason}: sign in again"
        return
    if method == "SubmitBatch":
        rejected = [e.field for r in answer.rejected for e in r.errors]
        assert rejected == ([field] if field else [])
        assert answer.accepted == (0 if field else 1)


async def test_a_person_s_event_carries_its_principal_and_the_portal_channel(
    matrix: Platform,
) -> None:
    request = _submit("reviewer_bureau")
    sent = json.loads(request.event_json)["eventId"]
    metadata = (("authorization", f"Bearer {matrix.token('reviewer_bureau', 'valid')}"),)
    async with matrix.tls.channel(matrix.ingest_address) as channel:
        stub = api_pb2_grpc.IngestServiceStub(channel)
        await stub.Submit(request, metadata=metadata, timeout=30)
    conn = await asyncpg.connect(matrix.owner_url)
    try:
        row = await conn.fetchrow(
            "SELECT submitted_by, channel FROM ingest_accepted_events WHERE event_id = $1", sent
        )
    finally:
        await conn.close()
    assert (row["submitted_by"], row["channel"]) == ("reviewer-bureau", "PORTAL")


def _other_sources() -> Iterator[tuple[str, dict[str, Any]]]:
    yield "source", {"source": "sz-miit-portal"}
    yield "enterpriseId", {"enterpriseId": OTHER_ENTERPRISE}


@pytest.mark.parametrize(("field", "change"), list(_other_sources()))
async def test_an_enterprise_may_claim_only_the_portal_and_itself(
    matrix: Platform, field: str, change: dict[str, Any]
) -> None:
    event = {**_event("enterprise_own"), **change}
    metadata = (("authorization", f"Bearer {matrix.token('enterprise_own', 'valid')}"),)
    async with matrix.tls.channel(matrix.ingest_address) as channel:
        stub = api_pb2_grpc.IngestServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.Submit(api_pb2.SubmitRequest(event_json=json.dumps(event).encode()),
                              metadata=metadata, timeout=30)  # fmt: skip
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert violated_fields(refused.value) == [field]


async def test_another_enterprise_learns_nothing_of_what_exists(matrix: Platform) -> None:
    """Another's entitlement and one that does not exist get the same answer."""
    metadata = (("authorization", f"Bearer {matrix.token('enterprise_other', 'valid')}"),)
    answers = []
    async with matrix.tls.channel(matrix.ledger_address) as channel:
        stub = api_pb2_grpc.LedgerServiceStub(channel)
        for entitlement in (OWN_ENTITLEMENT, "no-such-event/m03.municipal_key_lab"):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.ExplainDecision(
                    api_pb2.ExplainDecisionRequest(entitlement_id=entitlement),
                    metadata=metadata, timeout=30,
                )  # fmt: skip
            answers.append((refused.value.code(), refused.value.details()))
    assert answers[0] == answers[1]
    assert answers[0][0] == grpc.StatusCode.PERMISSION_DENIED


async def test_static_auditor_tokens_still_read_everything(matrix: Platform) -> None:
    from tests.ledger.api import AUDITOR

    async with matrix.tls.channel(matrix.ledger_address) as channel:
        stub = api_pb2_grpc.LedgerServiceStub(channel)
        statement = await stub.GetStatement(
            api_pb2.GetStatementRequest(enterprise_id=TOP_UP), metadata=AUDITOR, timeout=30
        )
        assert statement.entitlements
        assert (await stub.VerifyChain(api_pb2.VerifyChainRequest(), metadata=AUDITOR)).ok


def _foreign_rule() -> str:
    from subsidy.domain.catalog import load_catalog

    return next(r.id for r in load_catalog().rules if "市工信局" not in r.responsible_units)


@pytest.mark.skipif("appealDecided" not in PAYLOAD_TYPES, reason="appealDecided not yet a payload")
@pytest.mark.parametrize("own_bureau", [True, False], ids=["own-bureau", "other-bureau"])
async def test_an_approver_decides_appeals_of_its_bureau_s_rules_only(
    matrix: Platform, own_bureau: bool
) -> None:
    rule = BUREAU_RULE if own_bureau else _foreign_rule()
    event = {**_event("approver"), "reviewDecided": None}
    del event["reviewDecided"]
    event["appealDecided"] = {"appealRef": "matrix-appeal-1", "eventRef": "api-topup-1",
                              "ruleId": rule, "upheld": False, "reason": "维持原决定"}  # fmt: skip
    metadata = (("authorization", f"Bearer {matrix.token('approver', 'valid')}"),)
    request = api_pb2.SubmitRequest(event_json=json.dumps(event).encode())
    async with matrix.tls.channel(matrix.ingest_address) as channel:
        stub = api_pb2_grpc.IngestServiceStub(channel)
        if own_bureau:
            assert (await stub.Submit(request, metadata=metadata, timeout=30)).event_id
            return
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.Submit(request, metadata=metadata, timeout=30)
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert violated_fields(refused.value) == ["appealDecided.ruleId"]
