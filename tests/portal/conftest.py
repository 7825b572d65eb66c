"""Fixtures of the portal's tests: the platform behind it, started once per session."""

from collections.abc import AsyncIterator

import pytest

from tests.portal.stack import PortalStack, portal_stack
from tests.support.grpc_tls import GrpcTls


@pytest.fixture(scope="session")
async def stack(
    fresh_database_url: str, kafka_bootstrap: str, ingest_topic: str, grpc_tls: GrpcTls
) -> AsyncIterator[PortalStack]:
    """The portal over a fed ledger and a live ingest API, with people's credentials."""
    async with portal_stack(fresh_database_url, kafka_bootstrap, ingest_topic, grpc_tls) as s:
        yield s
