"""The platform behind the portal for its tests."""

# A fed ledger with people's credentials in a schema of its own, the ledger API and the ingest API
# accepting sessions, and the portal relaying them over HTTP/JSON — every part real, on free ports.

import json
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from subsidy.harness.databases import create_schema, migrate_platform
from subsidy.identity import store
from subsidy.identity.principal import Role
from subsidy.identity.sessions import key_pair_pem
from subsidy.ingest.bootstrap import ingest_server
from subsidy.ingest.settings import IngestSettings
from subsidy.ledger.bootstrap import ledger_api
from subsidy.portal.bootstrap import portal
from subsidy.portal.settings import PortalSettings
from tests.ingest.server import writers
from tests.ledger import payments_seed
from tests.ledger.api import REVOKED, TOP_UP, api_settings, feed, known_events
from tests.ledger.database import as_role
from tests.ledger.events import CATALOG
from tests.support.grpc_tls import GrpcTls

OTHER_ENTERPRISE = REVOKED
# Who signs in, by the name they are issued under: role, and the enterprise or bureau.
PEOPLE: dict[str, tuple[Role, str | None, str | None]] = {
    "ent-own": (Role.ENTERPRISE, TOP_UP, None),
    "ent-other": (Role.ENTERPRISE, OTHER_ENTERPRISE, None),
    "reviewer-kj": (Role.REVIEWER, None, "市科技局"),
    "reviewer-sw": (Role.REVIEWER, None, "市商务局"),
    "approver-kj": (Role.APPROVER, None, "市科技局"),
    "auditor-zhao": (Role.AUDITOR, None, None),
    "admin-qian": (Role.ADMIN, None, None),
}


@dataclass
class PortalStack:
    """The running portal, the owner's URL of its schema, and each person's credential."""

    url: str
    owner_url: str
    credentials: dict[str, str]
    credential_ids: dict[str, str]
    private_pem: str
    sessions: dict[str, str] = field(default_factory=dict)

    async def call(
        self, service: str, method: str, body: dict[str, Any], token: str | None = None
    ) -> tuple[int, dict[str, Any]]:
        """One Connect unary call with JSON: the HTTP status and the body."""
        headers = {"content-type": "application/json"}
        if token is not None:
            headers["authorization"] = f"Bearer {token}"
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"{self.url}/subsidy.api.v1.{service}/{method}", json=body, headers=headers
            ) as response,
        ):
            return response.status, json.loads(await response.text() or "{}")

    async def credential(self, name: str, role: Role, **binding: Any) -> str:
        """A credential for one more person (issued once, as the admin would)."""
        if name not in self.credentials:
            conn = await asyncpg.connect(self.owner_url)
            try:
                issued = await store.issue(conn, name, role, actor="test-admin", **binding)
            finally:
                await conn.close()
            self.credentials[name] = issued.secret
        return self.credentials[name]

    async def session(self, name: str) -> str:
        """A session token for the person issued under `name` (made once)."""
        if name not in self.sessions:
            status, body = await self.call(
                "IdentityService", "CreateSession", {"credential": self.credentials[name]}
            )
            assert status == 200, body
            self.sessions[name] = body["token"]
        return self.sessions[name]


async def _issue_people(owner_url: str) -> tuple[dict[str, str], dict[str, str]]:
    conn = await asyncpg.connect(owner_url)
    try:
        secrets, ids = {}, {}
        for name, (role, enterprise, bureau) in PEOPLE.items():
            issued = await store.issue(
                conn, name, role, enterprise_id=enterprise, bureau=bureau, actor="test-admin"
            )
            secrets[name], ids[name] = issued.secret, issued.credential_id
        return secrets, ids
    finally:
        await conn.close()


@asynccontextmanager
async def portal_stack(
    database_url: str, kafka_bootstrap: str, topic: str, tls: GrpcTls
) -> AsyncIterator[PortalStack]:
    """Everything above started; stopped in reverse order."""
    _, owner = await create_schema(database_url, "portal")
    await migrate_platform(owner)  # every component: the ledger, ingest, identity, …
    # Three enterprises whose payouts ran (orders paid, returned, on notice, held, …), before
    # the others, whose decisions the payouts have not taken in.
    with tempfile.TemporaryDirectory() as out:
        await payments_seed.seed(owner, as_role(owner, "ledger_worker"), as_role(owner, "payouts"),
                                 Path(out))  # fmt: skip
    await feed(owner, known_events())
    credentials, ids = await _issue_people(owner)
    private, public = key_pair_pem()
    reader = as_role(owner, "ledger_api")
    ingest_settings = IngestSettings.model_validate({
        "kafka_bootstrap": kafka_bootstrap, "database_url": as_role(owner, "ingest_server"),
        "topic": topic, "credentials": writers(), "grpc_address": "127.0.0.1:0",
        "session_public_key": public, **tls.env(),
    })  # fmt: skip
    ledger_settings = api_settings(reader, tls, SESSION_PUBLIC_KEY=public)
    async with (
        ledger_api(ledger_settings, CATALOG, grace=1.0) as api,
        ingest_server(ingest_settings, grace=1.0) as ingest,
    ):
        settings = PortalSettings.model_validate({
            "host": "127.0.0.1", "port": 0, "plaintext": True,
            "ledger_api": f"127.0.0.1:{api.port}", "ingest_api": f"127.0.0.1:{ingest.port}",
            "grpc_ca": str(tls.ca), "database_url": as_role(owner, "portal"),
            "session_private_key": private,
        })  # fmt: skip
        async with portal(settings, CATALOG) as running:
            yield PortalStack(running.url, owner, credentials, ids, private)
