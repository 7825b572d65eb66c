"""The ingest API's settings: gRPC address, output topic, writers' principals, bulk's bound."""

# The writers' principals come with their tokens and what each may submit (no default); the bound is
# the one bulk is admitted under.

from typing import Self

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import SettingsConfigDict

from subsidy.identity.settings import SESSION_PUBLIC_KEY_ENV, SessionPublicKey
from subsidy.infra.auth import AUDITOR, WRITER, Credentials, TokenDigests, digest_set
from subsidy.infra.grpc_tls import GrpcServerSettings
from subsidy.infra.kafka_access import GroupIds
from subsidy.infra.principals import Writers
from subsidy.infra.settings import KAFKA_NAME, HostPort
from subsidy.infra.topics import ENTERPRISE_EVENTS, ENTITLEMENTS

DEFAULT_GRPC_ADDRESS = "127.0.0.1:50051"


def _env(name: str) -> AliasChoices:
    """INGEST_<NAME> from the environment; the field name works as a keyword (tests)."""
    return AliasChoices(f"INGEST_{name.upper()}", name)


class IngestSettings(GrpcServerSettings):
    """What the ingest server reads (INGEST_* variables, plus KAFKA_BOOTSTRAP, DATABASE_URL,
    GRPC_TLS_CERT…)."""

    # A refused credential setting must not be echoed into a log.
    model_config = SettingsConfigDict(hide_input_in_errors=True)

    grpc_address: HostPort = Field(DEFAULT_GRPC_ADDRESS, validation_alias=_env("grpc_address"))
    topic: str = Field(ENTERPRISE_EVENTS.name, pattern=KAFKA_NAME, validation_alias=_env("topic"))
    # The writers, a secret: no default, so a server never starts open by accident. JSON,
    # principal → {tokens | token_sha256, event_types, sources} (subsidy.infra.principals):
    # each credential names who submits and is bound to the event types and sources it may
    # submit. Several tokens per principal, so that a new one can be rolled out before the
    # old one is withdrawn.
    writers: Writers = Field(validation_alias=_env("credentials"))
    # SHA-256 digests of the auditors' tokens (LEDGER_API_AUDITOR_TOKENS), optional: an auditor
    # is then told PERMISSION_DENIED instead of UNAUTHENTICATED. Digests, not the tokens: this
    # server has no business holding read access to the ledger.
    auditor_token_sha256: TokenDigests = Field("", validation_alias=_env("auditor_token_sha256"))
    # The Ed25519 public key (PEM) people's sessions are verified with (SESSION_PUBLIC_KEY,
    # shared by every service); unset: no session is accepted, machines' tokens only.
    session_public_key: SessionPublicKey = Field(None, validation_alias=SESSION_PUBLIC_KEY_ENV)
    # The source a person's session may claim: the portal's (not a secret).
    portal_source: str = Field("sz-subsidy-portal", min_length=1, max_length=200,
                               validation_alias=_env("portal_source"))  # fmt: skip
    # How long one produce may wait for Kafka's acknowledgement before the client is told
    # UNAVAILABLE (and retries: the idempotency table makes that safe).
    produce_timeout_ms: int = Field(30_000, ge=1_000, le=300_000,
                                    validation_alias=_env("produce_timeout_ms"))  # fmt: skip
    # Live before bulk (docs/scaling.md): SubmitBatch produces a chunk only while the events
    # not yet decided — the eligibility group's lag on `topic` plus the ledger group's on
    # `entitlements_topic` — are fewer than this; a live Submit is never held, so it queues
    # behind at most about this many. 0: no admission control.
    bulk_max_backlog: int = Field(800, ge=0, le=10_000_000,
                                  validation_alias=_env("bulk_max_backlog"))  # fmt: skip
    # How long a chunk may wait for that (less when the call's own deadline is sooner); then
    # RESOURCE_EXHAUSTED, which the client retries.
    bulk_max_wait_s: float = Field(60.0, gt=0, le=3_600, validation_alias=_env("bulk_max_wait_s"))
    # The groups and topic whose lag that is: the eligibility's and ledger's own GROUP_ID and
    # the ledger's INPUT_TOPIC, with their defaults (reading them needs DESCRIBE on each).
    eligibility_group_id: str = Field(GroupIds().eligibility, pattern=KAFKA_NAME,
                                      validation_alias=_env("eligibility_group_id"))  # fmt: skip
    ledger_group_id: str = Field(GroupIds().ledger, pattern=KAFKA_NAME,
                                 validation_alias=_env("ledger_group_id"))  # fmt: skip
    entitlements_topic: str = Field(ENTITLEMENTS.name, pattern=KAFKA_NAME,
                                    validation_alias=_env("entitlements_topic"))  # fmt: skip
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
    def auditor_digests(self) -> frozenset[str]:
        """Digests of the auditors' tokens (refused with PERMISSION_DENIED)."""
        return digest_set(self.auditor_token_sha256)

    def credentials(self) -> Credentials:
        """Every token this server knows, with its role."""
        return Credentials({WRITER: self.writers}, {AUDITOR: self.auditor_digests})
