"""IdentityService: a credential exchanged for a short-lived session token, and who a session is."""

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import jwt
import structlog
from connectrpc.code import Code
from connectrpc.errors import ConnectError
from connectrpc.request import RequestContext
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from subsidy.api.v1 import portal_pb2 as pb
from subsidy.contract.instants import timestamp
from subsidy.domain.beijing import beijing_iso
from subsidy.identity.principal import Principal
from subsidy.identity.sessions import (
    SessionCheckUnavailable,
    SessionGate,
    SessionRejected,
    issue_session,
)
from subsidy.identity.store import CredentialRejected, authenticate
from subsidy.portal.errors import field_error

log = structlog.get_logger(__name__)


def principal_message(principal: Principal) -> pb.SessionPrincipal:
    """The principal as the API shows it."""
    return pb.SessionPrincipal(
        name=principal.name,
        role=principal.role.value,
        enterprise_id=principal.enterprise_id or "",
        bureau=principal.bureau or "",
    )


# The credential store not answering: the caller is told to try again, never where the
# database is (the details are logged).
STORE_DOWN = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError)


def unavailable(err: BaseException) -> ConnectError:
    """UNAVAILABLE with a fixed message; what went wrong is logged, not answered."""
    log.error("portal.credential_store_unavailable", error=repr(err))
    return ConnectError(Code.UNAVAILABLE, "sign-in is unavailable for a moment: try again")


def bearer(ctx: RequestContext[Any, Any]) -> str:
    """The caller's bearer token, or UNAUTHENTICATED."""
    scheme, _, token = ctx.request_headers().get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ConnectError(Code.UNAUTHENTICATED, "a session token is required (Bearer)")
    return token.strip()


class IdentityService:
    """Sessions signed with the portal's key; the credentials are read from the database."""

    def __init__(
        self, pool: asyncpg.Pool, key: Ed25519PrivateKey, ttl_s: int, gate: SessionGate
    ) -> None:
        self._pool = pool
        self._key = key
        self._ttl_s = ttl_s
        self._gate = gate

    async def create_session(
        self, request: pb.CreateSessionRequest, ctx: RequestContext[Any, Any]
    ) -> pb.CreateSessionResponse:
        """A session for the holder of an active credential; UNAUTHENTICATED otherwise (the
        reason is logged, never the credential)."""
        if not request.credential.strip():
            raise field_error("credential", "the credential issued to you is required")
        try:
            async with self._pool.acquire() as conn:
                principal = await authenticate(conn, request.credential.strip())
        except CredentialRejected as err:
            log.warning("portal.session_refused", reason=err.reason)
            raise ConnectError(Code.UNAUTHENTICATED, "this credential is not valid") from None
        except STORE_DOWN as err:
            raise unavailable(err) from None
        now = datetime.now(UTC)
        token = issue_session(principal, self._key, ttl_s=self._ttl_s, now=now.timestamp())
        log.info("portal.session", principal=principal.name, role=principal.role.value)
        # The token's `exp` is whole seconds; the response says that instant, in both fields
        # (the deprecated string until v2.0.0).
        expires = (now + timedelta(seconds=self._ttl_s)).replace(microsecond=0)
        return pb.CreateSessionResponse(
            token=token,
            expires_at=beijing_iso(expires),
            expire_time=timestamp(expires),
            principal=principal_message(principal),
        )

    async def who_am_i(
        self, request: pb.WhoAmIRequest, ctx: RequestContext[Any, Any]
    ) -> pb.WhoAmIResponse:
        """The session's principal; UNAUTHENTICATED with the reason (expired, revoked,
        invalid) for a session that is not good."""
        try:
            token = bearer(ctx)
            principal = await self._gate.principal_of(token)
        except SessionRejected as err:
            raise ConnectError(Code.UNAUTHENTICATED, f"session {err.reason}") from None
        except SessionCheckUnavailable as err:
            raise unavailable(err) from None
        # The gate verified the token; its expiry is read from the claims it checked.
        claims = jwt.decode(token, options={"verify_signature": False})
        expires = datetime.fromtimestamp(claims["exp"], UTC)
        return pb.WhoAmIResponse(
            principal=principal_message(principal),
            expires_at=beijing_iso(expires),
            expire_time=timestamp(expires),
        )
