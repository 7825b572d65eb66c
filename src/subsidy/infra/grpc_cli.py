"""The command line's side of gRPC TLS: the clients' options, and a server's refusal to start."""

# The clients' --cacert/--cert/--key/--plaintext options; a server refuses to start without a
# transport (one line, exit 2).

from pathlib import Path
from typing import Annotated

import typer

from subsidy.infra.commands import EXIT_USAGE
from subsidy.infra.grpc_tls import (
    CA_ENV,
    CLIENT_CERT_ENV,
    CLIENT_KEY_ENV,
    ClientTransport,
    GrpcServerSettings,
    GrpcTlsError,
    ServerTransport,
    client_transport,
)

CacertOption = Annotated[
    Path | None,
    typer.Option("--cacert", envvar=CA_ENV, exists=True, dir_okay=False, show_default=False,
                 help="CA certificate (PEM) the server's certificate is checked against "
                 "(default: the system's trust store); the local stack's is .run/tls/ca.pem."),
]  # fmt: skip
CertOption = Annotated[
    Path | None,
    typer.Option("--cert", envvar=CLIENT_CERT_ENV, exists=True, dir_okay=False,
                 show_default=False,
                 help="Client certificate (PEM), for a server that asks for one."),
]  # fmt: skip
KeyOption = Annotated[
    Path | None,
    typer.Option("--key", envvar=CLIENT_KEY_ENV, exists=True, dir_okay=False,
                 show_default=False, help="The client certificate's private key (PEM)."),
]  # fmt: skip
PlaintextOption = Annotated[
    bool,
    # A flag only, never the environment: GRPC_PLAINTEXT=true exported for a server run by
    # hand must not make a client send its bearer token in the clear.
    typer.Option("--plaintext",
                 help="No TLS: only for a server started with GRPC_PLAINTEXT=true."),
]  # fmt: skip


def client_transport_or_exit(
    cacert: Path | None, cert: Path | None, key: Path | None, plaintext: bool
) -> ClientTransport:
    """The transport the options ask for; contradictory ones are one line and exit 2."""
    try:
        return client_transport(cacert, cert, key, plaintext)
    except GrpcTlsError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(EXIT_USAGE) from None


def server_transport_or_exit(settings: GrpcServerSettings) -> ServerTransport:
    """How the server serves; without a certificate or GRPC_PLAINTEXT=true it does not start
    (one line naming the variables, exit 2, as a bad setting is refused)."""
    try:
        return settings.grpc_transport()
    except GrpcTlsError as err:
        typer.echo(f"error: {type(settings).__name__}: {err}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
