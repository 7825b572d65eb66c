"""Where Kafka and PostgreSQL are: the environment's if set, else the local devstack's."""

import os
from urllib.parse import urlsplit

from subsidy.infra.kafka_client import KafkaConnection
from subsidy.infra.settings import (
    KAFKA_HOST,
    KAFKA_PORT,
    LOCAL_DATABASE_URL,
    LOCAL_KAFKA_BOOTSTRAP,
    POSTGRES_DB,
    POSTGRES_HOST,
    POSTGRES_PORT,
    POSTGRES_ROLE,
)

# The local broker's KRaft controller, beside its client port.
KAFKA_CONTROLLER_PORT = 19093

__all__ = [
    "KAFKA_CONTROLLER_PORT",
    "KAFKA_HOST",
    "KAFKA_PORT",
    "LOCAL_DATABASE_URL",
    "LOCAL_KAFKA_BOOTSTRAP",
    "POSTGRES_DB",
    "POSTGRES_HOST",
    "POSTGRES_PORT",
    "POSTGRES_ROLE",
]


def external_kafka() -> str | None:
    """The KAFKA_BOOTSTRAP the environment names, or None when it names none or the devstack's
    own broker (a shell that sourced .run/stack.env still runs the local stack)."""
    named = os.environ.get("KAFKA_BOOTSTRAP")
    return None if not named or named == LOCAL_KAFKA_BOOTSTRAP else named


def external_database() -> str | None:
    """The DATABASE_URL the environment names, or None when it names none or the devstack's own
    server (a shell that sourced .run/stack.env still runs the local stack)."""
    named = os.environ.get("DATABASE_URL")
    if not named:
        return None
    parts = urlsplit(named)
    local = parts.hostname in (POSTGRES_HOST, "localhost") and parts.port == POSTGRES_PORT
    return None if local else named


def kafka_bootstrap() -> str:
    """Kafka bootstrap servers: $KAFKA_BOOTSTRAP if set, else the local broker."""
    return external_kafka() or LOCAL_KAFKA_BOOTSTRAP


def kafka_connection() -> KafkaConnection:
    """How tools and tests reach Kafka: as the environment's KAFKA_* say when KAFKA_BOOTSTRAP
    is set, else the local broker as its admin, with the login `subsidy dev up` keeps in .run/."""
    from pydantic import ValidationError

    from subsidy.devstack import kafka_logins, paths  # they need this module's names
    from subsidy.devstack.errors import DevstackError
    from subsidy.infra.settings import CommonSettings

    if external_kafka():
        try:
            settings = CommonSettings()  # type: ignore[call-arg]  # from the environment
        except ValidationError as err:
            raise DevstackError(f"the environment's settings are refused: {err}") from None
        try:
            return settings.kafka
        except ValueError as err:
            raise DevstackError(f"KAFKA_BOOTSTRAP is set, but: {err}") from None
    local = kafka_logins.connection(paths.layout())
    if local is None:
        raise DevstackError("no Kafka login kept in .run/: run `subsidy dev up` first")
    return local


def database_url() -> str:
    """PostgreSQL URL: $DATABASE_URL if set, else the local server's `subsidy` database as
    its owner, with the password `subsidy dev up` keeps in .run/, over TLS checked against
    the local CA (sslmode=verify-full, sslrootcert=.run/tls/ca.pem)."""
    external = external_database()
    if external:
        return external
    from subsidy.devstack import db_logins, postgres_db  # they need this module's names

    password = db_logins.read_passwords().get(POSTGRES_ROLE)
    return postgres_db.local_url(POSTGRES_PORT, password)
