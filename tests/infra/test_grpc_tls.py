"""gRPC over TLS against real servers."""

# The CA decides who connects, GRPC_TLS_CLIENT_CA who may call at all, and a server with neither a
# certificate nor GRPC_PLAINTEXT=true does not start.

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from pydantic import ValidationError

from subsidy.devstack.local_ca import ensure_cert
from subsidy.domain.catalog import load_catalog
from subsidy.eligibility.bootstrap import dry_run_server
from subsidy.eligibility.settings import EligibilitySettings
from subsidy.infra.grpc_tls import (
    CLIENT_VARIABLES,
    PLAINTEXT,
    SERVER_VARIABLES,
    ClientTls,
    ClientTransport,
    GrpcTlsError,
    ServerTls,
    ServerTransport,
    aio_channel,
    client_transport,
)
from tests.support.go_tools import tool_bin
from tests.support.grpc_tls import GrpcTls

SUBSIDY = Path(sys.executable).with_name("subsidy")
CATALOG = load_catalog()
# A database no test reaches: the commands must stop before connecting.
NOWHERE = "postgresql://nobody@127.0.0.1:9/nothing?sslmode=verify-full"


@asynccontextmanager
async def _server(transport: ServerTransport) -> AsyncIterator[int]:
    """A real gRPC server of the platform (the eligibility dry run) on a free port."""
    async with dry_run_server("127.0.0.1:0", CATALOG, transport, grace=None) as (_, port):
        yield port


async def _serving(address: str, transport: ClientTransport) -> bool:
    """Whether a health check over the transport gets through; a refused connection (the
    handshake failed) is UNAVAILABLE, and nothing else is expected."""
    async with aio_channel(address, transport) as channel:
        try:
            reply = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=5
            )
        except grpc.aio.AioRpcError as err:
            refused = err
        else:
            return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)
    assert refused.code() == grpc.StatusCode.UNAVAILABLE, refused
    return False


def _settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> EligibilitySettings:
    """A gRPC server's settings from these variables alone, as a deployment sets them."""
    for name in SERVER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return EligibilitySettings()  # type: ignore[call-arg]  # from the environment


async def test_only_a_client_with_the_servers_ca_connects(
    grpc_tls: GrpcTls, tmp_path: Path
) -> None:
    stranger = GrpcTls.make(tmp_path / "another-ca")
    async with _server(grpc_tls.server_tls()) as port:
        for host in ("127.0.0.1", "localhost"):  # each named by the certificate
            assert await _serving(f"{host}:{port}", grpc_tls.client_tls), host
        address = f"127.0.0.1:{port}"
        assert not await _serving(address, ClientTls())  # the system's trust store
        assert not await _serving(address, stranger.client_tls)  # a CA that signed another
        assert not await _serving(address, PLAINTEXT)


async def _grpcurl(*args: str) -> subprocess.CompletedProcess[str]:
    grpcurl = str(tool_bin() / "grpcurl")
    return await asyncio.to_thread(
        subprocess.run, [grpcurl, "-max-time", "10", *args],
        capture_output=True, text=True, check=False,
    )  # fmt: skip


async def test_grpcurl_lists_the_services_with_the_ca_and_nothing_without(
    grpc_tls: GrpcTls,
) -> None:
    """An operator's own client, not this code's: `grpcurl -cacert ca.pem` as the docs say."""
    async with _server(grpc_tls.server_tls()) as port:
        address = f"127.0.0.1:{port}"
        listed = await _grpcurl("-cacert", str(grpc_tls.ca), address, "list")
        assert listed.returncode == 0, listed.stderr
        assert "grpc.health.v1.Health" in listed.stdout.split()
        assert (await _grpcurl(address, "list")).returncode != 0  # the CA is not the system's
        assert (await _grpcurl("-plaintext", address, "list")).returncode != 0


async def test_the_certificate_must_name_the_address_dialled(tmp_path: Path) -> None:
    tls = GrpcTls.make(tmp_path)
    elsewhere = ensure_cert(tmp_path, "elsewhere", hosts=("ingest.example.org",))
    async with _server(ServerTls(elsewhere.cert, elsewhere.key)) as port:
        # Signed by the very CA the client trusts, but for another host.
        assert not await _serving(f"127.0.0.1:{port}", tls.client_tls)


async def test_with_a_client_ca_only_a_client_it_certified_may_call(
    grpc_tls: GrpcTls, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(monkeypatch, **grpc_tls.env(mutual=True))
    transport = settings.grpc_transport()
    assert transport == grpc_tls.server_tls(mutual=True)
    stranger = GrpcTls.make(tmp_path / "another-ca")
    async with _server(transport) as port:
        address = f"127.0.0.1:{port}"
        assert not await _serving(address, grpc_tls.client_tls)  # no certificate
        assert not await _serving(address, stranger.client_with_cert)  # not the CA's
        # Another CA's client with our CA for the server: its certificate still fails.
        assert not await _serving(
            address, ClientTls(grpc_tls.ca, stranger.client.cert, stranger.client.key)
        )
        assert await _serving(address, grpc_tls.client_with_cert)


async def test_plaintext_only_when_asked_for_and_then_no_tls(
    grpc_tls: GrpcTls, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(monkeypatch, GRPC_PLAINTEXT="true")
    assert settings.grpc_transport() == PLAINTEXT
    async with _server(settings.grpc_transport()) as port:
        assert await _serving(f"127.0.0.1:{port}", PLAINTEXT)
        assert not await _serving(f"127.0.0.1:{port}", grpc_tls.client_tls)


def test_neither_a_certificate_nor_plaintext_is_refused_naming_the_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The settings load (a worker sharing them serves no gRPC); serving is what is refused.
    settings = _settings(monkeypatch)
    with pytest.raises(GrpcTlsError) as err:
        settings.grpc_transport()
    for name in ("GRPC_TLS_CERT", "GRPC_TLS_KEY", "GRPC_PLAINTEXT"):
        assert name in str(err.value)


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"GRPC_TLS_CERT": "/nowhere/grpc.pem", "GRPC_TLS_KEY": "{key}"}, "GRPC_TLS_CERT"),
        ({"GRPC_TLS_CERT": "{cert}"}, "GRPC_TLS_CERT and GRPC_TLS_KEY go together"),
        ({"GRPC_TLS_KEY": "{key}"}, "GRPC_TLS_CERT and GRPC_TLS_KEY go together"),
        ({"GRPC_TLS_CLIENT_CA": "{ca}"}, "GRPC_TLS_CLIENT_CA needs GRPC_TLS_CERT"),
        (
            {"GRPC_TLS_CERT": "{cert}", "GRPC_TLS_KEY": "{key}", "GRPC_PLAINTEXT": "true"},
            "GRPC_PLAINTEXT=true contradicts GRPC_TLS_CERT",
        ),
    ],
    ids=["missing-file", "cert-alone", "key-alone", "client-ca-alone", "both"],
)
def test_a_transport_half_given_is_refused_when_read(
    grpc_tls: GrpcTls, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], says: str
) -> None:
    files = {"cert": grpc_tls.server.cert, "key": grpc_tls.server.key, "ca": grpc_tls.ca}
    with pytest.raises(ValidationError, match=says):
        _settings(monkeypatch, **{k: v.format(**files) for k, v in env.items()})


def test_a_client_is_plaintext_only_without_any_tls_option(grpc_tls: GrpcTls) -> None:
    assert client_transport() == ClientTls()
    assert client_transport(plaintext=True) == PLAINTEXT
    with pytest.raises(GrpcTlsError, match="--plaintext contradicts --cacert"):
        client_transport(grpc_tls.ca, plaintext=True)
    with pytest.raises(GrpcTlsError, match="--cert and --key"):
        client_transport(grpc_tls.ca, cert=grpc_tls.client.cert)


SERVERS = {
    "ingest": (("ingest-server",), {"INGEST_CREDENTIALS": json.dumps({"feed-a": {
        "tokens": ["t" * 32], "event_types": ["certificationObtained"], "sources": ["feed-a"]}})}),
    "ledger-api": (("ledger", "serve"), {
        "LEDGER_API_DATABASE_URL": NOWHERE,
        "LEDGER_API_AUDITOR_TOKENS": json.dumps({"auditor-li": {"tokens": ["a" * 32]}})}),
    "eligibility-api": (("eligibility", "serve"), {}),
    "notifier-admin": (("notify", "serve"), {"NOTIFIER_ADMIN_TOKEN": "n" * 32}),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(SERVERS))
def test_a_service_without_a_transport_exits_naming_the_variables(name: str) -> None:
    """The real command, its environment without any GRPC_* variable: one line on stderr,
    exit 2, before it reaches for a database or a broker (none is there to reach)."""
    command, own = SERVERS[name]
    env = {k: v for k, v in os.environ.items()
           if k not in SERVER_VARIABLES + CLIENT_VARIABLES}  # fmt: skip
    env |= own | {"DATABASE_URL": NOWHERE}
    done = subprocess.run(
        [str(SUBSIDY), *command], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    for variable in ("GRPC_TLS_CERT", "GRPC_TLS_KEY", "GRPC_PLAINTEXT=true"):
        assert variable in lines[0]
