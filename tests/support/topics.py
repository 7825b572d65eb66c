"""Private Kafka topics for one test: created before, deleted after (whatever exists then)."""

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from kafka.admin import KafkaAdminClient

from tests.support.kafka import client_options


def create_topics(bootstrap: str, partitions: Mapping[str, int]) -> None:
    """Create topics (name → partitions), replication 1, and wait until they are known."""
    admin = KafkaAdminClient(**client_options(bootstrap), request_timeout_ms=30_000)
    try:
        admin.create_topics(
            {n: {"num_partitions": p, "replication_factor": 1} for n, p in partitions.items()},
            timeout_ms=30_000,
            wait_for_metadata=True,
        )
    finally:
        admin.close()


def delete_topics(bootstrap: str, names: list[str]) -> None:
    """Delete those of the topics that exist (a test may have created only some)."""
    admin = KafkaAdminClient(**client_options(bootstrap), request_timeout_ms=30_000)
    try:
        doomed = [n for n in names if n in set(admin.list_topics())]
        if doomed:
            admin.delete_topics(doomed, timeout_ms=30_000)
    finally:
        admin.close()


@contextmanager
def private_topics(bootstrap: str, partitions: Mapping[str, int]) -> Iterator[list[str]]:
    """The topics exist inside the block and are gone after it."""
    create_topics(bootstrap, partitions)
    try:
        yield list(partitions)
    finally:
        delete_topics(bootstrap, list(partitions))
