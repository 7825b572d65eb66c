"""Local infrastructure for development and tests: a one-node Kafka and a PostgreSQL."""
