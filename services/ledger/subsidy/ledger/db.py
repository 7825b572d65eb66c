"""The ledger's schema: its migrations, applied by the shared migrator."""

import asyncpg

from subsidy.infra.db_roles import JOURNAL_TABLES, LEDGER_TABLES, RoleNeeds
from subsidy.infra.migrate import migrate

COMPONENT = "ledger"
MIGRATIONS = "subsidy.ledger.migrations"
# The worker and the relay: members of subsidy_ledger_writer (migration 0006). Every revision
# of a corrected event stays as taken (0009_corrections).
WRITER = RoleNeeds(
    "ledger", COMPONENT, MIGRATIONS, LEDGER_TABLES,
    append_only=(*JOURNAL_TABLES, "event_revisions"),
)  # fmt: skip


async def migrate_ledger(conn: asyncpg.Connection) -> list[str]:
    """Apply the ledger's pending migrations; returns the files applied."""
    return await migrate(conn, COMPONENT, MIGRATIONS)
