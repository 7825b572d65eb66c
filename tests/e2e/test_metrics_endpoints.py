"""Each long-running service's /metrics holds its own metric families and its process's only."""

# Scraped over HTTP from the real `subsidy` process; never another component's or process's.

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from subsidy.harness.databases import create_schema, drop_schema, migrate_platform
from subsidy.harness.processes import free_port
from subsidy.infra.signing_keys import write_key_pair
from tests.ledger.database import as_role
from tests.support.grpc_tls import GrpcTls
from tests.support.topics import private_topics

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

SUBSIDY = Path(sys.executable).parent / "subsidy"
START_WITHIN_S = 60.0
PROCESS_PREFIXES = ("process_", "python_")

# The ledger's three processes share the subsidy_ledger_ prefix; each exports what it
# measures. The query API watches the outbox and verifies the chains from outside the relay.
LEDGER_RELAY = {
    "subsidy_ledger_relayed_decisions",
    "subsidy_ledger_relayed_appeal_notices",
    "subsidy_ledger_anchors",
    "subsidy_ledger_anchor_pass_seconds",
    "subsidy_ledger_anchor_marks_refused",
}
LEDGER_API = {
    "subsidy_ledger_outbox_backlog",
    "subsidy_ledger_outbox_oldest_unsent_seconds",
    "subsidy_ledger_parked_waiting",
    "subsidy_ledger_parked_oldest_seconds",
    "subsidy_ledger_chain_ok",
    "subsidy_ledger_chain_entries_checked",
    "subsidy_ledger_chain_verified_timestamp_seconds",
    "subsidy_ledger_api_request_seconds",
    "subsidy_ledger_api_refused",
}


@dataclass(frozen=True)
class Service:
    """One long-running command, where its metrics are, and what they must be."""

    name: str
    args: tuple[str, ...]
    env: dict[str, str]
    metrics_url: str
    # Its own families' prefixes; None: it has none (process metrics only).
    prefix: str | tuple[str, ...] | None
    required: frozenset[str] = frozenset()  # families it must export
    forbidden: frozenset[str] = frozenset()  # families of its prefix it must not export


@pytest.fixture
async def platform_url(fresh_database_url: str) -> AsyncIterator[str]:
    """Every component's tables in a schema of their own."""
    schema, url = await create_schema(fresh_database_url, "metrics")
    await migrate_platform(url)
    yield url
    await drop_schema(fresh_database_url, schema)


def _services(
    bootstrap: str, url: str, topics: dict[str, str], files: Path, tls: dict[str, str]
) -> list[Service]:
    """Every long-running command; the gRPC servers serve TLS (`tls`: their GRPC_TLS_*)."""
    tag = uuid.uuid4().hex[:12]
    private_key, public_key = write_key_pair(files / "keys")
    common = {"KAFKA_BOOTSTRAP": bootstrap, "LOG_LEVEL": "INFO"}

    def db(login: str) -> dict[str, str]:  # each service as its own role, never the owner
        return {"DATABASE_URL": as_role(url, login)}

    ledger = {**common, **db("ledger_worker"), "LEDGER_INPUT_TOPIC": topics["entitlements"],
              "LEDGER_DECISIONS_TOPIC": topics["decisions"],
              "LEDGER_APPEALS_TOPIC": topics["appeals"],
              "LEDGER_DEAD_LETTER_TOPIC": topics["dead_letters"],
              "LEDGER_GROUP_ID": f"test-metrics-ledger-{tag}"}  # fmt: skip
    ports = {name: free_port() for name in (
        "ingest", "eligibility-worker", "eligibility-api", "ledger-worker", "ledger-relay",
        "ledger-api", "notifier-worker", "notifier-admin", "dashboard")}  # fmt: skip

    def metrics(name: str) -> str:
        return f"http://127.0.0.1:{ports[name]}/metrics"

    def grpc() -> str:
        return f"127.0.0.1:{free_port()}"

    return [
        Service("ingest", ("ingest-server",), {
            **common, **db("ingest_server"), "INGEST_TOPIC": topics["events"],
            "INGEST_CREDENTIALS": json.dumps({"test-feed": {
                "tokens": [secrets.token_urlsafe(24)], "event_types": ["certificationObtained"],
                "sources": ["test-feed"]}}),
            "INGEST_GRPC_ADDRESS": grpc(), **tls,
            "INGEST_METRICS_PORT": str(ports["ingest"])},
            metrics("ingest"), "subsidy_ingest_", frozenset({"subsidy_ingest_accepted"})),
        Service("eligibility-worker", ("eligibility", "worker"), {
            **common, "ELIGIBILITY_INPUT_TOPIC": topics["events"],
            "ELIGIBILITY_OUTPUT_TOPIC": topics["entitlements"],
            "ELIGIBILITY_DEAD_LETTER_TOPIC": topics["dead_letters"],
            "ELIGIBILITY_GROUP_ID": f"test-metrics-eligibility-{tag}",
            "ELIGIBILITY_METRICS_PORT": str(ports["eligibility-worker"])},
            metrics("eligibility-worker"), "subsidy_eligibility_",
            frozenset({"subsidy_eligibility_events_consumed"})),
        Service("eligibility-api", ("eligibility", "serve"), {
            **common, "ELIGIBILITY_GRPC_ADDRESS": grpc(), **tls,
            "ELIGIBILITY_METRICS_PORT": str(ports["eligibility-api"])},
            metrics("eligibility-api"), None),
        Service("ledger-worker", ("ledger", "worker"), {
            **ledger, "LEDGER_METRICS_PORT": str(ports["ledger-worker"])},
            metrics("ledger-worker"), "subsidy_ledger_",
            frozenset({"subsidy_ledger_decisions", "subsidy_ledger_inbox"}),
            frozenset(LEDGER_API | LEDGER_RELAY)),
        Service("ledger-relay", ("ledger", "relay"), {
            **ledger, **db("ledger_relay"), "LEDGER_SIGNING_KEY_FILE": str(private_key),
            "LEDGER_ANCHOR_FILE": str(files / "anchors.jsonl"),
            "LEDGER_ANCHOR_TOPIC": topics["anchors"],
            "LEDGER_METRICS_PORT": str(ports["ledger-relay"])},
            metrics("ledger-relay"), "subsidy_ledger_", frozenset(LEDGER_RELAY)),
        Service("ledger-api", ("ledger", "serve"), {
            **common, "LEDGER_API_DATABASE_URL": as_role(url, "ledger_api"),
            "LEDGER_API_AUDITOR_TOKENS": json.dumps(
                {"test-auditor": {"tokens": [secrets.token_urlsafe(24)]}}),
            "LEDGER_API_GRPC_ADDRESS": grpc(), **tls,
            "LEDGER_API_METRICS_PORT": str(ports["ledger-api"])},
            # It also serves the bureau's workbench, whose open and overdue cases it counts.
            metrics("ledger-api"), ("subsidy_ledger_", "subsidy_workbench_"),
            frozenset({*LEDGER_API, "subsidy_workbench_cases"})),
        Service("notifier-worker", ("notify", "worker"), {
            **common, **db("notifier_worker"), "NOTIFIER_TOPIC": topics["decisions"],
            "NOTIFIER_GROUP_ID": f"test-metrics-notifier-{tag}",
            "NOTIFIER_APPEALS_TOPIC": topics["appeals"],
            "NOTIFIER_LEDGER_PUBLIC_KEY_FILE": str(public_key),
            "NOTIFIER_METRICS_PORT": str(ports["notifier-worker"])},
            metrics("notifier-worker"), "subsidy_notifier_",
            frozenset({"subsidy_notifier_sent", "subsidy_notifier_in_flight"})),
        Service("notifier-admin", ("notify", "serve"), {
            **common, **db("notifier_worker"), "NOTIFIER_ADMIN_TOKEN": secrets.token_urlsafe(24),
            "NOTIFIER_GRPC_ADDRESS": grpc(), **tls,
            "NOTIFIER_METRICS_PORT": str(ports["notifier-admin"])},
            metrics("notifier-admin"), None),
        # The dashboard serves /metrics on its own web port.
        Service("dashboard", ("dashboard", "serve"), {
            **common, **db("dashboard"), "DASHBOARD_PORT": str(ports["dashboard"])},
            metrics("dashboard"), "subsidy_dashboard_",
            frozenset({"subsidy_dashboard_last_poll_timestamp_seconds"})),
    ]  # fmt: skip


@contextmanager
def _running(services: list[Service], logs: Path) -> Iterator[dict[str, "subprocess.Popen[bytes]"]]:
    """Every service started at once, and all stopped (SIGTERM) at once at the end."""
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for s in services:
            # TMPDIR: faust's (empty) data directory goes under this test's temporary directory.
            env = {**os.environ, **s.env, "TMPDIR": str(logs)}
            with (logs / f"{s.name}.log").open("ab") as out:
                procs[s.name] = subprocess.Popen(
                    [str(SUBSIDY), *s.args], env=env, stdout=out, stderr=subprocess.STDOUT
                )
        yield procs
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _scrape(
    service: Service, proc: "subprocess.Popen[bytes]", log: Path, deadline: float
) -> set[str]:
    """The metric family names the service's endpoint serves, once it answers (a counter's
    or histogram's `_created` series, which the text format shows as a family of its own,
    counted as the metric's)."""
    while True:
        try:
            with urllib.request.urlopen(service.metrics_url, timeout=5) as response:
                text = response.read().decode()
            families = text_string_to_metric_families(text)
            return {family.name.removesuffix("_created") for family in families}
        except OSError:
            tail = log.read_text(errors="replace")[-3000:]
            assert proc.poll() is None, f"{service.name} exited ({proc.returncode}):\n{tail}"
            assert time.monotonic() < deadline, f"{service.name}: no /metrics:\n{tail}"
            time.sleep(0.2)


def test_each_service_serves_only_its_own_metrics(
    kafka_bootstrap: str, platform_url: str, tmp_path: Path, grpc_tls: GrpcTls
) -> None:
    tag = uuid.uuid4().hex[:12]
    topics = {name: f"test.metrics.{name}.{tag}"
              for name in ("events", "entitlements", "decisions", "dead_letters",
                           "anchors", "appeals")}  # fmt: skip
    services = _services(kafka_bootstrap, platform_url, topics, tmp_path, grpc_tls.env())
    with (
        private_topics(kafka_bootstrap, dict.fromkeys(topics.values(), 1)),
        _running(services, tmp_path) as procs,
    ):
        deadline = time.monotonic() + START_WITHIN_S
        served = {
            s.name: _scrape(s, procs[s.name], tmp_path / f"{s.name}.log", deadline)
            for s in services
        }

    problems: list[str] = []
    for s in services:
        families = served[s.name]
        own = {f for f in families if not f.startswith(PROCESS_PREFIXES)}
        foreign = sorted(f for f in own if s.prefix is None or not f.startswith(s.prefix))
        if foreign:
            problems.append(f"{s.name} exports others' families: {foreign}")
        if missing := sorted(s.required - own):
            problems.append(f"{s.name} lacks its own families: {missing}")
        if extra := sorted(s.forbidden & own):
            problems.append(f"{s.name} exports another process's families: {extra}")
        if not {"process_resident_memory_bytes", "python_info"} <= families:
            problems.append(f"{s.name} lacks the process and platform collectors")
    assert problems == []
    # The relay exports exactly its own counter, not the query API's chain or backlog gauges.
    assert {f for f in served["ledger-relay"] if f.startswith("subsidy_")} == LEDGER_RELAY
    # Only the query API, which verifies the chains, says whether they are intact.
    assert [n for n, f in served.items() if "subsidy_ledger_chain_ok" in f] == ["ledger-api"]
