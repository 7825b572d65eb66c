"""gRPC over TLS: the servers' GRPC_TLS_* settings and credentials, and the clients' channels."""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from pydantic import AliasChoices, Field, model_validator

from subsidy.infra.settings import CommonSettings, ExistingFile

if TYPE_CHECKING:
    # Imported where used: every settings class imports this module, and most commands that
    # read settings never open a channel.
    import grpc

# The servers' variables (deployments set exactly these; docs/security.md, "Transport").
CERT_ENV = "GRPC_TLS_CERT"
KEY_ENV = "GRPC_TLS_KEY"
CLIENT_CA_ENV = "GRPC_TLS_CLIENT_CA"
PLAINTEXT_ENV = "GRPC_PLAINTEXT"
# The clients' variables (`subsidy ingest`, `subsidy ledger statement`, …).
CA_ENV = "GRPC_TLS_CA"
CLIENT_CERT_ENV = "GRPC_TLS_CLIENT_CERT"
CLIENT_KEY_ENV = "GRPC_TLS_CLIENT_KEY"
SERVER_VARIABLES = (CERT_ENV, KEY_ENV, CLIENT_CA_ENV, PLAINTEXT_ENV)
CLIENT_VARIABLES = (CA_ENV, CLIENT_CERT_ENV, CLIENT_KEY_ENV)

NO_TRANSPORT = (
    f"gRPC needs TLS: set {CERT_ENV} and {KEY_ENV} (PEM files), or {PLAINTEXT_ENV}=true"
    " to serve without encryption"
)


class GrpcTlsError(ValueError):
    """No transport configured, or one that contradicts itself; the message names the
    variables or options to set, on one line."""


@dataclass(frozen=True, slots=True)
class Plaintext:
    """No TLS: only when asked for in so many words (GRPC_PLAINTEXT=true, --plaintext)."""


PLAINTEXT = Plaintext()


@dataclass(frozen=True, slots=True)
class ServerTls:
    """A server's certificate (PEM, leaf first, then any intermediates) and private key; with
    client_ca, every client must present a certificate that CA signed."""

    cert: Path
    key: Path
    client_ca: Path | None = None

    def credentials(self) -> "grpc.ServerCredentials":
        import grpc

        client_ca = self.client_ca.read_bytes() if self.client_ca is not None else None
        return grpc.ssl_server_credentials(
            [(self.key.read_bytes(), self.cert.read_bytes())],
            root_certificates=client_ca,
            require_client_auth=client_ca is not None,
        )


ServerTransport = ServerTls | Plaintext


@dataclass(frozen=True, slots=True)
class ClientTls:
    """How a client checks the server: against `ca` (None: the system's trust store), by the
    host name or IP address it dials (which the certificate must name); with `cert` and `key`
    when the server asks for a client certificate."""

    ca: Path | None = None
    cert: Path | None = None
    key: Path | None = None

    def __post_init__(self) -> None:
        if (self.cert is None) != (self.key is None):
            raise GrpcTlsError("a client certificate needs both --cert and --key")

    def credentials(self) -> "grpc.ChannelCredentials":
        import grpc

        def read(path: Path | None) -> bytes | None:
            return path.read_bytes() if path is not None else None

        return grpc.ssl_channel_credentials(read(self.ca), read(self.key), read(self.cert))


ClientTransport = ClientTls | Plaintext


def client_transport(
    ca: Path | None = None,
    cert: Path | None = None,
    key: Path | None = None,
    plaintext: bool = False,
) -> ClientTransport:
    """A client's transport from its options; plaintext excludes every TLS option."""
    if plaintext:
        given = [name for name, v in (("--cacert", ca), ("--cert", cert), ("--key", key)) if v]
        if given:
            raise GrpcTlsError(f"--plaintext contradicts {', '.join(given)}: choose one")
        return PLAINTEXT
    return ClientTls(ca, cert, key)


Options = Sequence[tuple[str, Any]]


def channel(target: str, transport: ClientTransport, options: Options = ()) -> "grpc.Channel":
    """A blocking channel to target (host:port) over the transport."""
    import grpc

    if isinstance(transport, Plaintext):
        return grpc.insecure_channel(target, options=options)
    return grpc.secure_channel(target, transport.credentials(), options=options)


def aio_channel(
    target: str, transport: ClientTransport, options: Options = ()
) -> "grpc.aio.Channel":
    """An asyncio channel to target (host:port) over the transport."""
    import grpc

    if isinstance(transport, Plaintext):
        return grpc.aio.insecure_channel(target, options=options)
    return grpc.aio.secure_channel(target, transport.credentials(), options=options)


def _env(name: str, field: str) -> AliasChoices:
    """The variable, without a service's prefix: every server reads the same four; the field
    name works as a keyword (tests build settings with model_validate)."""
    return AliasChoices(name, field)


class GrpcServerSettings(CommonSettings):
    """What a gRPC server reads about its transport, besides the common settings. Checked
    when it is about to serve (`grpc_transport`), not when the settings are read: a worker
    that shares the settings class serves no gRPC."""

    grpc_tls_cert: ExistingFile | None = Field(
        None, validation_alias=_env(CERT_ENV, "grpc_tls_cert")
    )
    grpc_tls_key: ExistingFile | None = Field(None, validation_alias=_env(KEY_ENV, "grpc_tls_key"))
    # Set: clients must present a certificate this CA signed (mutual TLS).
    grpc_tls_client_ca: ExistingFile | None = Field(
        None, validation_alias=_env(CLIENT_CA_ENV, "grpc_tls_client_ca")
    )
    grpc_plaintext: bool = Field(False, validation_alias=_env(PLAINTEXT_ENV, "grpc_plaintext"))

    @model_validator(mode="after")
    def _consistent_transport(self) -> Self:
        if (self.grpc_tls_cert is None) != (self.grpc_tls_key is None):
            raise GrpcTlsError(f"{CERT_ENV} and {KEY_ENV} go together: set both or neither")
        if self.grpc_tls_client_ca is not None and self.grpc_tls_cert is None:
            raise GrpcTlsError(f"{CLIENT_CA_ENV} needs {CERT_ENV} and {KEY_ENV}")
        if self.grpc_plaintext and self.grpc_tls_cert is not None:
            raise GrpcTlsError(f"{PLAINTEXT_ENV}=true contradicts {CERT_ENV}: choose one")
        return self

    def grpc_transport(self) -> ServerTransport:
        """How to serve; GrpcTlsError when neither a certificate nor plaintext is set."""
        if self.grpc_plaintext:
            return PLAINTEXT
        if self.grpc_tls_cert is None or self.grpc_tls_key is None:
            raise GrpcTlsError(NO_TRANSPORT)
        return ServerTls(self.grpc_tls_cert, self.grpc_tls_key, self.grpc_tls_client_ca)
