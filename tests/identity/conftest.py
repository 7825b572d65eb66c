"""Fixtures of the identity tests: the identity tables migrated into a schema of their own."""

from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import pytest

from subsidy.harness.databases import create_schema
from subsidy.identity.store import migrate_identity
from tests.ledger.database import as_role


@dataclass(frozen=True)
class IdentityDb:
    """One test's identity tables: the owner's URL (who migrated them: the threat model's
    hostile owner) and the URL of any service login on the same schema."""

    owner_url: str

    def login(self, role: str) -> str:
        return as_role(self.owner_url, role)


@pytest.fixture
async def identity_db(fresh_database_url: str) -> IdentityDb:
    _, url = await create_schema(fresh_database_url, "identity")
    conn = await asyncpg.connect(url)
    try:
        await migrate_identity(conn)
    finally:
        await conn.close()
    return IdentityDb(url)


@pytest.fixture
async def owner(identity_db: IdentityDb) -> AsyncIterator[asyncpg.Connection]:
    """A connection as the owner."""
    conn = await asyncpg.connect(identity_db.owner_url)
    yield conn
    await conn.close()
