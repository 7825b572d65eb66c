"""The dashboard's Prometheus metrics (default registry, `subsidy_dashboard_*`)."""

from prometheus_client import Counter, Gauge, Histogram

CLIENTS = Gauge("subsidy_dashboard_clients", "Browsers connected to the event stream now.")
REFRESHES = Counter(
    "subsidy_dashboard_refreshes", "Totals recomputed because new decisions were committed."
)
POLL_ERRORS = Counter(
    "subsidy_dashboard_poll_errors", "Looks at the ledger that failed (database unreachable, …)."
)
LAST_POLL = Gauge(
    "subsidy_dashboard_last_poll_timestamp_seconds",
    "When the dashboard last read the ledger successfully (Unix time).",
)
REFRESH_SECONDS = Histogram(
    "subsidy_dashboard_refresh_seconds",
    "Time to read the totals and latest decisions in one snapshot.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
