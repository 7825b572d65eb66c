"""People's principals and credentials in PostgreSQL: issue, rotate, revoke, list, sign in."""

import functools
import hashlib
import re
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import asyncpg
from stdnum.cn import uscc
from stdnum.exceptions import ValidationError as StdnumError

from subsidy.identity.principal import BUREAU_ROLES, Principal, Role
from subsidy.infra.migrate import migrate

COMPONENT = "identity"
MIGRATIONS = "subsidy.identity.migrations"
# A secret says what it is when it turns up in a paste or a log: `sbp_` (subsidy platform).
SECRET_PREFIX = "sbp_"
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_CREDENTIAL_ID = re.compile(r"^cred_[0-9a-f]{16}$")
MAX_TTL_DAYS = 366
MAX_TEXT = 100

RejectReason = Literal["unknown", "revoked", "expired"]


class IdentityError(ValueError):
    """A request the store refuses, naming the field (`enterprise`, `bureau`, `role`, …)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class CredentialRejected(Exception):
    """A secret that signs no one in: unknown, revoked or expired."""

    def __init__(self, reason: RejectReason) -> None:
        super().__init__(reason)
        self.reason: RejectReason = reason


@dataclass(frozen=True, slots=True)
class Issued:
    """A new credential: its id, and its secret (shown once, never stored)."""

    credential_id: str
    secret: str


@dataclass(frozen=True, slots=True)
class CredentialInfo:
    """One credential as `subsidy identity list` shows it: never its secret or digest."""

    credential_id: str
    principal: str
    role: str
    enterprise_id: str | None
    bureau: str | None
    issued_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    revoked_reason: str | None
    state: Literal["active", "revoked", "expired", "revoking"]


async def migrate_identity(conn: asyncpg.Connection) -> list[str]:
    """Apply the identity component's pending migrations."""
    return await migrate(conn, COMPONENT, MIGRATIONS)


def secret_digest(secret: str) -> str:
    """SHA-256 of a secret, hex: what the table keeps."""
    return hashlib.sha256(secret.encode()).hexdigest()


@functools.cache
def catalog_bureaus() -> frozenset[str]:
    """Every responsible unit the packaged policy names, in any of its versions."""
    from subsidy.domain.catalog import load_catalog

    catalog = load_catalog()
    return frozenset(u for v in catalog.timeline for r in v.rules for u in r.responsible_units)


def _checked_text(field: str, value: str) -> str:
    if not value or not value.strip() or len(value) > MAX_TEXT or not value.isprintable():
        raise IdentityError(field, f"1 to {MAX_TEXT} printable characters")
    return value


def check_binding(
    name: str,
    role: str,
    enterprise_id: str | None,
    bureau: str | None,
    bureaus: Collection[str] | None = None,
) -> Role:
    """The principal's name, role and binding, each checked; the role. IdentityError naming
    the first field that is wrong."""
    if not _NAME.fullmatch(name):
        raise IdentityError("name", "lower-case letters, digits, '.', '_', '-', at most 64")
    try:
        checked = Role(role)
    except ValueError:
        raise IdentityError("role", f"one of {', '.join(r.value for r in Role)}") from None
    if checked is Role.ENTERPRISE:
        if not enterprise_id:
            raise IdentityError("enterprise", "an enterprise principal needs its 统一社会信用代码")
        if uscc.compact(enterprise_id) != enterprise_id:
            raise IdentityError("enterprise", "18 characters, digits and upper-case letters")
        try:
            uscc.validate(enterprise_id)
        except StdnumError as err:
            raise IdentityError("enterprise", f"not a valid 统一社会信用代码 ({err})") from None
    elif enterprise_id is not None:
        raise IdentityError("enterprise", f"only an enterprise principal has one, not {role}")
    if checked in BUREAU_ROLES:
        known = catalog_bureaus() if bureaus is None else bureaus
        if not bureau:
            raise IdentityError("bureau", f"a {role} acts for one bureau of the catalog")
        if bureau not in known:
            raise IdentityError(
                "bureau",
                f"not a responsible unit of the catalog (one of {'、'.join(sorted(known))})",
            )
    elif bureau is not None:
        raise IdentityError("bureau", f"only reviewers and approvers have one, not {role}")
    return checked


async def _set_actor(conn: asyncpg.Connection, actor: str, action: str) -> None:
    """Name the actor and the action for this transaction: the audit trigger records both."""
    await conn.execute(
        "SELECT set_config('subsidy.identity_actor', $1, true),"
        " set_config('subsidy.identity_action', $2, true)",
        _checked_text("actor", actor),
        action,
    )


async def _new_credential(conn: asyncpg.Connection, name: str, ttl_days: int) -> Issued:
    if not 1 <= ttl_days <= MAX_TTL_DAYS:
        raise IdentityError("ttl_days", f"1 to {MAX_TTL_DAYS} days, got {ttl_days}")
    issued = Issued(f"cred_{secrets.token_hex(8)}", SECRET_PREFIX + secrets.token_urlsafe(32))
    await conn.execute(
        "INSERT INTO identity_credentials (credential_id, principal, secret_sha256, expires_at)"
        " VALUES ($1, $2, $3, now() + make_interval(days => $4))",
        issued.credential_id,
        name,
        secret_digest(issued.secret),
        ttl_days,
    )
    return issued


async def issue(
    conn: asyncpg.Connection,
    name: str,
    role: str,
    *,
    enterprise_id: str | None = None,
    bureau: str | None = None,
    actor: str,
    ttl_days: int = 90,
    bureaus: Collection[str] | None = None,
) -> Issued:
    """A new credential for the principal, which is created on its first credential; a
    principal that exists must be asked for with the same role and binding (they never
    change). IdentityError naming the field otherwise."""
    checked = check_binding(name, role, enterprise_id, bureau, bureaus)
    async with conn.transaction():
        await _set_actor(conn, actor, "issue")
        await conn.execute(
            "INSERT INTO identity_principals (name, role, enterprise_id, bureau)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING",
            name, checked.value, enterprise_id, bureau,
        )  # fmt: skip
        row = await conn.fetchrow(
            "SELECT role, enterprise_id, bureau FROM identity_principals WHERE name = $1", name
        )
        if (row["role"], row["enterprise_id"], row["bureau"]) != (checked, enterprise_id, bureau):
            bound = row["enterprise_id"] or row["bureau"] or "nothing"
            raise IdentityError(
                "role", f"{name} exists as {row['role']} bound to {bound}: a principal's role"
                " and binding never change (issue a new principal)",
            )  # fmt: skip
        return await _new_credential(conn, name, ttl_days)


async def rotate(
    conn: asyncpg.Connection, name: str, actor: str, grace_hours: int = 0, ttl_days: int = 90
) -> Issued:
    """A new credential for an existing principal; its other credentials are revoked now, or
    after `grace_hours` (so a deployment can switch over)."""
    if not 0 <= grace_hours <= 24 * 30:
        raise IdentityError("grace_hours", f"0 to {24 * 30} hours, got {grace_hours}")
    async with conn.transaction():
        await _set_actor(conn, actor, "rotate")
        if not await conn.fetchval("SELECT 1 FROM identity_principals WHERE name = $1", name):
            raise IdentityError("name", f"no principal {name!r}")
        issued = await _new_credential(conn, name, ttl_days)
        await conn.execute(
            "UPDATE identity_credentials SET revoked_at = now() + make_interval(hours => $3),"
            " revoked_reason = 'rotated'"
            " WHERE principal = $1 AND credential_id <> $2"
            " AND (revoked_at IS NULL OR revoked_at > now() + make_interval(hours => $3))",
            name,
            issued.credential_id,
            grace_hours,
        )
        return issued


async def revoke(
    conn: asyncpg.Connection, credential_id_or_name: str, actor: str, reason: str
) -> list[str]:
    """Revoke one credential (by id) or every credential of a principal (by name), at once;
    the ids revoked now. IdentityError if there is no such credential or principal."""
    target = credential_id_or_name
    by_id = bool(_CREDENTIAL_ID.fullmatch(target))
    column = "credential_id" if by_id else "principal"
    async with conn.transaction():
        await _set_actor(conn, actor, "revoke")
        reason = _checked_text("reason", reason)
        if not await conn.fetchval(
            f"SELECT 1 FROM identity_credentials WHERE {column} = $1 LIMIT 1", target
        ):
            raise IdentityError(column, f"no credential of {target!r}")
        rows = await conn.fetch(
            "UPDATE identity_credentials SET revoked_at = now(), revoked_reason = $2"
            f" WHERE {column} = $1 AND (revoked_at IS NULL OR revoked_at > now())"
            " RETURNING credential_id",
            target,
            reason,
        )
    return sorted(r["credential_id"] for r in rows)


async def list_credentials(conn: asyncpg.Connection) -> list[CredentialInfo]:
    """Every credential with its principal, oldest first; never a secret or its digest."""
    rows = await conn.fetch(
        "SELECT c.credential_id, c.principal, p.role, p.enterprise_id, p.bureau, c.issued_at,"
        " c.expires_at, c.revoked_at, c.revoked_reason,"
        " CASE WHEN c.revoked_at <= now() THEN 'revoked'"
        "      WHEN c.expires_at <= now() THEN 'expired'"
        "      WHEN c.revoked_at IS NOT NULL THEN 'revoking' ELSE 'active' END AS state"
        " FROM identity_credentials c JOIN identity_principals p ON p.name = c.principal"
        " ORDER BY c.issued_at, c.credential_id"
    )
    return [CredentialInfo(**dict(r)) for r in rows]


async def authenticate(conn: asyncpg.Connection, secret: str) -> Principal:
    """The principal a secret signs in; CredentialRejected(unknown | revoked | expired)."""
    if not secret.startswith(SECRET_PREFIX) or len(secret) > 200:
        raise CredentialRejected("unknown")
    row = await conn.fetchrow(
        "SELECT c.credential_id, p.name, p.role, p.enterprise_id, p.bureau,"
        " c.revoked_at <= now() AS revoked, c.expires_at <= now() AS expired"
        " FROM identity_credentials c JOIN identity_principals p ON p.name = c.principal"
        " WHERE c.secret_sha256 = $1",
        secret_digest(secret),
    )
    if row is None:
        raise CredentialRejected("unknown")
    if row["revoked"]:
        raise CredentialRejected("revoked")
    if row["expired"]:
        raise CredentialRejected("expired")
    return Principal(row["name"], Role(row["role"]), row["enterprise_id"], row["bureau"],
                     row["credential_id"])  # fmt: skip


async def is_active(
    conn: asyncpg.Connection, credential_id: str, principal: str | None = None
) -> bool:
    """Is the credential neither revoked nor expired now (and, if given, `principal`'s)?"""
    return bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM identity_credentials WHERE credential_id = $1"
            " AND ($2::text IS NULL OR principal = $2)"
            " AND (revoked_at IS NULL OR revoked_at > now()) AND expires_at > now())",
            credential_id,
            principal,
        )
    )
