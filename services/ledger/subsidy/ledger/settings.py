"""The ledger service's settings: topics, consumer group, batch sizes, relay and cache limits."""

from pathlib import Path
from typing import Self

from pydantic import AliasChoices, Field, field_validator, model_validator

from subsidy.infra.settings import KAFKA_NAME, CommonSettings
from subsidy.infra.signing_keys import Signer, readable_private_key
from subsidy.infra.topics import APPEALS, DEAD_LETTERS, DECISIONS, ENTITLEMENTS, LEDGER_ANCHORS


def _env(name: str) -> AliasChoices:
    """Read LEDGER_<NAME> from the environment; the plain field name also works as a keyword
    (tests build settings directly)."""
    return AliasChoices(f"LEDGER_{name.upper()}", name)


class LedgerSettings(CommonSettings):
    """What the ledger worker, the outbox relay and the ledger CLI read (LEDGER_* variables,
    plus the common ones: DATABASE_URL, KAFKA_BOOTSTRAP, LOG_LEVEL, …)."""

    input_topic: str = Field(
        ENTITLEMENTS.name, pattern=KAFKA_NAME, validation_alias=_env("input_topic")
    )
    decisions_topic: str = Field(
        DECISIONS.name, pattern=KAFKA_NAME, validation_alias=_env("decisions_topic")
    )
    # Where the relay publishes the appeals' notices (AppealNotice, signed).
    appeals_topic: str = Field(
        APPEALS.name, pattern=KAFKA_NAME, validation_alias=_env("appeals_topic")
    )
    dead_letter_topic: str = Field(
        DEAD_LETTERS.name, pattern=KAFKA_NAME, validation_alias=_env("dead_letter_topic")
    )
    group_id: str = Field("subsidy-ledger", pattern=KAFKA_NAME, validation_alias=_env("group_id"))
    # Messages per database transaction: more amortises the commit, fewer keeps lock time short.
    batch_size: int = Field(500, ge=1, le=10_000, validation_alias=_env("batch_size"))
    batch_wait_ms: int = Field(200, ge=0, le=60_000, validation_alias=_env("batch_wait_ms"))
    # Books kept in memory between batches (validated against the enterprise row's version),
    # least recently used out first: at most book_cache_size books, holding together at most
    # book_cache_records entitlements, events and parked reviews (about 1 KB each). The second
    # bounds the worker's memory whatever the enterprises' histories; an evicted book is read
    # again from PostgreSQL when its enterprise next has an event.
    book_cache_size: int = Field(10_000, ge=0, validation_alias=_env("book_cache_size"))
    book_cache_records: int = Field(100_000, ge=0, validation_alias=_env("book_cache_records"))
    # How long a review may wait for the event it refers to before it is rejected, and how
    # often the worker looks for such reviews.
    park_ttl_days: float = Field(30, gt=0, le=3650, validation_alias=_env("park_ttl_days"))
    park_sweep_seconds: float = Field(
        60, gt=0, le=86_400, validation_alias=_env("park_sweep_seconds")
    )
    relay_batch_size: int = Field(500, ge=1, le=10_000, validation_alias=_env("relay_batch_size"))
    relay_poll_seconds: float = Field(1.0, gt=0, le=60, validation_alias=_env("relay_poll_seconds"))
    # Its own variable first: a worker and a relay on one host must not share a port.
    metrics_port: int = Field(
        0,
        ge=0,
        le=65535,
        description="0 = no metrics endpoint",
        validation_alias=AliasChoices("LEDGER_METRICS_PORT", "METRICS_PORT", "metrics_port"),
    )
    # The ledger's Ed25519 private key (PEM): signs the anchors and the decisions the relay
    # publishes. A secret: no default, never in the database; the relay refuses to start
    # without it, and an unreadable file fails at start (docs/security.md).
    signing_key_file: Path | None = Field(None, validation_alias=_env("signing_key_file"))
    # The anchor log outside PostgreSQL: an append-only JSON-lines file and a topic only the
    # ledger writes; each anchor_seconds the relay anchors the chains of the enterprises whose
    # decisions it published since, each chain's position kept in anchor_marks.
    anchor_file: Path | None = Field(None, validation_alias=_env("anchor_file"))
    anchor_topic: str = Field(
        LEDGER_ANCHORS.name, pattern=KAFKA_NAME, validation_alias=_env("anchor_topic")
    )
    anchor_seconds: float = Field(60, gt=0, le=86_400, validation_alias=_env("anchor_seconds"))
    # A sweep anchors every chain past its mark, anchor_page_size chains per read: at start, on
    # taking over, when more than anchor_moved_max chains moved between two anchorings (the
    # relay then holds no list of them), and every anchor_sweep_seconds, so that a chain that
    # moved without a decision being published is anchored within that time. A round of
    # anchoring signs at most anchor_round_hashes entries (a chain far behind its mark is
    # anchored in steps). Together they bound the relay's memory, whatever the number of
    # chains and the length of one.
    anchor_page_size: int = Field(
        5_000, ge=1, le=100_000, validation_alias=_env("anchor_page_size")
    )
    anchor_round_hashes: int = Field(
        50_000, ge=1, le=1_000_000, validation_alias=_env("anchor_round_hashes")
    )
    anchor_moved_max: int = Field(
        100_000, ge=1, le=10_000_000, validation_alias=_env("anchor_moved_max")
    )
    anchor_sweep_seconds: float = Field(
        3_600, gt=0, le=7 * 86_400, validation_alias=_env("anchor_sweep_seconds")
    )
    # Fault injection for the exactly-once test: SIGKILL the worker right after a database
    # commit, before the Kafka offsets are committed. Never set it in production.
    crash_after_db_commit: bool = Field(False, validation_alias=_env("crash_after_db_commit"))

    _readable_key = field_validator("signing_key_file")(readable_private_key)

    def signer(self) -> Signer:
        """The signing key; a settings error when none is configured (the relay needs it)."""
        if self.signing_key_file is None:
            raise ValueError("LEDGER_SIGNING_KEY_FILE is required (the ledger's Ed25519 key)")
        return Signer.from_file(self.signing_key_file)

    @model_validator(mode="after")
    def _distinct_topics(self) -> Self:
        topics = [self.input_topic, self.decisions_topic, self.dead_letter_topic,
                  self.anchor_topic, self.appeals_topic]  # fmt: skip
        if len(set(topics)) != len(topics):
            raise ValueError(
                "input, decisions, dead-letter, anchor and appeals topics must differ,"
                f" got {topics}"
            )
        return self
