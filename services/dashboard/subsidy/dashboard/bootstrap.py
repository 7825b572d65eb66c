"""The dashboard's composition root: the page and its ledger watcher started from the settings
and the policy, and stopped."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from subsidy.dashboard.server import RunningDashboard, start_dashboard
from subsidy.dashboard.settings import DashboardSettings
from subsidy.domain.catalog import Catalog


@asynccontextmanager
async def dashboard(
    settings: DashboardSettings, catalog: Catalog
) -> AsyncIterator[RunningDashboard]:
    """The dashboard listening and watching the ledger; on leaving, every stream ends."""
    running = await start_dashboard(settings, catalog)
    try:
        yield running
    finally:
        await running.stop()
