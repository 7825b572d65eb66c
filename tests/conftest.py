"""Fixtures shared by the whole suite."""

# The running Kafka and PostgreSQL (`make up`; a test that needs one fails when it does not answer,
# never skips), a fresh database per session, and a migrated ledger with private topics per test. A
# test that takes the Kafka or PostgreSQL fixtures is marked `kafka` / `postgres`, so
# `-m "not kafka and not postgres"` runs the pure tests alone.

import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
from kafka.admin import KafkaAdminClient
from kafka.errors import KafkaError

from subsidy.devstack.endpoints import database_url as _database_url
from subsidy.devstack.endpoints import kafka_connection
from subsidy.devstack.errors import DevstackError
from subsidy.harness.databases import create_database, drop_database, migrate_platform
from subsidy.ingest.bootstrap import ingest_server
from subsidy.ingest.settings import IngestSettings
from tests.ingest.server import PARTITIONS as INGEST_PARTITIONS
from tests.ingest.server import Ingest, writers
from tests.ledger.database import LedgerDb, as_role, assert_sound, migrated_ledger_schema
from tests.ledger.topics import PARTITIONS, Topics
from tests.support.grpc_tls import GrpcTls
from tests.support.kafka import client_options
from tests.support.topics import private_topics

HINT = "run make up (or `subsidy dev up`), or set KAFKA_BOOTSTRAP / DATABASE_URL"
MARKED_BY_FIXTURE = {"kafka_bootstrap": "kafka", "database_url": "postgres"}


def pytest_configure(config: pytest.Config) -> None:
    """Log the whole suite in to Kafka as the local stack's admin (or as the environment says):
    settings the tests build and services they start inherit it; a service started as part of
    the platform (subsidy.harness) logs in as its own principal instead."""
    # No stack: the Kafka tests fail with HINT; the pure ones need no login.
    # KAFKA_BOOTSTRAP stays as it was: set, it means a broker that is not the local stack's.
    with contextlib.suppress(DevstackError):
        login = kafka_connection().env()
        os.environ.update({k: v for k, v in login.items() if k != "KAFKA_BOOTSTRAP"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that reaches the broker or the database through the fixtures."""
    for item in items:
        for fixture, marker in MARKED_BY_FIXTURE.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(marker)


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """Bootstrap servers of a Kafka that answers; fails the test when there is none."""
    try:
        bootstrap = kafka_connection().bootstrap
    except DevstackError as exc:
        pytest.fail(f"{exc}: {HINT}", pytrace=False)
    try:
        admin = KafkaAdminClient(
            **client_options(bootstrap), request_timeout_ms=5_000, bootstrap_timeout_ms=5_000
        )
        try:
            admin.list_topics()
        finally:
            admin.close()
    except (KafkaError, OSError) as exc:
        pytest.fail(f"Kafka at {bootstrap} is not reachable ({exc!r}): {HINT}", pytrace=False)
    return bootstrap


@pytest.fixture(scope="session")
async def database_url() -> str:
    """URL of a PostgreSQL that answers; fails the test when there is none."""
    url = _database_url()
    try:
        conn = await asyncpg.connect(url, timeout=5)
        await conn.close()
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        pytest.fail(f"PostgreSQL at {url} is not reachable ({exc!r}): {HINT}", pytrace=False)
    return url


@pytest.fixture(scope="session")
async def fresh_database_url(database_url: str) -> AsyncIterator[str]:
    """A new database for this test session, migrated (`subsidy db migrate`, as the owner)
    in its public schema, dropped at the end: tests never see each other's rows, nor those of
    a `make run` on the same server. The URL is the owner's; services get their own logins
    (as_role). Tests that want a schema of their own make one (create_schema)."""
    name = f"subsidy_test_{uuid.uuid4().hex[:12]}"
    url = await create_database(database_url, name)
    await migrate_platform(url)
    yield url
    await drop_database(database_url, name)


@pytest.fixture
def ledger_topics(kafka_bootstrap: str) -> Iterator[Topics]:
    """Fresh entitlements, decisions and dead-letter topics for one test."""
    tag = uuid.uuid4().hex[:12]
    topics = Topics(
        f"test.ledger.in.{tag}", f"test.ledger.decisions.{tag}", f"test.ledger.dlq.{tag}"
    )
    with private_topics(kafka_bootstrap, dict.fromkeys(topics.all, PARTITIONS)):
        yield topics


@pytest.fixture
async def ledger_db(fresh_database_url: str) -> AsyncIterator[LedgerDb]:
    """A migrated ledger in its own schema of the session's fresh database, so tests never see
    each other's rows; afterwards the invariants and every hash chain are checked (unless the
    test tampered with the ledger on purpose)."""
    schema, owner = await migrated_ledger_schema(fresh_database_url, "ledger")
    db = LedgerDb(as_role(owner, "ledger_worker"), schema, owner)
    yield db
    if not db.tampered:
        await assert_sound(db.url)


@pytest.fixture(scope="session")
def ingest_topic(kafka_bootstrap: str) -> Iterator[str]:
    """A topic of this session only, deleted afterwards."""
    name = f"test.ingest.{uuid.uuid4().hex}"
    with private_topics(kafka_bootstrap, {name: INGEST_PARTITIONS}):
        yield name


@pytest.fixture(scope="session")
def grpc_tls(tmp_path_factory: pytest.TempPathFactory) -> GrpcTls:
    """A CA of this session's own with a server and a client certificate: every gRPC server
    the tests start serves TLS with them, every client checks it against the CA."""
    return GrpcTls.make(tmp_path_factory.mktemp("grpc-tls"))


@pytest.fixture(scope="session")
async def ingest(
    fresh_database_url: str, kafka_bootstrap: str, ingest_topic: str, grpc_tls: GrpcTls
) -> AsyncIterator[Ingest]:
    """The ingest server on a free port (TLS), producing to this session's topic."""
    # model_validate, not the constructor: the environment of whoever runs the tests (say an
    # INGEST_TOPIC of a live `make run`) must not leak in.
    settings = IngestSettings.model_validate(
        {
            "kafka_bootstrap": kafka_bootstrap,
            "database_url": as_role(fresh_database_url, "ingest_server"),
            "topic": ingest_topic,
            "credentials": writers(),
            "grpc_address": "127.0.0.1:0",
            **grpc_tls.env(),
        }
    )
    async with ingest_server(settings, grace=1.0) as running:
        yield Ingest(running, f"127.0.0.1:{running.port}", ingest_topic, kafka_bootstrap,
                     fresh_database_url, grpc_tls)  # fmt: skip
