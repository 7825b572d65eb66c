"""Short-lived sessions: EdDSA-signed JWTs the portal issues, and their check by the services."""

# Issued to a signed-in person; checked for signature, expiry, and the credential behind them still
# active.

import asyncio
import re
import time
import uuid
from collections import OrderedDict
from typing import Any, Literal

import asyncpg
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from subsidy.identity.principal import BUREAU_ROLES, Principal, Role
from subsidy.identity.store import is_active

ISSUER = "subsidy-portal"
AUDIENCE = "subsidy"
ALGORITHM = "EdDSA"
# A session's claims are a few hundred bytes; anything far larger is no session of ours and
# is refused before it is parsed.
MAX_TOKEN = 4096
# Clocks differ a little between the portal and the services.
CLOCK_SKEW_S = 30
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_SEGMENT = re.compile(r"^[A-Za-z0-9_-]+$")
_REQUIRED = ["sub", "role", "cid", "iat", "exp", "jti", "iss", "aud"]
# At most this many credentials' states are cached by a gate (least recently used leave).
_CACHE_SIZE = 10_000

SessionReason = Literal["expired", "invalid", "revoked"]


class SessionRejected(Exception):
    """A session token that lets no one in: expired, invalid (signature, key, claims) or of
    a revoked credential."""

    def __init__(self, reason: SessionReason) -> None:
        super().__init__(reason)
        self.reason: SessionReason = reason


class SessionCheckUnavailable(Exception):
    """The database that says whether a credential is still active did not answer."""


def looks_like_session(token: str) -> bool:
    """Three base64url segments joined by dots: a JWT (a static token or a credential's
    secret never has a dot)."""
    parts = token.split(".")
    return len(parts) == 3 and all(_SEGMENT.fullmatch(p) for p in parts)


def load_private_key(pem: str) -> Ed25519PrivateKey:
    """An Ed25519 private key from PEM text; ValueError otherwise (never quoting it)."""
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        raise ValueError(
            "not a PEM private key (make one with `subsidy identity keygen`)"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("not an Ed25519 private key (make one with `subsidy identity keygen`)")
    return key


def load_public_key(pem: str) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM text; ValueError otherwise."""
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except (ValueError, TypeError):
        raise ValueError("not a PEM public key (`subsidy identity keygen` prints one)") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key (`subsidy identity keygen` prints one)")
    return key


def key_pair_pem() -> tuple[str, str]:
    """A new Ed25519 key pair: (private PEM, public PEM)."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private.decode(), public.decode()


def issue_session(
    principal: Principal,
    private_key: Ed25519PrivateKey,
    ttl_s: int = 900,
    now: float | None = None,
) -> str:
    """A session for `principal`, valid ttl_s seconds from now."""
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = {
        "sub": principal.name,
        "role": principal.role.value,
        "ent": principal.enterprise_id,
        "bureau": principal.bureau,
        "cid": principal.credential_id,
        "iat": issued,
        "exp": issued + ttl_s,
        "jti": uuid.uuid4().hex,
        "iss": ISSUER,
        "aud": AUDIENCE,
    }
    return jwt.encode(claims, private_key, algorithm=ALGORITHM)


def _principal(claims: dict[str, Any]) -> Principal:
    """The principal the claims name, each claim's type and binding checked."""
    name, role, cid = claims["sub"], claims["role"], claims["cid"]
    ent, bureau = claims.get("ent"), claims.get("bureau")
    if not (isinstance(name, str) and _NAME.fullmatch(name)):
        raise SessionRejected("invalid")
    if not (isinstance(cid, str) and cid) or role not in tuple(Role):
        raise SessionRejected("invalid")
    checked = Role(role)
    if (checked is Role.ENTERPRISE) != isinstance(ent, str) or (ent is not None and not ent):
        raise SessionRejected("invalid")
    if (checked in BUREAU_ROLES) != isinstance(bureau, str) or (bureau is not None and not bureau):
        raise SessionRejected("invalid")
    return Principal(name, checked, ent, bureau, cid)


def verify_session(token: str, public_key: Ed25519PublicKey, now: float | None = None) -> Principal:
    """The principal of a session signed by the portal's key, for the platform, unexpired;
    SessionRejected(expired | invalid) otherwise."""
    if len(token) > MAX_TOKEN or not looks_like_session(token):
        raise SessionRejected("invalid")
    try:
        claims = jwt.decode(
            token,
            public_key,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            # Times are checked below against `now`, so tests can move the clock.
            options={"require": _REQUIRED, "verify_exp": False, "verify_iat": False,
                     "verify_nbf": False},
        )  # fmt: skip
    except jwt.PyJWTError:
        raise SessionRejected("invalid") from None
    at = time.time() if now is None else now
    iat, exp = claims["iat"], claims["exp"]
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (iat, exp)):
        raise SessionRejected("invalid")
    if iat > at + CLOCK_SKEW_S or exp <= iat:
        raise SessionRejected("invalid")
    if exp <= at:
        raise SessionRejected("expired")
    return _principal(claims)


class SessionGate:
    """What a service asks of a session token: `principal_of` checks the signature and the
    expiry, then that its credential is still active (read from the database at most every
    recheck_s per credential, so a revocation ends its sessions within that time)."""

    def __init__(
        self, public_key: Ed25519PublicKey, pool: asyncpg.Pool, recheck_s: float = 5.0
    ) -> None:
        self._key = public_key
        self._pool = pool
        self._recheck_s = recheck_s
        self._checked: OrderedDict[tuple[str, str], tuple[bool, float]] = OrderedDict()
        self._lock = asyncio.Lock()

    async def principal_of(self, token: str) -> Principal:
        """The session's principal; SessionRejected(expired | invalid | revoked), or
        SessionCheckUnavailable when the database did not answer."""
        principal = verify_session(token, self._key)
        if not await self._active(principal.credential_id, principal.name):
            raise SessionRejected("revoked")
        return principal

    async def _active(self, credential_id: str, name: str) -> bool:
        key = (credential_id, name)
        cached = self._checked.get(key)
        if cached is not None and time.monotonic() - cached[1] < self._recheck_s:
            self._checked.move_to_end(key)
            return cached[0]
        try:
            async with self._pool.acquire() as conn:
                active = await is_active(conn, credential_id, name)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as err:
            raise SessionCheckUnavailable(repr(err)) from err
        async with self._lock:
            self._checked[key] = (active, time.monotonic())
            self._checked.move_to_end(key)
            while len(self._checked) > _CACHE_SIZE:
                self._checked.popitem(last=False)
        return active
