"""The red team's ingest server."""

# The real server with the given credentials, producing to a topic of its own.

import json
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from subsidy.ingest.bootstrap import ingest_server
from subsidy.ingest.settings import IngestSettings
from tests.ingest.server import PARTITIONS
from tests.ledger.database import as_role
from tests.support.grpc_tls import GrpcTls
from tests.support.topics import private_topics


@asynccontextmanager
async def ingest_with(
    credentials: Mapping[str, Any], database_url: str, bootstrap: str, tls: GrpcTls
) -> AsyncIterator[tuple[str, str]]:
    """The server's address and its topic while the block runs; it logs in to database_url's
    database as ingest's own role, never as the owner, and serves TLS with tls's certificate."""
    topic = f"test.redteam.{uuid.uuid4().hex}"
    settings = IngestSettings.model_validate({
        "kafka_bootstrap": bootstrap, "topic": topic,
        "database_url": as_role(database_url, "ingest_server"),
        "credentials": json.dumps(credentials), "grpc_address": "127.0.0.1:0", **tls.env(),
    })  # fmt: skip
    with private_topics(bootstrap, {topic: PARTITIONS}):
        async with ingest_server(settings, grace=1.0) as running:
            yield f"127.0.0.1:{running.port}", topic
