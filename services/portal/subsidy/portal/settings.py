"""The portal's settings (PORTAL_*): listening, relayed gRPC services, database, session key."""

# Where it listens and how, the gRPC services it relays, its database login and the key that signs
# people's sessions.

from typing import Self

from pydantic import AliasChoices, Field, model_validator

from subsidy.identity.settings import SessionSigningSettings
from subsidy.infra.settings import CommonSettings, ExistingFile, HostPort, PostgresUrl


def _env(name: str) -> AliasChoices:
    """Only PORTAL_<NAME> (the field name works as a keyword: tests build settings directly);
    never a bare DATABASE_URL meant for another service."""
    return AliasChoices(f"PORTAL_{name.upper()}", name)


class PortalSettings(CommonSettings, SessionSigningSettings):
    """What `subsidy portal serve` reads, with the session signing key and lifetime
    (PORTAL_SESSION_PRIVATE_KEY: no default, without it the portal does not start)."""

    host: str = Field("127.0.0.1", min_length=1, validation_alias=_env("host"))
    port: int = Field(
        8090, ge=0, le=65535, description="0 = any free port", validation_alias=_env("port")
    )
    # HTTPS unless a deployment says otherwise in so many words (behind a TLS proxy, or a
    # test on the loopback): session tokens and credentials cross this listener.
    tls_cert: ExistingFile | None = Field(None, validation_alias=_env("tls_cert"))
    tls_key: ExistingFile | None = Field(None, validation_alias=_env("tls_key"))
    plaintext: bool = Field(False, validation_alias=_env("plaintext"))
    ledger_api: HostPort = Field("127.0.0.1:50081", validation_alias=_env("ledger_api"))
    ingest_api: HostPort = Field("127.0.0.1:50051", validation_alias=_env("ingest_api"))
    # The CA the relayed gRPC servers' certificates are checked against; plaintext gRPC only
    # when said so.
    grpc_ca: ExistingFile | None = Field(None, validation_alias=_env("grpc_ca"))
    grpc_plaintext: bool = Field(False, validation_alias=_env("grpc_plaintext"))
    # The `source` of the events people submit through the pages: the one the ingest API lets
    # sessions claim (INGEST_PORTAL_SOURCE).
    event_source: str = Field(
        "sz-subsidy-portal", pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$",
        validation_alias=_env("event_source"),
    )  # fmt: skip
    # The portal's own login (group subsidy_portal): it reads credentials, nothing else.
    database_url: PostgresUrl = Field(validation_alias=_env("database_url"))

    @model_validator(mode="after")
    def _transport(self) -> Self:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("PORTAL_TLS_CERT and PORTAL_TLS_KEY go together: set both or neither")
        if self.plaintext == (self.tls_cert is not None):
            raise ValueError(
                "set PORTAL_TLS_CERT and PORTAL_TLS_KEY (HTTPS), or PORTAL_PLAINTEXT=true"
                " (behind a TLS proxy or on the loopback): exactly one"
            )
        if self.grpc_plaintext and self.grpc_ca is not None:
            raise ValueError("PORTAL_GRPC_PLAINTEXT=true contradicts PORTAL_GRPC_CA: choose one")
        return self
