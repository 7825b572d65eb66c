"""The matrix tests' platform."""

# One schema with the ledger (fed a few events), ingest and identity tables, the ledger API and an
# ingest server verifying sessions, and the people.

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

import asyncpg
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from subsidy.domain.catalog import load_catalog
from subsidy.harness.databases import create_schema
from subsidy.identity import store
from subsidy.identity.principal import Principal
from subsidy.identity.sessions import issue_session
from subsidy.identity.store import migrate_identity
from subsidy.ingest.bootstrap import ingest_server
from subsidy.ingest.settings import IngestSettings
from subsidy.ingest.store import migrate_ingest
from subsidy.ledger.bootstrap import ledger_api
from subsidy.ledger.db import migrate_ledger
from tests.factories import enterprise_id
from tests.ingest.server import writers
from tests.ledger.api import TOP_UP, api_settings, feed, known_events
from tests.ledger.database import as_role
from tests.ledger.events import CATALOG
from tests.support.grpc_tls import GrpcTls

KEY = Ed25519PrivateKey.generate()
WRONG_KEY = Ed25519PrivateKey.generate()
PORTAL_SOURCE = "sz-subsidy-portal"
OTHER_ENTERPRISE = enterprise_id(900_777)
OWN_ENTITLEMENT = "api-topup-1/m03.municipal_key_lab"
BUREAU = "市工信局"
# A second machine writer, bound as the tests' writer is: another principal that shares its
# sources (a correction must still come from the original's sender).
OTHER_WRITER = "other-writer"
OTHER_WRITER_TOKEN = "other-writer-" + uuid.uuid4().hex


def _rules() -> tuple[str, str]:
    """A rule of BUREAU's, and a bureau that is not among that rule's responsible units."""
    catalog = load_catalog()
    rule = next(r for r in catalog.rules if BUREAU in r.responsible_units)
    other = next(u for r in catalog.rules for u in r.responsible_units
                 if u not in rule.responsible_units)  # fmt: skip
    return rule.id, other


BUREAU_RULE, OTHER_BUREAU = _rules()

# Each actor of the matrix: its principal's role and binding.
ACTORS: dict[str, tuple[str, dict[str, Any]]] = {
    "enterprise_own": ("enterprise", {"enterprise_id": TOP_UP}),
    "enterprise_other": ("enterprise", {"enterprise_id": OTHER_ENTERPRISE}),
    "reviewer_bureau": ("reviewer", {"bureau": BUREAU}),
    "reviewer_other_bureau": ("reviewer", {"bureau": OTHER_BUREAU}),
    "approver": ("approver", {"bureau": BUREAU}),
    "auditor": ("auditor", {}),
    "admin": ("admin", {}),
}
STATES = ("valid", "expired", "revoked", "tampered", "wrong_key")


def _public_pem() -> str:
    return (
        KEY.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@dataclass
class Platform:
    """The running ledger API and ingest server and the people's principals."""

    owner_url: str
    ledger_address: str
    ingest_address: str
    tls: GrpcTls
    active: dict[str, Principal]
    revoked: dict[str, Principal]

    def token(self, actor: str, state: str) -> str:
        """A session of `actor` in `state`."""
        principal = (self.revoked if state == "revoked" else self.active)[actor]
        if state == "expired":
            return issue_session(principal, KEY, ttl_s=60, now=time.time() - 120)
        token = issue_session(principal, WRONG_KEY if state == "wrong_key" else KEY)
        if state == "tampered":  # the claims changed under the same signature
            header, body, signature = token.split(".")
            middle = len(body) // 2
            flipped = "A" if body[middle] != "A" else "B"
            return f"{header}.{body[:middle]}{flipped}{body[middle + 1 :]}.{signature}"
        return token


async def _people(conn: asyncpg.Connection) -> tuple[dict[str, Principal], dict[str, Principal]]:
    active, revoked = {}, {}
    for actor, (role, binding) in ACTORS.items():
        name = actor.replace("_", "-")
        gone = await store.issue(conn, name, role, actor="test-admin", **binding)
        await store.revoke(conn, gone.credential_id, "test-admin", "the matrix's revoked state")
        issued = await store.issue(conn, name, role, actor="test-admin", **binding)
        active[actor] = await store.authenticate(conn, issued.secret)
        revoked[actor] = replace(active[actor], credential_id=gone.credential_id)
    return active, revoked


@asynccontextmanager
async def platform(
    database_url: str, kafka_bootstrap: str, topic: str, tls: GrpcTls
) -> AsyncIterator[Platform]:
    """Everything in one schema of its own, served with sessions verified."""
    _, owner = await create_schema(database_url, "matrix")
    conn = await asyncpg.connect(owner)
    try:
        for migrate in (migrate_ledger, migrate_ingest, migrate_identity):
            await migrate(conn)
        active, revoked = await _people(conn)
    finally:
        await conn.close()
    await feed(owner, known_events()[:5])
    key = {"SESSION_PUBLIC_KEY": _public_pem()}
    ingest = IngestSettings.model_validate({
        "kafka_bootstrap": kafka_bootstrap, "database_url": as_role(owner, "ingest_server"),
        "topic": topic, "grpc_address": "127.0.0.1:0",
        "credentials": writers() | writers(OTHER_WRITER, (OTHER_WRITER_TOKEN,)),
        "INGEST_PORTAL_SOURCE": PORTAL_SOURCE, **key, **tls.env(),
    })  # fmt: skip
    async with (
        ledger_api(api_settings(as_role(owner, "ledger_api"), tls, **key), CATALOG, 1.0) as api,
        ingest_server(ingest, grace=1.0) as running,
    ):
        yield Platform(owner, f"127.0.0.1:{api.port}", f"127.0.0.1:{running.port}", tls,
                       active, revoked)  # fmt: skip


def event_id() -> str:
    """A person's eventId, as the portal's pages make it."""
    return f"portal-{uuid.uuid4()}"
