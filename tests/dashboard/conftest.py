"""Fixtures of the dashboard tests."""

# A schema with every component migrated (ledger, ingest, notifier, payouts), as the platform runs
# them.

import pytest

from subsidy.harness.databases import create_schema, migrate_platform


@pytest.fixture
async def payouts_schema(fresh_database_url: str) -> str:
    """The owner's URL of a new schema of the session's database with every component
    migrated: the tests write payouts rows as the owner, the dashboard reads as its login."""
    _, url = await create_schema(fresh_database_url, "dashpay")
    await migrate_platform(url)
    return url
