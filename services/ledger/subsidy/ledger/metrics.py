"""The ledger service's Prometheus metrics (`subsidy_ledger_*`), one registry per process."""

import time
from collections import Counter as TallyCounter

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from subsidy.domain.ledger.records import PostingKind
from subsidy.ledger.chain import VerifyResult
from subsidy.ledger.processor import BatchReport

# The worker, the relay and the query API are one component but three processes: each serves
# what it measures and nothing else, so the relay and the worker do not export the API's chain
# and backlog gauges at 0 (a "broken chain" on every target but the API).
WORKER_REGISTRY = CollectorRegistry()
RELAY_REGISTRY = CollectorRegistry()
API_REGISTRY = CollectorRegistry()

DECISIONS = Counter(
    "subsidy_ledger_decisions",
    "Decisions (entitlement revisions) committed, by status and rule.",
    ["status", "rule_id"],
    registry=WORKER_REGISTRY,
)
GRANTED_FEN = Counter(
    "subsidy_ledger_granted_fen",
    "Fen granted (GRANT entries and corrections that raise a grant), by measure and district.",
    ["measure", "district"],
    registry=WORKER_REGISTRY,
)
REVERSED_FEN = Counter(
    "subsidy_ledger_reversed_fen",
    "Fen taken back from entitlements (supersede, revoke, other support, corrections that cut"
    " a grant), by measure and district; net granted = granted - reversed.",
    ["measure", "district"],
    registry=WORKER_REGISTRY,
)
CAP_DENIALS = Counter(
    "subsidy_ledger_cap_denials",
    "Grants limited or denied by a cap or the year limit, by rule and check.",
    ["rule_id", "check"],
    registry=WORKER_REGISTRY,
)
INBOX = Counter(
    "subsidy_ledger_inbox",
    "Events taken off the input topic, by what the inbox made of them.",
    ["result"],  # applied, duplicate, conflict, rejected, parked
    registry=WORKER_REGISTRY,
)
PARKED = Counter(
    "subsidy_ledger_parked_reviews",
    "Reviews that arrived before their event, by what became of them.",
    ["result"],  # parked, released, refused (when released), expired
    registry=WORKER_REGISTRY,
)
FOUR_EYES = Counter(
    "subsidy_ledger_four_eyes",
    "Large review approvals (four eyes, docs/rules.md), by step: a first approval recorded, or a"
    " second one refused because it names no reviewer, the first's reviewer, or another amount.",
    ["result"],  # first_approval, no_reviewer, same_reviewer, amount_mismatch
    registry=WORKER_REGISTRY,
)
POLICY_REFUSED = Counter(
    "subsidy_ledger_policy_refused",
    "Evaluations set aside because they do not follow from the event under the ledger's policy"
    " (another policy version, or entitlements the policy does not give).",
    registry=WORKER_REGISTRY,
)
DEAD_LETTERS = Counter(
    "subsidy_ledger_dead_letters",
    "Undecodable messages set aside on the dead-letter topic.",
    registry=WORKER_REGISTRY,
)
OFFSET_COMMIT_FAILURES = Counter(
    "subsidy_ledger_offset_commit_failures",
    "Offset commits refused after a rebalance (the records are redelivered and deduplicated).",
    registry=WORKER_REGISTRY,
)
RETRIES = Counter(
    "subsidy_ledger_batch_retries",
    "Batch transactions retried, by error.",
    ["error"],
    registry=WORKER_REGISTRY,
)
BATCH_SIZE = Histogram(
    "subsidy_ledger_batch_size",
    "Messages per database transaction.",
    buckets=(1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000),
    registry=WORKER_REGISTRY,
)
COMMIT_SECONDS = Histogram(
    "subsidy_ledger_commit_seconds",
    "From taking the enterprise locks to the database commit of a batch.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=WORKER_REGISTRY,
)
RELAYED = Counter(
    "subsidy_ledger_relayed_decisions", "Outbox decisions published.", registry=RELAY_REGISTRY
)
APPEAL_NOTICES_RELAYED = Counter(
    "subsidy_ledger_relayed_appeal_notices",
    "Appeal notices published on appeals.v1.",
    registry=RELAY_REGISTRY,
)
ANCHORS = Counter(
    "subsidy_ledger_anchors",
    "Signed chain heads appended to the anchor log (file and topic).",
    registry=RELAY_REGISTRY,
)
ANCHOR_MARKS_REFUSED = Counter(
    "subsidy_ledger_anchor_marks_refused",
    "Anchor marks the relay did not take: a seal not its own (the chain is anchored again from"
    " its first entry) or a sealed mark past its chain's head (anchored entries are gone).",
    registry=RELAY_REGISTRY,
)
# A `moved` pass reads the chains whose decisions the relay published since the last one, so
# its time follows the traffic; a `sweep` reads every chain a page at a time (at start, on
# taking over, every LEDGER_ANCHOR_SWEEP_SECONDS), so its time follows the ledger's size.
ANCHOR_PASS_SECONDS = Histogram(
    "subsidy_ledger_anchor_pass_seconds",
    "Time an anchoring took, by pass: moved (the chains published since) or sweep (all).",
    ["pass"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300),
    registry=RELAY_REGISTRY,
)

# Set by the query API (`subsidy ledger serve`), which watches the outbox from outside the
# relay: a relay that died cannot report its own backlog.
OUTBOX_BACKLOG = Gauge(
    "subsidy_ledger_outbox_backlog",
    "Committed decisions not yet published on decisions.v1.",
    registry=API_REGISTRY,
)
OUTBOX_OLDEST_SECONDS = Gauge(
    "subsidy_ledger_outbox_oldest_unsent_seconds",
    "Age of the oldest unpublished decision (0 when none).",
    registry=API_REGISTRY,
)
PARKED_WAITING = Gauge(
    "subsidy_ledger_parked_waiting",
    "Reviews waiting for the event they refer to.",
    registry=API_REGISTRY,
)
PARKED_OLDEST_SECONDS = Gauge(
    "subsidy_ledger_parked_oldest_seconds",
    "How long the longest-waiting parked review has waited (0 when none).",
    registry=API_REGISTRY,
)
CHAIN_OK = Gauge(
    "subsidy_ledger_chain_ok",
    "1 if the last verification found every hash chain intact, 0 if it found a broken entry.",
    registry=API_REGISTRY,
)
CHAIN_ENTRIES = Gauge(
    "subsidy_ledger_chain_entries_checked",
    "Entries the last chain verification checked.",
    registry=API_REGISTRY,
)
CHAIN_VERIFIED_AT = Gauge(
    "subsidy_ledger_chain_verified_timestamp_seconds",
    "When the chains were last verified (Unix time): alert when it grows stale too.",
    registry=API_REGISTRY,
)
API_LATENCY = Histogram(
    "subsidy_ledger_api_request_seconds",
    "Time to answer one LedgerService call, by method.",
    ["method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=API_REGISTRY,
)
API_REFUSED = Counter(
    "subsidy_ledger_api_refused",
    "LedgerService calls refused by the token check, by code.",
    ["code"],  # UNAUTHENTICATED, PERMISSION_DENIED
    registry=API_REGISTRY,
)

_CAP_CHECKS = frozenset({"ANNUAL_CAP", "ITEM_CAP", "YEAR_LIMIT"})


BOOK_CACHE_BOOKS = Gauge(
    "subsidy_ledger_book_cache_books",
    "Enterprise books the worker holds between batches (at most LEDGER_BOOK_CACHE_SIZE).",
    registry=WORKER_REGISTRY,
)
BOOK_CACHE_RECORDS = Gauge(
    "subsidy_ledger_book_cache_records",
    "Entitlements, events and parked reviews in the held books (at most"
    " LEDGER_BOOK_CACHE_RECORDS, about 1 KB each): the bound on the worker's memory.",
    registry=WORKER_REGISTRY,
)
BOOK_CACHE_LOOKUPS = Counter(
    "subsidy_ledger_book_cache_lookups",
    "Books looked up for a batch, by result: hit, stale (another writer moved the enterprise"
    " on) or miss; stale and miss are restored from the tables.",
    ["result"],
    registry=WORKER_REGISTRY,
)
BOOK_CACHE_EVICTIONS = Counter(
    "subsidy_ledger_book_cache_evictions",
    "Books let go, least recently used first, to stay within the cache's limits.",
    registry=WORKER_REGISTRY,
)


def observe_cache(books: int, records: int, tally: dict[str, int]) -> None:
    """The book cache after a batch: its size, and its lookups and evictions meanwhile."""
    BOOK_CACHE_BOOKS.set(books)
    BOOK_CACHE_RECORDS.set(records)
    for result in ("hit", "stale", "miss"):
        if tally.get(result):
            BOOK_CACHE_LOOKUPS.labels(result).inc(tally[result])
    if tally.get("evicted"):
        BOOK_CACHE_EVICTIONS.inc(tally["evicted"])


def observe_batch(report: BatchReport, seconds: float) -> None:
    """Count one committed batch."""
    BATCH_SIZE.observe(report.messages)
    COMMIT_SECONDS.observe(seconds)
    for result, n in (
        ("applied", report.applied),
        ("duplicate", report.duplicates),
        ("conflict", report.conflicts),
        ("rejected", report.rejected),
        ("parked", report.parked),
    ):
        if n:
            INBOX.labels(result).inc(n)
    for result, n in (
        ("parked", report.parked),
        ("released", report.released),
        ("refused", report.released_rejected),
    ):
        if n:
            PARKED.labels(result).inc(n)
    for result, n in report.four_eyes.items():
        FOUR_EYES.labels(result).inc(n)
    # Summed per label set first: labels() is costly, and a batch would otherwise call it
    # several times per decision.
    decisions: TallyCounter[tuple[str, str]] = TallyCounter()
    denials: TallyCounter[tuple[str, str]] = TallyCounter()
    granted: TallyCounter[tuple[str, str]] = TallyCounter()
    reversed_: TallyCounter[tuple[str, str]] = TallyCounter()
    for book, outcome in report.outcomes:
        for d in outcome.decisions:
            decisions[(d.status.value, d.state_ent.rule_id)] += 1
            for check in d.checks:
                if check.outcome in _CAP_CHECKS:
                    denials[(d.state_ent.rule_id, check.outcome)] += 1
        for p in outcome.postings:
            s = book.entitlements[p.entitlement_id]
            labels = (str(s.ent.measure), s.district)
            # A correction's entry has either sign: a raise is granted, a cut reversed (a
            # counter only goes up).
            if p.kind is PostingKind.GRANT or (
                p.kind is PostingKind.CORRECTION and p.amount_fen > 0
            ):
                granted[labels] += p.amount_fen
            elif p.kind is not PostingKind.CLAWBACK:
                reversed_[labels] -= p.amount_fen
    for metric, tally in (
        (DECISIONS, decisions),
        (CAP_DENIALS, denials),
        (GRANTED_FEN, granted),
        (REVERSED_FEN, reversed_),
    ):
        for labels, n in tally.items():
            if n:
                metric.labels(*labels).inc(n)


def observe_verification(result: VerifyResult) -> None:
    """Publish a chain verification's result."""
    CHAIN_OK.set(1 if result.ok else 0)
    CHAIN_ENTRIES.set(result.entries_checked)
    CHAIN_VERIFIED_AT.set(time.time())
