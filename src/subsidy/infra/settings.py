"""Typed settings read from the environment, one object per service, failing fast."""

import re
from pathlib import Path
from typing import Annotated
from urllib.parse import parse_qs, urlsplit

from pydantic import (
    AfterValidator,
    Field,
    SecretStr,
    StringConstraints,
    ValidationInfo,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from subsidy.infra.kafka_client import KafkaConnection, SaslMechanism, SecurityProtocol

# Where a service looks when nothing is configured: a broker and a database on this host, at
# the addresses the local stack (`subsidy dev up`) listens on. A deployment sets both.
KAFKA_HOST = "127.0.0.1"
KAFKA_PORT = 19092
POSTGRES_HOST = "127.0.0.1"
POSTGRES_PORT = 55432
POSTGRES_DB = "subsidy"
POSTGRES_ROLE = "subsidy"
LOCAL_KAFKA_BOOTSTRAP = f"{KAFKA_HOST}:{KAFKA_PORT}"
LOCAL_DATABASE_URL = (
    f"postgresql://{POSTGRES_ROLE}@{POSTGRES_HOST}:{POSTGRES_PORT}/{POSTGRES_DB}"
    "?sslmode=verify-full"
)
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


def existing_file(path: Path) -> Path:
    """path if it names a file; else ValueError (a directory or nothing there is refused when
    the settings are read, not when the service first opens it)."""
    if not path.is_file():
        raise ValueError(f"no such file: {path}")
    return path


# A settings field naming a file that must exist: a CA, a certificate, a key, a policy file.
ExistingFile = Annotated[Path, AfterValidator(existing_file)]

DATABASE_PLAINTEXT_ENV = "DATABASE_PLAINTEXT"


def _verify_full(url: str, info: ValidationInfo) -> str:
    """url if it says sslmode=verify-full (TLS, the server's certificate checked against
    sslrootcert or PGSSLROOTCERT, its name against the URL's host), or if the settings say
    DATABASE_PLAINTEXT=true; else ValueError naming the field. Without sslmode asyncpg would
    `prefer` TLS: encrypted if the server offers it, never checked, plain if not. The URL is
    not repeated: it may hold a password."""
    modes = parse_qs(urlsplit(url).query, keep_blank_values=True).get("sslmode", [])
    if modes and all(mode == "verify-full" for mode in modes):
        return url
    # Declared before every URL field, so validated (or defaulted) first.
    if info.data.get("database_plaintext") is True:
        return url
    given = f"sslmode={modes[-1]}" if modes else "no sslmode"
    raise ValueError(
        f"{info.field_name} has {given}: a PostgreSQL URL must say sslmode=verify-full (with "
        f"sslrootcert=<CA file> or PGSSLROOTCERT), or set {DATABASE_PLAINTEXT_ENV}=true to "
        "connect without a checked TLS"
    )


# A PostgreSQL URL whose server is checked: sslmode=verify-full unless DATABASE_PLAINTEXT=true.
# Every setting holding one uses this type, on settings derived from CommonSettings.
PostgresUrl = Annotated[
    str, StringConstraints(pattern=r"^postgres(ql)?://"), AfterValidator(_verify_full)
]


class CommonSettings(BaseSettings):
    """What every service reads. Defaults point at this host's Kafka and PostgreSQL; none of
    them is a secret — tokens and passwords have no default (see the services' settings)."""

    # hide_input_in_errors: a refused value (a URL with its password) is never echoed.
    model_config = SettingsConfigDict(
        env_prefix="", extra="ignore", frozen=True, hide_input_in_errors=True
    )

    kafka_bootstrap: str = Field(LOCAL_KAFKA_BOOTSTRAP, min_length=1)
    # Authenticated and encrypted unless a deployment says otherwise in so many words
    # (KAFKA_SECURITY_PROTOCOL=PLAINTEXT); each service logs in as its own principal.
    kafka_security_protocol: SecurityProtocol = "SASL_SSL"
    kafka_sasl_mechanism: SaslMechanism = "SCRAM-SHA-512"
    kafka_sasl_username: str | None = Field(None, min_length=1)
    kafka_sasl_password: SecretStr | None = None
    # The CA the broker's certificate is checked against; unset: the system's trust store.
    kafka_ssl_cafile: ExistingFile | None = None
    # A schema registry's Confluent-compatible API. Set: writers frame every value in its wire
    # format, with the schema ids they look up there at start (registering is a deployment
    # step, never a writer's). Unset: values go unframed; CloudEvents headers either way.
    kafka_schema_registry_url: str | None = Field(None, pattern=r"^https?://")
    # PostgreSQL without TLS, or with TLS whose certificate is not checked, only when a
    # deployment says so in so many words (DATABASE_PLAINTEXT=true). Before the URLs: their
    # check reads it.
    database_plaintext: bool = False
    database_url: PostgresUrl = LOCAL_DATABASE_URL
    log_level: str = Field("INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$")
    log_json: bool = False
    metrics_port: int = Field(0, ge=0, le=65535, description="0 = no metrics endpoint")
    # Loopback by default (a laptop's metrics are nobody else's business); 0.0.0.0 in a pod,
    # where Prometheus scrapes from another address.
    metrics_address: str = Field("127.0.0.1", min_length=1)
    # The policy every service judges by: the catalog (the packaged one unless POLICY_CATALOG
    # names another) and an optional overlay (POLICY_OVERLAY). Every service reads the same
    # two, so eligibility, the ledger, its API and the notifier hold one policy.
    policy_catalog: ExistingFile | None = None
    policy_overlay: ExistingFile | None = None

    @property
    def kafka(self) -> KafkaConnection:
        """How this service reaches Kafka, as its own principal; ValueError naming what is
        missing from a login half given (a command that talks to Kafka asks at its start,
        subsidy.infra.commands.require_kafka_login; the APIs and the dashboard never do)."""
        password = self.kafka_sasl_password
        return KafkaConnection(
            bootstrap=self.kafka_bootstrap,
            security_protocol=self.kafka_security_protocol,
            sasl_mechanism=self.kafka_sasl_mechanism,
            username=self.kafka_sasl_username,
            password=password.get_secret_value() if password else None,
            cafile=self.kafka_ssl_cafile,
            schema_registry_url=self.kafka_schema_registry_url,
        )
