"""What a service checks of its database role before it serves (docs/security.md)."""

# Its schema migrated, the role not the owner of its tables and unable to rewrite the journal.

from dataclasses import dataclass

import asyncpg

from subsidy.infra.migrate import latest_version

MIGRATE_COMMAND = "subsidy db migrate"
# Every table of the ledger's schema. The journal tables are append-only for every service.
LEDGER_TABLES = (
    "enterprises", "inbox", "entitlements", "decisions", "entries", "annual_usage",
    "item_usage", "other_support", "rejected_events", "outbox", "parked_reviews",
    "review_approvals", "payee_accounts", "objections", "event_revisions", "appeals",
    "appeal_decisions", "anchor_marks",
)  # fmt: skip
JOURNAL_TABLES = ("entries", "decisions")
_REWRITES = ("UPDATE", "DELETE", "TRUNCATE")
_ANY = "SELECT,INSERT,UPDATE,DELETE,TRUNCATE,REFERENCES,TRIGGER"


class DatabaseRoleError(RuntimeError):
    """The schema is not migrated, or the role may do more than the service needs."""


@dataclass(frozen=True)
class RoleNeeds:
    """What one service's role must and must not be able to do."""

    service: str
    component: str  # its tracking name in schema_migrations
    migrations: str  # the package of its migration files
    tables: tuple[str, ...]  # the tables it uses: it must not own any
    append_only: tuple[str, ...] = JOURNAL_TABLES  # it must not UPDATE, DELETE or TRUNCATE these
    forbidden: tuple[str, ...] = ()  # it must have no privilege at all on these


async def check_migrated(conn: asyncpg.Connection, component: str, package: str) -> None:
    """Raise unless every migration of `package` is applied (services never migrate)."""
    wanted = latest_version(package)
    have = 0
    if await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL"):
        have = await conn.fetchval(
            "SELECT coalesce(max(version), 0) FROM schema_migrations WHERE component = $1",
            component,
        )
    if have < wanted:
        raise DatabaseRoleError(
            f"schema not migrated: {component} is at version {have}, this code needs {wanted}:"
            f" run `{MIGRATE_COMMAND}` as the database owner first (services never migrate)"
        )


async def owned_tables(conn: asyncpg.Connection, tables: tuple[str, ...]) -> list[str]:
    rows = await conn.fetch(
        "SELECT t FROM unnest($1::text[]) AS t JOIN pg_class c ON c.oid = to_regclass(t)"
        " WHERE pg_has_role(current_user, c.relowner, 'MEMBER') ORDER BY t",
        list(tables),
    )
    return [r["t"] for r in rows]


async def _granted(conn: asyncpg.Connection, tables: tuple[str, ...], privileges: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT t FROM unnest($1::text[]) AS t"
        " WHERE to_regclass(t) IS NOT NULL AND has_table_privilege(t, $2) ORDER BY t",
        list(tables),
        privileges,
    )
    return [r["t"] for r in rows]


async def check_role(conn: asyncpg.Connection, needs: RoleNeeds) -> None:
    """Raise DatabaseRoleError unless the schema is migrated and the session's role is no
    superuser, owns none of the service's tables, cannot rewrite the journal and cannot reach
    the tables it has no business with."""
    await check_migrated(conn, needs.component, needs.migrations)
    role = await conn.fetchval("SELECT current_user")
    hint = "connect as a login role in the service's group (docs/security.md, Database roles)"
    if await conn.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"):
        raise DatabaseRoleError(f"{needs.service}: role {role} is a superuser: {hint}")
    uses = tuple(dict.fromkeys(needs.tables + needs.append_only))
    readable = set(await _granted(conn, uses, "SELECT"))
    unreadable = [t for t in uses if t not in readable]
    if unreadable:
        raise DatabaseRoleError(
            f"{needs.service}: role {role} cannot read {', '.join(unreadable)}: {hint}"
        )
    owned = await owned_tables(conn, tuple(dict.fromkeys(uses + needs.forbidden)))
    if owned:
        raise DatabaseRoleError(
            f"{needs.service}: role {role} owns {', '.join(owned)} (it could ALTER them or"
            f" disable their triggers): {hint}"
        )
    rewrites = await _granted(conn, needs.append_only, ",".join(_REWRITES))
    if rewrites:
        raise DatabaseRoleError(
            f"{needs.service}: role {role} may UPDATE, DELETE or TRUNCATE {', '.join(rewrites)}"
            f" (append-only): {hint}"
        )
    reached = await _granted(conn, needs.forbidden, _ANY)
    if reached:
        raise DatabaseRoleError(
            f"{needs.service}: role {role} has privileges on {', '.join(reached)}, which it"
            f" never uses: {hint}"
        )


async def check_read_only(conn: asyncpg.Connection, service: str, tables: tuple[str, ...]) -> None:
    """Raise DatabaseRoleError if the session's role owns, or may write, any of the tables
    that exist (a reader that starts before the schema is migrated is checked on those)."""
    role = await conn.fetchval("SELECT current_user")
    hint = "connect as a member of subsidy_auditor (docs/security.md, Database roles)"
    owned = await owned_tables(conn, tables)
    if owned:
        raise DatabaseRoleError(f"{service}: role {role} owns {', '.join(owned)}: {hint}")
    writable = await _granted(conn, tables, "INSERT,UPDATE,DELETE,TRUNCATE")
    if writable:
        raise DatabaseRoleError(f"{service}: role {role} may write {', '.join(writable)}: {hint}")
