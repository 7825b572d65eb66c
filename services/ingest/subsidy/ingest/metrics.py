"""Prometheus metrics of the ingest API (`subsidy_ingest_*`, in REGISTRY: what it serves)."""

from typing import get_args

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from pydantic import BaseModel
from pydantic.alias_generators import to_camel

from subsidy.domain.events import EnterpriseEvent

REGISTRY = CollectorRegistry()

ACCEPTED = Counter(
    "subsidy_ingest_accepted", "Events accepted and acknowledged by Kafka", registry=REGISTRY
)
DUPLICATES = Counter(
    "subsidy_ingest_duplicates",
    "Events already accepted with the same content (no-ops)",
    registry=REGISTRY,
)
REJECTED = Counter(
    "subsidy_ingest_rejected",
    "Field errors of rejected events (a conflict counts under eventId)",
    ["field"],
    registry=REGISTRY,
)
PRODUCE_FAILURES = Counter(
    "subsidy_ingest_produce_failures",
    "Events Kafka did not acknowledge (client told UNAVAILABLE)",
    registry=REGISTRY,
)
UNAUTHENTICATED = Counter(
    "subsidy_ingest_unauthenticated",
    "Calls refused for a missing or unknown bearer token",
    registry=REGISTRY,
)
FORBIDDEN = Counter(
    "subsidy_ingest_forbidden",
    "Calls refused for a known token of another role (an auditor's)",
    registry=REGISTRY,
)
FORBIDDEN_EVENTS = Counter(
    "subsidy_ingest_forbidden_events",
    "Events refused for what their submitter may not send: a type or source it is not bound"
    " to (type, source), a correction of another's event or by a person (revision), a"
    " person's event not dated today or not under a portal-<uuid4> id (session)",
    ["binding"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "subsidy_ingest_request_seconds",
    "Time to answer one ingest call",
    ["method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=REGISTRY,
)
# Live before bulk (backlog.py): what SubmitBatch's chunks wait for, and how long they wait.
BACKLOG = Gauge(
    "subsidy_ingest_pipeline_backlog",
    "Events not yet through a stage at the last reading: its consumer group's lag (committed"
    " vs end offsets; eligibility on the events topic, ledger on the entitlements topic)",
    ["stage"],
    registry=REGISTRY,
)
BULK_WAIT = Histogram(
    "subsidy_ingest_bulk_wait_seconds",
    "Time a SubmitBatch chunk waited for the backlog to fall below INGEST_BULK_MAX_BACKLOG",
    buckets=(0.01, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
    registry=REGISTRY,
)
BULK_REFUSED = Counter(
    "subsidy_ingest_bulk_refused",
    "SubmitBatch chunks refused (RESOURCE_EXHAUSTED) because the backlog stayed at the bound",
    registry=REGISTRY,
)
BACKLOG_READ_FAILURES = Counter(
    "subsidy_ingest_backlog_read_failures",
    "Backlog readings that failed (Kafka or its ACLs); meanwhile bulk is admitted unchecked",
    registry=REGISTRY,
)


def _contract_paths() -> frozenset[str]:
    """Every JSON path the contract defines (`district`, `certificationObtained.kind`, …)."""
    paths = {"event", "payload"}
    for key, info in EnterpriseEvent.model_fields.items():
        name = info.alias or to_camel(key)
        paths.add(name)
        for arg in get_args(info.annotation):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                paths.update(
                    f"{name}.{sub.alias or to_camel(k)}" for k, sub in arg.model_fields.items()
                )
    return frozenset(paths)


_PATHS = _contract_paths()


def field_label(path: str) -> str:
    """The field as a label value; paths a client invented (unknown fields) would make the
    label unbounded, so they are counted together."""
    return path if path in _PATHS else "other"


# A refused field's binding label: the few kinds of refusal, never the field itself.
_BINDINGS = {"source": "source", "revision": "revision", "occurredOn": "session",
             "eventId": "session"}  # fmt: skip


def binding_label(field: str) -> str:
    """What kind of binding refused `field` (a payload type, an enterprise, a rule: type)."""
    return _BINDINGS.get(field, "type")
