"""The payouts' PostgreSQL fixture: a schema with every component migrated."""

import pytest

from subsidy.harness.databases import create_schema, migrate_platform
from tests.ledger.database import as_role


@pytest.fixture
async def payouts_schema(fresh_database_url: str) -> tuple[str, str]:
    """A schema with every component migrated: (owner's URL, payouts login's URL)."""
    _, url = await create_schema(fresh_database_url, "payouts")
    await migrate_platform(url)
    return url, as_role(url, "payouts")
