"""Adapters to the outside world: Kafka, PostgreSQL, settings, logging, metrics."""
