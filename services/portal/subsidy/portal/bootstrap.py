"""The portal's composition root, started from the settings and stopped."""

# Its database pool, its gRPC channels to the services it relays, its own services and the HTTP
# server.

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
import grpc
import uvicorn

from subsidy.api.v1 import (
    api_connect,
    api_pb2,
    portal_connect,
    portal_pb2,
    workbench_connect,
    workbench_pb2,
)
from subsidy.domain.catalog import Catalog
from subsidy.identity.sessions import SessionGate
from subsidy.infra.grpc_tls import PLAINTEXT, ClientTls, aio_channel
from subsidy.portal.app import PortalApp
from subsidy.portal.catalog_service import CatalogService
from subsidy.portal.identity_service import IdentityService
from subsidy.portal.limits import MAX_BODY
from subsidy.portal.openapi import document
from subsidy.portal.relay import relayed
from subsidy.portal.settings import PortalSettings
from subsidy.portal.site import site_facts

# Callable without a token: the policy is public, and a session starts from a credential.
PUBLIC = frozenset(
    {
        "subsidy.api.v1.IdentityService/CreateSession",
        "subsidy.api.v1.CatalogService/ListRules",
        "subsidy.api.v1.CatalogService/ListVersions",
    }
)


@dataclass(frozen=True, slots=True)
class RunningPortal:
    """A portal serving: its base URL."""

    url: str


def _bind(settings: PortalSettings) -> socket.socket:
    """The listening socket, bound before serving so that port 0 gives a known port."""
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((settings.host, settings.port))
    return sock


def _relayed(ledger: grpc.aio.Channel, ingest: grpc.aio.Channel) -> list[tuple[Any, Any, Any]]:
    """The gRPC services the portal relays, each with its generated application and the
    channel to the server that implements it."""
    api = api_pb2.DESCRIPTOR.services_by_name
    workbench = workbench_pb2.DESCRIPTOR.services_by_name["WorkbenchService"]
    return [
        (api["LedgerService"], api_connect.LedgerServiceASGIApplication, ledger),
        (api["IngestService"], api_connect.IngestServiceASGIApplication, ingest),
        (workbench, workbench_connect.WorkbenchServiceASGIApplication, ledger),
    ]


def build_app(
    settings: PortalSettings, catalog: Catalog, pool: asyncpg.Pool, relayed_to: list[Any]
) -> PortalApp:
    """The portal's application: the relayed services, its own, the document and the site."""
    key = settings.private_key()
    gate = SessionGate(key.public_key(), pool)
    own = portal_pb2.DESCRIPTOR.services_by_name
    # Bodies are bounded before they are read (subsidy.portal.limits) and never decompressed:
    # a small gzip body can expand to gigabytes.
    bounded: dict[str, Any] = {"read_max_bytes": MAX_BODY, "compressions": ()}
    apps = [
        application(relayed(service, channel), **bounded)
        for service, application, channel in relayed_to
    ]
    apps += [
        portal_connect.IdentityServiceASGIApplication(
            IdentityService(pool, key, settings.session_ttl_s, gate), **bounded
        ),
        portal_connect.CatalogServiceASGIApplication(CatalogService(catalog), **bounded),
    ]
    described = [service for service, _, _ in relayed_to]
    described += [own["IdentityService"], own["CatalogService"]]
    return PortalApp(apps, document(described, PUBLIC), site_facts(settings.event_source))


@asynccontextmanager
async def portal(settings: PortalSettings, catalog: Catalog) -> AsyncIterator[RunningPortal]:
    """The portal listening until the block ends; then the server, channels and pool close."""
    transport = PLAINTEXT if settings.grpc_plaintext else ClientTls(settings.grpc_ca)
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=4)
    ledger = aio_channel(settings.ledger_api, transport)
    ingest = aio_channel(settings.ingest_api, transport)
    try:
        app = build_app(settings, catalog, pool, _relayed(ledger, ingest))
        async with serving(settings, app) as url:
            yield RunningPortal(url)
    finally:
        await ledger.close()
        await ingest.close()
        await pool.close()


@asynccontextmanager
async def serving(settings: PortalSettings, app: PortalApp) -> AsyncIterator[str]:
    """uvicorn serving `app` in this event loop until the block ends; the base URL."""

    sock = _bind(settings)
    config = uvicorn.Config(
        app,
        lifespan="off",  # the composition root above is the lifespan
        log_config=None,
        access_log=False,
        ssl_certfile=settings.tls_cert,
        ssl_keyfile=settings.tls_key,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()  # serving failed: say why
        await asyncio.sleep(0.02)
    host, port = sock.getsockname()[:2]
    scheme = "http" if settings.plaintext else "https"
    try:
        yield f"{scheme}://{host}:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()
