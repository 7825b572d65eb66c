"""Ids a caller makes up reach no query."""

# NUL, bidi controls and other invisible characters are INVALID_ARGUMENT naming the field
# (PostgreSQL refused NUL and the call ended INTERNAL, logged as a failed query), and a long id
# never comes back whole in an answer or a log.

import base64
import json
from collections.abc import MutableMapping
from typing import Any

import grpc
import pytest
from structlog.testing import capture_logs

from subsidy.api.v1 import api_pb2
from subsidy.ledger.queries import DecisionFilter
from tests.ledger.api import AUDITOR, PROVINCIAL, violated_fields

pytestmark = [pytest.mark.postgres]

HIDDEN = ["\x00", "\u202e", "\u2066", "\u200b", "\ufeff", "\x85", "\x1b"]


async def _refused(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    return err.value


def _events(logs: list[MutableMapping[str, Any]]) -> list[str]:
    return [str(entry["event"]) for entry in logs]


@pytest.mark.parametrize("char", HIDDEN, ids=[f"U+{ord(c):04X}" for c in HIDDEN])
async def test_explain_with_a_hidden_character_is_invalid_argument(stub: Any, char: str) -> None:
    entitlement_id = PROVINCIAL.replace("/", f"{char}/")
    with capture_logs() as logs:
        err = await _refused(
            stub.ExplainDecision(
                api_pb2.ExplainDecisionRequest(entitlement_id=entitlement_id), metadata=AUDITOR
            )
        )
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, err.details()
    assert violated_fields(err) == ["entitlementId"]
    assert f"U+{ord(char):04X}" in (err.details() or "")
    assert "ledger_api.query_failed" not in _events(logs)
    assert "ledger_api.invalid_request" in _events(logs)


async def test_a_rule_id_with_nul_is_invalid_argument(stub: Any) -> None:
    err = await _refused(
        stub.ListDecisions(api_pb2.ListDecisionsRequest(rule_id="m03\x00"), metadata=AUDITOR)
    )
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(err) == ["ruleId"]
    assert "U+0000" in (err.details() or "")


def _token(decision_id: str, filters: DecisionFilter) -> str:
    """A page token written by hand: its format is no secret (queries.encode_page_token)."""
    body = {"v": 1, "at": 0, "id": decision_id, "f": filters.fingerprint()}
    return base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")


async def test_a_page_token_carrying_nul_is_invalid_argument(stub: Any) -> None:
    request = api_pb2.ListDecisionsRequest(page_token=_token("x\x00", DecisionFilter()))
    with capture_logs() as logs:
        err = await _refused(stub.ListDecisions(request, metadata=AUDITOR))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, err.details()
    assert violated_fields(err) == ["pageToken"]
    assert "ledger_api.query_failed" not in _events(logs)


@pytest.mark.parametrize("size", [300, 1_000_000])
async def test_a_huge_id_is_refused_and_not_echoed(stub: Any, size: int) -> None:
    huge = "x" * (size - 1) + "\u202e"
    calls = {
        "entitlementId": stub.ExplainDecision(
            api_pb2.ExplainDecisionRequest(entitlement_id=huge), metadata=AUDITOR
        ),
        "ruleId": stub.ListDecisions(api_pb2.ListDecisionsRequest(rule_id=huge), metadata=AUDITOR),
    }
    for field, call in calls.items():
        with capture_logs() as logs:
            err = await _refused(call)
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert violated_fields(err) == [field]
        details = err.details() or ""
        assert f"({size} characters)" in details
        assert "x" * 100 not in details
        assert all("x" * 100 not in repr(entry) for entry in logs)


async def test_a_long_unknown_id_is_not_found_and_cut_in_the_answer(stub: Any) -> None:
    unknown = "nowhere-" + "y" * 200 + "/m03.municipal_key_lab"
    err = await _refused(
        stub.ExplainDecision(
            api_pb2.ExplainDecisionRequest(entitlement_id=unknown), metadata=AUDITOR
        )
    )
    assert err.code() == grpc.StatusCode.NOT_FOUND
    details = err.details() or ""
    assert f"… ({len(unknown)} characters)" in details
    assert unknown not in details
    assert "'nowhere-yyy" in details
