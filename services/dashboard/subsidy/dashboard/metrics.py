"""The dashboard's Prometheus metrics (`subsidy_dashboard_*`, in REGISTRY)."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry()

CLIENTS = Gauge(
    "subsidy_dashboard_clients", "Browsers connected to the event stream now.", registry=REGISTRY
)
REFRESHES = Counter(
    "subsidy_dashboard_refreshes",
    "Totals recomputed because new decisions were committed.",
    registry=REGISTRY,
)
POLL_ERRORS = Counter(
    "subsidy_dashboard_poll_errors",
    "Looks at the ledger that failed (database unreachable, …).",
    registry=REGISTRY,
)
LAST_POLL = Gauge(
    "subsidy_dashboard_last_poll_timestamp_seconds",
    "When the dashboard last read the ledger successfully (Unix time).",
    registry=REGISTRY,
)
REFRESH_SECONDS = Histogram(
    "subsidy_dashboard_refresh_seconds",
    "Time to read the totals and latest decisions in one snapshot.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
    registry=REGISTRY,
)
STREAMS_REFUSED = Counter(
    "subsidy_dashboard_streams_refused",
    "Event streams refused: too many from one client address (per_client), or in all (total).",
    ["reason"],
    registry=REGISTRY,
)
# True cap utilisation (granted ÷ annual cap, per enterprise-year, under each capped rule),
# refreshed whenever the dashboard reads the ledger (subsidy.dashboard.cap_metrics). Labels are
# the catalog's capped rules and four bands: bounded, never an enterprise.
CAP_ENTERPRISE_YEARS = Gauge(
    "subsidy_dashboard_cap_utilisation_enterprise_years",
    "Enterprise-years with a grant under a capped rule, by share of the annual cap used"
    " (band: below_50, 50_to_90, 90_to_100, at_cap).",
    ["rule", "band"],
    registry=REGISTRY,
)
CAP_RATIO_MAX = Gauge(
    "subsidy_dashboard_cap_utilisation_ratio_max",
    "The highest share of its annual cap any enterprise-year used under the rule (1 = at cap).",
    ["rule"],
    registry=REGISTRY,
)
CAP_RATIO = Gauge(
    "subsidy_dashboard_cap_utilisation_ratio",
    "Granted under the rule ÷ the annual caps of the enterprise-years it granted to.",
    ["rule"],
    registry=REGISTRY,
)
