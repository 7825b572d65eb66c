"""Clients the portal's users would write."""

# The Connect client generated from the same .proto, and any client built from /openapi.json — every
# exchange below is checked against that document, request and response.

import json
from typing import Any

import aiohttp
import pytest
from connectrpc.errors import ConnectError
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse

from subsidy.api.v1 import api_connect, api_pb2, portal_connect, portal_pb2
from tests.ledger.api import TOP_UP
from tests.portal.stack import PortalStack

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_the_generated_connect_client_calls_the_portal(stack: PortalStack) -> None:
    # The portal takes no compressed request (a small gzip body can expand to gigabytes).
    catalog = portal_connect.CatalogServiceClient(stack.url, send_compression=None)
    rules = await catalog.list_rules(portal_pb2.ListRulesRequest(on="2026-01-01"))
    assert any(r.id == "m03.provincial_key_lab" for r in rules.rules)
    ledger = api_connect.LedgerServiceClient(stack.url, send_compression=None)
    auth = {"authorization": f"Bearer {await stack.session('ent-own')}"}
    statement = await ledger.get_statement(
        api_pb2.GetStatementRequest(enterprise_id=TOP_UP), headers=auth
    )
    assert statement.enterprise_id == TOP_UP
    assert statement.granted_fen > 0
    with pytest.raises(ConnectError) as refused:
        await ledger.get_statement(api_pb2.GetStatementRequest(enterprise_id=TOP_UP))
    assert refused.value.code.value == "unauthenticated"


async def _exchange(
    stack: PortalStack, path: str, body: dict[str, Any], token: str | None
) -> tuple[MockRequest, MockResponse]:
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode()
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{stack.url}{path}", data=data, headers=headers) as r,
    ):
        answer = await r.read()
        status = r.status
    request = MockRequest(stack.url, "post", path, headers=headers, data=data)
    return request, MockResponse(answer, status_code=status)


async def test_real_exchanges_conform_to_the_openapi_document(stack: PortalStack) -> None:
    async with aiohttp.ClientSession() as http, http.get(f"{stack.url}/openapi.json") as r:
        api = OpenAPI.from_dict(await r.json())
    token = await stack.session("ent-own")
    calls = [
        ("/subsidy.api.v1.CatalogService/ListRules", {"on": "2026-02-01"}, None),
        ("/subsidy.api.v1.CatalogService/ListVersions", {}, None),
        ("/subsidy.api.v1.IdentityService/WhoAmI", {}, token),
        ("/subsidy.api.v1.LedgerService/GetStatement", {"enterpriseId": TOP_UP}, token),
        ("/subsidy.api.v1.CatalogService/ListRules", {"on": "not a date"}, None),  # an error
    ]
    for path, body, bearer in calls:
        request, response = await _exchange(stack, path, body, bearer)
        api.validate_request(request)
        api.validate_response(request, response)
