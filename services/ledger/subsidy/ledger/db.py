"""The ledger's schema: its migrations, applied by the shared migrator."""

import asyncpg

from subsidy.infra.migrate import migrate

COMPONENT = "ledger"
MIGRATIONS = "subsidy.ledger.migrations"


async def migrate_ledger(conn: asyncpg.Connection) -> list[str]:
    """Apply the ledger's pending migrations; returns the files applied."""
    return await migrate(conn, COMPONENT, MIGRATIONS)
