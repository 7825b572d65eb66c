"""Who may call what through the HTTP/JSON API."""

# Every endpoint the OpenAPI document lists × every kind of caller, with the exact answer, and every
# way a session can be bad.
#
# The table is this test's own statement of the access rules (docs/portal.md), written out, not read
# from the code that enforces them, so a rule changed by mistake fails here; an endpoint the
# document lists without a row here fails too.

import time
import uuid
from datetime import datetime
from typing import Any

import aiohttp
import jwt
import pytest

from subsidy.domain.beijing import BEIJING
from subsidy.identity import store
from subsidy.identity.principal import Principal, Role
from subsidy.identity.sessions import issue_session, key_pair_pem, load_private_key
from tests.ledger.api import MUNICIPAL, TOP_UP
from tests.portal.stack import OTHER_ENTERPRISE, PEOPLE, PortalStack

pytestmark = pytest.mark.asyncio(loop_scope="session")

OK, UNAUTH, DENIED, UNSUPPORTED = 200, 401, 403, 415
CALLERS = ("anonymous", *PEOPLE)


def _event(enterprise: str, **payload: Any) -> dict[str, Any]:
    """A person's event as the pages make it: a portal id; dated when sent (_dated_now)."""
    return {"event": {
        "eventId": f"portal-{uuid.uuid4()}", "source": "sz-subsidy-portal",
        "enterpriseId": enterprise, "enterpriseName": "苏州测试机器人有限公司", "district": "SIP",
        "occurredOn": datetime.now(BEIJING).date().isoformat(), **payload}}  # fmt: skip


def _dated_now(body: dict[str, Any]) -> dict[str, Any]:
    """The body with its event dated today in Beijing as the call is made: the tables are
    built at collection, and a run that crosses Beijing midnight would send yesterday."""
    if "event" not in body:
        return body
    return {"event": {**body["event"], "occurredOn": datetime.now(BEIJING).date().isoformat()}}


def _appeal(enterprise: str) -> dict[str, Any]:
    return _event(
        enterprise,
        appealFiled={
            "eventRef": "api-topup-1",
            "ruleId": "m03.municipal_key_lab",
            "reason": "请复核",
        },
    )


def _review() -> dict[str, Any]:
    return _event(
        TOP_UP,
        reviewDecided={
            "eventRef": "api-topup-1",
            "ruleId": "m03.national_platform",
            "approved": False,
        },
    )


def _appeal_decision() -> dict[str, Any]:
    return _event(
        TOP_UP,
        appealDecided={
            "appealRef": "appeal-1",
            "eventRef": "api-topup-1",
            "ruleId": "m03.municipal_key_lab",
            "upheld": False,
            "reason": "维持原决定",
        },
    )


_READERS = {"ent-own": OK, "ent-other": DENIED, "reviewer-kj": OK, "reviewer-sw": OK,
            "approver-kj": OK, "auditor-zhao": OK, "admin-qian": DENIED}  # fmt: skip
_AUDITORS = {name: DENIED for name in PEOPLE} | {"auditor-zhao": OK}
_BUREAU_KJ = {name: DENIED for name in PEOPLE} | {
    "reviewer-kj": OK,
    "approver-kj": OK,
    "auditor-zhao": OK,
}
_PUBLIC = {name: OK for name in CALLERS}

# path → (request body, the answer for each caller; anonymous is 401 unless said).
MATRIX: dict[str, tuple[dict[str, Any], dict[str, int]]] = {
    "CatalogService/ListRules": ({}, _PUBLIC),
    "CatalogService/ListVersions": ({}, _PUBLIC),
    # A credential is checked, not a session: any caller with a wrong one is refused alike.
    "IdentityService/CreateSession": ({"credential": "x" * 43},
                                      {name: UNAUTH for name in CALLERS}),
    "IdentityService/WhoAmI": ({}, {name: OK for name in PEOPLE}),
    "LedgerService/GetStatement": ({"enterpriseId": TOP_UP}, _READERS),
    "LedgerService/ExplainDecision": ({"entitlementId": MUNICIPAL}, _READERS),
    # Listing decisions is an enterprise's own history or an auditor's: a reviewer reads the
    # statement and the explanation of a case, not the ledger at large.
    "LedgerService/ListDecisions": ({"enterpriseId": TOP_UP}, _READERS | {
        "reviewer-kj": DENIED, "reviewer-sw": DENIED, "approver-kj": DENIED}),
    "LedgerService/GetTotals": ({"groupBy": "MEASURE"}, _AUDITORS),
    "LedgerService/VerifyChain": ({}, _AUDITORS),
    "IngestService/Submit": (_appeal(TOP_UP), {name: DENIED for name in PEOPLE} | {"ent-own": OK}),
    # A client stream is not offered over HTTP/JSON (the document leaves it out): a unary
    # JSON POST to it is refused alike, before any credential is looked at.
    "IngestService/SubmitBatch": ({}, {name: UNSUPPORTED for name in CALLERS}),
    "WorkbenchService/ListQueue": ({"bureau": "市科技局", "queue": "REVIEW"}, _BUREAU_KJ),
    "WorkbenchService/GetQueueCounts": ({"bureau": "市科技局"}, _BUREAU_KJ),
    "WorkbenchService/SearchEnterprises": ({"bureau": "市科技局", "query": "苏州"}, _BUREAU_KJ),
}  # fmt: skip

# What else a role may submit, and what it may not (the bindings of docs/security.md).
SUBMISSIONS: list[tuple[str, dict[str, Any], int]] = [
    ("ent-own", _appeal(OTHER_ENTERPRISE), DENIED),  # another enterprise's name
    ("ent-own", _review(), DENIED),  # an enterprise decides no review
    ("reviewer-kj", _review(), OK),  # m03 is 市科技局's
    ("reviewer-sw", _review(), DENIED),  # 市商务局 is not responsible for m03
    ("reviewer-kj", _appeal_decision(), DENIED),  # appeals are the approvers'
    ("approver-kj", _appeal_decision(), OK),
    ("approver-kj", _appeal(TOP_UP), DENIED),  # a bureau files no appeal
    ("auditor-zhao", _review(), DENIED),
    ("admin-qian", _review(), DENIED),
]


def _cases() -> list[tuple[str, str]]:
    return [(path, caller) for path in MATRIX for caller in CALLERS]


async def test_the_matrix_covers_every_endpoint_of_the_document(stack: PortalStack) -> None:
    async with aiohttp.ClientSession() as http, http.get(f"{stack.url}/openapi.json") as r:
        paths = {p.removeprefix("/subsidy.api.v1.") for p in (await r.json())["paths"]}
    assert paths == set(MATRIX) - {"IngestService/SubmitBatch"}


@pytest.mark.parametrize(("path", "caller"), _cases())
async def test_each_endpoint_answers_each_caller(
    stack: PortalStack, path: str, caller: str
) -> None:
    body, answers = MATRIX[path]
    expected = answers.get(caller, UNAUTH)
    token = None if caller == "anonymous" else await stack.session(caller)
    service, method = path.split("/")
    status, answer = await stack.call(service, method, _dated_now(body), token)
    assert status == expected, (path, caller, answer)


@pytest.mark.parametrize(("caller", "body", "expected"), SUBMISSIONS)
async def test_what_each_role_may_submit(
    stack: PortalStack, caller: str, body: dict[str, Any], expected: int
) -> None:
    session = await stack.session(caller)
    status, answer = await stack.call("IngestService", "Submit", _dated_now(body), session)
    assert status == expected, answer


def _bad_sessions(stack: PortalStack) -> dict[str, str]:
    key = load_private_key(stack.private_pem)
    name, (role, enterprise, _) = "ent-own", PEOPLE["ent-own"]
    who = Principal(name, role, enterprise, None, stack.credential_ids[name])
    good = issue_session(who, key)
    head, claims, signature = good.split(".")
    forged = jwt.encode(jwt.decode(good, options={"verify_signature": False}),
                        load_private_key(key_pair_pem()[0]), algorithm="EdDSA")  # fmt: skip
    return {
        "expired": issue_session(who, key, ttl_s=60, now=time.time() - 3600),
        "tampered": f"{head}.{claims}.{signature[:-4]}AAAA",
        "another key": forged,
        "not a token": "not-a-session-token-at-all-000000",
    }


@pytest.mark.parametrize("kind", ["expired", "tampered", "another key", "not a token"])
async def test_a_bad_session_is_refused_everywhere(stack: PortalStack, kind: str) -> None:
    token = _bad_sessions(stack)[kind]
    for path in ("IdentityService/WhoAmI", "LedgerService/GetStatement", "IngestService/Submit"):
        service, method = path.split("/")
        body = MATRIX[path][0]
        status, answer = await stack.call(service, method, _dated_now(body), token)
        assert status == UNAUTH, (kind, path, answer)


async def test_a_revoked_credential_ends_its_sessions_and_signs_no_one_in(
    stack: PortalStack,
) -> None:
    import asyncpg

    conn = await asyncpg.connect(stack.owner_url)
    try:
        issued = await store.issue(conn, "ent-leaver", Role.ENTERPRISE,
                                   enterprise_id=TOP_UP, actor="test-admin")  # fmt: skip
    finally:
        await conn.close()
    status, body = await stack.call("IdentityService", "CreateSession",
                                    {"credential": issued.secret})  # fmt: skip
    assert status == OK
    token = body["token"]
    conn = await asyncpg.connect(stack.owner_url)
    try:
        await store.revoke(conn, issued.credential_id, actor="test-admin", reason="离职")
    finally:
        await conn.close()
    deadline = time.monotonic() + 15
    while True:
        status, _ = await stack.call("LedgerService", "GetStatement",
                                     {"enterpriseId": TOP_UP}, token)  # fmt: skip
        if status == UNAUTH or time.monotonic() > deadline:
            break
        await __import__("asyncio").sleep(0.5)
    assert status == UNAUTH
    status, _ = await stack.call("IdentityService", "CreateSession",
                                 {"credential": issued.secret})  # fmt: skip
    assert status == UNAUTH
