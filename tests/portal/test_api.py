"""The HTTP/JSON API."""

# The catalog for anyone, sessions from credentials, the gRPC services relayed with their own
# errors, and the OpenAPI document that describes it.

from datetime import datetime

import pytest
from openapi_spec_validator import validate

from subsidy.api.v1 import api_pb2, portal_pb2
from tests.ledger.api import TOP_UP, known_events
from tests.ledger.events import CATALOG
from tests.portal.stack import PortalStack

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_the_catalog_is_public_and_dated(stack: PortalStack) -> None:
    status, body = await stack.call("CatalogService", "ListRules", {"on": "2026-03-01"})
    assert status == 200, body
    assert body["version"] == CATALOG.at(__import__("datetime").date(2026, 3, 1)).version
    ids = [r["id"] for r in body["rules"]]
    assert ids == [r.id for r in CATALOG.rules]
    lab = next(r for r in body["rules"] if r["id"] == "m03.provincial_key_lab")
    assert lab["clause"]
    assert lab["responsibleUnits"][0] == "市科技局"
    assert lab["ceilingFen"].isdigit()  # int64 as a string, proto3's JSON mapping
    status, body = await stack.call("CatalogService", "ListVersions", {})
    assert status == 200
    assert body["versions"]


async def test_a_bad_date_names_the_field(stack: PortalStack) -> None:
    status, body = await stack.call("CatalogService", "ListRules", {"on": "2026-13-01"})
    assert status == 400
    assert body["code"] == "invalid_argument"
    [detail] = body["details"]
    assert detail["debug"]["fieldViolations"] == [
        {"field": "on", "description": "a date YYYY-MM-DD"}
    ]


async def test_a_session_reads_its_own_statement(stack: PortalStack) -> None:
    token = await stack.session("ent-own")
    status, body = await stack.call("IdentityService", "WhoAmI", {}, token)
    assert status == 200
    assert body["principal"]["enterpriseId"] == TOP_UP
    assert body["expiresAt"].endswith("+08:00")
    # expireTime (a Timestamp: RFC 3339 in UTC in JSON) is the same instant, whole seconds.
    assert body["expireTime"].endswith("Z")
    assert datetime.fromisoformat(body["expireTime"]) == datetime.fromisoformat(body["expiresAt"])
    status, body = await stack.call(
        "LedgerService", "GetStatement", {"enterpriseId": TOP_UP}, token
    )
    assert status == 200, body
    assert body["enterpriseId"] == TOP_UP
    assert body["entitlements"]
    # Registered as its sources last named it (a person's event never renames it).
    named = [e for e in known_events() if e["enterpriseId"] == TOP_UP][-1]
    assert body["registeredName"] == named["enterpriseName"]
    assert body["registeredDistrict"] == named["district"]


async def test_relayed_errors_keep_their_field_violations(stack: PortalStack) -> None:
    token = await stack.session("auditor-zhao")
    status, body = await stack.call(
        "LedgerService", "ListDecisions", {"pageToken": "not-a-token"}, token
    )
    assert status == 400, body
    assert body["code"] == "invalid_argument"
    fields = [v["field"] for d in body["details"] for v in d["debug"]["fieldViolations"]]
    assert fields == ["pageToken"]


async def test_without_a_token_only_the_public_methods_answer(stack: PortalStack) -> None:
    status, body = await stack.call("LedgerService", "GetStatement", {"enterpriseId": TOP_UP})
    assert status == 401
    assert body["code"] == "unauthenticated"
    status, body = await stack.call("IdentityService", "CreateSession", {"credential": "x" * 40})
    assert status == 401
    assert body["code"] == "unauthenticated"


async def test_the_openapi_document_validates_and_covers_every_unary_method(
    stack: PortalStack,
) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as http, http.get(f"{stack.url}/openapi.json") as r:
        assert r.status == 200
        document = await r.json()
    validate(document)
    services = [
        api_pb2.DESCRIPTOR.services_by_name["LedgerService"],
        api_pb2.DESCRIPTOR.services_by_name["IngestService"],
        portal_pb2.DESCRIPTOR.services_by_name["IdentityService"],
        portal_pb2.DESCRIPTOR.services_by_name["CatalogService"],
    ]
    unary = {
        f"/{s.full_name}/{m.name}"
        for s in services
        for m in s.methods
        if not (m.client_streaming or m.server_streaming)
    }
    assert unary <= set(document["paths"])
    amount = document["components"]["schemas"]["subsidy.api.v1.GetStatementResponse"]
    assert amount["properties"]["grantedFen"]["format"] == "int64"
