"""Typed settings read from the environment, one object per service, failing fast."""

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from subsidy.infra.kafka_client import KafkaConnection

# Where a service looks when nothing is configured: a broker and a database on this host, at
# the addresses the local stack (`subsidy dev up`) listens on. A deployment sets both.
KAFKA_HOST = "127.0.0.1"
KAFKA_PORT = 19092
POSTGRES_HOST = "127.0.0.1"
POSTGRES_PORT = 55432
POSTGRES_DB = "subsidy"
POSTGRES_ROLE = "subsidy"
LOCAL_KAFKA_BOOTSTRAP = f"{KAFKA_HOST}:{KAFKA_PORT}"
LOCAL_DATABASE_URL = f"postgresql://{POSTGRES_ROLE}@{POSTGRES_HOST}:{POSTGRES_PORT}/{POSTGRES_DB}"
# Kafka's own rule for topic names (and a safe one for consumer group ids).
KAFKA_NAME = r"^[A-Za-z0-9._-]{1,249}$"
_HOST_PORT = re.compile(r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):(?P<port>[0-9]{1,5})$")


def _host_port(value: str) -> str:
    match = _HOST_PORT.fullmatch(value)
    if match is None or not 0 <= int(match["port"]) <= 65535:
        raise ValueError(f"must be host:port with a port in 0…65535, got {value!r}")
    return value


# A listening address, `host:port` (port 0: any free port).
HostPort = Annotated[str, AfterValidator(_host_port)]


class CommonSettings(BaseSettings):
    """What every service reads. Defaults point at this host's Kafka and PostgreSQL; none of
    them is a secret — tokens and passwords have no default (see the services' settings)."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    kafka_bootstrap: str = Field(LOCAL_KAFKA_BOOTSTRAP, min_length=1)
    # Authenticated and encrypted unless a deployment says otherwise in so many words
    # (KAFKA_SECURITY_PROTOCOL=PLAINTEXT); each service logs in as its own principal.
    kafka_security_protocol: Literal["SASL_SSL", "SSL", "SASL_PLAINTEXT", "PLAINTEXT"] = "SASL_SSL"
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = "SCRAM-SHA-512"
    kafka_sasl_username: str | None = Field(None, min_length=1)
    kafka_sasl_password: SecretStr | None = None
    # The CA the broker's certificate is checked against; unset: the system's trust store.
    kafka_ssl_cafile: Path | None = None
    database_url: str = Field(LOCAL_DATABASE_URL, pattern=r"^postgres(ql)?://")
    log_level: str = Field("INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$")
    log_json: bool = False
    metrics_port: int = Field(0, ge=0, le=65535, description="0 = no metrics endpoint")
    # Loopback by default (a laptop's metrics are nobody else's business); 0.0.0.0 in a pod,
    # where Prometheus scrapes from another address.
    metrics_address: str = Field("127.0.0.1", min_length=1)
    # The policy every service judges by: the catalog (the packaged one unless POLICY_CATALOG
    # names another) and an optional overlay (POLICY_OVERLAY). Every service reads the same
    # two, so eligibility, the ledger, its API and the notifier hold one policy.
    policy_catalog: Path | None = None
    policy_overlay: Path | None = None

    @field_validator("policy_catalog", "policy_overlay", "kafka_ssl_cafile")
    @classmethod
    def _policy_file_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"no such file: {value}")
        return value

    @property
    def kafka(self) -> KafkaConnection:
        """How this service reaches Kafka, as its own principal; ValueError naming what is
        missing from a login half given (a command that talks to Kafka asks at its start,
        subsidy.infra.commands.kafka_or_exit; the APIs and the dashboard never do)."""
        password = self.kafka_sasl_password
        return KafkaConnection(
            bootstrap=self.kafka_bootstrap,
            security_protocol=self.kafka_security_protocol,
            sasl_mechanism=self.kafka_sasl_mechanism,
            username=self.kafka_sasl_username,
            password=password.get_secret_value() if password else None,
            cafile=self.kafka_ssl_cafile,
        )
