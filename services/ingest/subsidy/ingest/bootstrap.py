"""The ingest service's composition root: the gRPC API and the feed watcher, started, stopped."""

# Both are started from their settings.

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from subsidy.infra.db_roles import check_role
from subsidy.infra.postgres import connect
from subsidy.ingest.server import RunningIngest, start_ingest
from subsidy.ingest.settings import IngestSettings
from subsidy.ingest.store import ROLE, FeedFileStore
from subsidy.ingest.watcher import DONE, FAILED, FeedWatcher, WatchConfig, WatchError


@asynccontextmanager
async def ingest_server(
    settings: IngestSettings, grace: float = 5.0
) -> AsyncIterator[RunningIngest]:
    """The API serving (schema and role checked, producer and pool started); on leaving, in-flight
    calls get `grace` seconds, then the producer is flushed and the pool closed."""
    running = await start_ingest(settings)
    try:
        yield running
    finally:
        await running.stop(grace)


@asynccontextmanager
async def feeds_watcher(config: WatchConfig) -> AsyncIterator[FeedWatcher]:
    """A watcher on the directory (with its done/ and failed/), holding the directory's lock
    on its own connection; the lock goes with the connection."""
    directory = config.directory
    if not directory.is_dir():
        raise WatchError(f"not a directory: {directory}")
    for sub in (DONE, FAILED):
        (directory / sub).mkdir(exist_ok=True)
    conn = await connect(config.database_url)
    try:
        await check_role(conn, ROLE)
        # Two watchers on one directory would race for the same files; the lock (held for
        # this session) keeps the second out.
        if not await conn.fetchval(
            "SELECT pg_try_advisory_lock(hashtextextended($1, 0))",
            f"subsidy-feeds-watch:{directory.resolve()}",
        ):
            raise WatchError(f"another watcher is running on {directory}")
        yield FeedWatcher(config, FeedFileStore(conn))
    finally:
        await conn.close()
