"""The eligibility service's settings: topics, consumer group, gRPC address."""

from typing import Self

from pydantic import AliasChoices, Field, model_validator

from subsidy.infra.grpc_tls import GrpcServerSettings
from subsidy.infra.settings import KAFKA_NAME, HostPort
from subsidy.infra.topics import DEAD_LETTERS, ENTERPRISE_EVENTS, ENTITLEMENTS


def _env(name: str) -> AliasChoices:
    """Read ELIGIBILITY_<NAME> from the environment; the plain field name also works as a
    keyword (tests build settings directly)."""
    return AliasChoices(f"ELIGIBILITY_{name.upper()}", name)


class EligibilitySettings(GrpcServerSettings):
    """What the eligibility worker and its gRPC dry-run server read (ELIGIBILITY_* variables,
    plus the common ones: KAFKA_BOOTSTRAP, LOG_LEVEL, …, and the server's GRPC_TLS_CERT…)."""

    input_topic: str = Field(
        default=ENTERPRISE_EVENTS.name, pattern=KAFKA_NAME, validation_alias=_env("input_topic")
    )
    output_topic: str = Field(
        default=ENTITLEMENTS.name, pattern=KAFKA_NAME, validation_alias=_env("output_topic")
    )
    dead_letter_topic: str = Field(
        default=DEAD_LETTERS.name, pattern=KAFKA_NAME, validation_alias=_env("dead_letter_topic")
    )
    # The faust app id is the Kafka consumer group: every worker with the same id shares the
    # partitions of the input topic.
    group_id: str = Field(default="subsidy-eligibility", pattern=KAFKA_NAME,
                          validation_alias=_env("group_id"))  # fmt: skip
    grpc_address: HostPort = Field(default="127.0.0.1:50061", validation_alias=_env("grpc_address"))
    # Its own variable first: the worker and the server of one host must not share a port.
    metrics_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        description="0 = no metrics endpoint",
        validation_alias=AliasChoices("ELIGIBILITY_METRICS_PORT", "METRICS_PORT", "metrics_port"),
    )
    # Seconds the worker may take to stop after SIGTERM before it exits regardless; below
    # the 10 s an orchestrator typically allows before SIGKILL.
    shutdown_timeout: float = Field(
        default=8.0, gt=0, le=60, validation_alias=_env("shutdown_timeout")
    )

    # Outputs the worker may have sent but not yet seen acknowledged; the input offsets behind
    # them are committed only once they are, in order. 1 = publish one message at a time.
    publish_window: int = Field(default=1000, ge=1, le=100_000,
                                validation_alias=_env("publish_window"))  # fmt: skip

    # Events taken from the stream at once (fewer, larger sends and acks), and how long a
    # partial batch waits for more before it is evaluated anyway: the latency a quiet stream
    # adds to each event.
    batch_size: int = Field(default=500, ge=1, le=10_000, validation_alias=_env("batch_size"))
    batch_wait_s: float = Field(default=0.01, gt=0, le=5, validation_alias=_env("batch_wait_s"))

    @model_validator(mode="after")
    def _distinct_topics(self) -> Self:
        topics = [self.input_topic, self.output_topic, self.dead_letter_topic]
        if len(set(topics)) != len(topics):
            raise ValueError(f"input, output and dead-letter topics must differ, got {topics}")
        return self
