"""The ledger's schema: its migrations, applied by the shared migrator."""

import asyncpg

from subsidy.infra.db_roles import LEDGER_TABLES, RoleNeeds
from subsidy.infra.migrate import migrate

COMPONENT = "ledger"
MIGRATIONS = "subsidy.ledger.migrations"
# The worker and the relay: members of subsidy_ledger_writer (migration 0006).
WRITER = RoleNeeds("ledger", COMPONENT, MIGRATIONS, LEDGER_TABLES)


async def migrate_ledger(conn: asyncpg.Connection) -> list[str]:
    """Apply the ledger's pending migrations; returns the files applied."""
    return await migrate(conn, COMPONENT, MIGRATIONS)
