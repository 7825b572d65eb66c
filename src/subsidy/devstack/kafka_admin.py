"""Talking to Kafka as an admin: waiting until it answers, creating the platform's topics."""

import time
from collections.abc import Callable

from kafka.admin import KafkaAdminClient
from kafka.errors import KafkaError

from subsidy.devstack.errors import DevstackError
from subsidy.devstack.procs import port_open
from subsidy.infra.kafka_client import KafkaConnection
from subsidy.infra.topics import ALL_TOPICS, Topic

_TOPIC_ALREADY_EXISTS = 36  # Kafka's error code TOPIC_ALREADY_EXISTS


def _host_port(bootstrap: str) -> tuple[str, int]:
    host, _, port = bootstrap.split(",")[0].strip().rpartition(":")
    return host.strip("[]") or "localhost", int(port or 9092)


def admin_client(kafka: KafkaConnection, timeout_ms: int = 10_000) -> KafkaAdminClient:
    """An admin client that gives up after timeout_ms instead of the default 30 s."""
    return KafkaAdminClient(
        **kafka.options(),
        client_id="subsidy-devstack",
        request_timeout_ms=timeout_ms,
        bootstrap_timeout_ms=timeout_ms,
    )


def wait_ready(
    kafka: KafkaConnection, timeout_s: float, still_starting: Callable[[], bool]
) -> None:
    """Poll until an admin client lists the topics, the deadline passes, or the broker died."""
    deadline = time.monotonic() + timeout_s
    host, port = _host_port(kafka.bootstrap)
    last_error = "the port never opened"
    while time.monotonic() < deadline:
        if not still_starting():
            raise DevstackError(f"Kafka exited while starting (last error: {last_error})")
        if port_open(host, port):  # cheap check first, so a starting broker costs no client
            try:
                admin = admin_client(kafka, timeout_ms=5_000)
                try:
                    admin.list_topics()
                    return
                finally:
                    admin.close()
            except (KafkaError, OSError) as exc:
                last_error = repr(exc)
        time.sleep(0.25)
    raise DevstackError(
        f"Kafka at {kafka.bootstrap} not ready after {timeout_s:.0f}s ({last_error})"
    )


def check_reachable(kafka: KafkaConnection, timeout_s: float = 10.0) -> None:
    """Raise unless Kafka answers an admin request."""
    wait_ready(kafka, timeout_s, still_starting=lambda: True)


def ensure_topics(
    kafka: KafkaConnection, topics: tuple[Topic, ...] = ALL_TOPICS, replicas: int = 1
) -> list[str]:
    """Create the topics that are missing (`replicas` copies each: one on the devstack's
    single node); returns the names it created."""
    admin = admin_client(kafka)
    try:
        wanted = {
            t.name: {"num_partitions": t.partitions, "replication_factor": replicas} for t in topics
        }
        response = admin.create_topics(wanted, timeout_ms=30_000, raise_errors=False)
        created, failures = [], []
        for result in response["topics"]:
            code = result["error_code"]
            if code == 0:
                created.append(result["name"])
            elif code != _TOPIC_ALREADY_EXISTS:
                failures.append(f"{result['name']}: error {code} {result.get('error_message')}")
        if failures:
            raise DevstackError("creating topics failed: " + "; ".join(failures))
        if created:
            admin.wait_for_topics(created, timeout_ms=30_000)
        return created
    finally:
        admin.close()
