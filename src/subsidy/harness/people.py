"""The people of one run: session keys, the portal, credentials issued in the run's database."""

# The portal's session keys, the portal as a service, and credentials for an enterprise, two
# reviewers and an approver of one bureau and an auditor, issued in the run's database so that a
# person can sign in to the pages the main job leaves running.

from collections.abc import Mapping
from dataclasses import dataclass

import asyncpg

from subsidy.harness.processes import ServiceSpec
from subsidy.identity import store
from subsidy.identity.principal import Role
from subsidy.identity.sessions import key_pair_pem

PORTAL_PORT = 8090
# The bureau whose people the run signs in: it is responsible for most rules (docs/rules.md).
BUREAU = "市工信局"
ACTOR = "main-job"


@dataclass(frozen=True, slots=True)
class SessionKeys:
    """The portal's signing key and its public half, which the gRPC services check with."""

    private_pem: str
    public_pem: str

    @classmethod
    def make(cls) -> "SessionKeys":
        private, public = key_pair_pem()
        return cls(private, public)


@dataclass(frozen=True, slots=True)
class Person:
    """Someone who may sign in: the principal's name, role, binding and credential."""

    name: str
    role: Role
    binding: str  # the enterprise's 统一社会信用代码 or the bureau; empty for an auditor
    secret: str


def portal_spec(
    port: int,
    keys: SessionKeys,
    common: Mapping[str, str],
    database_url: str,
    grpc: Mapping[str, str],
) -> ServiceSpec:
    """The portal on the loopback (plain HTTP there: the local pages need no certificate), as
    its own database login, relaying to the run's gRPC servers (`grpc`: ledger_api, ingest,
    ca) over TLS."""
    return ServiceSpec("portal", ("portal", "serve"), {
        **common, "PORTAL_PORT": str(port), "PORTAL_PLAINTEXT": "true",
        "PORTAL_DATABASE_URL": database_url,
        "PORTAL_LEDGER_API": grpc["ledger_api"], "PORTAL_INGEST_API": grpc["ingest"],
        "PORTAL_GRPC_CA": grpc["ca"], "PORTAL_SESSION_PRIVATE_KEY": keys.private_pem,
    }, health_url=f"http://127.0.0.1:{port}/healthz")  # fmt: skip


async def _appellant(conn: asyncpg.Connection) -> str:
    """An enterprise with a denial to appeal and a payment to follow, if the run has one."""
    found: str | None = await conn.fetchval(
        """SELECT enterprise_id FROM entitlements
           GROUP BY enterprise_id
           ORDER BY bool_or(status = 'DENIED') DESC, bool_or(status = 'PAID') DESC, enterprise_id
           LIMIT 1"""
    )
    if found is None:
        raise LookupError("the run decided no entitlement: no enterprise to sign in as")
    return found


async def issue_people(owner_url: str) -> list[Person]:
    """Credentials for the run's people, issued as the database's owner (the admin's part)."""
    conn = await asyncpg.connect(owner_url)
    try:
        enterprise = await _appellant(conn)
        wanted = [
            ("enterprise-demo", Role.ENTERPRISE, enterprise),
            ("reviewer-gxj-1", Role.REVIEWER, BUREAU),
            ("reviewer-gxj-2", Role.REVIEWER, BUREAU),
            ("approver-gxj", Role.APPROVER, BUREAU),
            ("auditor-demo", Role.AUDITOR, ""),
        ]
        people = []
        for name, role, binding in wanted:
            issued = await store.issue(
                conn, name, role,
                enterprise_id=binding if role is Role.ENTERPRISE else None,
                bureau=binding if role in (Role.REVIEWER, Role.APPROVER) else None,
                actor=ACTOR, ttl_days=7,
            )  # fmt: skip
            people.append(Person(name, role, binding, issued.secret))
        return people
    finally:
        await conn.close()
