"""The ledger query API's settings: its own read-only database URL, address, auditors' tokens."""

from typing import Self

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import SettingsConfigDict

from subsidy.identity.settings import SESSION_PUBLIC_KEY_ENV, SessionPublicKey
from subsidy.infra.auth import AUDITOR, WRITER, Credentials, TokenDigests, digest_set
from subsidy.infra.grpc_tls import GrpcServerSettings
from subsidy.infra.principals import Readers
from subsidy.infra.settings import HostPort, PostgresUrl

DEFAULT_GRPC_ADDRESS = "127.0.0.1:50081"


def _env(name: str) -> AliasChoices:
    """Only LEDGER_API_<NAME>: never a bare DATABASE_URL or TOKENS meant for another service.
    Keywords use the same name (tests build settings with model_validate)."""
    return AliasChoices(f"LEDGER_API_{name.upper()}")


class LedgerApiSettings(GrpcServerSettings):
    """What `subsidy ledger serve` reads (LEDGER_API_* variables, plus LOG_LEVEL, LOG_JSON and
    the servers' GRPC_TLS_CERT…, which carry no prefix)."""

    # A refused credential setting must not be echoed into a log.
    model_config = SettingsConfigDict(hide_input_in_errors=True)

    # Its own URL, required: the API connects as a member of the read-only subsidy_auditor
    # role, not as the ledger's owner (the worker's DATABASE_URL). See docs/security.md.
    # sslmode=verify-full, unless DATABASE_PLAINTEXT=true (CommonSettings, no prefix).
    database_url: PostgresUrl = Field(validation_alias=_env("database_url"))
    grpc_address: HostPort = Field(DEFAULT_GRPC_ADDRESS, validation_alias=_env("grpc_address"))
    # The auditors, a secret: no default, so the API never starts open. JSON, principal →
    # {tokens | token_sha256} (subsidy.infra.principals): every read is logged with the
    # reader's principal.
    auditors: Readers = Field(validation_alias=_env("auditor_tokens"))
    # SHA-256 digests of the writers' tokens (INGEST_CREDENTIALS), optional: a writer is then told
    # PERMISSION_DENIED instead of UNAUTHENTICATED. Digests only: a read-only service must not
    # hold credentials that can write.
    writer_token_sha256: TokenDigests = Field("", validation_alias=_env("writer_token_sha256"))
    # The Ed25519 public key (PEM) people's sessions are verified with (SESSION_PUBLIC_KEY,
    # shared by every service); unset: no session is accepted, auditors' tokens only.
    session_public_key: SessionPublicKey = Field(None, validation_alias=SESSION_PUBLIC_KEY_ENV)
    # Start even if the database role can write to the ledger (local development only).
    allow_writable_role: bool = Field(False, validation_alias=_env("allow_writable_role"))
    db_pool_size: int = Field(5, ge=1, le=100, validation_alias=_env("db_pool_size"))
    default_page_size: int = Field(100, ge=1, le=10_000, validation_alias=_env("default_page_size"))
    max_page_size: int = Field(1_000, ge=1, le=10_000, validation_alias=_env("max_page_size"))
    # How often the outbox backlog gauge is refreshed.
    outbox_poll_seconds: float = Field(
        15.0, gt=0, le=3_600, validation_alias=_env("outbox_poll_seconds")
    )
    # How often every hash chain is verified for subsidy_ledger_chain_ok (0: only when
    # VerifyChain is called). Verification reads the whole journal.
    verify_interval_seconds: float = Field(
        3_600.0, ge=0, validation_alias=_env("verify_interval_seconds")
    )
    metrics_port: int = Field(
        0,
        ge=0,
        le=65535,
        description="0 = no metrics endpoint",
        validation_alias=AliasChoices("LEDGER_API_METRICS_PORT"),
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.default_page_size > self.max_page_size:
            raise ValueError("default_page_size must not exceed max_page_size")
        self.credentials()  # raises if one token is both an auditor's and a writer's
        return self

    def credentials(self) -> Credentials:
        """Every token this server knows, with its role."""
        return Credentials(
            {AUDITOR: self.auditors},
            {WRITER: digest_set(self.writer_token_sha256)},
        )
