"""The Prometheus endpoint every service exposes: its own metrics and its process's."""

from wsgiref.simple_server import WSGIServer

import prometheus_client
from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.registry import Collector


def service_registry(*own: Collector) -> CollectorRegistry:
    """What one service serves: its own collectors (its metrics module's registry) and the
    process, platform and garbage-collector collectors (`process_*`, `python_*`).

    Not the default registry: the `subsidy` command imports every component, so a process
    serving that one exported every other component's metrics at 0 (the query API's
    `subsidy_ledger_chain_ok` read as a broken chain on every other target)."""
    # auto_describe: a component registering a name another collector already has fails here,
    # at start, rather than serving the name twice.
    registry = CollectorRegistry(auto_describe=True)
    for make in (ProcessCollector, PlatformCollector, GCCollector):
        make(registry=registry)
    for collector in own:
        registry.register(collector)
    return registry


def start_metrics_server(
    port: int, address: str = "127.0.0.1", *own: Collector
) -> WSGIServer | None:
    """Serve /metrics on address:port (port 0 = disabled) from service_registry(*own); the
    server, to shut down, or None."""
    if not port:
        return None
    server, _ = prometheus_client.start_http_server(
        port, addr=address, registry=service_registry(*own)
    )
    return server
