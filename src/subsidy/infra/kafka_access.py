"""Who may do what on Kafka: one principal per service and the least ACLs it needs."""

# The one table behind the local broker's ACLs, each run's and test's, the docs' topic table
# and deploy/k8s's KafkaUsers (scripts/gen_kafka_users.py).

from dataclasses import dataclass

from subsidy.infra.topics import (
    APPEALS,
    DEAD_LETTERS,
    DECISIONS,
    ENTERPRISE_EVENTS,
    ENTITLEMENTS,
    LEDGER_ANCHORS,
)

# Tools and tests: makes topics, users and ACLs; no service runs as it.
ADMIN = "subsidy-admin"
INGEST = "subsidy-ingest"
ELIGIBILITY = "subsidy-eligibility"
LEDGER_WORKER = "subsidy-ledger-worker"
LEDGER_RELAY = "subsidy-ledger-relay"
NOTIFIER = "subsidy-notifier"
SERVICES = (INGEST, ELIGIBILITY, LEDGER_WORKER, LEDGER_RELAY, NOTIFIER)

# Reading a topic or a group implies describing it; writing a topic implies idempotent
# writes (Kafka ≥ 2.8), so no principal needs a cluster-wide right. Describing alone lets a
# principal read a group's committed offsets and a topic's end offsets, nothing else.
READ = "Read"
WRITE = "Write"
DESCRIBE = "Describe"


@dataclass(frozen=True, slots=True)
class TopicNames:
    """The platform's topics under the names one deployment (or run, or test) gives them."""

    enterprise_events: str = ENTERPRISE_EVENTS.name
    entitlements: str = ENTITLEMENTS.name
    decisions: str = DECISIONS.name
    dead_letters: str = DEAD_LETTERS.name
    ledger_anchors: str = LEDGER_ANCHORS.name
    appeals: str = APPEALS.name


@dataclass(frozen=True, slots=True)
class GroupIds:
    """The consumer groups (the services' GROUP_ID settings)."""

    eligibility: str = "subsidy-eligibility"
    ledger: str = "subsidy-ledger"
    notifier: str = "subsidy-notifier"


@dataclass(frozen=True, slots=True)
class Grant:
    """Allow principal `operation` on one topic or consumer group (a literal name)."""

    principal: str
    resource: str  # "topic" or "group"
    name: str
    operation: str


def grants(topics: TopicNames | None = None, groups: GroupIds | None = None) -> tuple[Grant, ...]:
    """Every service's ACLs: ingest alone writes events; eligibility alone reads them and
    writes entitlements; the ledger's worker alone reads those; its relay alone writes
    decisions, appeal notices and anchors; the notifier reads decisions and appeal notices.
    Every consumer writes its own dead letters; nobody but the admin reads them. Ingest
    describes the eligibility and ledger groups and the entitlements topic: their lag is the
    backlog it admits bulk under (live before bulk)."""
    t, g = topics or TopicNames(), groups or GroupIds()
    table = (
        (INGEST, "topic", t.enterprise_events, WRITE),
        (INGEST, "group", g.eligibility, DESCRIBE),
        (INGEST, "topic", t.entitlements, DESCRIBE),
        (INGEST, "group", g.ledger, DESCRIBE),
        (ELIGIBILITY, "topic", t.enterprise_events, READ),
        (ELIGIBILITY, "group", g.eligibility, READ),
        (ELIGIBILITY, "topic", t.entitlements, WRITE),
        (ELIGIBILITY, "topic", t.dead_letters, WRITE),
        (LEDGER_WORKER, "topic", t.entitlements, READ),
        (LEDGER_WORKER, "group", g.ledger, READ),
        (LEDGER_WORKER, "topic", t.dead_letters, WRITE),
        (LEDGER_RELAY, "topic", t.decisions, WRITE),
        (LEDGER_RELAY, "topic", t.ledger_anchors, WRITE),
        (LEDGER_RELAY, "topic", t.appeals, WRITE),
        (NOTIFIER, "topic", t.decisions, READ),
        (NOTIFIER, "topic", t.appeals, READ),
        (NOTIFIER, "group", g.notifier, READ),
        (NOTIFIER, "topic", t.dead_letters, WRITE),
    )
    return tuple(Grant(*row) for row in table)
