"""The tests' gRPC TLS."""

# A CA of the session's own, a server certificate for the loopback addresses and a client
# certificate, as settings for the servers and transports for clients.

from dataclasses import dataclass
from pathlib import Path

import grpc

from subsidy.devstack.local_ca import CertFiles, ensure_cert
from subsidy.infra.grpc_tls import (
    CERT_ENV,
    CLIENT_CA_ENV,
    KEY_ENV,
    ClientTls,
    ServerTls,
    aio_channel,
)


@dataclass(frozen=True)
class GrpcTls:
    """A server's and a client's certificate, both signed by one CA."""

    server: CertFiles
    client: CertFiles

    @classmethod
    def make(cls, directory: Path) -> "GrpcTls":
        return cls(
            ensure_cert(directory, "grpc-server"),
            ensure_cert(directory, "grpc-client", client=True),
        )

    @property
    def ca(self) -> Path:
        return self.server.ca

    def env(self, mutual: bool = False) -> dict[str, str]:
        """A server's GRPC_TLS_* variables (with mutual: clients must show a certificate)."""
        env = {CERT_ENV: str(self.server.cert), KEY_ENV: str(self.server.key)}
        return env | ({CLIENT_CA_ENV: str(self.ca)} if mutual else {})

    def server_tls(self, mutual: bool = False) -> ServerTls:
        """The server's transport, as its settings would give it."""
        return ServerTls(self.server.cert, self.server.key, self.ca if mutual else None)

    @property
    def client_tls(self) -> ClientTls:
        """A client that checks the server against the CA, without a certificate of its own."""
        return ClientTls(self.ca)

    @property
    def client_with_cert(self) -> ClientTls:
        """A client that also shows the CA's client certificate."""
        return ClientTls(self.ca, self.client.cert, self.client.key)

    def channel(self, address: str) -> grpc.aio.Channel:
        """An asyncio channel to address that checks the server against the CA."""
        return aio_channel(address, self.client_tls)

    def cli_args(self) -> list[str]:
        """The client commands' option for the CA."""
        return ["--cacert", str(self.ca)]
