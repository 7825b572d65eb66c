"""The suite's Kafka login (the local admin's, or the environment's) for clients tests make."""

from dataclasses import replace
from typing import Any

from subsidy.devstack.endpoints import kafka_connection
from subsidy.infra.kafka_client import KafkaConnection


def connection(bootstrap: str) -> KafkaConnection:
    """The suite's login at bootstrap."""
    return replace(kafka_connection(), bootstrap=bootstrap)


def client_options(bootstrap: str) -> dict[str, Any]:
    """Keyword arguments for an aiokafka or kafka-python client of the suite's."""
    return connection(bootstrap).options()
