"""The notifier worker's Prometheus metrics (`subsidy_notifier_*`, in REGISTRY)."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# What `subsidy notify worker` serves; the admin API counts nothing of its own.
REGISTRY = CollectorRegistry()

DECISIONS_CONSUMED = Counter(
    "subsidy_notifier_decisions_consumed",
    "Decision records read from the decisions topic, duplicates included.",
    registry=REGISTRY,
)
UNDECODABLE = Counter(
    "subsidy_notifier_undecodable",
    "Records on the decisions (appeals) topic that are not a Decision (an AppealNotice):"
    " skipped, logged with offset.",
    registry=REGISTRY,
)
FORGED = Counter(
    "subsidy_notifier_forged_decisions",
    "Records on the decisions or appeals topic not signed by the ledger's key, by reason (unsigned,"
    " unknown_key, bad_signature): dead-lettered, never notified.",
    ["reason"],
    registry=REGISTRY,
)
APPEAL_NOTICES_CONSUMED = Counter(
    "subsidy_notifier_appeal_notices_consumed",
    "Appeal notices the ledger signed, taken in for the first time, by kind (APPEAL_FILED,"
    " APPEAL_DISMISSED, APPEAL_UPHELD_BY_CORRECTION, APPEAL_REOPENED).",
    ["kind"],
    registry=REGISTRY,
)
NOTICES_CONSUMED = Counter(
    "subsidy_notifier_payout_notices_consumed",
    "Payout notices read from the payouts' outbox past the notifier's cursor, by kind (SENT,"
    " PAID, RETURNED, BUDGET_ALERT); two notifiers racing may both read one, planned once.",
    ["kind"],
    registry=REGISTRY,
)
PLANNED = Counter(
    "subsidy_notifier_planned",
    "Deliveries planned (each decision or payout notice, channel and recipient once), by"
    " channel and audience.",
    ["channel", "audience"],
    registry=REGISTRY,
)
SENT = Counter(
    "subsidy_notifier_sent",
    "Deliveries that reached their endpoint (2xx, or mail accepted by the relay).",
    ["channel"],
    registry=REGISTRY,
)
RETRIED = Counter(
    "subsidy_notifier_retried",
    "Failed attempts scheduled for another try, by channel.",
    ["channel"],
    registry=REGISTRY,
)
DEAD = Counter(
    "subsidy_notifier_dead",
    "Deliveries given up on (attempts exhausted or a permanent refusal), by channel.",
    ["channel"],
    registry=REGISTRY,
)
DELIVERY_LATENCY = Histogram(
    "subsidy_notifier_delivery_latency_seconds",
    "From planning a delivery to its successful attempt, retries and backoff included.",
    ["channel"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400),
    registry=REGISTRY,
)
ATTEMPT_SECONDS = Histogram(
    "subsidy_notifier_attempt_seconds",
    "Duration of one delivery attempt, by channel and outcome (sent, retry, dead).",
    ["channel", "outcome"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
    registry=REGISTRY,
)
IN_FLIGHT = Gauge(
    "subsidy_notifier_in_flight",
    "Delivery attempts running now in this process.",
    registry=REGISTRY,
)
