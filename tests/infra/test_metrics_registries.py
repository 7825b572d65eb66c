"""Each service serves its own registry and its process's collectors, never the default one."""

# Never the default registry's metrics of every component the `subsidy` command imports.

import socket
import urllib.request

import prometheus_client
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from subsidy.dashboard import metrics as dashboard
from subsidy.eligibility import metrics as eligibility
from subsidy.infra.metrics import service_registry, start_metrics_server
from subsidy.ingest import metrics as ingest
from subsidy.ledger import metrics as ledger
from subsidy.notifier import metrics as notifier

# The ledger API also serves the bureau's workbench and counts its cases.
LEDGER = ("subsidy_ledger_", "subsidy_workbench_")
RELAYED = {
    "subsidy_ledger_relayed_decisions",
    "subsidy_ledger_relayed_appeal_notices",
    "subsidy_ledger_anchors",
    "subsidy_ledger_anchor_pass_seconds",
    "subsidy_ledger_anchor_marks_refused",
}
REGISTRIES: dict[str | tuple[str, ...], list[CollectorRegistry]] = {
    "subsidy_ingest_": [ingest.REGISTRY],
    "subsidy_eligibility_": [eligibility.REGISTRY],
    LEDGER: [ledger.WORKER_REGISTRY, ledger.RELAY_REGISTRY, ledger.API_REGISTRY],
    "subsidy_notifier_": [notifier.REGISTRY],
    "subsidy_dashboard_": [dashboard.REGISTRY],
}


def _families(registry: CollectorRegistry) -> set[str]:
    return {family.name for family in registry.collect()}


@pytest.mark.parametrize("prefix", REGISTRIES)
def test_a_component_registry_holds_its_own_metrics_only(prefix: str | tuple[str, ...]) -> None:
    for registry in REGISTRIES[prefix]:
        families = _families(registry)
        assert families
        assert all(f.startswith(prefix) for f in families), families


def test_no_metric_is_left_in_the_default_registry() -> None:
    """A metric created without registry= would be served by no service."""
    stray = _families(prometheus_client.REGISTRY)
    assert not [f for f in stray if f.startswith("subsidy_")]


def test_the_ledger_processes_do_not_share_metrics() -> None:
    worker, relay, api = (_families(r) for r in REGISTRIES[LEDGER])
    assert len(worker) + len(relay) + len(api) == len(worker | relay | api)
    assert relay == RELAYED
    assert {"subsidy_ledger_chain_ok", "subsidy_ledger_outbox_backlog"} <= api


def test_a_service_registry_adds_the_process_collectors_only() -> None:
    served = _families(service_registry(ledger.RELAY_REGISTRY))
    others = served - RELAYED
    assert others
    assert all(f.startswith(("process_", "python_")) for f in others), others
    assert not any(f.startswith(("process_", "python_")) for f in _families(ledger.API_REGISTRY))


def test_the_endpoint_serves_the_service_registry() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = start_metrics_server(port, "127.0.0.1", notifier.REGISTRY)
    assert server is not None
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            text = response.read().decode()
    finally:
        server.shutdown()
        server.server_close()
    served = {f.name.removesuffix("_created") for f in text_string_to_metric_families(text)}
    own = {f for f in served if f.startswith("subsidy_")}
    assert own == _families(notifier.REGISTRY)
    assert {"process_resident_memory_bytes", "python_info"} <= served
    assert served - own == {f for f in served if f.startswith(("process_", "python_"))}
    assert start_metrics_server(0) is None  # port 0: no endpoint
