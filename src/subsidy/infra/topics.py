"""Kafka topic names and layout: versioned names, keyed and partitioned by enterprise id."""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Topic:
    """One topic: its versioned name and what travels on it."""

    name: str
    partitions: int
    purpose: str


# Several partitions: records are keyed by enterpriseId, so one enterprise's events stay in
# order (what keeps caps right) while different enterprises are processed in parallel.
PARTITIONS = 6

ENTERPRISE_EVENTS = Topic("enterprise-events.v1", PARTITIONS, "EnterpriseEvent (protobuf) in")
ENTITLEMENTS = Topic("entitlements.v1", PARTITIONS, "Evaluation: an event and its entitlements")
DECISIONS = Topic("decisions.v1", PARTITIONS, "Decision out, from the ledger's outbox")
# Its own topic, not decisions.v1: every consumer there reads each record as a Decision.
APPEALS = Topic("appeals.v1", PARTITIONS, "AppealNotice out: appeals filed and decided, signed")
DEAD_LETTERS = Topic("dead-letters.v1", 1, "DeadLetter: messages set aside, with the error")
# One partition: the anchor log is read whole, in the order the ledger signed it.
LEDGER_ANCHORS = Topic(
    "ledger-anchors.v1", 1, "Signed chain heads (JSON, RFC 8785), written by the ledger only"
)

ALL_TOPICS: tuple[Topic, ...] = (
    ENTERPRISE_EVENTS, ENTITLEMENTS, DECISIONS, APPEALS, DEAD_LETTERS, LEDGER_ANCHORS,
)  # fmt: skip
