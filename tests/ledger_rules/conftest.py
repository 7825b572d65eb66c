"""Every ledger-rule test runs twice."""

# On the in-memory ledger (`[memory]`, pure) and through the ledger service's PostgreSQL path
# (`[postgres]`, which fails when PostgreSQL is down).

import pytest

from tests.ledger_rules.backends import Backend, MemoryBackend, PostgresBackend


@pytest.fixture(params=["memory", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> Backend:
    """The ledger the test decides its events with (each PostgreSQL run takes a schema of the
    session's fresh database)."""
    if request.param == "memory":
        return MemoryBackend()
    return PostgresBackend(request.getfixturevalue("fresh_database_url"))
