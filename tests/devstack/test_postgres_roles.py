"""`subsidy dev up` on PostgreSQL."""

# A data dir from before passwords (pg_hba `trust`, an owner without a password) is upgraded in
# place: roles with generated passwords kept 0600, pg_hba scram-sha-256, the superuser refused over
# TCP.

import asyncio
import shutil
import socket
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from subsidy.devstack import db_logins
from subsidy.devstack.paths import Layout
from subsidy.devstack.postgres_server import PostgresServer
from subsidy.devstack.stack import prepare_postgres

OLD_HBA = "local all all trust\nhost  all all 127.0.0.1/32 trust\n"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def old_server() -> Iterator[tuple[PostgresServer, Layout]]:
    """A server of its own whose data dir looks like one made before passwords."""
    # Not pytest's tmp_path: as root, postgres runs as another user, who must reach the folder.
    root = Path(tempfile.mkdtemp(prefix="subsidy-pg-test-"))
    root.chmod(0o755)
    layout = Layout(root, run_dir=root / "run")
    server = PostgresServer(layout, _free_port())
    server.start()
    try:
        (server.data_dir / "pg_hba.conf").write_text(OLD_HBA)
        asyncio.run(_as_superuser(server, "SELECT pg_reload_conf()", "CREATE ROLE subsidy LOGIN"))
        yield server, layout
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


async def _as_superuser(server: PostgresServer, *statements: str) -> None:
    conn = await asyncpg.connect(server.superuser_url())
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


async def _login(port: int, user: str, password: str | None = None) -> str:
    conn = await asyncpg.connect(
        host="127.0.0.1", port=port, user=user, password=password, database="postgres"
    )
    try:
        return str(await conn.fetchval("SELECT current_user"))
    finally:
        await conn.close()


def test_an_old_data_dir_is_upgraded_in_place(
    old_server: tuple[PostgresServer, Layout], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, layout = old_server
    monkeypatch.setenv("PGPASSFILE", "/nonexistent")
    monkeypatch.delenv("PGPASSWORD", raising=False)
    assert asyncio.run(_login(server.port, "subsidy")) == "subsidy"  # before: anyone, no password

    assert prepare_postgres(server, layout) is True
    kept = layout.run / db_logins.PASSWORDS_FILE
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    passwords = db_logins.read_passwords(kept)
    assert set(passwords) == {"subsidy", *db_logins.LOGINS}
    for user in ("subsidy", "postgres", "ledger_worker"):
        with pytest.raises(asyncpg.InvalidAuthorizationSpecificationError):
            asyncio.run(_login(server.port, user))
    with pytest.raises(asyncpg.InvalidAuthorizationSpecificationError):
        asyncio.run(_login(server.port, "postgres", "guess"))
    for user in ("subsidy", *db_logins.LOGINS):
        assert asyncio.run(_login(server.port, user, passwords[user])) == user

    # Again: nothing changes, the passwords stay.
    assert prepare_postgres(server, layout) is False
    assert db_logins.read_passwords(kept) == passwords
