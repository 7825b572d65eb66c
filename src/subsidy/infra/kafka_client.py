"""How a client reaches Kafka: its servers, the CA it trusts and its SASL login, per library."""

import ssl
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, get_args

SecurityProtocol = Literal["SASL_SSL", "SSL", "SASL_PLAINTEXT", "PLAINTEXT"]
SaslMechanism = Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"]
PROTOCOLS: tuple[str, ...] = get_args(SecurityProtocol)
MECHANISMS: tuple[str, ...] = get_args(SaslMechanism)


@dataclass(frozen=True, slots=True)
class KafkaConnection:
    """Where Kafka is and as whom: one object, handed to every client a process makes."""

    bootstrap: str
    security_protocol: str = "SASL_SSL"
    sasl_mechanism: str = "SCRAM-SHA-512"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    # None: the system's trust store (a managed Kafka with a public certificate).
    cafile: Path | None = None
    # Where the topics' schemas are registered (the Confluent-compatible API); None: nowhere
    # known, so this connection cannot write framed records (admin and read-only clients).
    schema_registry_url: str | None = None

    def __post_init__(self) -> None:
        if self.security_protocol not in PROTOCOLS:
            raise ValueError(f"KAFKA_SECURITY_PROTOCOL must be one of {', '.join(PROTOCOLS)}")
        if self.sasl and not (self.username and self.password):
            raise ValueError(
                f"KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD are required with "
                f"KAFKA_SECURITY_PROTOCOL={self.security_protocol}"
            )
        if self.sasl and self.sasl_mechanism not in MECHANISMS:
            raise ValueError(f"KAFKA_SASL_MECHANISM must be one of {', '.join(MECHANISMS)}")

    @property
    def sasl(self) -> bool:
        return self.security_protocol.startswith("SASL_")

    @property
    def tls(self) -> bool:
        return self.security_protocol.endswith("SSL")

    @property
    def servers(self) -> list[str]:
        return [h.strip() for h in self.bootstrap.split(",") if h.strip()]

    def as_user(self, username: str, password: str) -> "KafkaConnection":
        """The same broker, logged in as another principal."""
        return replace(self, username=username, password=password)

    def ssl_context(self) -> ssl.SSLContext | None:
        """A verifying TLS context (hostname and chain), or None without TLS."""
        if not self.tls:
            return None
        return ssl.create_default_context(cafile=str(self.cafile) if self.cafile else None)

    def options(self) -> dict[str, Any]:
        """Keyword arguments for any client here: aiokafka's and kafka-python's producers,
        consumers and admin clients take the same names (TLS through the verifying context)."""
        options: dict[str, Any] = {
            "bootstrap_servers": self.servers,
            "security_protocol": self.security_protocol,
        }
        if self.tls:
            options["ssl_context"] = self.ssl_context()
        if self.sasl:
            options |= {
                "sasl_mechanism": self.sasl_mechanism,
                "sasl_plain_username": self.username,
                "sasl_plain_password": self.password,
            }
        return options

    def faust(self) -> dict[str, Any]:
        """faust.App options: the broker URLs and the credentials its aiokafka driver uses."""
        import faust  # only the eligibility worker runs faust; others need not import it

        credentials: Any = None
        if self.sasl:
            credentials = faust.SASLCredentials(
                username=self.username,
                password=self.password,
                ssl_context=self.ssl_context(),
                mechanism=self.sasl_mechanism,
            )
        elif self.tls:
            credentials = faust.SSLCredentials(self.ssl_context())
        return {
            "broker": [f"kafka://{server}" for server in self.servers],
            "broker_credentials": credentials,
        }

    def env(self) -> dict[str, str]:
        """The environment a child process reads this connection back from (CommonSettings)."""
        env = {"KAFKA_BOOTSTRAP": self.bootstrap, "KAFKA_SECURITY_PROTOCOL": self.security_protocol}
        if self.cafile is not None:
            env["KAFKA_SSL_CAFILE"] = str(self.cafile)
        if self.schema_registry_url is not None:
            env["KAFKA_SCHEMA_REGISTRY_URL"] = self.schema_registry_url
        if self.sasl:
            env |= {
                "KAFKA_SASL_MECHANISM": self.sasl_mechanism,
                "KAFKA_SASL_USERNAME": self.username or "",
                "KAFKA_SASL_PASSWORD": self.password or "",
            }
        return env
