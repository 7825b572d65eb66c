"""The ingest service's composition root: the gRPC API started from its settings and stopped."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from subsidy.ingest.server import RunningIngest, start_ingest
from subsidy.ingest.settings import IngestSettings


@asynccontextmanager
async def ingest_server(
    settings: IngestSettings, grace: float = 5.0
) -> AsyncIterator[RunningIngest]:
    """The API serving (schema migrated, producer and pool started); on leaving, in-flight
    calls get `grace` seconds, then the producer is flushed and the pool closed."""
    running = await start_ingest(settings)
    try:
        yield running
    finally:
        await running.stop(grace)
