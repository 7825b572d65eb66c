"""Roles across the APIs: writers only ingest, auditors only read; and the token settings."""

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from pydantic import SecretStr, ValidationError

from subsidy.api.v1 import api_pb2, api_pb2_grpc
from subsidy.infra.auth import AUDITOR, WRITER, Caller, Credentials, token_digest
from subsidy.infra.grpc_server import Registration, start_server
from subsidy.infra.principals import Grant
from subsidy.ingest import service as ingest
from subsidy.ingest.settings import IngestSettings
from subsidy.ledger import api as ledger_api
from subsidy.ledger.api_server import auth_interceptor as ledger_auth
from subsidy.ledger.api_settings import LedgerApiSettings
from tests.support.grpc_tls import GrpcTls

WRITER_TOKEN = "w-" + uuid.uuid4().hex
AUDITOR_TOKEN = "a-" + uuid.uuid4().hex
OTHER_TOKEN = "o-" + uuid.uuid4().hex
DB = "postgresql://ledger_api@127.0.0.1:5432/subsidy?sslmode=verify-full"


def _bearer(token: str) -> tuple[tuple[str, str]]:
    return (("authorization", f"Bearer {token}"),)


def _auditors(*tokens: str) -> str:
    """LEDGER_API_AUDITOR_TOKENS: one principal with these tokens."""
    return json.dumps({"auditor-li": {"tokens": list(tokens)}})


def _writers(*tokens: str) -> str:
    """INGEST_CREDENTIALS: one certification feed with these tokens."""
    return json.dumps(
        {
            "js-provincial-cert-feed": {
                "tokens": list(tokens),
                "event_types": ["certificationObtained"],
                "sources": ["js-provincial-cert-feed"],
            }
        }
    )


def _ledger_settings(**values: Any) -> LedgerApiSettings:
    return LedgerApiSettings.model_validate(
        {"LEDGER_API_DATABASE_URL": DB, "LEDGER_API_AUDITOR_TOKENS": _auditors(AUDITOR_TOKEN),
         **values}
    )  # fmt: skip


def _ingest_settings(**values: Any) -> IngestSettings:
    return IngestSettings.model_validate({"credentials": _writers(WRITER_TOKEN), **values})


def _bare(servicer_class: Any, add: Any, service_name: str) -> Registration:
    """The generated base servicer: it implements nothing, so a call let through the token
    check answers UNIMPLEMENTED."""
    servicer = servicer_class()
    return Registration(lambda _, server: add(servicer, server), servicer, service_name)


@pytest.fixture
async def servers(grpc_tls: GrpcTls) -> AsyncIterator[tuple[str, str]]:
    """An ingest server and a ledger API, each with its production interceptor and a servicer
    that implements nothing: a call let through answers UNIMPLEMENTED."""
    ingest_settings = _ingest_settings(auditor_token_sha256=token_digest(AUDITOR_TOKEN))
    ledger_settings = _ledger_settings(LEDGER_API_WRITER_TOKEN_SHA256=token_digest(WRITER_TOKEN))
    ingest_server, ingest_port = await start_server(
        [_bare(api_pb2_grpc.IngestServiceServicer, api_pb2_grpc.add_IngestServiceServicer_to_server,
               ingest.SERVICE_NAME)],
        "127.0.0.1:0",
        [ingest.auth_interceptor(ingest_settings.writers, ingest_settings.auditor_digests)],
        transport=grpc_tls.server_tls(),
    )  # fmt: skip
    ledger_server, ledger_port = await start_server(
        [_bare(api_pb2_grpc.LedgerServiceServicer, api_pb2_grpc.add_LedgerServiceServicer_to_server,
               ledger_api.SERVICE_NAME)],
        "127.0.0.1:0",
        [ledger_auth(ledger_settings)],
        transport=grpc_tls.server_tls(),
    )  # fmt: skip
    try:
        yield f"127.0.0.1:{ingest_port}", f"127.0.0.1:{ledger_port}"
    finally:
        await ingest_server.stop(None)
        await ledger_server.stop(None)


async def _ingest_code(address: str, metadata: Any, tls: GrpcTls) -> grpc.StatusCode:
    async with tls.channel(address) as channel:
        stub: Any = api_pb2_grpc.IngestServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.Submit(api_pb2.SubmitRequest(), metadata=metadata)
    code: grpc.StatusCode = err.value.code()
    return code


async def _ledger_code(address: str, metadata: Any, tls: GrpcTls) -> grpc.StatusCode:
    async with tls.channel(address) as channel:
        stub: Any = api_pb2_grpc.LedgerServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.VerifyChain(api_pb2.VerifyChainRequest(), metadata=metadata)
    code: grpc.StatusCode = err.value.code()
    return code


async def test_each_role_passes_only_its_own_door(
    servers: tuple[str, str], grpc_tls: GrpcTls
) -> None:
    ingest_at, ledger_at = servers
    codes = grpc.StatusCode
    tls = grpc_tls
    assert await _ingest_code(ingest_at, _bearer(WRITER_TOKEN), tls) == codes.UNIMPLEMENTED
    assert await _ingest_code(ingest_at, _bearer(AUDITOR_TOKEN), tls) == codes.PERMISSION_DENIED
    assert await _ingest_code(ingest_at, _bearer("guess"), tls) == codes.UNAUTHENTICATED
    assert await _ingest_code(ingest_at, (), tls) == codes.UNAUTHENTICATED
    assert await _ledger_code(ledger_at, _bearer(AUDITOR_TOKEN), tls) == codes.UNIMPLEMENTED
    assert await _ledger_code(ledger_at, _bearer(WRITER_TOKEN), tls) == codes.PERMISSION_DENIED
    assert await _ledger_code(ledger_at, _bearer("guess"), tls) == codes.UNAUTHENTICATED
    empty = (("authorization", "Bearer "),)
    assert await _ledger_code(ledger_at, empty, tls) == codes.UNAUTHENTICATED


async def test_without_the_writers_digests_a_writer_is_a_stranger(grpc_tls: GrpcTls) -> None:
    server, port = await start_server(
        [_bare(api_pb2_grpc.LedgerServiceServicer, api_pb2_grpc.add_LedgerServiceServicer_to_server,
               ledger_api.SERVICE_NAME)],
        "127.0.0.1:0",
        [ledger_auth(_ledger_settings())],
        transport=grpc_tls.server_tls(),
    )  # fmt: skip
    try:
        code = await _ledger_code(f"127.0.0.1:{port}", _bearer(WRITER_TOKEN), grpc_tls)
        assert code == grpc.StatusCode.UNAUTHENTICATED
    finally:
        await server.stop(None)


def test_credentials_refuse_one_token_in_two_roles_or_for_two_principals() -> None:
    writer = Grant(tokens=(SecretStr(WRITER_TOKEN),))
    with pytest.raises(ValueError, match="two roles"):
        Credentials({WRITER: {"w": writer}, AUDITOR: {"a": writer}})
    with pytest.raises(ValueError, match="two principals"):
        Credentials({WRITER: {"w": writer, "v": Grant(token_sha256=(token_digest(WRITER_TOKEN),))}})
    both = Credentials({WRITER: {"w": writer}}, {AUDITOR: [token_digest(AUDITOR_TOKEN)]})
    assert (both.role_of(WRITER_TOKEN), both.role_of(AUDITOR_TOKEN)) == (WRITER, AUDITOR)
    assert both.caller_of(WRITER_TOKEN) == Caller(WRITER, "w")
    assert both.caller_of(AUDITOR_TOKEN) == Caller(AUDITOR, None)
    assert both.role_of("guess") is None


def test_the_ledger_api_needs_its_own_url_and_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LEDGER_API_DATABASE_URL", "LEDGER_API_AUDITOR_TOKENS"):
        monkeypatch.delenv(name, raising=False)
    # Variables of other services are not taken for its own.
    monkeypatch.setenv("DATABASE_URL", DB)
    monkeypatch.setenv("INGEST_CREDENTIALS", _writers(WRITER_TOKEN))
    monkeypatch.setenv("AUDITOR_TOKENS", _auditors(AUDITOR_TOKEN))
    with pytest.raises(ValidationError) as err:
        LedgerApiSettings()  # type: ignore[call-arg]
    missing = {str(e["loc"][0]) for e in err.value.errors() if e["type"] == "missing"}
    assert missing == {"LEDGER_API_DATABASE_URL", "LEDGER_API_AUDITOR_TOKENS"}
    monkeypatch.setenv("LEDGER_API_DATABASE_URL", DB)
    monkeypatch.setenv("LEDGER_API_AUDITOR_TOKENS", _auditors(AUDITOR_TOKEN, OTHER_TOKEN))
    credentials = LedgerApiSettings().credentials()  # type: ignore[call-arg]
    assert credentials.caller_of(OTHER_TOKEN) == Caller(AUDITOR, "auditor-li")


@pytest.mark.parametrize(
    "values",
    [
        {"LEDGER_API_AUDITOR_TOKENS": "a,,b"},
        {"LEDGER_API_AUDITOR_TOKENS": _auditors(f"{AUDITOR_TOKEN} b")},
        {"LEDGER_API_AUDITOR_TOKENS": _auditors("short-token")},
        {"LEDGER_API_AUDITOR_TOKENS": "{}"},
        {"LEDGER_API_AUDITOR_TOKENS": json.dumps({"auditor-li": {}})},
        {"LEDGER_API_AUDITOR_TOKENS": json.dumps({"Auditor Li": {"tokens": [AUDITOR_TOKEN]}})},
        {"LEDGER_API_WRITER_TOKEN_SHA256": "not-a-digest"},
        {"LEDGER_API_WRITER_TOKEN_SHA256": token_digest(AUDITOR_TOKEN)},  # one token, two roles
        {"LEDGER_API_DATABASE_URL": "mysql://x"},
        {"LEDGER_API_DEFAULT_PAGE_SIZE": 500, "LEDGER_API_MAX_PAGE_SIZE": 100},
    ],
    ids=[
        "not-json",
        "space",
        "short",
        "nobody",
        "no-token",
        "bad-name",
        "digest",
        "two-roles",
        "url",
        "page-sizes",
    ],
)
def test_bad_ledger_api_settings_are_refused(values: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        _ledger_settings(**values)


def test_an_ingest_token_cannot_also_be_an_auditors() -> None:
    with pytest.raises(ValidationError, match="two roles"):
        _ingest_settings(auditor_token_sha256=token_digest(WRITER_TOKEN))
    assert _ingest_settings().auditor_digests == frozenset()


def _writer(**grant: Any) -> str:
    base = {"tokens": [WRITER_TOKEN], "event_types": ["reviewDecided"], "sources": ["board"]}
    return json.dumps({"reviewer-wang": {**base, **grant}})


@pytest.mark.parametrize(
    ("grant", "says"),
    [
        ({"tokens": ["short-but-secret"]}, "shorter than 24 characters"),
        ({"tokens": [], "token_sha256": []}, "give `tokens` or `token_sha256`"),
        ({"token_sha256": ["ABC"]}, "64 lower-case hex"),
        ({"event_types": ["payMe"]}, "reviewDecided"),
        ({"event_types": []}, "at least 1"),
        ({"sources": []}, "at least 1"),
        ({"role": "admin"}, "Extra inputs"),
    ],
    ids=["short", "no-token", "digest", "type", "no-type", "no-source", "unknown-key"],
)
def test_bad_ingest_credentials_are_refused_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, grant: dict[str, Any], says: str
) -> None:
    monkeypatch.setenv("INGEST_CREDENTIALS", _writer(**grant))
    with pytest.raises(ValidationError) as err:
        IngestSettings()  # type: ignore[call-arg]
    text = str(err.value)
    assert "INGEST_CREDENTIALS" in text
    assert says in text
    assert "short-but-secret" not in text
    assert WRITER_TOKEN not in text


def test_ingest_credentials_name_a_principal_bound_to_types_and_sources(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Two tokens for one principal: the new one rolled out before the old one goes, one of
    # them known by its digest only.
    monkeypatch.setenv(
        "INGEST_CREDENTIALS",
        _writer(tokens=[WRITER_TOKEN], token_sha256=[token_digest(OTHER_TOKEN)]),
    )
    settings = IngestSettings()  # type: ignore[call-arg]
    credentials = settings.credentials()
    assert credentials.caller_of(WRITER_TOKEN) == Caller(WRITER, "reviewer-wang")
    assert credentials.caller_of(OTHER_TOKEN) == Caller(WRITER, "reviewer-wang")
    grant = settings.writers["reviewer-wang"]
    assert grant.event_types == {"reviewDecided"}
    assert grant.sources == {"board"}
    assert WRITER_TOKEN not in repr(settings)
    monkeypatch.setenv("INGEST_CREDENTIALS", "not json")
    with pytest.raises(ValidationError, match="INGEST_CREDENTIALS"):
        IngestSettings()  # type: ignore[call-arg]
