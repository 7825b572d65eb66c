"""What the portal refuses before it reads it."""

# A body over the limit (declared or not), a compressed body, a machine's static token; and a
# credential store that does not answer is UNAVAILABLE with a fixed message, never the database's
# address.

import gzip
import json
from typing import Any

import aiohttp
import pytest
from connectrpc.code import Code
from connectrpc.errors import ConnectError
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from subsidy.api.v1 import portal_pb2
from subsidy.identity.sessions import SessionCheckUnavailable
from subsidy.portal.identity_service import IdentityService
from subsidy.portal.limits import MAX_BODY
from tests.ledger.api import AUDITOR_TOKEN, TOP_UP
from tests.portal.stack import PortalStack

pytestmark = pytest.mark.asyncio(loop_scope="session")
LIST_RULES = "/subsidy.api.v1.CatalogService/ListRules"


async def _post(stack: PortalStack, data: Any, headers: dict[str, str]) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{stack.url}{LIST_RULES}", data=data, headers=headers) as r,
    ):
        return r.status, await r.text()


async def test_a_body_over_the_limit_is_refused_unread(stack: PortalStack) -> None:
    big = json.dumps({"on": "2026-01-01", "pad": "x" * (MAX_BODY + 1)})
    status, body = await _post(stack, big, {"content-type": "application/json"})
    assert status == 413
    assert json.loads(body)["code"] == "resource_exhausted"

    async def chunks() -> Any:  # no declared length: cut off at the limit all the same
        for _ in range(8):
            yield b" " * (MAX_BODY // 4)

    status, _ = await _post(stack, chunks(), {"content-type": "application/json"})
    assert status != 200


async def test_a_compressed_body_is_not_expanded(stack: PortalStack) -> None:
    bomb = gzip.compress(b'{"on": "2026-01-01"' + b" " * 5_000_000 + b"}")
    assert len(bomb) < MAX_BODY
    status, body = await _post(stack, bomb, {"content-type": "application/json",
                                             "content-encoding": "gzip"})  # fmt: skip
    assert status != 200, body


async def test_a_machine_token_does_not_pass_the_portal(stack: PortalStack) -> None:
    status, body = await stack.call(
        "LedgerService", "GetTotals", {"groupBy": "MEASURE"}, AUDITOR_TOKEN
    )
    assert status == 401
    assert "session" in body["message"]
    # The same auditor as a person, with a session, is let through.
    token = await stack.session("auditor-zhao")
    status, _ = await stack.call("LedgerService", "GetStatement", {"enterpriseId": TOP_UP}, token)
    assert status == 200


class _DownPool:
    """A pool whose database does not answer (pure unit test of the error's shape)."""

    def acquire(self) -> Any:
        raise OSError(111, "Connect call failed ('10.42.7.9', 5432)")


class _DownGate:
    async def principal_of(self, token: str) -> Any:
        raise SessionCheckUnavailable("ConnectionRefusedError('10.42.7.9', 5432)")


class _Ctx:
    def request_headers(self) -> dict[str, str]:
        return {"authorization": "Bearer a.b.c"}


async def test_a_store_that_does_not_answer_is_unavailable_and_says_no_more() -> None:
    service = IdentityService(_DownPool(), Ed25519PrivateKey.generate(), 900, _DownGate())  # type: ignore[arg-type]
    for call in (
        service.create_session(portal_pb2.CreateSessionRequest(credential="x" * 40), _Ctx()),  # type: ignore[arg-type]
        service.who_am_i(portal_pb2.WhoAmIRequest(), _Ctx()),  # type: ignore[arg-type]
    ):
        with pytest.raises(ConnectError) as refused:
            await call
        assert refused.value.code is Code.UNAVAILABLE
        assert "10.42" not in refused.value.message
