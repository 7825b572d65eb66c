"""The Prometheus endpoint every service exposes."""

import prometheus_client


def start_metrics_server(port: int, address: str = "127.0.0.1") -> None:
    """Serve /metrics on address:port (port 0 = disabled) from the default registry."""
    if port:
        prometheus_client.start_http_server(port, addr=address)
