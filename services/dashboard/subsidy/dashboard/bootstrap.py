"""The dashboard's composition root: the page and its ledger watcher, started and stopped."""

# Both are started from the settings and the policy.

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import structlog

from subsidy.dashboard.payouts import PAYOUT_TABLES
from subsidy.dashboard.server import RunningDashboard, start_dashboard
from subsidy.dashboard.settings import DashboardSettings
from subsidy.domain.catalog import Catalog
from subsidy.infra.db_roles import LEDGER_TABLES, check_read_only

log = structlog.get_logger(__name__)


async def _check_role(settings: DashboardSettings) -> None:
    """Refuse to start as a role that owns or may write the ledger or the payouts it reads
    (DatabaseRoleError). An unreachable database is left to the watcher, which waits for it."""
    try:
        conn = await asyncpg.connect(settings.database_url, timeout=10)
    except (OSError, TimeoutError, asyncpg.PostgresError) as err:
        log.warning("dashboard.database_unreachable", error=type(err).__name__)
        return
    try:
        await check_read_only(conn, "dashboard", LEDGER_TABLES + PAYOUT_TABLES)
    finally:
        await conn.close()


@asynccontextmanager
async def dashboard(
    settings: DashboardSettings, catalog: Catalog
) -> AsyncIterator[RunningDashboard]:
    """The dashboard listening and watching the ledger, its role checked first (it must not
    own or write the ledger or the payouts); on leaving, every stream ends."""
    await _check_role(settings)
    running = await start_dashboard(settings, catalog)
    try:
        yield running
    finally:
        await running.stop()
