"""SessionGate on PostgreSQL."""

# A session lets its principal in while its credential is active; a revocation ends it within
# recheck_s, read as a service login.

import asyncio

import asyncpg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from subsidy.identity import store
from subsidy.identity.sessions import SessionGate, SessionRejected, issue_session
from tests.identity.conftest import IdentityDb

KEY = Ed25519PrivateKey.generate()


async def test_a_revoked_credential_ends_its_sessions_within_the_recheck(
    identity_db: IdentityDb, owner: asyncpg.Connection
) -> None:
    issued = await store.issue(owner, "reviewer-wang", "reviewer", bureau="市工信局", actor="a")
    principal = await store.authenticate(owner, issued.secret)
    token = issue_session(principal, KEY)
    pool = await asyncpg.create_pool(identity_db.login("ingest_server"), min_size=1, max_size=2)
    try:
        gate = SessionGate(KEY.public_key(), pool, recheck_s=0.5)
        assert await gate.principal_of(token) == principal
        await store.revoke(owner, issued.credential_id, "a", "left")
        assert await gate.principal_of(token) == principal  # within recheck_s: cached
        await asyncio.sleep(0.6)
        with pytest.raises(SessionRejected) as revoked:
            await gate.principal_of(token)
        assert revoked.value.reason == "revoked"
        # A session naming a credential of another principal, or none, lets no one in.
        other = await store.issue(owner, "reviewer-li", "reviewer", bureau="市工信局", actor="a")
        borrowed = issue_session(
            type(principal)(principal.name, principal.role, None, principal.bureau,
                            other.credential_id), KEY)  # fmt: skip
        with pytest.raises(SessionRejected) as foreign:
            await gate.principal_of(borrowed)
        assert foreign.value.reason == "revoked"
        with pytest.raises(SessionRejected) as wrong_key:
            await SessionGate(Ed25519PrivateKey.generate().public_key(), pool).principal_of(token)
        assert wrong_key.value.reason == "invalid"
    finally:
        await pool.close()
