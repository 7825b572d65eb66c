"""The eligibility worker's Prometheus metrics (`subsidy_eligibility_*`, in REGISTRY)."""

from prometheus_client import CollectorRegistry, Counter, Histogram

from subsidy.eligibility.handler import OutgoingRecord

# What `subsidy eligibility worker` serves; the dry-run server counts nothing of its own.
REGISTRY = CollectorRegistry()

EVENTS_CONSUMED = Counter(
    "subsidy_eligibility_events_consumed",
    "Messages read from the input topic, by payload type (`invalid` for those set aside).",
    ["payload_type"],
    registry=REGISTRY,
)
ENTITLEMENTS = Counter(
    "subsidy_eligibility_entitlements",
    "Entitlements published, by rule.",
    ["rule_id"],
    registry=REGISTRY,
)
REJECTIONS = Counter(
    "subsidy_eligibility_rejections",
    "Messages set aside on the dead-letter topic, by reason and by the field at fault "
    "(one count per field error; `event` when no single field is to blame).",
    ["reason", "field"],
    registry=REGISTRY,
)
PROCESSING_SECONDS = Histogram(
    "subsidy_eligibility_processing_seconds",
    "From taking a message off the input topic to the broker acknowledging the output.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)

OFFSET_GAPS = Counter(
    "subsidy_eligibility_offset_gaps",
    "Input partitions found skipping ahead of an offset never processed, and sought back to it "
    "(see subsidy.eligibility.offsets; any count is worth a look).",
    registry=REGISTRY,
)


def observe(outcome: OutgoingRecord) -> None:
    """Count one handled message."""
    EVENTS_CONSUMED.labels(outcome.payload_type).inc()
    if outcome.rejection is None:
        for rule_id in outcome.rule_ids:
            ENTITLEMENTS.labels(rule_id).inc()
        return
    fields = [e.field for e in outcome.rejection.errors] or ["event"]
    for field in fields:
        REJECTIONS.labels(outcome.rejection.reason, field).inc()
