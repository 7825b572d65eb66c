"""The ingest API's settings: gRPC address, output topic, writers' bearer tokens (no default)."""

from typing import Self

from pydantic import AliasChoices, Field, model_validator

from subsidy.infra.auth import (
    AUDITOR,
    WRITER,
    BearerTokens,
    Credentials,
    TokenDigests,
    digest_set,
    token_set,
)
from subsidy.infra.settings import KAFKA_NAME, CommonSettings, HostPort
from subsidy.infra.topics import ENTERPRISE_EVENTS

DEFAULT_GRPC_ADDRESS = "127.0.0.1:50051"


def _env(name: str) -> AliasChoices:
    """INGEST_<NAME> from the environment; the field name works as a keyword (tests)."""
    return AliasChoices(f"INGEST_{name.upper()}", name)


class IngestSettings(CommonSettings):
    """What the ingest server reads (INGEST_* variables, plus KAFKA_BOOTSTRAP, DATABASE_URL…)."""

    grpc_address: HostPort = Field(DEFAULT_GRPC_ADDRESS, validation_alias=_env("grpc_address"))
    topic: str = Field(ENTERPRISE_EVENTS.name, pattern=KAFKA_NAME, validation_alias=_env("topic"))
    # Writers' tokens, a secret: no default, so a server never starts open by accident.
    # Comma-separated, so that a new token can be rolled out before the old one is withdrawn.
    tokens: BearerTokens = Field(validation_alias=_env("tokens"))
    # SHA-256 digests of the auditors' tokens (LEDGER_API_AUDITOR_TOKENS), optional: an auditor
    # is then told PERMISSION_DENIED instead of UNAUTHENTICATED. Digests, not the tokens: this
    # server has no business holding read access to the ledger.
    auditor_token_sha256: TokenDigests = Field("", validation_alias=_env("auditor_token_sha256"))
    # How long one produce may wait for Kafka's acknowledgement before the client is told
    # UNAVAILABLE (and retries: the idempotency table makes that safe).
    produce_timeout_ms: int = Field(30_000, ge=1_000, le=300_000,
                                    validation_alias=_env("produce_timeout_ms"))  # fmt: skip
    db_pool_size: int = Field(5, ge=1, le=100, validation_alias=_env("db_pool_size"))
    metrics_port: int = Field(
        0,
        ge=0,
        le=65535,
        description="0 = no metrics endpoint",
        validation_alias=AliasChoices("INGEST_METRICS_PORT", "METRICS_PORT", "metrics_port"),
    )

    @model_validator(mode="after")
    def _distinct_roles(self) -> Self:
        self.credentials()  # raises if one token is both a writer's and an auditor's
        return self

    @property
    def token_set(self) -> frozenset[str]:
        """The accepted bearer tokens."""
        return token_set(self.tokens)

    @property
    def auditor_digests(self) -> frozenset[str]:
        """Digests of the auditors' tokens (refused with PERMISSION_DENIED)."""
        return digest_set(self.auditor_token_sha256)

    def credentials(self) -> Credentials:
        """Every token this server knows, with its role."""
        return Credentials({WRITER: self.token_set}, {AUDITOR: self.auditor_digests})
