"""The local PostgreSQL's roles: the migrating owner, one login per service, their passwords."""

# Each service's login is in its group role; the generated passwords are kept in .run/ (0600).

import os
import secrets
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import asyncpg

from subsidy.devstack.endpoints import POSTGRES_ROLE
from subsidy.devstack.errors import DevstackError
from subsidy.devstack.paths import layout
from subsidy.devstack.secret_store import read_secrets, write_secrets

OWNER = POSTGRES_ROLE
# The NOLOGIN group roles the migrations grant to (docs/security.md, Database roles).
GROUPS = (
    "subsidy_ledger_writer", "subsidy_ingest", "subsidy_notifier", "subsidy_auditor",
    "subsidy_payouts", "subsidy_identity_admin", "subsidy_portal",
)  # fmt: skip
# One login per service, each in its service's group; deployments make the same ones.
LOGINS = {
    "ledger_worker": "subsidy_ledger_writer",
    "ledger_relay": "subsidy_ledger_writer",
    "ingest_server": "subsidy_ingest",
    "notifier_worker": "subsidy_notifier",
    "ledger_api": "subsidy_auditor",
    "dashboard": "subsidy_auditor",
    "payouts": "subsidy_payouts",
    "portal": "subsidy_portal",
}
PASSWORDS_FILE = "postgres-passwords.json"
# Where the passwords are when not in this checkout's .run/ (a private stack's, a CI's).
PASSWORDS_ENV = "POSTGRES_PASSWORDS_FILE"


def passwords_path() -> Path:
    """$POSTGRES_PASSWORDS_FILE, else .run/postgres-passwords.json of this checkout."""
    named = os.environ.get(PASSWORDS_ENV)
    return Path(named) if named else layout().run / PASSWORDS_FILE


def read_passwords(path: Path | None = None) -> dict[str, str]:
    """The kept passwords by role (default: passwords_path()); empty when there are none."""
    return read_secrets(path or passwords_path())


def ensure_passwords(path: Path) -> dict[str, str]:
    """The owner's and every login's password, generated once and kept in path (0600)."""
    kept = read_secrets(path)
    wanted = {role: kept.get(role) or secrets.token_urlsafe(24) for role in (OWNER, *LOGINS)}
    write_secrets(path, wanted)  # also when unchanged: a loosened file is made 0600 again
    return wanted


def with_login(url: str, role: str, password: str | None) -> str:
    """url (server, database, parameters kept) as role with password."""
    parts = urlsplit(url)
    user = quote(role, safe="")
    auth = f"{user}:{quote(password, safe='')}" if password else user
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{auth}@{host}"))


def with_tls(url: str, ca: Path) -> str:
    """url (its other parameters kept) with TLS required and the server checked: its
    certificate against the CA in ca, its name against the URL's host (sslmode=verify-full)."""
    parts = urlsplit(url)
    kept = [
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if key not in ("sslmode", "sslrootcert")
    ]
    query = [*kept, ("sslmode", "verify-full"), ("sslrootcert", str(ca))]
    return urlunsplit(parts._replace(query=urlencode(query, safe="/", quote_via=quote)))


def login_url(url: str, role: str, passwords: Path | None = None) -> str:
    """url as one of the kept roles (a service's login, or the owner), with its password
    from `passwords` (default: passwords_path())."""
    path = passwords or passwords_path()
    password = read_passwords(path).get(role)
    if password is None:
        raise DevstackError(
            f"no password for PostgreSQL role {role} in {path}: run `subsidy dev up`"
            f" (or set {PASSWORDS_ENV})"
        )
    return with_login(url, role, password)


async def ensure_roles(admin: asyncpg.Connection, passwords: dict[str, str]) -> None:
    """As the superuser: the group roles (NOLOGIN), the owner (may create databases, never
    roles) and each service's login in its group, every password set from `passwords`."""
    existing = {r["rolname"] for r in await admin.fetch("SELECT rolname FROM pg_roles")}
    for group in GROUPS:
        if group not in existing:
            await admin.execute(f'CREATE ROLE "{group}" NOLOGIN')
    for role in (OWNER, *LOGINS):
        if role not in existing:
            await admin.execute(f'CREATE ROLE "{role}" LOGIN')
        # A literal, not a parameter: utility statements take none. Quoted by the server.
        literal = await admin.fetchval("SELECT quote_literal($1)", passwords[role])
        await admin.execute(f'ALTER ROLE "{role}" LOGIN PASSWORD {literal}')
    # CREATEDB: integration tests each work in a database of their own.
    await admin.execute(f'ALTER ROLE "{OWNER}" CREATEDB NOCREATEROLE NOSUPERUSER')
    for login, group in LOGINS.items():
        await admin.execute(f'GRANT "{group}" TO "{login}"')
        await admin.execute(f'ALTER ROLE "{login}" NOCREATEDB NOCREATEROLE NOSUPERUSER')
