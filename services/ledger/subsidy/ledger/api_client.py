"""The query commands' client of the ledger API: where it is, who asks, one call with the token."""

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import grpc
import typer

from subsidy.api.v1 import api_pb2_grpc
from subsidy.infra.commands import EXIT_SERVER, EXIT_USAGE
from subsidy.infra.grpc_errors import field_violations
from subsidy.infra.grpc_tls import ClientTransport, channel

# The query commands' exit statuses: EXIT_NOT_FOUND, and cli.common's EXIT_USAGE (bad options,
# or the server said INVALID_ARGUMENT) and EXIT_SERVER (the token refused, the API unreachable,
# or its certificate not the one --cacert vouches for).
EXIT_NOT_FOUND = 1

ServerOption = Annotated[
    str, typer.Option("--server", envvar="SUBSIDY_LEDGER_SERVER", help="Ledger API host:port.")
]
TokenOption = Annotated[
    str | None,
    typer.Option("--token", envvar="SUBSIDY_LEDGER_TOKEN", show_default=False,
                 help="An auditor's bearer token (prefer the variable: arguments show in `ps`)."),
]  # fmt: skip

R = TypeVar("R")


def _described(err: grpc.RpcError) -> list[str]:
    """`field: description` of each google.rpc.BadRequest violation in the error."""
    return [f"{field}: {text}" for field, text in field_violations(err)]


def call_api(
    server: str,
    token: str | None,
    transport: ClientTransport,
    call: Callable[[Any, tuple[tuple[str, str]]], R],
) -> R:
    """One LedgerService call with the token, over the transport; a refusal becomes a message
    and an exit status."""
    if not token:
        typer.echo("error: no token: pass --token or set SUBSIDY_LEDGER_TOKEN", err=True)
        raise typer.Exit(EXIT_USAGE)
    with channel(server, transport) as opened:
        try:
            return call(
                api_pb2_grpc.LedgerServiceStub(opened),
                (("authorization", f"Bearer {token}"),),
            )
        except grpc.RpcError as err:
            code = err.code()
            typer.echo(f"error: {code.name}: {err.details()}", err=True)
            if code == grpc.StatusCode.INVALID_ARGUMENT:
                for violation in _described(err):
                    typer.echo(f"  {violation}", err=True)
                raise typer.Exit(EXIT_USAGE) from None
            raise typer.Exit(
                EXIT_NOT_FOUND if code == grpc.StatusCode.NOT_FOUND else EXIT_SERVER
            ) from None
