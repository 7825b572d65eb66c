"""The notifier's settings: topic, consumer group, retry policy, timeouts, SMTP, admin API."""

import re
from pathlib import Path
from typing import Any, Self

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator

from subsidy.infra.grpc_tls import GrpcServerSettings
from subsidy.infra.settings import KAFKA_NAME, HostPort
from subsidy.infra.signing_keys import KeyFileError, Verifier
from subsidy.infra.topics import APPEALS, DEAD_LETTERS, DECISIONS
from subsidy.notifier.signing import secret_problem

_SENDER = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+$")
# The admin token's minimum: shorter ones are guessable.
MIN_SECRET_LENGTH = 16


def _env(name: str) -> AliasChoices:
    """Read NOTIFIER_<NAME> from the environment; the plain field name also works as a
    keyword (tests build settings directly)."""
    return AliasChoices(f"NOTIFIER_{name.upper()}", name)


class NotifierSettings(GrpcServerSettings):
    """What the notifier worker, its admin gRPC server and the `subsidy notify` CLI read
    (NOTIFIER_* variables, plus the common ones: DATABASE_URL, KAFKA_BOOTSTRAP, LOG_LEVEL, …,
    and the admin server's GRPC_TLS_CERT…)."""

    topic: str = Field(DECISIONS.name, pattern=KAFKA_NAME, validation_alias=_env("topic"))
    # The ledger's appeal notices (AppealNotice), read by the same group beside the decisions.
    appeals_topic: str = Field(
        APPEALS.name, pattern=KAFKA_NAME, validation_alias=_env("appeals_topic")
    )
    group_id: str = Field("subsidy-notifier", pattern=KAFKA_NAME,
                          validation_alias=_env("group_id"))  # fmt: skip
    # Where a decision that is not the ledger's (unsigned, or not signed by its key) goes.
    dead_letter_topic: str = Field(
        DEAD_LETTERS.name, pattern=KAFKA_NAME, validation_alias=_env("dead_letter_topic")
    )
    # The ledger's Ed25519 public key (PEM): the worker acts only on decisions it signed.
    # Required by `subsidy notify worker`, which refuses to start without it; a file that is
    # not such a key fails at start.
    ledger_public_key_file: Path | None = Field(
        None, validation_alias=_env("ledger_public_key_file")
    )
    # Records per planning transaction: one commit per batch instead of one per decision.
    batch_size: int = Field(200, ge=1, le=10_000, validation_alias=_env("batch_size"))

    # Delivery policy.
    max_attempts: int = Field(8, ge=1, le=100, validation_alias=_env("max_attempts"))
    backoff_base_seconds: float = Field(
        2.0, gt=0, le=3600, validation_alias=_env("backoff_base_seconds")
    )
    backoff_cap_seconds: float = Field(
        900.0, gt=0, le=86_400, validation_alias=_env("backoff_cap_seconds")
    )
    attempt_timeout_seconds: float = Field(
        10.0, gt=0, le=300, validation_alias=_env("attempt_timeout_seconds")
    )
    # How long a claim is held: longer than an attempt may take, so a live notifier never
    # loses a claim it is still working on, yet short enough that a crashed one's are retried
    # soon.
    lease_seconds: float = Field(60.0, gt=0, le=3600, validation_alias=_env("lease_seconds"))
    concurrency: int = Field(32, ge=1, le=1000, validation_alias=_env("concurrency"))
    # In-flight attempts per endpoint (a webhook URL, or the SMTP relay): what keeps a dead
    # or slow endpoint from occupying every slot.
    endpoint_concurrency: int = Field(
        4, ge=1, le=1000, validation_alias=_env("endpoint_concurrency")
    )
    poll_seconds: float = Field(1.0, gt=0, le=60, validation_alias=_env("poll_seconds"))
    shutdown_grace_seconds: float = Field(
        15.0, ge=0, le=300, validation_alias=_env("shutdown_grace_seconds")
    )

    # Standard Webhooks secrets per subscriber (enterprise id or bureau name): one, or a list
    # during a rotation, each signing every webhook, e.g.
    # NOTIFIER_WEBHOOK_SECRETS='{"91320594MA1X7K2Q8F": ["whsec_<new>", "whsec_<old>"]}'.
    # No default secret, ever: a webhook subscription without a configured secret is refused.
    webhook_secrets: dict[str, list[SecretStr]] = Field(
        default_factory=dict, validation_alias=_env("webhook_secrets")
    )

    # SMTP relay.
    smtp_host: str = Field("127.0.0.1", min_length=1, validation_alias=_env("smtp_host"))
    smtp_port: int = Field(25, ge=1, le=65535, validation_alias=_env("smtp_port"))
    smtp_sender: str = Field(
        "notifier@subsidy.localhost", pattern=_SENDER, validation_alias=_env("smtp_sender")
    )
    smtp_username: str | None = Field(None, validation_alias=_env("smtp_username"))
    smtp_password: SecretStr | None = Field(None, validation_alias=_env("smtp_password"))
    # None: STARTTLS when the server offers it (aiosmtplib's default); true/false to force.
    smtp_starttls: bool | None = Field(None, validation_alias=_env("smtp_starttls"))

    # Admin gRPC API.
    grpc_address: HostPort = Field("127.0.0.1:50071", validation_alias=_env("grpc_address"))
    # Bearer token for NotifierAdminService; no default, `serve` refuses to start without it.
    admin_token: SecretStr | None = Field(None, validation_alias=_env("admin_token"))

    # Its own variable first: the worker and the server of one host must not share a port.
    metrics_port: int = Field(
        0,
        ge=0,
        le=65535,
        description="0 = no metrics endpoint",
        validation_alias=AliasChoices("NOTIFIER_METRICS_PORT", "METRICS_PORT", "metrics_port"),
    )

    @field_validator("webhook_secrets", mode="before")
    @classmethod
    def _one_or_a_list(cls, value: Any) -> Any:
        # One secret is the usual case; a list is a rotation in progress.
        if isinstance(value, dict):
            return {k: [v] if isinstance(v, str | SecretStr) else v for k, v in value.items()}
        return value

    @field_validator("webhook_secrets")
    @classmethod
    def _check_secrets(cls, value: dict[str, list[SecretStr]]) -> dict[str, list[SecretStr]]:
        for subscriber, secrets in value.items():
            where = f"NOTIFIER_WEBHOOK_SECRETS[{subscriber!r}]"
            if not secrets:
                raise ValueError(f"{where}: give one whsec_ secret, or a list during a rotation")
            plain = [s.get_secret_value() for s in secrets]
            if len(set(plain)) != len(plain):
                raise ValueError(f"{where}: the same secret is listed twice")
            for i, secret in enumerate(plain):
                problem = secret_problem(secret)
                if problem is not None:
                    at = f"[{i}]" if len(plain) > 1 else ""
                    raise ValueError(f"{where}{at}: {problem}")
        return value

    @field_validator("ledger_public_key_file")
    @classmethod
    def _readable_key(cls, value: Path | None) -> Path | None:
        if value is not None:
            try:
                Verifier.from_file(value)
            except KeyFileError as err:
                raise ValueError(str(err)) from None
        return value

    def ledger_verifier(self) -> Verifier:
        """The ledger's public key; a settings error when none is configured."""
        if self.ledger_public_key_file is None:
            raise ValueError("NOTIFIER_LEDGER_PUBLIC_KEY_FILE is required (the ledger's key)")
        return Verifier.from_file(self.ledger_public_key_file)

    @field_validator("admin_token")
    @classmethod
    def _check_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_SECRET_LENGTH:
            raise ValueError(f"must be at least {MIN_SECRET_LENGTH} characters")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.backoff_cap_seconds < self.backoff_base_seconds:
            raise ValueError("backoff_cap_seconds must not be below backoff_base_seconds")
        if self.lease_seconds <= self.attempt_timeout_seconds:
            raise ValueError("lease_seconds must exceed attempt_timeout_seconds")
        if (self.smtp_username is None) != (self.smtp_password is None):
            raise ValueError("smtp_username and smtp_password go together")
        if self.appeals_topic == self.topic:
            # A record is read as what its topic carries: one topic cannot carry both.
            raise ValueError("appeals_topic must differ from topic (the decisions)")
        return self

    def webhook_signing_secrets(self, subscriber: str) -> tuple[str, ...]:
        """The whsec_ secrets a subscriber's webhooks are signed with (each signs), or ()."""
        return tuple(s.get_secret_value() for s in self.webhook_secrets.get(subscriber, []))
