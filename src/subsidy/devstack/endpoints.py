"""Where Kafka and PostgreSQL are: the environment's if set, else the local devstack's."""

import os

KAFKA_HOST = "127.0.0.1"
KAFKA_PORT = 19092
KAFKA_CONTROLLER_PORT = 19093
POSTGRES_HOST = "127.0.0.1"
POSTGRES_PORT = 55432
POSTGRES_DB = "subsidy"
POSTGRES_ROLE = "subsidy"

LOCAL_KAFKA_BOOTSTRAP = f"{KAFKA_HOST}:{KAFKA_PORT}"
LOCAL_DATABASE_URL = f"postgresql://{POSTGRES_ROLE}@{POSTGRES_HOST}:{POSTGRES_PORT}/{POSTGRES_DB}"


def external_kafka() -> str | None:
    """The KAFKA_BOOTSTRAP the environment names, or None when the devstack runs Kafka."""
    return os.environ.get("KAFKA_BOOTSTRAP") or None


def external_database() -> str | None:
    """The DATABASE_URL the environment names, or None when the devstack runs PostgreSQL."""
    return os.environ.get("DATABASE_URL") or None


def kafka_bootstrap() -> str:
    """Kafka bootstrap servers: $KAFKA_BOOTSTRAP if set, else the local broker."""
    return external_kafka() or LOCAL_KAFKA_BOOTSTRAP


def database_url() -> str:
    """PostgreSQL URL: $DATABASE_URL if set, else the local server's `subsidy` database."""
    return external_database() or LOCAL_DATABASE_URL
