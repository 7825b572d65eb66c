"""Fixtures of the ingest tests: a channel to the session's ingest server."""

from collections.abc import AsyncIterator

import grpc
import pytest

from tests.ingest.server import Ingest


@pytest.fixture
async def channel(ingest: Ingest) -> AsyncIterator[grpc.aio.Channel]:
    """An async channel to the ingest server, checking its certificate against the CA."""
    async with ingest.tls.channel(ingest.address) as ch:
        yield ch
