"""The notifier's Prometheus metrics (default registry, `subsidy_notifier_*`)."""

from prometheus_client import Counter, Gauge, Histogram

DECISIONS_CONSUMED = Counter(
    "subsidy_notifier_decisions_consumed",
    "Decision records read from the decisions topic, duplicates included.",
)
UNDECODABLE = Counter(
    "subsidy_notifier_undecodable",
    "Records on the decisions topic that are not a Decision (skipped, logged with offset).",
)
PLANNED = Counter(
    "subsidy_notifier_planned",
    "Deliveries planned (each decision, channel and recipient once), by channel and audience.",
    ["channel", "audience"],
)
SENT = Counter(
    "subsidy_notifier_sent",
    "Deliveries that reached their endpoint (2xx, or mail accepted by the relay).",
    ["channel"],
)
RETRIED = Counter(
    "subsidy_notifier_retried",
    "Failed attempts scheduled for another try, by channel.",
    ["channel"],
)
DEAD = Counter(
    "subsidy_notifier_dead",
    "Deliveries given up on (attempts exhausted or a permanent refusal), by channel.",
    ["channel"],
)
DELIVERY_LATENCY = Histogram(
    "subsidy_notifier_delivery_latency_seconds",
    "From planning a delivery to its successful attempt, retries and backoff included.",
    ["channel"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400),
)
ATTEMPT_SECONDS = Histogram(
    "subsidy_notifier_attempt_seconds",
    "Duration of one delivery attempt, by channel and outcome (sent, retry, dead).",
    ["channel", "outcome"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
IN_FLIGHT = Gauge(
    "subsidy_notifier_in_flight",
    "Delivery attempts running now in this process.",
)
