"""The eligibility service's composition root: the faust worker and the gRPC dry run."""

# Both are built from their settings and the policy.
#
# The dry run takes the shape of every other component (an async context manager: started on
# entering, stopped on leaving). The faust worker cannot: mode's Worker owns the event loop, its own
# signal handlers and the process's exit, and is started by `execute_from_commandline`, which
# returns only by exiting. What runs inside it does take that shape: the agent's producer and
# publishing window (`worker.publishing`).

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import grpc
import structlog

from subsidy.domain.catalog import Catalog
from subsidy.eligibility.grpc_service import registration
from subsidy.eligibility.settings import EligibilitySettings
from subsidy.infra.grpc_server import start_server
from subsidy.infra.grpc_tls import ServerTransport

if TYPE_CHECKING:
    from subsidy.eligibility.worker import DeadlineWorker

log = structlog.get_logger(__name__)


def faust_worker(settings: EligibilitySettings, catalog: Catalog) -> "DeadlineWorker":
    """The faust worker of the app, with the shutdown deadline of the settings."""
    # Imported here: faust is slow to import, and only the worker needs it.
    from subsidy.eligibility.worker import DeadlineWorker, create_app

    worker = DeadlineWorker(
        create_app(settings, catalog),
        loglevel=settings.log_level,
        # No banner or spinner on stdout; logging is already set up by subsidy.infra.logging
        # and faust logs through stdlib.
        quiet=True,
        redirect_stdouts=False,
        override_logging=False,
    )
    worker.shutdown_deadline = settings.shutdown_timeout
    return worker


def run_worker(settings: EligibilitySettings, catalog: Catalog) -> None:
    """Run the worker in this process until SIGTERM/SIGINT; exits the process (0 when it
    stopped cleanly)."""
    faust_worker(settings, catalog).execute_from_commandline()


@asynccontextmanager
async def dry_run_server(
    address: str, catalog: Catalog, transport: ServerTransport, grace: float | None = 5.0
) -> AsyncIterator[tuple[grpc.aio.Server, int]]:
    """EligibilityService (with health and reflection) serving on address over the transport;
    the server and its bound port. On leaving, in-flight calls get `grace` seconds (None:
    cancelled at once)."""
    server, port = await start_server([registration(catalog)], address, transport=transport)
    log.info("eligibility.grpc_serving", address=address, port=port,
             catalog_version=catalog.version)  # fmt: skip
    try:
        yield server, port
    finally:
        await server.stop(grace)
